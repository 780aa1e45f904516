//! [`ConfidenceTaker`]: buys the token the model favours when it is confident
//! and the price leaves an edge after fees; sells on take-profit, stop-loss,
//! time limit or market end.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::config::StrategyConfig;
use crate::amount::{Size, Usdc};
use crate::book::{AveragePrice, OrderBook};
use crate::clock::TimestampMs;
use crate::events::{ClientOrderId, DecisionContext, Fill, OrderIntent, OrderType, OrderUpdate};
use crate::fees::{FeeModel, break_even_probability};
use crate::ids::{ConditionId, TokenId};
use crate::order_amounts::{LOT_MICROS, OrderKind, share_step};
use crate::price::Price;
use crate::side::Side;

/// What the strategy sees at one sample of one market.
#[derive(Debug, Clone, Copy)]
pub struct StrategyInput<'a> {
    /// The engine clock at the sample.
    pub now: TimestampMs,
    pub market: &'a ConditionId,
    /// The UP token's book (its token is `up.token()`).
    pub up: &'a OrderBook,
    /// The DOWN token's book.
    pub down: &'a OrderBook,
    /// The model's probability that the UP token's mid moves up within the
    /// label horizon. Confidence is `|2 p_up - 1|`.
    pub p_up: f64,
    /// When the market ends (trading stops).
    pub market_end: TimestampMs,
    /// Collateral free for new entries.
    pub available_capital: Usdc,
    /// The market's fee schedule.
    pub fee: &'a FeeModel,
    /// The market's minimum order size (`min_order_size`), in shares.
    pub min_order_size: Size,
}

/// Why an open position is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The market ends within `exit_before_end_ms`.
    MarketEnd,
    /// The best bid fell `stop_loss_ticks` below the entry price.
    StopLoss,
    /// The best bid rose `take_profit_ticks` above the entry price.
    TakeProfit,
    /// `max_hold_ms` passed since the entry decision.
    TimeLimit,
}

/// Why the strategy did not place an order at this sample (journaled, so a
/// report can say how often each rule held the strategy back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PassReason {
    /// `p_up` was NaN, infinite or outside [0, 1].
    InvalidPrediction {
        p_up: String,
    },
    LowConfidence {
        confidence: Decimal,
        threshold: Decimal,
    },
    /// The market ends within `exit_before_end_ms`: an entry would have to exit at once.
    TooCloseToEnd {
        ms_to_end: i64,
    },
    /// No ask on the token the model favours.
    NoAsk {
        token: TokenId,
    },
    /// The win probability does not clear break-even plus `min_edge` at the best ask.
    NoEdge {
        probability: Decimal,
        break_even: Decimal,
        min_edge: Decimal,
        best_ask: Price,
    },
    /// The affordable size (after lot rounding) is under the market's minimum.
    BelowMinimumSize {
        size: Size,
        minimum: Size,
    },
    /// An order of this market's position is in flight.
    OrderPending,
    /// A position is open and no exit rule fired.
    Holding,
    /// An exit is due but the token has no bid.
    NoBid {
        reason: ExitReason,
    },
    /// An exit is due but the best bid is under `exit_price_floor`.
    BelowFloor {
        reason: ExitReason,
        best_bid: Price,
        floor: Price,
    },
    /// An exit is due but less than the exchange's exact-amount step at the
    /// bid is held (`minimum`: a lot of 0.01 share on a 0.01 tick, more on
    /// finer ones): it stays held, for a later bid or the resolution.
    ExitBelowMinimum {
        reason: ExitReason,
        held: Size,
        minimum: Size,
    },
    /// Neither book is for the position's token (a caller bug).
    NoBookForPosition {
        token: TokenId,
    },
}

/// What one sample asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StrategyAction {
    Enter { intent: OrderIntent },
    Exit { intent: OrderIntent, reason: ExitReason },
    Pass { reason: PassReason },
}

