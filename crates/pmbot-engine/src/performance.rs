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

mod equity;
mod hit_rate;
pub(crate) mod stats;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use pmbot_core::{TimestampMs, Usdc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::gate::{GateConfig, GateConfigError};
use crate::journal::{DataSource, DecisionAction, Journal, JournalError, Run, RunMode, Trade};
use stats::{day_index, percent, proportion, proportion_text, threshold_percent};

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
    /// Live payouts at resolution not yet redeemed on chain (the whole
    /// journal's: money the wallet is owed, whatever the scope): valued in
    /// the equity, not cash.
    pub unredeemed: Vec<crate::journal::Unredeemed>,
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
/// the UP mid's next move within `horizon_ms` (the model's label).
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
    /// A sum beyond what `Usdc` holds, or a time no calendar date has.
    #[error("journal {}: {what} is out of range", path.display())]
    OutOfRange { path: PathBuf, what: String },
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
            | PerformanceError::OutOfRange { path, .. }
            | PerformanceError::InvalidGate { path, .. } => path,
        }
    }
}

/// The figures for the runs in `scope`, from `journal`'s rows.
pub fn compute(journal: &Journal, scope: Scope) -> Result<Performance, PerformanceError> {
    compute_where(journal, |run| scope.includes(run.start.data_source))
}

/// The figures for the runs `include` picks (the gate adds a mode filter
/// that [`Scope`] has no word for).
pub(crate) fn compute_where(
    journal: &Journal,
    include: impl Fn(&Run) -> bool,
) -> Result<Performance, PerformanceError> {
    let path = journal.path();
    let out_of_range = |what: String| PerformanceError::OutOfRange { path: path.to_path_buf(), what };
    let runs: Vec<Run> = journal.runs()?.into_iter().filter(|r| include(r)).collect();
    // Run id -> its position in `runs`.
    let index: HashMap<i64, usize> = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let decisions: Vec<_> = journal.decisions()?.into_iter().filter(|d| index.contains_key(&d.run)).collect();
    let trades: Vec<_> = journal.trades()?.into_iter().filter(|t| index.contains_key(&t.run)).collect();
    let mut marks: Vec<Vec<(TimestampMs, Usdc)>> = vec![Vec::new(); runs.len()];
    for m in journal.marks()? {
        if let Some(&i) = index.get(&m.run) {
            marks[i].push((m.at, m.equity()));
        }
    }

    // Per run: counts and the span its decisions cover.
    let mut run_trades = vec![0u64; runs.len()];
    for t in &trades {
        run_trades[index[&t.run]] += 1;
    }
    let mut run_decisions = vec![0u64; runs.len()];
    let mut span: Vec<Option<(TimestampMs, TimestampMs)>> = vec![None; runs.len()];
    let mut dates: BTreeMap<DataSource, BTreeSet<i64>> = BTreeMap::new();
    let mut all_dates = BTreeSet::new();
    for d in &decisions {
        let i = index[&d.run];
        run_decisions[i] += 1;
        span[i] = Some(match span[i] {
            None => (d.at, d.at),
            Some((first, last)) => (first.min(d.at), last.max(d.at)),
        });
        let day = day_index(d.at.millis());
        dates.entry(runs[i].start.data_source).or_default().insert(day);
        all_dates.insert(day);
    }
    let mut coverage: BTreeMap<DataSource, Coverage> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let c = coverage.entry(run.start.data_source).or_insert(Coverage {
            runs: 0,
            trades: 0,
            decisions: 0,
            covered_ms: 0,
            days: 0.0,
            calendar_days: 0,
        });
        c.runs += 1;
        c.trades += run_trades[i];
        c.decisions += run_decisions[i];
        let covered = span[i].map_or(0, |(first, last)| last.millis_since(first));
        c.covered_ms = c.covered_ms.saturating_add(covered);
    }
    for (source, c) in &mut coverage {
        c.days = c.covered_ms as f64 / stats::DAY_MS as f64;
        c.calendar_days = dates.get(source).map_or(0, |d| d.len() as u32);
    }
    let summaries = runs
        .iter()
        .enumerate()
        .map(|(i, r)| RunSummary {
            id: r.id,
            mode: r.start.mode,
            data_source: r.start.data_source,
            started: r.start.started,
            ended: r.end.as_ref().map(|(at, _)| *at),
            end_reason: r.end.as_ref().map(|(_, why)| why.clone()),
            config_hash: r.config_hash.clone(),
            model_fingerprint: r.start.model_fingerprint.clone(),
            gate_override: r.start.gate_override.clone(),
            trades: run_trades[i],
            decisions: run_decisions[i],
        })
        .collect();

    // Money, exactly.
    let totals = trade_totals(&trades).map_err(|what| out_of_range(what.into()))?;
    let (pnl, fees) = (totals.pnl, totals.fees);
    let pnl_per_trade: Vec<Usdc> = trades.iter().map(|t| t.pnl()).collect();
    let wins: Vec<Usdc> = pnl_per_trade.iter().copied().filter(|p| is_win(*p)).collect();
    let losses: Vec<Usdc> = pnl_per_trade.iter().copied().filter(|p| !is_win(*p)).collect();
    let sum =
        |amounts: &[Usdc], what: &str| stats::sum(amounts.iter().copied()).ok_or_else(|| out_of_range(what.into()));
    let pnl_before_fees = pnl.checked_add(fees).ok_or_else(|| out_of_range("the P&L before fees".into()))?;
    let average_win = stats::mean(sum(&wins, "the wins")?, wins.len() as u64);
    let average_loss = stats::mean(sum(&losses, "the losses")?, losses.len() as u64);

    // The account over time.
    for run_marks in &mut marks {
        run_marks.sort_by_key(|(at, _)| *at);
    }
    let curve = equity::chain(&marks).map_err(|e| out_of_range(e.0))?;
    let (drawdown, max_drawdown, max_drawdown_pct) = equity::drawdown(&curve).map_err(|e| out_of_range(e.0))?;
    let daily = equity::daily(&curve).map_err(|e| out_of_range(e.0))?;
    let returns: Vec<f64> = daily.iter().map(|d| d.return_pct).collect();

    // The model, as traded.
    let hit_rate = match runs.first() {
        None => HitRate { threshold: hit_rate::DEFAULT_THRESHOLD, horizon_ms: 0, rate: None, validated: None },
        Some(first) => {
            let settings = hit_rate::model_settings(first).map_err(|reason| PerformanceError::Model {
                path: path.to_path_buf(),
                run: first.id,
                reason,
            })?;
            hit_rate::score(&decisions, settings)
        }
    };

    // What the strategy and the risk gate did.
    let (mut refusals, mut passes) = (BTreeMap::new(), BTreeMap::new());
    let (mut entries, mut exits, mut not_ready) = (0, 0, 0);
    for d in &decisions {
        match d.action {
            DecisionAction::Enter => entries += 1,
            DecisionAction::Exit => exits += 1,
            DecisionAction::NotReady => not_ready += 1,
            DecisionAction::Pass => *passes.entry(d.reason.clone()).or_insert(0) += 1,
            DecisionAction::Refused => *refusals.entry(d.reason.clone()).or_insert(0) += 1,
        }
    }
    let assumptions = runs
        .iter()
        .find(|r| matches!(r.start.mode, RunMode::Paper | RunMode::Backtest))
        .and_then(|r| r.start.config.get("paper").cloned());

    let mut perf = Performance {
        runs: summaries,
        trades: totals.trades,
        wins: totals.wins,
        losses: totals.losses,
        win_rate: totals.win_rate,
        pnl,
        fees,
        pnl_before_fees,
        pnl_per_trade,
        average_win,
        average_loss,
        equity: curve,
        drawdown,
        max_drawdown,
        max_drawdown_pct,
        sharpe: equity::sharpe(&returns),
        sortino: equity::sortino(&returns),
        daily,
        hit_rate,
        refusals,
        passes,
        entries,
        exits,
        not_ready,
        assumptions,
        coverage,
        targets: Vec::new(),
        unredeemed: journal.unredeemed()?,
    };
    perf.targets = targets(&perf, all_dates.len(), &GateConfig::default());
    Ok(perf)
}

