//! Redemptions in the journal: the rows the redeemer writes
//! (`pmbot_rows::RedemptionLog`), and what they add up to.
//!
//! Invariant: a market has at most one confirmed redemption (a unique index
//! refuses a second, so a payout cannot be counted twice even by two
//! processes), and "resolved, not yet redeemed" is derived from the rows, never
//! stored: live runs' payouts at resolution for markets with no confirmed
//! redemption. Paper and backtest payouts are simulated redemptions, paid at
//! resolution, and never owed.

use std::path::Path;

use alloy_primitives::B256;
use pmbot_core::{ConditionId, TimestampMs, Usdc};
use pmbot_rows::{RedemptionLog, RedemptionLogError, RedemptionRow, RedemptionState, RedemptionStatus, Via};
use rusqlite::{OptionalExtension, Row, params};

use super::error::{classify, corrupt};
use super::{Journal, JournalError};

/// Every column of a redemption row, in [`row_from`]'s order.
const COLUMNS: &str = "market, status, via, tx_hash, payout_micros, detail_json, at_ms";

/// A live run's payout at resolution not yet redeemed: its value is owed by
/// the chain, not in the wallet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unredeemed {
    pub market: ConditionId,
    /// The payout at resolution (1 pUSD a winning share), summed over the
    /// market's tokens and runs.
    pub amount: Usdc,
    /// When the (last) resolution was recorded.
    pub resolved: TimestampMs,
}

impl Journal {
    /// Every redemption row, oldest first.
    pub fn redemptions(&self) -> Result<Vec<RedemptionRow>, JournalError> {
        self.select(&format!("SELECT {COLUMNS} FROM redemptions ORDER BY id"), [], row_from)
    }

    /// Where `market`'s redemption stands.
    pub fn redemption_state_of(&self, market: &ConditionId) -> Result<RedemptionState, JournalError> {
        let m = market.to_string();
        let confirmed = self.select(
            &format!("SELECT {COLUMNS} FROM redemptions WHERE market = ?1 AND status = 'confirmed'"),
            [&m],
            row_from,
        )?;
        let last = self.select(
            &format!("SELECT {COLUMNS} FROM redemptions WHERE market = ?1 ORDER BY id DESC LIMIT 1"),
            [&m],
            row_from,
        )?;
        Ok(RedemptionState { confirmed: confirmed.into_iter().next(), last: last.into_iter().next() })
    }

