//! Price-time matching, planned before anything changes.
//!
//! Invariant: [`plan`] only reads. It walks the levels a taker can reach,
//! best price first and each level in arrival order, and lists exactly the
//! fills (and self-trade cancels) that executing the order would perform,
//! with every collateral amount. Submission checks the plan (FOK fully
//! fillable, FAK not empty, balance enough for the planned payments) and only
//! then executes it, so a refused order changes nothing.
//!
//! Orders whose GTD expiry has passed but which `tick` has not removed yet are
//! invisible to the plan; the submission removes them before executing.

use std::ops::Range;

use alloy_primitives::Address;
use pmbot_core::Side;

use super::book::{Book, BookSide, Outcome};
use super::config::SelfTradePolicy;
use super::orders::OrderStore;
use super::settlement::{self, Kind};

/// The incoming order, in the book's terms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taker {
    pub(crate) outcome: Outcome,
    pub(crate) side: Side,
    /// Where it would rest; it matches against the other side.
    pub(crate) book_side: BookSide,
    /// Limit price in primary terms.
    pub(crate) limit: u16,
    pub(crate) size: u64,
    pub(crate) maker: Address,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Fill `x` shares against resting order `maker`, which pays (BUY) or
    /// receives (SELL) `maker_collateral`.
    Fill { maker: u64, x: u64, maker_collateral: u64, kind: Kind },
    /// Cancel the taker funder's own resting order (self-trade policy).
    CancelOwn(u64),
}

/// The steps at one price level (primary terms); one trade if `filled > 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedLevel {
    pub(crate) price: u16,
    pub(crate) steps: Range<usize>,
    pub(crate) filled: u64,
    /// Collateral the taker pays (BUY) or receives before fees (SELL).
    pub(crate) taker_collateral: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) levels: Vec<PlannedLevel>,
    pub(crate) filled: u64,
    pub(crate) taker_collateral: u64,
    /// Some live order was within the taker's limit.
    pub(crate) crosses: bool,
    /// Matching stopped at the taker's own order (`CancelTaker`).
    pub(crate) self_stop: bool,
}

/// What executing `taker` against `book` at `now_ms` would do.
pub(crate) fn plan(book: &Book, orders: &OrderStore, taker: &Taker, now_ms: i64, policy: SelfTradePolicy) -> Plan {
    let mut plan = Plan::default();
    'levels: for (&price, level) in book.crossing(taker.book_side, taker.limit) {
        let start = plan.steps.len();
        let mut filled = 0;
        let mut taker_collateral = 0;
        let mut done = false;
        for seq in &level.queue {
            let Some(maker) = orders.resting.get(seq).filter(|r| !r.is_expired(now_ms)) else {
                continue;
            };
            plan.crosses = true;
            if maker.maker == taker.maker {
                match policy {
                    SelfTradePolicy::Allow => {}
                    SelfTradePolicy::CancelResting => {
                        plan.steps.push(Step::CancelOwn(*seq));
                        continue;
                    }
                    SelfTradePolicy::CancelTaker => {
                        plan.self_stop = true;
                        done = true;
                        break;
                    }
                }
            }
            let x = maker.remaining.min(taker.size - plan.filled);
            let kind = settlement::kind(taker.outcome, taker.side, maker.outcome, maker.side);
            let maker_collateral = settlement::maker_collateral(maker.side, maker.price.pips(), maker.rest_filled, x);
            taker_collateral += settlement::taker_collateral(kind, x, maker_collateral);
            plan.steps.push(Step::Fill { maker: *seq, x, maker_collateral, kind });
            filled += x;
            plan.filled += x;
            if plan.filled == taker.size {
                done = true;
                break;
            }
        }
        if plan.steps.len() > start {
            plan.taker_collateral += taker_collateral;
            plan.levels.push(PlannedLevel { price, steps: start..plan.steps.len(), filled, taker_collateral });
        }
        if done {
            break 'levels;
        }
    }
    plan
}

/// Whether any live order lies within `limit` of a taker resting on
/// `book_side` (the post-only test).
pub(crate) fn crosses(book: &Book, orders: &OrderStore, book_side: BookSide, limit: u16, now_ms: i64) -> bool {
    book.crossing(book_side, limit)
        .any(|(_, level)| level.queue.iter().any(|seq| orders.resting.get(seq).is_some_and(|r| !r.is_expired(now_ms))))
}
