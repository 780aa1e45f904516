//! `pmbot paper`: the whole engine with simulated money. `--sim` runs it on
//! the embedded simulator's market model, stepped in-process as fast as the
//! CPU allows (an accelerated clock: a simulated day takes seconds); without
//! `--sim` it follows Polymarket's live market data in real time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pmbot_core::TimestampMs;
use pmbot_engine::engine::driver::PaperDriver;
use pmbot_engine::journal::{DataSource, RunMode};
use pmbot_engine::record::{Recorder, RecorderConfig, RecordingInfo};
use pmbot_model::{TrainSpec, train};
use pmbot_sim::SourceConfig;
use pmbot_sim::generate::{FeedFrame, FeedStepper, GENERATED_START_MS};
use pmbot_sim::model::synthetic::SyntheticConfig;

use crate::config::FileConfig;
use crate::error::refuse;
use crate::error::{Context, Result};
use crate::monitor::Monitor;
use crate::settings::{self as trade, LoadedModel};
use crate::shutdown::Shutdown;
use crate::source::SourceArgs;
use pmbot_ops::health::MarketDataFigures;

#[derive(Debug, Args)]
pub struct PaperArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// How much market time to trade: with --sim, simulated time (run as
    /// fast as the CPU allows); otherwise real time.
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The journal (default: [journal] path).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Where the performance report goes.
    #[arg(long, value_name = "DIR", default_value = "pmbot-report")]
    pub report: PathBuf,
    /// The model file. With --sim and no model, one is trained first on
    /// --warmup of simulated market time before trading starts (the trading
    /// period is never seen in training).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// With --sim and no --model: simulated market time to train on first.
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// With --sim: market time per wall-clock time (60 = a simulated minute
    /// each second), to watch the dashboard follow along. Default: as fast
    /// as the CPU allows.
    #[arg(long, value_name = "FACTOR")]
    pub speed: Option<f64>,
    /// Where the ops server listens (dashboard, /health, /metrics), instead
    /// of [ops] http; "" for none.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// On live data: records the feed as the engine takes it (its events,
    /// the REST resyncs, the books it stopped trusting, the clock) into DIR;
    /// `pmbot backtest --data DIR` replays the run decision for decision.
    #[arg(long, value_name = "DIR", conflicts_with = "sim")]
    pub record: Option<PathBuf>,
}

pub async fn run(file: FileConfig, args: PaperArgs, stop: Shutdown) -> Result<()> {
    if args.source.sim {
        return tokio::task::block_in_place(|| run_sim(&file, &args, &stop));
    }
    crate::paper_live::run(file, args, stop).await
}

fn ms(d: Duration, what: &str) -> Result<i64> {
    let v = i64::try_from(d.as_millis()).with_context(|| format!("--{what} is too long"))?;
    if v <= 0 {
        refuse!("--{what} must be positive");
    }
    Ok(v)
}

fn synthetic_config(file: &FileConfig) -> Result<SyntheticConfig> {
    match &file.sim.source {
        SourceConfig::Synthetic(cfg) => Ok((**cfg).clone()),
        SourceConfig::Replay { .. } => {
            refuse!("paper --sim needs the synthetic market source ([sim.source] synthetic)")
        }
    }
}

