//! Recorder and replayer together: what is recorded comes back byte for byte
//! with its receive time, across hourly rolls, restarts and killed writers;
//! file errors are typed and name the path.

use crate::common;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{HOUR, T14, TestDir, collect, info, names};
use pmbot_core::{Clock, ManualClock, TimestampMs};
use pmbot_engine::record::{
    FlushOutcome, IoOp, META_FILE, OnExisting, RecordError, Recorder, RecorderConfig, RecordingMeta, SessionEnd,
    Storage,
};
use pmbot_engine::replay::{Pace, Paced, RecordingReader, ReplaySource, Replayer, Speed, ZstdFrames};

fn book(i: usize) -> String {
    format!(
        r#"{{"event_type":"book","asset_id":"7132","market":"0xdd22","bids":[{{"price":"0.4{}","size":"{}"}}],"asks":[],"timestamp":"{}"}}"#,
        i % 10,
        100 + i,
        T14 + i as i64
    )
}

/// A 16 MiB frame with every kind of character the escaper treats specially.
fn huge_frame() -> String {
    let mut s = String::with_capacity(16 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let pieces = ["\"", "\\", "\n", "\r\n", "\t", "\u{0}", "\u{1f}", "é", "✓", "🦀", "\u{2028}", "{", "}", "[", ","];
    while s.len() < 16 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(5) {
            s.push_str(pieces[(x >> 8) as usize % pieces.len()]);
        } else {
            s.push(char::from(b'a' + (x >> 16) as u8 % 26));
        }
    }
    s
}

#[test]
fn record_then_replay_is_byte_identical_across_hour_rolls() {
    let dir = TestDir::new("roundtrip");
    let start = T14 + HOUR - 2_000; // 14:59:58
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(start)).unwrap();
    let mut sent = Vec::new();
    // 14:59:58 .. 15:00:02 every 100 ms, then a frame at 16:30 and one at 16:30 + 1 ms.
    for i in 0..40 {
        sent.push((start + i * 100, book(i as usize)));
    }
    sent.push((T14 + 2 * HOUR + 1_800_000, "not json {".to_owned()));
    sent.push((T14 + 2 * HOUR + 1_800_001, String::new()));
    for (t, f) in &sent {
        rec.record(*t, f).unwrap();
        rec.flush_if_due(*t + 50).unwrap();
    }
    let summary = rec.close().unwrap();
    assert_eq!(summary.frames, sent.len() as u64);
    assert_eq!(summary.first_ms, Some(TimestampMs(start)));
    assert_eq!(
        names(dir.path()),
        [
            "market-2026-11-27T14.jsonl.zst",
            "market-2026-11-27T15.jsonl.zst",
            "market-2026-11-27T16.jsonl.zst",
            "recording.json"
        ]
    );
    let on_disk: u64 = summary.files.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    assert_eq!(summary.compressed_bytes, on_disk);

    let mut reader = RecordingReader::open(dir.path()).unwrap();
    let got = collect(&mut reader);
    assert_eq!(got, sent);
    assert!(reader.truncations().is_empty());
    // Every frame of the 14h file is from 14h.
    let first = collect(ZstdFrames::new(File::open(&summary.files[0]).unwrap(), &summary.files[0]).unwrap());
    assert_eq!(first.len(), 20);

    let meta = reader.meta().unwrap();
    assert_eq!(meta.format, "pmbot-market-recording");
    assert_eq!(meta.format_version, 1);
    let s = &meta.sessions[0];
    assert_eq!(s.source_url, "wss://ws-subscriptions-clob.polymarket.com/ws/market");
    assert_eq!(s.pmbot_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(s.started_ms, TimestampMs(start));
    // The end is the latest time the recorder was told (the last flush check).
    assert_eq!(s.ended_ms, Some(TimestampMs(T14 + 2 * HOUR + 1_800_051)));
    assert_eq!((s.frames, s.end), (sent.len() as u64, SessionEnd::Closed));
    assert_eq!(s.tokens, info(0).tokens);
    assert_eq!(s.markets, info(0).markets);
    assert_eq!(RecordingMeta::read(dir.path()).unwrap(), *meta);
}

