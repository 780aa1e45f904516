//! `pmbot backtest`: recorded market data replayed through the whole engine
//! and the paper venue, as fast as it can be read, then the report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use pmbot_core::{MarketResolved, TimestampMs};
use pmbot_engine::engine::driver::PaperDriver;
use pmbot_engine::engine::feed_input::FeedInput;
use pmbot_engine::engine::{Engine, KillSwitchFile, MarketInfo};
use pmbot_engine::journal::{DataSource, RunMode};
use pmbot_engine::replay::{Outcome, RecordingReader, ReplaySource, ResolvedkitFrames};

use crate::config::FileConfig;
use crate::monitor::Monitor;
use crate::shutdown::Shutdown;
use crate::trade::{self, LoadedModel};
use pmbot_ops::health::MarketDataFigures;

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
                let markets = if is_feed_recording(dir)? { Vec::new() } else { recorded_markets(dir, &reader)? };
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
    let mut monitor = handle.block_on(crate::monitor::Monitor::start_replay(&file, &journal, args.http.as_deref()))?;
    warn_if_in_sample(&model, &sources);
    let started = sources
        .iter()
        .flat_map(|(_, f)| f.markets().iter().map(|m| m.start_ms))
        .chain(recordings.iter().filter_map(|(_, r, _)| r.meta().and_then(|m| m.started_ms())))
        .min()
        .unwrap_or(TimestampMs::ZERO)
        .plus_millis(-3_600_000);
    let run = trade::run_start(RunMode::Backtest, DataSource::Replay, &file, &model, None, started);
    let kill = Box::new(KillSwitchFile(file.gateway.kill_switch.clone()));
    let engine =
        Engine::start(journal, &run, settings, Box::new(model.file.model.clone()), kill, file.paper.starting_cash)
            .context("the engine did not start")?;
    let mut runner = PaperDriver::paper(engine, file.paper.clone());
    println!(
        "backtest run {} over {} folder(s); journal {}",
        runner.engine().run_id(),
        sources.len() + recordings.len(),
        journal_path.display()
    );
    let mut last = started;
    for (dir, frames) in sources {
        last = replay_resolvedkit(&mut runner, &mut monitor, &dir, frames, stop)?.max(last);
    }
    for (dir, reader, markets) in recordings {
        last = replay_recording(&mut runner, &mut monitor, &dir, reader, markets, stop)?.max(last);
    }
    monitor.report(runner.engine(), replay_figures(runner.stats().frames), None);
    let reason = stop.requested().map_or("end_of_data", |s| s.name());
    let (stats, rs) = runner.finish(last, reason).context("backtest")?;
    monitor.run_ended();
    println!(
        "stopped ({reason}): {} frames, {} samples, {} intents, {} refused by risk, {} fills, {} closed trades",
        rs.frames, stats.samples, stats.intents, stats.refusals, stats.fills, stats.trades
    );
    crate::trade::print_accounts(&rs);
    let written = crate::report_out::write(&journal_path, &args.out);
    handle.block_on(monitor.stop(file.ops.linger, reason, stop));
    written
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

/// Replays one resolvedkit folder; each market resolves (by its recorded
/// payout) once the data passes its end. Returns the last time seen.
fn replay_resolvedkit(
    runner: &mut PaperDriver,
    monitor: &mut Monitor,
    dir: &Path,
    frames: ResolvedkitFrames,
    stop: &Shutdown,
) -> Result<TimestampMs> {
    let markets = frames.markets().to_vec();
    for m in &markets {
        runner.list_market(MarketInfo::from_resolvedkit(m))?;
    }
    let mut pending: Vec<(TimestampMs, MarketResolved)> = markets
        .iter()
        .filter_map(|m| {
            let winner = m.winner?;
            let outcome = match winner {
                Outcome::Up => 0,
                Outcome::Down => 1,
            };
            Some((
                m.end_ms,
                MarketResolved {
                    market: m.condition_id,
                    tokens: m.tokens.to_vec(),
                    winning_token: m.tokens[outcome].clone(),
                    winning_outcome: m.outcomes[outcome].clone(),
                    time: pmbot_core::EventTime { received: m.end_ms, exchange: m.end_ms },
                },
            ))
        })
        .collect();
    pending.sort_by_key(|(end, r)| (*end, r.market));
    pending.reverse();
    let span = markets.iter().map(|m| m.start_ms).min().zip(markets.iter().map(|m| m.end_ms).max());
    let bar = crate::paper_cmd::progress(span.map_or(0, |(a, b)| b.millis_since(a)));
    let mut last = TimestampMs::ZERO;
    for (n, frame) in frames.enumerate() {
        if stop.requested().is_some() {
            // Stopped: what has not ended by now does not resolve.
            return Ok(last);
        }
        let frame = frame.with_context(|| format!("cannot read {}", dir.display()))?;
        while pending.last().is_some_and(|(end, _)| *end < frame.received) {
            let (end, resolved) = pending.pop().expect("checked");
            runner.resolve(resolved, end.max(last))?;
        }
        last = last.max(frame.received);
        runner.on_frame(&frame.text, last).context("backtest")?;
        if n % 4096 == 0 {
            if let Some((first, _)) = span {
                bar.set_position(u64::try_from(last.millis_since(first)).unwrap_or(0) / 1000);
            }
            if monitor.due() {
                monitor.report(runner.engine(), replay_figures(runner.stats().frames), None);
            }
        }
    }
    while let Some((end, resolved)) = pending.pop() {
        last = last.max(end);
        runner.resolve(resolved, last)?;
    }
    bar.finish_and_clear();
    Ok(last)
}

