//! Orders, their status changes, refusals and notes.

use serde_json::json;

use super::super::{Conflict, EventSource, Journal, JournalError, LoggedOrder, OrderLog, OrderLogError, OrderOutcome};
use super::*;

fn open(s: &Scratch) -> Journal {
    Journal::open(s.journal()).unwrap()
}

#[test]
fn a_recorded_order_reads_back_exactly() {
    let s = Scratch::new("order-roundtrip");
    let mut j = open(&s);
    let mut gtd = order_of(2, TOKEN_B, Side::Sell, "0.047", "3.141592");
    gtd.intent.order_type = OrderType::Gtd;
    gtd.intent.post_only = true;
    gtd.intent.expires_at = Some(TimestampMs(1_700_000_900_000));
    assert_eq!(j.record_order(&order(1)).unwrap(), OrderOutcome::Recorded);
    assert_eq!(j.record_order(&gtd).unwrap(), OrderOutcome::Recorded);

    let all = j.orders().unwrap();
    assert_eq!(ids(&all), ["pmbot-000001", "pmbot-000002"]);
    assert_same_order(&all[0].prepared, &order(1));
    assert_same_order(&all[1].prepared, &gtd);
    for o in &all {
        assert_eq!(o.status, OrderStatus::New);
        assert_eq!(o.filled, Size::ZERO);
        assert_eq!(o.attempts, 1);
        assert_eq!(o.updated, o.prepared.created);
        assert_eq!(o.exchange_status, None);
        assert_eq!(o.last_error, None);
    }
    assert_same_order(&j.order(&cid(2)).unwrap().unwrap().prepared, &gtd);
    assert_same_order(&j.order_by_hash(&hash(2)).unwrap().unwrap().prepared, &gtd);
    assert!(j.order(&cid(3)).unwrap().is_none());
    assert!(j.order_by_hash(&hash(3)).unwrap().is_none());

    // The denormalised columns say what the intent says, in exact units.
    let row: (String, String, i64, i64, String, i64, Option<i64>, String) = j
        .connection()
        .query_row(
            "SELECT token, side, price_pips, size_micros, order_type, post_only, expires_ms, salt
             FROM orders WHERE client_order_id = 'pmbot-000002'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (
            TOKEN_B.to_string(),
            "SELL".into(),
            470,
            3_141_592,
            "GTD".into(),
            1,
            Some(1_700_000_900_000),
            (u64::MAX - 2).to_string()
        )
    );

    let events = j.order_events(&cid(1)).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, OrderStatus::New);
    assert_eq!(events[0].source, EventSource::Gateway);
    assert_eq!(events[0].at, order(1).created);
}

#[test]
fn the_same_signed_order_again_is_a_resend() {
    let s = Scratch::new("resend");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    j.record_update(&update(1, OrderStatus::Sent, "0", 10), EventSource::Gateway, None).unwrap();
    assert_eq!(j.record_order(&order(1)).unwrap(), OrderOutcome::Resend { attempt: 2 });
    assert_eq!(j.record_order(&order(1)).unwrap(), OrderOutcome::Resend { attempt: 3 });
    let o = j.order(&cid(1)).unwrap().unwrap();
    assert_eq!(o.attempts, 3);
    assert_eq!(o.status, OrderStatus::Sent, "a resend does not change the status");
    let reasons: Vec<Option<String>> = j.order_events(&cid(1)).unwrap().into_iter().map(|e| e.reason).collect();
    assert_eq!(reasons, [None, None, Some("send attempt 2".into()), Some("send attempt 3".into())]);
    assert_eq!(j.orders().unwrap().len(), 1);
}

