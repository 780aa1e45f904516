//! The exchange's JSON, written from the protocol notes.
//!
//! Every shape here copies what Polymarket's CLOB sends (polymarket-protocol.md
//! §1, §5; polymarket-sdk-notes.md §1, §4; real recorded user-channel
//! messages in NautilusTrader's test resources): prices and sizes are decimal
//! strings; timestamps are milliseconds as strings in `/book`, the market
//! channel and user-channel `order` events, but seconds in user-channel
//! `trade` events (`"timestamp":"1762776436"`, `"match_time":"1762776367"`,
//! `ws_messages/user_trade4.json`, 2025-11) and elsewhere; REST books list
//! bids ascending and asks descending (best last). This module shares no code with pmbot's own client
//! on purpose: a misreading of the protocol on one side shows up as a failure
//! on the other instead of cancelling out.

use pmbot_core::{Price, Side, Size, TickSize, TokenId};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::engine::{
    Address, BookView, CancelCause, MakerFill, MarketInfo, OrderEventKind, OrderRecord, OrderStatus, OrderType,
    TradeRecord, TradeStatus,
};
use pmbot_core::OrderId;

/// Lowercase `0x` hex of an address, as the exchange writes maker addresses.
pub fn addr(a: &Address) -> String {
    format!("{a:#x}")
}

/// EIP-55 checksummed hex, as `/balance-allowance` names spenders.
pub fn addr_checksummed(a: &Address) -> String {
    a.to_checksum(None)
}

