//! Walk-forward validation with purge, embargo and market grouping, beside a
//! purged k-fold and the naive random k-fold, and the leakage flag between them.
//!
//! Invariant: in walk-forward, every training sample is earlier than
//! `test_start - purge_ms` and belongs to a market whose whole span (first to
//! last sample time) lies outside `[test_start - purge_ms, test_end + embargo_ms]`.
//! `purge_ms >= horizon_ms` is checked, so no training label (which looks up to
//! one horizon ahead) can see into the test block.
//!
//! Splits. The samples, sorted by time, are cut into `folds + 1` blocks of
//! equal count (never splitting one timestamp). Walk-forward tests blocks
//! 1..=folds, each trained on what lies before it (expanding window). Training
//! on the past only, walk-forward cannot put a sample after a test block into
//! training, so the embargo binds in the purged k-fold, which tests every block
//! and trains on both sides of it: after a test block, samples within
//! `embargo_ms` are left out because their look-back features were computed
//! from the test period. The random k-fold shuffles samples (seeded) with no
//! gap and no grouping: the leaky split, kept to show the inflation.
//!
//! The leakage flag compares accuracy over all samples (threshold 0) of the
//! random k-fold and of walk-forward. What it can catch: anything whose use
//! needs the test period's own neighbourhood in training (memorising a market,
//! a regime, overlapping labels). What no split can catch: a feature that
//! peeks at the future the same way in every period scores high in walk-forward
//! too; only the feature code's "known at t" invariant prevents that.
//!
//! Last-move baseline: the validator is given the index of a feature column
//! holding the signed last move known at the sample's time (e.g. the shortest
//! mid return); its sign is the "last move continues" call, 0 abstains.

use std::collections::HashMap;

use pmbot_core::{ConditionId, TimestampMs};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::logistic::{FitError, FitSpec, LogisticRegression};
use crate::metrics::{ScoreAccumulator, Scorecard};
use crate::sample::Sample;

/// Walk-forward layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalkForwardSpec {
    /// Test blocks (the data is cut into `folds + 1` blocks; the first only trains).
    pub folds: usize,
    /// Gap before each test block; must be >= the label horizon.
    pub purge_ms: i64,
    /// Gap after each test block (binding in the purged k-fold).
    pub embargo_ms: i64,
    /// A fold with fewer training samples is skipped (and reported), not scored.
    pub min_train_samples: usize,
}

impl Default for WalkForwardSpec {
    fn default() -> Self {
        WalkForwardSpec { folds: 5, purge_ms: 60_000, embargo_ms: 60_000, min_train_samples: 500 }
    }
}

/// The naive split computed beside walk-forward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomKFoldSpec {
    pub folds: usize,
    pub seed: u64,
}

impl Default for RandomKFoldSpec {
    fn default() -> Self {
        RandomKFoldSpec { folds: 5, seed: 0x5eed }
    }
}

/// Everything the validator needs besides the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationSpec {
    pub walk_forward: WalkForwardSpec,
    /// The label horizon the samples were built with.
    pub horizon_ms: i64,
    pub fit: FitSpec,
    pub random_kfold: RandomKFoldSpec,
    /// Feature column holding the signed last move (see module docs); None skips that baseline.
    pub last_move_column: Option<usize>,
    /// Flag when random-k-fold accuracy exceeds walk-forward accuracy by more than this.
    pub leakage_gap_threshold: f64,
}

impl Default for ValidationSpec {
    fn default() -> Self {
        ValidationSpec {
            walk_forward: WalkForwardSpec::default(),
            horizon_ms: 60_000,
            fit: FitSpec::default(),
            random_kfold: RandomKFoldSpec::default(),
            last_move_column: None,
            leakage_gap_threshold: 0.03,
        }
    }
}

/// Why validation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidateError {
    #[error("no samples to validate")]
    Empty,
    #[error("sample {index} has {got} features, the first has {expected}")]
    Width { index: usize, expected: usize, got: usize },
    #[error("feature {column} of sample {index} is not finite")]
    NonFinite { index: usize, column: usize },
    #[error(
        "purge {purge_ms} ms is shorter than the label horizon {horizon_ms} ms: training labels would see the test block"
    )]
    PurgeShorterThanHorizon { purge_ms: i64, horizon_ms: i64 },
    #[error("invalid validation settings: {0}")]
    InvalidSpec(String),
    #[error("{samples} samples cannot be cut into {blocks} time blocks")]
    TooFewSamples { samples: usize, blocks: usize },
    #[error("no walk-forward fold could be scored: {0:?}")]
    NoFoldScored(Vec<SkipReason>),
    #[error("fitting {split} fold {fold}: {source}")]
    Fit { split: &'static str, fold: usize, source: FitError },
}

/// Why a fold was not scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    TooFewTraining { have: usize, need: usize },
    SingleClassTraining { rows: usize },
}

