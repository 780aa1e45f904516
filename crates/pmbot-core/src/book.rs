//! The L2 order book of one outcome token.
//!
//! Invariants, checked by the property tests: each side holds at most one level
//! per price, every level's size is positive, and levels are strictly sorted.
//!
//! Polymarket books carry no sequence numbers, so `price_change` deltas are
//! gated on an accepted `book` snapshot: before the first snapshot (and after
//! [`OrderBook::reset`], e.g. on reconnect) a delta is not applied and reports
//! [`DeltaOutcome::NoSnapshot`]. Every snapshot replaces the book; it is never
//! merged. A delta's size is the new aggregate size at its price (0 removes the
//! level); side BUY is a bid level, SELL an ask level.
//!
//! The book reports bad states instead of hiding them: [`OrderBook::health`]
//! says whether it has a snapshot, is crossed, stale, empty or one-sided. The
//! queries answer from the levels as they are, so a caller that needs a sane
//! book checks `health` first. Times are passed in (the receive time from the
//! engine's clock); the book never reads a clock.
//!
//! Layout: each side is a `Vec<Level>` sorted from worst to best price, so the
//! touch is the *last* element. Deltas cluster near the touch, where inserting
//! and removing moves only a few elements; lookups are binary searches. For the
//! tens of levels a Polymarket book has this beats a tree (see `benches/book.rs`).

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::amount::{Size, Usdc};
use crate::clock::TimestampMs;
use crate::events::{BookSnapshot, PriceChange};
use crate::ids::TokenId;
use crate::level::Level;
use crate::price::{PIPS_PER_UNIT, Price, TickSize};
use crate::side::Side;

/// Why an update was refused. A refused update changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// A new level's price is not on the book's tick grid.
    #[error("{side} level at {price} is not on the {tick} tick grid")]
    OffTick { side: Side, price: Price, tick: TickSize },
    /// A snapshot lists the same price twice on one side.
    #[error("snapshot lists the {side} level at {price} twice")]
    DuplicateLevel { side: Side, price: Price },
    /// An update for another token was handed to this book.
    #[error("update for token {got} given to the book of token {expected}")]
    WrongToken { expected: TokenId, got: TokenId },
}

/// What a delta did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeltaOutcome {
    /// A level that did not exist was added.
    Inserted,
    /// An existing level got a new size.
    Updated,
    /// An existing level was removed (size 0).
    Removed,
    /// Size 0 for a price with no level: nothing to remove. Harmless, but a
    /// sign the book may have drifted from the exchange's.
    RemovedAbsent,
    /// No snapshot has been accepted since creation or the last reset; the
    /// delta was not applied. Resubscribe or fetch `/book`.
    NoSnapshot,
}

/// What an accepted snapshot contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSummary {
    pub bid_levels: usize,
    pub ask_levels: usize,
    /// Entries with size 0, which hold nothing and were left out.
    pub empty_levels_dropped: usize,
    /// Whether a snapshot had been accepted before this one (a replacement
    /// rather than the first sync).
    pub replaced_previous: bool,
}

/// What changing the tick size left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickChangeOutcome {
    /// Every resting level lies on the new grid (always so for a finer tick).
    Clean,
    /// This many resting levels lie off the new, coarser grid. They stay until
    /// the exchange removes them; new levels must be on the new grid.
    OffGridLevels(usize),
}

/// The book's state, worst first: a caller that gets anything but
/// [`BookHealth::Synced`] decides whether the book is usable for its purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookHealth {
    /// No snapshot accepted yet (or since [`OrderBook::reset`]).
    NoSnapshot,
    /// Best bid >= best ask (a locked book counts as crossed: on Polymarket
    /// such orders would have matched).
    Crossed { bid: Price, ask: Price },
    /// No update for more than the allowed time.
    Stale { age_ms: i64 },
    /// Synced, but neither side has a level.
    Empty,
    /// Synced, but the side named has no level (normal near resolution).
    OneSided { empty_side: Side },
    /// A snapshot has been accepted, both sides have levels, not crossed, fresh.
    Synced,
}

impl BookHealth {
    pub const fn is_synced(self) -> bool {
        matches!(self, BookHealth::Synced)
    }
}

/// Whether the exchange's reported top of book agrees with ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchCheck {
    Agrees,
    Disagrees { ours: (Option<Price>, Option<Price>), theirs: (Option<Price>, Option<Price>) },
}