/// A decimal as a JSON number, for the fields the real API sends as numbers
/// (`minimum_tick_size`, `/clob-markets` `mts`/`mos`/`fd.r`, `/markets` token
/// prices, `/prices-history` points). rust_decimal serializes as a string, so
/// the number is read back from the exact decimal text, as a client reads it.
pub fn number(d: Decimal) -> Value {
    let text = d.normalize().to_string();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn opt_price(p: Option<Price>) -> String {
    p.map(|p| p.to_string()).unwrap_or_default()
}

fn level_json(price: Price, size: Size) -> Value {
    json!({"price": price.to_string(), "size": size.to_string()})
}

/// A book's levels as the exchange lists them: bids ascending and asks
/// descending, so the best of each is last.
fn wire_levels(view: &BookView) -> (Vec<Value>, Vec<Value>) {
    let side = |levels: &[crate::engine::Level]| levels.iter().rev().map(|l| level_json(l.price, l.size)).collect();
    (side(&view.bids), side(&view.asks))
}

/// The REST `/book` summary of one token, with the server-compatible hash:
/// SHA-1 of the compact JSON with `hash` empty and keys in this exact order.
pub fn book_summary(view: &BookView) -> Value {
    let (bids, asks) = wire_levels(view);
    let market = view.market.to_string();
    let asset = view.token.to_string();
    let ts = view.timestamp_ms.to_string();
    let mos = view.min_order_size.to_string();
    let ltp = opt_price(view.last_trade_price);
    let hash = summary_hash(&market, &asset, &ts, &bids, &asks, &mos, view.tick, view.neg_risk, &ltp);
    json!({
        "market": market,
        "asset_id": asset,
        "timestamp": ts,
        "hash": hash,
        "bids": bids,
        "asks": asks,
        "min_order_size": mos,
        "tick_size": view.tick.as_str(),
        "neg_risk": view.neg_risk,
        "last_trade_price": ltp,
    })
}

/// The hash of a book summary, as the exchange computes it (py-clob-client
/// `generate_orderbook_summary_hash`).
#[allow(clippy::too_many_arguments)]
fn summary_hash(
    market: &str,
    asset: &str,
    ts: &str,
    bids: &[Value],
    asks: &[Value],
    mos: &str,
    tick: TickSize,
    neg_risk: bool,
    ltp: &str,
) -> String {
    let text = format!(
        "{{\"market\":{},\"asset_id\":{},\"timestamp\":{},\"hash\":\"\",\"bids\":{},\"asks\":{},\"min_order_size\":{},\"tick_size\":{},\"neg_risk\":{},\"last_trade_price\":{}}}",
        Value::from(market),
        Value::from(asset),
        Value::from(ts),
        Value::from(bids.to_vec()),
        Value::from(asks.to_vec()),
        Value::from(mos),
        Value::from(tick.as_str()),
        neg_risk,
        Value::from(ltp)
    );
    hex::encode(Sha1::digest(text.as_bytes()))
}

/// The hash a `book` or `price_change` message carries for this token's book.
pub fn book_hash(view: &BookView) -> String {
    let (bids, asks) = wire_levels(view);
    summary_hash(
        &view.market.to_string(),
        view.token.as_str(),
        &view.timestamp_ms.to_string(),
        &bids,
        &asks,
        &view.min_order_size.to_string(),
        view.tick,
        view.neg_risk,
        &opt_price(view.last_trade_price),
    )
}

/// A market-channel `book` message (full snapshot: clients replace, not merge).
pub fn ws_book(view: &BookView) -> Value {
    let (bids, asks) = wire_levels(view);
    json!({
        "event_type": "book",
        "asset_id": view.token.as_str(),
        "market": view.market.to_string(),
        "bids": bids,
        "asks": asks,
        "timestamp": view.timestamp_ms.to_string(),
        "hash": book_hash(view),
        "tick_size": view.tick.as_str(),
        "last_trade_price": opt_price(view.last_trade_price),
    })
}

/// One entry of a `price_change` message's `price_changes` batch.
pub fn ws_price_change_entry(
    token: &TokenId,
    side: Side,
    price: Price,
    size: Size,
    hash: &str,
    best_bid: Option<Price>,
    best_ask: Option<Price>,
) -> Value {
    json!({
        "asset_id": token.as_str(),
        "price": price.to_string(),
        "size": size.to_string(),
        "side": side.as_str(),
        "hash": hash,
        "best_bid": best_bid.map(|p| p.to_string()).unwrap_or_else(|| "0".into()),
        "best_ask": best_ask.map(|p| p.to_string()).unwrap_or_else(|| "1".into()),
    })
}

pub fn ws_price_change(market: &str, timestamp_ms: i64, entries: Vec<Value>) -> Value {
    json!({
        "event_type": "price_change",
        "market": market,
        "price_changes": entries,
        "timestamp": timestamp_ms.to_string(),
    })
}

pub fn ws_last_trade(
    market: &str,
    token: &TokenId,
    price: Price,
    side: Side,
    size: Size,
    fee_bps: u32,
    ts: i64,
) -> Value {
    json!({
        "event_type": "last_trade_price",
        "asset_id": token.as_str(),
        "market": market,
        "price": price.to_string(),
        "side": side.as_str(),
        "size": size.to_string(),
        "fee_rate_bps": fee_bps.to_string(),
        "timestamp": ts.to_string(),
    })
}

pub fn ws_tick_change(market: &str, token: &TokenId, old: TickSize, new: TickSize, ts: i64) -> Value {
    json!({
        "event_type": "tick_size_change",
        "asset_id": token.as_str(),
        "market": market,
        "old_tick_size": old.as_str(),
        "new_tick_size": new.as_str(),
        "timestamp": ts.to_string(),
    })
}

pub fn ws_best_bid_ask(market: &str, token: &TokenId, bid: Option<Price>, ask: Option<Price>, ts: i64) -> Value {
    let bid_d = bid.map(Price::to_decimal).unwrap_or(Decimal::ZERO);
    let ask_d = ask.map(Price::to_decimal).unwrap_or(Decimal::ONE);
    json!({
        "event_type": "best_bid_ask",
        "market": market,
        "asset_id": token.as_str(),
        "best_bid": bid_d.normalize().to_string(),
        "best_ask": ask_d.normalize().to_string(),
        "spread": (ask_d - bid_d).normalize().to_string(),
        "timestamp": ts.to_string(),
    })
}

fn event_message(info: &MarketInfo) -> Value {
    json!({
        "id": gamma_id(info),
        "ticker": info.spec.slug,
        "slug": info.spec.slug,
        "title": info.spec.question,
        "description": info.spec.description,
    })
}

/// A stable numeric id in the style of Gamma's market ids.
fn gamma_id(info: &MarketInfo) -> String {
    let b = info.spec.condition_id.0;
    (u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) % 1_000_000).to_string()
}