/// The markets a recording lists with their tokens and end time (what
/// `pmbot record` and the simulator's generator write). Fees are taken at
/// Polymarket's highest category rate, so they are never underestimated.
fn recorded_markets(dir: &Path, reader: &RecordingReader) -> Result<Vec<MarketInfo>> {
    let listed = reader.meta().map(|m| m.markets()).unwrap_or_default();
    let infos: Vec<MarketInfo> = listed
        .iter()
        .filter(|m| m.tokens.len() == 2)
        .map(|m| MarketInfo {
            market: m.condition_id,
            up: m.tokens[0].clone(),
            down: m.tokens[1].clone(),
            end: m.end_ms.map(TimestampMs::from_millis),
            fee: pmbot_core::FeeModel::crypto(),
            min_order_size: trade::DEFAULT_MIN_ORDER,
            tick: trade::DEFAULT_TICK,
        })
        .collect();
    if infos.is_empty() {
        bail!(
            "{}: the recording lists no market with its two tokens (recorded with --tokens, or by an older pmbot); \
             record with --market SLUG to backtest it",
            dir.display()
        );
    }
    Ok(infos)
}

/// Whether `dir` holds a real-time run's feed (`pmbot paper --record`)
/// rather than raw market-channel frames: its first frame says.
fn is_feed_recording(dir: &Path) -> Result<bool> {
    let mut reader = RecordingReader::open(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    match reader.next() {
        Some(frame) => {
            let frame = frame.with_context(|| format!("cannot read {}", dir.display()))?;
            Ok(FeedInput::from_frame(&frame.text).is_some())
        }
        None => Ok(false),
    }
}

/// Replays one pmbot recording; markets resolve by the recorded
/// `market_resolved` messages. A recorded feed is given to the driver
/// input by input, as the run that recorded it was. Returns the last time
/// seen.
fn replay_recording(
    runner: &mut PaperDriver,
    monitor: &mut Monitor,
    dir: &Path,
    mut reader: RecordingReader,
    markets: Vec<MarketInfo>,
    stop: &Shutdown,
) -> Result<TimestampMs> {
    for info in markets {
        runner.list_market(info)?;
    }
    let span = reader.meta().and_then(|m| m.started_ms().zip(m.ended_ms()));
    let bar = crate::paper_cmd::progress(span.map_or(0, |(a, b)| b.millis_since(a)));
    let mut last = TimestampMs::ZERO;
    for (n, frame) in reader.by_ref().enumerate() {
        if stop.requested().is_some() {
            break;
        }
        let frame = frame.with_context(|| format!("cannot read {}", dir.display()))?;
        match FeedInput::from_frame(&frame.text) {
            // As the recording run's driver took it, at its time.
            Some(input) => {
                let (input, at) = input.with_context(|| format!("{}: frame {}", dir.display(), n + 1))?;
                last = last.max(at);
                runner.on_input(&input, at).context("backtest")?;
            }
            None => {
                last = last.max(frame.received);
                runner.on_frame(&frame.text, last).context("backtest")?;
            }
        }
        if n % 4096 == 0 {
            if let Some((first, _)) = span {
                bar.set_position(u64::try_from(last.millis_since(first)).unwrap_or(0) / 1000);
            }
            if monitor.due() {
                monitor.report(runner.engine(), replay_figures(runner.stats().frames), None);
            }
        }
    }
    bar.finish_and_clear();
    for cut in reader.truncations() {
        eprintln!("warning: {} ends in a partial frame ({} bytes dropped)", cut.path.display(), cut.dropped_bytes);
    }
    Ok(last)
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