/// Paper trading on the simulator's market model, stepped in-process.
fn run_sim(file: &FileConfig, args: &PaperArgs, stop: &Shutdown) -> Result<()> {
    let duration_ms = ms(args.duration, "duration")?;
    trade::validate_config(file)?;
    let journal_path = args.journal.clone().unwrap_or_else(|| file.journal.path.clone());
    std::fs::create_dir_all(&args.report)
        .with_context(|| format!("cannot create the report folder {}", args.report.display()))?;
    let synthetic = synthetic_config(file)?;
    let mut stepper = FeedStepper::synthetic(synthetic.clone(), GENERATED_START_MS)
        .context("invalid [sim] configuration")?
        .with_custom_frames();
    // Everything that can be refused is checked before the warm-up runs.
    let loaded = match &args.model {
        Some(path) => Some(LoadedModel::load(path)?),
        None => None,
    };
    if let Some(model) = &loaded {
        trade::engine_settings(file, model)?;
    }
    if let Some(speed) = args.speed
        && !(speed.is_finite() && speed > 0.0)
    {
        refuse!("--speed must be a positive number (market time per wall-clock time)");
    }
    let journal = trade::open_journal(&journal_path)?;
    let handle = tokio::runtime::Handle::current();
    let start =
        Monitor::start(file, &journal, args.http.as_deref(), "paper (simulator)", crate::offline::Exchange::Simulated);
    let mut monitor = handle.block_on(start)?;
    let model = match loaded {
        Some(model) => Some(model),
        None => train_on_warmup(&mut stepper, ms(args.warmup, "warmup")?, &args.report, synthetic.seed, stop)?,
    };
    // A stop during the warm-up (or its training) ends here: no run yet.
    let (Some(model), None) = (model, stop.requested()) else {
        let why = stop.requested().map_or("stopped", |s| s.name());
        println!("stopped ({why}) before trading started: no run was recorded");
        handle.block_on(monitor.stop(file.ops.linger, why, stop));
        return Ok(());
    };
    let settings = trade::engine_settings(file, &model)?;
    let started = TimestampMs::from_millis(stepper.now_ms());
    let run = trade::run_start(RunMode::Paper, DataSource::Simulator, file, &model, None, started);
    let mut runner = trade::paper_driver(file, journal, &run, &model, settings)?;
    println!(
        "paper trading (simulator, seed {}) run {} for {} of simulated market time; journal {}",
        synthetic.seed,
        runner.engine().run_id(),
        humantime::format_duration(args.duration),
        journal_path.display()
    );

    // A new subscriber first gets every open book.
    let (open, books) = stepper.open_books();
    stepper.take_listed();
    for spec in &open {
        runner.list_market(trade::sim_market(spec)).context("cannot list a market")?;
    }
    feed(&mut runner, &books)?;

    let end = stepper.now_ms() + duration_ms;
    let bar = progress(duration_ms);
    let mut frames: Vec<FeedFrame> = Vec::new();
    let mut at = stepper.now_ms() + 1;
    let mut steps = 0u64;
    let mut messages = 0u64;
    let pace = args.speed.map(|speed| Pace { speed, wall: std::time::Instant::now(), market: stepper.now_ms() });
    // Paced, the run follows a wall clock: its rows reach the journal (and
    // the dashboard) within a second, as in a real-time run.
    let mut flushed = std::time::Instant::now();
    let mut reason = "duration";
    while at <= end {
        if let Some(signal) = stop.requested() {
            reason = signal.name();
            break;
        }
        frames.clear();
        stepper.step_at(at, &mut frames);
        for spec in stepper.take_listed() {
            runner.list_market(trade::sim_market(&spec)).context("cannot list a market")?;
        }
        feed(&mut runner, &frames)?;
        monitor.after_step(runner.engine().now());
        messages += frames.len() as u64;
        steps += 1;
        if steps.is_multiple_of(4096) {
            // Markets rotate: resolved ones with nothing held are dropped.
            runner.forget_resolved();
            bar.set_position(u64::try_from(stepper.now_ms() - started.millis()).unwrap_or(0) / 1000);
        }
        if let Some(pace) = &pace {
            pace.wait_for(stepper.now_ms());
            if flushed.elapsed() >= FLUSH_EVERY {
                runner.flush().context("paper run")?;
                flushed = std::time::Instant::now();
            }
        }
        if (pace.is_some() || steps.is_multiple_of(256)) && monitor.due() {
            monitor.report(runner.engine(), in_process_figures(messages, stepper.now_ms() - started.millis()), None);
        }
        at = stepper.next_step_ms().max(stepper.now_ms() + 1);
    }
    bar.finish_and_clear();
    monitor.report(runner.engine(), in_process_figures(messages, stepper.now_ms() - started.millis()), None);
    let stopped_at = if reason == "duration" { end } else { stepper.now_ms() };
    let (stats, runner_stats) = runner.finish(TimestampMs::from_millis(stopped_at), reason).context("paper run")?;
    println!(
        "stopped ({reason}): {} samples, {} intents, {} refused by risk, {} fills, {} closed trades; {} frames, {} messages refused",
        stats.samples,
        stats.intents,
        stats.refusals,
        stats.fills,
        stats.trades,
        runner_stats.frames,
        runner_stats.rejected_messages
    );
    crate::settings::print_account(&runner_stats);
    monitor.run_ended();
    let written = crate::report_out::write(&journal_path, &args.report);
    handle.block_on(monitor.stop(file.ops.linger, reason, stop));
    written
}