pub fn ws_new_market(info: &MarketInfo, ts: i64) -> Value {
    json!({
        "event_type": "new_market",
        "id": gamma_id(info),
        "question": info.spec.question,
        "market": info.spec.condition_id.to_string(),
        "slug": info.spec.slug,
        "description": info.spec.description,
        "assets_ids": info.spec.tokens.iter().map(|t| t.token_id.as_str()).collect::<Vec<_>>(),
        "outcomes": info.spec.tokens.iter().map(|t| t.outcome.as_str()).collect::<Vec<_>>(),
        "event_message": event_message(info),
        "timestamp": ts.to_string(),
    })
}

pub fn ws_market_resolved(info: &MarketInfo, winner: &TokenId, ts: i64) -> Value {
    let outcome =
        info.spec.tokens.iter().find(|t| &t.token_id == winner).map(|t| t.outcome.clone()).unwrap_or_default();
    json!({
        "event_type": "market_resolved",
        "id": gamma_id(info),
        "question": info.spec.question,
        "market": info.spec.condition_id.to_string(),
        "slug": info.spec.slug,
        "description": info.spec.description,
        "assets_ids": info.spec.tokens.iter().map(|t| t.token_id.as_str()).collect::<Vec<_>>(),
        "outcomes": info.spec.tokens.iter().map(|t| t.outcome.as_str()).collect::<Vec<_>>(),
        "winning_asset_id": winner.as_str(),
        "winning_outcome": outcome,
        "event_message": event_message(info),
        "timestamp": ts.to_string(),
    })
}

/// Status spelling in `/order` replies (lowercase).
pub fn post_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Live => "live",
        OrderStatus::Matched => "matched",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Unmatched => "unmatched",
    }
}

/// Status spelling in `/data/order(s)` (uppercase). The exchange's order
/// statuses are LIVE, MATCHED, CANCELED, CANCELED_MARKET_RESOLVED, INVALID,
/// DELAYED, UNMATCHED (NautilusTrader's `PolymarketOrderStatus`; the docs'
/// OpenAPI lists them with an `ORDER_STATUS_` prefix, the official Rust SDK's
/// mocks without).
pub fn record_status(o: &OrderRecord) -> &'static str {
    match (o.status, o.cancel_cause) {
        (OrderStatus::Live, _) => "LIVE",
        (OrderStatus::Matched, _) => "MATCHED",
        (OrderStatus::Canceled, Some(CancelCause::MarketResolved)) => "CANCELED_MARKET_RESOLVED",
        (OrderStatus::Canceled, _) => "CANCELED",
        (OrderStatus::Unmatched, _) => "UNMATCHED",
    }
}

/// Status of a user-channel `order` event. The exchange cancelling an order
/// itself (its market resolved) arrives as a CANCELLATION with status
/// `INVALID` (NautilusTrader `resolve_order_status`: "Venue-initiated
/// cancellations arrive as status=Invalid, event_type=Cancellation (e.g.
/// sport market resolution)"; fixture `ws_user_order_venue_cancel.json`).
pub fn ws_order_status(o: &OrderRecord, kind: OrderEventKind) -> &'static str {
    match (o.cancel_cause, kind) {
        (Some(CancelCause::MarketResolved), OrderEventKind::Cancellation) => "INVALID",
        _ => record_status(o),
    }
}

pub fn order_type_str(t: OrderType) -> &'static str {
    match t {
        OrderType::Gtc => "GTC",
        OrderType::Gtd => "GTD",
        OrderType::Fok => "FOK",
        OrderType::Fak => "FAK",
    }
}

pub fn trade_status_str(s: TradeStatus) -> &'static str {
    match s {
        TradeStatus::Matched => "MATCHED",
        TradeStatus::Mined => "MINED",
        TradeStatus::Confirmed => "CONFIRMED",
        TradeStatus::Retrying => "RETRYING",
        TradeStatus::Failed => "FAILED",
    }
}

