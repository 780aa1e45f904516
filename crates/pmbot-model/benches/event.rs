//! The per-event cost the live loop pays, on the real recorded books, and the
//! time to train and validate on all of them.
//!
//! Run: `cargo bench -p pmbot-model --bench event` (needs
//! `../shared/data/resolvedkit-btc15m`; prints a NOTICE and exits otherwise).
//! A plain program printing:
//! - per book event (UP token of each of the 13 markets, every snapshot of
//!   the data): `apply_book` + `FeatureState::on_book` + `snapshot` +
//!   `predict` with a model trained on the same data; p50 / p99 / p99.9, timed
//!   one by one (the timer's own ~25 ns included). Target: p99 <= 2 us for
//!   feature update + inference (the book update is shown with it and without).
//! - wall time of `pmbot_model::train` on all of the data (read, features,
//!   labels, walk-forward + purged k-fold + random k-fold, final fit). The
//!   code is single-threaded, so this is one core. Target: under 60 s.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use pmbot_core::{FeatureState, MarketEvent, OrderBook, TickSize, TokenId};
use pmbot_feed::FrameParser;
use pmbot_model::TrainSpec;
use pmbot_record::replay::ResolvedkitFrames;

fn report(name: &str, mut ns: Vec<u64>) {
    ns.sort_unstable();
    let q = |p: f64| pmbot_core::quantile::quantile(&ns, p).expect("samples");
    println!(
        "{name:<52} n={:>6}  p50 {:>5} ns  p99 {:>5} ns  p99.9 {:>6} ns  max {:>7} ns",
        ns.len(),
        q(0.50),
        q(0.99),
        q(0.999),
        ns[ns.len() - 1]
    );
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if !dir.join("books.jsonl.gz").exists() {
        println!("NOTICE: {} is absent; nothing to measure", dir.display());
        return;
    }
    let spec = TrainSpec::default();

    let started = Instant::now();
    let trained = pmbot_model::train(&[&dir], &spec, &mut |_| {}).expect("trains on the real data");
    let train_time = started.elapsed();
    println!(
        "train + full validation on all real data ({} samples, 13 markets): {:.2} s",
        trained.dataset.summary.samples,
        train_time.as_secs_f64()
    );
    let model = trained.model.model;

    // Every book event of the UP tokens, parsed ahead (parsing is the market
    // data path's cost, measured in its own benchmark).
    let frames = ResolvedkitFrames::open(&dir).expect("data opens");
    let markets = frames.markets().to_vec();
    let up: HashMap<TokenId, i64> = markets.iter().map(|m| (m.tokens[0].clone(), m.end_ms.0)).collect();
    let mut parser = FrameParser::new();
    let mut books = Vec::new();
    let mut events = Vec::new();
    for frame in frames {
        let frame = frame.expect("frame reads");
        events.clear();
        let outcome = parser.parse(&frame.text, frame.received, &mut events);
        assert!(outcome.rejects.is_empty(), "the real data parses cleanly");
        for e in events.drain(..) {
            if let MarketEvent::Book(b) = e
                && up.contains_key(&b.token)
            {
                books.push((frame.received, b));
            }
        }
    }

    let mut state: HashMap<TokenId, (OrderBook, FeatureState)> = HashMap::new();
    let mut with_book = Vec::with_capacity(books.len());
    let mut features_and_inference = Vec::with_capacity(books.len());
    let mut predictions = 0usize;
    for (at, snapshot) in &books {
        let (book, features) = state.entry(snapshot.token.clone()).or_insert_with(|| {
            let end = up.get(&snapshot.token).map(|e| pmbot_core::TimestampMs(*e));
            (
                OrderBook::new(snapshot.token.clone(), TickSize::Hundredth),
                FeatureState::new(trained.model.feature_spec, snapshot.token.clone(), end).unwrap(),
            )
        });
        let t0 = Instant::now();
        let applied = book.apply_book(snapshot).is_ok();
        let t1 = Instant::now();
        if applied {
            features.on_book(book, *at);
        }
        if let Some(v) = features.snapshot(*at) {
            black_box(model.predict(&v.values).unwrap());
            predictions += 1;
        }
        let t2 = Instant::now();
        with_book.push((t2 - t0).as_nanos() as u64);
        features_and_inference.push((t2 - t1).as_nanos() as u64);
    }
    println!("{} book events, {predictions} predictions", books.len());
    report("feature update + inference (on_book, snapshot, predict)", features_and_inference);
    report("book snapshot applied + feature update + inference", with_book);
}