#[test]
fn invalid_json_and_huge_frames_round_trip() {
    let dir = TestDir::new("awkward");
    let frames = vec![
        String::new(),
        "PONG".to_owned(),
        "{\"event_type\":\"book\",".to_owned(),
        "[1,2,".to_owned(),
        "\u{0}\u{7f}\u{2028} \\\" \n\r".to_owned(),
        huge_frame(),
        "after the huge one".to_owned(),
    ];
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
    for (i, f) in frames.iter().enumerate() {
        rec.record(T14 + i as i64, f).unwrap();
    }
    let summary = rec.close().unwrap();
    assert!(summary.compressed_bytes < summary.frame_bytes, "{summary:?}");
    let got = collect(RecordingReader::open(dir.path()).unwrap());
    assert_eq!(got.len(), frames.len());
    for (i, ((t, text), want)) in got.iter().zip(&frames).enumerate() {
        assert_eq!(*t, T14 + i as i64);
        assert!(text == want, "frame {i} differs (len {} vs {})", text.len(), want.len());
    }
}

#[test]
fn a_killed_writer_loses_at_most_the_last_second() {
    let dir = TestDir::new("killed");
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
    let mut sent = Vec::new();
    // 5 s of frames every 50 ms; after each, copy the file as a crash would leave it.
    for i in 0..100 {
        let t = T14 + 10_000 + i * 50;
        let f = book(i as usize);
        rec.record(t, &f).unwrap();
        sent.push((t, f));
        let copy = std::fs::read(rec.current_file().unwrap()).unwrap();
        let mut frames = ZstdFrames::new(&copy[..], "copy").unwrap();
        let got = collect(&mut frames);
        assert_eq!(got[..], sent[..got.len()], "a cut file reads as a prefix");
        assert!(got.len() as u64 >= rec.flushed_frames());
        let older_than_a_second = sent.iter().filter(|(st, _)| *st <= t - 1_000).count();
        assert!(got.len() >= older_than_a_second, "at {i}: {} read, {older_than_a_second} older than 1 s", got.len());
        if got.len() < sent.len() {
            assert!(frames.truncation().is_some());
        }
    }
    let flushed = rec.flushed_frames();
    assert!(flushed < 100, "the last frames are still buffered");
    // A kill: no close, no Drop.
    std::mem::forget(rec);
    let mut reader = RecordingReader::open(dir.path()).unwrap();
    let got = collect(&mut reader);
    assert!(got.len() as u64 >= flushed && got[..] == sent[..got.len()]);
    assert_eq!(reader.truncations().len(), 1);
    assert_eq!(reader.truncations()[0].frames, got.len() as u64);
    assert_eq!(reader.meta().unwrap().sessions[0].end, SessionEnd::Open);
}

#[test]
fn every_cut_of_a_file_reads_as_the_flushed_prefix() {
    let dir = TestDir::new("cuts");
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
    // (file length after a flush, frames flushed by then)
    let mut flush_points = vec![(0u64, 0usize)];
    let mut sent = Vec::new();
    for i in 0..120 {
        let f = if i % 17 == 0 { format!("odd frame {i}\n") } else { book(i) };
        rec.record(T14 + i as i64, &f).unwrap();
        sent.push((T14 + i as i64, f));
        if i % 8 == 7 {
            rec.flush().unwrap();
            let len = std::fs::metadata(rec.current_file().unwrap()).unwrap().len();
            flush_points.push((len, sent.len()));
        }
    }
    let path = rec.current_file().unwrap().to_owned();
    rec.close().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut cuts: Vec<usize> = (0..=bytes.len()).step_by(5).collect();
    for (len, _) in &flush_points {
        let len = *len as usize;
        cuts.extend([len.saturating_sub(1), len, (len + 1).min(bytes.len())]);
    }
    cuts.push(bytes.len());
    for cut in cuts {
        let mut frames = ZstdFrames::new(&bytes[..cut], "cut").unwrap();
        let got = collect(&mut frames);
        let must = flush_points.iter().filter(|(len, _)| *len as usize <= cut).map(|(_, n)| *n).max().unwrap();
        assert!(got.len() >= must, "cut at {cut}: {} frames, {must} were flushed", got.len());
        assert_eq!(got[..], sent[..got.len()], "cut at {cut}");
        assert_eq!(frames.truncation().is_none(), cut == bytes.len(), "cut at {cut}");
    }
}

