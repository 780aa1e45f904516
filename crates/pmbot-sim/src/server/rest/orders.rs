//! Order entry and cancellation (`POST /order`, `POST /orders`, the four
//! cancel endpoints).
//!
//! An order is admitted in the order the real exchange checks it: L2
//! authentication of the raw body; the body's shape (a V1 order is
//! `order_version_mismatch`); the `owner` field against the API key; the
//! EIP-712 signature against the market's exchange domain; the signer against
//! the API key's address; the decimals of the signed amounts (the "invalid
//! amounts" rules, see `auth::order::precision`); the price they imply
//! against the market's current tick; then the engine's own checks (size,
//! balance and allowance, crossing, duplicates). Each refusal changes no
//! state; a FOK that cannot fill completely, or a FAK that finds nothing,
//! also sends its owner the user-channel CANCELLATION the real exchange sends
//! (status `CANCELED_<reason>`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use pmbot_core::{ConditionId, OrderId, TokenId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::error::ApiError;
use super::super::{SimState, wire};
use super::{l2_auth, status};
use crate::auth::L2Identity;
use crate::auth::order::{
    ExchangeContracts, PostOrder, PriceFit, SignatureType, check_amounts, parse_post_order, parse_post_orders,
    terms_from_amounts,
};
use crate::engine::{CancelOutcome, NewOrder, OrderType, Reject};
use crate::server::publish::killed_order_frame;

/// Most orders one `POST /orders` may carry.
pub const MAX_BATCH_ORDERS: usize = 15;

fn reject(code: u16, message: impl Into<String>) -> ApiError {
    ApiError::new(status(code), message)
}

/// Checks one parsed order and submits it; the `/order` reply object or the error.
fn admit(state: &SimState, who: &L2Identity, post: PostOrder) -> Result<Value, ApiError> {
    if post.owner != who.api_key {
        return Err(reject(400, "the order owner has to be the owner of the API KEY"));
    }
    let token: TokenId = post.order.token();
    let info = state.lock().exchange.market_of_token(&token).ok_or_else(|| reject(400, "Invalid token id"))?;
    let contracts = ExchangeContracts { chain_id: state.config.chain_id, ..ExchangeContracts::default() };
    let domain = contracts.domain(info.spec.exchange, info.spec.neg_risk);
    // Signature recovery is the slow part (~150 us); it needs no lock.
    let verified = post.verify(&domain).map_err(|e| reject(e.http_status(), e.message()))?;
    let key_holder = match post.order.signature_type {
        SignatureType::Poly1271 => verified.ecdsa_signer,
        _ => verified.signer,
    };
    if key_holder != who.address {
        return Err(reject(400, "the order signer address has to be the address of the API KEY"));
    }
    check_amounts(post.order.side, post.order_type, post.order.maker_amount, post.order.taker_amount)
        .map_err(|e| reject(e.http_status(), e.message()))?;
    let mut sim = state.lock();
    // Read the clock under the lock, so the engine's times never go back.
    let now = state.now_ms();
    // The tick may have changed since the lookup above; price against the current one.
    let tick = sim.exchange.market_of_token(&token).map(|m| m.tick).unwrap_or(info.tick);
    let terms = terms_from_amounts(post.order.side, post.order.maker_amount, post.order.taker_amount, tick)
        .map_err(|e| reject(e.http_status(), e.message()))?;
    let limit_order = matches!(post.order_type, OrderType::Gtc | OrderType::Gtd);
    if limit_order && terms.fit != PriceFit::Exact {
        // Resting orders carry exact amounts; only marketable orders may
        // truncate (the clients' market-order builders do).
        return Err(reject(400, format!("Price ({}) breaks minimum tick size rule: {tick}", terms.price)));
    }
    let order = NewOrder {
        id: verified.order_id,
        maker: post.order.maker,
        owner: who.address,
        api_key: who.api_key.to_string(),
        token,
        side: post.order.side,
        price: terms.price,
        size: terms.size,
        order_type: post.order_type,
        post_only: post.post_only.unwrap_or(false),
        expiration_s: post.order.expiration_s,
    };
    let refused_copy = matches!(post.order_type, OrderType::Fok | OrderType::Fak).then(|| order.clone());
    let result = sim.exchange.submit(order, now);
    state.publish(&mut sim);
    if let (Err(r @ (Reject::FokNotFilled | Reject::FakNoMatch)), Some(order)) = (&result, &refused_copy) {
        // Sent under the lock, so it is ordered with the engine's frames.
        let frame = killed_order_frame(order, &info.spec.condition_id, &r.message(), now);
        let _ = state.user_tx.send(Arc::new(frame));
    }
    drop(sim);
    match result {
        Ok(out) => {
            state.stats.orders_accepted.fetch_add(1, Ordering::Relaxed);
            Ok(json!({
                "success": true,
                "errorMsg": "",
                "orderID": out.order_id.to_string(),
                "status": wire::post_status(out.status),
                "makingAmount": out.making_amount.to_string(),
                "takingAmount": out.taking_amount.to_string(),
                "transactionsHashes": [],
                "tradeIDs": out.trade_ids,
            }))
        }
        Err(r) => Err(reject(r.http_status(), r.message())),
    }
}

