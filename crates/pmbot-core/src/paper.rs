//! The paper venue: our orders filled against the real book, as they would
//! have been, erring against us where the data cannot tell.
//!
//! Invariants:
//! - cash and positions change only by fills, fees and resolution payouts, in
//!   exact micro-units (a BUY's cost rounded up, a SELL's proceeds down);
//! - a share of visible liquidity fills at most one of our orders: what a
//!   marketable order took is remembered per level ("consumed") until the
//!   book shows that much size gone;
//! - a resting order fills only from trades printed at its price (or through
//!   it), and only after the size that was ahead of it when it arrived.
//!
//! Time comes in with the calls (`TimestampMs`, the engine's clock, the
//! `received` time of market events), never from a clock. An order placed at
//! `t` reaches the venue at `t + latency_ms` and is matched against the book
//! as it is then: every market event stamped at or before the arrival time is
//! applied first. Cancels by us travel with the same latency.
//!
//! Modelling choices, each stated so a report can repeat them:
//! - Queue ([`QueueModel::BackOfVisible`], the default): we join behind all
//!   visible size at our price. Trades at our price eat the queue ahead first.
//!   Size others cancel is assumed to have been *behind* us, unless the
//!   visible size falls below what we think is ahead of us, in which case the
//!   queue ahead shrinks to what is visible (it cannot be larger).
//! - A level's size decrease is split into "traded" (covered by trades
//!   reported at that price) and "cancelled" (the rest). When a book drop
//!   shrinks our queue before the trade that caused it is reported, that
//!   trade, if reported within `trade_report_lag_ms`, does not shrink our
//!   queue a second time.
//! - Our resting orders are invisible to the real market: a book that shows
//!   an opposite order at or through our price without a trade does not fill
//!   us (a real order might have traded with us; we cannot know).
//! - A trade printed through our price (a sell below our bid, a buy above our
//!   ask) fills our whole remainder at our price: price priority says it
//!   would have.
//! - Fees by the [`FeeModel`]: taker fills pay it (a BUY in shares withheld,
//!   a SELL in pUSD), maker fills pay the maker fee (zero on CLOB V2).
//! - A BUY reserves `limit x remaining` pUSD and a SELL its remaining shares
//!   while open (no short selling: outcome tokens are sold only when held).
//! - Resolution pays 1 pUSD per share of the winning token, 0 for the others,
//!   and cancels open orders on the market's tokens.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::amount::{Size, Usdc};
use crate::book::{BookError, OrderBook};
use crate::clock::TimestampMs;
use crate::events::{
    BookSnapshot, ClientOrderId, EventTime, Fill, FillFee, IntentError, LastTrade, Liquidity, MarketEvent,
    MarketResolved, OrderIntent, OrderStatus, OrderType, OrderUpdate, PriceChange,
};
use crate::fees::FeeModel;
use crate::ids::{Hash32, OrderId, TokenId};
use crate::price::{Price, TickSize};
use crate::side::Side;

/// Where a resting order joins the queue at its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueModel {
    /// Behind all size visible at our price when the order arrives
    /// (conservative; the default).
    BackOfVisible,
    /// At the front: any trade at our price fills us. Optimistic; for
    /// measuring how much the queue assumption matters, not for decisions.
    Front,
}

/// Every assumption of the fill model. Defaults are conservative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperConfig {
    /// Delay from our decision to the order (or cancel) reaching the venue, in
    /// ms. Default 250: a REST round trip to the CLOB from a distant host,
    /// until measured from the gateway.
    pub latency_ms: u32,
    /// Where a resting order joins the queue. Default: back of the visible size.
    pub queue: QueueModel,
    /// The market's fee schedule. Default: crypto, 0.07 taker-only (the highest
    /// category rate, so a strategy is not flattered by a free market).
    pub fee: FeeModel,
    /// Whether a marketable order walks down the book past the best level
    /// (within its limit). Default true; false takes the best level only.
    pub walk_book: bool,
    /// How long after a book drop a trade report at that price may still be
    /// the cause of that drop, in ms. Default 1000.
    pub trade_report_lag_ms: u32,
    /// Starting collateral. Default 300 pUSD (the design's capital cap).
    pub starting_cash: Usdc,
}

