//! Public market-data endpoints (no authentication).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine as _;
use pmbot_core::{ConditionId, Price, Side, TokenId};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::error::ApiError;
use super::super::{SimState, wire};
use crate::engine::{BookView, MarketInfo};

type Params = Query<HashMap<String, String>>;

/// Largest batch the `/books`, `/prices`, ... endpoints accept.
const MAX_BATCH: usize = 500;
/// Markets per `/markets` page.
const PAGE_SIZE: usize = 500;
/// `next_cursor` that marks the last page (base64 of "-1").
pub const END_CURSOR: &str = "LTE=";

pub async fn ok() -> Json<Value> {
    Json(Value::String("OK".into()))
}

/// `/time`: a bare integer of unix seconds.
pub async fn time(State(state): State<Arc<SimState>>) -> Json<Value> {
    Json(json!(state.now_ms() / 1000))
}

pub async fn version() -> Json<Value> {
    Json(json!({"version": 2}))
}

fn token_param(params: &HashMap<String, String>) -> Result<TokenId, ApiError> {
    params.get("token_id").and_then(|t| TokenId::parse(t).ok()).ok_or_else(ApiError::invalid_token)
}

fn book_of(state: &SimState, token: &TokenId) -> Result<BookView, ApiError> {
    state.lock().exchange.book(token).ok_or_else(ApiError::no_orderbook)
}

fn best(view: &BookView) -> (Option<Price>, Option<Price>) {
    (view.bids.first().map(|l| l.price), view.asks.first().map(|l| l.price))
}

/// Mid of the touch; an empty side counts as 0 (bids) or 1 (asks), as the
/// feed's `best_bid`/`best_ask` defaults do.
fn mid(view: &BookView) -> Decimal {
    let (b, a) = best(view);
    let b = b.map(Price::to_decimal).unwrap_or(Decimal::ZERO);
    let a = a.map(Price::to_decimal).unwrap_or(Decimal::ONE);
    ((b + a) / Decimal::TWO).normalize()
}

fn spread_of(view: &BookView) -> Decimal {
    let (b, a) = best(view);
    let b = b.map(Price::to_decimal).unwrap_or(Decimal::ZERO);
    let a = a.map(Price::to_decimal).unwrap_or(Decimal::ONE);
    (a - b).normalize()
}

/// BUY gives the best bid, SELL the best ask (CLOB OpenAPI `getPrice`).
fn side_price(view: &BookView, side: Side) -> Decimal {
    let (b, a) = best(view);
    match side {
        Side::Buy => b.map(Price::to_decimal).unwrap_or(Decimal::ZERO),
        Side::Sell => a.map(Price::to_decimal).unwrap_or(Decimal::ZERO),
    }
    .normalize()
}

fn side_param(raw: Option<&String>) -> Result<Side, ApiError> {
    raw.and_then(|s| s.to_ascii_uppercase().parse().ok()).ok_or_else(|| ApiError::bad_request("Invalid side"))
}

pub async fn book(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    Ok(Json(wire::book_summary(&book_of(&state, &token)?)))
}

/// One `{"token_id": ..., "side"?: ...}` item of a batch request body.
#[derive(Debug, Deserialize)]
pub struct TokenItem {
    token_id: String,
    #[serde(default)]
    side: Option<String>,
}

fn parse_batch(body: &[u8]) -> Result<Vec<TokenItem>, ApiError> {
    let items: Vec<TokenItem> = serde_json::from_slice(body).map_err(|_| ApiError::invalid_payload())?;
    if items.len() > MAX_BATCH {
        return Err(ApiError::bad_request("Payload exceeds the limit"));
    }
    Ok(items)
}

fn batch_tokens(items: &[TokenItem]) -> Result<Vec<TokenId>, ApiError> {
    items.iter().map(|i| TokenId::parse(&i.token_id).map_err(|_| ApiError::invalid_payload())).collect()
}

pub async fn books(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let tokens = batch_tokens(&parse_batch(&body)?)?;
    let sim = state.lock();
    let out: Vec<Value> = tokens.iter().filter_map(|t| sim.exchange.book(t)).map(|v| wire::book_summary(&v)).collect();
    Ok(Json(Value::Array(out)))
}