/// How much of a requested size the book could fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillExtent {
    /// All of it.
    Full,
    /// Some of it: the levels (within the limit, if any) ran out.
    Partial,
    /// None: no level on that side (within the limit).
    Nothing,
}

/// An exact volume-weighted price: `notional_exact / size_micros` in pips,
/// i.e. a fraction, so that comparing it with a price never rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AveragePrice {
    /// Sum of price x size, in 10^-10 pUSD (pips x micro-shares).
    pub notional_exact: u128,
    /// The size the notional was paid for, in micro-shares; never zero.
    pub size_micros: u64,
}

impl AveragePrice {
    /// The average as a decimal, rounded to rust_decimal's 28 significant
    /// digits (exact whenever the fraction terminates within them).
    pub fn to_decimal(self) -> Decimal {
        let n = Decimal::try_from_i128_with_scale(self.notional_exact as i128, 4)
            .expect("notional <= 10^4 x u64::MAX fits in 96 bits");
        (n / Decimal::from(self.size_micros)).normalize()
    }

    /// Compares the exact average with a price.
    pub fn cmp_price(self, price: Price) -> Ordering {
        self.notional_exact.cmp(&(u128::from(price.pips()) * u128::from(self.size_micros)))
    }
}

/// The result of walking one side of the book for a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// BUY walks the asks from the lowest; SELL walks the bids from the highest.
    pub side: Side,
    pub requested: Size,
    /// Stop at levels worse than this price (above it for BUY, below for SELL).
    pub limit: Option<Price>,
    /// Shares the book could fill, `<= requested`.
    pub filled: Size,
    /// Exact price x size summed over the levels walked, in 10^-10 pUSD.
    pub notional_exact: u128,
    /// The last (worst) price touched; `None` if nothing filled.
    pub worst_price: Option<Price>,
    /// Levels taken from, fully or in part.
    pub levels_touched: usize,
    pub extent: FillExtent,
}

impl Sweep {
    /// What the trade moves in pUSD, rounded against us: a BUY's cost rounded
    /// up, a SELL's proceeds rounded down, to the micro-pUSD (one rounding on
    /// the total, not per level). Fees are not included.
    pub fn cost(&self) -> Usdc {
        match self.side {
            Side::Buy => Usdc::from_micros(self.notional_exact.div_ceil(u128::from(PIPS_PER_UNIT)) as i64),
            Side::Sell => Usdc::from_micros((self.notional_exact / u128::from(PIPS_PER_UNIT)) as i64),
        }
    }

    /// The exact average fill price; `None` if nothing filled.
    pub fn average_price(&self) -> Option<AveragePrice> {
        (!self.filled.is_zero())
            .then_some(AveragePrice { notional_exact: self.notional_exact, size_micros: self.filled.micros() })
    }

    pub fn is_full(&self) -> bool {
        self.extent == FillExtent::Full
    }
}

/// The best `n` levels of each side, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

/// The L2 book of one outcome token. See the module docs for its invariants.
#[derive(Debug, Clone)]
pub struct OrderBook {
    token: TokenId,
    tick: TickSize,
    /// Ascending by price: best bid last.
    bids: Vec<Level>,
    /// Descending by price: best ask last.
    asks: Vec<Level>,
    synced: bool,
    last_update: Option<TimestampMs>,
    /// Reused buffers so that a snapshot validates before it replaces anything,
    /// without allocating on every snapshot.
    scratch_bids: Vec<Level>,
    scratch_asks: Vec<Level>,
}

impl OrderBook {
    /// An empty, unsynced book for `token` on `tick`'s grid.
    pub fn new(token: TokenId, tick: TickSize) -> OrderBook {
        OrderBook {
            token,
            tick,
            bids: Vec::with_capacity(64),
            asks: Vec::with_capacity(64),
            synced: false,
            last_update: None,
            scratch_bids: Vec::with_capacity(64),
            scratch_asks: Vec::with_capacity(64),
        }
    }

    pub fn token(&self) -> &TokenId {
        &self.token
    }

    pub fn tick_size(&self) -> TickSize {
        self.tick
    }

    /// Whether a snapshot has been accepted since creation or the last reset.
    pub fn has_snapshot(&self) -> bool {
        self.synced
    }