/// An `OpenOrder` as `/data/order/{id}` and `/data/orders` return it.
pub fn open_order(o: &OrderRecord) -> Value {
    json!({
        "id": o.id.to_string(),
        "status": record_status(o),
        "owner": o.api_key,
        "maker_address": addr(&o.maker),
        "market": o.market.to_string(),
        "asset_id": o.token.as_str(),
        "side": o.side.as_str(),
        "original_size": o.original_size.to_string(),
        "size_matched": o.size_matched.to_string(),
        "price": o.price.to_string(),
        "associate_trades": o.associate_trades,
        "outcome": o.outcome,
        "created_at": o.created_at_ms / 1000,
        "expiration": o.expiration_s.to_string(),
        "order_type": order_type_str(o.order_type),
    })
}

/// A user-channel `order` event; `ts` in milliseconds, as real order events
/// carry it.
pub fn ws_order(o: &OrderRecord, kind: OrderEventKind, ts: i64) -> Value {
    let status = ws_order_status(o, kind);
    let kind = match kind {
        OrderEventKind::Placement => "PLACEMENT",
        OrderEventKind::Update => "UPDATE",
        OrderEventKind::Cancellation => "CANCELLATION",
    };
    json!({
        "event_type": "order",
        "type": kind,
        "id": o.id.to_string(),
        "market": o.market.to_string(),
        "asset_id": o.token.as_str(),
        "side": o.side.as_str(),
        "price": o.price.to_string(),
        "original_size": o.original_size.to_string(),
        "size_matched": o.size_matched.to_string(),
        "outcome": o.outcome,
        "owner": o.api_key,
        "order_owner": o.api_key,
        "maker_address": addr(&o.maker),
        "order_type": order_type_str(o.order_type),
        "expiration": o.expiration_s.to_string(),
        "associate_trades": o.associate_trades,
        "timestamp": ts.to_string(),
        "status": status,
    })
}

/// An order the exchange refused because it could not fill as its type
/// demands (FOK not fully fillable, FAK with nothing to match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilledOrder<'a> {
    pub id: &'a OrderId,
    pub market: &'a str,
    pub token: &'a TokenId,
    pub side: Side,
    pub price: Price,
    pub size: Size,
    pub api_key: &'a str,
    pub maker: &'a Address,
    pub order_type: OrderType,
    /// The refusal's text, which the status carries after `CANCELED_`.
    pub reason: &'a str,
}

/// The user-channel CANCELLATION of a killed FOK/FAK order: status
/// `CANCELED_<reason>`, no fills, blank creation time and outcome, as in the
/// recorded `ws_user_order_fok_killed.json` (NautilusTrader test data,
/// 2026: `"status":"CANCELED_order couldn't be fully filled. FOK orders are
/// fully filled or killed."`).
pub fn ws_order_killed(k: &KilledOrder<'_>, ts: i64) -> Value {
    json!({
        "event_type": "order",
        "type": "CANCELLATION",
        "id": k.id.to_string(),
        "market": k.market,
        "asset_id": k.token.as_str(),
        "side": k.side.as_str(),
        "price": k.price.to_string(),
        "original_size": k.size.to_string(),
        "size_matched": "",
        "outcome": "",
        "owner": k.api_key,
        "order_owner": k.api_key,
        "maker_address": addr(k.maker),
        "order_type": order_type_str(k.order_type),
        "expiration": "0",
        "created_at": "",
        "associate_trades": [],
        "timestamp": ts.to_string(),
        "status": format!("CANCELED_{}", k.reason),
    })
}

fn maker_order_json(m: &MakerFill, fee_bps: u32, outcome: &str) -> Value {
    json!({
        "order_id": m.order_id.to_string(),
        "owner": m.api_key,
        "maker_address": addr(&m.maker),
        "matched_amount": m.matched.to_string(),
        "price": m.price.to_string(),
        "fee_rate_bps": fee_bps.to_string(),
        "asset_id": m.token.as_str(),
        "outcome": outcome,
        "side": m.side.as_str(),
    })
}

/// Which side of a trade the account asking about it was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraderSide {
    Taker,
    Maker,
}

impl TraderSide {
    pub fn of(t: &TradeRecord, owner: &Address) -> TraderSide {
        if &t.taker_owner == owner { TraderSide::Taker } else { TraderSide::Maker }
    }

