//! The orders this gateway knows, by client id and by hash, and how what is
//! learnt about them reaches the journal.
//!
//! Invariant: a client id has at most one current order; a change to an
//! order's state is written to the journal while the tracker is locked, so
//! the journal sees each order's changes in the order they were made (lock
//! order: tracker, then journal; nothing awaits while holding either).

use std::collections::{HashMap, HashSet};

use pmbot_core::events::{EventTime, Fill, Liquidity, OrderIntent};
use pmbot_core::order_state::{Applied, OrderInput, OrderState, OrderStateError, TradeChange};
use pmbot_core::{ClientOrderId, ConditionId, FeeModel, OrderId, OrderStatus, Price, Side, Size, TimestampMs, TokenId};

use super::log::OrderLog;
use super::{GatewayAlert, Inner, lock};

/// One tracked order.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub state: OrderState,
    pub intent: OrderIntent,
    pub market: ConditionId,
    /// The price actually signed (differs from the intent's after a tick rebuild).
    pub price: Price,
    /// The market's fee schedule (`fd`): what its fills pay, whatever the
    /// trade record's `fee_rate_bps` says (the real feed sends `""` at times).
    pub fee: FeeModel,
}

/// An order as the gateway sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    pub client_order_id: ClientOrderId,
    pub order_id: Option<OrderId>,
    pub market: ConditionId,
    pub token: TokenId,
    pub side: Side,
    pub price: Price,
    pub size: Size,
    pub status: OrderStatus,
    pub filled: Size,
    pub reason: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    by_cid: HashMap<ClientOrderId, Tracked>,
    by_hash: HashMap<OrderId, ClientOrderId>,
    /// Intents being placed (checked and not yet tracked or refused).
    reserved: HashSet<ClientOrderId>,
}

/// How a trade leg became a fill.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FillInfo {
    pub price: Price,
    pub taker: bool,
    pub exchange_time: Option<TimestampMs>,
}

/// What applying an input did, for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// No such order.
    Unknown,
    Applied {
        changed: bool,
        new_fill: bool,
    },
    Refused(OrderStateError),
}

impl Tracker {
    /// Reserves an intent's client id; `false` if it is in use.
    pub fn reserve(&mut self, cid: &ClientOrderId) -> bool {
        !self.by_cid.contains_key(cid) && self.reserved.insert(cid.clone())
    }

    pub fn release(&mut self, cid: &ClientOrderId) {
        self.reserved.remove(cid);
    }

    /// Tracks a prepared order (replacing an earlier, rejected preparation
    /// of the same intent).
    pub fn insert(&mut self, t: Tracked) {
        let cid = t.state.client_order_id().clone();
        if let Some(old) = self.by_cid.get(&cid).and_then(|o| o.state.order_id()) {
            self.by_hash.remove(&old);
        }
        if let Some(h) = t.state.order_id() {
            self.by_hash.insert(h, cid.clone());
        }
        self.reserved.remove(&cid);
        self.by_cid.insert(cid, t);
    }

    pub fn get(&self, cid: &ClientOrderId) -> Option<&Tracked> {
        self.by_cid.get(cid)
    }

    pub fn cid_of(&self, hash: &OrderId) -> Option<&ClientOrderId> {
        self.by_hash.get(hash)
    }

    pub fn any_may_rest(&self) -> bool {
        self.by_cid.values().any(|t| t.state.may_rest())
    }

    pub fn open(&self) -> Vec<Tracked> {
        self.by_cid.values().filter(|t| t.state.is_open()).cloned().collect()
    }

    /// pUSD still committed by open BUY orders (their unfilled remainders at
    /// the signed price, with the taker fee they may pay), and shares of
    /// `token` by open SELL orders.
    pub fn commitments(&self, token: &TokenId) -> (pmbot_core::Usdc, Size) {
        let mut usdc = pmbot_core::Usdc::ZERO;
        let mut shares = Size::ZERO;
        for t in self.by_cid.values().filter(|t| t.state.may_rest()) {
            let rest = t.state.size().saturating_sub(t.state.filled());
            match t.intent.side {
                Side::Buy => usdc += t.fee.max_buy_cost(t.price, rest, t.intent.may_take()),
                Side::Sell if &t.intent.token == token => shares += rest,
                Side::Sell => {}
            }
        }
        (usdc, shares)
    }

    fn view_of(t: &Tracked) -> OrderView {
        OrderView {
            client_order_id: t.state.client_order_id().clone(),
            order_id: t.state.order_id(),
            market: t.market,
            token: t.intent.token.clone(),
            side: t.intent.side,
            price: t.price,
            size: t.state.size(),
            status: t.state.status(),
            filled: t.state.filled(),
            reason: t.state.reason().map(str::to_owned),
        }
    }