pub async fn midpoint(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    Ok(Json(json!({"mid": mid(&book_of(&state, &token)?).to_string()})))
}

pub async fn midpoints(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let tokens = batch_tokens(&parse_batch(&body)?)?;
    let sim = state.lock();
    let mut out = Map::new();
    for t in tokens {
        if let Some(v) = sim.exchange.book(&t) {
            out.insert(t.to_string(), Value::String(mid(&v).to_string()));
        }
    }
    Ok(Json(Value::Object(out)))
}

pub async fn price(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    let side = side_param(p.get("side"))?;
    Ok(Json(json!({"price": side_price(&book_of(&state, &token)?, side).to_string()})))
}

pub async fn prices(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let items = parse_batch(&body)?;
    let sim = state.lock();
    let mut out = Map::new();
    for item in &items {
        let token = TokenId::parse(&item.token_id).map_err(|_| ApiError::invalid_payload())?;
        let side = side_param(item.side.as_ref())?;
        if let Some(v) = sim.exchange.book(&token) {
            let entry = out.entry(token.to_string()).or_insert_with(|| Value::Object(Map::new()));
            entry[side.as_str()] = Value::String(side_price(&v, side).to_string());
        }
    }
    Ok(Json(Value::Object(out)))
}

pub async fn spread(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    Ok(Json(json!({"spread": spread_of(&book_of(&state, &token)?).to_string()})))
}

pub async fn spreads(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    let tokens = batch_tokens(&parse_batch(&body)?)?;
    let sim = state.lock();
    let mut out = Map::new();
    for t in tokens {
        if let Some(v) = sim.exchange.book(&t) {
            out.insert(t.to_string(), Value::String(spread_of(&v).to_string()));
        }
    }
    Ok(Json(Value::Object(out)))
}

pub async fn last_trade_price(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    let sim = state.lock();
    if sim.exchange.book(&token).is_none() {
        return Err(ApiError::no_orderbook());
    }
    Ok(Json(match sim.tape.last(&token) {
        Some(t) => json!({"price": t.price.to_string(), "side": t.side.as_str()}),
        // No trade yet: the price is empty, as on a freshly listed market.
        None => json!({"price": "0", "side": ""}),
    }))
}

/// `GET` (the Rust SDK, with a JSON body) or `POST` (the Python client).
pub async fn last_trades_prices(
    State(state): State<Arc<SimState>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let tokens = batch_tokens(&parse_batch(&body)?)?;
    let sim = state.lock();
    let out: Vec<Value> = tokens
        .iter()
        .filter_map(|t| sim.tape.last(t).map(|l| (t, l)))
        .map(|(t, l)| json!({"token_id": t.as_str(), "price": l.price.to_string(), "side": l.side.as_str()}))
        .collect();
    Ok(Json(Value::Array(out)))
}

fn market_of_token(state: &SimState, token: &TokenId) -> Result<MarketInfo, ApiError> {
    state.lock().exchange.market_of_token(token).ok_or_else(ApiError::no_orderbook)
}

pub async fn tick_size(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    let info = market_of_token(&state, &token)?;
    Ok(Json(json!({"minimum_tick_size": wire::number(info.tick.to_decimal())})))
}

pub async fn neg_risk(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    let info = market_of_token(&state, &token)?;
    Ok(Json(json!({"neg_risk": info.spec.neg_risk})))
}

/// V1's fee field in bps: 1000 on every fee-charging market, 0 on free ones
/// (as observed on the real exchange); V2 clients read `/clob-markets` instead.
pub async fn fee_rate(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = token_param(&p)?;
    let info = market_of_token(&state, &token)?;
    Ok(Json(json!({"base_fee": wire::v1_base_fee(&info.spec)})))
}

