//! How long a durable write takes on this machine. Not a pass/fail
//! threshold (those live in benchmarks); run it to measure:
//! `cargo test -p pmbot-engine --release journal::tests::timing -- --ignored --nocapture`

use std::time::Instant;

use super::super::{EventSource, Journal};
use super::*;

#[test]
#[ignore = "a measurement; run by hand"]
fn measure_write_latency() {
    let s = Scratch::new("timing");
    let mut j = Journal::open(s.journal()).unwrap();
    const N: u32 = 500;
    let (mut sends, mut updates) = (Vec::new(), Vec::new());
    for n in 0..N {
        let o = order(n);
        let t = Instant::now();
        j.record_order(&o).unwrap();
        sends.push(t.elapsed());
        let t = Instant::now();
        j.record_update(&update(n, OrderStatus::Acknowledged, "0", 1), EventSource::Rest, None).unwrap();
        updates.push(t.elapsed());
    }
    assert_eq!(j.orders().unwrap().len(), N as usize);
    for (name, mut v) in [("record_order (before_send)", sends), ("record_update", updates)] {
        v.sort();
        let pct = |p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
        eprintln!("{name}: n={N} p50={:?} p90={:?} p99={:?} max={:?}", pct(50), pct(90), pct(99), v[v.len() - 1]);
    }
    let t = Instant::now();
    drop(j);
    let j = Journal::open(s.journal()).unwrap();
    eprintln!("reopen with {N} orders (quick_check included): {:?}", t.elapsed());
    let t = Instant::now();
    let open = j.unfinished_orders().unwrap();
    eprintln!("unfinished_orders ({}): {:?}", open.len(), t.elapsed());
}
