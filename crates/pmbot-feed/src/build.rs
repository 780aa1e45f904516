//! One object's fields into one event, a skip, or a refusal.
//!
//! Invariant: an object is atomic. Either every field its message type needs
//! converts and agrees, and exactly one event comes out, or nothing does and
//! the [`Rejection`] says why (the first fault, checking fields in a fixed
//! order) and names the market and tokens the object mentioned. Builders check
//! everything before they move a list out of the fields, so a refused object's
//! fields are whole when its tokens are collected.

use std::borrow::Cow;

use pmbot_core::{
    BestBidAsk, BookSnapshot, EventTime, LastTrade, MarketEvent, MarketResolved, NewMarket, PriceChange,
    PriceChangeBatch, TickSizeChange, TimestampMs, TokenId,
};

use super::convert;
use super::fields::{Fault, Fields, List, Scalar};
use super::intern::TokenInterner;
use super::{MessageType, RejectReason, Rejection};

/// What became of one object.
#[derive(Debug)]
pub(super) enum Built<'a> {
    /// The event was appended to the output.
    Event {
        message: MessageType,
        /// A `price_change` in one of the legacy shapes.
        legacy: bool,
    },
    /// An `event_type` pmbot does not read.
    Unknown(Cow<'a, str>),
    /// No `event_type`.
    NonEvent,
    /// The caller fills in `index`.
    Rejected(Rejection),
}

/// Builds the event of one object and appends it to `out`, or says why not.
pub(super) fn build<'a>(
    fields: &mut Fields<'a>,
    received: TimestampMs,
    interner: &TokenInterner,
    out: &mut Vec<MarketEvent>,
) -> Built<'a> {
    let message = match fields.event_type.take() {
        None | Some(Scalar::Null) => return Built::NonEvent,
        Some(Scalar::Str(name)) => match MessageType::from_wire(&name) {
            Some(message) => message,
            None => return Built::Unknown(name),
        },
        // Tagged with a number, an object...: it claims to be a message but
        // cannot be named. Refuse rather than skip it.
        Some(_) => return refuse(Fault::new(RejectReason::WrongType, "event_type"), None, fields, interner),
    };
    let f = &mut *fields;
    // Each arm pushes its event straight into `out`: an event is 168 bytes,
    // and every move of it on the way is a copy.
    let built = match f.duplicate {
        Some(name) => Err(Fault::new(RejectReason::DuplicateField, name)),
        None => match message {
            MessageType::Book => book(f, received, interner).map(|e| out.push(MarketEvent::Book(e))).map(|()| false),
            MessageType::PriceChange => price_change(f, received, interner, out),
            MessageType::LastTradePrice => {
                last_trade(f, received, interner).map(|e| out.push(MarketEvent::LastTrade(e))).map(|()| false)
            }
            MessageType::TickSizeChange => {
                tick_change(f, received, interner).map(|e| out.push(MarketEvent::TickSizeChange(e))).map(|()| false)
            }
            MessageType::BestBidAsk => {
                best_bid_ask(f, received, interner).map(|e| out.push(MarketEvent::BestBidAsk(e))).map(|()| false)
            }
            MessageType::NewMarket => {
                new_market(f, received).map(|e| out.push(MarketEvent::NewMarket(e))).map(|()| false)
            }
            MessageType::MarketResolved => {
                resolved(f, received, interner).map(|e| out.push(MarketEvent::MarketResolved(e))).map(|()| false)
            }
        },
    };
    match built {
        Ok(legacy) => Built::Event { message, legacy },
        Err(fault) => refuse(fault, Some(message), fields, interner),
    }
}

fn refuse<'a>(fault: Fault, message: Option<MessageType>, fields: &Fields<'_>, interner: &TokenInterner) -> Built<'a> {
    let mut tokens = Vec::new();
    let mut add = |t: TokenId| {
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    };
    for slot in [&fields.asset_id, &fields.winning_asset_id] {
        if let Ok(t) = convert::token(slot.as_ref(), "", interner) {
            add(t);
        }
    }
    if let Some(list) = &fields.price_changes {
        list.items
            .iter()
            .map(|c| c.token.clone())
            .chain(list.faults.iter().filter_map(|f| f.token.clone()))
            .for_each(&mut add);
    }
    if let Some(list) = &fields.assets_ids {
        list.items.iter().cloned().for_each(&mut add);
    }
    let fault = fault.into_info();
    if let Some(t) = fault.token {
        add(t);
    }
    Built::Rejected(Rejection {
        reason: fault.reason,
        field: Some(fault.field).filter(|f| !f.is_empty()),
        value: fault.value,
        index: None,
        message,
        market: convert::market(fields.market.as_ref(), "").ok(),
        tokens,
    })
}

