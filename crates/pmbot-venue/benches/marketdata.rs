//! Market-channel parse + apply throughput (target >= 2,000,000 messages/s on
//! one core).
//!
//! Run: `cargo bench -p pmbot-venue --bench marketdata`. Messages/s = the
//! item/s of the `parse_apply` rows (one item = one frame = one message here).
//!
//! The recording (benches/common) is generated once from a fixed seed: 25
//! binary markets (50 tokens, sides of 20-40 levels, four markets in five on a
//! 0.01 tick), an initial `book` dump, then 100,000 frames: 88 % `price_change`
//! (60 % of them with two entries, one per token), 10 % `last_trade_price`,
//! 2 % `book`. Every iteration replays it from the initial dump into fresh
//! books (made outside the timed part), with a parser whose interner holds the
//! 50 tokens, exactly as the stream will run it. Latency and memory have their
//! own binaries (`marketdata_latency`, `marketdata_memory`).

use std::hint::black_box;
use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use pmbot_core::MarketEvent;
use pmbot_venue::marketdata::{FrameParser, TokenInterner};

mod common;

use common::{Books, Recording, received};

fn main() {
    divan::main();
}

static RECORDING: LazyLock<Recording> = LazyLock::new(|| {
    let rec = common::recording(25, 100_000, 7);
    // The recording must apply cleanly, or the figures would measure refusals.
    let mut parser = parser(&rec);
    let mut books = Books::new(&rec.tokens);
    let mut out = Vec::new();
    for (i, frame) in rec.frames.iter().enumerate() {
        out.clear();
        assert!(parser.parse(frame, received(i), &mut out).is_clean(), "{frame}");
        out.iter().for_each(|e| books.apply(e));
    }
    assert_eq!(books.refused, 0, "the generated recording must apply cleanly");
    rec
});

fn parser(rec: &Recording) -> FrameParser {
    FrameParser::with_interner(rec.tokens.iter().cloned().collect::<TokenInterner>())
}

/// Parse every frame and apply its events to the books.
#[divan::bench(sample_count = 30)]
fn parse_apply(bencher: Bencher) {
    let rec = &*RECORDING;
    bencher
        .counter(ItemsCount::new(rec.frames.len()))
        .with_inputs(|| (parser(rec), Books::new(&rec.tokens), Vec::<MarketEvent>::with_capacity(8)))
        .bench_local_refs(|(parser, books, out)| {
            for (i, frame) in rec.frames.iter().enumerate() {
                out.clear();
                let _ = parser.parse(frame, received(i), out);
                for event in out.iter() {
                    books.apply(event);
                }
            }
            black_box(books.refused)
        });
}

/// The same without an interner: every token id validated and allocated.
#[divan::bench(sample_count = 30)]
fn parse_apply_no_interner(bencher: Bencher) {
    let rec = &*RECORDING;
    bencher
        .counter(ItemsCount::new(rec.frames.len()))
        .with_inputs(|| (FrameParser::new(), Books::new(&rec.tokens), Vec::<MarketEvent>::with_capacity(8)))
        .bench_local_refs(|(parser, books, out)| {
            for (i, frame) in rec.frames.iter().enumerate() {
                out.clear();
                let _ = parser.parse(frame, received(i), out);
                for event in out.iter() {
                    books.apply(event);
                }
            }
            black_box(books.refused)
        });
}

/// Parsing alone (events built and dropped), to split the cost.
#[divan::bench(sample_count = 30)]
fn parse_only(bencher: Bencher) {
    let rec = &*RECORDING;
    bencher
        .counter(BytesCount::new(rec.bytes()))
        .counter(ItemsCount::new(rec.frames.len()))
        .with_inputs(|| (parser(rec), Vec::<MarketEvent>::with_capacity(8)))
        .bench_local_refs(|(parser, out)| {
            for (i, frame) in rec.frames.iter().enumerate() {
                out.clear();
                let _ = parser.parse(frame, received(i), out);
            }
            black_box(out.len())
        });
}

/// serde_json's floor on the same bytes: validating the JSON, nothing built.
#[divan::bench(sample_count = 30)]
fn json_skip_only(bencher: Bencher) {
    let rec = &*RECORDING;
    bencher.counter(BytesCount::new(rec.bytes())).counter(ItemsCount::new(rec.frames.len())).bench_local(|| {
        for frame in &rec.frames {
            black_box(serde_json::from_str::<serde::de::IgnoredAny>(frame).is_ok());
        }
    });
}

/// One frame of each common kind, parsed alone.
#[divan::bench(args = ["price_change/1", "price_change/2", "last_trade_price", "book/20-40"])]
fn single_frame(bencher: Bencher, kind: &str) {
    let rec = &*RECORDING;
    let stream = &rec.frames[rec.initial..];
    let frame = match kind {
        "price_change/1" => stream.iter().find(|f| f.contains("price_changes") && f.matches("asset_id").count() == 1),
        "price_change/2" => stream.iter().find(|f| f.contains("price_changes") && f.matches("asset_id").count() == 2),
        "last_trade_price" => stream.iter().find(|f| f.contains("last_trade_price\",\"asset_id")),
        _ => rec.frames.first(),
    }
    .expect("the recording has every kind");
    let mut parser = parser(rec);
    let mut out = Vec::with_capacity(4);
    bencher.counter(BytesCount::new(frame.len())).bench_local(|| {
        out.clear();
        let outcome = parser.parse(black_box(frame), received(0), &mut out);
        black_box(outcome.events)
    });
}

/// Parse and apply through the book store the stream's consumers use (trust
/// gating, held deltas, crossed checks), with the exchange's `price_change`
/// hashes ignored (`off`, the production default) or recomputed for every
/// batch (`count`, diagnostics; `resync` costs the same when they agree).
#[divan::bench(sample_count = 30, args = ["off", "count"])]
fn parse_apply_book_store(bencher: Bencher, hashes: &str) {
    use pmbot_venue::marketdata::{BookStore, BookStoreConfig, HashPolicy};
    let rec = &*RECORDING;
    let policy = if hashes == "off" { HashPolicy::Off } else { HashPolicy::Count };
    let cfg = BookStoreConfig { delta_hashes: policy, snapshot_hashes: HashPolicy::Off, ..BookStoreConfig::default() };
    bencher
        .counter(ItemsCount::new(rec.frames.len()))
        .with_inputs(|| {
            let mut store = BookStore::new(cfg);
            for t in &rec.tokens {
                store.track(t, pmbot_core::TickSize::Hundredth, received(0));
            }
            (parser(rec), store, Vec::<MarketEvent>::with_capacity(8), Vec::with_capacity(8))
        })
        .bench_local_refs(|(parser, store, out, actions)| {
            for (i, frame) in rec.frames.iter().enumerate() {
                out.clear();
                let _ = parser.parse(frame, received(i), out);
                for event in out.iter() {
                    store.apply(event, received(i), actions);
                }
                actions.clear();
            }
            black_box(store.stats().deltas_applied)
        });
}
