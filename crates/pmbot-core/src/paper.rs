//! The paper venue: our orders filled against the real book, as they would
//! have been, erring against us where the data cannot tell.
//!
//! Invariants:
//! - the venue keeps no money: the account's one owner (the run's ledger)
//!   gives its cash and the order's token's shares with each order
//!   ([`Funds`]); the venue checks them against what its open orders
//!   reserve, and reports each fill (price, size, fee) for the owner to book;
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
//! - Fees by each market's own [`FeeModel`] ([`PaperVenue::set_fee`]; an
//!   order for a token without one is refused): taker fills pay the taker
//!   fee in pUSD, a BUY on top of `price x size` (it receives every share), a
//!   SELL out of its proceeds; maker fills pay the maker fee (zero on CLOB
//!   V2). That is CLOB V2's rule (see [`crate::fees`]).
//! - A BUY reserves `limit x remaining` pUSD plus its taker fee at the limit
//!   (unless post-only), a SELL its remaining shares, while open (no short
//!   selling: outcome tokens are sold only when held).
//! - Resolution cancels open orders on the market's tokens (what it pays is
//!   the owner's to book: 1 pUSD per winning share once redeemed).

use rustc_hash::FxHashMap as HashMap;

use serde::{Deserialize, Serialize};

use crate::amount::{Size, Usdc};
use crate::book::{BookError, OrderBook};
use crate::clock::TimestampMs;
use crate::events::{
    BookSnapshot, ClientOrderId, EventTime, Fill, IntentError, LastTrade, Liquidity, MarketEvent, MarketResolved,
    OrderIntent, OrderStatus, OrderType, OrderUpdate, PriceChange,
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
    #[error("no fee schedule was given for token {0}")]
    NoFeeSchedule(TokenId),
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

/// What the account holds when an order is placed, as its owner (the run's
/// ledger) says: all of its collateral (open BUYs' reservations included)
/// and its shares of the order's token. The venue keeps no money of its own,
/// so there is one account, not two to keep in agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funds {
    pub cash: Usdc,
    pub shares: Size,
}

/// What the paper venue reports, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaperEvent {
    Order(OrderUpdate),
    Fill(Fill),
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
    books: HashMap<TokenId, OrderBook>,
    /// Each token's market fee schedule.
    fees: HashMap<TokenId, FeeModel>,
    /// Open orders in placement order.
    orders: Vec<PaperOrder>,
    /// Size our marketable orders took from a level, not yet seen gone.
    consumed: HashMap<LevelKey, Size>,
    /// Size reported traded at a level, not yet matched by a book drop.
    traded_unseen: HashMap<LevelKey, Size>,
    next_seq: u64,
    /// Part of every paper order and trade id, so several runs can share
    /// one journal without their ids colliding.
    id_space: u32,
}

impl PaperVenue {
    pub fn new(config: PaperConfig) -> PaperVenue {
        PaperVenue {
            config,
            now: TimestampMs::ZERO,
            books: HashMap::default(),
            fees: HashMap::default(),
            orders: Vec::new(),
            consumed: HashMap::default(),
            traded_unseen: HashMap::default(),
            next_seq: 0,
            id_space: 0,
        }
    }

    /// The same venue, with its order and trade ids in `space` (the engine
    /// passes its run number).
    pub fn with_id_space(mut self, space: u32) -> PaperVenue {
        self.id_space = space;
        self
    }

    pub fn config(&self) -> &PaperConfig {
        &self.config
    }

    /// Sets the fee schedule of `token`'s market (its `fd`): every fill of
    /// the token pays by it.
    pub fn set_fee(&mut self, token: TokenId, fee: FeeModel) {
        self.fees.insert(token, fee);
    }

    /// The venue's time: the latest time it was given.
    pub fn now(&self) -> TimestampMs {
        self.now
    }