/// The first fault of a list (absent counts as fine).
fn check_list<T>(list: &Option<List<T>>) -> Result<(), Fault> {
    match list.as_ref().and_then(|l| l.faults.first()) {
        Some(fault) => Err(fault.clone()),
        None => Ok(()),
    }
}

fn list_len<T>(list: &Option<List<T>>) -> usize {
    list.as_ref().map_or(0, |l| l.items.len())
}

fn take_list<T>(list: &mut Option<List<T>>) -> Vec<T> {
    list.take().map(|l| l.items).unwrap_or_default()
}

/// A required list: absent (or `null`) is a missing field.
fn require_list<T>(list: &Option<List<T>>, field: &'static str) -> Result<(), Fault> {
    match list {
        None => Err(Fault::new(RejectReason::MissingField, field)),
        Some(_) => check_list(list),
    }
}

fn time(f: &Fields<'_>, received: TimestampMs) -> Result<EventTime, Fault> {
    Ok(EventTime { received, exchange: convert::timestamp(f.timestamp.as_ref(), "timestamp")? })
}

fn book(f: &mut Fields<'_>, received: TimestampMs, interner: &TokenInterner) -> Result<BookSnapshot, Fault> {
    let token = convert::token(f.asset_id.as_ref(), "asset_id", interner)?;
    let market = convert::market(f.market.as_ref(), "market")?;
    let time = time(f, received)?;
    // A side that is absent or null is empty, as in the official SDK.
    check_list(&f.bids)?;
    check_list(&f.asks)?;
    let tick_size = convert::optional_tick(f.tick_size.as_ref(), "tick_size")?;
    let last_trade_price = convert::last_trade_price(f.last_trade_price.as_ref(), "last_trade_price")?;
    let hash = convert::optional_hash(f.hash.as_ref(), "hash")?;
    Ok(BookSnapshot {
        token,
        market,
        bids: take_list(&mut f.bids),
        asks: take_list(&mut f.asks),
        tick_size,
        last_trade_price,
        hash,
        time,
    })
}

/// `price_change` in any of its three shapes: the current `price_changes`
/// batch; a legacy `changes` list under one `asset_id` (its `hash`, of the
/// book after the whole list, goes on the last change); or a legacy single
/// change with `price`/`side`/`size` at the top. Appends the batch to `out`
/// and says whether the shape was a legacy one.
fn price_change(
    f: &mut Fields<'_>,
    received: TimestampMs,
    interner: &TokenInterner,
    out: &mut Vec<MarketEvent>,
) -> Result<bool, Fault> {
    let market = convert::market(f.market.as_ref(), "market")?;
    let time = time(f, received)?;
    let shapes = [f.price_changes.is_some(), f.changes.is_some(), f.price.is_some()];
    if shapes.iter().filter(|&&s| s).count() > 1 {
        return Err(Fault::new(RejectReason::Inconsistent, "price_changes"));
    }
    let (changes, legacy) = if f.price_changes.is_some() {
        check_list(&f.price_changes)?;
        (take_list(&mut f.price_changes), false)
    } else if f.changes.is_some() {
        let token = convert::token(f.asset_id.as_ref(), "asset_id", interner)?;
        check_list(&f.changes)?;
        let hash = convert::optional_hash(f.hash.as_ref(), "hash")?;
        let list = take_list(&mut f.changes);
        let last = list.len().saturating_sub(1);
        let changes = list
            .into_iter()
            .enumerate()
            .map(|(i, c)| PriceChange {
                token: token.clone(),
                side: c.side,
                price: c.price,
                size: c.size,
                best_bid: None,
                best_ask: None,
                hash: if i == last { hash.clone() } else { None },
            })
            .collect();
        (changes, true)
    } else if f.price.is_some() {
        let change = PriceChange {
            token: convert::token(f.asset_id.as_ref(), "asset_id", interner)?,
            side: convert::side(f.side.as_ref(), "side")?,
            price: convert::price(f.price.as_ref(), "price")?,
            size: convert::size(f.size.as_ref(), "size")?,
            best_bid: convert::touch(f.best_bid.as_ref(), "best_bid")?,
            best_ask: convert::touch(f.best_ask.as_ref(), "best_ask")?,
            hash: convert::optional_hash(f.hash.as_ref(), "hash")?,
        };
        (vec![change], true)
    } else {
        return Err(Fault::new(RejectReason::MissingField, "price_changes"));
    };
    out.push(MarketEvent::PriceChanges(PriceChangeBatch { market, changes, time }));
    Ok(legacy)
}

