//! Recorded data through the paper driver, as fast as it can be read: the
//! resolvedkit data set (each market resolved by its recorded payout once
//! the data passes its end) and pmbot recordings (raw market-channel frames,
//! markets resolving by their `market_resolved` messages; or a recorded
//! feed, given back to the driver input by input, see [`FeedInput`]).
//!
//! The caller owns the run (engine, journal, report) and says how to show
//! progress and when to stop; a stop leaves what has not ended unresolved.

use std::path::{Path, PathBuf};

use pmbot_core::{EventTime, FeeModel, MarketResolved, TimestampMs};

use crate::engine::driver::{PaperDriver, RunError};
use crate::engine::feed_input::{FeedInput, FeedInputError};
use crate::engine::{MarketInfo, market};
use crate::replay::{Outcome, RecordingReader, ReplayError, ResolvedkitFrames};

/// How often (in frames) progress is reported and a stop looked for.
const PROGRESS_EVERY: usize = 4096;

/// Why a replay stopped short.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("cannot read {}: {source}", dir.display())]
    Read { dir: PathBuf, source: Box<ReplayError> },
    #[error("{}: frame {frame}: {source}", dir.display())]
    Input { dir: PathBuf, frame: usize, source: FeedInputError },
    #[error(
        "{}: the recording lists no market with its two tokens (recorded with --tokens, or by an older pmbot); \
         record with --market SLUG to backtest it",
        dir.display()
    )]
    NoMarkets { dir: PathBuf },
    /// Boxed: a run error is large, and this one is rare.
    #[error(transparent)]
    Run(Box<RunError>),
}

impl From<RunError> for BacktestError {
    fn from(e: RunError) -> BacktestError {
        BacktestError::Run(Box::new(e))
    }
}

/// What the caller is told as a replay goes.
pub trait Watch {
    /// The run reached `last` (every [`PROGRESS_EVERY`] frames).
    fn progress(&mut self, driver: &PaperDriver, last: TimestampMs);
    /// Whether to stop now (a signal).
    fn stop(&self) -> bool;
}

/// Replays one resolvedkit folder; each market resolves (by its recorded
/// payout) once the data passes its end. Returns the last time seen.
pub fn replay_resolvedkit(
    driver: &mut PaperDriver,
    dir: &Path,
    frames: ResolvedkitFrames,
    watch: &mut dyn Watch,
) -> Result<TimestampMs, BacktestError> {
    let markets = frames.markets().to_vec();
    for m in &markets {
        driver.list_market(MarketInfo::from_resolvedkit(m))?;
    }
    let mut pending: Vec<(TimestampMs, MarketResolved)> = markets
        .iter()
        .filter_map(|m| {
            let outcome = match m.winner? {
                Outcome::Up => 0,
                Outcome::Down => 1,
            };
            let resolved = MarketResolved {
                market: m.condition_id,
                tokens: m.tokens.to_vec(),
                winning_token: m.tokens[outcome].clone(),
                winning_outcome: m.outcomes[outcome].clone(),
                time: EventTime { received: m.end_ms, exchange: m.end_ms },
            };
            Some((m.end_ms, resolved))
        })
        .collect();
    pending.sort_by_key(|(end, r)| (*end, r.market));
    pending.reverse();
    let mut last = TimestampMs::ZERO;
    for (n, frame) in frames.enumerate() {
        if watch.stop() {
            // Stopped: what has not ended by now does not resolve.
            return Ok(last);
        }
        let frame = frame.map_err(|source| BacktestError::Read { dir: dir.to_path_buf(), source: Box::new(source) })?;
        while pending.last().is_some_and(|(end, _)| *end < frame.received) {
            let (end, resolved) = pending.pop().expect("checked");
            driver.resolve(resolved, end.max(last))?;
        }
        last = last.max(frame.received);
        driver.on_frame(&frame.text, last)?;
        if n % PROGRESS_EVERY == 0 {
            watch.progress(driver, last);
        }
    }
    while let Some((end, resolved)) = pending.pop() {
        last = last.max(end);
        driver.resolve(resolved, last)?;
    }
    Ok(last)
}

/// Whether `dir` holds a real-time run's feed (`pmbot paper --record`)
/// rather than raw market-channel frames: its first frame says.
pub fn is_feed_recording(dir: &Path) -> Result<bool, BacktestError> {
    let read = |source| BacktestError::Read { dir: dir.to_path_buf(), source: Box::new(source) };
    let mut reader = RecordingReader::open(dir).map_err(read)?;
    match reader.next() {
        Some(frame) => Ok(FeedInput::from_frame(&frame.map_err(read)?.text).is_some()),
        None => Ok(false),
    }
}

/// The markets a raw-frame recording lists with their tokens and end time
/// (what `pmbot record` and the simulator's generator write). Fees are
/// taken at Polymarket's highest category rate, so they are never
/// underestimated.
pub fn recorded_markets(dir: &Path, reader: &RecordingReader) -> Result<Vec<MarketInfo>, BacktestError> {
    let listed = reader.meta().map(|m| m.markets()).unwrap_or_default();
    let infos: Vec<MarketInfo> = listed
        .iter()
        .filter(|m| m.tokens.len() == 2)
        .map(|m| MarketInfo {
            market: m.condition_id,
            up: m.tokens[0].clone(),
            down: m.tokens[1].clone(),
            end: m.end_ms.map(TimestampMs::from_millis),
            fee: FeeModel::crypto(),
            min_order_size: market::DEFAULT_MIN_ORDER,
            tick: market::DEFAULT_TICK,
        })
        .collect();
    if infos.is_empty() {
        return Err(BacktestError::NoMarkets { dir: dir.to_path_buf() });
    }
    Ok(infos)
}

/// Replays one pmbot recording after listing `markets` (none for a
/// recorded feed, which lists its own). Returns the last time seen.
pub fn replay_recording(
    driver: &mut PaperDriver,
    dir: &Path,
    reader: &mut RecordingReader,
    markets: Vec<MarketInfo>,
    watch: &mut dyn Watch,
) -> Result<TimestampMs, BacktestError> {
    for info in markets {
        driver.list_market(info)?;
    }
    let mut last = TimestampMs::ZERO;
    for (n, frame) in reader.by_ref().enumerate() {
        if watch.stop() {
            break;
        }
        let frame = frame.map_err(|source| BacktestError::Read { dir: dir.to_path_buf(), source: Box::new(source) })?;
        match FeedInput::from_frame(&frame.text) {
            // As the recording run's driver took it, at its time.
            Some(input) => {
                let (input, at) =
                    input.map_err(|source| BacktestError::Input { dir: dir.to_path_buf(), frame: n + 1, source })?;
                last = last.max(at);
                driver.on_input(&input, at)?;
            }
            None => {
                last = last.max(frame.received);
                driver.on_frame(&frame.text, last)?;
            }
        }
        if n % PROGRESS_EVERY == 0 {
            watch.progress(driver, last);
        }
    }
    Ok(last)
}
