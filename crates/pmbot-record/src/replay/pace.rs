//! Pacing: when each replayed frame is due on a replay clock.
//!
//! Invariant: with [`Pace::Speed`], the first frame is due when it is first
//! asked for (clock time `c0`, recorded time `r0`), and a frame recorded at
//! `r` is due at `c0 + ceil((r - r0) / speed)`, in integer milliseconds, so a
//! manual clock sees exact, repeatable release times. A frame recorded
//! earlier than its predecessor (a clock step back) is due at once. Nothing
//! here sleeps: [`Replayer::next_due`] says "now" or "at t", the caller waits.

use std::num::NonZeroU32;

use pmbot_core::{Clock, TimestampMs};

use super::{Frame, ReplayError};

/// A replay speed factor (recorded ms per clock ms), kept in thousandths so
/// release times are integer arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Speed(NonZeroU32);

impl Speed {
    /// Recorded time passes as fast as the clock's.
    pub const REAL_TIME: Speed = Speed(NonZeroU32::new(1_000).expect("non-zero"));
    const MAX_THOUSANDTHS: u32 = 1_000_000_000;

    /// A factor between 0.001 and 1,000,000, rounded to thousandths.
    pub fn from_factor(factor: f64) -> Result<Speed, ReplayError> {
        let thousandths = (factor * 1000.0).round();
        if !factor.is_finite() || !(1.0..=f64::from(Self::MAX_THOUSANDTHS)).contains(&thousandths) {
            return Err(ReplayError::BadSpeed(factor));
        }
        Ok(Speed(NonZeroU32::new(thousandths as u32).ok_or(ReplayError::BadSpeed(factor))?))
    }

    /// The factor in thousandths (10x = 10,000).
    pub const fn thousandths(self) -> u32 {
        self.0.get()
    }

    /// Clock milliseconds for `recorded_ms` of recorded time, rounded up (a
    /// frame is never released early); negative spans are not rounded up.
    fn clock_span(self, recorded_ms: i64) -> i64 {
        let scaled = i128::from(recorded_ms) * 1000;
        let per = i128::from(self.0.get());
        let span = if scaled > 0 { (scaled + per - 1) / per } else { scaled / per };
        i64::try_from(span).unwrap_or(if span > 0 { i64::MAX } else { i64::MIN })
    }
}

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Every frame is due at once (backtests, which set their clock to each
    /// frame's receive time themselves).
    AsFastAsPossible,
    /// Recorded time, scaled, against the replay clock.
    Speed(Speed),
}

/// Maps recorded times to due times on the replay clock.
#[derive(Debug, Clone)]
pub struct Pacer {
    pace: Pace,
    /// (first recorded time, clock time it was released at).
    anchor: Option<(i64, i64)>,
}

impl Pacer {
    pub fn new(pace: Pace) -> Pacer {
        Pacer { pace, anchor: None }
    }

    /// When a frame recorded at `recorded` is due; the first call anchors the
    /// recorded clock at `now`.
    pub fn due_at(&mut self, recorded: TimestampMs, now: TimestampMs) -> TimestampMs {
        match self.pace {
            Pace::AsFastAsPossible => now,
            Pace::Speed(speed) => {
                let (r0, c0) = *self.anchor.get_or_insert((recorded.millis(), now.millis()));
                TimestampMs(c0.saturating_add(speed.clock_span(recorded.millis().saturating_sub(r0))))
            }
        }
    }
}

/// What the replayer has for the caller now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paced {
    /// The next frame, due now (or earlier).
    Due(Frame),
    /// The next frame is due at `until` on the replay clock: sleep until then.
    Wait { until: TimestampMs },
    /// The source has no more frames.
    Finished,
}

/// A frame source paced against a clock.
#[derive(Debug)]
pub struct Replayer<I, C> {
    frames: I,
    clock: C,
    pacer: Pacer,
    pending: Option<(Frame, TimestampMs)>,
}

impl<I, C> Replayer<I, C>
where
    I: Iterator<Item = Result<Frame, ReplayError>>,
    C: Clock,
{
    pub fn new(frames: I, pace: Pace, clock: C) -> Replayer<I, C> {
        Replayer { frames, clock, pacer: Pacer::new(pace), pending: None }
    }

    /// The next frame if it is due by the clock's time now. A source error is
    /// returned once and the replay goes on with the next frame.
    pub fn next_due(&mut self) -> Result<Paced, ReplayError> {
        let now = self.clock.now();
        let (frame, due) = match self.pending.take() {
            Some(pending) => pending,
            None => match self.frames.next() {
                None => return Ok(Paced::Finished),
                Some(Err(e)) => return Err(e),
                Some(Ok(frame)) => {
                    let due = self.pacer.due_at(frame.received, now);
                    (frame, due)
                }
            },
        };
        if now >= due {
            Ok(Paced::Due(frame))
        } else {
            self.pending = Some((frame, due));
            Ok(Paced::Wait { until: due })
        }
    }

    /// The clock the replay is paced against.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The source (a frame already taken for pacing and not yet due is lost).
    pub fn into_source(self) -> I {
        self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_are_thousandths() {
        assert_eq!(Speed::from_factor(10.0).unwrap().thousandths(), 10_000);
        assert_eq!(Speed::from_factor(0.5).unwrap().thousandths(), 500);
        assert_eq!(Speed::from_factor(0.001).unwrap().thousandths(), 1);
        for bad in [0.0, -1.0, 0.0004, f64::NAN, f64::INFINITY, 2e6] {
            assert!(Speed::from_factor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_round_up_and_never_drift() {
        let ten = Speed::from_factor(10.0).unwrap();
        assert_eq!(ten.clock_span(1_000), 100);
        assert_eq!(ten.clock_span(2_505), 251);
        assert_eq!(ten.clock_span(0), 0);
        assert_eq!(ten.clock_span(-15), -1);
        // 0.1 as an f64 factor would give 10000.000000000002 ms; thousandths give 10000.
        assert_eq!(Speed::from_factor(0.1).unwrap().clock_span(1_000), 10_000);
        assert_eq!(Speed::from_factor(3.0).unwrap().clock_span(1_000), 334);
        assert_eq!(Speed::REAL_TIME.clock_span(i64::MAX), i64::MAX);
    }

    #[test]
    fn the_pacer_anchors_on_the_first_frame() {
        let mut p = Pacer::new(Pace::Speed(Speed::from_factor(2.0).unwrap()));
        assert_eq!(p.due_at(TimestampMs(5_000), TimestampMs(100)), TimestampMs(100));
        assert_eq!(p.due_at(TimestampMs(6_000), TimestampMs(999)), TimestampMs(600));
        // Earlier than the first frame: due before the anchor, so at once.
        assert_eq!(p.due_at(TimestampMs(4_000), TimestampMs(700)), TimestampMs(-400));
        let mut fast = Pacer::new(Pace::AsFastAsPossible);
        assert_eq!(fast.due_at(TimestampMs(9_999_999), TimestampMs(3)), TimestampMs(3));
    }
}