#[test]
fn existing_recordings_are_refused_or_recorded_beside() {
    let dir = TestDir::new("existing");
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
    rec.record(T14 + 1, "first session").unwrap();
    rec.close().unwrap();

    let err = Recorder::create(dir.path(), RecorderConfig::default(), info(T14 + 10)).unwrap_err();
    match &err {
        RecordError::AlreadyExists { path } => assert_eq!(path, &dir.join(META_FILE)),
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(&dir.join(META_FILE).display().to_string()));

    let config = RecorderConfig { on_existing: OnExisting::NewName, ..RecorderConfig::default() };
    let mut rec = Recorder::create(dir.path(), config, info(T14 + 10)).unwrap();
    rec.record(T14 + 20, "second session").unwrap();
    rec.record(T14 + HOUR + 5, "second session, next hour").unwrap();
    rec.close().unwrap();
    assert_eq!(
        names(dir.path()),
        [
            "market-2026-11-27T14.1.jsonl.zst",
            "market-2026-11-27T14.jsonl.zst",
            "market-2026-11-27T15.jsonl.zst",
            "recording.json"
        ]
    );
    let mut reader = RecordingReader::open(dir.path()).unwrap();
    let texts: Vec<String> = collect(&mut reader).into_iter().map(|(_, f)| f).collect();
    assert_eq!(texts, ["first session", "second session", "second session, next hour"]);
    let meta = reader.meta().unwrap();
    assert_eq!(meta.sessions.len(), 2);
    assert_eq!(meta.sessions[1].started_ms, TimestampMs(T14 + 10));
    assert_eq!(meta.started_ms(), Some(TimestampMs(T14)));

    // A data file without metadata is refused too (when the recorder reaches it).
    let other = TestDir::new("existing-data");
    std::fs::write(other.join("market-2026-11-27T14.jsonl.zst"), b"someone else's").unwrap();
    let mut rec = Recorder::create(other.path(), RecorderConfig::default(), info(T14)).unwrap();
    match rec.record(T14, "x").unwrap_err() {
        RecordError::AlreadyExists { path } => assert_eq!(path, other.join("market-2026-11-27T14.jsonl.zst")),
        e => panic!("{e}"),
    }
    assert_eq!(std::fs::read(other.join("market-2026-11-27T14.jsonl.zst")).unwrap(), b"someone else's");
    assert_eq!(rec.frames(), 0);
}