/// A strategy: decides on samples, learns of its orders' fate from fills and
/// order updates.
pub trait Strategy {
    /// Decides at one sample of one market.
    fn on_sample(&mut self, s: &StrategyInput<'_>) -> Vec<StrategyAction>;
    /// A trade in one of the strategy's orders (others are ignored).
    fn on_fill(&mut self, fill: &Fill);
    /// A change of state of one of the strategy's orders (others are ignored).
    fn on_order_update(&mut self, update: &OrderUpdate);
    /// The market resolved: its shares were paid out, the position is closed.
    fn on_market_resolved(&mut self, market: &ConditionId);
}

/// One market's position as the strategy tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionView {
    pub token: TokenId,
    /// Engine time of the entry decision (the time limit counts from here,
    /// as the model's horizon does).
    pub decided_at: TimestampMs,
    /// Shares held now (bought minus sold).
    pub held: Size,
    /// Gross shares bought and their exact average price.
    pub average_entry: Option<AveragePrice>,
    /// The entry or exit order in flight, if any.
    pub working: Option<ClientOrderId>,
}

#[derive(Debug, Clone)]
struct OrderRecord {
    market: ConditionId,
    token: TokenId,
    decided_at: TimestampMs,
}

/// The one strategy: see the module docs and [`StrategyConfig`].
#[derive(Debug, Clone)]
pub struct ConfidenceTaker {
    config: StrategyConfig,
    positions: BTreeMap<ConditionId, PositionView>,
    orders: BTreeMap<ClientOrderId, OrderRecord>,
    /// Intents emitted so far: part of every client order id.
    counter: u64,
    /// The run whose orders these are: part of every client order id, so
    /// runs sharing a journal (a rerun, a restart) never reuse an id, while
    /// the same input replayed into a new journal gives the same ids.
    run: Option<i64>,
}

impl ConfidenceTaker {
    /// A strategy with a validated config.
    pub fn new(config: StrategyConfig) -> Result<ConfidenceTaker, super::StrategyConfigError> {
        config.validate()?;
        Ok(ConfidenceTaker { config, positions: BTreeMap::new(), orders: BTreeMap::new(), counter: 0, run: None })
    }

    /// The same strategy placing orders for journal run `run`: every client
    /// order id starts `r{run}-`.
    pub fn for_run(mut self, run: i64) -> ConfidenceTaker {
        self.run = Some(run);
        self
    }

    pub fn config(&self) -> &StrategyConfig {
        &self.config
    }

    /// The market's position, pending or open.
    pub fn position(&self, market: &ConditionId) -> Option<&PositionView> {
        self.positions.get(market)
    }

    /// `[r{run}-]{en|ex}-{first 16 hex of market}-{now}-{counter}`: unique
    /// within a journal (the run and the counter are), and the same for the
    /// same inputs. Ids are at most 64 characters: with absurdly large
    /// numbers the market part shrinks, then the time goes; the run and the
    /// counter always stay.
    fn next_id(&mut self, tag: &str, market: &ConditionId, now: TimestampMs) -> ClientOrderId {
        self.counter += 1;
        let hex = market.to_string();
        let run = self.run.map(|r| format!("r{r}-")).unwrap_or_default();
        let counter = self.counter;
        let candidates = [
            format!("{run}{tag}-{}-{}-{counter}", hex.get(2..18).unwrap_or(&hex), now.millis()),
            format!("{run}{tag}-{}-{}-{counter}", hex.get(2..10).unwrap_or(&hex), now.millis()),
            format!("{run}{tag}-{counter}"),
        ];
        candidates
            .into_iter()
            .find_map(|id| ClientOrderId::new(id).ok())
            .expect("r, a run, a tag and a counter are at most 44 printable characters")
    }

