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

use super::Journal;
pub use pmbot_rows::{Committed, JournalObserver};

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