impl Default for PaperConfig {
    fn default() -> Self {
        PaperConfig {
            latency_ms: 250,
            queue: QueueModel::BackOfVisible,
            fee: FeeModel::crypto(),
            walk_book: true,
            trade_report_lag_ms: 1000,
            starting_cash: Usdc::from_whole(300),
        }
    }
}

/// Why a call was refused. A refused call changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaperError {
    #[error(transparent)]
    Intent(#[from] IntentError),
    #[error("no book has been seen for token {0}")]
    NoBook(TokenId),
    #[error("client order id {0} is already in use")]
    DuplicateOrder(ClientOrderId),
    #[error("a BUY needing {needed} pUSD with only {available} free")]
    InsufficientCash { needed: Usdc, available: Usdc },
    #[error("a SELL of {needed} shares of {token} with only {available} free")]
    InsufficientShares { token: TokenId, needed: Size, available: Size },
    #[error("no open order {0}")]
    UnknownOrder(ClientOrderId),
    #[error("time {at} is before the venue's time {now}")]
    TimeWentBack { at: TimestampMs, now: TimestampMs },
    #[error(transparent)]
    Book(#[from] BookError),
}

/// A resolution payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    pub token: TokenId,
    /// Shares held at resolution.
    pub shares: Size,
    /// 1 pUSD per share for the winning token, 0 otherwise.
    pub amount: Usdc,
    pub at: TimestampMs,
}

/// What the paper venue reports, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaperEvent {
    Order(OrderUpdate),
    Fill(Fill),
    Payout(Payout),
}

/// Where an order is in its trip to the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Sent, not yet arrived.
    InFlight,
    /// Resting, with this much size ahead of it at its price.
    Resting { ahead: Size },
}

#[derive(Debug, Clone)]
struct PaperOrder {
    intent: OrderIntent,
    order_id: OrderId,
    arrives_at: TimestampMs,
    cancel_at: Option<TimestampMs>,
    stage: Stage,
    filled: Size,
    /// Queue shrinkage from book drops no trade explained (yet), and when the
    /// last such drop was seen.
    unexplained_drop: Size,
    unexplained_at: TimestampMs,
}

impl PaperOrder {
    fn remaining(&self) -> Size {
        self.intent.size - self.filled
    }
}

/// A level of one token's book: (token, book side, price). Book side BUY is
/// the bids, SELL the asks.
type LevelKey = (TokenId, Side, Price);

/// Something due at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Arrival,
    Cancel,
    Expiry,
}

/// The simulated venue. See the module docs for the model.
#[derive(Debug, Clone)]
pub struct PaperVenue {
    config: PaperConfig,
    now: TimestampMs,
    cash: Usdc,
    positions: HashMap<TokenId, Size>,
    books: HashMap<TokenId, OrderBook>,
    /// Open orders in placement order.
    orders: Vec<PaperOrder>,
    /// Size our marketable orders took from a level, not yet seen gone.
    consumed: HashMap<LevelKey, Size>,
    /// Size reported traded at a level, not yet matched by a book drop.
    traded_unseen: HashMap<LevelKey, Size>,
    next_seq: u64,
    fees_paid: Usdc,
}

impl PaperVenue {
    pub fn new(config: PaperConfig) -> PaperVenue {
        PaperVenue {
            cash: config.starting_cash,
            config,
            now: TimestampMs::ZERO,
            positions: HashMap::new(),
            books: HashMap::new(),
            orders: Vec::new(),
            consumed: HashMap::new(),
            traded_unseen: HashMap::new(),
            next_seq: 0,
            fees_paid: Usdc::ZERO,
        }
    }

    pub fn config(&self) -> &PaperConfig {
        &self.config
    }

    /// The venue's time: the latest time it was given.
    pub fn now(&self) -> TimestampMs {
        self.now
    }

    /// Collateral held, including what open BUYs reserve.
    pub fn cash(&self) -> Usdc {
        self.cash
    }

    /// Collateral not reserved by open BUYs.
    pub fn free_cash(&self) -> Usdc {
        self.cash - self.reserved_cash()
    }

