//! The exchange's order and trade records, read into checked types.
//!
//! Invariant: amounts and prices are parsed exactly (pmbot-core's `Size` and
//! `Price`); a record that does not parse is refused with a reason, never
//! half-used. The same shapes come from REST (`/data/order`, `/data/orders`,
//! `/data/trades`) and the user channel (`order`, `trade` events), which
//! differ only in a few field names (`matchtime` / `match_time`).

use std::collections::HashMap;

use pmbot_core::order_state::{OrderEventKind, TradeStatus, VenueOrderStatus};
use pmbot_core::{OrderId, Price, Side, Size, TimestampMs, TokenId};
use serde::Deserialize;

/// Why a record was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {why}")]
pub struct WireError {
    pub what: &'static str,
    pub why: String,
}

fn bad(what: &'static str, why: impl Into<String>) -> WireError {
    WireError { what, why: why.into() }
}

/// An order as the exchange reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueOrder {
    pub id: OrderId,
    pub status: Option<VenueOrderStatus>,
    /// Set for a user-channel event.
    pub kind: Option<OrderEventKind>,
    pub market: Option<String>,
    pub token: Option<TokenId>,
    pub side: Option<Side>,
    pub price: Option<Price>,
    pub original_size: Size,
    pub size_matched: Size,
}

#[derive(Debug, Deserialize)]
struct RawOrder {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    market: Option<String>,
    #[serde(default)]
    asset_id: Option<String>,
    #[serde(default)]
    side: Option<String>,
    #[serde(default)]
    price: Option<String>,
    #[serde(default)]
    original_size: Option<String>,
    #[serde(default)]
    size_matched: Option<String>,
}

fn size_of(what: &'static str, s: Option<&str>) -> Result<Size, WireError> {
    match s.map(str::trim) {
        None | Some("") => Ok(Size::ZERO),
        Some(t) => Size::parse(t).map_err(|e| bad(what, e.to_string())),
    }
}

impl VenueOrder {
    pub fn from_value(v: &serde_json::Value) -> Result<VenueOrder, WireError> {
        let raw: RawOrder = serde_json::from_value(v.clone()).map_err(|e| bad("order", e.to_string()))?;
        let id = OrderId::parse(raw.id.trim()).map_err(|e| bad("order id", e.to_string()))?;
        Ok(VenueOrder {
            id,
            status: raw.status.as_deref().and_then(VenueOrderStatus::parse),
            kind: raw.kind.as_deref().and_then(OrderEventKind::parse),
            market: raw.market,
            token: raw.asset_id.as_deref().and_then(|t| TokenId::parse(t).ok()),
            side: raw.side.as_deref().and_then(|s| s.parse().ok()),
            price: raw.price.as_deref().and_then(|p| Price::parse(p).ok()),
            original_size: size_of("original_size", raw.original_size.as_deref())?,
            size_matched: size_of("size_matched", raw.size_matched.as_deref())?,
        })
    }
}

/// One order's share of a trade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeLeg {
    pub order_id: OrderId,
    pub size: Size,
    pub price: Price,
    pub taker: bool,
}

/// A trade as the exchange reports it. Its `fee_rate_bps` is not read: a
/// fill's fee comes from the market's schedule (`fd`), since the real feed
/// sends `""` there at times (research: polymarket-protocol.md, corrections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueTrade {
    pub id: String,
    pub status: TradeStatus,
    pub token: Option<TokenId>,
    /// The taker's leg, then every maker's.
    pub legs: Vec<TradeLeg>,
    /// The exchange's time of the report (ms), if it said.
    pub time: Option<TimestampMs>,
}

#[derive(Debug, Deserialize)]
struct RawMaker {
    order_id: String,
    matched_amount: String,
    price: String,
}

