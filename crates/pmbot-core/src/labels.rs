//! Labels for the model: the direction of the next change of mid within a
//! horizon, at the times of a fixed market-time grid.
//!
//! Invariant: the label at grid time `t` is `Up` (`Down`) when the first mid
//! after `t` that differs from the mid at `t` is higher (lower) and comes at a
//! time in `(t, t + H]`. Nothing else counts, and a sample that cannot be
//! labelled says why: no change within the horizon (dropped and counted), the
//! series ends before `t + H` with no change yet (censored: the answer is
//! unknown, not "no change"), or no mid at `t` yet.
//!
//! Sampling on a grid rather than on every event keeps busy moments from
//! outweighing quiet ones. Everything here is a pure function of a per-token
//! series of `(time, mid)`, so it can be checked exactly by hand.

use serde::{Deserialize, Serialize};

use crate::clock::TimestampMs;

/// Sample times `start + k * step_ms` for whole `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grid {
    pub step_ms: i64,
    /// Any grid time (the default, the epoch, aligns grids of every market).
    pub start: TimestampMs,
}

impl Default for Grid {
    fn default() -> Self {
        Grid { step_ms: 5_000, start: TimestampMs::ZERO }
    }
}

/// How far ahead a label looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelSpec {
    pub horizon_ms: i64,
}

impl Default for LabelSpec {
    fn default() -> Self {
        LabelSpec { horizon_ms: 60_000 }
    }
}

/// Bad grid, horizon or series.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("grid step must be positive, got {0} ms")]
    GridStep(i64),
    #[error("horizon must be positive, got {0} ms")]
    Horizon(i64),
    #[error("mid series is not in time order at index {index} ({before} then {after})")]
    NotSorted { index: usize, before: TimestampMs, after: TimestampMs },
    #[error("mid series has a zero mid at index {0}")]
    ZeroMid(usize),
}

impl Grid {
    pub fn validate(&self) -> Result<(), LabelError> {
        if self.step_ms > 0 { Ok(()) } else { Err(LabelError::GridStep(self.step_ms)) }
    }

    /// The first grid time at or after `t`.
    pub fn first_at_or_after(&self, t: TimestampMs) -> TimestampMs {
        let offset = t.millis() - self.start.millis();
        let k = offset.div_euclid(self.step_ms) + i64::from(offset.rem_euclid(self.step_ms) != 0);
        TimestampMs(self.start.millis() + k * self.step_ms)
    }

    /// The grid times in `[from, to]`, ascending.
    pub fn times(&self, from: TimestampMs, to: TimestampMs) -> impl Iterator<Item = TimestampMs> + use<> {
        let first = self.first_at_or_after(from).millis();
        let step = self.step_ms;
        (0..).map(move |k: i64| first + k * step).take_while(move |&t| t <= to.millis()).map(TimestampMs)
    }
}

/// Which way the mid moved next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Up,
    Down,
}

impl Label {
    pub const fn is_up(self) -> bool {
        matches!(self, Label::Up)
    }
}

/// What a grid time gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOutcome {
    Labelled(Label),
    /// The mid did not change within the horizon: dropped and counted.
    NoChange,
    /// The series ends before the horizon does and the mid has not changed
    /// yet: the label is unknown.
    Censored,
    /// No mid at or before this time.
    NoMid,
}

/// One mid observation: twice the mid in pips (best bid + best ask, exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MidPoint {
    pub t: TimestampMs,
    pub mid2_pips: u32,
}

/// Counts of what the grid times got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LabelCounts {
    pub up: u64,
    pub down: u64,
    pub no_change: u64,
    pub censored: u64,
    pub no_mid: u64,
}

impl LabelCounts {
    pub fn add(&mut self, outcome: LabelOutcome) {
        match outcome {
            LabelOutcome::Labelled(Label::Up) => self.up += 1,
            LabelOutcome::Labelled(Label::Down) => self.down += 1,
            LabelOutcome::NoChange => self.no_change += 1,
            LabelOutcome::Censored => self.censored += 1,
            LabelOutcome::NoMid => self.no_mid += 1,
        }
    }

    pub fn labelled(&self) -> u64 {
        self.up + self.down
    }
}

/// Labels for one token's mid series.
#[derive(Debug, Clone)]
pub struct Labeller<'a> {
    series: &'a [MidPoint],
    /// For each point, the index of the first later point with another mid
    /// (`usize::MAX`: none).
    next_change: Vec<usize>,
    /// The series is complete up to this time (at least its last point).
    known_until: TimestampMs,
    horizon_ms: i64,
}