    /// Appends a redemption row in one transaction. A second confirmed row
    /// for a market is refused and nothing is written.
    pub fn record_redemption_row(&mut self, row: &RedemptionRow) -> Result<(), JournalError> {
        let detail = serde_json::to_string(&row.detail)
            .map_err(|e| JournalError::Invalid { path: self.path.clone(), reason: e.to_string() })?;
        let market = row.market.to_string();
        self.write(|tx, path| {
            if row.status == RedemptionStatus::Confirmed {
                let done: Option<i64> = tx
                    .prepare_cached("SELECT id FROM redemptions WHERE market = ?1 AND status = 'confirmed'")
                    .and_then(|mut s| s.query_row([&market], |r| r.get(0)).optional())
                    .map_err(|e| classify(path, e))?;
                if done.is_some() {
                    return Err(JournalError::Invalid {
                        path: path.to_path_buf(),
                        reason: format!("market {market} already has a confirmed redemption"),
                    });
                }
            }
            tx.prepare_cached(
                "INSERT INTO redemptions (market, status, via, tx_hash, payout_micros, detail_json, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    market,
                    row.status.as_str(),
                    row.via.as_str(),
                    row.tx_hash.map(|h| format!("{h:#x}")),
                    row.payout.map(Usdc::micros),
                    detail,
                    row.at.millis(),
                ])
            })
            .map_err(|e| classify(path, e))?;
            Ok(())
        })
    }

    /// Markets whose shares may still wait for redemption, in id order:
    /// every market of which the fills of orders not placed by a paper or
    /// backtest run leave shares held, or with a live run's payout, and no
    /// confirmed redemption. (The chain decides what is really there.)
    pub fn redemption_candidates(&self) -> Result<Vec<ConditionId>, JournalError> {
        self.select(
            "SELECT o.market FROM fills f
                 JOIN orders o ON o.client_order_id = f.client_order_id
                 LEFT JOIN run_orders ro ON ro.client_order_id = o.client_order_id
                 LEFT JOIN runs r ON r.id = ro.run_id
                 WHERE r.mode IS NULL OR r.mode = 'live'
                 GROUP BY o.market, f.token
                 HAVING sum(CASE f.side WHEN 'BUY' THEN f.size_micros ELSE -f.size_micros END)
                      - sum(CASE f.fee_kind WHEN 'shares' THEN f.fee_micros ELSE 0 END) > 0
             UNION
             SELECT p.market FROM payouts p JOIN runs r ON r.id = p.run_id WHERE r.mode = 'live'
             EXCEPT
             SELECT market FROM redemptions WHERE status = 'confirmed'
             ORDER BY 1",
            [],
            |path, r| parse_market(path, r.get(0).map_err(|e| classify(path, e))?),
        )
    }

    /// Live runs' payouts at resolution whose market has no confirmed
    /// redemption yet, in market order (losing tokens' zero payouts count
    /// toward nothing, but their markets are listed: the shares still wait).
    pub fn unredeemed(&self) -> Result<Vec<Unredeemed>, JournalError> {
        self.select(
            "SELECT p.market, sum(p.amount_micros), max(p.at_ms) FROM payouts p
                 JOIN runs r ON r.id = p.run_id
                 WHERE r.mode = 'live'
                   AND p.market NOT IN (SELECT market FROM redemptions WHERE status = 'confirmed')
                 GROUP BY p.market ORDER BY p.market",
            [],
            |path, r| {
                let get = |i: usize| -> Result<i64, JournalError> { r.get(i).map_err(|e| classify(path, e)) };
                Ok(Unredeemed {
                    market: parse_market(path, r.get(0).map_err(|e| classify(path, e))?)?,
                    amount: Usdc::from_micros(get(1)?),
                    resolved: TimestampMs::from_millis(get(2)?),
                })
            },
        )
    }
}

impl RedemptionLog for Journal {
    fn redemption_state(&self, market: &ConditionId) -> Result<RedemptionState, RedemptionLogError> {
        self.redemption_state_of(market).map_err(|e| RedemptionLogError::Storage(e.to_string()))
    }

    fn record_redemption(&mut self, row: &RedemptionRow) -> Result<(), RedemptionLogError> {
        if row.status == RedemptionStatus::Confirmed
            && self.redemption_state_of(&row.market).is_ok_and(|s| s.confirmed.is_some())
        {
            return Err(RedemptionLogError::AlreadyConfirmed(row.market));
        }
        self.record_redemption_row(row).map_err(|e| RedemptionLogError::Storage(e.to_string()))
    }
}

fn parse_market(path: &Path, s: String) -> Result<ConditionId, JournalError> {
    ConditionId::parse(&s).map_err(|e| corrupt(path, format!("redemption market: {e}")))
}

fn row_from(path: &Path, r: &Row<'_>) -> Result<RedemptionRow, JournalError> {
    let text = |i: usize| -> Result<String, JournalError> { r.get(i).map_err(|e| classify(path, e)) };
    let status = text(1)?;
    let via = text(2)?;
    let tx_hash: Option<String> = r.get(3).map_err(|e| classify(path, e))?;
    let payout: Option<i64> = r.get(4).map_err(|e| classify(path, e))?;
    Ok(RedemptionRow {
        market: parse_market(path, text(0)?)?,
        status: RedemptionStatus::parse(&status).ok_or_else(|| corrupt(path, format!("redemption status {status}")))?,
        via: Via::parse(&via).ok_or_else(|| corrupt(path, format!("redemption via {via}")))?,
        tx_hash: tx_hash
            .map(|h| h.parse::<B256>().map_err(|e| corrupt(path, format!("redemption tx hash {h}: {e}"))))
            .transpose()?,
        payout: payout.map(Usdc::from_micros),
        detail: serde_json::from_str(&text(5)?).map_err(|e| corrupt(path, format!("redemption detail: {e}")))?,
        at: TimestampMs::from_millis(r.get(6).map_err(|e| classify(path, e))?),
    })
}