    fn enter(&mut self, s: &StrategyInput<'_>) -> StrategyAction {
        let pass = |reason| StrategyAction::Pass { reason };
        let cfg = &self.config;
        let Some(p_up) = probability(s.p_up) else {
            return pass(PassReason::InvalidPrediction { p_up: s.p_up.to_string() });
        };
        let confidence = (p_up * Decimal::TWO - Decimal::ONE).abs();
        if confidence < cfg.confidence_threshold {
            return pass(PassReason::LowConfidence { confidence, threshold: cfg.confidence_threshold });
        }
        let ms_to_end = s.market_end.millis_since(s.now);
        if ms_to_end <= cfg.exit_before_end_ms {
            return pass(PassReason::TooCloseToEnd { ms_to_end });
        }
        // confidence > 0 here, so p_up != 0.5.
        let (book, q) = if p_up > Decimal::new(5, 1) { (s.up, p_up) } else { (s.down, Decimal::ONE - p_up) };
        let Some(best_ask) = book.best_ask() else {
            return pass(PassReason::NoAsk { token: book.token().clone() });
        };
        let clears = |price: Price| q > break_even_probability(Side::Buy, price, s.fee) + cfg.min_edge;
        if !clears(best_ask.price) {
            return pass(PassReason::NoEdge {
                probability: q,
                break_even: break_even_probability(Side::Buy, best_ask.price, s.fee),
                min_edge: cfg.min_edge,
                best_ask: best_ask.price,
            });
        }
        let budget = entry_budget(s.available_capital, cfg.capital_fraction, cfg.max_notional);
        let order_type = OrderType::from(cfg.entry_order_type);
        let sized = entry_size(book, budget, OrderKind::of(order_type), s.fee, clears);
        let Some(limit) = sized.limit.filter(|_| !sized.size.is_zero() && sized.size >= s.min_order_size) else {
            return pass(PassReason::BelowMinimumSize { size: sized.size, minimum: s.min_order_size });
        };
        let size = sized.size;
        let decision = DecisionContext {
            probability: Some(q),
            confidence: Some(confidence),
            expected_value: Some(expected_value(book, size, q, s.fee)),
            break_even_probability: Some(break_even_probability(Side::Buy, limit, s.fee)),
            size_before_exact_amounts: (sized.lots != size).then_some(sized.lots),
        };
        let token = book.token().clone();
        let id = self.next_id("en", s.market, s.now);
        self.orders.insert(id.clone(), OrderRecord { market: *s.market, token: token.clone(), decided_at: s.now });
        self.positions.insert(
            *s.market,
            PositionView {
                token: token.clone(),
                decided_at: s.now,
                held: Size::ZERO,
                average_entry: None,
                working: Some(id.clone()),
            },
        );
        StrategyAction::Enter {
            intent: OrderIntent {
                client_order_id: id,
                token,
                side: Side::Buy,
                limit_price: limit,
                size,
                order_type,
                post_only: false,
                expires_at: None,
                decision,
            },
        }
    }

    fn exit(&mut self, s: &StrategyInput<'_>, position: PositionView) -> StrategyAction {
        let pass = |reason| StrategyAction::Pass { reason };
        let cfg = &self.config;
        let book = if s.up.token() == &position.token {
            s.up
        } else if s.down.token() == &position.token {
            s.down
        } else {
            return pass(PassReason::NoBookForPosition { token: position.token });
        };
        let best_bid = book.best_bid().map(|l| l.price);
        let tick = u128::from(book.tick_size().pips());
        let ms_to_end = s.market_end.millis_since(s.now);
        let price_rule = match (best_bid, position.average_entry) {
            (Some(bid), Some(avg)) => {
                let bid_value = u128::from(bid.pips()) * u128::from(avg.size_micros);
                let ticks = |n: u32| u128::from(n) * tick * u128::from(avg.size_micros);
                if bid_value + ticks(cfg.stop_loss_ticks) <= avg.notional_exact {
                    Some(ExitReason::StopLoss)
                } else if bid_value >= avg.notional_exact + ticks(cfg.take_profit_ticks) {
                    Some(ExitReason::TakeProfit)
                } else {
                    None
                }
            }
            _ => None,
        };
        let reason = if ms_to_end <= cfg.exit_before_end_ms {
            ExitReason::MarketEnd
        } else if let Some(r) = price_rule {
            r
        } else if s.now.millis_since(position.decided_at) >= cfg.max_hold_ms {
            ExitReason::TimeLimit
        } else {
            return pass(PassReason::Holding);
        };
        let Some(bid) = best_bid else {
            return pass(PassReason::NoBid { reason });
        };
        if bid < cfg.exit_price_floor {
            return pass(PassReason::BelowFloor { reason, best_bid: bid, floor: cfg.exit_price_floor });
        }
        // Exits are FAK: the market's share minimum binds resting orders
        // only, so anything from one step up can be sold. The step is the
        // exchange's exact-amount step at the bid (a lot on a 0.01 tick, up
        // to a share on a 0.0001 tick); what is left under it stays held.
        let step = share_step(OrderKind::Market, Side::Sell, bid, book.tick_size());
        let lots = position.held.round_down_to(LOT_MICROS);
        let size = position.held.round_down_to(step.micros());
        if size.is_zero() {
            return pass(PassReason::ExitBelowMinimum { reason, held: position.held, minimum: step });
        }
        let id = self.next_id("ex", s.market, s.now);
        self.orders.insert(
            id.clone(),
            OrderRecord { market: *s.market, token: position.token.clone(), decided_at: position.decided_at },
        );
        if let Some(p) = self.positions.get_mut(s.market) {
            p.working = Some(id.clone());
        }
        StrategyAction::Exit {
            intent: OrderIntent {
                client_order_id: id,
                token: position.token,
                side: Side::Sell,
                limit_price: bid,
                size,
                order_type: OrderType::Fak,
                post_only: false,
                expires_at: None,
                decision: DecisionContext {
                    size_before_exact_amounts: (lots != size).then_some(lots),
                    ..DecisionContext::default()
                },
            },
            reason,
        }
    }
}

