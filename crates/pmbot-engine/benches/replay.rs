//! Replay throughput: frames per second read back from a zstd recording, in
//! memory and from disk (page cache warm), and for comparison the cost of
//! writing one and of synthesising `book` frames from the resolvedkit data.
//!
//! Run: `cargo bench -p pmbot-engine --bench replay`. Frames/s = the "item/s"
//! divan prints from the counter.
//!
//! The frames are the 27,480 resolvedkit book snapshots as `book` frames
//! (about 1.4 kB each, 20 levels a side) when `../shared/data` is present,
//! else the same number of synthetic 20-level `book` frames (printed at the
//! start, so a figure always says which).

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::LazyLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use pmbot_core::{ConditionId, Level, Price, Size, TimestampMs};
use pmbot_engine::record::{Recorder, RecorderConfig, RecordingInfo};
use pmbot_engine::replay::{Outcome, RecordingReader, ResolvedkitFrames, ZstdFrames, book_frame, synthetic_token_id};

fn main() {
    let d = &*DATA;
    eprintln!(
        "frames: {} ({}), {} bytes of frame text, {} bytes in {} zstd files (ratio {:.1})",
        d.frames.len(),
        d.origin,
        d.frame_bytes,
        d.files.iter().map(Vec::len).sum::<usize>(),
        d.files.len(),
        d.frame_bytes as f64 / d.files.iter().map(Vec::len).sum::<usize>() as f64
    );
    divan::main();
    let _ = std::fs::remove_dir_all(&d.dir);
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m")
}

struct Data {
    origin: &'static str,
    frames: Vec<(i64, String)>,
    frame_bytes: u64,
    /// A recording of `frames` on disk (hourly files).
    dir: PathBuf,
    /// The same files' bytes.
    files: Vec<Vec<u8>>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| {
    let (origin, frames) = if data_dir().is_dir() {
        let frames = ResolvedkitFrames::open(data_dir()).unwrap().map(|f| f.unwrap()).map(|f| (f.received.0, f.text));
        ("resolvedkit-btc15m", frames.collect())
    } else {
        ("synthetic: ../shared/data absent", synthetic_frames(27_480))
    };
    let frame_bytes = frames.iter().map(|(_, f)| f.len() as u64).sum();
    let dir = std::env::temp_dir().join(format!("pmbot-engine-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    record(&frames, &dir);
    let reader = RecordingReader::open(&dir).unwrap();
    let files = reader.files().iter().map(|p| std::fs::read(p).unwrap()).collect();
    Data { origin, frames, frame_bytes, dir, files }
});

fn record(frames: &[(i64, String)], dir: &PathBuf) {
    let info = RecordingInfo { source_url: "bench".into(), tokens: vec![], markets: vec![], started_ms: frames[0].0 };
    let mut rec = Recorder::create(dir, RecorderConfig::default(), info).unwrap();
    for (t, f) in frames {
        rec.record(*t, f).unwrap();
    }
    rec.close().unwrap();
}

/// `book` frames shaped like the resolvedkit ones: one market, both sides, a
/// snapshot a second, 20 levels a side with drifting sizes.
fn synthetic_frames(n: usize) -> Vec<(i64, String)> {
    let market = ConditionId::parse(&format!("0x{}", "5a".repeat(32))).unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|i| {
            let outcome = if i % 2 == 0 { Outcome::Up } else { Outcome::Down };
            let mut lvl = |p: u16| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Level::new(Price::from_pips(p).unwrap(), Size::from_micros(1_000_000 + x % 2_000_000_000))
            };
            let bids: Vec<Level> = (0..20).map(|k| lvl(4_900 - 100 * k)).collect();
            let asks: Vec<Level> = (0..20).map(|k| lvl(5_000 + 100 * k)).collect();
            let at = TimestampMs(1_790_585_000_000 + (i as i64 / 2) * 1_000);
            (at.0, book_frame(&market, &synthetic_token_id(&market, outcome), at, &bids, &asks))
        })
        .collect()
}

#[divan::bench(sample_count = 20)]
fn replay_in_memory(b: Bencher) {
    let d = &*DATA;
    b.counter(ItemsCount::new(d.frames.len())).counter(BytesCount::new(d.frame_bytes)).bench(|| {
        let mut n = 0usize;
        for bytes in &d.files {
            for f in ZstdFrames::new(&bytes[..], "memory").unwrap() {
                n += black_box(f.unwrap()).text.len();
            }
        }
        n
    });
}

#[divan::bench(sample_count = 20)]
fn replay_from_disk(b: Bencher) {
    let d = &*DATA;
    b.counter(ItemsCount::new(d.frames.len())).counter(BytesCount::new(d.frame_bytes)).bench(|| {
        let mut n = 0usize;
        for f in RecordingReader::open(&d.dir).unwrap() {
            n += black_box(f.unwrap()).text.len();
        }
        n
    });
}

#[divan::bench(sample_count = 10)]
fn record_to_disk(b: Bencher) {
    let d = &*DATA;
    let dir = d.dir.with_extension("write");
    b.counter(ItemsCount::new(d.frames.len())).counter(BytesCount::new(d.frame_bytes)).bench(|| {
        let _ = std::fs::remove_dir_all(&dir);
        record(&d.frames, &dir);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[divan::bench(sample_count = 10)]
fn resolvedkit_synthesis(b: Bencher) {
    if !data_dir().is_dir() {
        eprintln!("NOTICE: ../shared/data absent; resolvedkit_synthesis not measured");
        return;
    }
    b.counter(ItemsCount::new(DATA.frames.len())).bench(|| {
        ResolvedkitFrames::open(data_dir()).unwrap().map(|f| black_box(f.unwrap()).text.len()).sum::<usize>()
    });
}

/// Baseline for `replay_in_memory`: zstd decompression alone, no line
/// decoding (the rest of that row is JSON string unescaping and allocation).
#[divan::bench(sample_count = 20)]
fn decompress_only(b: Bencher) {
    let d = &*DATA;
    b.counter(ItemsCount::new(d.frames.len())).counter(BytesCount::new(d.frame_bytes)).bench(|| {
        let mut out = Vec::with_capacity(64 << 20);
        for bytes in &d.files {
            out.clear();
            zstd::stream::copy_decode(&bytes[..], &mut out).unwrap();
            black_box(&out);
        }
    });
}
