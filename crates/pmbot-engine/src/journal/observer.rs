//! What the journal tells the monitoring side after each commit.
//!
//! Invariant: an observer hears of a write only after it committed, exactly
//! once, in commit order, and never of a write that failed or changed
//! nothing (a fill already recorded). So counters kept by an observer (the
//! metrics) agree with the journal's rows by construction.
//!
//! The observer runs inside the write call, under the journal's lock: it must
//! be quick and must not block (count, format a log line, hand an alert to a
//! bounded queue), and it cannot write to the journal itself.

use pmbot_core::{Fill, OrderIntent, OrderUpdate, TimestampMs};

use super::{EngineRow, EventSource, Journal, OrderOutcome, PreparedOrder, RunStart};

/// One committed write.
#[derive(Debug, Clone, Copy)]
pub enum Committed<'a> {
    /// Engine rows written together (decisions, trades, payouts, marks, run orders).
    Rows(&'a [EngineRow]),
    /// An order recorded before sending: new, or a resend of the same order.
    Order {
        order: &'a PreparedOrder,
        outcome: OrderOutcome,
    },
    Update {
        update: &'a OrderUpdate,
        source: EventSource,
    },
    /// A fill recorded for the first time.
    Fill(&'a Fill),
    /// An intent refused before it was sent (the gateway's checks).
    Refusal {
        intent: &'a OrderIntent,
        reason: &'a str,
        at: TimestampMs,
    },
    Note {
        kind: &'a str,
        detail: &'a serde_json::Value,
        at: TimestampMs,
    },
    RunStarted {
        id: i64,
        run: &'a RunStart,
    },
    RunEnded {
        run: i64,
        at: TimestampMs,
        reason: &'a str,
    },
}

/// Hears of every committed write. See the module docs for the rules.
pub trait JournalObserver: Send {
    fn committed(&mut self, what: Committed<'_>);
}

impl Journal {
    /// Tells `observer` of every write committed from now on (replacing any
    /// earlier observer).
    pub fn set_observer(&mut self, observer: Box<dyn JournalObserver>) {
        self.observer = Some(observer);
    }

    pub(super) fn notify(&mut self, what: Committed<'_>) {
        if let Some(o) = self.observer.as_mut() {
            o.committed(what);
        }
    }
}