impl Strategy for ConfidenceTaker {
    fn on_sample(&mut self, s: &StrategyInput<'_>) -> Vec<StrategyAction> {
        let action = match self.positions.get(s.market) {
            Some(p) if p.working.is_some() => StrategyAction::Pass { reason: PassReason::OrderPending },
            Some(p) => {
                let p = p.clone();
                self.exit(s, p)
            }
            None => self.enter(s),
        };
        vec![action]
    }

    fn on_fill(&mut self, fill: &Fill) {
        let Some(record) = fill.client_order_id.as_ref().and_then(|id| self.orders.get(id)) else {
            return;
        };
        if fill.token != record.token {
            return;
        }
        match fill.side {
            Side::Buy => {
                // The order-update that ended the entry may have arrived first
                // and closed the empty position: the fill reopens it.
                let position = self.positions.entry(record.market).or_insert_with(|| PositionView {
                    token: record.token.clone(),
                    decided_at: record.decided_at,
                    held: Size::ZERO,
                    average_entry: None,
                    working: None,
                });
                position.held += fill.size;
                let (notional, micros) = position.average_entry.map_or((0, 0), |a| (a.notional_exact, a.size_micros));
                let micros = micros + fill.size.micros();
                if micros > 0 {
                    position.average_entry = Some(AveragePrice {
                        notional_exact: notional + fill.size.notional_exact(fill.price),
                        size_micros: micros,
                    });
                }
            }
            Side::Sell => {
                let market = record.market;
                if let Some(position) = self.positions.get_mut(&market) {
                    position.held = position.held.saturating_sub(fill.size);
                    if position.held.is_zero() && position.working.is_none() {
                        self.positions.remove(&market);
                    }
                }
            }
        }
    }

    fn on_order_update(&mut self, update: &OrderUpdate) {
        if !update.status.is_terminal() {
            return;
        }
        let Some(record) = self.orders.get(&update.client_order_id) else {
            return;
        };
        let market = record.market;
        if let Some(position) = self.positions.get_mut(&market)
            && position.working.as_ref() == Some(&update.client_order_id)
        {
            position.working = None;
            // Under a lot cannot be sold (the exchange can fill a BUY with
            // shares finer than a lot): the position is done, the dust is
            // paid out at resolution.
            if position.held.micros() < LOT_MICROS {
                self.positions.remove(&market);
            }
        }
    }

    fn on_market_resolved(&mut self, market: &ConditionId) {
        self.positions.remove(market);
    }
}