/// `/prices-history?market=<token>&interval=1m|1h|6h|1d|1w|max` or `startTs`/`endTs`.
pub async fn prices_history(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let token = p.get("market").and_then(|t| TokenId::parse(t).ok()).ok_or_else(ApiError::invalid_token)?;
    let now_s = state.now_ms() / 1000;
    let parse_ts = |k: &str| -> Result<Option<i64>, ApiError> {
        p.get(k).map(|v| v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid {k}")))).transpose()
    };
    let (start, end) = match (parse_ts("startTs")?, parse_ts("endTs")?) {
        (None, None) => {
            let span = match p.get("interval").map(String::as_str) {
                Some("1m") => 60,
                Some("1h") | None => 3_600,
                Some("6h") => 6 * 3_600,
                Some("1d") => 86_400,
                Some("1w") => 7 * 86_400,
                Some("max") => i64::MAX / 2,
                Some(_) => return Err(ApiError::bad_request("invalid interval")),
            };
            (now_s.saturating_sub(span), now_s)
        }
        (s, e) => (s.unwrap_or(0), e.unwrap_or(now_s)),
    };
    let sim = state.lock();
    let history: Vec<Value> = sim
        .tape
        .history(&token)
        .filter(|t| t.time_ms / 1000 >= start && t.time_ms / 1000 <= end)
        .map(|t| json!({"t": t.time_ms / 1000, "p": wire::number(t.price.to_decimal())}))
        .collect();
    Ok(Json(json!({ "history": history })))
}

fn decode_cursor(raw: Option<&String>) -> Result<usize, ApiError> {
    let Some(raw) = raw.filter(|c| !c.is_empty()) else { return Ok(0) };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| ApiError::bad_request("invalid next_cursor"))?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::bad_request("invalid next_cursor"))?;
    text.parse::<usize>().map_err(|_| ApiError::bad_request("invalid next_cursor"))
}

/// A `{data, next_cursor, limit, count}` page of `items` starting at the cursor.
pub fn page(items: Vec<Value>, cursor: Option<&String>) -> Result<Value, ApiError> {
    if cursor.map(String::as_str) == Some(END_CURSOR) {
        return Ok(json!({"data": [], "next_cursor": END_CURSOR, "limit": PAGE_SIZE, "count": 0}));
    }
    let start = decode_cursor(cursor)?;
    let data: Vec<Value> = items.iter().skip(start).take(PAGE_SIZE).cloned().collect();
    let end = start + data.len();
    let next = if end >= items.len() {
        END_CURSOR.to_owned()
    } else {
        base64::engine::general_purpose::STANDARD.encode(end.to_string())
    };
    Ok(json!({"data": data, "next_cursor": next, "limit": PAGE_SIZE, "count": data.len()}))
}

pub async fn markets(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state.lock().exchange.markets().iter().map(wire::market).collect();
    Ok(Json(page(items, p.get("next_cursor"))?))
}

pub async fn simplified_markets(State(state): State<Arc<SimState>>, Query(p): Params) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state
        .lock()
        .exchange
        .markets()
        .iter()
        .map(|m| {
            let full = wire::market(m);
            json!({
                "condition_id": full["condition_id"],
                "tokens": full["tokens"],
                "rewards": full["rewards"],
                "active": full["active"],
                "closed": full["closed"],
                "archived": full["archived"],
                "accepting_orders": full["accepting_orders"],
            })
        })
        .collect();
    Ok(Json(page(items, p.get("next_cursor"))?))
}

fn market_by_id(state: &SimState, raw: &str) -> Result<MarketInfo, ApiError> {
    let id = ConditionId::parse(raw).map_err(|_| ApiError::bad_request("Invalid condition id"))?;
    state.lock().exchange.market(&id).ok_or_else(|| ApiError::not_found("market not found"))
}

pub async fn market(State(state): State<Arc<SimState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(wire::market(&market_by_id(&state, &id)?)))
}

pub async fn clob_market(State(state): State<Arc<SimState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(wire::clob_market_info(&market_by_id(&state, &id)?)))
}

pub async fn market_by_token(
    State(state): State<Arc<SimState>>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let token = TokenId::parse(&token).map_err(|_| ApiError::invalid_token())?;
    let info = market_of_token(&state, &token)?;
    Ok(Json(json!({
        "condition_id": info.spec.condition_id.to_string(),
        "primary_token_id": info.spec.tokens[0].token_id.as_str(),
        "secondary_token_id": info.spec.tokens[1].token_id.as_str(),
    })))
}