/// What some closed trades add up to: the report's, the gate's and the
/// daily summary's one rule for counting them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TradeTotals {
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
}

/// A trade is a win when it made money after every fee.
fn is_win(pnl: Usdc) -> bool {
    pnl > Usdc::ZERO
}

/// Adds up `trades`; `Err` names the sum beyond what `Usdc` holds.
pub fn trade_totals<'a>(trades: impl IntoIterator<Item = &'a Trade>) -> Result<TradeTotals, &'static str> {
    let (mut n, mut wins, mut pnl, mut fees) = (0u64, 0u64, Usdc::ZERO, Usdc::ZERO);
    for t in trades {
        n += 1;
        wins += u64::from(is_win(t.pnl()));
        pnl = pnl.checked_add(t.pnl()).ok_or("the P&L")?;
        fees = fees.checked_add(t.fees).ok_or("the fees")?;
    }
    Ok(TradeTotals { trades: n, wins, losses: n - wins, win_rate: proportion(wins, n), pnl, fees })
}

impl Performance {
    /// Days covered, summed over every data source in scope.
    pub fn covered_days(&self) -> f64 {
        self.coverage.values().map(|c| c.covered_ms as f64).sum::<f64>() / stats::DAY_MS as f64
    }
}

/// The targets (the gate's default thresholds), measured.
fn targets(p: &Performance, calendar_days: usize, goal: &GateConfig) -> Vec<Target> {
    let win_rate = Target {
        name: "win rate".into(),
        target: format!("> {}", threshold_percent(goal.min_win_rate)),
        measured: p.win_rate.as_ref().map_or_else(|| "no trades".into(), proportion_text),
        met: p.win_rate.is_some_and(|w| w.rate > goal.min_win_rate),
    };
    let pnl = Target {
        name: "P&L after fees".into(),
        target: format!("> {} pUSD", goal.min_pnl),
        measured: format!("{} pUSD over {} trades (fees {} pUSD)", p.pnl, p.trades, p.fees),
        met: p.pnl > goal.min_pnl,
    };
    let days = p.covered_days();
    let days = Target {
        name: "days of market data".into(),
        target: format!(">= {}", goal.min_days),
        measured: format!("{days:.2} days ({calendar_days} UTC dates)"),
        met: days >= goal.min_days,
    };
    let h = &p.hit_rate;
    let validated = h.validated.map_or_else(
        || "no validated figure".to_string(),
        |v| format!("validated {} (95% CI {})", percent(v.rate), stats::interval_text(v.low, v.high)),
    );
    let hit_rate = Target {
        name: format!("model hit rate at confidence >= {}", h.threshold.normalize()),
        target: format!("> {}", threshold_percent(goal.min_hit_rate)),
        measured: match &h.rate {
            Some(r) => format!("{}; {validated}", proportion_text(r)),
            None => format!("no call could be scored; {validated}"),
        },
        met: h.rate.is_some_and(|r| r.rate > goal.min_hit_rate),
    };
    vec![win_rate, pnl, days, hit_rate]
}
