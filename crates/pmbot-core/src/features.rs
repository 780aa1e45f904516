//! Order-book features for the model, computed incrementally from book and
//! trade events. One implementation serves live trading, replay and training.
//!
//! Invariant: **no look-ahead.** [`FeatureState::snapshot`] at time `t` is a
//! function of the events fed with times `<= t` only; it answers `None` when
//! asked about a time before the last event fed, rather than answer with
//! later information. Past mids and trade volumes are kept per *slot* of
//! `step_ms` of market time: slot `k` holds the state at the instant
//! `k * step_ms` (every event with time `<= k * step_ms` applied), so a
//! look-back to `t - L` reads the slot at or before `t - L`, never after it.
//!
//! Times are the events' receive times (market time), passed in; nothing here
//! reads a clock. Times never run backwards: an event older than the last one
//! fed counts at the last one's time.
//!
//! Cost: an update is O(1) amortised (it fills the slots elapsed since the
//! previous event, a constant number per unit of market time) and allocates
//! nothing; a snapshot is O(look-back slots) with no allocation.
//! `benches/features.rs` measures both.
//!
//! Features are `f64`: they are statistics for a model, computed from the
//! exact book, never used for what is ordered or owed.

mod ring;

use std::ops::Index;

use serde::{Deserialize, Serialize};

use crate::book::OrderBook;
use crate::clock::TimestampMs;
use crate::events::LastTrade;
use crate::ids::TokenId;
use crate::side::Side;

use ring::SlotRing;

/// The features, in the order of [`FEATURE_NAMES`] and of
/// [`FeatureVector::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Feature {
    /// (bid size - ask size) / (bid size + ask size) at the best level, in [-1, 1].
    ImbalanceL1,
    /// The same over the best 3 levels of each side.
    ImbalanceL3,
    /// The same over the best 5 levels of each side.
    ImbalanceL5,
    /// Size-weighted microprice minus mid, in ticks (= spread x L1 imbalance / 2).
    MicropriceMinusMidTicks,
    /// Best ask - best bid, in ticks.
    SpreadTicks,
    /// ln(1 + shares in the best 5 bid levels).
    LogDepthBidL5,
    /// ln(1 + shares in the best 5 ask levels).
    LogDepthAskL5,
    /// Mid now minus mid at the short look-back, in ticks.
    MidChangeShortTicks,
    /// Mid now minus mid at the medium look-back, in ticks.
    MidChangeMediumTicks,
    /// Mid now minus mid at the long look-back, in ticks.
    MidChangeLongTicks,
    /// (taker-buy size - taker-sell size) / total over the trade window; 0 when no trades.
    TradeFlowImbalance,
    /// 1 if any trade was seen in the trade window, else 0 (real data sets may have none).
    TradesSeen,
    /// Root mean square of the per-slot mid changes over the volatility window, in ticks.
    VolatilityTicks,
    /// The mid price as a probability in (0, 1).
    Mid,
    /// Minutes until the market's end (0 after it); 0 when the end is unknown.
    MinutesToEnd,
    /// 1 if the market's end time is known, else 0.
    EndKnown,
}

/// Number of features.
pub const FEATURE_COUNT: usize = 16;

impl Feature {
    /// Every feature, in vector order.
    pub const ALL: [Feature; FEATURE_COUNT] = [
        Feature::ImbalanceL1,
        Feature::ImbalanceL3,
        Feature::ImbalanceL5,
        Feature::MicropriceMinusMidTicks,
        Feature::SpreadTicks,
        Feature::LogDepthBidL5,
        Feature::LogDepthAskL5,
        Feature::MidChangeShortTicks,
        Feature::MidChangeMediumTicks,
        Feature::MidChangeLongTicks,
        Feature::TradeFlowImbalance,
        Feature::TradesSeen,
        Feature::VolatilityTicks,
        Feature::Mid,
        Feature::MinutesToEnd,
        Feature::EndKnown,
    ];

