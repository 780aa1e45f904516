//! Recording and replaying market data: a recording made by the recorder
//! during a live run replays into the same sequence of book states, and the
//! real recorded books in `../shared/data/` build books that never cross and
//! match every snapshot.

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use pmbot_core::{Side, TickSize, TimestampMs, TokenId};
use pmbot_engine::record::{Recorder, RecorderConfig, RecordingInfo};
use pmbot_engine::replay::{Outcome, RecordingReader, ResolvedkitFrames};
use pmbot_venue::SystemClock;
use pmbot_venue::marketdata::parse::FrameParser;
use pmbot_venue::marketdata::stream::{self, StreamEvent};
use pmbot_venue::marketdata::{BookAction, BookStore, BookStoreConfig, DistrustReason};

/// A digest of every book: its levels and whether it is trusted.
fn digest(store: &BookStore, tokens: &[TokenId]) -> String {
    let mut out = String::new();
    for t in tokens {
        let Some(book) = store.book(t) else { continue };
        let trusted = store.trust(t).is_some_and(|x| x.is_trusted());
        out.push_str(&format!("{t}:{trusted}:"));
        for side in [Side::Buy, Side::Sell] {
            for l in book.levels(side) {
                out.push_str(&format!("{}x{},", l.price, l.size));
            }
            out.push('|');
        }
        out.push(';');
    }
    out
}

fn tracked_store(tokens: &[TokenId]) -> BookStore {
    let mut s = BookStore::new(BookStoreConfig::strict());
    for t in tokens {
        s.track(t, TickSize::Hundredth, TimestampMs(0));
    }
    s
}

/// Feeds frames (raw text and receive time) through the parser into a
/// store, digesting the books after every event.
fn replay_states(frames: impl Iterator<Item = (TimestampMs, String)>, tokens: &[TokenId]) -> Vec<String> {
    let mut store = tracked_store(tokens);
    let mut parser = FrameParser::new();
    let mut events = Vec::new();
    let mut actions = Vec::new();
    let mut states = Vec::new();
    for (received, text) in frames {
        events.clear();
        let outcome = parser.parse(&text, received, &mut events);
        assert!(outcome.rejects.is_empty(), "a clean recording parses cleanly: {:?}", outcome.rejects);
        for ev in &events {
            store.apply(ev, received, &mut actions);
            states.push(digest(&store, tokens));
        }
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_run_replays_into_the_same_book_states() {
    bounded(120, async {
        let sim = start_sim(busy_sim(3, 5)).await;
        let tokens = all_tokens(&sim);
        let dir = tempdir("replay-equivalence");
        let info = RecordingInfo { source_url: sim.ws_url(), tokens: tokens.clone(), markets: vec![], started_ms: 0 };
        let mut rec = Recorder::create(&dir, RecorderConfig::default(), info).unwrap();

        let mut cfg = stream_cfg(&sim);
        cfg.raw_frames = true;
        let (handle, mut events) = stream::spawn(cfg, tokens.clone(), Arc::new(SystemClock)).unwrap();
        let mut live = tracked_store(&tokens);
        let mut live_states = Vec::new();
        let mut actions = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
        let mut stopped = false;
        loop {
            if !stopped && tokio::time::Instant::now() >= deadline {
                // Stop, then take every event already on its way: each
                // recorded frame's events must reach the live store too.
                handle.stop();
                stopped = true;
            }
            let ev = match tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(_) => continue,
            };
            match ev {
                StreamEvent::Frame { received, text } => rec.record(received.millis(), &text).unwrap(),
                StreamEvent::Market(e) => {
                    let received = e.time().received;
                    live.apply(&e, received, &mut actions);
                    live_states.push(digest(&live, &tokens));
                }
                StreamEvent::Connected { .. } => {}
                StreamEvent::Disconnected { reason: pmbot_venue::marketdata::DisconnectReason::Stopped, .. } => {}
                other => panic!("a clean run has no {other:?}"),
            }
        }
        let summary = rec.close().unwrap();
        assert!(live_states.len() > 500, "a busy run: {} states", live_states.len());
        assert!(live.stats().deltas_applied > 0);

        let reader = RecordingReader::open(&dir).unwrap();
        let frames = reader.map(|f| f.unwrap()).map(|f| (f.received, f.text));
        let replayed = replay_states(frames, &tokens);
        assert!(summary.frames > 0);
        assert_eq!(replayed.len(), live_states.len(), "same number of events");
        let first_diff = replayed.iter().zip(&live_states).position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "replay diverges from the live run");
        sim.shutdown().await;
    })
    .await;
}

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("NOTICE: skipping: real data not found at {}", dir.display());
        None
    }
}

#[test]
fn real_recorded_books_never_cross_and_match_their_snapshots() {
    let Some(dir) = data_dir() else { return };
    let frames = ResolvedkitFrames::open(&dir).unwrap();
    let tokens: Vec<TokenId> =
        frames.markets().iter().flat_map(|m| [m.token(Outcome::Up).clone(), m.token(Outcome::Down).clone()]).collect();
    assert_eq!(tokens.len(), 26);
    let mut store = tracked_store(&tokens);
    let mut parser = FrameParser::new();
    let (mut events, mut actions) = (Vec::new(), Vec::new());
    let mut books = 0;
    let mut crossed_in_data = 0;
    for f in frames {
        let f = f.unwrap();
        events.clear();
        let outcome = parser.parse(&f.text, f.received, &mut events);
        assert!(outcome.rejects.is_empty(), "{:?}", outcome.rejects);
        for ev in &events {
            let pmbot_core::MarketEvent::Book(snap) = ev else { panic!("only books in this data") };
            actions.clear();
            store.apply(ev, f.received, &mut actions);
            books += 1;
            let best_bid = snap.bids.iter().map(|l| l.price).max();
            let best_ask = snap.asks.iter().map(|l| l.price).min();
            let trust = store.trust(&snap.token).unwrap();
            if matches!((best_bid, best_ask), (Some(b), Some(a)) if b >= a) {
                // The recording itself holds a crossed book: reported, never trusted.
                crossed_in_data += 1;
                assert_eq!(
                    actions.last(),
                    Some(&BookAction::Resync { token: snap.token.clone(), reason: DistrustReason::Crossed })
                );
                assert!(!trust.is_trusted());
                continue;
            }
            assert!(trust.is_trusted(), "snapshot of {} at {}: {actions:?}", snap.token, f.received.millis());
            let book = store.book(&snap.token).unwrap();
            if let (Some(b), Some(a)) = (book.best_bid(), book.best_ask()) {
                assert!(b.price < a.price, "a trusted book crossed at {}", f.received.millis());
            }
            let mut want_bids = snap.bids.clone();
            want_bids.sort_by_key(|l| std::cmp::Reverse(l.price));
            let mut want_asks = snap.asks.clone();
            want_asks.sort_by_key(|l| l.price);
            assert!(book.levels(Side::Buy).eq(want_bids.into_iter().filter(|l| !l.size.is_zero())));
            assert!(book.levels(Side::Sell).eq(want_asks.into_iter().filter(|l| !l.size.is_zero())));
        }
    }
    eprintln!("real data: {books} snapshots, {crossed_in_data} crossed in the recording itself");
    assert!(crossed_in_data < 20, "a handful of crossed snapshots in the data, not a parsing fault");
    assert_eq!(books, 27_480);
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-{name}-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}
