//! A full disk, made deterministic with SQLite's page limit: the write fails
//! as `Full` naming the path, and the journal stays as it was.

use serde_json::json;

use super::super::{EventSource, Journal, JournalError, OrderLog, OrderLogError};
use super::*;

fn is_full(e: &JournalError, path: &Path) -> bool {
    matches!(e, JournalError::Full { path: p } if p == path) && e.to_string().contains(&path.display().to_string())
}

#[test]
fn an_order_that_does_not_fit_is_not_recorded_and_nothing_else_changes() {
    let s = Scratch::new("full-order");
    let path = s.journal();
    let mut j = Journal::open(&path).unwrap();
    for n in 1..=3 {
        j.record_order(&order(n)).unwrap();
    }
    j.record_update(&update(1, OrderStatus::Acknowledged, "0", 10), EventSource::Rest, Some("live")).unwrap();
    j.record_fill(&fill(1, "t1", "4")).unwrap();
    let before = j.export_json().unwrap();

    // No page left to grow into; a large body needs several.
    let pages = j.page_count();
    assert_eq!(j.set_max_pages(pages), pages);
    let mut big = order(4);
    big.body = format!(r#"{{"padding":"{}"}}"#, "x".repeat(64 * 1024));

    let e = j.record_order(&big).unwrap_err();
    assert!(is_full(&e, &path), "{e}");
    match OrderLog::before_send(&mut j, &big) {
        Err(OrderLogError::Full(m)) => assert!(m.contains(&path.display().to_string()), "{m}"),
        other => panic!("{other:?}"),
    }
    // Not recorded at all, so never marked sent; and no event without its order.
    assert!(j.order(&cid(4)).unwrap().is_none());
    assert!(j.order_events(&cid(4)).unwrap().is_empty());
    assert_eq!(j.export_json().unwrap(), before, "nothing half-written, earlier rows intact");

    // The journal is still sound: once there is room, the same order goes in.
    j.set_max_pages(1 << 30);
    j.record_order(&big).unwrap();
    assert_same_order(&j.order(&cid(4)).unwrap().unwrap().prepared, &big);
    drop(j);
    let j = Journal::open(&path).unwrap();
    assert_eq!(ids(&j.orders().unwrap()), ["pmbot-000001", "pmbot-000002", "pmbot-000003", "pmbot-000004"]);
}

#[test]
fn writing_until_full_keeps_every_write_that_succeeded() {
    let s = Scratch::new("full-fill-up");
    let path = s.journal();
    let mut j = Journal::open(&path).unwrap();
    j.record_order(&order(1)).unwrap();
    let pages = j.page_count();
    j.set_max_pages(pages + 4);
    let mut ok = 0u32;
    let full = loop {
        let detail = json!({"n": ok, "padding": "y".repeat(300)});
        match j.record_note("fill_up", &detail, TimestampMs(i64::from(ok))) {
            Ok(()) => ok += 1,
            Err(e) => break e,
        }
        assert!(ok < 10_000, "never filled up");
    };
    assert!(is_full(&full, &path), "{full}");
    assert!(ok > 5, "only {ok} notes fitted");
    // Updates of existing rows and fills fail the same way once no page is left.
    let fill_err = j.record_fill(&fill_of(&order(1), &"t".repeat(8000), "0.52", "1", Usdc::ZERO, Liquidity::Maker));
    assert!(matches!(&fill_err, Err(e) if is_full(e, &path)), "{fill_err:?}");
    assert!(j.fills().unwrap().is_empty());
    drop(j);

    let j = Journal::open(&path).unwrap();
    let notes = j.notes("fill_up").unwrap();
    assert_eq!(notes.len() as u32, ok);
    for (n, note) in notes.iter().enumerate() {
        assert_eq!(note.detail["n"], n as u64);
    }
    assert_eq!(j.orders().unwrap().len(), 1);
}
