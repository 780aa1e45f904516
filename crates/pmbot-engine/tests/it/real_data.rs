//! The replayer on the real data in `../shared/data` (README.md there): the
//! resolvedkit book snapshots as market-channel `book` frames, and the
//! WebSocket fixtures as frames. Each test prints a NOTICE and passes when the
//! data folder is absent.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use common::{TestDir, collect, shared_data};
use pmbot_core::{
    Clock, ConditionId, HashCheck, ManualClock, Price, RawBookSummary, TickSize, TimestampMs, TokenId, parse_levels,
};
use pmbot_engine::record::{MarketRef, Recorder, RecorderConfig, RecordingInfo};
use pmbot_engine::replay::{
    Outcome, Pace, Paced, RecordingReader, ReplaySource, Replayer, ResolvedkitFrames, Speed, synthetic_token_id,
    ws_fixture_frames,
};

const ROWS: usize = 27_480;

#[test]
fn resolvedkit_replays_as_27480_real_shaped_book_frames_in_ts_order() {
    let Some(dir) = shared_data("resolvedkit-btc15m") else { return };
    let mut frames = ResolvedkitFrames::open(&dir).unwrap();
    let markets = frames.markets().to_vec();
    assert_eq!(markets.len(), 13);
    // token id -> (market, outcome)
    let tokens: HashMap<TokenId, (ConditionId, Outcome)> = markets
        .iter()
        .flat_map(|m| [Outcome::Up, Outcome::Down].map(|o| (m.token(o).clone(), (m.condition_id, o))))
        .collect();
    assert_eq!(tokens.len(), 26, "distinct ids for every market and side");

    let mut n = 0;
    let mut last = TimestampMs::ZERO;
    let mut seen_tokens = HashSet::new();
    let mut fine_ticks = 0;
    for frame in &mut frames {
        let frame = frame.unwrap();
        n += 1;
        assert!(frame.received >= last, "frame {n} out of ts order");
        last = frame.received;

        let v: serde_json::Value = serde_json::from_str(&frame.text).unwrap();
        assert_eq!(v["event_type"], "book");
        let raw: RawBookSummary<'_> = serde_json::from_str(&frame.text).unwrap();
        assert_eq!(TimestampMs::parse(&raw.timestamp).unwrap(), frame.received);
        let token = TokenId::parse(&raw.asset_id).unwrap();
        let (market, outcome) = tokens[&token];
        assert_eq!(raw.market, market.to_string());
        assert_eq!(synthetic_token_id(&market, outcome), token);
        assert_eq!(raw.verify(), Some(HashCheck::Match));
        // The markets' tick is 0.01, and 0.001 near 0 and 1 (books above 0.96 have
        // 3-decimal levels): the frame carries the coarsest tick its prices fit.
        let tick: TickSize = raw.tick_size.as_deref().unwrap().parse().unwrap();
        let bids = parse_levels(&raw.bids).unwrap();
        let asks = parse_levels(&raw.asks).unwrap();
        assert!(!bids.is_empty() || !asks.is_empty());
        for l in bids.iter().chain(&asks) {
            l.price.check_tick(tick).unwrap();
        }
        match tick {
            TickSize::Hundredth => {}
            TickSize::Thousandth => fine_ticks += 1,
            other => panic!("tick {other} in frame {n}"),
        }
        assert!(bids.windows(2).all(|w| w[0].price < w[1].price), "bids ascending");
        assert!(asks.windows(2).all(|w| w[0].price > w[1].price), "asks descending");
        seen_tokens.insert(token);
    }
    assert_eq!(n, ROWS);
    assert_eq!(seen_tokens.len(), 26);
    assert!(fine_ticks > 0 && fine_ticks < ROWS / 5, "{fine_ticks} frames on the 0.001 tick");
    eprintln!("{fine_ticks} of {ROWS} frames have 0.001-tick levels");
}

#[test]
fn resolvedkit_first_rows_are_the_files_rows_and_ids_are_stable() {
    let Some(dir) = shared_data("resolvedkit-btc15m") else { return };
    let source = ReplaySource::open(&dir).unwrap();
    assert!(matches!(source, ReplaySource::Resolvedkit(_)));
    let first: Vec<_> = source.take(2).map(Result::unwrap).collect();
    // books.jsonl.gz row 1: market 0xfb85.., ts 1790585112649, DOWN, best bid 0.5 x 205, best ask 0.51 x 514.99.
    let down: serde_json::Value = serde_json::from_str(&first[0].text).unwrap();
    assert_eq!(first[0].received, TimestampMs(1_790_585_112_649));
    assert_eq!(down["market"], "0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028");
    assert_eq!(down["asset_id"], "105715757481942020163077696029943788950197177738404720503078597404247528137219");
    let bids = down["bids"].as_array().unwrap();
    let asks = down["asks"].as_array().unwrap();
    assert_eq!((bids.len(), asks.len()), (20, 20));
    assert_eq!(bids[19], serde_json::json!({"price": "0.5", "size": "205"}));
    assert_eq!(bids[0], serde_json::json!({"price": "0.31", "size": "10"}));
    assert_eq!(asks[19], serde_json::json!({"price": "0.51", "size": "514.99"}));
    // The UP row of the same instant mirrors it: UP's best bid is 1 - DOWN's best ask.
    let up: serde_json::Value = serde_json::from_str(&first[1].text).unwrap();
    assert_eq!(up["asset_id"], "63536445502096927982500040255948240477464059278064870281312253804213617439453");
    let up_best_bid = Price::parse(up["bids"][19]["price"].as_str().unwrap()).unwrap();
    assert_eq!(up_best_bid, Price::parse("0.51").unwrap().complement());
}