    /// Shares of `token` held (after fees withheld in shares).
    pub fn position(&self, token: &TokenId) -> Size {
        self.positions.get(token).copied().unwrap_or(Size::ZERO)
    }

    /// Every non-zero position.
    pub fn positions(&self) -> impl Iterator<Item = (&TokenId, Size)> {
        self.positions.iter().map(|(t, s)| (t, *s))
    }

    /// Fees paid so far, in pUSD (share fees valued at their fill price).
    pub fn fees_paid(&self) -> Usdc {
        self.fees_paid
    }

    /// The book of `token` as the venue sees it.
    pub fn book(&self, token: &TokenId) -> Option<&OrderBook> {
        self.books.get(token)
    }

    /// Size ahead of a resting order; `None` if it is not resting (in flight or
    /// closed).
    pub fn queue_ahead(&self, id: &ClientOrderId) -> Option<Size> {
        match self.find(id)?.stage {
            Stage::Resting { ahead } => Some(ahead),
            Stage::InFlight => None,
        }
    }

    /// Shares filled of an open order; `None` if the order is closed or unknown.
    pub fn open_order_filled(&self, id: &ClientOrderId) -> Option<Size> {
        self.find(id).map(|o| o.filled)
    }

    /// Sends an order at `at`; it reaches the venue at `at + latency_ms`.
    /// Checked now against the token's tick, free cash (BUY, at its limit)
    /// and free shares (SELL).
    pub fn place(&mut self, intent: OrderIntent, at: TimestampMs) -> Result<Vec<PaperEvent>, PaperError> {
        self.check_time(at)?;
        let book = self.books.get(&intent.token).ok_or_else(|| PaperError::NoBook(intent.token.clone()))?;
        intent.validate(book.tick_size())?;
        if self.find(&intent.client_order_id).is_some() {
            return Err(PaperError::DuplicateOrder(intent.client_order_id));
        }
        match intent.side {
            Side::Buy => {
                let needed = Usdc::from_price_size_ceil(intent.limit_price, intent.size);
                let available = self.free_cash();
                if needed > available {
                    return Err(PaperError::InsufficientCash { needed, available });
                }
            }
            Side::Sell => {
                let available = self.free_shares(&intent.token);
                if intent.size > available {
                    return Err(PaperError::InsufficientShares { token: intent.token, needed: intent.size, available });
                }
            }
        }
        let mut out = Vec::new();
        self.run_due(at, true, &mut out);
        self.now = at;
        self.next_seq += 1;
        let order = PaperOrder {
            order_id: paper_order_id(self.next_seq),
            arrives_at: at.plus_millis(i64::from(self.config.latency_ms)),
            cancel_at: None,
            stage: Stage::InFlight,
            filled: Size::ZERO,
            unexplained_drop: Size::ZERO,
            unexplained_at: at,
            intent,
        };
        out.push(PaperEvent::Order(update(&order, OrderStatus::Sent, None, at)));
        self.orders.push(order);
        Ok(out)
    }

    /// Asks to cancel an open order at `at`; the cancel takes effect at
    /// `at + latency_ms`, and the order may fill until then.
    pub fn cancel(&mut self, id: &ClientOrderId, at: TimestampMs) -> Result<Vec<PaperEvent>, PaperError> {
        self.check_time(at)?;
        if self.find(id).is_none() {
            return Err(PaperError::UnknownOrder(id.clone()));
        }
        let mut out = Vec::new();
        self.run_due(at, true, &mut out);
        self.now = at;
        let effective = at.plus_millis(i64::from(self.config.latency_ms));
        // The order may have filled completely while time moved.
        match self.orders.iter_mut().find(|o| &o.intent.client_order_id == id) {
            Some(o) => o.cancel_at = Some(o.cancel_at.map_or(effective, |c| c.min(effective))),
            None => return Ok(out),
        }
        Ok(out)
    }

    /// Moves time to `at`: orders arriving, cancels landing and GTD expiries
    /// due at or before `at` take effect.
    pub fn advance_to(&mut self, at: TimestampMs) -> Result<Vec<PaperEvent>, PaperError> {
        self.check_time(at)?;
        let mut out = Vec::new();
        self.run_due(at, true, &mut out);
        self.now = at;
        Ok(out)
    }

