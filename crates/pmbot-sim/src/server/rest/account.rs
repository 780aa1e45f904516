//! Authenticated account endpoints: orders, trades, balances, heartbeats.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use pmbot_core::{ConditionId, TokenId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::driver::HeartbeatReply;
use super::super::error::ApiError;
use super::super::{SimState, wire};
use super::l2_auth;
use super::market::page;
use crate::engine::{Query as EngineQuery, Spender};
use alloy_primitives::U256;

type Params = Query<HashMap<String, String>>;

/// Filters shared by `/data/orders` and `/data/trades`; a malformed id is a
/// 400, not an empty list.
fn engine_query(p: &HashMap<String, String>) -> Result<EngineQuery, ApiError> {
    let market = p
        .get("market")
        .filter(|s| !s.is_empty())
        .map(|m| ConditionId::parse(m).map_err(|_| ApiError::bad_request("invalid market")))
        .transpose()?;
    let token = p
        .get("asset_id")
        .filter(|s| !s.is_empty())
        .map(|t| TokenId::parse(t).map_err(|_| ApiError::invalid_token()))
        .transpose()?;
    let ts = |k: &str| -> Result<Option<i64>, ApiError> {
        p.get(k)
            .filter(|s| !s.is_empty())
            .map(|v| v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid {k}"))))
            .transpose()
    };
    Ok(EngineQuery {
        id: p.get("id").filter(|s| !s.is_empty()).cloned(),
        market,
        token,
        after_s: ts("after")?,
        before_s: ts("before")?,
    })
}

pub async fn order(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let path = format!("/data/order/{id}");
    let who = l2_auth(&state, &headers, &Method::GET, &path, &[])?;
    let id = pmbot_core::OrderId::parse(&id).map_err(|_| ApiError::bad_request("invalid order id"))?;
    let sim = state.lock();
    match sim.exchange.order(&id) {
        Some(o) if o.owner == who.address => Ok(Json(wire::open_order(&o))),
        // Someone else's order is as invisible as a missing one.
        _ => Err(ApiError::not_found("order not found")),
    }
}

pub async fn orders(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::GET, "/data/orders", &[])?;
    let q = engine_query(&p)?;
    let items: Vec<Value> = state.lock().exchange.open_orders(who.address, &q).iter().map(wire::open_order).collect();
    Ok(Json(page(items, p.get("next_cursor"))?))
}

pub async fn trades(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Params,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::GET, "/data/trades", &[])?;
    let q = engine_query(&p)?;
    let sim = state.lock();
    let items: Vec<Value> = sim
        .exchange
        .trades(who.address, &q)
        .iter()
        .map(|t| wire::trade(t, sim.exchange.market(&t.market).as_ref(), &who.address))
        .collect();
    Ok(Json(page(items, p.get("next_cursor"))?))
}

/// `GET /balance-allowance?asset_type=COLLATERAL|CONDITIONAL&token_id=` and its
/// `/update` twin, answered from the ledger: the balance, and each exchange
/// contract's allowance as the account set it (`0` until approved; see
/// `engine::approvals`). For COLLATERAL that is the pUSD allowance; for
/// CONDITIONAL the operator approval, the maximum when approved and `0`
/// otherwise. The update form answers with an empty body, as the real one
/// does.
pub async fn balance_allowance(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(p): Params,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let path = uri.path().to_owned();
    let who = l2_auth(&state, &headers, &Method::GET, &path, &[])?;
    let asset_type = p.get("asset_type").map(|s| s.to_ascii_uppercase()).unwrap_or_else(|| "COLLATERAL".into());
    let sim = state.lock();
    let approvals = sim.exchange.approvals(who.address);
    let (balance, allowance): (_, Box<dyn Fn(Spender) -> U256>) = match asset_type.as_str() {
        "COLLATERAL" => {
            (sim.exchange.collateral(who.address).total, Box::new(|s| approvals.allowance(s).to_base_units()))
        }
        "CONDITIONAL" | "CONDITIONAL-V2" => {
            let token = p.get("token_id").and_then(|t| TokenId::parse(t).ok()).ok_or_else(ApiError::invalid_token)?;
            let approved = |s| if approvals.operator_approved(s) { U256::MAX } else { U256::ZERO };
            (sim.exchange.shares(who.address, &token).total, Box::new(approved))
        }
        _ => return Err(ApiError::bad_request("Invalid asset type")),
    };
    if path.ends_with("/update") {
        return Ok(().into_response());
    }
    // The real answer names the three V2 contracts (CTF Exchange, Neg Risk
    // CTF Exchange, Neg Risk Adapter), approved or not.
    let mut allowances = Map::new();
    for spender in Spender::LISTED {
        allowances.insert(wire::addr_checksummed(&spender.address()), Value::String(allowance(spender).to_string()));
    }
    Ok(Json(json!({"balance": balance.micros().to_string(), "allowances": allowances})).into_response())
}

#[derive(Debug, Deserialize)]
struct HeartbeatBody {
    #[serde(default)]
    heartbeat_id: Option<String>,
}

/// `POST /v1/heartbeats {"heartbeat_id": null | "" | "<id>"}`: the
/// order-safety dead-man switch (see `driver::Heartbeats` for the rules and
/// their sources). A wrong id is HTTP 400
/// `{"error_msg": "Invalid Heartbeat ID", "heartbeat_id": "<expected id>"}`.
pub async fn heartbeat(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::POST, "/v1/heartbeats", &body)?;
    let req: HeartbeatBody = if body.is_empty() {
        HeartbeatBody { heartbeat_id: None }
    } else {
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?
    };
    let seed = state.config.seed;
    let mut sim = state.lock();
    let now = state.now_ms();
    match sim.heartbeats.beat(&who.api_key.to_string(), who.address, req.heartbeat_id.as_deref(), now, seed) {
        HeartbeatReply::Ok(id) => Ok(Json(json!({"heartbeat_id": id, "error": null}))),
        HeartbeatReply::InvalidId { expected } => Err(ApiError::object(
            StatusCode::BAD_REQUEST,
            json!({"error_msg": "Invalid Heartbeat ID", "heartbeat_id": expected}),
        )),
    }
}

/// `POST /heartbeats` (the docs' older path, no id): keeps the key watched
/// and resets the id the next `/v1/heartbeats` must carry to "".
pub async fn legacy_heartbeat(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::POST, "/heartbeats", &body)?;
    let mut sim = state.lock();
    let now = state.now_ms();
    sim.heartbeats.legacy(&who.api_key.to_string(), who.address, now);
    Ok(Json(json!({"status": "ok"})))
}