/// `GET /gamma/markets?slug=..&condition_ids=..&clob_token_ids=..&closed=..`: a
/// small part of Polymarket's Gamma API (a separate host in production),
/// enough to look markets up by slug. Gamma writes camelCase keys and encodes
/// `outcomes`, `outcomePrices` and `clobTokenIds` as JSON strings.
pub async fn gamma_markets(State(state): State<Arc<SimState>>, Query(p): Params) -> Json<Value> {
    let wanted = |key: &str| -> Option<Vec<String>> {
        p.get(key).filter(|v| !v.is_empty()).map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()).collect())
    };
    let (slugs, cids, tokens) = (wanted("slug"), wanted("condition_ids"), wanted("clob_token_ids"));
    let closed = p.get("closed").map(|v| v == "true");
    let sim = state.lock();
    let out: Vec<Value> = sim
        .exchange
        .markets()
        .iter()
        .filter(|m| slugs.as_ref().is_none_or(|s| s.contains(&m.spec.slug.to_ascii_lowercase())))
        .filter(|m| cids.as_ref().is_none_or(|c| c.contains(&m.spec.condition_id.to_string())))
        .filter(|m| tokens.as_ref().is_none_or(|t| m.spec.tokens.iter().any(|x| t.contains(&x.token_id.to_string()))))
        .filter(|m| closed.is_none_or(|c| c == m.closed))
        .map(|m| {
            let ids: Vec<&str> = m.spec.tokens.iter().map(|t| t.token_id.as_str()).collect();
            let outcomes: Vec<&str> = m.spec.tokens.iter().map(|t| t.outcome.as_str()).collect();
            let full = wire::market(m);
            let prices: Vec<String> = full["tokens"]
                .as_array()
                .map(|ts| ts.iter().map(|t| t["price"].to_string()).collect())
                .unwrap_or_default();
            json!({
                "id": full["condition_id"].as_str().map(|c| c[2..10].to_owned()),
                "question": m.spec.question,
                "conditionId": m.spec.condition_id.to_string(),
                "questionID": m.spec.question_id.to_string(),
                "slug": m.spec.slug,
                "description": m.spec.description,
                "endDate": m.spec.end_ms.map(wire::iso8601),
                "active": !m.closed,
                "closed": m.closed,
                "archived": false,
                "acceptingOrders": m.accepting_orders,
                "enableOrderBook": true,
                "orderPriceMinTickSize": wire::number(m.tick.to_decimal()),
                "orderMinSize": wire::number(m.spec.min_order_size.to_decimal()),
                "negRisk": m.spec.neg_risk,
                "feesEnabled": !m.spec.fee.rate.is_zero(),
                "outcomes": serde_json::to_string(&outcomes).unwrap_or_default(),
                "outcomePrices": serde_json::to_string(&prices).unwrap_or_default(),
                "clobTokenIds": serde_json::to_string(&ids).unwrap_or_default(),
                "version": "v1",
            })
        })
        .collect();
    Json(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_to_the_end_cursor() {
        let items: Vec<Value> = (0..1200).map(|i| json!(i)).collect();
        let p1 = page(items.clone(), None).unwrap();
        assert_eq!(p1["count"], 500);
        let c1 = p1["next_cursor"].as_str().unwrap().to_owned();
        assert_eq!(c1, "NTAw");
        let p2 = page(items.clone(), Some(&c1)).unwrap();
        assert_eq!(p2["data"][0], 500);
        let c2 = p2["next_cursor"].as_str().unwrap().to_owned();
        let p3 = page(items.clone(), Some(&c2)).unwrap();
        assert_eq!(p3["count"], 200);
        assert_eq!(p3["next_cursor"], END_CURSOR);
        assert_eq!(page(items.clone(), Some(&"MA==".to_owned())).unwrap()["data"][0], 0);
        assert!(page(items, Some(&"!!".to_owned())).is_err());
    }
}