/// A fold's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FoldOutcome {
    Scored { score: Scorecard, fit_iterations: u32 },
    Skipped(SkipReason),
}

/// One fold: what it trained on, what it left out, and its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldReport {
    pub index: usize,
    pub test_samples: usize,
    /// Earliest and latest test sample times.
    pub test_first: TimestampMs,
    pub test_last: TimestampMs,
    pub train_samples: usize,
    pub train_markets: usize,
    /// Samples outside the test block left out because they fell in the purge or embargo window.
    pub excluded_by_time: usize,
    /// Samples outside that window left out because their market overlaps it.
    pub excluded_by_market: usize,
    pub outcome: FoldOutcome,
}

impl FoldReport {
    pub fn score(&self) -> Option<&Scorecard> {
        match &self.outcome {
            FoldOutcome::Scored { score, .. } => Some(score),
            FoldOutcome::Skipped(_) => None,
        }
    }
}

/// One way of splitting: its folds and the pool of all their test predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitScore {
    pub folds: Vec<FoldReport>,
    pub pooled: Scorecard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakageVerdict {
    Clear,
    Flagged,
}

/// Random-split accuracy minus walk-forward accuracy, both over all test samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakageCheck {
    pub random_kfold_accuracy: f64,
    pub walk_forward_accuracy: f64,
    pub gap: f64,
    pub threshold: f64,
    pub verdict: LeakageVerdict,
}

/// The full validation result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub spec: ValidationSpec,
    pub samples: usize,
    pub markets: usize,
    pub first: TimestampMs,
    pub last: TimestampMs,
    pub walk_forward: SplitScore,
    pub purged_kfold: SplitScore,
    pub random_kfold: SplitScore,
    pub leakage: LeakageCheck,
}

/// Samples sorted by time with their market spans, shared by all splits.
struct Timeline<'a> {
    samples: &'a [Sample],
    /// Sample indices in time order (ties by market, then input order).
    order: Vec<usize>,
    market_of: Vec<usize>,
    /// Per market: first and last sample time.
    spans: Vec<(i64, i64)>,
}

impl<'a> Timeline<'a> {
    fn new(samples: &'a [Sample]) -> Timeline<'a> {
        let mut order: Vec<usize> = (0..samples.len()).collect();
        order.sort_by_key(|&i| (samples[i].t, samples[i].market, i));
        let mut index: HashMap<ConditionId, usize> = HashMap::new();
        let mut market_of = vec![0; samples.len()];
        let mut spans: Vec<(i64, i64)> = Vec::new();
        for &i in &order {
            let t = samples[i].t.millis();
            let m = *index.entry(samples[i].market).or_insert_with(|| {
                spans.push((t, t));
                spans.len() - 1
            });
            market_of[i] = m;
            spans[m].1 = t;
        }
        Timeline { samples, order, market_of, spans }
    }

    fn time_at(&self, position: usize) -> i64 {
        self.samples[self.order[position]].t.millis()
    }

    /// `count` contiguous position ranges of about equal size; a timestamp is never split.
    fn blocks(&self, count: usize) -> Result<Vec<(usize, usize)>, ValidateError> {
        let n = self.order.len();
        let mut cuts = vec![0];
        for k in 1..count {
            let mut cut = (k * n / count).max(*cuts.last().unwrap_or(&0));
            while cut > 0 && cut < n && self.time_at(cut) == self.time_at(cut - 1) {
                cut += 1;
            }
            cuts.push(cut);
        }
        cuts.push(n);
        let blocks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        if blocks.iter().any(|(lo, hi)| lo >= hi) {
            return Err(ValidateError::TooFewSamples { samples: n, blocks: count });
        }
        Ok(blocks)
    }
}

/// Which block split to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Test blocks 1..=folds, train on the past only.
    WalkForward,
    /// Test every block, train on both sides (purge before, embargo after).
    PurgedKFold,
}

/// The samples one fold tests and trains on (indices into the caller's slice).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldPlan {
    /// Test samples, in time order.
    pub test: Vec<usize>,
    /// Training samples, in time order.
    pub train: Vec<usize>,
    /// Samples left out for falling in the purge or embargo window.
    pub excluded_by_time: usize,
    /// Samples left out because their market's span overlaps the window.
    pub excluded_by_market: usize,
}

