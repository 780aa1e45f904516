//! Reconnect delays: exponential backoff with full jitter.
//!
//! Attempt `n` (from 0) waits a uniformly random time in `[0, min(cap,
//! initial x 2^n)]` ("full jitter"), so many clients cut off at once do not
//! come back in lock-step. A connection that stayed healthy for `reset_after`
//! starts the sequence again from `initial`. Written by hand: it is six lines
//! of arithmetic, and the retry crates' jitter is additive, not full.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackoffConfig {
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    #[serde(with = "humantime_serde")]
    pub cap: Duration,
    /// A connection live this long resets the sequence.
    #[serde(with = "humantime_serde")]
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// The delay sequence of one stream.
#[derive(Debug)]
pub struct Backoff {
    cfg: BackoffConfig,
    attempt: u32,
    rng: SmallRng,
}

impl Backoff {
    pub fn new(cfg: BackoffConfig, seed: u64) -> Backoff {
        Backoff { cfg, attempt: 0, rng: SmallRng::seed_from_u64(seed) }
    }

    /// The ceiling of the next delay: `min(cap, initial x 2^attempt)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.cfg.initial.saturating_mul(factor).min(self.cfg.cap)
    }

    /// How long to wait before the next attempt, and count the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(self.rng.random_range(0..=millis))
    }

    /// Attempts made since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// A connection ended after being live for `live_for`: a healthy one
    /// resets the sequence.
    pub fn connection_ended(&mut self, live_for: Duration) {
        if live_for >= self.cfg.reset_after {
            self.attempt = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let mut b = Backoff::new(BackoffConfig::default(), 1);
        let ceilings: Vec<u64> = (0..9)
            .map(|_| {
                let c = b.ceiling().as_millis() as u64;
                b.next_delay();
                c
            })
            .collect();
        assert_eq!(ceilings, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    }

    #[test]
    fn delays_are_full_jitter_within_the_ceiling() {
        let mut b = Backoff::new(BackoffConfig::default(), 7);
        for _ in 0..6 {
            b.next_delay();
        }
        // At the cap: 1,000 draws spread over [0, 30 s], not bunched at the top.
        let draws: Vec<u128> = (0..1_000).map(|_| b.next_delay().as_millis()).collect();
        assert!(draws.iter().all(|&d| d <= 30_000));
        let low = draws.iter().filter(|&&d| d < 10_000).count();
        let high = draws.iter().filter(|&&d| d > 20_000).count();
        assert!((250..=420).contains(&low) && (250..=420).contains(&high), "low {low} high {high}");
    }

    #[test]
    fn a_healthy_minute_resets_the_sequence() {
        let mut b = Backoff::new(BackoffConfig::default(), 3);
        for _ in 0..5 {
            b.next_delay();
        }
        b.connection_ended(Duration::from_secs(59));
        assert_eq!(b.attempt(), 5);
        b.connection_ended(Duration::from_secs(60));
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.ceiling(), Duration::from_millis(500));
    }
}
