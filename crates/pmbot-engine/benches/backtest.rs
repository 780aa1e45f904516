//! Backtest throughput, end to end: market-channel frames from memory
//! through parse, books, features, model, strategy, risk gate, paper fills
//! and the SQLite journal (decisions, orders, fills, trades, marks), on one
//! core. Target: >= 1,000,000 messages/s.
//!
//! Run: `cargo bench -p pmbot-engine --bench backtest`. Messages/s = the
//! "item/s" divan prints (one item = one frame as the feed sent it).
//!
//! Two feeds, with a model trained on 1 h of the simulator's market model:
//! - `simulator_feed`: the following 2 h of that model (4 markets, 15-minute
//!   rotation, makers, noise and informed takers; a full `book` after every
//!   trade, and the custom-feature messages): heavy frames, 1.4 kB on average.
//! - `real_mix`: 200,000 frames in the real feed's proportions (the market-data
//!   benchmark's generator: 25 markets, 88 % `price_change`, 10 %
//!   `last_trade_price`, 2 % `book`), after an initial `book` dump.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use divan::Bencher;
use divan::counter::ItemsCount;
use pmbot_core::{FEATURE_NAMES, PaperConfig, RiskConfig, StrategyConfig, TimestampMs, Usdc};
use pmbot_engine::engine::driver::PaperDriver;
use pmbot_engine::engine::{Engine, EngineSettings, KillSwitchFile, MarketInfo};
use pmbot_engine::journal::{DataSource, Journal, RunMode, RunStart};
use pmbot_feed::FrameParser;
use pmbot_model::{ModelFile, TrainSpec, train};
use pmbot_sim::generate::{FeedStepper, GENERATED_START_MS, generate_recording_from};
use pmbot_sim::model::synthetic::SyntheticConfig;

#[path = "../../pmbot-venue/benches/common/mod.rs"]
pub(crate) mod common;

fn main() {
    let d = &*DATA;
    eprintln!(
        "simulator feed: {} frames, {} markets listed, {} bytes of frame text",
        frame_count(&d.frames),
        d.listed,
        d.bytes
    );
    let r = &*REAL_MIX;
    eprintln!(
        "real mix: {} frames, {} markets, {} bytes of frame text",
        frame_count(r),
        r.iter().filter(|i| matches!(i, Item::List(_))).count(),
        r.iter().map(|i| if let Item::Frame(_, t) = i { t.len() } else { 0 }).sum::<usize>()
    );
    divan::main();
    let _ = std::fs::remove_dir_all(&d.dir);
}

/// One frame, or a market listed just before it.
pub(crate) enum Item {
    List(MarketInfo),
    Frame(i64, Arc<str>),
}

pub(crate) struct Data {
    pub(crate) dir: PathBuf,
    pub(crate) model: ModelFile,
    pub(crate) frames: Vec<Item>,
    pub(crate) listed: usize,
    pub(crate) bytes: usize,
    pub(crate) started: i64,
}