/// The training set of one test block.
fn plan_block(line: &Timeline<'_>, (lo, hi): (usize, usize), wf: &WalkForwardSpec, scheme: Scheme) -> FoldPlan {
    let window_lo = line.time_at(lo).saturating_sub(wf.purge_ms);
    let test_last = line.time_at(hi - 1);
    let window_hi = test_last.saturating_add(wf.embargo_ms);
    let mut plan =
        FoldPlan { test: line.order[lo..hi].to_vec(), train: Vec::new(), excluded_by_time: 0, excluded_by_market: 0 };
    for (pos, &i) in line.order.iter().enumerate() {
        if (lo..hi).contains(&pos) {
            continue;
        }
        let t = line.samples[i].t.millis();
        if t > test_last && scheme == Scheme::WalkForward {
            // The future: never training material in walk-forward, and not an exclusion.
            continue;
        }
        if (window_lo..=window_hi).contains(&t) {
            plan.excluded_by_time += 1;
            continue;
        }
        let (first, last) = line.spans[line.market_of[i]];
        if last >= window_lo && first <= window_hi {
            plan.excluded_by_market += 1;
            continue;
        }
        plan.train.push(i);
    }
    plan
}

/// Plans the folds of a block split without fitting anything (what
/// [`validate`] trains and tests on; exposed so the layout can be inspected).
pub fn plan_folds(samples: &[Sample], spec: &ValidationSpec, scheme: Scheme) -> Result<Vec<FoldPlan>, ValidateError> {
    check(samples, spec)?;
    plan_with(&Timeline::new(samples), spec, scheme)
}

fn plan_with(line: &Timeline<'_>, spec: &ValidationSpec, scheme: Scheme) -> Result<Vec<FoldPlan>, ValidateError> {
    let blocks = line.blocks(spec.walk_forward.folds + 1)?;
    let tested = match scheme {
        Scheme::WalkForward => &blocks[1..],
        Scheme::PurgedKFold => &blocks[..],
    };
    Ok(tested.iter().map(|&block| plan_block(line, block, &spec.walk_forward, scheme)).collect())
}

fn check(samples: &[Sample], spec: &ValidationSpec) -> Result<usize, ValidateError> {
    let width = samples.first().ok_or(ValidateError::Empty)?.features.len();
    for (index, s) in samples.iter().enumerate() {
        if s.features.len() != width {
            return Err(ValidateError::Width { index, expected: width, got: s.features.len() });
        }
        if let Some(column) = s.features.iter().position(|v| !v.is_finite()) {
            return Err(ValidateError::NonFinite { index, column });
        }
    }
    let wf = &spec.walk_forward;
    if spec.horizon_ms <= 0 {
        return Err(ValidateError::InvalidSpec(format!("horizon_ms must be positive, got {}", spec.horizon_ms)));
    }
    if wf.purge_ms < spec.horizon_ms {
        return Err(ValidateError::PurgeShorterThanHorizon { purge_ms: wf.purge_ms, horizon_ms: spec.horizon_ms });
    }
    if wf.embargo_ms < 0 {
        return Err(ValidateError::InvalidSpec(format!("embargo_ms must be >= 0, got {}", wf.embargo_ms)));
    }
    if wf.folds == 0 {
        return Err(ValidateError::InvalidSpec("walk_forward.folds must be >= 1".into()));
    }
    if spec.random_kfold.folds < 2 {
        return Err(ValidateError::InvalidSpec("random_kfold.folds must be >= 2".into()));
    }
    if let Some(c) = spec.last_move_column.filter(|&c| c >= width) {
        return Err(ValidateError::InvalidSpec(format!("last_move_column {c} is out of range ({width} features)")));
    }
    if spec.leakage_gap_threshold.is_nan() || spec.leakage_gap_threshold < 0.0 {
        return Err(ValidateError::InvalidSpec("leakage_gap_threshold must be >= 0".into()));
    }
    Ok(width)
}

/// Trains on `train`, scores `test`, and returns the fold's outcome and accumulator.
fn run_fold(
    samples: &[Sample],
    train: &[usize],
    test: &[usize],
    spec: &ValidationSpec,
    split: &'static str,
    fold: usize,
) -> Result<(FoldOutcome, Option<ScoreAccumulator>), ValidateError> {
    let need = spec.walk_forward.min_train_samples.max(1);
    if train.len() < need {
        return Ok((FoldOutcome::Skipped(SkipReason::TooFewTraining { have: train.len(), need }), None));
    }
    let rows: Vec<&Sample> = train.iter().map(|&i| &samples[i]).collect();
    let (model, report) = match LogisticRegression::fit_refs(&rows, &spec.fit) {
        Ok(fitted) => fitted,
        Err(FitError::SingleClass { rows, .. }) => {
            return Ok((FoldOutcome::Skipped(SkipReason::SingleClassTraining { rows }), None));
        }
        Err(source) => return Err(ValidateError::Fit { split, fold, source }),
    };
    let mut acc = ScoreAccumulator::new(spec.last_move_column.is_some());
    for &i in test {
        let s = &samples[i];
        // Widths and finiteness were checked up front, so predict cannot fail here.
        let prediction = model.predict(&s.features).map_err(|_| ValidateError::NonFinite { index: i, column: 0 })?;
        acc.add(prediction, s.label, spec.last_move_column.map(|c| s.features[c]));
    }
    Ok((FoldOutcome::Scored { score: acc.finish(), fit_iterations: report.iterations }, Some(acc)))
}