    /// Applies a market event, timed by its `received` time. What was due
    /// before that time happens first.
    pub fn on_market_event(&mut self, event: &MarketEvent) -> Result<Vec<PaperEvent>, PaperError> {
        let at = event.time().received;
        self.check_time(at)?;
        let mut out = Vec::new();
        self.run_due(at, false, &mut out);
        self.now = at;
        match event {
            MarketEvent::Book(snapshot) => self.on_snapshot(snapshot)?,
            MarketEvent::PriceChanges(batch) => {
                for change in &batch.changes {
                    self.on_price_change(change, at)?;
                }
            }
            MarketEvent::LastTrade(trade) => self.on_trade(trade, &mut out),
            MarketEvent::TickSizeChange(change) => {
                if let Some(book) = self.books.get_mut(&change.token) {
                    book.set_tick_size(change.new);
                }
            }
            MarketEvent::MarketResolved(resolved) => self.on_resolved(resolved, &mut out),
            MarketEvent::BestBidAsk(_) | MarketEvent::NewMarket(_) => {}
        }
        Ok(out)
    }

    // ---- time ------------------------------------------------------------

    fn check_time(&self, at: TimestampMs) -> Result<(), PaperError> {
        if at < self.now { Err(PaperError::TimeWentBack { at, now: self.now }) } else { Ok(()) }
    }

    /// Runs every arrival, cancel and expiry due before `until` (or at it, if
    /// `inclusive`), earliest first; ties by placement order, arrivals first.
    fn run_due(&mut self, until: TimestampMs, inclusive: bool, out: &mut Vec<PaperEvent>) {
        loop {
            let mut next: Option<(TimestampMs, usize, Due)> = None;
            for (i, o) in self.orders.iter().enumerate() {
                let candidates = [
                    (o.stage == Stage::InFlight).then_some((o.arrives_at, Due::Arrival)),
                    o.cancel_at.map(|t| (t.max(o.arrives_at), Due::Cancel)),
                    o.intent.expires_at.map(|t| (t.max(o.arrives_at), Due::Expiry)),
                ];
                for (t, due) in candidates.into_iter().flatten() {
                    let in_range = if inclusive { t <= until } else { t < until };
                    if in_range && next.is_none_or(|(nt, _, _)| t < nt) {
                        next = Some((t, i, due));
                    }
                }
            }
            let Some((t, i, due)) = next else { return };
            match due {
                Due::Arrival => self.arrive(i, t, out),
                Due::Cancel => self.close(i, OrderStatus::Cancelled, "cancelled by us", t, out),
                Due::Expiry => self.close(i, OrderStatus::Cancelled, "GTD order expired", t, out),
            }
        }
    }

    // ---- orders ------------------------------------------------------------

    fn find(&self, id: &ClientOrderId) -> Option<&PaperOrder> {
        self.orders.iter().find(|o| &o.intent.client_order_id == id)
    }

    fn reserved_cash(&self) -> Usdc {
        self.orders
            .iter()
            .filter(|o| o.intent.side == Side::Buy)
            .map(|o| Usdc::from_price_size_ceil(o.intent.limit_price, o.remaining()))
            .sum()
    }

    fn free_shares(&self, token: &TokenId) -> Size {
        let reserved: Size = self
            .orders
            .iter()
            .filter(|o| o.intent.side == Side::Sell && &o.intent.token == token)
            .map(PaperOrder::remaining)
            .sum();
        self.position(token).saturating_sub(reserved)
    }

    /// Removes order `i` with a final status.
    fn close(&mut self, i: usize, status: OrderStatus, reason: &str, at: TimestampMs, out: &mut Vec<PaperEvent>) {
        let order = self.orders.remove(i);
        out.push(PaperEvent::Order(update(&order, status, Some(reason), at)));
    }