#[test]
fn flushes_and_rolls_follow_the_times_given() {
    let dir = TestDir::new("flushes");
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
    assert_eq!(rec.flush_if_due(T14).unwrap(), FlushOutcome::NothingPending);
    let late = T14 + HOUR - 300;
    rec.record(late, "a").unwrap();
    assert_eq!(rec.flush_if_due(late + 999).unwrap(), FlushOutcome::NotDue);
    assert_eq!(rec.flushed_frames(), 0);
    assert_eq!(rec.flush_if_due(late + 1_000).unwrap(), FlushOutcome::Flushed);
    assert_eq!(rec.flushed_frames(), 1);
    assert_eq!(rec.flush_if_due(late + 1_100).unwrap(), FlushOutcome::NothingPending);
    rec.record(late + 200, "b").unwrap();
    // A clock that went back past the oldest unflushed frame flushes at once.
    assert_eq!(rec.flush_if_due(late + 100).unwrap(), FlushOutcome::Flushed);
    // One second into the next hour with no frame of it: the 14h file is finished.
    assert_eq!(rec.flush_if_due(T14 + HOUR + 999).unwrap(), FlushOutcome::NothingPending);
    assert_eq!(rec.flush_if_due(T14 + HOUR + 1_000).unwrap(), FlushOutcome::Rolled);
    assert_eq!(rec.current_file(), None);
    // A late frame stamped in the finished hour goes to a second file of that hour.
    rec.record(T14 + HOUR - 1, "late").unwrap();
    assert_eq!(rec.current_file().unwrap().file_name().unwrap(), "market-2026-11-27T14.1.jsonl.zst");
    // A frame of the next hour rolls; one stamped earlier after that stays in the newest file.
    rec.record(T14 + HOUR + 2_000, "c").unwrap();
    rec.record(T14 + HOUR - 5, "stepped back").unwrap();
    let summary = rec.close().unwrap();
    assert_eq!(summary.files.len(), 3);
    let mut reader = RecordingReader::open(dir.path()).unwrap();
    let texts: Vec<String> = collect(&mut reader).into_iter().map(|(_, f)| f).collect();
    assert_eq!(texts, ["a", "b", "late", "c", "stepped back"]);
    assert!(reader.truncations().is_empty(), "{:?}", reader.truncations());
}

#[test]
fn dropping_without_close_still_finishes_the_file() {
    let dir = TestDir::new("dropped");
    {
        let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
        rec.record(T14 + 5, "kept").unwrap();
    }
    let mut reader = RecordingReader::open(dir.path()).unwrap();
    assert_eq!(collect(&mut reader), [(T14 + 5, "kept".to_owned())]);
    assert!(reader.truncations().is_empty());
    assert_eq!(reader.meta().unwrap().sessions[0].end, SessionEnd::Closed);
}

#[test]
fn bad_times_and_configs_are_refused_and_change_nothing() {
    let dir = TestDir::new("bad-input");
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
    for bad in [-1, i64::MIN, i64::MAX, 253_402_300_800_000] {
        assert!(matches!(rec.record(bad, "x"), Err(RecordError::TimeOutOfRange { ms }) if ms == bad));
        assert!(matches!(rec.flush_if_due(bad), Err(RecordError::TimeOutOfRange { .. })));
    }
    assert_eq!((rec.frames(), rec.current_file()), (0, None));
    assert_eq!(names(dir.path()), ["recording.json"]);
    rec.record(T14, "fine").unwrap();
    rec.close().unwrap();

    for config in [
        RecorderConfig { level: 99, ..RecorderConfig::default() },
        RecorderConfig { flush_interval_ms: 0, ..RecorderConfig::default() },
        RecorderConfig { flush_interval_ms: 1_001, ..RecorderConfig::default() },
    ] {
        let d = TestDir::new("bad-config");
        let err = Recorder::create(d.join("rec"), config, info(T14)).unwrap_err();
        assert!(matches!(err, RecordError::Config(_)), "{err}");
        assert!(!d.join("rec").exists(), "nothing created for a bad config");
    }
    // The config table refuses typos.
    let typo: Result<RecorderConfig, _> = serde_json::from_str(r#"{"flush_intervall_ms": 500}"#);
    assert!(typo.is_err());
    let ok: RecorderConfig = serde_json::from_str(r#"{"on_existing": "new_name"}"#).unwrap();
    assert_eq!(ok.on_existing, OnExisting::NewName);
    assert_eq!(ok.flush_interval_ms, 1_000);
}

#[test]
fn an_unwritable_directory_is_a_typed_error_naming_it() {
    let dir = TestDir::new("unwritable");
    std::fs::write(dir.join("a-file"), b"").unwrap();
    let target = dir.join("a-file/recording");
    let err = Recorder::create(&target, RecorderConfig::default(), info(T14)).unwrap_err();
    match &err {
        RecordError::NotWritable { path, op: IoOp::CreateDir, .. } => assert_eq!(path, &target),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&target.display().to_string()), "{err}");
}

// ---- injected storage: full disks and failing writes ------------------------

/// Metadata in memory; data files from `open`.
struct TestStorage<W, F: FnMut(&Path) -> io::Result<W>> {
    files: HashMap<PathBuf, Vec<u8>>,
    open: F,
    meta_error: Option<io::ErrorKind>,
}

impl<W: Write, F: FnMut(&Path) -> io::Result<W>> Storage for TestStorage<W, F> {
    type File = W;
    fn create_dir_all(&mut self, _: &Path) -> io::Result<()> {
        Ok(())
    }
    fn exists(&mut self, path: &Path) -> io::Result<bool> {
        Ok(self.files.contains_key(path))
    }
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.get(path).cloned().ok_or_else(|| io::ErrorKind::NotFound.into())
    }
    fn create_new(&mut self, path: &Path) -> io::Result<W> {
        (self.open)(path)
    }
    fn replace(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        if let Some(kind) = self.meta_error {
            return Err(io::Error::new(kind, "injected"));
        }
        self.files.insert(path.to_owned(), bytes.to_vec());
        Ok(())
    }
    fn sync(&mut self, _: &mut W) -> io::Result<()> {
        Ok(())
    }
}

