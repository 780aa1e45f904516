//! Frame-received-to-book-updated latency: the time from having a frame's text
//! to its events applied to the books (target p50 <= 5 µs, p99 <= 25 µs).
//!
//! Run: `cargo bench -p pmbot-venue --bench marketdata_latency`.
//!
//! Each of the 100,000 stream frames of the benchmark recording (benches/common:
//! 25 binary markets, 50 tokens, 88 % `price_change`, 10 % `last_trade_price`,
//! 2 % `book`) is timed alone with `std::time::Instant`, parse + apply, after
//! one untimed warm-up pass over the whole recording. The figures include the
//! timer's own cost (two `Instant::now()` calls, about 20-50 ns). Prints the
//! percentiles overall and per message kind, and the whole pass's throughput.

use std::time::{Duration, Instant};

use pmbot_core::MarketEvent;
use pmbot_venue::marketdata::{FrameParser, TokenInterner};

mod common;

use common::{Books, received};

const ROUNDS: usize = 5;

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let rec = common::recording(25, 100_000, 7);
    let interner: TokenInterner = rec.tokens.iter().cloned().collect();
    let mut parser = FrameParser::with_interner(interner);
    let mut books = Books::new(&rec.tokens);
    let mut out: Vec<MarketEvent> = Vec::with_capacity(8);

    // Warm-up: caches, branch predictors, the allocator's free lists, the books.
    for (i, frame) in rec.frames.iter().enumerate() {
        out.clear();
        let _ = parser.parse(frame, received(i), &mut out);
        out.iter().for_each(|e| books.apply(e));
    }

    let stream = &rec.frames[rec.initial..];
    let mut all: Vec<u32> = Vec::with_capacity(stream.len() * ROUNDS);
    let mut by_kind: [Vec<u32>; 3] = Default::default();
    let mut whole = Duration::ZERO;
    for _ in 0..ROUNDS {
        // Re-sync from the initial dump so every round replays the same books.
        for (i, frame) in rec.frames[..rec.initial].iter().enumerate() {
            out.clear();
            let _ = parser.parse(frame, received(i), &mut out);
            out.iter().for_each(|e| books.apply(e));
        }
        let round = Instant::now();
        for (i, frame) in stream.iter().enumerate() {
            out.clear();
            let t0 = Instant::now();
            let _ = parser.parse(frame, received(i), &mut out);
            for e in &out {
                books.apply(e);
            }
            let ns = t0.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32;
            all.push(ns);
            let kind = match out.first() {
                Some(MarketEvent::PriceChanges(_)) => 0,
                Some(MarketEvent::Book(_)) => 2,
                _ => 1,
            };
            by_kind[kind].push(ns);
        }
        whole += round.elapsed();
    }
    assert_eq!(books.refused, 0, "the recording must apply cleanly");

    println!("parse + apply latency per frame, {} frames x {ROUNDS} rounds (ns)", stream.len());
    println!("{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}", "kind", "count", "p50", "p90", "p99", "p99.9", "max");
    report("all", &mut all);
    for (name, v) in ["price_change", "last_trade_price", "book"].iter().zip(by_kind.iter_mut()) {
        report(name, v);
    }
    let per_s = (stream.len() * ROUNDS) as f64 / whole.as_secs_f64();
    println!("throughput while timing each frame: {:.2} M frames/s", per_s / 1e6);
}

fn report(name: &str, v: &mut [u32]) {
    v.sort_unstable();
    let q = |p: f64| pmbot_core::quantile::quantile(v, p).expect("samples");
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        name,
        v.len(),
        q(0.50),
        q(0.90),
        q(0.99),
        q(0.999),
        v[v.len() - 1]
    );
}
