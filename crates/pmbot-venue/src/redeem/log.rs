//! The journal seam of redemptions: what is written down, and when.
//!
//! Invariant: a redemption transaction's hash is recorded durably
//! ([`RedemptionStatus::Sent`]) before the transaction leaves the machine,
//! and a market has at most one [`RedemptionStatus::Confirmed`] row, written
//! once the chain shows the payout: so a crash or an RPC outage at any point
//! leaves a journal from which the next attempt finds the transaction by its
//! hash instead of sending another, and no payout is ever counted twice.
//!
//! The SQLite journal (`pmbot-engine`) implements [`RedemptionLog`] (its
//! `redemptions` table enforces the one confirmed row per market);
//! [`MemoryRedemptionLog`] is an in-memory one for tests.

use std::sync::Mutex;

use pmbot_core::ConditionId;

pub use pmbot_rows::{RedemptionLog, RedemptionLogError, RedemptionRow, RedemptionState, RedemptionStatus, Via};

/// Rows in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryRedemptionLog {
    pub rows: Vec<RedemptionRow>,
    /// Writes fail while this is set (a full disk).
    pub fail_writes: bool,
}

impl RedemptionLog for MemoryRedemptionLog {
    fn redemption_state(&self, market: &ConditionId) -> Result<RedemptionState, RedemptionLogError> {
        let mine = || self.rows.iter().filter(|r| r.market == *market);
        Ok(RedemptionState {
            confirmed: mine().find(|r| r.status == RedemptionStatus::Confirmed).cloned(),
            last: mine().next_back().cloned(),
        })
    }

    fn record_redemption(&mut self, row: &RedemptionRow) -> Result<(), RedemptionLogError> {
        if self.fail_writes {
            return Err(RedemptionLogError::Storage("disk full".into()));
        }
        let confirmed = self.redemption_state(&row.market)?.confirmed.is_some();
        if row.status == RedemptionStatus::Confirmed && confirmed {
            return Err(RedemptionLogError::AlreadyConfirmed(row.market));
        }
        self.rows.push(row.clone());
        Ok(())
    }
}

/// A log shared with other writers (the engine's journal): locked per call,
/// never across an await.
pub type SharedRedemptionLog = std::sync::Arc<Mutex<dyn RedemptionLog>>;

/// Locks a shared log; a writer that panicked mid-write left it whole
/// (each write is one transaction).
pub(crate) fn lock(log: &Mutex<dyn RedemptionLog>) -> std::sync::MutexGuard<'_, dyn RedemptionLog + 'static> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;
    use pmbot_core::{TimestampMs, Usdc};

    use super::*;

    fn row(status: RedemptionStatus, hash: Option<u8>) -> RedemptionRow {
        RedemptionRow {
            market: ConditionId::default(),
            status,
            via: Via::Chain,
            tx_hash: hash.map(B256::repeat_byte),
            payout: Some(Usdc::from_whole(1)),
            detail: serde_json::json!({}),
            at: TimestampMs::from_millis(1),
        }
    }

    #[test]
    fn in_flight_is_the_last_sent_row_until_confirmed() {
        let mut log = MemoryRedemptionLog::default();
        let state = |log: &MemoryRedemptionLog| log.redemption_state(&ConditionId::default()).unwrap();
        assert_eq!(state(&log).in_flight(), None);
        log.record_redemption(&row(RedemptionStatus::Sent, Some(1))).unwrap();
        assert_eq!(state(&log).in_flight().and_then(|r| r.tx_hash), Some(B256::repeat_byte(1)));
        log.record_redemption(&row(RedemptionStatus::Failed, Some(1))).unwrap();
        assert_eq!(state(&log).in_flight(), None, "reverted: nothing in flight");
        log.record_redemption(&row(RedemptionStatus::Sent, Some(2))).unwrap();
        log.record_redemption(&row(RedemptionStatus::Confirmed, Some(2))).unwrap();
        assert_eq!(state(&log).in_flight(), None);
        assert!(matches!(
            log.record_redemption(&row(RedemptionStatus::Confirmed, Some(3))),
            Err(RedemptionLogError::AlreadyConfirmed(_))
        ));
        for s in [RedemptionStatus::Sent, RedemptionStatus::Confirmed, RedemptionStatus::Failed] {
            assert_eq!(RedemptionStatus::parse(s.as_str()), Some(s));
        }
        for v in [Via::Chain, Via::Simulator] {
            assert_eq!(Via::parse(v.as_str()), Some(v));
        }
    }
}