/// Accepts `budget` bytes, then fails every write with `kind`.
struct FailingWriter {
    budget: usize,
    kind: io::ErrorKind,
}

impl Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::new(self.kind, "injected"));
        }
        let n = buf.len().min(self.budget);
        self.budget -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_disk_is_a_typed_error_naming_the_file() {
    if !Path::new("/dev/full").exists() {
        eprintln!("NOTICE: no /dev/full; skipping the real ENOSPC test");
        return;
    }
    // The kernel's own "No space left on device", from /dev/full.
    let storage = TestStorage {
        files: HashMap::new(),
        open: |_: &Path| OpenOptions::new().write(true).open("/dev/full"),
        meta_error: None,
    };
    let dir = PathBuf::from("/recordings/full");
    let mut rec = Recorder::create_in(storage, &dir, RecorderConfig::default(), info(T14)).unwrap();
    let data = dir.join("market-2026-11-27T14.jsonl.zst");
    rec.record(T14, "buffered, not yet written").unwrap();
    let err = rec.record(T14 + 1_000, "this one triggers the flush").unwrap_err();
    match &err {
        RecordError::DiskFull { path, op: IoOp::Flush, source } => {
            assert_eq!(path, &data);
            assert_eq!(source.kind(), io::ErrorKind::StorageFull);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("disk full") && err.to_string().contains(&data.display().to_string()));
    // Stopped from here on, naming the file that failed.
    assert!(matches!(rec.record(T14 + 1_100, "x"), Err(RecordError::Stopped { path }) if path == data));
    assert!(matches!(rec.close(), Err(RecordError::Stopped { path }) if path == data));
}

#[test]
fn failing_writes_are_typed_and_stop_the_recorder() {
    for (kind, budget) in
        [(io::ErrorKind::StorageFull, 0), (io::ErrorKind::Other, 40), (io::ErrorKind::BrokenPipe, 200)]
    {
        let mut opened = Vec::new();
        let storage = TestStorage {
            files: HashMap::new(),
            open: |p: &Path| {
                opened.push(p.to_owned());
                Ok(FailingWriter { budget, kind })
            },
            meta_error: None,
        };
        let mut rec = Recorder::create_in(storage, "/r", RecorderConfig::default(), info(T14)).unwrap();
        let mut err = None;
        for i in 0..50_000 {
            if let Err(e) = rec.record(T14 + i, &book(i as usize)) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("the writer fails eventually");
        match (&err, kind) {
            (RecordError::DiskFull { path, .. }, io::ErrorKind::StorageFull) => {
                assert_eq!(path, Path::new("/r/market-2026-11-27T14.jsonl.zst"));
            }
            (RecordError::Io { path, op, source }, _) => {
                assert_eq!(path, Path::new("/r/market-2026-11-27T14.jsonl.zst"));
                assert!(matches!(op, IoOp::Write | IoOp::Flush), "{op}");
                assert_eq!(source.kind(), kind);
            }
            (other, _) => panic!("{kind:?}: {other:?}"),
        }
        let frames = rec.frames();
        assert!(matches!(rec.record(T14 + 60_000, "x"), Err(RecordError::Stopped { .. })));
        assert_eq!(rec.frames(), frames);
        drop(rec);
        assert_eq!(opened.len(), 1, "no new file after the failure");
    }
}

#[test]
fn metadata_that_cannot_be_written_is_refused_at_create() {
    let storage = TestStorage {
        files: HashMap::new(),
        open: |_: &Path| -> io::Result<Vec<u8>> { panic!("no data file may be opened") },
        meta_error: Some(io::ErrorKind::StorageFull),
    };
    let err = Recorder::create_in(storage, "/m", RecorderConfig::default(), info(T14)).unwrap_err();
    match err {
        RecordError::DiskFull { path, op: IoOp::WriteMetadata, .. } => assert_eq!(path, Path::new("/m/recording.json")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn source_urls_are_stored_without_credentials() {
    let dir = TestDir::new("url");
    let mut i = info(T14);
    i.source_url = "wss://user:hunter2@ws.example/ws/market?apikey=SECRET#x".into();
    Recorder::create(dir.path(), RecorderConfig::default(), i).unwrap().close().unwrap();
    let text = std::fs::read_to_string(dir.join(META_FILE)).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("SECRET") && !text.contains("user"), "{text}");
    assert_eq!(RecordingMeta::read(dir.path()).unwrap().sessions[0].source_url, "wss://ws.example/ws/market");
}

// ---- pacing ------------------------------------------------------------------

#[test]
fn pacing_at_speed_10_releases_frames_at_the_right_clock_times() {
    let dir = TestDir::new("pacing");
    let offsets = [0, 1_000, 2_500, 2_505, 2_505, HOUR];
    let mut rec = Recorder::create(dir.path(), RecorderConfig::default(), info(T14)).unwrap();
    for (i, off) in offsets.iter().enumerate() {
        rec.record(T14 + HOUR - 3_000 + off, &format!("f{i}")).unwrap();
    }
    rec.close().unwrap();

    let clock = Arc::new(ManualClock::new(1_000_000));
    let source = ReplaySource::open(dir.path()).unwrap();
    assert!(matches!(source, ReplaySource::Recording(_)));
    let speed = Speed::from_factor(10.0).unwrap();
    let mut replayer = Replayer::new(source, Pace::Speed(speed), Arc::clone(&clock));
    // ceil(offset / 10) after the first frame's release at 1_000_000.
    let due = [1_000_000, 1_000_100, 1_000_250, 1_000_251, 1_000_251, 1_360_000];
    for (i, want) in due.iter().enumerate() {
        match replayer.next_due().unwrap() {
            Paced::Due(f) => {
                assert_eq!(clock.now_ms(), *want);
                assert_eq!(f.text, format!("f{i}"));
                continue;
            }
            Paced::Wait { until } => assert_eq!(until, TimestampMs(*want), "frame {i}"),
            Paced::Finished => panic!("finished early"),
        }
        clock.set(want - 1);
        assert_eq!(replayer.next_due().unwrap(), Paced::Wait { until: TimestampMs(*want) });
        clock.set(*want);
        match replayer.next_due().unwrap() {
            Paced::Due(f) => {
                assert_eq!(f.text, format!("f{i}"));
                assert_eq!(f.received, TimestampMs(T14 + HOUR - 3_000 + offsets[i]));
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
    assert_eq!(replayer.next_due().unwrap(), Paced::Finished);

    // As fast as possible: everything due at once, whatever the clock says.
    let mut fast =
        Replayer::new(RecordingReader::open(dir.path()).unwrap(), Pace::AsFastAsPossible, ManualClock::new(0));
    let mut n = 0;
    while let Paced::Due(_) = fast.next_due().unwrap() {
        n += 1;
    }
    assert_eq!(n, offsets.len());
}