    /// Order `i` reaches the venue at `at`: it takes what it can, then rests or
    /// is killed.
    fn arrive(&mut self, i: usize, at: TimestampMs, out: &mut Vec<PaperEvent>) {
        let intent = self.orders[i].intent.clone();
        let Some(book) = self.books.get(&intent.token).filter(|b| b.has_snapshot()) else {
            return self.close(i, OrderStatus::Rejected, "no synced book at arrival", at, out);
        };
        let takes = self.takeable(book, &intent);
        let takeable: Size = takes.iter().map(|(_, s)| *s).sum();
        let crosses =
            book.best(intent.side.opposite()).is_some_and(|l| crosses(intent.side, intent.limit_price, l.price));
        let visible_at_limit = book.size_at(intent.side, intent.limit_price).unwrap_or(Size::ZERO);
        if intent.post_only && crosses {
            return self.close(i, OrderStatus::Rejected, "post-only order would take liquidity", at, out);
        }
        if intent.order_type == OrderType::Fok && takeable < intent.size {
            return self.close(i, OrderStatus::Cancelled, "FOK order not fully fillable at arrival", at, out);
        }
        for (price, size) in takes {
            let key = (intent.token.clone(), intent.side.opposite(), price);
            *self.consumed.entry(key).or_insert(Size::ZERO) += size;
            self.fill(i, price, size, Liquidity::Taker, at, out);
        }
        let order = &mut self.orders[i];
        if order.remaining().is_zero() {
            return self.close(i, OrderStatus::Filled, "filled", at, out);
        }
        if !intent.order_type.rests() {
            return self.close(i, OrderStatus::Cancelled, "unfilled remainder of a FAK order killed", at, out);
        }
        let ahead = match self.config.queue {
            QueueModel::BackOfVisible => visible_at_limit,
            QueueModel::Front => Size::ZERO,
        };
        order.stage = Stage::Resting { ahead };
        let status = if order.filled.is_zero() { OrderStatus::Acknowledged } else { OrderStatus::PartiallyFilled };
        out.push(PaperEvent::Order(update(order, status, None, at)));
    }

    /// The (price, size) a marketable order can take now, best level first,
    /// net of what our earlier orders already consumed.
    fn takeable(&self, book: &OrderBook, intent: &OrderIntent) -> Vec<(Price, Size)> {
        let mut remaining = intent.size;
        let mut takes = Vec::new();
        let book_side = intent.side.opposite();
        let levels = book.levels(book_side).take(if self.config.walk_book { usize::MAX } else { 1 });
        for level in levels {
            if remaining.is_zero() || !crosses(intent.side, intent.limit_price, level.price) {
                break;
            }
            let consumed = self.consumed.get(&(intent.token.clone(), book_side, level.price)).copied();
            let available = level.size.saturating_sub(consumed.unwrap_or(Size::ZERO));
            let take = remaining.min(available);
            if !take.is_zero() {
                takes.push((level.price, take));
                remaining -= take;
            }
        }
        takes
    }

    /// Books a fill of order `i`: cash, position, fee, and the `Fill` event.
    fn fill(
        &mut self,
        i: usize,
        price: Price,
        size: Size,
        liquidity: Liquidity,
        at: TimestampMs,
        out: &mut Vec<PaperEvent>,
    ) {
        let fee_model = self.config.fee;
        self.next_seq += 1;
        let trade_id = format!("paper-{}", self.next_seq);
        let order = &mut self.orders[i];
        order.filled += size;
        let token = order.intent.token.clone();
        let side = order.intent.side;
        let fee = match (liquidity, side) {
            (Liquidity::Taker, Side::Buy) => FillFee::Shares(fee_model.taker_fee_shares(price, size)),
            (Liquidity::Taker, Side::Sell) => FillFee::Collateral(fee_model.taker_fee(price, size)),
            (Liquidity::Maker, _) => FillFee::Collateral(fee_model.maker_fee(price, size)),
        };
        let fee = match fee {
            FillFee::Shares(s) if s.is_zero() => FillFee::None,
            FillFee::Collateral(c) if c == Usdc::ZERO => FillFee::None,
            other => other,
        };
        let position = self.positions.entry(token.clone()).or_insert(Size::ZERO);
        match side {
            Side::Buy => {
                self.cash -= Usdc::from_price_size_ceil(price, size);
                *position += size;
            }
            Side::Sell => {
                self.cash += Usdc::from_price_size_floor(price, size);
                *position -= size;
            }
        }
        match fee {
            FillFee::None => {}
            FillFee::Shares(s) => {
                *position -= s;
                self.fees_paid += Usdc::from_price_size_ceil(price, s);
            }
            FillFee::Collateral(c) => {
                self.cash -= c;
                self.fees_paid += c;
            }
        }
        if position.is_zero() {
            self.positions.remove(&token);
        }
        let order = &self.orders[i];
        out.push(PaperEvent::Fill(Fill {
            order_id: order.order_id,
            client_order_id: Some(order.intent.client_order_id.clone()),
            trade_id,
            token,
            side,
            price,
            size,
            fee,
            liquidity,
            time: EventTime { received: at, exchange: at },
        }));
    }

