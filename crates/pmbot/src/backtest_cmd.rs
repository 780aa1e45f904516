//! `pmbot backtest`: recorded market data replayed through the whole engine
//! and the paper venue, as fast as it can be read, then the report.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use pmbot_core::TimestampMs;
use pmbot_engine::backtest::{self, Watch};
use pmbot_engine::engine::driver::PaperDriver;
use pmbot_engine::journal::{DataSource, RunMode};
use pmbot_engine::replay::{ReplaySource, ResolvedkitFrames};

use crate::config::FileConfig;
use pmbot_ops::health::MarketDataFigures;
use pmbot_run::monitor::Monitor;
use pmbot_run::settings::{self as trade, LoadedModel};
use pmbot_run::shutdown::Shutdown;

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Data folders, replayed in the order given: the resolvedkit data set
    /// (`books.jsonl.gz` with `markets.jsonl`) or pmbot recordings (`pmbot
    /// record`; the markets listed with their tokens and end time are traded).
    #[arg(long = "data", value_name = "DIR", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The model file (from `pmbot train`).
    #[arg(long, value_name = "FILE", default_value = "model.json")]
    pub model: PathBuf,
    /// Where the report goes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The journal (default: OUT/journal.sqlite).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Where the ops server listens (dashboard, /health, /metrics), instead
    /// of [ops] http; "" for none.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
}

pub fn run(file: FileConfig, args: BacktestArgs, stop: &Shutdown) -> Result<()> {
    let model = LoadedModel::load(&args.model)?;
    let settings = trade::engine_settings(&file, &model)?;
    // Every folder is checked before anything runs.
    let mut sources = Vec::new();
    let mut recordings = Vec::new();
    for dir in &args.data {
        match ReplaySource::open(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            ReplaySource::Resolvedkit(frames) => sources.push((dir.clone(), frames)),
            ReplaySource::Recording(reader) => {
                // A recorded feed lists its markets as it goes.
                let markets = if backtest::is_feed_recording(dir)? {
                    Vec::new()
                } else {
                    backtest::recorded_markets(dir, &reader)?
                };
                recordings.push((dir.clone(), reader, markets));
            }
            ReplaySource::Fixtures(_) => {
                bail!("{}: single WebSocket fixtures, not a recording to backtest", dir.display())
            }
        }
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let journal_path = args.journal.clone().unwrap_or_else(|| args.out.join("journal.sqlite"));
    let journal = trade::open_journal(&journal_path)?;
    // A backtest can be run again: its commits need not wait for the disk.
    pmbot_engine::engine::lock(&journal)
        .relax_durability_for_replay()
        .with_context(|| format!("cannot set up the journal {}", journal_path.display()))?;
    let handle = tokio::runtime::Handle::current();
    let mut monitor =
        handle.block_on(pmbot_run::monitor::Monitor::start_replay(&file, &journal, args.http.as_deref()))?;
    warn_if_in_sample(&model, &sources);
    let started = sources
        .iter()
        .flat_map(|(_, f)| f.markets().iter().map(|m| m.start_ms))
        .chain(recordings.iter().filter_map(|(_, r, _)| r.meta().and_then(|m| m.started_ms())))
        .min()
        .unwrap_or(TimestampMs::ZERO)
        .plus_millis(-3_600_000);
    let run = trade::run_start(RunMode::Backtest, DataSource::Replay, &file, &model, None, started);
    let mut runner = trade::paper_driver(&file, journal, &run, &model, settings)?;
    println!(
        "backtest run {} over {} folder(s); journal {}",
        runner.engine().run_id(),
        sources.len() + recordings.len(),
        journal_path.display()
    );
    let mut last = started;
    for (dir, frames) in sources {
        let span =
            frames.markets().iter().map(|m| m.start_ms).min().zip(frames.markets().iter().map(|m| m.end_ms).max());
        let mut watch = Watching::new(&mut monitor, span, stop);
        last = backtest::replay_resolvedkit(&mut runner, &dir, frames, &mut watch)?.max(last);
    }
    for (dir, mut reader, markets) in recordings {
        let span = reader.meta().and_then(|m| m.started_ms().zip(m.ended_ms()));
        let mut watch = Watching::new(&mut monitor, span, stop);
        last = backtest::replay_recording(&mut runner, &dir, &mut reader, markets, &mut watch)?.max(last);
        drop(watch);
        for cut in reader.truncations() {
            eprintln!("warning: {} ends in a partial frame ({} bytes dropped)", cut.path.display(), cut.dropped_bytes);
        }
    }
    monitor.report(runner.engine(), replay_figures(runner.stats().frames), None);
    let reason = stop.requested().map_or("end_of_data", |s| s.name());
    let (stats, rs) = runner.finish(last, reason).context("backtest")?;
    monitor.run_ended();
    println!(
        "stopped ({reason}): {} frames, {} samples, {} intents, {} refused by risk, {} fills, {} closed trades",
        rs.frames, stats.samples, stats.intents, stats.refusals, stats.fills, stats.trades
    );
    pmbot_run::settings::print_account(&rs);
    let written = pmbot_run::report_out::write(&journal_path, &args.out);
    handle.block_on(monitor.stop(file.ops.linger, reason, stop));
    Ok(written?)
}

/// Replayed data as a market-data stream: connected, every frame read.
fn replay_figures(frames: u64) -> MarketDataFigures {
    MarketDataFigures {
        state: "replay".into(),
        connected: true,
        message_age_ms: Some(0),
        uptime_pct: 100.0,
        messages: frames,
        ..MarketDataFigures::default()
    }
}

/// Progress on the terminal and the ops side, and the stop signal.
struct Watching<'a> {
    monitor: &'a mut Monitor,
    bar: indicatif::ProgressBar,
    first: Option<TimestampMs>,
    stop: &'a Shutdown,
}

impl Watching<'_> {
    /// Replaying a span of market time from `first` to `last` (when known).
    fn new<'a>(monitor: &'a mut Monitor, span: Option<(TimestampMs, TimestampMs)>, stop: &'a Shutdown) -> Watching<'a> {
        let bar = pmbot_run::paper::progress(span.map_or(0, |(a, b)| b.millis_since(a)));
        Watching { monitor, bar, first: span.map(|(a, _)| a), stop }
    }
}

impl Watch for Watching<'_> {
    fn progress(&mut self, driver: &PaperDriver, last: TimestampMs) {
        if let Some(first) = self.first {
            self.bar.set_position(u64::try_from(last.millis_since(first)).unwrap_or(0) / 1000);
        }
        if self.monitor.due() {
            self.monitor.report(driver.engine(), replay_figures(driver.stats().frames), None);
        }
    }

    fn stop(&self) -> bool {
        self.stop.requested().is_some()
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A model trained on the very data it is tested on looks better than it is.
fn warn_if_in_sample(model: &LoadedModel, sources: &[(PathBuf, ResolvedkitFrames)]) {
    let span = &model.file.training;
    let overlaps =
        sources.iter().flat_map(|(_, f)| f.markets()).any(|m| m.start_ms <= span.last && m.end_ms >= span.first);
    if overlaps {
        eprintln!(
            "warning: the model was trained on data from {} to {}, which this backtest replays: \
             its figures are in-sample and flatter the model",
            span.first, span.last
        );
    }
}