    /// The time of the last accepted snapshot or delta, as passed in.
    pub fn last_update(&self) -> Option<TimestampMs> {
        self.last_update
    }

    /// Forgets every level and the snapshot: deltas are refused until the next
    /// snapshot. Call on reconnect, when the exchange will not replay what was
    /// missed.
    pub fn reset(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.synced = false;
        self.last_update = None;
    }

    /// Switches to a new tick size (`tick_size_change`).
    pub fn set_tick_size(&mut self, tick: TickSize) -> TickChangeOutcome {
        self.tick = tick;
        let off = self.bids.iter().chain(&self.asks).filter(|l| !l.price.is_on_tick(tick)).count();
        if off == 0 { TickChangeOutcome::Clean } else { TickChangeOutcome::OffGridLevels(off) }
    }

    /// Replaces the whole book with a snapshot (levels in any order; size-0
    /// entries are dropped). On error nothing changes.
    pub fn apply_snapshot(
        &mut self,
        bids: &[Level],
        asks: &[Level],
        at: TimestampMs,
    ) -> Result<SnapshotSummary, BookError> {
        self.replace(bids, asks, self.tick, at)
    }

    /// Applies a `book` event for this token, adopting its tick size if it
    /// carries one. Timed by its receive time. On error nothing changes.
    pub fn apply_book(&mut self, snapshot: &BookSnapshot) -> Result<SnapshotSummary, BookError> {
        self.check_token(&snapshot.token)?;
        let tick = snapshot.tick_size.unwrap_or(self.tick);
        self.replace(&snapshot.bids, &snapshot.asks, tick, snapshot.time.received)
    }

    fn replace(
        &mut self,
        bids: &[Level],
        asks: &[Level],
        tick: TickSize,
        at: TimestampMs,
    ) -> Result<SnapshotSummary, BookError> {
        let dropped_bids = fill_sorted(&mut self.scratch_bids, bids, Side::Buy, tick)?;
        let dropped_asks = fill_sorted(&mut self.scratch_asks, asks, Side::Sell, tick)?;
        std::mem::swap(&mut self.bids, &mut self.scratch_bids);
        std::mem::swap(&mut self.asks, &mut self.scratch_asks);
        self.scratch_bids.clear();
        self.scratch_asks.clear();
        let replaced_previous = self.synced;
        self.tick = tick;
        self.synced = true;
        self.touch(at);
        Ok(SnapshotSummary {
            bid_levels: self.bids.len(),
            ask_levels: self.asks.len(),
            empty_levels_dropped: dropped_bids + dropped_asks,
            replaced_previous,
        })
    }

    /// Sets the aggregate size at one price (`price_change` entry): size 0
    /// removes the level. A new level must be on the tick grid; an existing one
    /// may be updated or removed even if a coarser tick left it off the grid.
    #[inline]
    pub fn apply_delta(
        &mut self,
        side: Side,
        price: Price,
        size: Size,
        at: TimestampMs,
    ) -> Result<DeltaOutcome, BookError> {
        if !self.synced {
            return Ok(DeltaOutcome::NoSnapshot);
        }
        let tick = self.tick;
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let outcome = match (find(levels, side, price), size.is_zero()) {
            (Ok(i), false) => {
                levels[i].size = size;
                DeltaOutcome::Updated
            }
            (Ok(i), true) => {
                levels.remove(i);
                DeltaOutcome::Removed
            }
            (Err(_), true) => DeltaOutcome::RemovedAbsent,
            (Err(i), false) => {
                if !price.is_on_tick(tick) {
                    return Err(BookError::OffTick { side, price, tick });
                }
                levels.insert(i, Level { price, size });
                DeltaOutcome::Inserted
            }
        };
        self.touch(at);
        Ok(outcome)
    }

    /// Applies one `price_change` entry for this token.
    pub fn apply_price_change(&mut self, change: &PriceChange, at: TimestampMs) -> Result<DeltaOutcome, BookError> {
        self.check_token(&change.token)?;
        self.apply_delta(change.side, change.price, change.size, at)
    }

    fn check_token(&self, token: &TokenId) -> Result<(), BookError> {
        if *token == self.token {
            Ok(())
        } else {
            Err(BookError::WrongToken { expected: self.token.clone(), got: token.clone() })
        }
    }