    fn as_str(self) -> &'static str {
        match self {
            TraderSide::Taker => "TAKER",
            TraderSide::Maker => "MAKER",
        }
    }
}

fn outcome_of(info: Option<&MarketInfo>, token: &TokenId) -> String {
    info.and_then(|i| i.spec.tokens.iter().find(|t| &t.token_id == token))
        .map(|t| t.outcome.clone())
        .unwrap_or_default()
}

/// Which side of `t` the viewer was on, with the API key and funder address
/// it traded with there.
fn viewer_side(t: &TradeRecord, viewer: &Address) -> (TraderSide, String, String) {
    match TraderSide::of(t, viewer) {
        TraderSide::Taker => (TraderSide::Taker, t.taker_api_key.clone(), addr(&t.taker_maker)),
        TraderSide::Maker => {
            let mine = t.makers.iter().find(|m| &m.owner == viewer);
            let key = mine.map(|m| m.api_key.clone()).unwrap_or_default();
            (TraderSide::Maker, key, mine.map(|m| addr(&m.maker)).unwrap_or_default())
        }
    }
}

/// A `Trade` as `/data/trades` returns it, seen by `viewer`.
pub fn trade(t: &TradeRecord, info: Option<&MarketInfo>, viewer: &Address) -> Value {
    let (side, owner, maker_address) = viewer_side(t, viewer);
    json!({
        "id": t.id,
        "taker_order_id": t.taker_order_id.to_string(),
        "market": t.market.to_string(),
        "asset_id": t.token.as_str(),
        "side": t.side.as_str(),
        "size": t.size.to_string(),
        "fee_rate_bps": t.fee_rate_bps.to_string(),
        "price": t.price.to_string(),
        "status": trade_status_str(t.status),
        "match_time": (t.match_time_ms / 1000).to_string(),
        "last_update": (t.last_update_ms / 1000).to_string(),
        "outcome": outcome_of(info, &t.token),
        "bucket_index": 0,
        "owner": owner,
        "maker_address": maker_address,
        "maker_orders": t.makers.iter().map(|m| maker_order_json(m, t.fee_rate_bps, &outcome_of(info, &m.token))).collect::<Vec<_>>(),
        "transaction_hash": t.transaction_hash.map(|h| h.to_string()).unwrap_or_default(),
        "trader_side": side.as_str(),
        "error_msg": "",
    })
}

/// A user-channel `trade` event for `viewer`. Its times are unix seconds as
/// strings, `timestamp` (sent) included (see the module docs).
pub fn ws_trade(t: &TradeRecord, info: Option<&MarketInfo>, viewer: &Address, ts: i64) -> Value {
    let (side, viewer_key, viewer_address) = viewer_side(t, viewer);
    json!({
        "event_type": "trade",
        "type": "TRADE",
        "id": t.id,
        "taker_order_id": t.taker_order_id.to_string(),
        "market": t.market.to_string(),
        "asset_id": t.token.as_str(),
        "side": t.side.as_str(),
        "size": t.size.to_string(),
        "price": t.price.to_string(),
        "fee_rate_bps": t.fee_rate_bps.to_string(),
        "status": trade_status_str(t.status),
        "match_time": (t.match_time_ms / 1000).to_string(),
        "last_update": (t.last_update_ms / 1000).to_string(),
        "timestamp": ts.div_euclid(1000).to_string(),
        "outcome": outcome_of(info, &t.token),
        "bucket_index": 0,
        "owner": t.taker_api_key,
        "trade_owner": viewer_key,
        "maker_address": viewer_address,
        "maker_orders": t.makers.iter().map(|m| maker_order_json(m, t.fee_rate_bps, &outcome_of(info, &m.token))).collect::<Vec<_>>(),
        "transaction_hash": t.transaction_hash.map(|h| h.to_string()).unwrap_or_default(),
        "trader_side": side.as_str(),
    })
}