#[derive(Debug, Deserialize)]
struct RawTrade {
    id: String,
    status: String,
    taker_order_id: String,
    #[serde(default)]
    asset_id: Option<String>,
    size: String,
    price: String,
    #[serde(default)]
    maker_orders: Vec<RawMaker>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default, alias = "match_time")]
    matchtime: Option<String>,
}

impl VenueTrade {
    pub fn from_value(v: &serde_json::Value) -> Result<VenueTrade, WireError> {
        let raw: RawTrade = serde_json::from_value(v.clone()).map_err(|e| bad("trade", e.to_string()))?;
        let status = TradeStatus::parse(&raw.status).ok_or_else(|| bad("trade status", raw.status.clone()))?;
        let price = |s: &str| Price::parse(s.trim()).map_err(|e| bad("trade price", e.to_string()));
        let mut legs = Vec::with_capacity(1 + raw.maker_orders.len());
        // The taker order id is empty on some records of pure maker fills.
        if let Ok(id) = OrderId::parse(raw.taker_order_id.trim()) {
            legs.push(TradeLeg {
                order_id: id,
                size: Size::parse(raw.size.trim()).map_err(|e| bad("trade size", e.to_string()))?,
                price: price(&raw.price)?,
                taker: true,
            });
        }
        for m in &raw.maker_orders {
            legs.push(TradeLeg {
                order_id: OrderId::parse(m.order_id.trim()).map_err(|e| bad("maker order id", e.to_string()))?,
                size: Size::parse(m.matched_amount.trim()).map_err(|e| bad("matched_amount", e.to_string()))?,
                price: price(&m.price)?,
                taker: false,
            });
        }
        let time = raw.timestamp.as_deref().and_then(epoch_ms).or_else(|| raw.matchtime.as_deref().and_then(epoch_ms));
        Ok(VenueTrade {
            id: raw.id,
            status,
            token: raw.asset_id.as_deref().and_then(|t| TokenId::parse(t).ok()),
            legs,
            time,
        })
    }
}

/// A trade record's time (`timestamp`, `match_time`), in unix milliseconds.
/// The real exchange writes both in seconds (a recorded user-channel trade:
/// `"timestamp":"1762776436"`, `"match_time":"1762776367"`; NautilusTrader
/// test data `ws_messages/user_trade4.json`; polymarket-protocol.md
/// corrections 7), while its `order` events carry milliseconds. pmbot read
/// the trade's `timestamp` as milliseconds, so fills landed in 1970. A value
/// of 10^11 or more cannot be seconds (that is the year 5138) and is taken as
/// milliseconds, so a feed that switched to milliseconds would still read.
fn epoch_ms(text: &str) -> Option<TimestampMs> {
    const MS_FROM: i64 = 100_000_000_000;
    let t = TimestampMs::parse(text).ok()?;
    Some(if t.0 >= MS_FROM { t } else { TimestampMs(t.0.checked_mul(1000)?) })
}

/// A user-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserEvent {
    Order(VenueOrder),
    Trade(VenueTrade),
}

/// The messages of one user-channel frame (an object or an array of them).
/// Messages of other types are skipped; malformed ones are returned as errors.
pub fn parse_user_frame(text: &str) -> Result<Vec<Result<UserEvent, WireError>>, WireError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad("frame", e.to_string()))?;
    let items = match v {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    Ok(items
        .iter()
        .filter_map(|m| match m.get("event_type").and_then(|t| t.as_str()) {
            Some("order") => Some(VenueOrder::from_value(m).map(UserEvent::Order)),
            Some("trade") => Some(VenueTrade::from_value(m).map(UserEvent::Trade)),
            _ => None,
        })
        .collect())
}

/// `{"data":[...],"next_cursor":"..."}`.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub data: Vec<serde_json::Value>,
    #[serde(default)]
    pub next_cursor: String,
}

/// The cursor after the last page.
pub const TERMINAL_CURSOR: &str = "LTE=";