/// How often a run on a wall clock writes the rows it holds.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Holds the stepping loop to `speed` times the wall clock.
struct Pace {
    speed: f64,
    wall: std::time::Instant,
    market: i64,
}

impl Pace {
    fn wait_for(&self, market_now: i64) {
        let due = Duration::from_secs_f64((market_now - self.market).max(0) as f64 / 1000.0 / self.speed);
        if let Some(ahead) = due.checked_sub(self.wall.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
}

/// The in-process simulator as a market-data stream: always connected,
/// every message delivered as it is made.
fn in_process_figures(messages: u64, market_elapsed_ms: i64) -> MarketDataFigures {
    let secs = market_elapsed_ms.max(1) as f64 / 1000.0;
    MarketDataFigures {
        state: "in_process".into(),
        connected: true,
        resyncing: false,
        message_age_ms: Some(0),
        uptime_pct: 100.0,
        uptime_s: secs,
        reconnects: 0,
        messages,
        messages_per_s: messages as f64 / secs,
        last_resync_ms: None,
    }
}

fn feed(runner: &mut PaperDriver, frames: &[FeedFrame]) -> Result<()> {
    for f in frames {
        runner.on_frame(&f.text, TimestampMs::from_millis(f.at_ms)).context("paper run")?;
    }
    Ok(())
}

/// Steps the simulator through `warmup_ms`, records what it published, and
/// trains the model on that (validated walk-forward first). `None` when a
/// stop signal came first.
fn train_on_warmup(
    stepper: &mut FeedStepper,
    warmup_ms: i64,
    report: &Path,
    seed: u64,
    stop: &Shutdown,
) -> Result<Option<LoadedModel>> {
    let dir = std::env::temp_dir().join(format!("pmbot-paper-warmup-{}-{seed}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let info = RecordingInfo {
        source_url: format!("pmbot-sim://synthetic?seed={seed}"),
        tokens: Vec::new(),
        markets: Vec::new(),
        started_ms: stepper.now_ms(),
    };
    eprintln!(
        "training the model on {} of simulated market data first",
        humantime::format_duration(Duration::from_millis(warmup_ms as u64))
    );
    let mut recorder = Recorder::create(&dir, RecorderConfig::default(), info).context("cannot record the warm-up")?;
    let until = stepper.now_ms() + warmup_ms;
    let recorded = stepper.run_until(until, |f| {
        if stop.requested().is_some() {
            return Err(WarmupError::Stopped);
        }
        recorder.record(f.at_ms, &f.text).map_err(WarmupError::Record)
    });
    match recorded {
        Ok(_) => {}
        Err(WarmupError::Stopped) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(None);
        }
        Err(WarmupError::Record(e)) => return Err(e).context("cannot record the warm-up"),
    }
    recorder.close().context("cannot record the warm-up")?;
    stepper.take_listed();
    let trained = train(&[&dir], &TrainSpec::default(), &mut |_| {}).context("cannot train on the warm-up");
    let _ = std::fs::remove_dir_all(&dir);
    let trained = trained?;
    let path = report.join("model.json");
    trained.model.save(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut model = LoadedModel::load(&path)?;
    model.path = Some(path);
    Ok(Some(model))
}

/// Why the warm-up recording stopped early.
enum WarmupError {
    Stopped,
    Record(pmbot_engine::record::RecordError),
}

/// A progress bar over market time, in seconds (hidden when not a terminal).
pub fn progress(span_ms: i64) -> ProgressBar {
    let bar = ProgressBar::new(u64::try_from(span_ms).unwrap_or(0) / 1000);
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {percent}% of market time {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
