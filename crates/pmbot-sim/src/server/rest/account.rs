//! Authenticated account endpoints: orders, trades, balances, heartbeats.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use pmbot_core::{ConditionId, TokenId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::driver::HeartbeatReply;
use super::super::error::ApiError;
use super::super::{SimState, wire};
use super::l2_auth;
use super::market::page;
use crate::engine::Query as EngineQuery;

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
/// `/update` twin. The simulator's ledger is the truth, so both read it; the
/// update form answers with an empty body, as the real one does.
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
    let balance = match asset_type.as_str() {
        "COLLATERAL" => sim.exchange.collateral(who.address).total,
        "CONDITIONAL" | "CONDITIONAL-V2" => {
            let token = p.get("token_id").and_then(|t| TokenId::parse(t).ok()).ok_or_else(ApiError::invalid_token)?;
            sim.exchange.shares(who.address, &token).total
        }
        _ => return Err(ApiError::bad_request("Invalid asset type")),
    };
    if path.ends_with("/update") {
        return Ok(().into_response());
    }
    let mut allowances = Map::new();
    for spender in wire::SPENDERS {
        allowances.insert(spender.to_owned(), Value::String(wire::MAX_ALLOWANCE.to_owned()));
    }
    Ok(Json(json!({"balance": balance.micros().to_string(), "allowances": allowances})).into_response())
}

#[derive(Debug, Deserialize)]
struct HeartbeatBody {
    #[serde(default)]
    heartbeat_id: Option<String>,
}

/// `POST /v1/heartbeats {"heartbeat_id": null | "<id>"}`: the order-safety
/// dead-man switch. The first call starts monitoring; each later one must
/// send the id returned last.
pub async fn heartbeat(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::POST, uri.path(), &body)?;
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
        HeartbeatReply::InvalidId => Err(ApiError::bad_request("Invalid Heartbeat ID")),
    }
}