#[test]
fn conflicting_orders_are_refused_and_change_nothing() {
    let s = Scratch::new("order-conflicts");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    let before = j.export_json().unwrap();

    let mut reused_id = order(2);
    reused_id.client_order_id = cid(1);
    reused_id.intent.client_order_id = cid(1);
    let mut reused_hash = order(2);
    reused_hash.order_hash = hash(1);
    let mut new_body = order(1);
    new_body.body.push(' ');
    let mut new_salt = order(1);
    new_salt.salt = 7;
    let mut new_intent = order(1);
    new_intent.intent.size = size("11");
    let mut mismatched = order(3);
    mismatched.intent.client_order_id = cid(4);

    let cases: [(&str, PreparedOrder, Conflict); 6] = [
        ("client id reused", reused_id, Conflict::ClientIdReused { recorded: hash(1) }),
        ("hash reused", reused_hash, Conflict::HashReused { recorded: cid(1) }),
        ("resend with another body", new_body, Conflict::ResendDiffers),
        ("resend with another salt", new_salt, Conflict::ResendDiffers),
        ("resend with another intent", new_intent, Conflict::ResendDiffers),
        ("intent of another order", mismatched, Conflict::IntentIdMismatch { intent: cid(4) }),
    ];
    for (name, o, want) in cases {
        match j.record_order(&o) {
            Err(JournalError::Conflict { conflict, order, path }) => {
                assert_eq!(conflict, want, "{name}");
                assert_eq!(order, o.client_order_id.to_string(), "{name}");
                assert_eq!(path, s.journal(), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(matches!(OrderLog::before_send(&mut j, &o), Err(OrderLogError::Storage(_))), "{name}");
    }
    assert_eq!(j.export_json().unwrap(), before, "a refused write changes nothing");
}

#[test]
fn updates_change_the_status_and_append_events() {
    let s = Scratch::new("updates");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    j.record_update(&update(1, OrderStatus::Sent, "0", 100), EventSource::Gateway, None).unwrap();
    j.record_update(&update(1, OrderStatus::Acknowledged, "0", 200), EventSource::Rest, Some("live")).unwrap();
    j.record_update(&update(1, OrderStatus::PartiallyFilled, "4.25", 300), EventSource::UserChannel, Some("MATCHED"))
        .unwrap();
    let mut cancel = update(1, OrderStatus::Cancelled, "4.25", 400);
    cancel.reason = Some("kill switch".into());
    cancel.order_id = None; // found by client order id alone
    j.record_update(&cancel, EventSource::Operator, None).unwrap();

    let o = j.order(&cid(1)).unwrap().unwrap();
    assert_eq!(o.status, OrderStatus::Cancelled);
    assert_eq!(o.filled, size("4.25"));
    assert_eq!(o.updated, TimestampMs(400));
    assert_eq!(o.exchange_status.as_deref(), Some("MATCHED"), "kept until the exchange says otherwise");
    assert_eq!(o.last_error, None, "a cancel's reason is not an error");

    let events = j.order_events(&cid(1)).unwrap();
    let got: Vec<_> = events.iter().map(|e| (e.status, e.filled, e.source, e.at.millis())).collect();
    assert_eq!(
        got,
        [
            (OrderStatus::New, Size::ZERO, EventSource::Gateway, order(1).created.millis()),
            (OrderStatus::Sent, Size::ZERO, EventSource::Gateway, 100),
            (OrderStatus::Acknowledged, Size::ZERO, EventSource::Rest, 200),
            (OrderStatus::PartiallyFilled, size("4.25"), EventSource::UserChannel, 300),
            (OrderStatus::Cancelled, size("4.25"), EventSource::Operator, 400),
        ]
    );
    assert_eq!(events[2].exchange_status.as_deref(), Some("live"));
    assert_eq!(events[4].reason.as_deref(), Some("kill switch"));
    assert!(events.iter().all(|e| e.client_order_id == cid(1)));
}

#[test]
fn rejections_and_unknown_states_keep_their_error() {
    let s = Scratch::new("last-error");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    let mut unknown = update(1, OrderStatus::UnknownPendingReconcile, "0", 10);
    unknown.reason = Some("timed out after 5s".into());
    j.record_update(&unknown, EventSource::Gateway, None).unwrap();
    assert_eq!(j.order(&cid(1)).unwrap().unwrap().last_error.as_deref(), Some("timed out after 5s"));
    let mut rejected = update(1, OrderStatus::Rejected, "0", 20);
    rejected.reason = Some("not enough balance / allowance".into());
    OrderLog::update(&mut j, &rejected).unwrap();
    let o = j.order(&cid(1)).unwrap().unwrap();
    assert_eq!(o.last_error.as_deref(), Some("not enough balance / allowance"));
    assert_eq!(o.status, OrderStatus::Rejected);
    assert_eq!(j.order_events(&cid(1)).unwrap().last().unwrap().source, EventSource::Gateway);
}

#[test]
fn an_update_is_found_by_order_id_when_the_client_id_is_unknown() {
    let s = Scratch::new("by-hash");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    let mut u = update(1, OrderStatus::Acknowledged, "0", 10);
    u.client_order_id = ClientOrderId::new("exchange-side-name").unwrap();
    j.record_update(&u, EventSource::Reconcile, None).unwrap();
    assert_eq!(j.order(&cid(1)).unwrap().unwrap().status, OrderStatus::Acknowledged);
    // Recorded under the journal's own client order id.
    assert_eq!(j.order_events(&cid(1)).unwrap().len(), 2);
}

#[test]
fn updates_for_unknown_or_mismatched_orders_are_errors() {
    let s = Scratch::new("update-errors");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    let before = j.export_json().unwrap();

    let e = j.record_update(&update(9, OrderStatus::Filled, "10", 10), EventSource::Gateway, None).unwrap_err();
    assert!(matches!(&e, JournalError::UnknownOrder { order, .. } if order.contains("pmbot-000009")), "{e}");
    let mut no_id = update(9, OrderStatus::Filled, "10", 10);
    no_id.order_id = None;
    let e = j.record_update(&no_id, EventSource::Gateway, None).unwrap_err();
    assert!(matches!(&e, JournalError::UnknownOrder { order, .. } if order == "pmbot-000009"), "{e}");
    assert!(
        matches!(OrderLog::update(&mut j, &no_id), Err(OrderLogError::Storage(m)) if m.contains("not in the journal"))
    );

    let mut wrong_hash = update(1, OrderStatus::Filled, "10", 10);
    wrong_hash.order_id = Some(hash(2));
    let e = j.record_update(&wrong_hash, EventSource::Gateway, None).unwrap_err();
    match e {
        JournalError::Conflict { conflict, .. } => {
            assert_eq!(conflict, Conflict::OrderIdMismatch { recorded: hash(1), given: hash(2) });
        }
        other => panic!("{other}"),
    }
    assert_eq!(j.export_json().unwrap(), before);
}

#[test]
fn status_queries_split_open_from_final_orders() {
    let s = Scratch::new("by-status");
    let mut j = open(&s);
    let statuses = [
        OrderStatus::New,
        OrderStatus::Sent,
        OrderStatus::Acknowledged,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
        OrderStatus::UnknownPendingReconcile,
    ];
    for (n, status) in statuses.into_iter().enumerate() {
        let n = n as u32;
        j.record_order(&order(n)).unwrap();
        if status != OrderStatus::New {
            j.record_update(&update(n, status, "0", 10), EventSource::Gateway, None).unwrap();
        }
    }
    for (n, status) in statuses.into_iter().enumerate() {
        assert_eq!(ids(&j.orders_with_status(status).unwrap()), [cid(n as u32).to_string()], "{status:?}");
    }
    let open = ids(&j.unfinished_orders().unwrap());
    assert_eq!(open, ["pmbot-000000", "pmbot-000001", "pmbot-000002", "pmbot-000003", "pmbot-000007"]);
    let logged: Vec<LoggedOrder> = OrderLog::open_orders(&j).unwrap();
    let got: Vec<_> = logged.iter().map(|l| (l.prepared.client_order_id.to_string(), l.status)).collect();
    assert_eq!(
        got,
        [
            ("pmbot-000000".into(), OrderStatus::New),
            ("pmbot-000001".into(), OrderStatus::Sent),
            ("pmbot-000002".into(), OrderStatus::Acknowledged),
            ("pmbot-000003".into(), OrderStatus::PartiallyFilled),
            ("pmbot-000007".into(), OrderStatus::UnknownPendingReconcile),
        ]
    );
    assert_same_order(&logged[4].prepared, &order(7));
    assert_eq!(j.orders().unwrap().len(), 8);
}

/// A kill between an order's status write and its fill write leaves a final
/// order whose fills fall short of its filled size: start-up must reconcile
/// it, so `open_orders` lists it (and only such final orders).
#[test]
fn final_orders_missing_fills_are_reconciled_at_start_up() {
    let s = Scratch::new("missing-fills");
    let mut j = open(&s);
    // 0: filled 10, one fill of 4 written (the second lost); 1: filled 10,
    // both fills written; 2: cancelled after 3, no fill written; 3: rejected;
    // 4: still open.
    let finals = [
        (OrderStatus::Filled, "10", &["4"][..]),
        (OrderStatus::Filled, "10", &["6", "4"][..]),
        (OrderStatus::Cancelled, "3", &[][..]),
        (OrderStatus::Rejected, "0", &[][..]),
        (OrderStatus::PartiallyFilled, "2", &["2"][..]),
    ];
    for (n, (status, filled, fills)) in finals.iter().enumerate() {
        let n = n as u32;
        j.record_order(&order(n)).unwrap();
        for (k, shares) in fills.iter().enumerate() {
            j.record_fill(&fill(n, &format!("t{n}-{k}"), shares)).unwrap();
        }
        j.record_update(&update(n, *status, filled, 10), EventSource::Gateway, None).unwrap();
    }
    assert_eq!(ids(&j.final_orders_missing_fills().unwrap()), ["pmbot-000000", "pmbot-000002"]);
    let logged: Vec<LoggedOrder> = OrderLog::open_orders(&j).unwrap();
    let got: Vec<_> = logged.iter().map(|l| (l.prepared.client_order_id.to_string(), l.status, l.filled)).collect();
    assert_eq!(
        got,
        [
            ("pmbot-000004".into(), OrderStatus::PartiallyFilled, size("2")),
            ("pmbot-000000".into(), OrderStatus::Filled, size("10")),
            ("pmbot-000002".into(), OrderStatus::Cancelled, size("3")),
        ]
    );
    // The lost fill written at last: the order is no longer owed anything.
    j.record_fill(&fill(0, "t0-1", "6")).unwrap();
    assert_eq!(ids(&j.final_orders_missing_fills().unwrap()), ["pmbot-000002"]);
}

#[test]
fn refusals_and_notes_are_kept_in_order() {
    let s = Scratch::new("refusals-notes");
    let mut j = open(&s);
    let mut second = order(2).intent;
    second.decision.expected_value = Some("-0.0001".parse().unwrap());
    j.record_refusal(&order(1).intent, "kill switch file .kill_switch present", TimestampMs(5)).unwrap();
    OrderLog::refusal(&mut j, &second, "expected value below zero after fees", TimestampMs(6)).unwrap();
    let refusals = j.refusals().unwrap();
    assert_eq!(refusals.len(), 2);
    assert_eq!(refusals[0].intent, order(1).intent);
    assert_eq!(refusals[0].reason, "kill switch file .kill_switch present");
    assert_eq!(refusals[0].at, TimestampMs(5));
    assert_eq!(refusals[1].intent, second, "the decision context survives exactly");

    let balance = json!({"collateral": "123.456789", "allowance": "115792089237316195423570985008687907853269984665640564039457584007913129639935"});
    j.record_note("balance_read", &balance, TimestampMs(7)).unwrap();
    OrderLog::note(&mut j, "reconcile", &json!({"found": ["0x01"], "adopted": 1}), TimestampMs(8)).unwrap();
    j.record_note("balance_read", &json!({"collateral": "0"}), TimestampMs(9)).unwrap();
    let reads = j.notes("balance_read").unwrap();
    assert_eq!(reads.len(), 2);
    assert_eq!(reads[0].detail, balance);
    assert_eq!(reads[0].kind, "balance_read");
    assert_eq!((reads[0].at, reads[1].at), (TimestampMs(7), TimestampMs(9)));
    assert_eq!(j.notes("reconcile").unwrap()[0].detail["adopted"], 1);
    assert!(j.notes("alert").unwrap().is_empty());
    // Refusals are not orders.
    assert!(j.orders().unwrap().is_empty());
}

#[test]
fn empty_reasons_and_kinds_are_refused() {
    let s = Scratch::new("invalid");
    let mut j = open(&s);
    for e in [
        j.record_refusal(&order(1).intent, "  ", TimestampMs(1)).unwrap_err(),
        j.record_note("", &json!({}), TimestampMs(1)).unwrap_err(),
    ] {
        assert!(matches!(e, JournalError::Invalid { .. }), "{e}");
        assert_eq!(e.path(), s.journal());
    }
    assert!(j.refusals().unwrap().is_empty());
}

#[test]
fn a_reader_cannot_write() {
    let s = Scratch::new("reader-writes");
    let mut w = open(&s);
    w.record_order(&order(1)).unwrap();
    let mut r = Journal::open_read_only(s.journal()).unwrap();
    let results = [
        r.record_order(&order(2)).map(|_| ()),
        r.record_update(&update(1, OrderStatus::Filled, "10", 1), EventSource::Gateway, None),
        r.record_fill(&fill(1, "t1", "1")).map(|_| ()),
        r.record_refusal(&order(2).intent, "x", TimestampMs(1)),
        r.record_note("k", &json!(1), TimestampMs(1)),
    ];
    for res in results {
        assert!(matches!(res, Err(JournalError::ReadOnly { ref path }) if path == &s.journal()), "{res:?}");
    }
    assert!(
        matches!(OrderLog::before_send(&mut r, &order(2)), Err(OrderLogError::Storage(m)) if m.contains("read-only"))
    );
    assert_eq!(w.orders().unwrap().len(), 1);
}

#[test]
fn history_cannot_be_rewritten_with_sql() {
    let s = Scratch::new("append-only");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    j.record_fill(&fill(1, "t1", "1")).unwrap();
    j.record_refusal(&order(2).intent, "r", TimestampMs(1)).unwrap();
    j.record_note("k", &json!(1), TimestampMs(1)).unwrap();
    let c = j.connection();
    for sql in [
        "UPDATE order_events SET status = 'filled'",
        "DELETE FROM order_events",
        "UPDATE fills SET size_micros = 1",
        "DELETE FROM fills",
        "UPDATE refusals SET reason = 'x'",
        "DELETE FROM refusals",
        "UPDATE notes SET kind = 'x'",
        "DELETE FROM notes",
        "DELETE FROM orders",
        "UPDATE orders SET body = 'x'",
        "UPDATE orders SET order_hash = 'x'",
        "UPDATE orders SET price_pips = 1",
        "UPDATE orders SET status = 'nonsense'",
        "UPDATE orders SET filled_micros = 1.5",
    ] {
        assert!(c.execute(sql, []).is_err(), "{sql} was allowed");
    }
    // What the journal itself changes, it may.
    assert_eq!(c.execute("UPDATE orders SET status = 'filled'", []).unwrap(), 1);
}

#[test]
fn stored_values_that_no_longer_parse_are_corrupt_not_skipped() {
    let s = Scratch::new("bad-values");
    let mut j = open(&s);
    j.record_order(&order(1)).unwrap();
    j.record_note("k", &json!(1), TimestampMs(1)).unwrap();
    // Someone edits the file by hand, past the guards.
    j.connection()
        .execute_batch(
            "DROP TRIGGER orders_keep_identity;
             DROP TRIGGER order_events_append_only_u;
             UPDATE orders SET intent_json = '{\"not\": \"an intent\"}';
             UPDATE order_events SET source = 'martians';",
        )
        .unwrap();
    let path = s.journal();
    for (what, e) in [
        ("orders", j.orders().unwrap_err()),
        ("unfinished orders", j.unfinished_orders().unwrap_err()),
        ("order", j.order(&cid(1)).unwrap_err()),
        ("events", j.order_events(&cid(1)).unwrap_err()),
    ] {
        match &e {
            JournalError::Corrupt { path: p, reason } => {
                assert_eq!(p, &path, "{what}");
                assert!(reason.contains("row 1"), "{what}: {reason}");
            }
            other => panic!("{what}: {other}"),
        }
    }
    // The trait's view fails the same way, so start-up cannot reconcile a
    // partial picture.
    assert!(matches!(OrderLog::open_orders(&j), Err(OrderLogError::Storage(m)) if m.contains("corrupt")));
}

#[test]
fn sizes_beyond_sqlite_integers_are_refused() {
    let s = Scratch::new("too-large");
    let mut j = open(&s);
    let mut huge = order(1);
    huge.intent.size = Size::from_micros(u64::MAX);
    let e = j.record_order(&huge).unwrap_err();
    assert!(matches!(&e, JournalError::TooLarge { what, .. } if what.starts_with("order size")), "{e}");
    j.record_order(&order(2)).unwrap();
    let mut huge_fill = fill(2, "t1", "1");
    huge_fill.size = Size::from_micros(1 << 63);
    let e = j.record_fill(&huge_fill).unwrap_err();
    assert!(matches!(&e, JournalError::TooLarge { what, .. } if what.starts_with("fill size")), "{e}");
    let mut huge_update = update(2, OrderStatus::Filled, "0", 2);
    huge_update.filled = Size::from_micros(u64::MAX);
    assert!(matches!(j.record_update(&huge_update, EventSource::Rest, None), Err(JournalError::TooLarge { .. })));
    assert_eq!(ids(&j.orders().unwrap()), ["pmbot-000002"]);
    assert!(j.fills().unwrap().is_empty());
}
