//! The observer hears of committed writes only, once each, in order.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::super::{Committed, EventSource, Journal, JournalObserver};
use super::*;

/// Writes down a line per committed write.
struct Tape(Arc<Mutex<Vec<String>>>);

impl JournalObserver for Tape {
    fn committed(&mut self, what: Committed<'_>) {
        let line = match what {
            Committed::Order { order, outcome } => format!("order {} {outcome:?}", order.client_order_id),
            Committed::Update { update, source } => {
                format!("update {} {:?} {source:?}", update.client_order_id, update.status)
            }
            Committed::Fill(f) => format!("fill {}", f.trade_id),
            Committed::Refusal { reason, .. } => format!("refusal {reason}"),
            Committed::Note { kind, .. } => format!("note {kind}"),
            Committed::Rows(rows) => format!("rows {}", rows.len()),
            Committed::RunStarted { id, .. } => format!("run {id}"),
            Committed::RunEnded { run, .. } => format!("end {run}"),
        };
        self.0.lock().unwrap().push(line);
    }
}

#[test]
fn only_committed_writes_are_told_once_each_in_order() {
    let s = Scratch::new("observer");
    let mut j = Journal::open(s.journal()).unwrap();
    let tape = Arc::new(Mutex::new(Vec::new()));
    j.set_observer(Box::new(Tape(tape.clone())));

    j.record_order(&order(1)).unwrap();
    j.record_order(&order(1)).unwrap(); // the same order again: a resend
    j.record_update(&update(1, OrderStatus::Acknowledged, "0", 10), EventSource::Rest, None).unwrap();
    j.record_fill(&fill(1, "t1", "4")).unwrap();
    j.record_fill(&fill(1, "t1", "4")).unwrap(); // already recorded: nothing changed
    j.record_note("kill_switch", &json!({"present": true}), TimestampMs(5)).unwrap();
    // Refused writes: none is told.
    assert!(j.record_note(" ", &json!({}), TimestampMs(6)).is_err());
    assert!(j.record_update(&update(9, OrderStatus::Acknowledged, "0", 11), EventSource::Rest, None).is_err());
    assert!(j.record_fill(&fill(1, "t1", "5")).is_err(), "a fill contradicting the record");
    let mut other = order(2);
    other.client_order_id = cid(1);
    assert!(j.record_order(&other).is_err());

    let seen = tape.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "order pmbot-000001 Recorded",
            "order pmbot-000001 Resend { attempt: 2 }",
            "update pmbot-000001 Acknowledged Rest",
            "fill t1",
            "note kill_switch",
        ]
    );
}