    /// The stable name a model file stores.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::ImbalanceL1 => "imbalance_l1",
            Feature::ImbalanceL3 => "imbalance_l3",
            Feature::ImbalanceL5 => "imbalance_l5",
            Feature::MicropriceMinusMidTicks => "microprice_minus_mid_ticks",
            Feature::SpreadTicks => "spread_ticks",
            Feature::LogDepthBidL5 => "log_depth_bid_l5",
            Feature::LogDepthAskL5 => "log_depth_ask_l5",
            Feature::MidChangeShortTicks => "mid_change_short_ticks",
            Feature::MidChangeMediumTicks => "mid_change_medium_ticks",
            Feature::MidChangeLongTicks => "mid_change_long_ticks",
            Feature::TradeFlowImbalance => "trade_flow_imbalance",
            Feature::TradesSeen => "trades_seen",
            Feature::VolatilityTicks => "volatility_ticks",
            Feature::Mid => "mid",
            Feature::MinutesToEnd => "minutes_to_end",
            Feature::EndKnown => "end_known",
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The feature names in vector order. A model file stores them and refuses
/// to load against a different list.
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = {
    let mut names = [""; FEATURE_COUNT];
    let mut i = 0;
    while i < FEATURE_COUNT {
        names[i] = Feature::ALL[i].name();
        i += 1;
    }
    names
};

/// The features at one instant, in [`FEATURE_NAMES`] order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureVector {
    pub values: [f64; FEATURE_COUNT],
}

impl FeatureVector {
    pub fn get(&self, f: Feature) -> f64 {
        self.values[f.index()]
    }
}

impl Index<Feature> for FeatureVector {
    type Output = f64;
    fn index(&self, f: Feature) -> &f64 {
        &self.values[f.index()]
    }
}

/// What turns a feature vector into P(the UP token's mid moves up within the
/// horizon). The model crate's logistic regression implements it; the engine
/// sees only this, so the pure core never depends on how a model is stored.
pub trait Predictor {
    /// P(up) in [0, 1], or why there is none (a non-finite input, a width
    /// mismatch).
    fn p_up(&self, features: &FeatureVector) -> Result<f64, String>;
}

/// How features are computed. Which features exist is fixed
/// ([`FEATURE_NAMES`]); this sets their time scales, so a model file should
/// store it beside the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureSpec {
    /// Resolution of the mid and trade history (ms); every window below is a
    /// whole number of steps.
    pub step_ms: i64,
    /// Short, medium and long mid-change look-backs (ms), ascending.
    pub lookbacks_ms: [i64; 3],
    /// Window of the volatility feature (ms).
    pub volatility_window_ms: i64,
    /// Window of the trade-flow features (ms).
    pub trade_window_ms: i64,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec {
            step_ms: 1_000,
            lookbacks_ms: [5_000, 15_000, 60_000],
            volatility_window_ms: 60_000,
            trade_window_ms: 60_000,
        }
    }
}

/// The most slots of history a spec may ask for (20 MB of history; 11 days at
/// one-second steps), far past any use, so a typo cannot exhaust memory.
const MAX_SLOTS: i64 = 1_000_000;

/// A [`FeatureSpec`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureSpecError {
    #[error("step_ms must be positive, got {0}")]
    Step(i64),
    #[error("{name} = {value} ms must be a positive multiple of step_ms = {step} ms")]
    NotWholeSteps { name: &'static str, value: i64, step: i64 },
    #[error("lookbacks_ms must be strictly ascending, got {0:?}")]
    LookbacksOrder([i64; 3]),
    #[error("windows of {slots} slots exceed the limit of {MAX_SLOTS}")]
    TooLong { slots: i64 },
}

impl FeatureSpec {
    pub fn validate(&self) -> Result<(), FeatureSpecError> {
        let step = self.step_ms;
        if step <= 0 {
            return Err(FeatureSpecError::Step(step));
        }
        let windows = [
            ("lookbacks_ms[0]", self.lookbacks_ms[0]),
            ("lookbacks_ms[1]", self.lookbacks_ms[1]),
            ("lookbacks_ms[2]", self.lookbacks_ms[2]),
            ("volatility_window_ms", self.volatility_window_ms),
            ("trade_window_ms", self.trade_window_ms),
        ];
        for (name, value) in windows {
            if value <= 0 || value % step != 0 {
                return Err(FeatureSpecError::NotWholeSteps { name, value, step });
            }
        }
        if !self.lookbacks_ms.is_sorted_by(|a, b| a < b) {
            return Err(FeatureSpecError::LookbacksOrder(self.lookbacks_ms));
        }
        let slots = self.history_slots();
        if slots > MAX_SLOTS {
            return Err(FeatureSpecError::TooLong { slots });
        }
        Ok(())
    }