fn last_trade(f: &mut Fields<'_>, received: TimestampMs, interner: &TokenInterner) -> Result<LastTrade, Fault> {
    Ok(LastTrade {
        token: convert::token(f.asset_id.as_ref(), "asset_id", interner)?,
        market: convert::market(f.market.as_ref(), "market")?,
        price: convert::price(f.price.as_ref(), "price")?,
        side: convert::side(f.side.as_ref(), "side")?,
        size: convert::size(f.size.as_ref(), "size")?,
        fee_rate_bps: convert::fee_rate_bps(f.fee_rate_bps.as_ref(), "fee_rate_bps")?,
        time: time(f, received)?,
    })
}

fn tick_change(f: &mut Fields<'_>, received: TimestampMs, interner: &TokenInterner) -> Result<TickSizeChange, Fault> {
    Ok(TickSizeChange {
        token: convert::token(f.asset_id.as_ref(), "asset_id", interner)?,
        market: convert::market(f.market.as_ref(), "market")?,
        old: convert::tick(f.old_tick_size.as_ref(), "old_tick_size")?,
        new: convert::tick(f.new_tick_size.as_ref(), "new_tick_size")?,
        time: time(f, received)?,
    })
}

/// `best_bid_ask`: both touches must be present ("0" / "1" for an empty side);
/// the `spread` it also carries is their difference and is not kept.
fn best_bid_ask(f: &mut Fields<'_>, received: TimestampMs, interner: &TokenInterner) -> Result<BestBidAsk, Fault> {
    let token = convert::token(f.asset_id.as_ref(), "asset_id", interner)?;
    let market = convert::market(f.market.as_ref(), "market")?;
    for (slot, field) in [(&f.best_bid, "best_bid"), (&f.best_ask, "best_ask")] {
        if matches!(slot, None | Some(Scalar::Null)) {
            return Err(Fault::new(RejectReason::MissingField, field));
        }
    }
    Ok(BestBidAsk {
        token,
        market,
        best_bid: convert::touch(f.best_bid.as_ref(), "best_bid")?,
        best_ask: convert::touch(f.best_ask.as_ref(), "best_ask")?,
        time: time(f, received)?,
    })
}

fn new_market(f: &mut Fields<'_>, received: TimestampMs) -> Result<NewMarket, Fault> {
    let market = convert::market(f.market.as_ref(), "market")?;
    let id = convert::id_text(f.id.as_ref(), "id")?;
    let question = convert::string(f.question.as_ref(), "question")?;
    let slug = convert::string(f.slug.as_ref(), "slug")?;
    require_list(&f.assets_ids, "assets_ids")?;
    require_list(&f.outcomes, "outcomes")?;
    let time = time(f, received)?;
    if list_len(&f.assets_ids) != list_len(&f.outcomes) {
        return Err(Fault::new(RejectReason::Inconsistent, "outcomes"));
    }
    let (tokens, outcomes) = (take_list(&mut f.assets_ids), take_list(&mut f.outcomes));
    Ok(NewMarket { market, id, question, slug, tokens, outcomes, time })
}

/// `market_resolved`: the winning token must be one of the market's tokens.
fn resolved(f: &mut Fields<'_>, received: TimestampMs, interner: &TokenInterner) -> Result<MarketResolved, Fault> {
    let market = convert::market(f.market.as_ref(), "market")?;
    require_list(&f.assets_ids, "assets_ids")?;
    let winning_token = convert::token(f.winning_asset_id.as_ref(), "winning_asset_id", interner)?;
    let winning_outcome = convert::string(f.winning_outcome.as_ref(), "winning_outcome")?;
    let time = time(f, received)?;
    if !f.assets_ids.as_ref().is_some_and(|l| l.items.contains(&winning_token)) {
        return Err(Fault::new(RejectReason::Inconsistent, "winning_asset_id"));
    }
    Ok(MarketResolved { market, tokens: take_list(&mut f.assets_ids), winning_token, winning_outcome, time })
}