/// `{"canceled":[...],"not_canceled":{...}}`.
#[derive(Debug, Default, Deserialize)]
pub struct CancelReply {
    #[serde(default)]
    pub canceled: Option<Vec<String>>,
    #[serde(default, alias = "notCanceled")]
    pub not_canceled: Option<HashMap<String, String>>,
}

/// A `/balance-allowance` answer: the account's balance of the asset asked
/// for and the allowance of each spender, in base units (6 decimals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceAllowance {
    pub balance: alloy_primitives::U256,
    pub allowances: Vec<(alloy_primitives::Address, alloy_primitives::U256)>,
}

impl BalanceAllowance {
    /// The allowance the exchange reported for `spender` (none reported: zero).
    pub fn allowance(&self, spender: alloy_primitives::Address) -> alloy_primitives::U256 {
        self.allowances.iter().find(|(a, _)| *a == spender).map_or(alloy_primitives::U256::ZERO, |(_, v)| *v)
    }
}

/// A whole number of base units, sent as a string or a number.
fn base_units(what: &'static str, v: &serde_json::Value) -> Result<alloy_primitives::U256, WireError> {
    let text = match v {
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        other => return Err(bad(what, format!("not an amount: {other}"))),
    };
    text.parse::<alloy_primitives::U256>()
        .map_err(|_| bad(what, format!("{text:?} is not a whole number of base units")))
}