    /// Keeps the latest time seen, so a late-arriving time cannot make the book
    /// look older than it is.
    fn touch(&mut self, at: TimestampMs) {
        self.last_update = Some(self.last_update.map_or(at, |t| t.max(at)));
    }

    // ---- queries -------------------------------------------------------

    /// The book's state at `now` when it should have heard from the exchange
    /// within `stale_after_ms`.
    pub fn health(&self, now: TimestampMs, stale_after_ms: i64) -> BookHealth {
        if !self.synced {
            return BookHealth::NoSnapshot;
        }
        if let (Some(bid), Some(ask)) = (self.best_bid(), self.best_ask())
            && bid.price >= ask.price
        {
            return BookHealth::Crossed { bid: bid.price, ask: ask.price };
        }
        let age_ms = self.last_update.map_or(i64::MAX, |t| now.millis_since(t));
        if age_ms > stale_after_ms {
            return BookHealth::Stale { age_ms };
        }
        match (self.bids.is_empty(), self.asks.is_empty()) {
            (true, true) => BookHealth::Empty,
            (true, false) => BookHealth::OneSided { empty_side: Side::Buy },
            (false, true) => BookHealth::OneSided { empty_side: Side::Sell },
            (false, false) => BookHealth::Synced,
        }
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last().copied()
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks.last().copied()
    }

    /// The best level on `side` (BUY: best bid, SELL: best ask).
    pub fn best(&self, side: Side) -> Option<Level> {
        self.side(side).last().copied()
    }

    /// (best bid + best ask) / 2, exact (it may fall on a half pip).
    pub fn mid(&self) -> Option<Decimal> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let sum = i64::from(b.price.pips()) + i64::from(a.price.pips());
        Some(Decimal::new(sum * 5, 5).normalize())
    }

    /// Best ask - best bid in pips; negative when crossed.
    pub fn spread_pips(&self) -> Option<i32> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Some(i32::from(a.price.pips()) - i32::from(b.price.pips()))
    }

    /// Best ask - best bid as an exact decimal; negative when crossed.
    pub fn spread(&self) -> Option<Decimal> {
        self.spread_pips().map(|s| Decimal::new(i64::from(s), 4).normalize())
    }

    /// Number of levels on `side`.
    pub fn level_count(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// The levels of `side`, best first.
    pub fn levels(&self, side: Side) -> impl ExactSizeIterator<Item = Level> + DoubleEndedIterator + '_ {
        self.side(side).iter().rev().copied()
    }

    /// The size resting at `price` on `side`, if there is a level.
    pub fn size_at(&self, side: Side, price: Price) -> Option<Size> {
        let levels = self.side(side);
        find(levels, side, price).ok().map(|i| levels[i].size)
    }

    /// The best `n` levels of each side, best first.
    pub fn depth(&self, n: usize) -> Depth {
        Depth { bids: self.levels(Side::Buy).take(n).collect(), asks: self.levels(Side::Sell).take(n).collect() }
    }

    /// Total size in the best `n` levels of `side`.
    pub fn size_within(&self, side: Side, n: usize) -> Size {
        self.levels(side).take(n).map(|l| l.size).sum()
    }

    /// Compares the exchange's reported best bid and ask (from `price_change`
    /// or `best_bid_ask`) with ours.
    pub fn check_touch(&self, best_bid: Option<Price>, best_ask: Option<Price>) -> TouchCheck {
        let ours = (self.best_bid().map(|l| l.price), self.best_ask().map(|l| l.price));
        if ours == (best_bid, best_ask) {
            TouchCheck::Agrees
        } else {
            TouchCheck::Disagrees { ours, theirs: (best_bid, best_ask) }
        }
    }

    /// Walks the book to fill `size` shares: a BUY takes asks from the lowest
    /// price up, a SELL takes bids from the highest down.
    pub fn sweep(&self, side: Side, size: Size) -> Sweep {
        self.sweep_limited(side, size, None)
    }

    /// Like [`OrderBook::sweep`], but takes no level worse than `limit` (above
    /// it for a BUY, below it for a SELL), as a FAK limit order would.
    pub fn sweep_limited(&self, side: Side, size: Size, limit: Option<Price>) -> Sweep {
        let book_side = match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        let mut remaining = size.micros();
        let mut filled = 0u64;
        let mut notional = 0u128;
        let mut worst = None;
        let mut touched = 0usize;
        for level in self.side(book_side).iter().rev() {
            if remaining == 0 {
                break;
            }
            let beyond_limit = match (limit, side) {
                (None, _) => false,
                (Some(l), Side::Buy) => level.price > l,
                (Some(l), Side::Sell) => level.price < l,
            };
            if beyond_limit {
                break;
            }
            let take = remaining.min(level.size.micros());
            remaining -= take;
            filled += take;
            notional += u128::from(take) * u128::from(level.price.pips());
            worst = Some(level.price);
            touched += 1;
        }
        let extent = if remaining == 0 {
            FillExtent::Full
        } else if filled == 0 {
            FillExtent::Nothing
        } else {
            FillExtent::Partial
        };
        Sweep {
            side,
            requested: size,
            limit,
            filled: Size::from_micros(filled),
            notional_exact: notional,
            worst_price: worst,
            levels_touched: touched,
            extent,
        }
    }

    fn side(&self, side: Side) -> &[Level] {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }
}

