//! Out-of-sample scores: accuracy by confidence threshold with coverage and a
//! Wilson 95% interval, Brier score, reliability bins, and two baselines.
//!
//! Invariant: every figure here is computed from (prediction, label) pairs the
//! caller scored out of sample; nothing in this module fits anything.

use serde::{Deserialize, Serialize};

use crate::logistic::Prediction;
use crate::sample::Label;

/// Confidence thresholds the trading rule may use: 0.0, 0.1, ..., 0.9.
pub const CONFIDENCE_THRESHOLDS: [f64; 10] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Number of equal-width P(up) bins in the reliability diagram.
pub const RELIABILITY_BINS: usize = 10;

/// Slack in the threshold comparison: |2p - 1| is computed in floating point,
/// so p = 0.6 gives 0.19999999999999996, which must still count as >= 0.2.
const THRESHOLD_SLACK: f64 = 1e-12;

/// A closed interval of proportions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Wilson score 95% interval for `successes` out of `trials`; None for 0
/// trials (see [`pmbot_core::wilson_95`]).
pub fn wilson_interval(successes: u64, trials: u64) -> Option<Interval> {
    pmbot_core::wilson_95(successes, trials).map(|(low, high)| Interval { low, high })
}

/// Accuracy among the samples whose confidence reached a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRow {
    pub threshold: f64,
    /// Samples with confidence >= threshold.
    pub kept: u64,
    pub correct: u64,
    /// kept / all scored samples.
    pub coverage: f64,
    /// None when nothing was kept.
    pub accuracy: Option<f64>,
    pub interval: Option<Interval>,
}

/// One bin of the reliability diagram: predicted P(up) against the observed up share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Bin covers [low, high) in P(up) (the last bin includes 1.0).
    pub low: f64,
    pub high: f64,
    pub count: u64,
    /// Mean predicted P(up) in the bin; None when empty.
    pub mean_predicted: Option<f64>,
    /// Observed share of Up labels in the bin; None when empty.
    pub observed_up: Option<f64>,
}

/// A rule that does not look at the model, scored on the same samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineScore {
    /// Samples the rule made a call on (the last-move rule abstains when the last move was 0).
    pub called: u64,
    pub correct: u64,
    pub accuracy: Option<f64>,
    pub interval: Option<Interval>,
}

impl BaselineScore {
    fn new(called: u64, correct: u64) -> BaselineScore {
        BaselineScore {
            called,
            correct,
            accuracy: (called > 0).then(|| correct as f64 / called as f64),
            interval: wilson_interval(correct, called),
        }
    }
}

/// All scores of one test set (a fold, or the pool of all folds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub samples: u64,
    pub up_share: Option<f64>,
    pub thresholds: Vec<ThresholdRow>,
    /// Mean of (p_up - y)^2; 0.25 is a coin flip at p = 0.5.
    pub brier: Option<f64>,
    pub reliability: Vec<ReliabilityBin>,
    pub always_up: BaselineScore,
    /// Present when the validator was told which column holds the last move.
    pub last_move_continues: Option<BaselineScore>,
}

impl Scorecard {
    /// The row for a threshold of CONFIDENCE_THRESHOLDS (matched to 1e-9).
    pub fn at(&self, threshold: f64) -> Option<&ThresholdRow> {
        self.thresholds.iter().find(|r| (r.threshold - threshold).abs() < 1e-9)
    }

    /// Accuracy over every scored sample (threshold 0).
    pub fn accuracy(&self) -> Option<f64> {
        self.thresholds.first().and_then(|r| r.accuracy)
    }
}

/// Collects scored samples; cheap to add to, turned into a [`Scorecard`] at the end.
#[derive(Debug, Clone, Default)]
pub struct ScoreAccumulator {
    samples: u64,
    ups: u64,
    kept: [u64; 10],
    correct: [u64; 10],
    brier_sum: f64,
    bin_count: [u64; RELIABILITY_BINS],
    bin_p_sum: [f64; RELIABILITY_BINS],
    bin_up: [u64; RELIABILITY_BINS],
    last_move_tracked: bool,
    last_move_called: u64,
    last_move_correct: u64,
}

impl ScoreAccumulator {
    /// `track_last_move`: whether [`Self::add`] will get a last-move value.
    pub fn new(track_last_move: bool) -> ScoreAccumulator {
        ScoreAccumulator { last_move_tracked: track_last_move, ..ScoreAccumulator::default() }
    }

    /// One scored sample. `last_move`: the signed last move known at the
    /// sample's time (its sign is the "last move continues" call; 0 abstains).
    pub fn add(&mut self, prediction: Prediction, label: Label, last_move: Option<f64>) {
        self.samples += 1;
        let up = label.is_up();
        self.ups += u64::from(up);
        let right = prediction.direction() == label;
        for (i, &threshold) in CONFIDENCE_THRESHOLDS.iter().enumerate() {
            if prediction.confidence >= threshold - THRESHOLD_SLACK {
                self.kept[i] += 1;
                self.correct[i] += u64::from(right);
            }
        }
        let err = prediction.p_up - label.as_target();
        self.brier_sum += err * err;
        let bin = ((prediction.p_up * RELIABILITY_BINS as f64) as usize).min(RELIABILITY_BINS - 1);
        self.bin_count[bin] += 1;
        self.bin_p_sum[bin] += prediction.p_up;
        self.bin_up[bin] += u64::from(up);
        if let Some(m) = last_move.filter(|_| self.last_move_tracked)
            && m != 0.0
        {
            self.last_move_called += 1;
            self.last_move_correct += u64::from((m > 0.0) == up);
        }
    }