#[test]
fn resolvedkit_through_the_recorder_and_back_is_identical() {
    let Some(dir) = shared_data("resolvedkit-btc15m") else { return };
    let frames = ResolvedkitFrames::open(&dir).unwrap();
    let markets = frames.markets().to_vec();
    let originals: Vec<_> = collect(frames);
    let out = TestDir::new("resolvedkit-recorded");
    let info = RecordingInfo {
        source_url: format!("file://{}", dir.display()),
        tokens: markets.iter().flat_map(|m| m.tokens.clone()).collect(),
        markets: markets.iter().map(|m| MarketRef::new(m.condition_id, Some(m.slug.clone()))).collect(),
        started_ms: originals[0].0,
    };
    let mut rec = Recorder::create(out.path(), RecorderConfig::default(), info).unwrap();
    for (t, text) in &originals {
        rec.record(*t, text).unwrap();
    }
    let summary = rec.close().unwrap();
    // 08:45 to 12:15 UTC: five hourly files.
    assert_eq!(summary.files.len(), 5, "{:?}", summary.files);
    eprintln!(
        "resolvedkit recorded: {} frames, {} bytes of frames, {} bytes compressed (ratio {:.1})",
        summary.frames,
        summary.frame_bytes,
        summary.compressed_bytes,
        summary.frame_bytes as f64 / summary.compressed_bytes as f64
    );
    let mut reader = RecordingReader::open(out.path()).unwrap();
    let back = collect(&mut reader);
    assert!(back == originals, "replayed recording differs");
    let meta = reader.meta().unwrap();
    assert_eq!(meta.tokens().len(), 26);
    assert_eq!(meta.markets()[0].slug.as_deref(), Some("btc-updown-15m-1790586000"));
}

#[test]
fn resolvedkit_paced_at_speed_10_on_a_manual_clock() {
    let Some(dir) = shared_data("resolvedkit-btc15m") else { return };
    let recorded: Vec<i64> =
        ResolvedkitFrames::open(&dir).unwrap().take(60).map(|f| f.unwrap().received.millis()).collect();
    let clock = Arc::new(ManualClock::new(5_000));
    let speed = Speed::from_factor(10.0).unwrap();
    let mut replayer = Replayer::new(ResolvedkitFrames::open(&dir).unwrap(), Pace::Speed(speed), Arc::clone(&clock));
    for (i, r) in recorded.iter().enumerate() {
        // Due ceil((r - r0) / 10) ms after the first release.
        let want = 5_000 + (r - recorded[0] + 9) / 10;
        loop {
            match replayer.next_due().unwrap() {
                Paced::Due(f) => {
                    assert_eq!(clock.now_ms(), want, "frame {i}");
                    assert_eq!(f.received.millis(), *r);
                    break;
                }
                Paced::Wait { until } => {
                    assert_eq!(until.millis(), want, "frame {i}");
                    assert!(clock.now_ms() < want);
                    clock.set(until.millis());
                }
                Paced::Finished => panic!("finished at {i}"),
            }
        }
    }
}

#[test]
fn ws_fixtures_replay_as_frames_in_file_order() {
    let Some(dir) = shared_data("ws-fixtures") else { return };
    let frames = ws_fixture_frames(&dir).unwrap();
    let mut expected: Vec<_> = walk(&dir).into_iter().filter(|p| pmbot_engine::replay::is_ws_fixture(p)).collect();
    expected.sort();
    assert_eq!(frames.len(), expected.len());
    assert_eq!(frames.len(), 16, "11 crates_test_data/ws_*.json + 5 py_resources/ws_messages/*.json");
    for (frame, path) in frames.iter().zip(&expected) {
        assert_eq!(frame.text, std::fs::read_to_string(path).unwrap(), "{}", path.display());
        let v: serde_json::Value = serde_json::from_str(&frame.text).unwrap();
        let stamp = v["timestamp"].as_str().map(|s| TimestampMs::parse(s).unwrap()).unwrap_or(TimestampMs::ZERO);
        assert_eq!(frame.received, stamp, "{}", path.display());
    }
    // Opened as a source, the same frames.
    let source = ReplaySource::open(&dir).unwrap();
    assert!(matches!(source, ReplaySource::Fixtures(_)));
    let texts: Vec<String> = collect(source).into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts, frames.iter().map(|f| f.text.clone()).collect::<Vec<_>>());
    assert!(texts.iter().any(|t| t.contains("\"price_changes\"")) && texts.iter().any(|t| t.contains("\"book\"")));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