/// An entry's size and limit, and the size in lots before the exchange's
/// exact-amount step cut it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntrySize {
    size: Size,
    limit: Option<Price>,
    lots: Size,
}

/// The largest entry the budget and the book allow. Each ask level whose
/// price clears the edge is a candidate limit L: the order can buy what the
/// levels up to L hold and what the budget covers at L (the risk gate
/// commits `L x size` plus the taker fee at L, paid in pUSD on top), in
/// whole steps of exact amounts at L ([`share_step`]). The largest size
/// wins, the lower limit on a tie; a limit above the worst level the size
/// needs only means the fills come cheaper. A level that does not clear the
/// edge ends the walk: it would make the whole order worse.
fn entry_size(
    book: &OrderBook,
    budget: Usdc,
    kind: OrderKind,
    fee: &FeeModel,
    clears: impl Fn(Price) -> bool,
) -> EntrySize {
    let tick = book.tick_size();
    let mut best = EntrySize { size: Size::ZERO, limit: None, lots: Size::ZERO };
    let mut depth = Size::ZERO;
    for level in book.levels(Side::Sell) {
        if !clears(level.price) {
            break;
        }
        depth += level.size;
        let lots = depth.min(affordable_lots(budget, level.price, fee)).round_down_to(LOT_MICROS);
        let size = lots.round_down_to(share_step(kind, Side::Buy, level.price, tick).micros());
        if best.limit.is_none() || size > best.size {
            best = EntrySize { size, limit: Some(level.price), lots };
        }
    }
    best
}

/// The model's probability as an exact decimal, if it is one.
fn probability(p: f64) -> Option<Decimal> {
    if !p.is_finite() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    // `try_from` keeps the shortest decimal that reads back as `p` (0.7, not
    // 0.69999...), so a threshold of 0.4 means what it says.
    Decimal::try_from(p).ok()
}

/// `min(available x fraction, max_notional)`, rounded down to a micro-pUSD;
/// zero when nothing is available.
fn entry_budget(available: Usdc, fraction: Decimal, max_notional: Usdc) -> Usdc {
    if available <= Usdc::ZERO {
        return Usdc::ZERO;
    }
    let share = (available.to_decimal() * fraction).round_dp_with_strategy(6, RoundingStrategy::ToZero);
    let share = Usdc::try_from_decimal(share).unwrap_or(max_notional);
    share.min(max_notional)
}

/// The most whole lots a taker BUY limited at `limit` can buy within
/// `budget`, its pUSD fee included ([`FeeModel::max_buy_cost`]).
fn affordable_lots(budget: Usdc, limit: Price, fee: &FeeModel) -> Size {
    if budget <= Usdc::ZERO {
        return Size::ZERO;
    }
    // A first guess from the cost of a share with its fee; the exact cost
    // rounds, so step down a lot at a time until it fits.
    let per_share = limit.to_decimal() + fee.fee_per_share(limit);
    let guess = (budget.to_decimal() / per_share * Decimal::from(crate::amount::MICROS_PER_UNIT)).trunc();
    let mut lots = Size::from_micros(u64::try_from(guess).unwrap_or(0)).round_down_to(LOT_MICROS);
    while !lots.is_zero() && fee.max_buy_cost(limit, lots, true) > budget {
        lots = lots.saturating_sub(Size::from_micros(LOT_MICROS));
    }
    lots
}

/// Expected value in pUSD of buying `size` at the book's asks and holding to
/// resolution with win probability `q`: per share at price p with fee f per
/// share (pUSD on top, every share received), `q - p - f`.
fn expected_value(book: &OrderBook, size: Size, q: Decimal, fee: &FeeModel) -> Decimal {
    let mut remaining = size.micros();
    let mut ev = Decimal::ZERO;
    for level in book.levels(Side::Sell) {
        if remaining == 0 {
            break;
        }
        let take = remaining.min(level.size.micros());
        remaining -= take;
        let per_share = q - level.price.to_decimal() - fee.fee_per_share(level.price);
        ev += per_share * Size::from_micros(take).to_decimal();
    }
    ev
}