    /// Adds everything another accumulator collected (for pooling folds).
    pub fn merge(&mut self, other: &ScoreAccumulator) {
        self.samples += other.samples;
        self.ups += other.ups;
        for i in 0..CONFIDENCE_THRESHOLDS.len() {
            self.kept[i] += other.kept[i];
            self.correct[i] += other.correct[i];
        }
        self.brier_sum += other.brier_sum;
        for b in 0..RELIABILITY_BINS {
            self.bin_count[b] += other.bin_count[b];
            self.bin_p_sum[b] += other.bin_p_sum[b];
            self.bin_up[b] += other.bin_up[b];
        }
        self.last_move_called += other.last_move_called;
        self.last_move_correct += other.last_move_correct;
    }

    pub fn finish(&self) -> Scorecard {
        let n = self.samples;
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        let thresholds = CONFIDENCE_THRESHOLDS
            .iter()
            .enumerate()
            .map(|(i, &threshold)| ThresholdRow {
                threshold,
                kept: self.kept[i],
                correct: self.correct[i],
                coverage: ratio(self.kept[i], n).unwrap_or(0.0),
                accuracy: ratio(self.correct[i], self.kept[i]),
                interval: wilson_interval(self.correct[i], self.kept[i]),
            })
            .collect();
        let reliability = (0..RELIABILITY_BINS)
            .map(|b| ReliabilityBin {
                low: b as f64 / RELIABILITY_BINS as f64,
                high: (b + 1) as f64 / RELIABILITY_BINS as f64,
                count: self.bin_count[b],
                mean_predicted: (self.bin_count[b] > 0).then(|| self.bin_p_sum[b] / self.bin_count[b] as f64),
                observed_up: ratio(self.bin_up[b], self.bin_count[b]),
            })
            .collect();
        Scorecard {
            samples: n,
            up_share: ratio(self.ups, n),
            thresholds,
            brier: (n > 0).then(|| self.brier_sum / n as f64),
            reliability,
            always_up: BaselineScore::new(n, self.ups),
            last_move_continues: self
                .last_move_tracked
                .then(|| BaselineScore::new(self.last_move_called, self.last_move_correct)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn wilson_matches_published_values() {
        // Wilson (1927) / Newcombe (1998) table: 5/10, 0/10, 10/10, 81/263.
        let i = wilson_interval(5, 10).unwrap();
        assert!(close(i.low, 0.2366) && close(i.high, 0.7634), "{i:?}");
        let i = wilson_interval(0, 10).unwrap();
        assert!(i.low == 0.0 && close(i.high, 0.2775), "{i:?}");
        let i = wilson_interval(10, 10).unwrap();
        assert!(close(i.low, 0.7225) && i.high == 1.0, "{i:?}");
        let i = wilson_interval(81, 263).unwrap();
        assert!(close(i.low, 0.2553) && close(i.high, 0.3662), "{i:?}");
        assert_eq!(wilson_interval(0, 0), None);
        assert_eq!(wilson_interval(3, 2), None);
    }

    #[test]
    fn thresholds_coverage_brier_and_bins_add_up() {
        let mut acc = ScoreAccumulator::new(true);
        let p = |p_up: f64| Prediction { p_up, confidence: (2.0 * p_up - 1.0).abs() };
        acc.add(p(0.9), Label::Up, Some(1.0)); // conf 0.8, right; last move right
        acc.add(p(0.6), Label::Down, Some(-2.0)); // conf 0.2, wrong; last move right
        acc.add(p(0.3), Label::Down, Some(0.0)); // conf 0.4, right; abstain
        acc.add(p(0.5), Label::Up, Some(-1.0)); // conf 0, right (tie = up); last move wrong
        let card = acc.finish();
        assert_eq!(card.samples, 4);
        let row = |t: f64| card.at(t).unwrap().clone();
        assert_eq!((row(0.0).kept, row(0.0).correct), (4, 3));
        assert_eq!((row(0.2).kept, row(0.2).correct), (3, 2));
        assert_eq!((row(0.4).kept, row(0.4).correct), (2, 2));
        assert_eq!((row(0.9).kept, row(0.9).accuracy), (0, None));
        assert!(close(row(0.4).coverage, 0.5));
        let brier = (0.01 + 0.36 + 0.09 + 0.25) / 4.0;
        assert!(close(card.brier.unwrap(), brier));
        assert_eq!(card.reliability[9].count, 1);
        assert_eq!(card.reliability[5].count, 1); // p = 0.5 opens bin [0.5, 0.6)
        assert_eq!(card.reliability[6].count, 1);
        assert_eq!(card.reliability[3].observed_up, Some(0.0));
        assert_eq!((card.always_up.called, card.always_up.correct), (4, 2));
        let last = card.last_move_continues.unwrap();
        assert_eq!((last.called, last.correct), (3, 2));
        let mut pooled = ScoreAccumulator::new(true);
        pooled.merge(&acc);
        pooled.merge(&acc);
        assert_eq!(pooled.finish().at(0.4).unwrap().kept, 4);
    }
}
