//! Performance figures from the journal: what the runs in a scope did, in
//! money, in rates and against the targets the go-live gate checks.
//!
//! Invariants:
//! - **Only the journal.** Every figure is recomputed from the journal's rows
//!   (runs, decisions, trades, marks); nothing is read from the engine's
//!   memory or the wall clock, so the same journal gives the same figures.
//! - **Money is exact.** P&L, fees, equity and drawdown are [`Usdc`] sums of
//!   the rows' integer micros; only ratios (rates, Sharpe, Sortino,
//!   percentages) are `f64`.
//! - **Scoped.** Replays and the simulator are reported beside live market
//!   data, never mixed into it unless the caller asks ([`Scope`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pmbot_core::{TimestampMs, Usdc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::gate::GateConfigError;
use crate::journal::{DataSource, JournalError, RunMode};

/// Which runs the figures cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every run in the journal.
    All,
    /// The runs whose market data came from one of these sources.
    Sources(Vec<DataSource>),
}

impl Scope {
    /// Whether runs on `source` are in scope.
    pub fn includes(&self, source: DataSource) -> bool {
        match self {
            Scope::All => true,
            Scope::Sources(sources) => sources.contains(&source),
        }
    }
}

/// Everything the report and the gate read, for the runs of one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performance {
    /// The runs in scope, oldest first.
    pub runs: Vec<RunSummary>,
    /// How much market time each data source covered (sources with a run in scope).
    pub coverage: BTreeMap<DataSource, Coverage>,
    /// Closed positions.
    pub trades: u64,
    /// Trades with P&L > 0 after fees.
    pub wins: u64,
    /// Trades with P&L <= 0 after fees.
    pub losses: u64,
    /// wins / trades with its 95% Wilson interval; `None` without trades.
    pub win_rate: Option<Proportion>,
    /// Sum of the trades' P&L, after every fee.
    pub pnl: Usdc,
    /// Sum of the trades' fees.
    pub fees: Usdc,
    /// `pnl + fees`: what the trades made before the exchange's cut.
    pub pnl_before_fees: Usdc,
    /// Each trade's P&L, in the order closed.
    pub pnl_per_trade: Vec<Usdc>,
    /// Mean P&L of the wins (rounded to the micro, half away from zero).
    pub average_win: Option<Usdc>,
    /// Mean P&L of the losses (rounded to the micro, half away from zero).
    pub average_loss: Option<Usdc>,
    /// Account equity at each mark, the runs chained: each run's curve is
    /// shifted to start where the previous run's ended.
    pub equity: Vec<(TimestampMs, Usdc)>,
    /// Equity minus its running peak at each mark (never positive).
    pub drawdown: Vec<(TimestampMs, Usdc)>,
    /// The deepest drawdown, as a positive amount (zero without one).
    pub max_drawdown: Usdc,
    /// The deepest drawdown in percent of the peak it fell from; `None`
    /// without marks or when that peak is not positive.
    pub max_drawdown_pct: Option<f64>,
    /// Returns per UTC day with marks, from the chained equity at day ends.
    pub daily: Vec<DailyReturn>,
    /// Mean / sample standard deviation of the daily returns x sqrt(365);
    /// `None` with fewer than 2 days or no variation.
    pub sharpe: Option<f64>,
    /// Mean / downside deviation of the daily returns x sqrt(365); `None`
    /// with fewer than 2 days or no losing day.
    pub sortino: Option<f64>,
    /// How often the model's direction call came true in these runs.
    pub hit_rate: HitRate,
    /// Decisions the risk gate refused, by refusal code.
    pub refusals: BTreeMap<String, u64>,
    /// Decisions the strategy passed on, by pass rule.
    pub passes: BTreeMap<String, u64>,
    pub entries: u64,
    pub exits: u64,
    /// Decisions taken before the features were ready (warm-up, no book).
    pub not_ready: u64,
    /// The paper venue's assumptions (`config["paper"]`) of the first paper
    /// or backtest run in scope.
    pub assumptions: Option<serde_json::Value>,
    /// The targets, measured.
    pub targets: Vec<Target>,
}

/// One run, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub mode: RunMode,
    pub data_source: DataSource,
    pub started: TimestampMs,
    /// `None` while running or after a crash.
    pub ended: Option<TimestampMs>,
    pub end_reason: Option<String>,
    pub config_hash: String,
    pub model_fingerprint: String,
    /// The reason given with `--override-gate`, if the run was started so.
    pub gate_override: Option<String>,
    pub trades: u64,
    pub decisions: u64,
}

/// How much market time one data source covered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub runs: u64,
    pub trades: u64,
    pub decisions: u64,
    /// Sum over the runs of (last decision - first decision); a run with
    /// fewer than 2 decisions adds nothing.
    pub covered_ms: i64,
    /// `covered_ms / 86_400_000`.
    pub days: f64,
    /// Distinct UTC dates with at least one decision.
    pub calendar_days: u32,
}

/// `hits` out of `n`, with the 95% Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    pub hits: u64,
    pub n: u64,
    /// hits / n, in [0, 1].
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

/// A rate read from the model file, not counted here: its walk-forward
/// validation at the confidence threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValidatedRate {
    pub rate: f64,
    pub low: f64,
    pub high: f64,
    /// Share of validation samples at or above the threshold, if recorded.
    pub coverage: Option<f64>,
}

/// The model's direction calls at confidence >= `threshold`, scored against
/// the UP mid `horizon_ms` later.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitRate {
    /// From the first run in scope's model (0.4 when it names none).
    pub threshold: Decimal,
    /// From the first run in scope's model (0 with no run in scope).
    pub horizon_ms: i64,
    /// `None` when no call could be scored.
    pub rate: Option<Proportion>,
    /// The model file's walk-forward figure, for comparison.
    pub validated: Option<ValidatedRate>,
}

/// One UTC day's change in (chained) equity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyReturn {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Equity at the day's last mark minus equity at the previous day's last
    /// mark (the first day: minus the first mark).
    pub pnl: Usdc,
    /// `pnl` in percent of that opening equity (0 when it is not positive).
    pub return_pct: f64,
}

/// One of the targets, measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub name: String,
    /// What is required, as text ("> 70%").
    pub target: String,
    /// What was measured, as text.
    pub measured: String,
    pub met: bool,
}

/// Why the figures could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum PerformanceError {
    /// The journal could not be read (the error names its path).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A run's model JSON lacks what the hit rate needs.
    #[error("journal {}: run {run}: model: {reason}", path.display())]
    Model { path: PathBuf, run: i64, reason: String },
    /// A sum beyond what `Usdc` holds.
    #[error("journal {}: {what} is too large to add up", path.display())]
    TooLarge { path: PathBuf, what: String },
    /// Gate settings that make no sense (nothing was evaluated).
    #[error("journal {}: {source}", path.display())]
    InvalidGate { path: PathBuf, source: GateConfigError },
}

impl PerformanceError {
    /// The journal's path.
    pub fn path(&self) -> &Path {
        match self {
            PerformanceError::Journal(e) => e.path(),
            PerformanceError::Model { path, .. }
            | PerformanceError::TooLarge { path, .. }
            | PerformanceError::InvalidGate { path, .. } => path,
        }
    }
}