pub(crate) static DATA: LazyLock<Data> = LazyLock::new(|| {
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
    let fd = spec.fee;
    MarketInfo {
        market: spec.condition_id,
        up: spec.tokens[0].token_id.clone(),
        down: spec.tokens[1].token_id.clone(),
        end: spec.end_ms.map(TimestampMs::from_millis),
        fee: pmbot_core::FeeModel { rate: fd.rate, exponent: fd.exponent, taker_only: fd.taker_only },
        min_order_size: spec.min_order_size,
        tick: spec.tick,
    }
}

/// The real feed's proportions, with each pair of tokens listed as a
/// market ending a day later.
pub(crate) static REAL_MIX: LazyLock<Vec<Item>> = LazyLock::new(|| {
    let rec = common::recording(25, 200_000, 7);
    let mut parser = FrameParser::new();
    let mut items = Vec::new();
    let mut out = Vec::new();
    for (i, pair) in rec.tokens.chunks(2).enumerate() {
        out.clear();
        let _ = parser.parse(&rec.frames[2 * i], common::received(0), &mut out);
        let Some(pmbot_core::MarketEvent::Book(book)) = out.first() else { panic!("the dump starts with books") };
        items.push(Item::List(MarketInfo {
            market: book.market,
            up: pair[0].clone(),
            down: pair[1].clone(),
            end: Some(common::received(0).plus_millis(86_400_000)),
            fee: pmbot_core::FeeModel::crypto(),
            min_order_size: pmbot_core::Size::from_micros(5_000_000),
            tick: book.tick_size.unwrap_or(pmbot_core::TickSize::Hundredth),
        }));
    }
    for (i, f) in rec.frames.into_iter().enumerate() {
        items.push(Item::Frame(common::received(i).millis(), Arc::from(f)));
    }
    items
});

pub(crate) fn frame_count(items: &[Item]) -> usize {
    items.iter().filter(|i| matches!(i, Item::Frame(..))).count()
}

/// The whole engine over the simulator's 2 h feed, into a fresh journal file.
#[divan::bench(sample_count = 10)]
fn simulator_feed(bencher: Bencher) {
    let d = &*DATA;
    bencher.counter(ItemsCount::new(frame_count(&d.frames))).bench_local(|| run(&d.frames, d.started));
}

/// The whole engine over frames in the real feed's proportions.
#[divan::bench(sample_count = 10)]
fn real_mix(bencher: Bencher) {
    let items = &*REAL_MIX;
    let started = common::received(0).millis() - 1;
    bencher.counter(ItemsCount::new(frame_count(items))).bench_local(|| run(items, started));
}

fn run(items: &[Item], started: i64) {
    run_with(items, started, |_| {});
}

/// `run`, with `install` called on the journal before the engine starts (the
/// ops benchmark installs its observer there).
pub(crate) fn run_with(items: &[Item], started: i64, install: impl FnOnce(&mut Journal)) {
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let d = &*DATA;
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    {
        let path = d.dir.join(format!("journal-{n}.sqlite"));
        let mut journal = Journal::open(&path).unwrap();
        // As `pmbot backtest` runs it: no fsync per commit.
        journal.relax_durability_for_replay().unwrap();
        install(&mut journal);
        let journal = Arc::new(Mutex::new(journal));
        let settings = EngineSettings {
            strategy: StrategyConfig::default(),
            risk: RiskConfig::default(),
            features: d.model.feature_spec,
            sample_step_ms: d.model.grid.step_ms,
            mark_interval_ms: 60_000,
            batch_rows: 4096,
        };
        let run = RunStart {
            mode: RunMode::Backtest,
            data_source: DataSource::Simulator,
            config: serde_json::json!({}),
            model_fingerprint: "bench".into(),
            model: serde_json::json!({}),
            pmbot_version: "bench".into(),
            gate_override: None,
            started: TimestampMs::from_millis(started),
        };
        let kill = Box::new(KillSwitchFile(d.dir.join(".kill_switch")));
        let engine =
            Engine::start(journal, &run, settings, Box::new(d.model.model.clone()), kill, Usdc::from_whole(300))
                .unwrap();
        let mut runner = PaperDriver::paper(engine, PaperConfig::default());
        let mut last = 0;
        for item in items {
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
    }
}

/// The floor under `real_mix`: the same frames parsed into events, nothing
/// applied (the split between parsing and everything after it).
#[divan::bench(sample_count = 10)]
fn real_mix_parse_only(bencher: Bencher) {
    let items = &*REAL_MIX;
    bencher.counter(ItemsCount::new(frame_count(items))).bench_local(|| {
        let mut parser = FrameParser::new();
        for item in items {
            if let Item::List(info) = item {
                parser.interner_mut().insert(info.up.clone());
                parser.interner_mut().insert(info.down.clone());
            }
        }
        let mut out = Vec::with_capacity(8);
        for item in items {
            if let Item::Frame(at, text) = item {
                out.clear();
                black_box(parser.parse(text, TimestampMs::from_millis(*at), &mut out).events);
            }
        }
    });
}