/// `{"balance": "1000000", "allowances": {"0x...": "115...935"}}`; a missing
/// `allowances` is none. Anything that does not read exactly is refused.
pub fn balance_allowance(body: &str) -> Result<BalanceAllowance, WireError> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| bad("balance-allowance", e.to_string()))?;
    let balance = base_units("balance", v.get("balance").ok_or_else(|| bad("balance", "missing"))?)?;
    let allowances = match v.get("allowances") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(spender, amount)| {
                let address = spender.trim().parse().map_err(|_| bad("allowances", format!("spender {spender:?}")))?;
                Ok((address, base_units("allowance", amount)?))
            })
            .collect::<Result<_, WireError>>()?,
        Some(other) => return Err(bad("allowances", format!("not an object: {other}"))),
    };
    Ok(BalanceAllowance { balance, allowances })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1";
    const MAKER: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn user_frames() {
        let order = format!(
            r#"{{"event_type":"order","type":"UPDATE","id":"{OID}","market":"0xab","asset_id":"12","side":"BUY","price":"0.57","original_size":"10","size_matched":"4.5","status":"LIVE","timestamp":"1"}}"#
        );
        let trade = format!(
            r#"{{"event_type":"trade","type":"TRADE","id":"t-1","taker_order_id":"{OID}","asset_id":"12","side":"BUY","size":"10","price":"0.57","fee_rate_bps":"700","status":"MINED","matchtime":"1700000000","timestamp":"1700000000123","maker_orders":[{{"order_id":"{MAKER}","matched_amount":"10","price":"0.43","asset_id":"13","owner":"x","outcome":"No"}}]}}"#
        );
        let frame = format!("[{order},{trade},{{\"event_type\":\"other\"}}]");
        let events = parse_user_frame(&frame).unwrap();
        assert_eq!(events.len(), 2);
        let Ok(UserEvent::Order(o)) = &events[0] else { panic!("{events:?}") };
        assert_eq!((o.kind, o.status), (Some(OrderEventKind::Update), Some(VenueOrderStatus::Live)));
        assert_eq!(o.size_matched, Size::parse("4.5").unwrap());
        let Ok(UserEvent::Trade(t)) = &events[1] else { panic!("{events:?}") };
        assert_eq!((t.status, t.time), (TradeStatus::Mined, Some(TimestampMs(1_700_000_000_123))));
        assert_eq!(t.legs.len(), 2);
        assert!(t.legs[0].taker && !t.legs[1].taker);
        assert_eq!(t.legs[1].price, Price::parse("0.43").unwrap());
        // A bad amount refuses the message, not the frame.
        let broken = trade.replace(r#""size":"10""#, r#""size":"ten""#);
        let events = parse_user_frame(&broken).unwrap();
        assert!(events[0].is_err());
        assert!(parse_user_frame("{not json").is_err());
    }

    /// A real user-channel trade carries `timestamp` in unix seconds (as
    /// NautilusTrader's recorded `ws_messages/user_trade4.json` does:
    /// `"timestamp":"1762776436"`, `"match_time":"1762776367"`), so the fill
    /// is on 2025-11-10, not in 1970. Source: polymarket-protocol.md
    /// corrections 7; issue 13 item 8.
    #[test]
    fn trade_timestamps_are_seconds() {
        let trade = format!(
            r#"{{"event_type":"trade","type":"TRADE","id":"t-2","taker_order_id":"{OID}","asset_id":"12","side":"BUY","size":"5","price":"0.5","fee_rate_bps":"","status":"MATCHED","match_time":"1762776367","timestamp":"1762776436","maker_orders":[]}}"#
        );
        let Ok(UserEvent::Trade(t)) = &parse_user_frame(&trade).unwrap()[0] else { panic!("not a trade") };
        assert_eq!(t.time, Some(TimestampMs(1_762_776_436_000)));
        let no_timestamp = trade.replace(r#","timestamp":"1762776436""#, "");
        let Ok(UserEvent::Trade(t)) = &parse_user_frame(&no_timestamp).unwrap()[0] else { panic!("not a trade") };
        assert_eq!(t.time, Some(TimestampMs(1_762_776_367_000)), "match_time, also seconds");
    }

    #[test]
    fn rest_records() {
        let v = serde_json::json!({"id": OID, "status": "CANCELED", "original_size": "10", "size_matched": "0",
            "price": "0.4", "side": "SELL", "asset_id": "12", "market": "0xab", "created_at": 1, "order_type": "GTC"});
        let o = VenueOrder::from_value(&v).unwrap();
        assert_eq!((o.status, o.side), (Some(VenueOrderStatus::Canceled), Some(Side::Sell)));
        let v = serde_json::json!({"id": "t", "status": "CONFIRMED", "taker_order_id": OID, "size": "3", "price": "0.5",
            "fee_rate_bps": "0", "match_time": "1700000000", "maker_orders": []});
        let t = VenueTrade::from_value(&v).unwrap();
        assert_eq!(t.time, Some(TimestampMs(1_700_000_000_000)));
        assert!(VenueOrder::from_value(&serde_json::json!({"id": "0x12"})).is_err());
    }

    #[test]
    fn balance_allowance_answers() {
        let spender = "0xE111180000d2663C0091e4f400237545B87B996B";
        let max = alloy_primitives::U256::MAX;
        let ba =
            balance_allowance(&format!(r#"{{"balance":"1000000","allowances":{{"{spender}":"{max}"}}}}"#)).unwrap();
        assert_eq!(ba.balance, alloy_primitives::U256::from(1_000_000u64));
        assert_eq!(ba.allowance(spender.parse().unwrap()), max);
        assert_eq!(ba.allowance(alloy_primitives::Address::ZERO), alloy_primitives::U256::ZERO, "unlisted: none");
        assert_eq!(balance_allowance(r#"{"balance":25}"#).unwrap().balance, alloy_primitives::U256::from(25u64));
        for garbage in [
            r#"{"balance":"1.5"}"#,
            r#"{"balance":"-1"}"#,
            r#"{"allowances":{}}"#,
            r#"{"balance":"1","allowances":{"nobody":"1"}}"#,
            r#"{"balance":"1","allowances":{"0xE111180000d2663C0091e4f400237545B87B996B":"lots"}}"#,
            r#"{"balance":"1","allowances":[]}"#,
            "<html>",
        ] {
            assert!(balance_allowance(garbage).is_err(), "{garbage}");
        }
    }
}
