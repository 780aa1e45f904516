use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use flate2::Compression;
use flate2::write::GzEncoder;
use pmbot_core::{Feature, Level, Price, Size};
use pmbot_record::record::{MarketRef, Recorder, RecorderConfig, RecordingInfo};
use pmbot_record::replay::{Outcome, book_frame, synthetic_token_id};

use super::*;

/// A fresh empty directory under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pmbot-model-dataset-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn market_id() -> ConditionId {
    ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap()
}

/// Market time of the synthetic data: a multiple of the 5 s grid.
const T0: i64 = 1_790_000_000_000;

/// Writes a resolvedkit directory: one market ending at T0 + 300 s, UP book
/// 0.48/0.50 for [0, 100) s and 0.49/0.51 for [100, 200) s, a row per second
/// per side (DOWN mirrored), plus `extra` raw lines appended to the books file.
fn resolvedkit_dir(name: &str, extra: &[String]) -> PathBuf {
    let dir = scratch(name);
    let m = market_id();
    std::fs::write(
        dir.join(MARKETS_FILE),
        format!(
            r#"{{"market_id":"{m}","slug":"btc-updown-15m-x","question":"q","category":"crypto","timeframe":"15m","start_ts":{T0},"end_ts":{},"outcome_up":"Up","outcome_down":"Down","payout_up":1.0,"payout_down":0.0}}
"#,
            T0 + 300_000
        ),
    )
    .unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for s in 0..200i64 {
        let (bid, ask) = if s < 100 { (0.48, 0.50) } else { (0.49, 0.51) };
        let ts = T0 + s * 1_000;
        for (side, b, a) in [("UP", bid, ask), ("DOWN", 1.0 - ask, 1.0 - bid)] {
            writeln!(
                gz,
                r#"{{"market_id":"{m}","ts":{ts},"side":"{side}","bids":[[{b},100.0],[{},50.0]],"asks":[[{a},80.0],[{},40.0]]}}"#,
                ((b - 0.01) * 100.0f64).round() / 100.0,
                ((a + 0.01) * 100.0f64).round() / 100.0
            )
            .unwrap();
        }
    }
    for line in extra {
        writeln!(gz, "{line}").unwrap();
    }
    std::fs::write(dir.join(BOOKS_FILE), gz.finish().unwrap()).unwrap();
    dir
}

#[test]
fn synthetic_resolvedkit_gives_exact_samples_and_counts() {
    let dir = resolvedkit_dir("exact", &[]);
    let d = build_dataset(&[&dir], &DatasetSpec::default()).unwrap();
    let s = &d.summary;
    // Grid times T0..=T0+195 s (last event 199 s): 40. Warm-up 60 s: 12 not ready.
    // The move up at 100 s labels 60..=95 s up (8); 100..=135 s see no change
    // until 199 s (8); 140..=195 s run past the data (12, censored).
    assert_eq!(s.dropped_not_ready, 12);
    assert_eq!((s.samples, s.up, s.down), (8, 8, 0));
    assert_eq!(s.dropped_no_change, 8);
    assert_eq!(s.dropped_censored, 12);
    assert_eq!(s.markets.len(), 1);
    let m = &s.markets[0];
    assert_eq!(m.token, synthetic_token_id(&market_id(), Outcome::Up), "the UP token only");
    assert_eq!(m.end, Some(TimestampMs(T0 + 300_000)));
    assert_eq!((m.first_event, m.last_event), (TimestampMs(T0), TimestampMs(T0 + 199_000)));
    let times: Vec<i64> = d.samples.iter().map(|s| s.t.0 - T0).collect();
    assert_eq!(times, [60_000, 65_000, 70_000, 75_000, 80_000, 85_000, 90_000, 95_000]);
    let first = &d.samples[0];
    assert_eq!(first.features[Feature::Mid], 0.49);
    assert_eq!(first.features[Feature::SpreadTicks], 2.0);
    assert!((first.features[Feature::ImbalanceL1] - 20.0 / 180.0).abs() < 1e-12);
    assert_eq!(first.features[Feature::MinutesToEnd], 4.0);
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    assert_eq!(s.fingerprint.len(), 64);
    assert_eq!(s.sources[0].kind, SourceKind::Resolvedkit);
    // Same input, same fingerprint and samples; other bytes, another fingerprint.
    let again = build_dataset(&[&dir], &DatasetSpec::default()).unwrap();
    assert_eq!(again.summary.fingerprint, s.fingerprint);
    assert_eq!(again.samples, d.samples);
    let later = format!(
        r#"{{"market_id":"{}","ts":{},"side":"UP","bids":[[0.49,1.0]],"asks":[[0.51,1.0]]}}"#,
        market_id(),
        T0 + 250_000
    );
    let other = resolvedkit_dir("exact-other", &[later]);
    assert_ne!(build_dataset(&[&other], &DatasetSpec::default()).unwrap().summary.fingerprint, s.fingerprint);
}

