//! Turns engine events into market- and user-channel frames.
//!
//! The engine reports every change in order; this module batches the level
//! changes of one drain into one `price_change` per market (as the real feed
//! batches both tokens of a market), follows each trade with `last_trade_price`
//! and fresh `book` snapshots of the market's tokens, and routes `order` and
//! `trade` events to the accounts involved. Frames are rendered once and
//! shared by every connection that wants them.

use std::collections::BTreeMap;
use std::sync::Arc;

use pmbot_core::{ConditionId, Price, TokenId};
use serde_json::Value;

use super::wire;
use crate::engine::{Address, EngineEvent, Exchange, NewOrder, TradeStatus};

/// A frame for the public market channel.
#[derive(Debug, Clone)]
pub struct MarketFrame {
    pub market: ConditionId,
    /// The tokens it concerns; a connection gets it if it subscribed to any.
    pub assets: Vec<TokenId>,
    /// Sent only to connections that enabled `custom_feature_enabled`.
    pub custom: bool,
    /// Sent to every such connection whatever it subscribed to: a
    /// `new_market` announces tokens nobody can have subscribed to yet.
    pub to_all: bool,
    pub text: Arc<str>,
}

/// A frame for one account's user channel.
#[derive(Debug, Clone)]
pub struct UserFrame {
    pub owner: Address,
    pub market: ConditionId,
    pub text: Arc<str>,
}

/// Everything one drain of engine events produced.
#[derive(Debug, Default)]
pub struct Frames {
    pub market: Vec<MarketFrame>,
    pub user: Vec<UserFrame>,
}

/// A level change waiting to be folded into its market's `price_change`.
struct PendingLevel {
    timestamp_ms: i64,
    token: TokenId,
    side: pmbot_core::Side,
    price: Price,
    size: pmbot_core::Size,
}

