//! Backtest throughput, end to end: market-channel frames from memory
//! through parse, books, features, model, strategy, risk gate, paper fills
//! and the SQLite journal (decisions, orders, fills, trades, marks), on one
//! core. Target: >= 1,000,000 messages/s.
//!
//! Run: `cargo bench -p pmbot-engine --bench backtest`. Messages/s = the
//! "item/s" divan prints (one item = one frame as the feed sent it).
//!
//! The feed is the embedded simulator's market model (4 markets, 15-minute
//! rotation, makers, noise and informed takers): 1 h of it is recorded and
//! a model trained on it, then the following 2 h are the replayed feed.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use divan::Bencher;
use divan::counter::ItemsCount;
use pmbot_core::{FEATURE_NAMES, PaperConfig, RiskConfig, StrategyConfig, TimestampMs, Usdc};
use pmbot_engine::engine::runner::PaperRunner;
use pmbot_engine::engine::{Engine, EngineSettings, KillSwitchFile, MarketInfo};
use pmbot_engine::journal::{DataSource, Journal, RunMode, RunStart};
use pmbot_model::{ModelFile, TrainSpec, train};
use pmbot_sim::generate::{FeedStepper, GENERATED_START_MS, generate_recording_from};
use pmbot_sim::model::synthetic::SyntheticConfig;

fn main() {
    let d = &*DATA;
    eprintln!("feed: {} frames, {} markets listed, {} bytes of frame text", d.frames.len(), d.listed, d.bytes);
    divan::main();
    let _ = std::fs::remove_dir_all(&d.dir);
}

/// One frame, or a market listed just before it.
enum Item {
    List(MarketInfo),
    Frame(i64, Arc<str>),
}

struct Data {
    dir: PathBuf,
    model: ModelFile,
    frames: Vec<Item>,
    listed: usize,
    bytes: usize,
    started: i64,
}

static DATA: LazyLock<Data> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("pmbot-bench-backtest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = SyntheticConfig::default();
    let hour = std::time::Duration::from_secs(3600);
    generate_recording_from(&cfg, GENERATED_START_MS, hour, &dir.join("train")).unwrap();
    let model = train(&[dir.join("train")], &TrainSpec::default(), &mut |_| {}).unwrap().model;
    let path = dir.join("model.json");
    model.save(&path).unwrap();
    let model = ModelFile::load(&path, &FEATURE_NAMES).unwrap();

    // The feed after the training hour: the same market model, unseen.
    let mut stepper = FeedStepper::synthetic(cfg, GENERATED_START_MS).unwrap().with_custom_frames();
    stepper.run_until(GENERATED_START_MS + 3_600_000, |_| Ok::<(), ()>(())).unwrap();
    let started = stepper.now_ms();
    let mut frames = Vec::new();
    let (open, books) = stepper.open_books();
    stepper.take_listed();
    let mut listed = open.len();
    frames.extend(open.iter().map(|s| Item::List(info(s))));
    frames.extend(books.into_iter().map(|f| Item::Frame(f.at_ms, f.text)));
    let end = started + 2 * 3_600_000;
    let mut buf = Vec::new();
    let mut at = started + 1;
    while at <= end {
        buf.clear();
        stepper.step_at(at, &mut buf);
        for spec in stepper.take_listed() {
            listed += 1;
            frames.push(Item::List(info(&spec)));
        }
        frames.extend(buf.drain(..).map(|f| Item::Frame(f.at_ms, f.text)));
        at = stepper.next_step_ms().max(stepper.now_ms() + 1);
    }
    let bytes = frames.iter().map(|i| if let Item::Frame(_, t) = i { t.len() } else { 0 }).sum();
    Data { dir, model, frames, listed, bytes, started }
});

fn info(spec: &pmbot_sim::engine::MarketSpec) -> MarketInfo {
    MarketInfo {
        market: spec.condition_id,
        up: spec.tokens[0].token_id.clone(),
        down: spec.tokens[1].token_id.clone(),
        end: spec.end_ms.map(TimestampMs::from_millis),
        fee: spec.fee,
        min_order_size: spec.min_order_size,
        tick: spec.tick,
    }
}

fn frame_count() -> usize {
    DATA.frames.iter().filter(|i| matches!(i, Item::Frame(..))).count()
}

/// The whole engine over the 2 h feed, into a fresh journal file.
#[divan::bench(sample_count = 10)]
fn paper_engine_end_to_end(bencher: Bencher) {
    let d = &*DATA;
    let mut n = 0u32;
    bencher.counter(ItemsCount::new(frame_count())).bench_local(|| {
        n += 1;
        let path = d.dir.join(format!("journal-{n}.sqlite"));
        let journal = Arc::new(Mutex::new(Journal::open(&path).unwrap()));
        let settings = EngineSettings {
            strategy: StrategyConfig::default(),
            risk: RiskConfig::default(),
            features: d.model.feature_spec,
            sample_step_ms: d.model.grid.step_ms,
            mark_interval_ms: 60_000,
            batch_rows: 4096,
            id_prefix: String::new(),
        };
        let run = RunStart {
            mode: RunMode::Backtest,
            data_source: DataSource::Simulator,
            config: serde_json::json!({}),
            model_fingerprint: "bench".into(),
            model: serde_json::json!({}),
            pmbot_version: "bench".into(),
            gate_override: None,
            started: TimestampMs::from_millis(d.started),
        };
        let kill = Box::new(KillSwitchFile(d.dir.join(".kill_switch")));
        let engine =
            Engine::start(journal, &run, settings, Box::new(d.model.model.clone()), kill, Usdc::from_whole(300))
                .unwrap();
        let mut runner = PaperRunner::new(engine, PaperConfig::default());
        let mut last = 0;
        for item in &d.frames {
            match item {
                Item::List(info) => runner.list_market(info.clone()).unwrap(),
                Item::Frame(at, text) => {
                    last = *at;
                    runner.on_frame(text, TimestampMs::from_millis(*at)).unwrap();
                }
            }
        }
        black_box(runner.finish(TimestampMs::from_millis(last), "end").unwrap());
        let _ = std::fs::remove_file(&path);
    });
}