    /// Slots of history a snapshot may read back: the longest window, plus
    /// the slot before it (the volatility's first difference).
    fn history_slots(&self) -> i64 {
        let longest = self.lookbacks_ms[2].max(self.volatility_window_ms).max(self.trade_window_ms);
        longest / self.step_ms + 1
    }

    /// Market time a token needs after its first two-sided book before its
    /// first snapshot (every look-back then reaches a known mid).
    pub fn warmup_ms(&self) -> i64 {
        self.lookbacks_ms[2].max(self.volatility_window_ms)
    }
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureUpdate {
    /// Taken into account.
    Applied,
    /// A book that is not two-sided (or is crossed): remembered as "no
    /// features now"; the mid history keeps the last two-sided mid.
    NotTwoSided,
    /// The event is for another token; nothing changed.
    WrongToken,
}

/// What the last book said, computed when it arrived so a snapshot is cheap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BookFeatures {
    imbalance: [f64; 3],
    spread_ticks: f64,
    log_depth_bid: f64,
    log_depth_ask: f64,
    /// Best bid + best ask, in pips: twice the mid, exact.
    mid2_pips: u32,
    tick_pips: u16,
}

/// The incremental feature state of one token.
#[derive(Debug, Clone)]
pub struct FeatureState {
    spec: FeatureSpec,
    token: TokenId,
    end_time: Option<TimestampMs>,
    history: SlotRing,
    book: Option<BookFeatures>,
    last_event: Option<TimestampMs>,
}

impl FeatureState {
    /// A state for `token`, whose market ends at `end_time` if known.
    pub fn new(
        spec: FeatureSpec,
        token: TokenId,
        end_time: Option<TimestampMs>,
    ) -> Result<FeatureState, FeatureSpecError> {
        spec.validate()?;
        let slots = usize::try_from(spec.history_slots() + 1).expect("validated: at most MAX_SLOTS + 1");
        Ok(FeatureState {
            history: SlotRing::new(spec.step_ms, slots),
            spec,
            token,
            end_time,
            book: None,
            last_event: None,
        })
    }

    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    pub fn token(&self) -> &TokenId {
        &self.token
    }

    /// The time of the last event fed (after clamping), if any.
    pub fn last_event(&self) -> Option<TimestampMs> {
        self.last_event
    }

    /// The market's end time, when it becomes known later.
    pub fn set_end_time(&mut self, end_time: Option<TimestampMs>) {
        self.end_time = end_time;
    }

    /// Takes in `book` as it is after an update received at `at`.
    pub fn on_book(&mut self, book: &OrderBook, at: TimestampMs) -> FeatureUpdate {
        if *book.token() != self.token {
            return FeatureUpdate::WrongToken;
        }
        let at = self.advance(at);
        self.last_event = Some(at);
        self.book = book_features(book);
        match self.book {
            Some(f) => {
                self.history.set_mid(f.mid2_pips);
                FeatureUpdate::Applied
            }
            None => FeatureUpdate::NotTwoSided,
        }
    }

    /// Takes in a trade (`last_trade_price`) of this token.
    pub fn on_trade(&mut self, trade: &LastTrade) -> FeatureUpdate {
        if trade.token != self.token {
            return FeatureUpdate::WrongToken;
        }
        let at = self.advance(trade.time.received);
        self.history.add_trade(trade.side, trade.size.micros());
        self.last_event = Some(at);
        FeatureUpdate::Applied
    }

    /// Brings the history up to `at` (clamped to the last event's time).
    fn advance(&mut self, at: TimestampMs) -> TimestampMs {
        let at = self.last_event.map_or(at, |last| last.max(at));
        self.history.advance_to(at.millis());
        at
    }