fn counted(state: &SimState, r: Result<Value, ApiError>) -> Result<Value, ApiError> {
    if r.is_err() {
        state.stats.orders_rejected.fetch_add(1, Ordering::Relaxed);
    }
    r
}

pub async fn post_order(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::POST, "/order", &body)?;
    let post = parse_post_order(&body).map_err(|e| reject(e.http_status(), e.message()));
    let result = post.and_then(|p| admit(&state, &who, p));
    counted(&state, result).map(Json)
}

/// `POST /orders`: each order is admitted on its own; refused ones come back
/// as `success: false` entries with the reason, in request order.
pub async fn post_orders(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::POST, "/orders", &body)?;
    let items = parse_post_orders(&body).map_err(|e| reject(e.http_status(), e.message()))?;
    if items.len() > MAX_BATCH_ORDERS {
        return Err(ApiError::bad_request("Payload exceeds the limit"));
    }
    let replies: Vec<Value> = items
        .into_iter()
        .map(|item| {
            let r = item.map_err(|e| reject(e.http_status(), e.message())).and_then(|p| admit(&state, &who, p));
            match counted(&state, r) {
                Ok(v) => v,
                Err(e) => json!({
                    "success": false,
                    "errorMsg": e.message(),
                    "orderID": "",
                    "status": "",
                    "makingAmount": "",
                    "takingAmount": "",
                    "transactionsHashes": [],
                    "tradeIDs": [],
                }),
            }
        })
        .collect();
    Ok(Json(Value::Array(replies)))
}

fn cancel_json(out: &CancelOutcome) -> Value {
    json!({
        "canceled": out.canceled.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "not_canceled": out.not_canceled,
    })
}

#[derive(Debug, Deserialize)]
struct CancelOne {
    #[serde(rename = "orderID", alias = "orderId", alias = "order_id")]
    order_id: String,
}

/// Order ids from request text; a malformed one is reported as not cancelled
/// rather than failing the whole request.
fn parse_ids(raw: &[String], out: &mut CancelOutcome) -> Vec<OrderId> {
    let mut ids = Vec::new();
    for r in raw {
        match OrderId::parse(r) {
            Ok(id) => ids.push(id),
            Err(_) => {
                out.not_canceled.insert(r.clone(), "Invalid order id".to_owned());
            }
        }
    }
    ids
}

fn run_cancel(state: &SimState, f: impl FnOnce(&mut crate::engine::Exchange, i64) -> CancelOutcome) -> CancelOutcome {
    let mut sim = state.lock();
    // Read the clock under the lock, so the engine's times never go back.
    let now = state.now_ms();
    let out = f(&mut sim.exchange, now);
    state.publish(&mut sim);
    out
}

pub async fn cancel_order(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::DELETE, "/order", &body)?;
    let req: CancelOne = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let mut bad = CancelOutcome::default();
    let ids = parse_ids(&[req.order_id], &mut bad);
    let mut out = run_cancel(&state, |ex, now| ex.cancel(who.address, &ids, now));
    out.not_canceled.extend(bad.not_canceled);
    Ok(Json(cancel_json(&out)))
}

pub async fn cancel_orders(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::DELETE, "/orders", &body)?;
    let raw: Vec<String> = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let mut bad = CancelOutcome::default();
    let ids = parse_ids(&raw, &mut bad);
    let mut out = run_cancel(&state, |ex, now| ex.cancel(who.address, &ids, now));
    out.not_canceled.extend(bad.not_canceled);
    Ok(Json(cancel_json(&out)))
}

pub async fn cancel_all(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::DELETE, "/cancel-all", &[])?;
    let out = run_cancel(&state, |ex, now| ex.cancel_all(who.address, now));
    Ok(Json(cancel_json(&out)))
}

#[derive(Debug, Deserialize)]
struct CancelMarket {
    #[serde(default)]
    market: Option<String>,
    #[serde(default)]
    asset_id: Option<String>,
}

pub async fn cancel_market_orders(
    State(state): State<Arc<SimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::DELETE, "/cancel-market-orders", &body)?;
    let req: CancelMarket = serde_json::from_slice(&body).map_err(|_| ApiError::invalid_payload())?;
    let market = req
        .market
        .filter(|m| !m.is_empty())
        .map(|m| ConditionId::parse(&m).map_err(|_| ApiError::invalid_payload()))
        .transpose()?;
    let token = req
        .asset_id
        .filter(|t| !t.is_empty())
        .map(|t| TokenId::parse(&t).map_err(|_| ApiError::invalid_token()))
        .transpose()?;
    let out = run_cancel(&state, |ex, now| ex.cancel_market(who.address, market.as_ref(), token.as_ref(), now));
    Ok(Json(cancel_json(&out)))
}
