use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use pmbot_record::replay::RecordingReader;
use serde_json::Value;

use super::*;

/// A fresh path under the system temp dir (not created).
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pmbot-sim-generate-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Two short markets, so a minute of market time sees several rotations.
fn small_config(seed: u64) -> SyntheticConfig {
    SyntheticConfig { seed, markets: 2, market_duration_ms: 20_000, resolve_delay_ms: 1_000, ..Default::default() }
}

fn run(cfg: SyntheticConfig, span_ms: i64) -> (FeedStepper, Vec<FeedFrame>) {
    let mut stepper = FeedStepper::synthetic(cfg, GENERATED_START_MS).unwrap();
    let mut frames = Vec::new();
    stepper
        .run_until(GENERATED_START_MS + span_ms, |f| {
            frames.push(f.clone());
            Ok::<(), ()>(())
        })
        .unwrap();
    (stepper, frames)
}

fn json(frame: &FeedFrame) -> Value {
    serde_json::from_str(&frame.text).unwrap()
}

#[test]
fn same_config_gives_the_same_frames_and_another_seed_does_not() {
    let (a_stepper, a) = run(small_config(3), 30_000);
    let (_, b) = run(small_config(3), 30_000);
    let (_, c) = run(small_config(4), 30_000);
    assert!(a.len() > 100, "only {} frames", a.len());
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a_stepper.source_rejects(), run(small_config(3), 30_000).0.source_rejects());
}

#[test]
fn the_clock_moves_only_when_stepped_at_the_sources_pace() {
    let cfg = small_config(1);
    let step = cfg.step_interval_ms;
    let (stepper, frames) = run(cfg, 10_000);
    // Steps at start, start + step, ... start + 10 s.
    assert_eq!(stepper.steps(), (10_000 / step + 1) as u64);
    assert_eq!(stepper.now_ms(), GENERATED_START_MS + 10_000);
    let times: Vec<i64> = frames.iter().map(|f| f.at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "frames out of time order");
    assert!(times.iter().all(|t| (t - GENERATED_START_MS) % step == 0), "a frame off the step grid");
    assert_eq!(times.first(), Some(&GENERATED_START_MS));
}

#[test]
fn a_step_asked_for_in_the_past_runs_now() {
    let mut stepper = FeedStepper::synthetic(small_config(1), GENERATED_START_MS).unwrap();
    let mut out = Vec::new();
    stepper.step_at(GENERATED_START_MS + 5_000, &mut out);
    out.clear();
    stepper.step_at(GENERATED_START_MS, &mut out);
    assert_eq!(stepper.now_ms(), GENERATED_START_MS + 5_000);
    assert!(out.iter().all(|f| f.at_ms == GENERATED_START_MS + 5_000));
}

#[test]
fn every_token_gets_a_book_before_any_change_and_custom_frames_are_left_out() {
    let (stepper, frames) = run(small_config(5), 60_000);
    // Two initial markets, and successors every 20 s per slot.
    assert!(stepper.markets_listed() >= 6, "listed {}", stepper.markets_listed());
    let mut booked: BTreeSet<String> = BTreeSet::new();
    let mut kinds: BTreeSet<String> = BTreeSet::new();
    let mut empty_books = 0;
    for frame in &frames {
        let v = json(frame);
        let kind = v["event_type"].as_str().unwrap().to_owned();
        match kind.as_str() {
            "book" => {
                let asset = v["asset_id"].as_str().unwrap().to_owned();
                if v["bids"].as_array().unwrap().is_empty() && v["asks"].as_array().unwrap().is_empty() {
                    empty_books += 1;
                }
                booked.insert(asset);
            }
            "price_change" => {
                for change in v["price_changes"].as_array().unwrap() {
                    let asset = change["asset_id"].as_str().unwrap();
                    assert!(booked.contains(asset), "price_change of {asset} before its book");
                }
            }
            "last_trade_price" | "tick_size_change" => {
                assert!(booked.contains(v["asset_id"].as_str().unwrap()));
            }
            other => panic!("unexpected frame {other}"),
        }
        kinds.insert(kind);
    }
    // One empty listing snapshot per token of every market listed.
    assert_eq!(empty_books, 2 * stepper.markets_listed());
    assert_eq!(booked.len() as u64, 2 * stepper.markets_listed());
    for kind in ["book", "price_change", "last_trade_price"] {
        assert!(kinds.contains(kind), "no {kind} frame in a minute of trading");
    }
}

#[test]
fn a_generated_recording_reads_back_frame_for_frame() {
    let dir = scratch("roundtrip");
    let cfg = small_config(9);
    let summary = generate_recording(&cfg, Duration::from_secs(40), &dir).unwrap();
    let (_, frames) = run(cfg.clone(), 40_000);
    assert_eq!(summary.frames, frames.len() as u64);
    assert_eq!(summary.start_ms, GENERATED_START_MS);
    assert_eq!(summary.end_ms, GENERATED_START_MS + 40_000);
    assert_eq!(summary.files.len(), 1, "40 s from a whole hour fit in one hourly file");

    let mut reader = RecordingReader::open(&dir).unwrap();
    let meta = reader.meta().unwrap().clone();
    assert_eq!(meta.sessions.len(), 1);
    assert_eq!(meta.sessions[0].tokens.len(), 2 * cfg.markets as usize);
    assert_eq!(meta.sessions[0].frames, summary.frames);
    let read: Vec<(i64, String)> = reader.by_ref().map(|f| f.map(|f| (f.received.0, f.text)).unwrap()).collect();
    let written: Vec<(i64, String)> = frames.iter().map(|f| (f.at_ms, f.text.to_string())).collect();
    assert_eq!(read, written);
    assert!(reader.truncations().is_empty());

    // Nothing is overwritten.
    assert!(matches!(
        generate_recording(&cfg, Duration::from_secs(1), &dir),
        Err(GenerateError::Record(RecordError::AlreadyExists { .. }))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hours_of_market_time_roll_hourly_files() {
    let dir = scratch("hours");
    let cfg = SyntheticConfig { makers: Default::default(), markets: 1, ..small_config(2) };
    let summary = generate_recording_from(&cfg, GENERATED_START_MS + 3_590_000, Duration::from_secs(20), &dir).unwrap();
    assert_eq!(summary.files.len(), 2, "{:?}", summary.files);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_settings_are_refused_before_anything_is_written() {
    let dir = scratch("refused");
    let bad = SyntheticConfig { markets: 0, ..Default::default() };
    assert!(matches!(generate_recording(&bad, Duration::from_secs(1), &dir), Err(GenerateError::Config(_))));
    let too_long = Duration::from_secs(400 * 24 * 3600);
    assert!(matches!(
        generate_recording(&SyntheticConfig::default(), too_long, &dir),
        Err(GenerateError::MarketTime(_))
    ));
    assert!(!dir.exists());
}