    pub fn views(&self) -> Vec<OrderView> {
        let mut v: Vec<OrderView> = self.by_cid.values().map(Tracker::view_of).collect();
        v.sort_by(|a, b| a.client_order_id.cmp(&b.client_order_id));
        v
    }

    pub fn view(&self, cid: &ClientOrderId) -> Option<OrderView> {
        self.by_cid.get(cid).map(Tracker::view_of)
    }
}

/// The fee a fill paid, in pUSD on either side, by the market's schedule:
/// the taker fee for a taker leg, the maker fee (zero on CLOB V2) otherwise.
fn fill_fee(fee: &FeeModel, price: Price, size: Size, taker: bool) -> pmbot_core::Usdc {
    if taker { fee.taker_fee(price, size) } else { fee.maker_fee(price, size) }
}

impl Inner {
    /// Applies `input` to the order with this client id and journals what
    /// changed (and a new fill). `fill` describes the trade leg for a
    /// [`OrderInput::Trade`].
    pub(crate) fn apply_cid(&self, cid: &ClientOrderId, input: OrderInput, fill: Option<FillInfo>) -> Effect {
        let now = self.now();
        let mut tracker = lock(&self.tracker);
        let Some(t) = tracker.by_cid.get_mut(cid) else { return Effect::Unknown };
        let applied = match t.state.apply(input) {
            Ok(a) => a,
            Err(e) => {
                drop(tracker);
                tracing::warn!(error = %e, "order state refused an input");
                let _ =
                    lock(&self.log).note("order_state_refused", &serde_json::json!({ "error": e.to_string() }), now);
                return Effect::Refused(e);
            }
        };
        let Applied::Changed(change) = applied else {
            return Effect::Applied { changed: false, new_fill: false };
        };
        let update = t.state.update(now);
        let fill = match (&change.trade, fill) {
            (Some(TradeChange::Added { trade_id, size }), Some(info)) => Some(Fill {
                order_id: t.state.order_id().unwrap_or_default(),
                client_order_id: Some(cid.clone()),
                trade_id: trade_id.clone(),
                token: t.intent.token.clone(),
                side: t.intent.side,
                price: info.price,
                size: *size,
                fee: fill_fee(&t.fee, info.price, *size, info.taker),
                liquidity: if info.taker { Liquidity::Taker } else { Liquidity::Maker },
                time: EventTime { received: now, exchange: info.exchange_time.unwrap_or(now) },
            }),
            _ => None,
        };
        let mut log = lock(&self.log);
        let mut new_fill = false;
        let mut failure = None;
        if let Err(e) = log.update(&update) {
            failure = Some(e.to_string());
        }
        if let Some(f) = &fill {
            match log.fill(f) {
                Ok(fresh) => new_fill = fresh,
                Err(e) => failure = Some(e.to_string()),
            }
        }
        if let Some(TradeChange::Failed { trade_id, size }) = &change.trade {
            let detail =
                serde_json::json!({"client_order_id": cid.as_str(), "trade_id": trade_id, "size": size.to_string()});
            if let Err(e) = log.note("trade_failed", &detail, now) {
                failure = Some(e.to_string());
            }
        }
        drop(log);
        drop(tracker);
        if let Some(detail) = failure {
            self.alert(GatewayAlert::JournalFailed { detail });
        }
        Effect::Applied { changed: true, new_fill }
    }

    /// As [`Inner::apply_cid`], for an order known by its hash.
    pub(crate) fn apply_hash(&self, hash: &OrderId, input: OrderInput, fill: Option<FillInfo>) -> Effect {
        let cid = lock(&self.tracker).cid_of(hash).cloned();
        match cid {
            Some(cid) => self.apply_cid(&cid, input, fill),
            None => Effect::Unknown,
        }
    }

    /// Writes a refusal before sending to the journal.
    pub(crate) fn journal_refusal(&self, intent: &OrderIntent, reason: &str) {
        let at = self.now();
        if let Err(e) = lock(&self.log).refusal(intent, reason, at) {
            self.alert(GatewayAlert::JournalFailed { detail: e.to_string() });
        }
    }

    pub(crate) fn journal_note(&self, kind: &str, detail: &serde_json::Value) {
        let at = self.now();
        if let Err(e) = lock(&self.log).note(kind, detail, at) {
            self.alert(GatewayAlert::JournalFailed { detail: e.to_string() });
        }
    }

    /// Runs `f` on the journal.
    pub(crate) fn with_log<R>(&self, f: impl FnOnce(&mut dyn OrderLog) -> R) -> R {
        let mut g = lock(&self.log);
        f(g.as_mut())
    }
}