    /// What open BUYs reserve: each one's remaining `limit x size` plus its
    /// taker fee at the limit (unless post-only).
    pub fn reserved_cash(&self) -> Usdc {
        self.orders
            .iter()
            .filter(|o| o.intent.side == Side::Buy)
            .map(|o| {
                self.fee_of(&o.intent.token).max_buy_cost(o.intent.limit_price, o.remaining(), o.intent.may_take())
            })
            .sum()
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

    /// The id the next order placed will get (so a journal can record the
    /// order before it is placed).
    pub fn next_order_id(&self) -> OrderId {
        paper_order_id(self.id_space, self.next_seq + 1)
    }

    /// Sends an order at `at`; it reaches the venue at `at + latency_ms`.
    /// Checked now against the token's tick and the exchange's amount rules,
    /// and the account's `funds` less what open orders reserve: free cash
    /// (BUY, at its limit with its fee) and free shares (SELL).
    pub fn place(&mut self, intent: OrderIntent, at: TimestampMs, funds: Funds) -> Result<Vec<PaperEvent>, PaperError> {
        self.check_time(at)?;
        let book = self.books.get(&intent.token).ok_or_else(|| PaperError::NoBook(intent.token.clone()))?;
        intent.validate(book.tick_size())?;
        let fee = *self.fees.get(&intent.token).ok_or_else(|| PaperError::NoFeeSchedule(intent.token.clone()))?;
        if self.find(&intent.client_order_id).is_some() {
            return Err(PaperError::DuplicateOrder(intent.client_order_id));
        }
        match intent.side {
            Side::Buy => {
                let needed = fee.max_buy_cost(intent.limit_price, intent.size, intent.may_take());
                let available = funds.cash - self.reserved_cash();
                if needed > available {
                    return Err(PaperError::InsufficientCash { needed, available });
                }
            }
            Side::Sell => {
                let available = self.free_shares(&intent.token, funds.shares);
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
            order_id: paper_order_id(self.id_space, self.next_seq),
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
    /// before that time happens first. A refused book update (off the tick
    /// grid, say) is reported as an error; in a `price_change` batch the
    /// changes before it stay applied, as they would in the engine's own book.
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

    /// The schedule of a token an order was placed for (checked at placing).
    fn fee_of(&self, token: &TokenId) -> FeeModel {
        *self.fees.get(token).expect("an order's token has a fee schedule: place checked it")
    }

    /// Of `held` shares of `token`, those no open SELL reserves.
    fn free_shares(&self, token: &TokenId, held: Size) -> Size {
        let reserved: Size = self
            .orders
            .iter()
            .filter(|o| o.intent.side == Side::Sell && &o.intent.token == token)
            .map(PaperOrder::remaining)
            .sum();
        held.saturating_sub(reserved)
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
        if intent.expires_at.is_some_and(|e| e <= at) {
            return self.close(i, OrderStatus::Rejected, "GTD order expired before it arrived", at, out);
        }
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

    /// A fill of order `i`: its filled size, and the `Fill` event (price,
    /// size and fee, for the account's owner to book).
    fn fill(
        &mut self,
        i: usize,
        price: Price,
        size: Size,
        liquidity: Liquidity,
        at: TimestampMs,
        out: &mut Vec<PaperEvent>,
    ) {
        let fee_model = self.fee_of(&self.orders[i].intent.token);
        self.next_seq += 1;
        let trade_id = format!("paper-{}-{}", self.id_space, self.next_seq);
        let order = &mut self.orders[i];
        order.filled += size;
        let token = order.intent.token.clone();
        let side = order.intent.side;
        let fee = match liquidity {
            Liquidity::Taker => fee_model.taker_fee(price, size),
            Liquidity::Maker => fee_model.maker_fee(price, size),
        };
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

    /// Applies one level update. Tokens whose book the venue has not been
    /// given are skipped: a `price_change` frame carries both tokens of a
    /// market, and the venue only follows the books it was fed.
    fn on_price_change(&mut self, change: &PriceChange, at: TimestampMs) -> Result<(), PaperError> {
        let Some(book) = self.books.get_mut(&change.token) else { return Ok(()) };
        let old = book.size_at(change.side, change.price).unwrap_or(Size::ZERO);
        book.apply_price_change(change, at)?;
        let new = book.size_at(change.side, change.price).unwrap_or(Size::ZERO);
        self.on_level_change(&change.token, change.side, change.price, old, new, at);
        Ok(())
    }

    /// A level went from `old` to `new` visible size.
    fn on_level_change(&mut self, token: &TokenId, side: Side, price: Price, old: Size, new: Size, at: TimestampMs) {
        // Almost every level change is someone else's and touches none of
        // this: the empty-map checks keep it from hashing the token id.
        let key = (token.clone(), side, price);
        // What we took stays taken until the book shows that much gone.
        if !self.consumed.is_empty()
            && let Some(c) = self.consumed.get_mut(&key)
        {
            *c = (*c).min(new);
            if c.is_zero() {
                self.consumed.remove(&key);
            }
        }
        if new >= old {
            return;
        }
        let drop = old - new;
        let credit = if self.traded_unseen.is_empty() {
            Size::ZERO
        } else {
            self.traded_unseen.get(&key).copied().unwrap_or(Size::ZERO)
        };
        let traded = drop.min(credit);
        let cancelled = drop - traded;
        let credit_left = credit - traded;
        if credit_left.is_zero() || new.is_zero() {
            if !credit.is_zero() {
                self.traded_unseen.remove(&key);
            }
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

/// A paper order id: "paper" marker bytes, the id space and a sequence
/// number, so it can never be mistaken for a real EIP-712 hash in a journal.
fn paper_order_id(space: u32, seq: u64) -> OrderId {
    let mut bytes = [0u8; 32];
    bytes[..5].copy_from_slice(b"paper");
    bytes[8..12].copy_from_slice(&space.to_be_bytes());
    bytes[24..].copy_from_slice(&seq.to_be_bytes());
    Hash32(bytes)
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::events::{DecisionContext, PriceChangeBatch};
    use crate::ids::ConditionId;
    use crate::level::Level;

    const YES: &str = "1001";
    const NO: &str = "1002";

    fn token(s: &str) -> TokenId {
        TokenId::parse(s).unwrap()
    }

    fn market() -> ConditionId {
        Hash32([7; 32])
    }

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn sz(s: &str) -> Size {
        Size::parse(s).unwrap()
    }

    fn usdc(s: &str) -> Usdc {
        Usdc::parse(s).unwrap()
    }

    fn t(ms: i64) -> TimestampMs {
        TimestampMs(ms)
    }

    fn time(ms: i64) -> EventTime {
        EventTime { received: t(ms), exchange: t(ms) }
    }

    fn levels(ls: &[(&str, &str)]) -> Vec<Level> {
        ls.iter().map(|(pr, s)| Level::new(p(pr), sz(s))).collect()
    }

    fn snapshot(tok: &str, bids: &[(&str, &str)], asks: &[(&str, &str)], ms: i64) -> MarketEvent {
        MarketEvent::Book(BookSnapshot {
            token: token(tok),
            market: market(),
            bids: levels(bids),
            asks: levels(asks),
            tick_size: Some(TickSize::Hundredth),
            last_trade_price: None,
            hash: None,
            time: time(ms),
        })
    }

    /// One level update: `side` BUY is a bid level, SELL an ask level.
    fn change(tok: &str, side: Side, price: &str, size: &str, ms: i64) -> MarketEvent {
        MarketEvent::PriceChanges(PriceChangeBatch {
            market: market(),
            changes: vec![PriceChange {
                token: token(tok),
                side,
                price: p(price),
                size: sz(size),
                best_bid: None,
                best_ask: None,
                hash: None,
            }],
            time: time(ms),
        })
    }

    /// A trade printed with `taker` as the taker's side.
    fn trade(tok: &str, taker: Side, price: &str, size: &str, ms: i64) -> MarketEvent {
        MarketEvent::LastTrade(LastTrade {
            token: token(tok),
            market: market(),
            price: p(price),
            side: taker,
            size: sz(size),
            fee_rate_bps: 0,
            time: time(ms),
        })
    }

    fn intent(id: &str, tok: &str, side: Side, price: &str, size: &str, order_type: OrderType) -> OrderIntent {
        OrderIntent {
            client_order_id: ClientOrderId::new(id).unwrap(),
            token: token(tok),
            side,
            limit_price: p(price),
            size: sz(size),
            order_type,
            post_only: false,
            expires_at: None,
            decision: DecisionContext::default(),
        }
    }

    fn cid(id: &str) -> ClientOrderId {
        ClientOrderId::new(id).unwrap()
    }

    /// The venue with its account's owner, as a run has them: each order is
    /// placed with what the account holds, and each reported fill is booked
    /// as the run's ledger books it (a BUY's cost rounded up, a SELL's
    /// proceeds down, the fee in pUSD on both sides).
    struct Paper {
        venue: PaperVenue,
        cash: Usdc,
        shares: HashMap<TokenId, Size>,
        fees: Usdc,
    }

    impl std::ops::Deref for Paper {
        type Target = PaperVenue;
        fn deref(&self) -> &PaperVenue {
            &self.venue
        }
    }

    impl Paper {
        fn new(venue: PaperVenue) -> Paper {
            Paper { venue, cash: usdc("300"), shares: HashMap::default(), fees: Usdc::ZERO }
        }

        fn set_fee(&mut self, token: TokenId, fee: FeeModel) {
            self.venue.set_fee(token, fee);
        }

        fn place(&mut self, intent: OrderIntent, at: TimestampMs) -> Result<Vec<PaperEvent>, PaperError> {
            let funds = Funds { cash: self.cash, shares: self.position(&intent.token) };
            let out = self.venue.place(intent, at, funds)?;
            Ok(self.book_fills(out))
        }

        fn cancel(&mut self, id: &ClientOrderId, at: TimestampMs) -> Result<Vec<PaperEvent>, PaperError> {
            let out = self.venue.cancel(id, at)?;
            Ok(self.book_fills(out))
        }

        fn advance_to(&mut self, at: TimestampMs) -> Result<Vec<PaperEvent>, PaperError> {
            let out = self.venue.advance_to(at)?;
            Ok(self.book_fills(out))
        }

        fn on_market_event(&mut self, event: &MarketEvent) -> Result<Vec<PaperEvent>, PaperError> {
            let out = self.venue.on_market_event(event)?;
            Ok(self.book_fills(out))
        }

        fn book_fills(&mut self, events: Vec<PaperEvent>) -> Vec<PaperEvent> {
            for f in fills(&events) {
                let held = self.shares.entry(f.token.clone()).or_insert(Size::ZERO);
                match f.side {
                    Side::Buy => {
                        self.cash -= Usdc::from_price_size_ceil(f.price, f.size);
                        *held += f.size;
                    }
                    Side::Sell => {
                        self.cash += Usdc::from_price_size_floor(f.price, f.size);
                        *held -= f.size;
                    }
                }
                self.cash -= f.fee;
                self.fees += f.fee;
            }
            events
        }

        fn cash(&self) -> Usdc {
            self.cash
        }

        fn free_cash(&self) -> Usdc {
            self.cash - self.venue.reserved_cash()
        }

        fn position(&self, token: &TokenId) -> Size {
            self.shares.get(token).copied().unwrap_or(Size::ZERO)
        }

        fn fees_paid(&self) -> Usdc {
            self.fees
        }
    }

    /// A venue whose two tokens pay crypto fees (0.07, taker only).
    fn new_venue(config: PaperConfig) -> Paper {
        let mut v = Paper::new(PaperVenue::new(config));
        v.set_fee(token(YES), FeeModel::crypto());
        v.set_fee(token(NO), FeeModel::crypto());
        v
    }

    fn venue() -> Paper {
        new_venue(PaperConfig { latency_ms: 100, ..PaperConfig::default() })
    }

    fn fills(events: &[PaperEvent]) -> Vec<&Fill> {
        events
            .iter()
            .filter_map(|e| match e {
                PaperEvent::Fill(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    fn statuses(events: &[PaperEvent]) -> Vec<(OrderStatus, Size)> {
        events
            .iter()
            .filter_map(|e| match e {
                PaperEvent::Order(u) => Some((u.status, u.filled)),
                _ => None,
            })
            .collect()
    }

    fn feed(v: &mut Paper, e: MarketEvent) -> Vec<PaperEvent> {
        v.on_market_event(&e).unwrap()
    }

    /// A venue with a YES book (bid 0.50 x 100, ask 0.52 x 100) and a resting
    /// GTC BUY of 10 at 0.50 behind the 100 shares bid there.
    fn resting_bid_behind_100() -> Paper {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.50", "100")], &[("0.52", "100")], 0));
        v.place(intent("b1", YES, Side::Buy, "0.50", "10", OrderType::Gtc), t(10)).unwrap();
        let out = v.advance_to(t(110)).unwrap();
        assert_eq!(statuses(&out), vec![(OrderStatus::Acknowledged, Size::ZERO)]);
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("100")));
        v
    }

    #[test]
    fn limit_order_behind_100_shares_does_not_fill_when_only_50_trade() {
        let mut v = resting_bid_behind_100();
        let out = feed(&mut v, trade(YES, Side::Sell, "0.50", "50", 200));
        assert!(fills(&out).is_empty());
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("50")));
        // The book shows the traded size gone: the queue is not moved twice.
        feed(&mut v, change(YES, Side::Buy, "0.50", "50", 210));
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("50")));
        assert_eq!(v.position(&token(YES)), Size::ZERO);
        // The next 50 empty the queue exactly, still no fill; 4 more fill us.
        assert!(fills(&feed(&mut v, trade(YES, Side::Sell, "0.50", "50", 300))).is_empty());
        let out = feed(&mut v, trade(YES, Side::Sell, "0.50", "4", 400));
        let f = fills(&out);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].price, f[0].size, f[0].liquidity), (p("0.50"), sz("4"), Liquidity::Maker));
    }

    #[test]
    fn a_trade_at_another_price_or_from_the_same_side_does_not_move_the_queue() {
        let mut v = resting_bid_behind_100();
        feed(&mut v, trade(YES, Side::Sell, "0.51", "500", 200));
        feed(&mut v, trade(YES, Side::Buy, "0.50", "500", 300));
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("100")));
    }

    #[test]
    fn cancels_by_others_behind_it_do_not_move_it_forward_cancels_ahead_of_it_do() {
        let mut v = resting_bid_behind_100();
        // Others join behind us, then cancel as much: we stay 100 back.
        feed(&mut v, change(YES, Side::Buy, "0.50", "150", 200));
        feed(&mut v, change(YES, Side::Buy, "0.50", "100", 300));
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("100")));
        // The level falls below what was ahead of us: those cancels were ahead.
        feed(&mut v, change(YES, Side::Buy, "0.50", "70", 400));
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("70")));
        // Well after any trade report could explain the drop, 70 traded still
        // leaves us unfilled and the 71st share is ours.
        assert!(fills(&feed(&mut v, trade(YES, Side::Sell, "0.50", "70", 5_000))).is_empty());
        let out = feed(&mut v, trade(YES, Side::Sell, "0.50", "1", 5_100));
        assert_eq!(fills(&out)[0].size, sz("1"));
    }

    #[test]
    fn a_book_drop_reported_as_a_trade_just_after_does_not_move_the_queue_twice() {
        let mut v = resting_bid_behind_100();
        // The book drop arrives before the trade that caused it.
        feed(&mut v, change(YES, Side::Buy, "0.50", "40", 200));
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("40")));
        let out = feed(&mut v, trade(YES, Side::Sell, "0.50", "60", 250));
        assert!(fills(&out).is_empty());
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("40")));
    }

    #[test]
    fn a_price_change_for_a_token_without_a_book_is_skipped() {
        let mut v = resting_bid_behind_100();
        feed(&mut v, change(NO, Side::Buy, "0.50", "5", 200));
        assert!(v.book(&token(NO)).is_none());
        feed(&mut v, change(YES, Side::Buy, "0.50", "60", 300));
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("60")));
    }

    #[test]
    fn one_trade_fills_our_orders_at_one_price_once_in_arrival_order() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.49", "100")], &[("0.52", "100")], 0));
        v.place(intent("first", YES, Side::Buy, "0.50", "4", OrderType::Gtc), t(0)).unwrap();
        v.place(intent("second", YES, Side::Buy, "0.50", "4", OrderType::Gtc), t(10)).unwrap();
        v.advance_to(t(200)).unwrap();
        let out = feed(&mut v, trade(YES, Side::Sell, "0.50", "5", 300));
        let got: Vec<(Option<ClientOrderId>, Size)> =
            fills(&out).iter().map(|f| (f.client_order_id.clone(), f.size)).collect();
        assert_eq!(got, vec![(Some(cid("first")), sz("4")), (Some(cid("second")), sz("1"))]);
        assert_eq!(v.position(&token(YES)), sz("5"));
    }

    #[test]
    fn a_trade_through_our_price_fills_the_whole_remainder_at_our_price() {
        let mut v = resting_bid_behind_100();
        let out = feed(&mut v, trade(YES, Side::Sell, "0.49", "1", 200));
        let f = fills(&out);
        assert_eq!((f[0].price, f[0].size), (p("0.50"), sz("10")));
        assert_eq!(statuses(&out), vec![(OrderStatus::Filled, sz("10"))]);
        assert_eq!(v.open_order_filled(&cid("b1")), None);
    }

    #[test]
    fn a_market_order_larger_than_the_top_level_pays_the_worse_levels() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.30", "50")], &[("0.40", "10"), ("0.42", "10"), ("0.45", "100")], 0));
        v.place(intent("m1", YES, Side::Buy, "0.45", "25", OrderType::Fak), t(0)).unwrap();
        let out = v.advance_to(t(100)).unwrap();
        let f = fills(&out);
        let taken: Vec<(Price, Size)> = f.iter().map(|f| (f.price, f.size)).collect();
        assert_eq!(taken, vec![(p("0.40"), sz("10")), (p("0.42"), sz("10")), (p("0.45"), sz("5"))]);
        assert!(f.iter().all(|f| f.liquidity == Liquidity::Taker));
        // Average 10.45 / 25 = 0.418 exactly.
        let notional: Usdc = f.iter().map(|f| Usdc::from_price_size_ceil(f.price, f.size)).sum();
        assert_eq!(notional, usdc("10.45"));
        assert_eq!(notional.to_decimal() / Decimal::from(25), Decimal::new(418, 3));
        // Fees 0.07 x p(1-p) per share, paid in pUSD on top: 0.168, 0.17052,
        // 0.08662 (0.086625 rounded down). Every share bought is held.
        let fees: Vec<Usdc> = f.iter().map(|f| f.fee).collect();
        assert_eq!(fees, vec![usdc("0.168"), usdc("0.17052"), usdc("0.08662")]);
        assert_eq!(v.position(&token(YES)), sz("25"));
        // 300 - 10.45 - 0.42514.
        assert_eq!(v.cash(), usdc("289.12486"));
        assert_eq!(v.fees_paid(), usdc("0.42514"));
        assert_eq!(statuses(&out), vec![(OrderStatus::Filled, sz("25"))]);
    }

    #[test]
    fn both_sides_pay_their_taker_fee_in_collateral() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.60", "100")], &[("0.40", "100")], 0));
        v.place(intent("b", YES, Side::Buy, "0.40", "10", OrderType::Fak), t(0)).unwrap();
        v.place(intent("s", YES, Side::Sell, "0.60", "5", OrderType::Fak), t(200)).unwrap_err();
        v.advance_to(t(150)).unwrap();
        // The buyer holds all 10 shares and paid 4 + 0.07 x 0.4 x 0.6 x 10.
        assert_eq!(v.position(&token(YES)), sz("10"));
        assert_eq!(v.cash(), usdc("300") - usdc("4") - usdc("0.168"));
        let cash = v.cash();
        v.place(intent("s", YES, Side::Sell, "0.60", "5", OrderType::Fak), t(200)).unwrap();
        let out = v.advance_to(t(300)).unwrap();
        // 0.07 x 0.6 x 0.4 x 5 = 0.084 pUSD.
        assert_eq!(fills(&out)[0].fee, usdc("0.084"));
        assert_eq!(v.cash(), cash + usdc("3") - usdc("0.084"));
        assert_eq!(v.position(&token(YES)), sz("5"));
    }

    #[test]
    fn without_walking_the_book_only_the_best_level_fills() {
        let mut v = new_venue(PaperConfig { latency_ms: 0, walk_book: false, ..PaperConfig::default() });
        feed(&mut v, snapshot(YES, &[], &[("0.40", "10"), ("0.42", "10")], 0));
        v.place(intent("m", YES, Side::Buy, "0.45", "25", OrderType::Fak), t(0)).unwrap();
        let out = v.advance_to(t(0)).unwrap();
        assert_eq!(fills(&out).len(), 1);
        assert_eq!(statuses(&out), vec![(OrderStatus::Cancelled, sz("10"))]);
    }

    #[test]
    fn liquidity_that_a_trade_already_took_is_not_filled_again() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.30", "50")], &[("0.40", "10")], 0));
        v.place(intent("a", YES, Side::Buy, "0.40", "10", OrderType::Fak), t(0)).unwrap();
        assert_eq!(fills(&v.advance_to(t(100)).unwrap()).len(), 1);
        // The real book still shows the 10 we took: a second order gets none.
        v.place(intent("b", YES, Side::Buy, "0.40", "10", OrderType::Fak), t(200)).unwrap();
        let out = v.advance_to(t(300)).unwrap();
        assert!(fills(&out).is_empty());
        assert_eq!(statuses(&out), vec![(OrderStatus::Cancelled, Size::ZERO)]);
        // Others take 6 of it: what remains visible is still what we took.
        feed(&mut v, change(YES, Side::Sell, "0.40", "4", 400));
        v.place(intent("c", YES, Side::Buy, "0.40", "10", OrderType::Fak), t(400)).unwrap();
        assert!(fills(&v.advance_to(t(500)).unwrap()).is_empty());
        // The level empties, and new size arrives: that one is fillable.
        feed(&mut v, change(YES, Side::Sell, "0.40", "0", 600));
        feed(&mut v, change(YES, Side::Sell, "0.40", "8", 700));
        v.place(intent("d", YES, Side::Buy, "0.40", "10", OrderType::Fak), t(800)).unwrap();
        let out = v.advance_to(t(900)).unwrap();
        assert_eq!(fills(&out)[0].size, sz("8"));
        assert_eq!(v.position(&token(YES)), sz("18"));
    }

    #[test]
    fn a_partial_fill_changes_position_and_cash_at_once() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.49", "100")], &[("0.52", "100")], 0));
        v.place(intent("b", YES, Side::Buy, "0.50", "10", OrderType::Gtc), t(0)).unwrap();
        v.advance_to(t(100)).unwrap();
        // Nothing visible at 0.50 when we arrived: nothing ahead. Reserved:
        // 10 x 0.50 and the taker fee it could pay (not post-only), 0.175.
        assert_eq!(v.queue_ahead(&cid("b")), Some(Size::ZERO));
        assert_eq!(v.free_cash(), usdc("294.825"));
        let out = feed(&mut v, trade(YES, Side::Sell, "0.50", "4", 200));
        assert_eq!(fills(&out)[0].fee, Usdc::ZERO);
        assert_eq!(statuses(&out), vec![(OrderStatus::PartiallyFilled, sz("4"))]);
        assert_eq!(v.position(&token(YES)), sz("4"));
        assert_eq!(v.cash(), usdc("298"));
        // 6 shares still reserved at 0.50, with their fee (0.105); the maker
        // fill paid none.
        assert_eq!(v.free_cash(), usdc("294.895"));
        assert_eq!(v.open_order_filled(&cid("b")), Some(sz("4")));
    }

    #[test]
    fn a_resting_order_can_end_unfilled() {
        let mut v = resting_bid_behind_100();
        feed(&mut v, trade(YES, Side::Sell, "0.50", "60", 200));
        // Our cancel travels for 100 ms; the order is open until it lands.
        v.cancel(&cid("b1"), t(300)).unwrap();
        assert_eq!(v.queue_ahead(&cid("b1")), Some(sz("40")));
        let out = v.advance_to(t(400)).unwrap();
        assert_eq!(statuses(&out), vec![(OrderStatus::Cancelled, Size::ZERO)]);
        assert_eq!((v.cash(), v.free_cash()), (usdc("300"), usdc("300")));
        assert_eq!(v.cancel(&cid("b1"), t(500)), Err(PaperError::UnknownOrder(cid("b1"))));

        // Market end: resolution cancels what still rests.
        let mut v = resting_bid_behind_100();
        let out = feed(
            &mut v,
            MarketEvent::MarketResolved(MarketResolved {
                market: market(),
                tokens: vec![token(YES), token(NO)],
                winning_token: token(YES),
                winning_outcome: "Yes".into(),
                time: time(1_000),
            }),
        );
        assert_eq!(statuses(&out), vec![(OrderStatus::Cancelled, Size::ZERO)]);
        assert!(fills(&out).is_empty());
        assert_eq!(v.cash(), usdc("300"));
    }

    #[test]
    fn a_gtd_order_expires_unfilled() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.50", "100")], &[("0.52", "100")], 0));
        let mut gtd = intent("g", YES, Side::Buy, "0.50", "10", OrderType::Gtd);
        gtd.expires_at = Some(t(1_000));
        v.place(gtd, t(0)).unwrap();
        assert_eq!(statuses(&v.advance_to(t(999)).unwrap()), vec![(OrderStatus::Acknowledged, Size::ZERO)]);
        let out = v.advance_to(t(1_000)).unwrap();
        assert_eq!(statuses(&out), vec![(OrderStatus::Cancelled, Size::ZERO)]);
    }

    #[test]
    fn a_gtd_order_that_expires_in_flight_never_trades() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.50", "100")], &[("0.52", "100")], 0));
        let mut gtd = intent("g", YES, Side::Buy, "0.52", "10", OrderType::Gtd);
        gtd.expires_at = Some(t(50));
        v.place(gtd, t(0)).unwrap();
        let out = v.advance_to(t(100)).unwrap();
        assert!(fills(&out).is_empty());
        assert_eq!(statuses(&out), vec![(OrderStatus::Rejected, Size::ZERO)]);
    }

    #[test]
    fn latency_the_book_at_arrival_not_at_decision_is_what_fills() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.30", "50")], &[("0.40", "10")], 0));
        v.place(intent("m", YES, Side::Buy, "0.45", "10", OrderType::Fak), t(1_000)).unwrap();
        // Within the 100 ms the order travels, the 0.40 ask goes and 0.44 comes.
        feed(&mut v, change(YES, Side::Sell, "0.40", "0", 1_050));
        feed(&mut v, change(YES, Side::Sell, "0.44", "10", 1_100));
        // An event after the arrival time first lets the order arrive.
        let out = feed(&mut v, change(YES, Side::Sell, "0.44", "0", 1_101));
        let f = fills(&out);
        assert_eq!((f[0].price, f[0].size, f[0].time.received), (p("0.44"), sz("10"), t(1_100)));
    }

    #[test]
    fn resolution_cancels_open_orders_and_leaves_the_payout_to_the_owner() {
        let mut v = Paper::new(PaperVenue::new(PaperConfig { latency_ms: 0, ..PaperConfig::default() }));
        v.set_fee(token(YES), FeeModel::FREE);
        v.set_fee(token(NO), FeeModel::FREE);
        feed(&mut v, snapshot(YES, &[], &[("0.60", "100")], 0));
        feed(&mut v, snapshot(NO, &[], &[("0.41", "100")], 0));
        v.place(intent("y", YES, Side::Buy, "0.60", "10", OrderType::Fak), t(0)).unwrap();
        v.place(intent("n", NO, Side::Buy, "0.41", "20", OrderType::Fak), t(0)).unwrap();
        v.place(intent("r", NO, Side::Buy, "0.30", "5", OrderType::Gtc), t(0)).unwrap();
        v.advance_to(t(0)).unwrap();
        assert_eq!(v.cash(), usdc("300") - usdc("6") - usdc("8.2"));
        assert!(v.open_order_filled(&cid("r")).is_some(), "the bid below the ask rests");
        let out = feed(
            &mut v,
            MarketEvent::MarketResolved(MarketResolved {
                market: market(),
                tokens: vec![token(YES), token(NO)],
                winning_token: token(YES),
                winning_outcome: "Yes".into(),
                time: time(10),
            }),
        );
        assert_eq!(statuses(&out), vec![(OrderStatus::Cancelled, Size::ZERO)]);
        assert!(fills(&out).is_empty(), "a resolution fills nothing; the ledger books the payout");
        assert_eq!(v.open_order_filled(&cid("r")), None);
        assert_eq!(v.reserved_cash(), Usdc::ZERO);
    }

    #[test]
    fn bad_requests_are_refused_and_change_nothing() {
        let mut v = venue();
        let no_book = v.place(intent("x", YES, Side::Buy, "0.50", "1", OrderType::Gtc), t(0));
        assert_eq!(no_book, Err(PaperError::NoBook(token(YES))));
        feed(&mut v, snapshot(YES, &[("0.50", "100")], &[("0.52", "100")], 0));
        // Post-only: it reserves no taker fee.
        let post = |id: &str, size: &str| OrderIntent {
            post_only: true,
            ..intent(id, YES, Side::Buy, "0.50", size, OrderType::Gtc)
        };
        let too_big = v.place(post("x", "601"), t(0));
        assert!(matches!(too_big, Err(PaperError::InsufficientCash { .. })));
        let unheld = v.place(intent("x", YES, Side::Sell, "0.50", "1", OrderType::Gtc), t(0));
        assert!(matches!(unheld, Err(PaperError::InsufficientShares { .. })));
        let off_tick = v.place(intent("x", YES, Side::Buy, "0.505", "1", OrderType::Gtc), t(0));
        assert!(matches!(off_tick, Err(PaperError::Intent(IntentError::OffTick { .. }))));
        // The exchange refuses a FAK BUY of 18.87 at 0.52 (9.8124 pUSD has 4
        // decimals, a market BUY's 2): so does the paper venue.
        let inexact = v.place(intent("x", YES, Side::Buy, "0.52", "18.87", OrderType::Fak), t(0));
        assert!(matches!(inexact, Err(PaperError::Intent(IntentError::InexactAmounts { .. }))), "{inexact:?}");
        // A market whose fee schedule was never given trades nothing (it is
        // never taken as free).
        let mut bare = Paper::new(PaperVenue::new(PaperConfig::default()));
        feed(&mut bare, snapshot(YES, &[("0.50", "100")], &[("0.52", "100")], 0));
        let no_fee = bare.place(intent("x", YES, Side::Buy, "0.50", "1", OrderType::Gtc), t(0));
        assert_eq!(no_fee, Err(PaperError::NoFeeSchedule(token(YES))));
        // One that may take reserves its fee too: 600 x 0.50 + 10.5 > 300.
        let taker = v.place(intent("x", YES, Side::Buy, "0.50", "600", OrderType::Gtc), t(0));
        assert_eq!(taker, Err(PaperError::InsufficientCash { needed: usdc("310.5"), available: usdc("300") }));
        v.place(post("x", "600"), t(50)).unwrap();
        let dup = v.place(intent("x", YES, Side::Buy, "0.50", "1", OrderType::Gtc), t(60));
        assert_eq!(dup, Err(PaperError::DuplicateOrder(cid("x"))));
        assert!(matches!(v.advance_to(t(10)), Err(PaperError::TimeWentBack { .. })));
        assert_eq!(v.now(), t(50));
        assert_eq!(v.free_cash(), Usdc::ZERO);
        assert_eq!(v.cash(), usdc("300"));
    }

    #[test]
    fn post_only_and_fok_orders_that_cannot_be_honoured_do_nothing() {
        let mut v = venue();
        feed(&mut v, snapshot(YES, &[("0.50", "100")], &[("0.52", "5")], 0));
        let mut post = intent("p", YES, Side::Buy, "0.52", "10", OrderType::Gtc);
        post.post_only = true;
        v.place(post, t(0)).unwrap();
        v.place(intent("f", YES, Side::Buy, "0.52", "10", OrderType::Fok), t(0)).unwrap();
        let out = v.advance_to(t(100)).unwrap();
        assert_eq!(statuses(&out), vec![(OrderStatus::Rejected, Size::ZERO), (OrderStatus::Cancelled, Size::ZERO)]);
        assert!(fills(&out).is_empty());
        assert_eq!(v.cash(), usdc("300"));
    }

    #[test]
    fn the_front_queue_model_fills_on_any_trade_at_our_price() {
        let mut v = new_venue(PaperConfig { latency_ms: 0, queue: QueueModel::Front, ..PaperConfig::default() });
        feed(&mut v, snapshot(YES, &[("0.50", "100")], &[("0.52", "100")], 0));
        v.place(intent("b", YES, Side::Buy, "0.50", "10", OrderType::Gtc), t(0)).unwrap();
        v.advance_to(t(0)).unwrap();
        assert_eq!(fills(&feed(&mut v, trade(YES, Side::Sell, "0.50", "3", 10)))[0].size, sz("3"));
    }

    #[test]
    fn config_reads_back_with_defaults_and_refuses_unknown_fields() {
        let c: PaperConfig = serde_json::from_str(r#"{"latency_ms": 40}"#).unwrap();
        assert_eq!(c, PaperConfig { latency_ms: 40, ..PaperConfig::default() });
        let back: PaperConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<PaperConfig>(r#"{"latncy_ms": 40}"#).is_err());
    }

    mod props {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Snapshot(BTreeMap<u16, u16>, BTreeMap<u16, u16>),
            Change(Side, u16, u16),
            Trade(Side, u16, u16),
            Place(Side, u16, u16, u8),
            Cancel(u8),
            Advance,
        }

        fn side() -> impl Strategy<Value = Side> {
            prop_oneof![Just(Side::Buy), Just(Side::Sell)]
        }

        fn op() -> impl Strategy<Value = Op> {
            let cents = 40u16..60;
            prop_oneof![
                1 => (prop::collection::btree_map(40u16..50, 1u16..200, 0..4),
                      prop::collection::btree_map(50u16..60, 1u16..200, 0..4))
                    .prop_map(|(b, a)| Op::Snapshot(b, a)),
                4 => (side(), cents.clone(), 0u16..200).prop_map(|(s, c, n)| Op::Change(s, c, n)),
                4 => (side(), cents.clone(), 1u16..100).prop_map(|(s, c, n)| Op::Trade(s, c, n)),
                3 => (side(), cents, 1u16..50, 0u8..4).prop_map(|(s, c, n, k)| Op::Place(s, c, n, k)),
                1 => (0u8..8).prop_map(Op::Cancel),
                1 => Just(Op::Advance),
            ]
        }

        fn cents(c: u16) -> Price {
            Price::from_pips(c * 100).unwrap()
        }

        fn book_levels(m: &BTreeMap<u16, u16>) -> Vec<Level> {
            m.iter().map(|(c, n)| Level::new(cents(*c), Size::from_shares(u64::from(*n)))).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// The account, booked from the reported fills alone, never goes
            /// below zero (the venue's reservations at placing cover every
            /// fill); no order fills beyond its size; each update's
            /// `filled` is the sum of that order's fills; a refused call
            /// changes nothing.
            #[test]
            fn the_books_balance_against_the_reported_events(ops in prop::collection::vec((op(), 0i64..200), 1..80)) {
                let mut v = new_venue(PaperConfig { latency_ms: 50, ..PaperConfig::default() });
                let mut ms = 0;
                feed(&mut v, snapshot(YES, &[("0.45", "100")], &[("0.55", "100")], ms));
                let mut filled: HashMap<ClientOrderId, Size> = HashMap::default();
                let mut sizes: HashMap<ClientOrderId, Size> = HashMap::default();
                let mut placed: Vec<ClientOrderId> = Vec::new();
                for (n, (op, dt)) in ops.into_iter().enumerate() {
                    ms += dt;
                    let result = match op {
                        Op::Snapshot(b, a) => v.on_market_event(&MarketEvent::Book(BookSnapshot {
                            token: token(YES), market: market(), bids: book_levels(&b), asks: book_levels(&a),
                            tick_size: Some(TickSize::Hundredth), last_trade_price: None, hash: None, time: time(ms),
                        })),
                        Op::Change(s, c, q) => v.on_market_event(&change(YES, s, &cents(c).to_string(), &q.to_string(), ms)),
                        Op::Trade(s, c, q) => v.on_market_event(&trade(YES, s, &cents(c).to_string(), &q.to_string(), ms)),
                        Op::Place(s, c, q, k) => {
                            let kind = [OrderType::Gtc, OrderType::Fak, OrderType::Fok, OrderType::Gtc][usize::from(k)];
                            let i = intent(&format!("o{n}"), YES, s, &cents(c).to_string(), &q.to_string(), kind);
                            let before = (v.cash(), v.free_cash(), v.now());
                            let r = v.place(i.clone(), t(ms));
                            if r.is_err() {
                                prop_assert_eq!(before, (v.cash(), v.free_cash(), v.now()));
                            } else {
                                sizes.insert(i.client_order_id.clone(), i.size);
                                placed.push(i.client_order_id);
                            }
                            r
                        }
                        Op::Cancel(k) => match placed.get(usize::from(k)) {
                            Some(id) => v.cancel(id, t(ms)),
                            None => continue,
                        },
                        Op::Advance => v.advance_to(t(ms)),
                    };
                    let Ok(events) = result else { continue };
                    for e in &events {
                        match e {
                            PaperEvent::Fill(f) => {
                                let id = f.client_order_id.clone().unwrap();
                                *filled.entry(id).or_insert(Size::ZERO) += f.size;
                            }
                            PaperEvent::Order(u) => {
                                let sum = filled.get(&u.client_order_id).copied().unwrap_or(Size::ZERO);
                                prop_assert_eq!(u.filled, sum);
                                prop_assert!(u.filled <= sizes[&u.client_order_id]);
                            }
                        }
                    }
                    prop_assert!(v.cash() >= Usdc::ZERO, "cash {}", v.cash());
                    prop_assert!(v.free_cash() >= Usdc::ZERO, "free cash {}", v.free_cash());
                    prop_assert!(v.position(&token(YES)) >= Size::ZERO);
                }
            }
        }
    }
}