/// Finds `price` in a side stored worst-to-best: bids ascending, asks descending.
#[inline]
fn find(levels: &[Level], side: Side, price: Price) -> Result<usize, usize> {
    match side {
        Side::Buy => levels.binary_search_by(|l| l.price.cmp(&price)),
        Side::Sell => levels.binary_search_by(|l| price.cmp(&l.price)),
    }
}

/// Fills `out` with `levels` sorted worst-to-best for `side`, without size-0
/// entries; returns how many were dropped. Refuses off-tick and duplicate prices.
fn fill_sorted(out: &mut Vec<Level>, levels: &[Level], side: Side, tick: TickSize) -> Result<usize, BookError> {
    out.clear();
    let mut dropped = 0;
    for l in levels {
        if l.size.is_zero() {
            dropped += 1;
            continue;
        }
        if !l.price.is_on_tick(tick) {
            out.clear();
            return Err(BookError::OffTick { side, price: l.price, tick });
        }
        out.push(*l);
    }
    match side {
        Side::Buy => out.sort_unstable_by_key(|l| l.price),
        Side::Sell => out.sort_unstable_by_key(|l| std::cmp::Reverse(l.price)),
    }
    if let Some(w) = out.windows(2).find(|w| w[0].price == w[1].price) {
        let price = w[0].price;
        out.clear();
        return Err(BookError::DuplicateLevel { side, price });
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TimestampMs as T;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn sz(s: &str) -> Size {
        Size::parse(s).unwrap()
    }

    fn lv(price: &str, size: &str) -> Level {
        Level::new(p(price), sz(size))
    }

    fn token() -> TokenId {
        TokenId::parse("1234").unwrap()
    }

    /// Bids 0.48 x 30, 0.47 x 50, 0.45 x 100; asks 0.50 x 20, 0.51 x 30, 0.55 x 100.
    fn book() -> OrderBook {
        let mut b = OrderBook::new(token(), TickSize::Hundredth);
        // Wire order as REST sends it: bids ascending, asks descending.
        let bids = [lv("0.45", "100"), lv("0.47", "50"), lv("0.48", "30")];
        let asks = [lv("0.55", "100"), lv("0.51", "30"), lv("0.50", "20")];
        b.apply_snapshot(&bids, &asks, T(1_000)).unwrap();
        b
    }

    #[test]
    fn deltas_before_a_snapshot_are_not_applied() {
        let mut b = OrderBook::new(token(), TickSize::Hundredth);
        assert_eq!(b.apply_delta(Side::Buy, p("0.4"), sz("10"), T(5)), Ok(DeltaOutcome::NoSnapshot));
        assert_eq!(b.level_count(Side::Buy), 0);
        assert_eq!(b.last_update(), None);
        assert_eq!(b.health(T(5), 1_000), BookHealth::NoSnapshot);
        // Even an off-tick delta is simply not applied: there is nothing to check it against yet.
        assert_eq!(b.apply_delta(Side::Buy, p("0.405"), sz("10"), T(5)), Ok(DeltaOutcome::NoSnapshot));
    }

    #[test]
    fn snapshot_sorts_and_answers_top_of_book() {
        let b = book();
        assert_eq!(b.best_bid(), Some(lv("0.48", "30")));
        assert_eq!(b.best_ask(), Some(lv("0.50", "20")));
        assert_eq!(b.best(Side::Sell), Some(lv("0.50", "20")));
        assert_eq!(b.mid(), Some("0.49".parse().unwrap()));
        assert_eq!(b.spread_pips(), Some(200));
        assert_eq!(b.spread(), Some("0.02".parse().unwrap()));
        assert_eq!(b.health(T(1_500), 1_000), BookHealth::Synced);
        assert_eq!(b.last_update(), Some(T(1_000)));
        let bids: Vec<_> = b.levels(Side::Buy).map(|l| l.price.to_string()).collect();
        assert_eq!(bids, ["0.48", "0.47", "0.45"]);
        let asks: Vec<_> = b.levels(Side::Sell).map(|l| l.price.to_string()).collect();
        assert_eq!(asks, ["0.5", "0.51", "0.55"]);
    }

    #[test]
    fn mid_can_fall_on_a_half_pip_and_stays_exact() {
        let mut b = OrderBook::new(token(), TickSize::TenThousandth);
        b.apply_snapshot(&[lv("0.4801", "1")], &[lv("0.4804", "1")], T(0)).unwrap();
        assert_eq!(b.mid(), Some("0.48025".parse().unwrap()));
        assert_eq!(b.spread(), Some("0.0003".parse().unwrap()));
        let mut b = OrderBook::new(token(), TickSize::Hundredth);
        b.apply_snapshot(&[lv("0.48", "1")], &[lv("0.51", "1")], T(0)).unwrap();
        assert_eq!(b.mid(), Some("0.495".parse().unwrap()));
    }

    #[test]
    fn snapshot_replaces_never_merges() {
        let mut b = book();
        let s = b.apply_snapshot(&[lv("0.30", "5")], &[lv("0.70", "6"), lv("0.71", "0")], T(2_000)).unwrap();
        assert_eq!(
            s,
            SnapshotSummary { bid_levels: 1, ask_levels: 1, empty_levels_dropped: 1, replaced_previous: true }
        );
        assert_eq!(b.depth(10), Depth { bids: vec![lv("0.3", "5")], asks: vec![lv("0.7", "6")] });
        assert_eq!(b.last_update(), Some(T(2_000)));
    }

    #[test]
    fn bad_snapshots_change_nothing() {
        let mut b = book();
        let before = b.depth(10);
        let err = b.apply_snapshot(&[lv("0.305", "5")], &[], T(9)).unwrap_err();
        assert_eq!(err, BookError::OffTick { side: Side::Buy, price: p("0.305"), tick: TickSize::Hundredth });
        let err =
            b.apply_snapshot(&[lv("0.3", "5")], &[lv("0.6", "1"), lv("0.7", "1"), lv("0.6", "2")], T(9)).unwrap_err();
        assert_eq!(err, BookError::DuplicateLevel { side: Side::Sell, price: p("0.6") });
        assert_eq!(b.depth(10), before);
        assert_eq!(b.last_update(), Some(T(1_000)));
        // The scratch buffers were left clean: a good snapshot still works.
        b.apply_snapshot(&[lv("0.3", "5")], &[lv("0.6", "1")], T(10)).unwrap();
        assert_eq!(b.depth(10), Depth { bids: vec![lv("0.3", "5")], asks: vec![lv("0.6", "1")] });
    }

    #[test]
    fn deltas_insert_update_remove() {
        let mut b = book();
        assert_eq!(b.apply_delta(Side::Buy, p("0.49"), sz("10"), T(1_100)), Ok(DeltaOutcome::Inserted));
        assert_eq!(b.best_bid(), Some(lv("0.49", "10")));
        assert_eq!(b.apply_delta(Side::Buy, p("0.47"), sz("55"), T(1_200)), Ok(DeltaOutcome::Updated));
        assert_eq!(b.size_at(Side::Buy, p("0.47")), Some(sz("55")));
        assert_eq!(b.apply_delta(Side::Sell, p("0.50"), Size::ZERO, T(1_300)), Ok(DeltaOutcome::Removed));
        assert_eq!(b.best_ask(), Some(lv("0.51", "30")));
        assert_eq!(b.apply_delta(Side::Sell, p("0.52"), Size::ZERO, T(1_400)), Ok(DeltaOutcome::RemovedAbsent));
        assert_eq!(b.apply_delta(Side::Sell, p("0.53"), sz("7"), T(1_500)), Ok(DeltaOutcome::Inserted));
        let asks: Vec<_> = b.levels(Side::Sell).map(|l| l.price.to_string()).collect();
        assert_eq!(asks, ["0.51", "0.53", "0.55"]);
        assert_eq!(b.last_update(), Some(T(1_500)));
        assert_eq!(b.size_at(Side::Sell, p("0.52")), None);
    }

    #[test]
    fn off_tick_insert_is_refused_and_changes_nothing() {
        let mut b = book();
        let before = b.depth(10);
        let err = b.apply_delta(Side::Buy, p("0.485"), sz("1"), T(5_000)).unwrap_err();
        assert_eq!(err, BookError::OffTick { side: Side::Buy, price: p("0.485"), tick: TickSize::Hundredth });
        assert_eq!(b.depth(10), before);
        assert_eq!(b.last_update(), Some(T(1_000)));
    }

    #[test]
    fn tick_changes_report_levels_left_off_grid() {
        let mut b = book();
        assert_eq!(b.set_tick_size(TickSize::Thousandth), TickChangeOutcome::Clean);
        assert_eq!(b.apply_delta(Side::Buy, p("0.485"), sz("1"), T(1_001)), Ok(DeltaOutcome::Inserted));
        assert_eq!(b.set_tick_size(TickSize::Hundredth), TickChangeOutcome::OffGridLevels(1));
        // The stale level can still be removed, though not re-added.
        assert_eq!(b.apply_delta(Side::Buy, p("0.485"), Size::ZERO, T(1_002)), Ok(DeltaOutcome::Removed));
        assert!(b.apply_delta(Side::Buy, p("0.485"), sz("1"), T(1_003)).is_err());
    }

    #[test]
    fn health_reports_crossed_stale_empty_and_one_sided() {
        let mut b = book();
        assert_eq!(b.health(T(2_001), 1_000), BookHealth::Stale { age_ms: 1_001 });
        assert_eq!(b.health(T(2_000), 1_000), BookHealth::Synced);
        // A bid at the best ask locks the book: reported as crossed.
        b.apply_delta(Side::Buy, p("0.50"), sz("1"), T(2_000)).unwrap();
        assert_eq!(b.health(T(2_000), 1_000), BookHealth::Crossed { bid: p("0.5"), ask: p("0.5") });
        b.apply_delta(Side::Buy, p("0.52"), sz("1"), T(2_000)).unwrap();
        assert_eq!(b.health(T(2_000), 1_000), BookHealth::Crossed { bid: p("0.52"), ask: p("0.5") });
        assert_eq!(b.spread_pips(), Some(-200));
        // Crossed is reported even when also stale: it is the worse fault.
        assert!(matches!(b.health(T(99_000), 1_000), BookHealth::Crossed { .. }));
        b.apply_snapshot(&[], &[lv("0.6", "1")], T(3_000)).unwrap();
        assert_eq!(b.health(T(3_000), 1_000), BookHealth::OneSided { empty_side: Side::Buy });
        b.apply_snapshot(&[lv("0.6", "1")], &[], T(3_000)).unwrap();
        assert_eq!(b.health(T(3_000), 1_000), BookHealth::OneSided { empty_side: Side::Sell });
        b.apply_snapshot(&[], &[], T(3_000)).unwrap();
        assert_eq!(b.health(T(3_000), 1_000), BookHealth::Empty);
        assert_eq!(b.mid(), None);
        assert_eq!(b.spread(), None);
        b.reset();
        assert_eq!(b.health(T(3_000), 1_000), BookHealth::NoSnapshot);
        assert_eq!(b.apply_delta(Side::Buy, p("0.4"), sz("1"), T(3_001)), Ok(DeltaOutcome::NoSnapshot));
    }

    #[test]
    fn last_update_never_moves_backwards() {
        let mut b = book();
        b.apply_delta(Side::Buy, p("0.40"), sz("1"), T(900)).unwrap();
        assert_eq!(b.last_update(), Some(T(1_000)));
    }

    #[test]
    fn depth_and_size_within() {
        let b = book();
        assert_eq!(
            b.depth(2),
            Depth { bids: vec![lv("0.48", "30"), lv("0.47", "50")], asks: vec![lv("0.5", "20"), lv("0.51", "30")] }
        );
        assert_eq!(b.size_within(Side::Buy, 2), sz("80"));
        assert_eq!(b.size_within(Side::Sell, 10), sz("150"));
        assert_eq!(b.size_within(Side::Sell, 0), Size::ZERO);
        assert_eq!(b.level_count(Side::Sell), 3);
    }

    /// Buying 50 shares: 20 at 0.50 and 30 at 0.51 = 10 + 15.3 = 25.3 pUSD.
    #[test]
    fn cost_to_buy_fifty_across_two_levels() {
        let s = book().sweep(Side::Buy, sz("50"));
        assert_eq!(s.filled, sz("50"));
        assert_eq!(s.extent, FillExtent::Full);
        assert_eq!(s.cost(), Usdc::parse("25.3").unwrap());
        assert_eq!(s.worst_price, Some(p("0.51")));
        assert_eq!(s.levels_touched, 2);
        let avg = s.average_price().unwrap();
        assert_eq!(avg.to_decimal(), "0.506".parse().unwrap());
        assert_eq!(avg.cmp_price(p("0.50")), Ordering::Greater);
        assert_eq!(avg.cmp_price(p("0.51")), Ordering::Less);
    }

    /// Selling 40 shares: 30 at 0.48 and 10 at 0.47 = 14.4 + 4.7 = 19.1 pUSD.
    #[test]
    fn proceeds_of_selling_forty() {
        let s = book().sweep(Side::Sell, sz("40"));
        assert_eq!(s.cost(), Usdc::parse("19.1").unwrap());
        assert_eq!(s.worst_price, Some(p("0.47")));
        assert_eq!(s.average_price().unwrap().to_decimal(), "0.4775".parse().unwrap());
        assert!(s.is_full());
    }

    #[test]
    fn sweep_runs_out_and_respects_limits() {
        let b = book();
        let s = b.sweep(Side::Buy, sz("1000"));
        assert_eq!((s.extent, s.filled, s.levels_touched), (FillExtent::Partial, sz("150"), 3));
        // 20 x 0.50 + 30 x 0.51 + 100 x 0.55 = 80.3
        assert_eq!(s.cost(), Usdc::parse("80.3").unwrap());
        let s = b.sweep_limited(Side::Buy, sz("100"), Some(p("0.51")));
        assert_eq!((s.extent, s.filled, s.worst_price), (FillExtent::Partial, sz("50"), Some(p("0.51"))));
        let s = b.sweep_limited(Side::Sell, sz("10"), Some(p("0.49")));
        assert_eq!((s.extent, s.filled, s.worst_price), (FillExtent::Nothing, Size::ZERO, None));
        assert_eq!(s.average_price(), None);
        assert_eq!(s.cost(), Usdc::ZERO);
        let s = b.sweep(Side::Buy, Size::ZERO);
        assert_eq!((s.extent, s.levels_touched), (FillExtent::Full, 0));
    }

    #[test]
    fn cost_rounds_against_the_trader() {
        // 0.000001 shares at 0.55: a buyer pays 1 micro-pUSD, a seller receives 0.
        let mut b = OrderBook::new(token(), TickSize::Hundredth);
        b.apply_snapshot(&[lv("0.55", "1")], &[lv("0.55", "1")], T(0)).unwrap();
        let one = Size::from_micros(1);
        assert_eq!(b.sweep(Side::Buy, one).cost(), Usdc::from_micros(1));
        assert_eq!(b.sweep(Side::Sell, one).cost(), Usdc::ZERO);
        assert_eq!(b.sweep(Side::Buy, one).notional_exact, 5_500);
        // One third of a micro-pip cannot be written as a decimal; to_decimal rounds, cmp_price does not.
        let avg = AveragePrice { notional_exact: 10_001, size_micros: 3 };
        assert_eq!(avg.cmp_price(Price::from_pips(3_333).unwrap()), Ordering::Greater);
        assert_eq!(avg.cmp_price(Price::from_pips(3_334).unwrap()), Ordering::Less);
        assert!(avg.to_decimal().to_string().starts_with("0.33336666"));
    }

    #[test]
    fn touch_check_compares_with_the_exchange() {
        let b = book();
        assert_eq!(b.check_touch(Some(p("0.48")), Some(p("0.5"))), TouchCheck::Agrees);
        assert_eq!(
            b.check_touch(Some(p("0.49")), None),
            TouchCheck::Disagrees { ours: (Some(p("0.48")), Some(p("0.5"))), theirs: (Some(p("0.49")), None) }
        );
    }
}
