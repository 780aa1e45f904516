//! Reconnect delays: exponential backoff with full jitter.
//!
//! Attempt `n` (from 0) waits a uniformly random time in `[0, min(cap,
//! initial x 2^n)]` ("full jitter"), so many clients cut off at once do not
//! come back in lock-step. Written by hand: it is six lines of arithmetic,
//! and the retry crates' jitter is additive, not full.
//!
//! Invariant: the sequence starts again from `initial` only after a
//! connection that worked ([`resets`]): one that delivered market data after
//! subscribing or completed its book resync, or one that stayed open for
//! `reset_after`. Every other ending (connect refused, handshake failed,
//! dropped before any data) counts as one more failure, so a server that is
//! down or refusing is retried ever more slowly, up to `cap`, while a
//! connection that is dropped now and then but recovers at once comes back
//! within `initial` every time.
//!
//! Why both parts. Waiting for `reset_after` alone is not enough: a feed
//! dropped every ten seconds never stays open a minute, so its delays grew
//! towards the cap although every reconnect succeeded (the simulator's
//! `ws-drop-every=300`: 47 % uptime in the run, 94 % over a minute).
//! And the first delay after a drop is paid on every drop: at 500 ms
//! (250 ms on average) it alone cost 2 % of a ten-second connection, so
//! `initial` is 100 ms (figures in RELIABILITY.md). Failures still reach the
//! 30 s cap, after nine attempts instead of six.

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
    /// A connection open this long resets the sequence even if it
    /// delivered nothing (a quiet market).
    #[serde(with = "humantime_serde")]
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(100),
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
        pmbot_core::backoff::ceiling(self.cfg.initial, self.cfg.cap, self.attempt)
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

    /// Records how a connection attempt ended: one that worked starts the
    /// sequence again (see [`resets`]).
    pub fn connection_ended(&mut self, outcome: ConnectionOutcome) {
        if resets(&self.cfg, outcome) {
            self.attempt = 0;
        }
    }
}

/// How one connection attempt ended, as far as the backoff cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionOutcome {
    /// The socket did not open, or the WebSocket handshake failed.
    ConnectFailed,
    /// The socket opened and stayed open for `open_for`.
    Closed {
        open_for: Duration,
        /// It delivered market data after subscribing, or every subscribed
        /// book was resynced on it.
        delivered: bool,
    },
}

/// Whether `outcome` starts the delay sequence again: the connection worked,
/// either by delivering data or by staying open for `reset_after`.
pub fn resets(cfg: &BackoffConfig, outcome: ConnectionOutcome) -> bool {
    match outcome {
        ConnectionOutcome::ConnectFailed => false,
        ConnectionOutcome::Closed { open_for, delivered } => delivered || open_for >= cfg.reset_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let mut b = Backoff::new(BackoffConfig::default(), 1);
        let ceilings: Vec<u64> = (0..11)
            .map(|_| {
                let c = b.ceiling().as_millis() as u64;
                b.next_delay();
                c
            })
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000]);
    }

    #[test]
    fn delays_are_full_jitter_within_the_ceiling() {
        let mut b = Backoff::new(BackoffConfig::default(), 7);
        for _ in 0..9 {
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
    fn which_endings_reset_the_sequence() {
        let cfg = BackoffConfig::default();
        let closed =
            |secs: u64, delivered: bool| ConnectionOutcome::Closed { open_for: Duration::from_secs(secs), delivered };
        let cases = [
            ("connect refused or handshake failed", ConnectionOutcome::ConnectFailed, false),
            ("dropped at once, before any data", closed(0, false), false),
            ("open 59 s without data", closed(59, false), false),
            ("open a minute without data (a quiet market)", closed(60, false), true),
            ("dropped after 9 s of data (ws-drop-every)", closed(9, true), true),
            ("dropped right after its first data", closed(0, true), true),
            ("open an hour with data", closed(3_600, true), true),
        ];
        for (name, outcome, want) in cases {
            assert_eq!(resets(&cfg, outcome), want, "{name}");
        }
    }

    #[test]
    fn failures_keep_growing_and_a_connection_that_worked_resets() {
        let mut b = Backoff::new(BackoffConfig::default(), 3);
        for _ in 0..5 {
            b.next_delay();
            b.connection_ended(ConnectionOutcome::ConnectFailed);
        }
        b.connection_ended(ConnectionOutcome::Closed { open_for: Duration::from_millis(20), delivered: false });
        assert_eq!(b.attempt(), 5, "failed connects and data-less drops count as failures");
        assert_eq!(b.ceiling(), Duration::from_millis(3_200));
        b.connection_ended(ConnectionOutcome::Closed { open_for: Duration::from_secs(9), delivered: true });
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.ceiling(), Duration::from_millis(100));
        for _ in 0..3 {
            b.next_delay();
        }
        b.connection_ended(ConnectionOutcome::Closed { open_for: Duration::from_secs(60), delivered: false });
        assert_eq!(b.attempt(), 0, "a healthy minute still resets");
    }
}