    // ---- market data -------------------------------------------------------

    fn on_snapshot(&mut self, snapshot: &BookSnapshot) -> Result<(), PaperError> {
        let token = snapshot.token.clone();
        // Levels whose change matters to us: where we rest or have consumed.
        let mut watched: Vec<(Side, Price)> = self
            .orders
            .iter()
            .filter(|o| o.intent.token == token && matches!(o.stage, Stage::Resting { .. }))
            .map(|o| (o.intent.side, o.intent.limit_price))
            .chain(self.consumed.keys().filter(|k| k.0 == token).map(|k| (k.1, k.2)))
            .collect();
        watched.sort();
        watched.dedup();
        let tick = snapshot.tick_size.unwrap_or(TickSize::Hundredth);
        let book = self.books.entry(token.clone()).or_insert_with(|| OrderBook::new(token.clone(), tick));
        let before: Vec<Size> = watched.iter().map(|(s, p)| book.size_at(*s, *p).unwrap_or(Size::ZERO)).collect();
        if let Err(e) = book.apply_book(snapshot) {
            if !book.has_snapshot() {
                self.books.remove(&token);
            }
            return Err(e.into());
        }
        let after: Vec<Size> = watched.iter().map(|(s, p)| book.size_at(*s, *p).unwrap_or(Size::ZERO)).collect();
        for (((side, price), old), new) in watched.into_iter().zip(before).zip(after) {
            self.on_level_change(&token, side, price, old, new, snapshot.time.received);
        }
        Ok(())
    }

    fn on_price_change(&mut self, change: &PriceChange, at: TimestampMs) -> Result<(), PaperError> {
        let book = self.books.get_mut(&change.token).ok_or_else(|| PaperError::NoBook(change.token.clone()))?;
        let old = book.size_at(change.side, change.price).unwrap_or(Size::ZERO);
        book.apply_price_change(change, at)?;
        let new = book.size_at(change.side, change.price).unwrap_or(Size::ZERO);
        self.on_level_change(&change.token, change.side, change.price, old, new, at);
        Ok(())
    }

    /// A level went from `old` to `new` visible size.
    fn on_level_change(&mut self, token: &TokenId, side: Side, price: Price, old: Size, new: Size, at: TimestampMs) {
        let key = (token.clone(), side, price);
        // What we took stays taken until the book shows that much gone.
        if let Some(c) = self.consumed.get_mut(&key) {
            *c = (*c).min(new);
            if c.is_zero() {
                self.consumed.remove(&key);
            }
        }
        if new >= old {
            return;
        }
        let drop = old - new;
        let credit = self.traded_unseen.get(&key).copied().unwrap_or(Size::ZERO);
        let traded = drop.min(credit);
        let cancelled = drop - traded;
        let credit_left = credit - traded;
        if credit_left.is_zero() || new.is_zero() {
            self.traded_unseen.remove(&key);
        } else {
            self.traded_unseen.insert(key, credit_left);
        }
        for o in self.orders.iter_mut().filter(|o| &o.intent.token == token && o.intent.side == side) {
            if o.intent.limit_price != price {
                continue;
            }
            if let Stage::Resting { ahead } = &mut o.stage
                && *ahead > new
            {
                // Cancels are assumed behind us, but the queue ahead cannot be
                // larger than what is visible.
                let shrink = *ahead - new;
                *ahead = new;
                // The part of the shrink no reported trade explains may be a
                // trade whose report is still coming: remember it, so that
                // report does not move us forward twice.
                let unexplained = shrink.min(cancelled);
                if !unexplained.is_zero() {
                    o.unexplained_drop += unexplained;
                    o.unexplained_at = at;
                }
            }
        }
    }