/// ISO 8601 UTC time of a unix-ms timestamp ("2026-11-27T12:15:00Z").
pub fn iso8601(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A CLOB `/markets` entry.
pub fn market(info: &MarketInfo) -> Value {
    let spec = &info.spec;
    let mid = |i: usize| -> Decimal {
        match (&info.winner, i) {
            (Some(w), _) => {
                if &spec.tokens[i].token_id == w {
                    Decimal::ONE
                } else {
                    Decimal::ZERO
                }
            }
            (None, 0) => info.last_price.map(Price::to_decimal).unwrap_or(Decimal::new(5, 1)),
            (None, _) => Decimal::ONE - info.last_price.map(Price::to_decimal).unwrap_or(Decimal::new(5, 1)),
        }
    };
    let tokens: Vec<Value> = spec
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "token_id": t.token_id.as_str(),
                "outcome": t.outcome,
                "price": number(mid(i)),
                "winner": info.winner.as_ref() == Some(&t.token_id),
            })
        })
        .collect();
    let base_fee = v1_base_fee(spec);
    json!({
        "enable_order_book": true,
        "active": !info.closed,
        "closed": info.closed,
        "archived": false,
        "accepting_orders": info.accepting_orders,
        "accepting_order_timestamp": iso8601(info.listed_ms),
        "minimum_order_size": number(spec.min_order_size.to_decimal()),
        "minimum_tick_size": number(info.tick.to_decimal()),
        "condition_id": spec.condition_id.to_string(),
        "question_id": spec.question_id.to_string(),
        "question": spec.question,
        "description": spec.description,
        "market_slug": spec.slug,
        "end_date_iso": spec.end_ms.map(iso8601),
        "game_start_time": Value::Null,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": 0,
        "taker_base_fee": base_fee,
        "notifications_enabled": true,
        "neg_risk": spec.neg_risk,
        "neg_risk_market_id": "",
        "neg_risk_request_id": "",
        "icon": "",
        "image": "",
        "rewards": {"rates": Value::Null, "min_size": 0, "max_spread": 0},
        "is_50_50_outcome": false,
        "tokens": tokens,
        "tags": [spec.category],
    })
}

/// The V1 `base_fee` in bps that `/fee-rate`, `taker_base_fee` and `tbf`
/// still report: 1000 on every fee-charging market, 0 on fee-free ones
/// (observed live; polymarket-sdk-notes.md section 1).
pub fn v1_base_fee(spec: &crate::engine::MarketSpec) -> u32 {
    if spec.fee.rate.is_zero() { 0 } else { 1000 }
}

/// `/clob-markets/{condition_id}`: the short-key market info V2 clients read
/// tick size, neg-risk and the fee schedule from.
pub fn clob_market_info(info: &MarketInfo) -> Value {
    let spec = &info.spec;
    let mut v = json!({
        "c": spec.condition_id.to_string(),
        "t": spec.tokens.iter().map(|t| json!({"t": t.token_id.as_str(), "o": t.outcome})).collect::<Vec<_>>(),
        "mts": number(info.tick.to_decimal()),
        "mos": number(spec.min_order_size.to_decimal()),
        "fd": {"r": number(spec.fee.rate), "e": spec.fee.exponent, "to": spec.fee.taker_only},
        "mbf": 0,
        "tbf": v1_base_fee(spec),
        "rfqe": false,
    });
    if spec.neg_risk {
        v["nr"] = Value::Bool(true);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_759_050_000_000), "2025-09-28T09:00:00Z");
        assert_eq!(iso8601(1_795_780_800_000), "2026-11-27T12:00:00Z");
    }

    /// The research notes' vector: market 0xaabbcc, asset 100, ts 123456789,
    /// bids 0.3/0.4 x 100, asks 0.6/0.7 x 100, mos 100, tick 0.01, ltp 0.5.
    #[test]
    fn summary_hash_matches_the_servers_recipe() {
        let bids = vec![json!({"price":"0.3","size":"100"}), json!({"price":"0.4","size":"100"})];
        let asks = vec![json!({"price":"0.6","size":"100"}), json!({"price":"0.7","size":"100"})];
        let h = summary_hash("0xaabbcc", "100", "123456789", &bids, &asks, "100", TickSize::Hundredth, false, "0.5");
        assert_eq!(h, "0458ea5755c9f73d64a14636fa5c36ed460ec394");
    }
}
