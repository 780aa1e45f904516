//! When to try a market's redemption again: a pure function of the last
//! attempt's result, table-tested by named case.
//!
//! Invariant: only what can mend by itself is retried (the network, a
//! transaction not mined yet, an oracle that has not reported), the
//! network with exponential backoff (`retry_initial x 2^n`, capped at
//! `retry_max`) and the rest at a steady poll; a refusal, a revert or a
//! journal failure stops at once, since sending again cannot fix it and
//! could only spend gas.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::procedure::{RedeemError, RedeemOutcome};

/// `[redeem]`: how patiently redemptions are sent and followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedeemConfig {
    /// How long a broadcast transaction may take to be mined before the
    /// attempt ends (it is then looked up by hash on the next one).
    #[serde(with = "humantime_serde")]
    pub receipt_timeout: Duration,
    /// Between two receipt look-ups while waiting.
    #[serde(with = "humantime_serde")]
    pub receipt_poll: Duration,
    /// The first pause after a failed attempt; doubles up to `retry_max`.
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Attempts per market of one `pmbot redeem` (a `live` run retries
    /// until it stops).
    pub attempts: u32,
    /// How often `live` looks again at a market the oracle has not
    /// reported on chain yet.
    #[serde(with = "humantime_serde")]
    pub resolution_poll: Duration,
}

impl Default for RedeemConfig {
    fn default() -> Self {
        RedeemConfig {
            // Polygon mines a block about every 2 s.
            receipt_timeout: Duration::from_secs(120),
            receipt_poll: Duration::from_secs(2),
            retry_initial: Duration::from_secs(2),
            retry_max: Duration::from_secs(120),
            attempts: 6,
            resolution_poll: Duration::from_secs(60),
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing left to do for this market.
    Done,
    /// Try again after this long.
    After(Duration),
    /// No later attempt can succeed by itself.
    GiveUp,
}

/// The next step after `result`, the `failures`-th failure in a row (from 1;
/// 0 after a success).
pub fn next(result: &Result<RedeemOutcome, RedeemError>, failures: u32, cfg: &RedeemConfig) -> Next {
    match result {
        Ok(RedeemOutcome::NotResolved) => Next::After(cfg.resolution_poll),
        Ok(_) => Next::Done,
        Err(RedeemError::Pending(_)) => Next::After(cfg.receipt_poll.max(cfg.retry_initial)),
        Err(e) if e.is_retryable() => Next::After(backoff(failures, cfg)),
        Err(_) => Next::GiveUp,
    }
}

/// `min(retry_max, retry_initial x 2^(failures - 1))`.
pub fn backoff(failures: u32, cfg: &RedeemConfig) -> Duration {
    pmbot_core::backoff::ceiling(cfg.retry_initial, cfg.retry_max, failures.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;
    use pmbot_core::Usdc;

    use super::*;
    use crate::redeem::procedure::JournalFailure;

    #[test]
    fn named_cases() {
        let cfg = RedeemConfig::default();
        let redeemed = Ok(RedeemOutcome::Redeemed { tx_hash: None, payout: Usdc::ZERO });
        assert_eq!(next(&redeemed, 0, &cfg), Next::Done, "redeemed");
        let already = Ok(RedeemOutcome::AlreadyRedeemed { tx_hash: None, payout: Usdc::ZERO });
        assert_eq!(next(&already, 0, &cfg), Next::Done, "already redeemed");
        assert_eq!(next(&Ok(RedeemOutcome::NothingHeld), 0, &cfg), Next::Done, "nothing held");
        assert_eq!(next(&Ok(RedeemOutcome::NotPrepared), 0, &cfg), Next::Done, "no such condition");
        assert_eq!(
            next(&Ok(RedeemOutcome::NotResolved), 0, &cfg),
            Next::After(cfg.resolution_poll),
            "oracle not reported: poll"
        );
        let rpc = Err(RedeemError::Rpc("down".into()));
        assert_eq!(next(&rpc, 1, &cfg), Next::After(Duration::from_secs(2)), "network: backoff");
        assert_eq!(next(&rpc, 3, &cfg), Next::After(Duration::from_secs(8)), "doubling");
        assert_eq!(next(&rpc, 40, &cfg), Next::After(cfg.retry_max), "capped");
        let pending = Err(RedeemError::Pending(B256::ZERO));
        assert_eq!(next(&pending, 1, &cfg), Next::After(cfg.retry_initial), "not mined yet");
        for fatal in [
            RedeemError::Refused("insufficient funds for gas".into()),
            RedeemError::Reverted(B256::ZERO),
            RedeemError::WrongChain { expected: 137, got: 1 },
            RedeemError::Unredeemable("3 outcomes".into()),
            RedeemError::Simulator("market not resolved".into()),
            RedeemError::Journal(JournalFailure("disk full".into())),
        ] {
            assert_eq!(next(&Err(fatal.clone()), 1, &cfg), Next::GiveUp, "{fatal}");
        }
    }

    #[test]
    fn backoff_never_overflows() {
        let cfg = RedeemConfig { retry_initial: Duration::from_secs(u64::MAX / 2), ..RedeemConfig::default() };
        assert_eq!(backoff(u32::MAX, &cfg), cfg.retry_max);
        assert_eq!(backoff(0, &RedeemConfig::default()), Duration::from_secs(2));
    }
}