    fn on_trade(&mut self, trade: &LastTrade, out: &mut Vec<PaperEvent>) {
        let at = trade.time.received;
        let maker_side = trade.side.opposite();
        let key = (trade.token.clone(), maker_side, trade.price);
        *self.traded_unseen.entry(key).or_insert(Size::ZERO) += trade.size;
        let lag = i64::from(self.config.trade_report_lag_ms);
        // Trade size not yet given to our earlier orders at this price.
        let mut left = trade.size;
        let mut i = 0;
        while i < self.orders.len() {
            let o = &mut self.orders[i];
            let Stage::Resting { ahead } = o.stage else {
                i += 1;
                continue;
            };
            if o.intent.token != trade.token || o.intent.side != maker_side {
                i += 1;
                continue;
            }
            let limit = o.intent.limit_price;
            let through = match maker_side {
                Side::Buy => trade.price < limit,
                Side::Sell => trade.price > limit,
            };
            let fill = if through {
                o.stage = Stage::Resting { ahead: Size::ZERO };
                o.remaining()
            } else if trade.price == limit {
                let mut size = left;
                if !o.unexplained_drop.is_zero() {
                    if at.millis_since(o.unexplained_at) <= lag {
                        let explained = size.min(o.unexplained_drop);
                        o.unexplained_drop -= explained;
                        size -= explained;
                    } else {
                        o.unexplained_drop = Size::ZERO;
                    }
                }
                let eaten = size.min(ahead);
                o.stage = Stage::Resting { ahead: ahead - eaten };
                (size - eaten).min(o.remaining())
            } else {
                Size::ZERO
            };
            if fill.is_zero() {
                i += 1;
                continue;
            }
            if !through {
                left -= fill;
            }
            self.fill(i, limit, fill, Liquidity::Maker, at, out);
            let o = &self.orders[i];
            if o.remaining().is_zero() {
                self.close(i, OrderStatus::Filled, "filled", at, out);
            } else {
                out.push(PaperEvent::Order(update(o, OrderStatus::PartiallyFilled, None, at)));
                i += 1;
            }
        }
    }

    fn on_resolved(&mut self, resolved: &MarketResolved, out: &mut Vec<PaperEvent>) {
        let at = resolved.time.received;
        let mut i = 0;
        while i < self.orders.len() {
            if resolved.tokens.contains(&self.orders[i].intent.token) {
                self.close(i, OrderStatus::Cancelled, "market resolved", at, out);
            } else {
                i += 1;
            }
        }
        for token in &resolved.tokens {
            let Some(shares) = self.positions.remove(token) else { continue };
            let amount = if *token == resolved.winning_token {
                Usdc::from_micros(i64::try_from(shares.micros()).expect("a position fits in i64 micro-shares"))
            } else {
                Usdc::ZERO
            };
            self.cash += amount;
            out.push(PaperEvent::Payout(Payout { token: token.clone(), shares, amount, at }));
        }
    }
}

/// Whether a `side` order limited at `limit` trades with a level at `level`.
fn crosses(side: Side, limit: Price, level: Price) -> bool {
    match side {
        Side::Buy => level <= limit,
        Side::Sell => level >= limit,
    }
}

fn update(order: &PaperOrder, status: OrderStatus, reason: Option<&str>, at: TimestampMs) -> OrderUpdate {
    OrderUpdate {
        client_order_id: order.intent.client_order_id.clone(),
        order_id: Some(order.order_id),
        status,
        filled: order.filled,
        reason: reason.map(str::to_owned),
        at,
    }
}

/// A paper order id: "paper" marker bytes and a sequence number, so it can
/// never be mistaken for a real EIP-712 hash in a journal.
fn paper_order_id(seq: u64) -> OrderId {
    let mut bytes = [0u8; 32];
    bytes[..5].copy_from_slice(b"paper");
    bytes[24..].copy_from_slice(&seq.to_be_bytes());
    Hash32(bytes)
}
