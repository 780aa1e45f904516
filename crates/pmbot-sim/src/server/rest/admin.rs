//! Test-control endpoints under `/_sim/` (loopback only, like the whole
//! simulator): change the fault plan, fund accounts, set their approvals,
//! resolve markets, redeem resolved tokens, read counters. Not part of
//! Polymarket's API: they stand in for what happens on chain (transfers,
//! `approve`, the oracle's report, `redeemPositions`) where there is no chain.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use pmbot_core::{ConditionId, TokenId, Usdc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::SimState;
use super::super::error::ApiError;
use crate::engine::{Address, Allowance, Approvals, Spender};
use crate::faults::FaultSpec;

pub async fn get_faults(State(state): State<Arc<SimState>>) -> Json<Value> {
    Json(serde_json::to_value(state.faults.report()).unwrap_or(Value::Null))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFaults {
    spec: String,
}

/// `POST /_sim/faults {"spec": "rest-5xx=0.5"}`; an empty spec clears faults.
pub async fn set_faults(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let req: SetFaults = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let spec: FaultSpec = req.spec.parse().map_err(|e| ApiError::bad_request(format!("{e}")))?;
    let text = spec.to_string();
    state.set_faults(spec);
    Ok(Json(json!({"spec": text})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fund {
    address: String,
    amount: String,
}

/// `POST /_sim/fund {"address": "0x..", "amount": "250"}` adds collateral.
pub async fn fund(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let req: Fund = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let address: Address = req.address.parse().map_err(|_| ApiError::bad_request("invalid address"))?;
    let amount = Usdc::parse_non_negative(&req.amount).map_err(|e| ApiError::bad_request(e.to_string()))?;
    state.fund(address, amount).map_err(|e| ApiError::bad_request(e.message()))?;
    let balance = state.lock().exchange.collateral(address);
    Ok(Json(json!({"address": format!("{address:#x}"), "balance": balance.total.to_string()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    market: String,
    winning_token: String,
}

/// `POST /_sim/resolve {"market": "0x..", "winning_token": ".."}`.
pub async fn resolve(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let req: Resolve = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let market = ConditionId::parse(&req.market).map_err(|_| ApiError::bad_request("invalid market"))?;
    let winner = TokenId::parse(&req.winning_token).map_err(|_| ApiError::invalid_token())?;
    let mut sim = state.lock();
    // Read the clock under the lock, so the engine's times never go back.
    let now = state.now_ms();
    sim.exchange.resolve(&market, &winner, now).map_err(|e| ApiError::bad_request(e.message()))?;
    state.publish(&mut sim);
    Ok(Json(json!({"resolved": market.to_string(), "winning_token": winner.as_str()})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    address: String,
    condition_id: String,
}

/// `POST /_sim/redeem {"address": "0x..", "condition_id": "0x.."}`: what
/// `redeemPositions` does on chain for a resolved market: 1 pUSD per winning
/// share, winning and losing shares burned. Refused (400) before resolution.
pub async fn redeem(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let req: Redeem = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let address: Address = req.address.parse().map_err(|_| ApiError::bad_request("invalid address"))?;
    let market = ConditionId::parse(&req.condition_id).map_err(|_| ApiError::bad_request("invalid market"))?;
    let r = state.with_exchange(|ex, _| ex.redeem(address, &market)).map_err(|e| ApiError::bad_request(e.message()))?;
    let balance = state.lock().exchange.collateral(address).total;
    Ok(Json(json!({
        "address": format!("{address:#x}"),
        "condition_id": market.to_string(),
        "payout": r.payout.to_string(),
        "winning_burned": r.winning_burned.to_string(),
        "losing_burned": r.losing_burned.to_string(),
        "balance": balance.to_string(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    address: String,
    /// One contract; every exchange contract when absent.
    #[serde(default)]
    spender: Option<String>,
    /// pUSD allowance: `"max"` or an amount (`"0"` revokes).
    #[serde(default)]
    collateral: Option<String>,
    /// Outcome-token approval (`setApprovalForAll`).
    #[serde(default)]
    tokens: Option<bool>,
}

/// `POST /_sim/approve {"address": "0x..", "collateral": "max"|"<pUSD>",
/// "tokens": true|false, "spender": "0x.."?}`: the account's own `approve` and
/// `setApprovalForAll` transactions. Answers the approvals it now has.
pub async fn approve(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let req: Approve = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let address: Address = req.address.parse().map_err(|_| ApiError::bad_request("invalid address"))?;
    let spenders = match &req.spender {
        None => Spender::ALL.to_vec(),
        Some(s) => {
            let a: Address = s.parse().map_err(|_| ApiError::bad_request("invalid spender"))?;
            vec![Spender::from_address(a).ok_or_else(|| ApiError::bad_request("not an exchange contract"))?]
        }
    };
    let collateral = match req.collateral.as_deref() {
        None => None,
        Some("max") => Some(Allowance::Unlimited),
        Some(amount) => {
            let a = Usdc::parse_non_negative(amount).map_err(|e| ApiError::bad_request(e.to_string()))?;
            Some(Allowance::Limited(u64::try_from(a.micros()).expect("checked non-negative")))
        }
    };
    if collateral.is_none() && req.tokens.is_none() {
        return Err(ApiError::bad_request("nothing to approve: give collateral and/or tokens"));
    }
    let approvals = state.with_exchange(|ex, _| ex.approve(address, &spenders, collateral, req.tokens));
    Ok(Json(json!({"address": format!("{address:#x}"), "approvals": approvals_json(&approvals)})))
}

fn approvals_json(a: &Approvals) -> Value {
    let each = Spender::ALL.iter().map(|s| {
        let key = s.address().to_checksum(None);
        (key, json!({"collateral": a.allowance(*s).to_base_units().to_string(), "tokens": a.operator_approved(*s)}))
    });
    Value::Object(each.collect())
}

pub async fn stats(State(state): State<Arc<SimState>>) -> Json<Value> {
    let s = &state.stats;
    Json(json!({
        "rest_requests": s.rest_requests.load(Ordering::Relaxed),
        "ws_connections": s.ws_connections.load(Ordering::Relaxed),
        "orders_accepted": s.orders_accepted.load(Ordering::Relaxed),
        "orders_rejected": s.orders_rejected.load(Ordering::Relaxed),
        "source_rejects": s.source_rejects.load(Ordering::Relaxed),
        "heartbeat_cancels": s.heartbeat_cancels.load(Ordering::Relaxed),
    }))
}
