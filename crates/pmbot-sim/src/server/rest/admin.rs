//! Test-control endpoints under `/_sim/` (loopback only, like the whole
//! simulator): change the fault plan, fund accounts, resolve markets, read
//! counters. Not part of Polymarket's API.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use pmbot_core::{ConditionId, TokenId, Usdc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::SimState;
use super::super::error::ApiError;
use crate::engine::Address;
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