impl<'a> Labeller<'a> {
    /// `series` in time order (equal times allowed: the last one at a time is
    /// the mid at that time); `known_until`, the time up to which it is
    /// complete, is raised to the last point's time if earlier.
    pub fn new(series: &'a [MidPoint], known_until: TimestampMs, spec: LabelSpec) -> Result<Self, LabelError> {
        if spec.horizon_ms <= 0 {
            return Err(LabelError::Horizon(spec.horizon_ms));
        }
        if let Some(i) = series.iter().position(|p| p.mid2_pips == 0) {
            return Err(LabelError::ZeroMid(i));
        }
        if let Some(i) = series.windows(2).position(|w| w[1].t < w[0].t) {
            return Err(LabelError::NotSorted { index: i + 1, before: series[i].t, after: series[i + 1].t });
        }
        let mut next_change = vec![usize::MAX; series.len()];
        for i in (0..series.len().saturating_sub(1)).rev() {
            next_change[i] = if series[i + 1].mid2_pips != series[i].mid2_pips { i + 1 } else { next_change[i + 1] };
        }
        let known_until = series.last().map_or(known_until, |p| p.t.max(known_until));
        Ok(Labeller { series, next_change, known_until, horizon_ms: spec.horizon_ms })
    }

    /// The label at time `t`.
    pub fn label_at(&self, t: TimestampMs) -> LabelOutcome {
        let after = self.series.partition_point(|p| p.t <= t);
        let Some(now) = after.checked_sub(1) else { return LabelOutcome::NoMid };
        let end = t.plus_millis(self.horizon_ms);
        match self.series.get(self.next_change[now]) {
            Some(next) if next.t <= end => LabelOutcome::Labelled(if next.mid2_pips > self.series[now].mid2_pips {
                Label::Up
            } else {
                Label::Down
            }),
            Some(_) => LabelOutcome::NoChange,
            None if self.known_until >= end => LabelOutcome::NoChange,
            None => LabelOutcome::Censored,
        }
    }