/// Renders `events` (drained from `exchange`, which now holds the state after
/// them) into frames, stamped `now_ms`.
pub fn render(events: Vec<EngineEvent>, exchange: &Exchange, now_ms: i64) -> Frames {
    let mut out = Frames::default();
    // Level changes are batched per market, in order of first appearance.
    let mut levels: BTreeMap<ConditionId, Vec<PendingLevel>> = BTreeMap::new();
    let mut level_order: Vec<ConditionId> = Vec::new();
    let mut traded: Vec<ConditionId> = Vec::new();

    for ev in events {
        match ev {
            EngineEvent::LevelChanged { market, token, side, price, size, timestamp_ms, .. } => {
                if !levels.contains_key(&market) {
                    level_order.push(market);
                }
                levels.entry(market).or_default().push(PendingLevel { timestamp_ms, token, side, price, size });
            }
            EngineEvent::Trade(t) => {
                let info = exchange.market(&t.market);
                if t.status == TradeStatus::Matched {
                    // A fill prints on both outcome tokens, each in its own
                    // terms, so both books' `last_trade_price` (which their
                    // hashes cover) is known to every subscriber.
                    let m = t.market.to_string();
                    let ts = t.match_time_ms;
                    let text = wire::ws_last_trade(&m, &t.token, t.price, t.side, t.size, t.fee_rate_bps, ts);
                    out.market.push(frame(t.market, vec![t.token.clone()], false, &text));
                    if let Some(other) =
                        info.as_ref().and_then(|i| i.spec.tokens.iter().find(|x| x.token_id != t.token))
                    {
                        let (p, side) = (t.price.complement(), t.side.opposite());
                        let text = wire::ws_last_trade(&m, &other.token_id, p, side, t.size, t.fee_rate_bps, ts);
                        out.market.push(frame(t.market, vec![other.token_id.clone()], false, &text));
                    }
                    if !traded.contains(&t.market) {
                        traded.push(t.market);
                    }
                }
                let mut owners: Vec<Address> = vec![t.taker_owner];
                for m in &t.makers {
                    if !owners.contains(&m.owner) {
                        owners.push(m.owner);
                    }
                }
                for owner in owners {
                    let text = wire::ws_trade(&t, info.as_ref(), &owner, now_ms);
                    out.user.push(UserFrame { owner, market: t.market, text: render_text(&text) });
                }
            }
            EngineEvent::Order { order, kind } => {
                let text = wire::ws_order(&order, kind, now_ms);
                out.user.push(UserFrame { owner: order.owner, market: order.market, text: render_text(&text) });
            }
            EngineEvent::TickSizeChanged { market, token, old, new, timestamp_ms } => {
                let text = wire::ws_tick_change(&market.to_string(), &token, old, new, timestamp_ms);
                out.market.push(frame(market, vec![token], false, &text));
            }
            EngineEvent::MarketListed { market, timestamp_ms } => {
                if let Some(info) = exchange.market(&market.condition_id) {
                    let text = wire::ws_new_market(&info, timestamp_ms);
                    let assets = market.tokens.iter().map(|t| t.token_id.clone()).collect();
                    out.market.push(MarketFrame { to_all: true, ..frame(market.condition_id, assets, true, &text) });
                }
            }
            EngineEvent::MarketResolved { market, winning_token, timestamp_ms } => {
                if let Some(info) = exchange.market(&market) {
                    let text = wire::ws_market_resolved(&info, &winning_token, timestamp_ms);
                    let assets = info.spec.tokens.iter().map(|t| t.token_id.clone()).collect();
                    out.market.push(frame(market, assets, true, &text));
                }
            }
        }
    }

    for market in level_order {
        let pending = levels.remove(&market).unwrap_or_default();
        // The message carries the time of the change, which is also the
        // timestamp of the book its hashes describe.
        let ts = pending.iter().map(|l| l.timestamp_ms).max().unwrap_or(now_ms);
        let mut hashes: BTreeMap<TokenId, (String, Option<Price>, Option<Price>)> = BTreeMap::new();
        let mut entries = Vec::with_capacity(pending.len());
        let mut assets: Vec<TokenId> = Vec::new();
        for lvl in pending {
            let (hash, bid, ask) = hashes
                .entry(lvl.token.clone())
                .or_insert_with(|| match exchange.book(&lvl.token) {
                    Some(view) => {
                        let bid = view.bids.first().map(|l| l.price);
                        let ask = view.asks.first().map(|l| l.price);
                        (wire::book_hash(&view), bid, ask)
                    }
                    None => (String::new(), None, None),
                })
                .clone();
            if !assets.contains(&lvl.token) {
                assets.push(lvl.token.clone());
            }
            entries.push(wire::ws_price_change_entry(&lvl.token, lvl.side, lvl.price, lvl.size, &hash, bid, ask));
        }
        let text = wire::ws_price_change(&market.to_string(), ts, entries);
        out.market.push(frame(market, assets.clone(), false, &text));
        // The custom `best_bid_ask` feed follows every change of the touch.
        for token in assets {
            if let Some((_, bid, ask)) = hashes.get(&token) {
                let text = wire::ws_best_bid_ask(&market.to_string(), &token, *bid, *ask, ts);
                out.market.push(frame(market, vec![token], true, &text));
            }
        }
    }

    // After a trade the exchange re-sends the full book of the market's tokens.
    for market in traded {
        if let Some(info) = exchange.market(&market) {
            for t in &info.spec.tokens {
                if let Some(view) = exchange.book(&t.token_id) {
                    out.market.push(frame(market, vec![t.token_id.clone()], false, &wire::ws_book(&view)));
                }
            }
        }
    }
    out
}

/// The user-channel CANCELLATION of an order the exchange killed instead of
/// accepting (FOK not fully fillable, FAK with nothing to match), whose
/// status carries the refusal's `reason`.
pub(crate) fn killed_order_frame(order: &NewOrder, market: &ConditionId, reason: &str, now_ms: i64) -> UserFrame {
    let market_hex = market.to_string();
    let killed = wire::KilledOrder {
        id: &order.id,
        market: &market_hex,
        token: &order.token,
        side: order.side,
        price: order.price,
        size: order.size,
        api_key: &order.api_key,
        maker: &order.maker,
        order_type: order.order_type,
        reason,
    };
    UserFrame { owner: order.owner, market: *market, text: render_text(&wire::ws_order_killed(&killed, now_ms)) }
}

fn render_text(v: &Value) -> Arc<str> {
    Arc::from(v.to_string())
}

fn frame(market: ConditionId, assets: Vec<TokenId>, custom: bool, v: &Value) -> MarketFrame {
    MarketFrame { market, assets, custom, to_all: false, text: render_text(v) }
}