fn fold_report(
    line: &Timeline<'_>,
    index: usize,
    test: &[usize],
    train: &[usize],
    excluded: (usize, usize),
    outcome: FoldOutcome,
) -> FoldReport {
    let times = test.iter().map(|&i| line.samples[i].t);
    let mut markets: Vec<usize> = train.iter().map(|&i| line.market_of[i]).collect();
    markets.sort_unstable();
    markets.dedup();
    FoldReport {
        index,
        test_samples: test.len(),
        test_first: times.clone().min().unwrap_or_default(),
        test_last: times.max().unwrap_or_default(),
        train_samples: train.len(),
        train_markets: markets.len(),
        excluded_by_time: excluded.0,
        excluded_by_market: excluded.1,
        outcome,
    }
}

/// Time-block split (walk-forward or purged k-fold).
fn block_split(line: &Timeline<'_>, spec: &ValidationSpec, scheme: Scheme) -> Result<SplitScore, ValidateError> {
    let split = match scheme {
        Scheme::WalkForward => "walk-forward",
        Scheme::PurgedKFold => "purged k-fold",
    };
    let mut pooled = ScoreAccumulator::new(spec.last_move_column.is_some());
    let mut folds = Vec::new();
    for (index, plan) in plan_with(line, spec, scheme)?.into_iter().enumerate() {
        let (outcome, acc) = run_fold(line.samples, &plan.train, &plan.test, spec, split, index)?;
        if let Some(acc) = acc {
            pooled.merge(&acc);
        }
        let excluded = (plan.excluded_by_time, plan.excluded_by_market);
        folds.push(fold_report(line, index, &plan.test, &plan.train, excluded, outcome));
    }
    Ok(SplitScore { folds, pooled: pooled.finish() })
}

/// Seeded shuffle, no gap, no grouping.
fn random_split(line: &Timeline<'_>, spec: &ValidationSpec) -> Result<SplitScore, ValidateError> {
    let n = line.samples.len();
    let k = spec.random_kfold.folds;
    if n < k {
        return Err(ValidateError::TooFewSamples { samples: n, blocks: k });
    }
    let mut shuffled: Vec<usize> = line.order.clone();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(spec.random_kfold.seed));
    let mut fold_of = vec![0; n];
    for (pos, &i) in shuffled.iter().enumerate() {
        fold_of[i] = pos * k / n;
    }
    let mut pooled = ScoreAccumulator::new(spec.last_move_column.is_some());
    let mut folds = Vec::new();
    for f in 0..k {
        let (test, train): (Vec<usize>, Vec<usize>) = line.order.iter().partition(|&&i| fold_of[i] == f);
        let (outcome, acc) = run_fold(line.samples, &train, &test, spec, "random k-fold", f)?;
        if let Some(acc) = acc {
            pooled.merge(&acc);
        }
        folds.push(fold_report(line, f, &test, &train, (0, 0), outcome));
    }
    Ok(SplitScore { folds, pooled: pooled.finish() })
}

/// Runs walk-forward, purged k-fold and random k-fold on `samples` (any order).
pub fn validate(samples: &[Sample], spec: &ValidationSpec) -> Result<ValidationReport, ValidateError> {
    check(samples, spec)?;
    let line = Timeline::new(samples);
    let walk_forward = block_split(&line, spec, Scheme::WalkForward)?;
    let Some(walk_forward_accuracy) = walk_forward.pooled.accuracy() else {
        let reasons = walk_forward
            .folds
            .iter()
            .filter_map(|f| match &f.outcome {
                FoldOutcome::Skipped(r) => Some(r.clone()),
                FoldOutcome::Scored { .. } => None,
            })
            .collect();
        return Err(ValidateError::NoFoldScored(reasons));
    };
    let purged_kfold = block_split(&line, spec, Scheme::PurgedKFold)?;
    let random_kfold = random_split(&line, spec)?;
    let random_kfold_accuracy = random_kfold.pooled.accuracy().unwrap_or(0.5);
    let gap = random_kfold_accuracy - walk_forward_accuracy;
    let verdict = if gap > spec.leakage_gap_threshold { LeakageVerdict::Flagged } else { LeakageVerdict::Clear };
    Ok(ValidationReport {
        spec: spec.clone(),
        samples: samples.len(),
        markets: line.spans.len(),
        first: samples[line.order[0]].t,
        last: samples[*line.order.last().unwrap_or(&0)].t,
        walk_forward,
        purged_kfold,
        random_kfold,
        leakage: LeakageCheck {
            random_kfold_accuracy,
            walk_forward_accuracy,
            gap,
            threshold: spec.leakage_gap_threshold,
            verdict,
        },
    })
}