#[test]
fn an_impossible_price_names_file_and_line() {
    let m = market_id();
    let row = format!(r#"{{"market_id":"{m}","ts":{},"side":"UP","bids":[[1.5,1.0]],"asks":[]}}"#, T0 + 200_000);
    let dir = resolvedkit_dir("price", &[row]);
    let err = build_dataset(&[&dir], &DatasetSpec::default()).unwrap_err();
    match &err {
        DatasetError::Replay(ReplayError::BadLine { path, line, reason }) => {
            assert!(path.ends_with(BOOKS_FILE));
            assert_eq!(*line, 401);
            assert!(reason.contains("price 1.5"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("books.jsonl.gz line 401"), "{err}");
}

#[test]
fn a_garbage_line_names_file_and_line() {
    let dir = resolvedkit_dir("garbage", &["{not json".to_owned()]);
    let err = build_dataset(&[&dir], &DatasetSpec::default()).unwrap_err();
    assert!(matches!(err, DatasetError::Replay(ReplayError::BadLine { line: 401, .. })), "{err:?}");
}

#[test]
fn a_truncated_file_is_an_error_naming_it() {
    let dir = resolvedkit_dir("truncated", &[]);
    let path = dir.join(BOOKS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = build_dataset(&[&dir], &DatasetSpec::default()).unwrap_err();
    match &err {
        DatasetError::Replay(ReplayError::Corrupt { path: p, .. }) => assert_eq!(p, &path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn folders_without_usable_samples_are_errors() {
    let empty = scratch("empty");
    assert!(matches!(
        build_dataset(&[&empty], &DatasetSpec::default()),
        Err(DatasetError::NotADataDir { path }) if path == empty
    ));
    assert!(matches!(build_dataset::<PathBuf>(&[], &DatasetSpec::default()), Err(DatasetError::NoInput)));
    // Valid data too short to warm up: no samples, and the error says why.
    let dir = resolvedkit_dir("short", &[]);
    let spec = DatasetSpec {
        features: FeatureSpec { lookbacks_ms: [5_000, 15_000, 300_000], ..FeatureSpec::default() },
        ..DatasetSpec::default()
    };
    match build_dataset(&[&dir], &spec).unwrap_err() {
        DatasetError::NoSamples { dirs, detail } => {
            assert_eq!(dirs, std::slice::from_ref(&dir));
            assert!(detail.contains("not ready 40"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let bad_spec = DatasetSpec { labels: LabelSpec { horizon_ms: 0 }, ..DatasetSpec::default() };
    assert!(matches!(build_dataset(&[&dir], &bad_spec), Err(DatasetError::Labels(LabelError::Horizon(0)))));
}

fn lv(p: &str, s: &str) -> Level {
    Level::new(Price::parse(p).unwrap(), Size::parse(s).unwrap())
}

/// A recording of one market, both tokens: the same books as the resolvedkit
/// fixture (UP 0.48/0.50 then 0.49/0.51 from 100 s) as full books every 10 s
/// and a bid-size delta every second, trades, and one garbage frame.
fn recording_dir(name: &str) -> (PathBuf, TokenId) {
    let dir = scratch(name);
    let m = market_id();
    let up = synthetic_token_id(&m, Outcome::Up);
    let down = synthetic_token_id(&m, Outcome::Down);
    let info = RecordingInfo {
        source_url: "wss://example.invalid/ws/market".into(),
        tokens: vec![up.clone(), down.clone()],
        markets: vec![MarketRef::new(m, None)],
        started_ms: T0,
    };
    let mut rec = Recorder::create(&dir, RecorderConfig::default(), info).unwrap();
    for s in 0..200i64 {
        let t = T0 + s * 1_000;
        let (bid, ask) = if s < 100 { ("0.48", "0.50") } else { ("0.49", "0.51") };
        let (dbid, dask) = if s < 100 { ("0.50", "0.52") } else { ("0.49", "0.51") };
        if s % 10 == 0 {
            rec.record(t, &book_frame(&m, &down, TimestampMs(t), &[lv(dbid, "80")], &[lv(dask, "100")])).unwrap();
            rec.record(t, &book_frame(&m, &up, TimestampMs(t), &[lv(bid, "100")], &[lv(ask, "80")])).unwrap();
        } else {
            let frame = format!(
                r#"{{"event_type":"price_change","market":"{m}","price_changes":[{{"asset_id":"{up}","price":"{bid}","side":"BUY","size":"{}","hash":"0x01","best_bid":"{bid}","best_ask":"{ask}"}}],"timestamp":"{t}"}}"#,
                100 + s
            );
            rec.record(t, &frame).unwrap();
        }
        if s % 7 == 0 {
            let trade = format!(
                r#"{{"event_type":"last_trade_price","market":"{m}","asset_id":"{up}","fee_rate_bps":"0","price":"{ask}","side":"BUY","size":"5","timestamp":"{t}"}}"#
            );
            rec.record(t + 1, &trade).unwrap();
        }
        if s == 50 {
            rec.record(t + 2, "{garbage").unwrap();
        }
    }
    rec.close().unwrap();
    (dir, up)
}

#[test]
fn recordings_go_through_the_live_parser_and_keep_one_token() {
    let (dir, up) = recording_dir("rec");
    let d = build_dataset(&[&dir], &DatasetSpec::default()).unwrap();
    let s = &d.summary;
    assert_eq!(s.sources[0].kind, SourceKind::Recording);
    assert_eq!(s.markets.len(), 1);
    assert_eq!(s.markets[0].token, up, "the token listed first");
    assert_eq!(s.markets[0].end, None);
    assert_eq!(s.skipped.get("message refused by the parser: invalid_json"), Some(&1));
    // The garbage frame at 50 s reset every book; the UP book is whole again
    // at 60 s, and warm from then on: grid times 0..=55 s not ready (12), the
    // refusal makes 55..60 s unusable (50.002 s to 60 s: grid 55 s, already
    // counted), so samples start where the resolvedkit ones do.
    let times: Vec<i64> = d.samples.iter().map(|s| s.t.0 - T0).collect();
    assert_eq!(times, [60_000, 65_000, 70_000, 75_000, 80_000, 85_000, 90_000, 95_000]);
    assert!(d.samples.iter().all(|s| s.label == Label::Up && s.token == up));
    assert!(d.samples.iter().all(|s| s.features[Feature::TradesSeen] == 1.0), "trades every 7 s");
    assert_eq!(d.samples[0].features[Feature::EndKnown], 0.0);
    // A bid-size delta every second: the L1 imbalance follows the deltas (bid 100 + s at s).
    let at_60 = &d.samples[0].features;
    assert!((at_60[Feature::ImbalanceL1] - (100.0 - 80.0) / 180.0).abs() < 1e-12, "a full book at 60 s");
    let at_65 = &d.samples[1].features;
    assert!((at_65[Feature::ImbalanceL1] - (165.0 - 80.0) / 245.0).abs() < 1e-12);
}

#[test]
fn a_truncated_recording_is_a_counted_skip() {
    let (dir, _) = recording_dir("rec-cut");
    let full = build_dataset(&[&dir], &DatasetSpec::default()).unwrap();
    let file = full.summary.sources[0].files.iter().find(|f| f.extension().is_some_and(|e| e == "zst")).unwrap();
    let bytes = std::fs::read(file).unwrap();
    std::fs::write(file, &bytes[..bytes.len() * 19 / 20]).unwrap();
    let cut = build_dataset(&[&dir], &DatasetSpec::default()).unwrap();
    let key = cut.summary.skipped.keys().find(|k| k.starts_with("truncated tail of")).cloned();
    assert!(key.is_some(), "{:?}", cut.summary.skipped);
    assert!(cut.summary.sources[0].frames < full.summary.sources[0].frames);
    assert_ne!(cut.summary.fingerprint, full.summary.fingerprint);
}

// ---- the real data ----------------------------------------------------------

fn shared_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if dir.join(BOOKS_FILE).is_file() {
        Some(dir)
    } else {
        eprintln!("NOTICE: {} is absent; skipping the real-data test", dir.display());
        None
    }
}

#[test]
fn real_resolvedkit_data_builds_a_sensible_data_set() {
    let Some(dir) = shared_data() else { return };
    let d = build_dataset(&[&dir], &DatasetSpec::default()).unwrap();
    let s = &d.summary;
    eprintln!(
        "real data: {} samples ({} up, {} down), dropped: no change {}, censored {}, not ready {}; skipped {:?}; fingerprint {}",
        s.samples, s.up, s.down, s.dropped_no_change, s.dropped_censored, s.dropped_not_ready, s.skipped, s.fingerprint
    );
    for m in &s.markets {
        eprintln!(
            "  {} events {}..{} end {:?}: samples {} (up {}, down {}), no change {}, censored {}, not ready {}",
            m.market,
            m.first_event,
            m.last_event,
            m.end,
            m.samples,
            m.labels.up,
            m.labels.down,
            m.labels.no_change,
            m.labels.censored,
            m.not_ready
        );
    }
    assert_eq!(s.markets.len(), 13, "13 markets, UP token each");
    assert!(s.markets.iter().all(|m| m.samples > 0), "every market contributes");
    // 13 markets x about 15 minutes on a 5 s grid is about 2,300 grid times.
    assert!((1_000..=5_000).contains(&s.samples), "{} samples", s.samples);
    assert!(s.up > s.samples / 5 && s.down > s.samples / 5, "both labels are common");
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    assert!(d.samples.windows(2).all(|w| w[0].t <= w[1].t), "time order");
    assert!(d.samples.iter().all(|x| x.features.values.iter().all(|v| v.is_finite())));
    assert!(d.samples.iter().all(|x| x.features[Feature::EndKnown] == 1.0 && x.features[Feature::TradesSeen] == 0.0));
    let total = s.samples + s.dropped_no_change + s.dropped_censored + s.dropped_not_ready;
    let per_market: u64 = s
        .markets
        .iter()
        .map(|m| m.labels.up + m.labels.down + m.labels.no_change + m.labels.censored + m.not_ready)
        .sum();
    assert_eq!(total, per_market, "every grid time accounted for");
}