    /// The features at `at`: `None` while the last book is not two-sided,
    /// before the warm-up is over (a look-back reaches before the first
    /// two-sided book), or when `at` is before the last event fed.
    pub fn snapshot(&self, at: TimestampMs) -> Option<FeatureVector> {
        if self.last_event.is_none_or(|last| at < last) {
            return None;
        }
        let book = self.book?;
        let step = self.spec.step_ms;
        let now_slot = at.millis().div_euclid(step);
        let per_tick = 2.0 * f64::from(book.tick_pips);
        let mid2 = i64::from(book.mid2_pips);

        let mut changes = [0.0; 3];
        for (change, lookback) in changes.iter_mut().zip(self.spec.lookbacks_ms) {
            let then = self.history.mid2_at(now_slot - lookback / step)?;
            *change = (mid2 - i64::from(then)) as f64 / per_tick;
        }

        let vol_slots = self.spec.volatility_window_ms / step;
        let sum_sq = self.history.sum_sq_mid_changes(now_slot, vol_slots)?;
        let volatility = (sum_sq as f64 / vol_slots as f64).sqrt() / per_tick;

        let (buy, sell) = self.history.trade_volume(now_slot, self.spec.trade_window_ms / step);
        let total = buy + sell;
        let (flow, seen) = if total == 0 { (0.0, 0.0) } else { ((buy as f64 - sell as f64) / total as f64, 1.0) };

        let (minutes_to_end, end_known) = match self.end_time {
            Some(end) => (end.millis_since(at).max(0) as f64 / 60_000.0, 1.0),
            None => (0.0, 0.0),
        };

        let mut v = [0.0; FEATURE_COUNT];
        v[Feature::ImbalanceL1.index()] = book.imbalance[0];
        v[Feature::ImbalanceL3.index()] = book.imbalance[1];
        v[Feature::ImbalanceL5.index()] = book.imbalance[2];
        v[Feature::MicropriceMinusMidTicks.index()] = book.spread_ticks * book.imbalance[0] / 2.0;
        v[Feature::SpreadTicks.index()] = book.spread_ticks;
        v[Feature::LogDepthBidL5.index()] = book.log_depth_bid;
        v[Feature::LogDepthAskL5.index()] = book.log_depth_ask;
        v[Feature::MidChangeShortTicks.index()] = changes[0];
        v[Feature::MidChangeMediumTicks.index()] = changes[1];
        v[Feature::MidChangeLongTicks.index()] = changes[2];
        v[Feature::TradeFlowImbalance.index()] = flow;
        v[Feature::TradesSeen.index()] = seen;
        v[Feature::VolatilityTicks.index()] = volatility;
        v[Feature::Mid.index()] = mid2 as f64 / 20_000.0;
        v[Feature::MinutesToEnd.index()] = minutes_to_end;
        v[Feature::EndKnown.index()] = end_known;
        Some(FeatureVector { values: v })
    }
}

/// `Some` only for a two-sided, uncrossed book.
fn book_features(book: &OrderBook) -> Option<BookFeatures> {
    let (bid, ask) = (book.best_bid()?, book.best_ask()?);
    if bid.price >= ask.price {
        return None;
    }
    let bids = cumulative_sizes(book, Side::Buy);
    let asks = cumulative_sizes(book, Side::Sell);
    let imbalance = |i: usize| (bids[i] as f64 - asks[i] as f64) / (bids[i] as f64 + asks[i] as f64);
    let tick_pips = book.tick_size().pips();
    let log_depth = |micros: u64| (micros as f64 / 1e6).ln_1p();
    Some(BookFeatures {
        imbalance: [imbalance(0), imbalance(1), imbalance(2)],
        spread_ticks: f64::from(ask.price.pips() - bid.price.pips()) / f64::from(tick_pips),
        log_depth_bid: log_depth(bids[2]),
        log_depth_ask: log_depth(asks[2]),
        mid2_pips: u32::from(bid.price.pips()) + u32::from(ask.price.pips()),
        tick_pips,
    })
}

/// Size (micro-shares) in the best 1, 3 and 5 levels of `side` (a side with
/// fewer levels counts what it has).
fn cumulative_sizes(book: &OrderBook, side: Side) -> [u64; 3] {
    let mut out = [0u64; 3];
    let mut sum = 0u64;
    for (i, level) in book.levels(side).take(5).enumerate() {
        sum = sum.saturating_add(level.size.micros());
        match i {
            0 => out = [sum; 3],
            1 | 2 => {
                out[1] = sum;
                out[2] = sum;
            }
            _ => out[2] = sum,
        }
    }
    out
}

#[cfg(test)]
mod tests;