    /// Labels at every grid time in `[from, to]`, with the counts of all outcomes.
    pub fn label_grid(
        &self,
        grid: Grid,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<(Vec<(TimestampMs, Label)>, LabelCounts), LabelError> {
        grid.validate()?;
        let mut counts = LabelCounts::default();
        let mut labels = Vec::new();
        for t in grid.times(from, to) {
            let outcome = self.label_at(t);
            counts.add(outcome);
            if let LabelOutcome::Labelled(label) = outcome {
                labels.push((t, label));
            }
        }
        Ok((labels, counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, u32)]) -> Vec<MidPoint> {
        points.iter().map(|&(t, m)| MidPoint { t: TimestampMs(t), mid2_pips: m }).collect()
    }

    const H: LabelSpec = LabelSpec { horizon_ms: 60_000 };

    #[test]
    fn grid_times_are_aligned_to_start() {
        let g = Grid { step_ms: 5_000, start: TimestampMs(1_000) };
        assert_eq!(g.first_at_or_after(TimestampMs(1_000)), TimestampMs(1_000));
        assert_eq!(g.first_at_or_after(TimestampMs(1_001)), TimestampMs(6_000));
        assert_eq!(g.first_at_or_after(TimestampMs(-3_000)), TimestampMs(1_000));
        assert_eq!(g.first_at_or_after(TimestampMs(-4_000)), TimestampMs(-4_000));
        let times: Vec<i64> = g.times(TimestampMs(2_000), TimestampMs(16_000)).map(|t| t.0).collect();
        assert_eq!(times, [6_000, 11_000, 16_000]);
        assert_eq!(g.times(TimestampMs(17_000), TimestampMs(16_000)).count(), 0);
        assert_eq!(Grid { step_ms: 0, start: TimestampMs(0) }.validate(), Err(LabelError::GridStep(0)));
    }

    #[test]
    fn next_change_within_horizon_decides() {
        // mid 0.50 from t=0, unchanged at 10 s, up to 0.51 at 30 s, down to 0.49 at 100 s.
        let s = series(&[(0, 10_000), (10_000, 10_000), (30_000, 10_200), (100_000, 9_800), (200_000, 9_800)]);
        let l = Labeller::new(&s, TimestampMs(200_000), H).unwrap();
        assert_eq!(l.label_at(TimestampMs(-1)), LabelOutcome::NoMid);
        assert_eq!(l.label_at(TimestampMs(0)), LabelOutcome::Labelled(Label::Up));
        // At 30 s the mid *is* 0.51 (a change at t is not after t); the next, down at 100 s, is past 90 s.
        assert_eq!(l.label_at(TimestampMs(30_000)), LabelOutcome::NoChange);
        assert_eq!(l.label_at(TimestampMs(40_000)), LabelOutcome::Labelled(Label::Down));
        assert_eq!(l.label_at(TimestampMs(39_999)), LabelOutcome::NoChange);
        // After the last change: no change until 200 s is known.
        assert_eq!(l.label_at(TimestampMs(140_000)), LabelOutcome::NoChange);
        // 150 s + 60 s runs past what is known (200 s): censored, not "no change".
        assert_eq!(l.label_at(TimestampMs(150_000)), LabelOutcome::Censored);
    }

    #[test]
    fn a_change_exactly_at_the_horizon_counts() {
        let s = series(&[(-10, 10_000), (60_000, 10_100)]);
        let l = Labeller::new(&s, TimestampMs(60_000), H).unwrap();
        assert_eq!(l.label_at(TimestampMs(0)), LabelOutcome::Labelled(Label::Up));
        assert_eq!(l.label_at(TimestampMs(-1)), LabelOutcome::NoChange);
    }

    #[test]
    fn equal_times_take_the_last_mid() {
        // Two updates at t=5 s: the mid at 5 s is the second; the move at 5 s is not after 5 s.
        let s = series(&[(0, 10_000), (5_000, 10_100), (5_000, 10_200), (8_000, 10_000)]);
        let l = Labeller::new(&s, TimestampMs(100_000), H).unwrap();
        assert_eq!(l.label_at(TimestampMs(0)), LabelOutcome::Labelled(Label::Up));
        assert_eq!(l.label_at(TimestampMs(5_000)), LabelOutcome::Labelled(Label::Down));
        assert_eq!(l.label_at(TimestampMs(8_000)), LabelOutcome::NoChange);
    }

    #[test]
    fn a_return_to_the_same_mid_is_not_skipped() {
        // Up then back: the label is the first change (up), not the net change (none).
        let s = series(&[(0, 10_000), (1_000, 10_200), (2_000, 10_000)]);
        let l = Labeller::new(&s, TimestampMs(100_000), H).unwrap();
        assert_eq!(l.label_at(TimestampMs(0)), LabelOutcome::Labelled(Label::Up));
        assert_eq!(l.label_at(TimestampMs(1_500)), LabelOutcome::Labelled(Label::Down));
    }

    #[test]
    fn grid_labels_and_counts() {
        let s = series(&[(10_000, 10_000), (25_000, 9_900), (100_000, 9_900)]);
        let l = Labeller::new(&s, TimestampMs(100_000), LabelSpec { horizon_ms: 20_000 }).unwrap();
        let grid = Grid { step_ms: 10_000, start: TimestampMs(0) };
        let (labels, counts) = l.label_grid(grid, TimestampMs(0), TimestampMs(100_000)).unwrap();
        // t=0 no mid; 10 s down (25 s <= 30 s); 20 s down; 30..=80 s no change; 90, 100 s censored.
        assert_eq!(labels, [(TimestampMs(10_000), Label::Down), (TimestampMs(20_000), Label::Down)]);
        assert_eq!(counts, LabelCounts { up: 0, down: 2, no_change: 6, censored: 2, no_mid: 1 });
        assert_eq!(counts.labelled(), 2);
    }

    #[test]
    fn bad_input_is_refused() {
        let s = series(&[(10, 1), (5, 1)]);
        assert_eq!(
            Labeller::new(&s, TimestampMs(0), H).unwrap_err(),
            LabelError::NotSorted { index: 1, before: TimestampMs(10), after: TimestampMs(5) }
        );
        assert_eq!(Labeller::new(&series(&[(1, 0)]), TimestampMs(0), H).unwrap_err(), LabelError::ZeroMid(0));
        assert_eq!(
            Labeller::new(&series(&[]), TimestampMs(0), LabelSpec { horizon_ms: 0 }).unwrap_err(),
            LabelError::Horizon(0)
        );
        let empty = Labeller::new(&[], TimestampMs(0), H).unwrap();
        assert_eq!(empty.label_at(TimestampMs(5)), LabelOutcome::NoMid);
    }
}
