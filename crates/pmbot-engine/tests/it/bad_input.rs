//! Damaged recordings and data: each problem is one typed error naming the
//! file (and line), and the replay goes on with what follows.

use crate::common;

use std::io::Write;

use common::TestDir;
use pmbot_core::TimestampMs;
use pmbot_engine::record::{MetaError, RecordingMeta};
use pmbot_engine::replay::{Frame, RecordingReader, ReplayError, ReplaySource, ResolvedkitFrames};

fn zst(text: &str) -> Vec<u8> {
    zstd::encode_all(text.as_bytes(), 3).unwrap()
}

fn results(it: impl Iterator<Item = Result<Frame, ReplayError>>) -> Vec<Result<(i64, String), String>> {
    it.map(|r| r.map(|f| (f.received.millis(), f.text)).map_err(|e| e.to_string())).collect()
}

#[test]
fn a_bad_line_is_one_error_and_the_replay_goes_on() {
    let dir = TestDir::new("bad-line");
    let good = "{\"t\":1,\"frame\":\"a\"}\n{\"t\":2,\"frame\":\"b\"}\n";
    std::fs::write(
        dir.join("market-2026-11-27T14.jsonl.zst"),
        zst("{\"t\":1,\"frame\":\"a\"}\nnot a line\n{\"t\":3,\"frame\":\"c\"}\n"),
    )
    .unwrap();
    // Not zstd at all: unreadable, then the next file is read.
    std::fs::write(dir.join("market-2026-11-27T15.jsonl.zst"), b"\x00\x01garbage, not zstd").unwrap();
    std::fs::write(dir.join("market-2026-11-27T16.jsonl.zst"), zst(good)).unwrap();
    let got = results(RecordingReader::open(dir.path()).unwrap());
    assert_eq!(got.len(), 6, "{got:#?}");
    assert_eq!(got[0], Ok((1, "a".into())));
    let e = got[1].as_ref().unwrap_err();
    assert!(e.contains("market-2026-11-27T14.jsonl.zst line 2"), "{e}");
    assert_eq!(got[2], Ok((3, "c".into())));
    let e = got[3].as_ref().unwrap_err();
    assert!(e.contains("market-2026-11-27T15.jsonl.zst: unreadable after 0 frames"), "{e}");
    assert_eq!(got[4..], [Ok((1, "a".into())), Ok((2, "b".into()))]);
}

#[test]
fn metadata_of_another_format_version_is_refused() {
    let dir = TestDir::new("meta-v2");
    let mut meta = RecordingMeta::new();
    meta.format_version = 2;
    std::fs::write(dir.join("recording.json"), meta.to_json()).unwrap();
    std::fs::write(dir.join("market-2026-11-27T14.jsonl.zst"), zst("{\"t\":1,\"frame\":\"a\"}\n")).unwrap();
    match RecordingReader::open(dir.path()) {
        Err(ReplayError::Meta(MetaError::Unsupported { version: 2, path, .. })) => {
            assert_eq!(path, dir.join("recording.json"));
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a version-2 recording was accepted"),
    }
}

#[test]
fn a_recording_without_metadata_still_replays() {
    let dir = TestDir::new("no-meta");
    std::fs::write(dir.join("market-2026-11-27T14.jsonl.zst"), zst("{\"t\":7,\"frame\":\"x\"}\n")).unwrap();
    std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
    let reader = RecordingReader::open(dir.path()).unwrap();
    assert!(reader.meta().is_none());
    assert_eq!(results(reader), [Ok((7, "x".into()))]);
}

#[test]
fn nothing_to_replay_is_not_found() {
    let dir = TestDir::new("empty");
    for path in [dir.path().to_owned(), dir.join("missing")] {
        match ReplaySource::open(&path) {
            Err(ReplayError::NotFound { path: p }) => assert_eq!(p, path),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("found something in {}", path.display()),
        }
    }
    assert!(matches!(RecordingReader::open(dir.path()), Err(ReplayError::NotFound { .. })));
}

#[test]
fn resolvedkit_bad_rows_are_errors_with_line_numbers() {
    let dir = TestDir::new("resolvedkit-bad");
    let market = "0xfb85ca82aa27f2ae7ea27513c8e341f029168fb664e78f8d82ab585af9af1028";
    std::fs::write(
        dir.join("markets.jsonl"),
        format!(
            r#"{{"market_id":"{market}","slug":"btc-updown-15m-1790586000","question":"Q","start_ts":1790586000000,"end_ts":1790586900000,"outcome_up":"Up","outcome_down":"Down","payout_up":1.0,"payout_down":0.0}}"#
        ),
    )
    .unwrap();
    let rows = [
        format!(r#"{{"market_id":"{market}","ts":10,"side":"UP","bids":[[0.49,10.0]],"asks":[[0.5,20.0]]}}"#),
        format!(r#"{{"market_id":"{market}","ts":11,"side":"LEFT","bids":[],"asks":[]}}"#),
        format!(r#"{{"market_id":"{market}","ts":12,"side":"UP","bids":[[1.49,10.0]],"asks":[]}}"#),
        "{not json".to_owned(),
        format!(r#"{{"market_id":"{market}","ts":13,"side":"DOWN","bids":[[0.5,1.0]],"asks":[]}}"#),
    ];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(rows.join("\n").as_bytes()).unwrap();
    std::fs::write(dir.join("books.jsonl.gz"), gz.finish().unwrap()).unwrap();

    let frames = ResolvedkitFrames::open(dir.path()).unwrap();
    let m = &frames.markets()[0];
    assert_eq!(m.winner, Some(pmbot_engine::replay::Outcome::Up));
    assert_eq!(m.start_ms, TimestampMs(1_790_586_000_000));
    let got = results(frames);
    assert_eq!(got.len(), 5);
    assert!(got[0].as_ref().is_ok_and(|(t, text)| *t == 10 && text.contains("\"event_type\":\"book\"")));
    for (i, want) in [(1, "line 2: side \"LEFT\""), (2, "line 3: bids: price 1.49"), (3, "line 4:")] {
        let e = got[i].as_ref().unwrap_err();
        assert!(e.contains("books.jsonl.gz") && e.contains(want), "{e}");
    }
    assert!(got[4].as_ref().is_ok_and(|(t, _)| *t == 13));
    // The data set without its markets file is refused, naming it.
    std::fs::remove_file(dir.join("markets.jsonl")).unwrap();
    match ResolvedkitFrames::open(dir.path()) {
        Err(ReplayError::Io { path, .. }) => assert_eq!(path, dir.join("markets.jsonl")),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened without markets.jsonl"),
    }
}
