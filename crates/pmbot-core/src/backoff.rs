//! Retry delays: an exponential ceiling, and the jitter drawn under it.
//!
//! Invariant: retry `n` (counted from 0) waits at most
//! `min(cap, initial x 2^n)`, computed without overflow for any `n`; the
//! jitter only ever shortens the wait. The randomness comes in as a number
//! in `[0, 1]`, so both functions are pure and testable, and each caller
//! keeps the source it has (a seeded generator where a test replays it).
//!
//! Every retry loop in pmbot uses these two (the market stream, the
//! gateway, its REST reads, the balance reader, redemptions, the alert
//! sinks); before, six formulas disagreed on where `n` starts, on caps and
//! on overflow. Written by hand: it is a few lines of arithmetic, and the
//! retry crates' jitter is additive, not full.

use std::time::Duration;

/// `min(cap, initial x 2^n)`: the longest wait before retry `n` (from 0).
pub fn ceiling(initial: Duration, cap: Duration, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(cap)
}

/// How much of the ceiling is left to chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// The ceiling itself (one retrier, nobody to fall in step with).
    None,
    /// Uniform in `[0, ceiling]`: reconnects of many clients cut off at once.
    Full,
    /// Uniform in `[ceiling / 2, ceiling]`: retries that must not come back
    /// almost at once, but not in step either.
    Equal,
}

/// The wait under `ceiling` for a draw `unit` in `[0, 1]` (clamped; a NaN
/// counts as 1, the longest wait).
pub fn delay(ceiling: Duration, jitter: Jitter, unit: f64) -> Duration {
    let unit = if unit.is_nan() { 1.0 } else { unit.clamp(0.0, 1.0) };
    match jitter {
        Jitter::None => ceiling,
        Jitter::Full => ceiling.mul_f64(unit),
        Jitter::Equal => {
            let half = ceiling / 2;
            half + (ceiling - half).mul_f64(unit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_ceiling_doubles_from_initial_and_stops_at_the_cap() {
        let c = |n| ceiling(100 * MS, 30_000 * MS, n);
        assert_eq!([c(0), c(1), c(2), c(8)], [100 * MS, 200 * MS, 400 * MS, 25_600 * MS]);
        assert_eq!(c(9), 30_000 * MS);
        assert_eq!(c(u32::MAX), 30_000 * MS, "no overflow");
        assert_eq!(ceiling(Duration::MAX, Duration::MAX, 40), Duration::MAX);
    }

    #[test]
    fn jitter_only_shortens_within_its_band() {
        let top = 1_000 * MS;
        assert_eq!(delay(top, Jitter::None, 0.0), top);
        assert_eq!((delay(top, Jitter::Full, 0.0), delay(top, Jitter::Full, 1.0)), (Duration::ZERO, top));
        assert_eq!((delay(top, Jitter::Equal, 0.0), delay(top, Jitter::Equal, 1.0)), (500 * MS, top));
        assert_eq!(delay(top, Jitter::Full, 0.25), 250 * MS);
        assert_eq!(delay(top, Jitter::Full, 7.0), top, "clamped");
        assert_eq!(delay(top, Jitter::Equal, f64::NAN), top);
    }
}
