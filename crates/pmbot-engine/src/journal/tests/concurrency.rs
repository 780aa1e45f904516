//! One writer, readers beside it: in this process and in another one.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::super::{EventSource, Journal};
use super::*;

const READER_ENV: &str = "PMBOT_JOURNAL_TEST_READER";

#[test]
fn a_reader_sees_each_commit_while_the_writer_holds_the_journal() {
    let s = Scratch::new("reader");
    let mut w = Journal::open(s.journal()).unwrap();
    w.record_order(&order(1)).unwrap();
    let r = Journal::open_read_only(s.journal()).unwrap();
    assert_eq!(ids(&r.orders().unwrap()), ["pmbot-000001"]);

    w.record_order(&order(2)).unwrap();
    w.record_update(&update(2, OrderStatus::Filled, "10", 50), EventSource::UserChannel, None).unwrap();
    w.record_fill(&fill(2, "t1", "10")).unwrap();
    assert_eq!(ids(&r.orders().unwrap()), ["pmbot-000001", "pmbot-000002"]);
    assert_eq!(r.order(&cid(2)).unwrap().unwrap().status, OrderStatus::Filled);
    assert_eq!(r.fills_of(&hash(2)).unwrap().len(), 1);
    assert_eq!(ids(&r.unfinished_orders().unwrap()), ["pmbot-000001"]);

    // The writer stops first: a reader cannot checkpoint, so the log stays
    // behind, and a new reader still reads through it.
    drop(w);
    drop(r);
    assert!(s.path("journal.sqlite-wal").exists());
    assert_eq!(Journal::open_read_only(s.journal()).unwrap().orders().unwrap().len(), 2);
    // The writer closing last folds the log into the file; readers read that.
    drop(Journal::open(s.journal()).unwrap());
    assert!(!s.path("journal.sqlite-wal").exists(), "the writer's close checkpoints the log");
    assert_eq!(Journal::open_read_only(s.journal()).unwrap().orders().unwrap().len(), 2);
}

#[test]
fn a_reader_never_sees_half_a_write() {
    let s = Scratch::new("reader-thread");
    let mut w = Journal::open(s.journal()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let path = s.journal();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let r = Journal::open_read_only(&path).unwrap();
            let (mut reads, mut last) = (0u32, 0usize);
            while !done.load(Ordering::Acquire) || reads == 0 {
                // One read transaction: a single snapshot of the file.
                r.connection().execute_batch("BEGIN").unwrap();
                let orders = r.orders().unwrap();
                assert!(orders.len() >= last, "orders went from {last} to {}", orders.len());
                last = orders.len();
                for o in &orders {
                    // An order row and its event are written in one transaction.
                    let events = r.order_events(&o.prepared.client_order_id).unwrap();
                    let latest = events.last().expect("an order without its first event");
                    assert_eq!((latest.status, latest.at), (o.status, o.updated));
                }
                r.connection().execute_batch("COMMIT").unwrap();
                reads += 1;
            }
            (reads, last)
        })
    };
    for n in 0..60 {
        w.record_order(&order(n)).unwrap();
        w.record_update(&update(n, OrderStatus::Acknowledged, "0", 1_800_000_000_000), EventSource::Rest, None)
            .unwrap();
    }
    done.store(true, Ordering::Release);
    let (reads, seen) = reader.join().unwrap();
    assert!(reads > 0);
    assert!(seen <= 60);
}

/// Runs as a separate process (spawned by the test below): opens the journal
/// read-only and prints what it finds.
#[test]
#[ignore = "child process of another_process_reads_while_the_writer_runs"]
fn reader_child() {
    let path = std::env::var(READER_ENV).expect("run by another_process_reads_while_the_writer_runs");
    let mut r = Journal::open_read_only(&path).unwrap();
    // The test harness has printed the test's name without a line end.
    println!();
    for o in r.orders().unwrap() {
        println!("order {} {:?} {}", o.prepared.client_order_id, o.status, o.filled);
    }
    println!("fills {}", r.fills().unwrap().len());
    println!("writable {}", r.record_note("k", &serde_json::json!(1), TimestampMs(1)).is_ok());
}

#[test]
fn another_process_reads_while_the_writer_runs() {
    let s = Scratch::new("reader-process");
    let mut w = Journal::open(s.journal()).unwrap();
    w.record_order(&order(1)).unwrap();
    w.record_order(&order(2)).unwrap();
    w.record_update(&update(2, OrderStatus::PartiallyFilled, "2.5", 9), EventSource::UserChannel, None).unwrap();
    w.record_fill(&fill(2, "t1", "2.5")).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["journal::tests::concurrency::reader_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(READER_ENV, s.journal())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> =
        stdout.lines().filter(|l| ["order ", "fills ", "writable "].iter().any(|p| l.starts_with(p))).collect();
    assert_eq!(
        lines,
        ["order pmbot-000001 New 0", "order pmbot-000002 PartiallyFilled 2.5", "fills 1", "writable false"]
    );
    // The writer carries on undisturbed.
    w.record_order(&order(3)).unwrap();
}
