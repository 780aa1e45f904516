//! Redemption: resolved tokens turn into pUSD only when their holder redeems
//! them, as the Conditional Tokens contract's `redeemPositions` does (or the
//! Neg Risk Adapter's redeem for neg-risk markets).
//!
//! Invariant: after a market resolves, the collateral still locked for it
//! (`pairs`) equals the winning shares not yet redeemed; a redemption pays
//! exactly 1 pUSD per winning share out of it and burns the holder's winning
//! and losing shares, so collateral is conserved. Redeeming what one does not
//! hold pays nothing and succeeds, as the contract call does.
//!
//! Sources: polymarket-protocol.md corrections 5 ("Winning shares are not
//! paid out automatically. After resolution the holder must redeem on chain
//! ... until then the pUSD balance does not include the payout"); the
//! official Rust SDK's `ctf` feature (`redeem_positions`, `redeem_neg_risk`).
//! The simulator has no chain, so tests and tools redeem through
//! `POST /_sim/redeem`, and market sources redeem their house accounts.
//!
//! Pruned markets keep their unredeemed holdings here, in a compact form, so
//! a holder can redeem however long after resolution it gets to it, while the
//! book and order records are freed.

use std::collections::BTreeMap;

use alloy_primitives::Address;
use pmbot_core::{ConditionId, Size, TokenId, Usdc};
use serde::Serialize;

use super::Exchange;
use super::book::Outcome;
use super::fasthash::FastMap;
use super::markets::Market;
use super::types::Reject;

/// What one redemption did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Redemption {
    /// pUSD credited: 1 per winning share.
    pub payout: Usdc,
    /// Winning shares burned (equal to the payout in shares).
    pub winning_burned: Size,
    /// Losing shares burned (worth nothing).
    pub losing_burned: Size,
}

/// Unredeemed holdings of a pruned, resolved market.
#[derive(Debug)]
struct Settled {
    winner: Outcome,
    tokens: [TokenId; 2],
    /// Shares of each outcome by holder; only non-zero entries.
    positions: BTreeMap<Address, [u64; 2]>,
    /// Collateral still locked: the winning shares outstanding.
    locked: u64,
}

/// Every pruned market some holder has not redeemed yet.
#[derive(Debug, Default)]
pub(crate) struct SettledStore {
    markets: BTreeMap<ConditionId, Settled>,
    by_token: FastMap<TokenId, (ConditionId, Outcome)>,
}

impl SettledStore {
    /// Keeps what `m`'s holders have not redeemed; forgets it if nothing is left.
    pub(crate) fn keep(&mut self, m: Market) {
        let Some(winner) = m.winner else { return };
        let positions: BTreeMap<Address, [u64; 2]> = m
            .positions
            .into_iter()
            .map(|(account, p)| (account, [p[0].total, p[1].total]))
            .filter(|(_, p)| p.iter().any(|s| *s > 0))
            .collect();
        if positions.is_empty() {
            return;
        }
        let cid = m.spec.condition_id;
        let tokens = m.spec.tokens.map(|t| t.token_id);
        for (outcome, t) in tokens.iter().enumerate() {
            self.by_token.insert(t.clone(), (cid, outcome));
        }
        self.markets.insert(cid, Settled { winner, tokens, positions, locked: m.pairs });
    }

    #[cfg(test)]
    pub(crate) fn markets_len(&self) -> usize {
        self.markets.len()
    }

    pub(crate) fn contains(&self, market: &ConditionId) -> bool {
        self.markets.contains_key(market)
    }

    /// `account`'s shares of a pruned market's `token`, if it is one.
    pub(crate) fn shares(&self, account: &Address, token: &TokenId) -> Option<u64> {
        let (cid, outcome) = self.by_token.get(token)?;
        Some(self.markets[cid].positions.get(account).map_or(0, |p| p[*outcome]))
    }

    /// Collateral locked for pruned markets' winners (for the audit).
    pub(crate) fn locked(&self) -> u128 {
        self.markets.values().map(|s| u128::from(s.locked)).sum()
    }

    /// The first pruned market whose winning shares disagree with its lock.
    pub(crate) fn audit(&self) -> Result<(), String> {
        for (cid, s) in &self.markets {
            let winning: u128 = s.positions.values().map(|p| u128::from(p[s.winner])).sum();
            if winning != u128::from(s.locked) {
                return Err(format!("settled market {cid}: winning shares {winning} != locked {}", s.locked));
            }
        }
        Ok(())
    }

    /// Burns `account`'s holdings of a pruned market; `None` if the market
    /// is not here, else (winning, losing) shares burned.
    fn take(&mut self, account: &Address, market: &ConditionId) -> Option<(u64, u64)> {
        let s = self.markets.get_mut(market)?;
        let p = s.positions.remove(account).unwrap_or_default();
        let (won, lost) = (p[s.winner], p[1 - s.winner]);
        s.locked -= won;
        if s.positions.is_empty() {
            let gone = self.markets.remove(market).expect("found above");
            for t in &gone.tokens {
                self.by_token.remove(t);
            }
        }
        Some((won, lost))
    }
}

impl Exchange {
    /// Redeems `account`'s tokens of the resolved `market`: credits 1 pUSD
    /// per winning share and burns its winning and losing shares. Refused if
    /// the market is unknown or not resolved yet; nothing changes then.
    pub fn redeem(&mut self, account: Address, market: &ConditionId) -> Result<Redemption, Reject> {
        let (won, lost) = match self.by_condition.get(market) {
            Some(&idx) => {
                let m = self.markets.get_mut(&idx).expect("indexed markets exist");
                let winner = m.winner.ok_or(Reject::NotResolved)?;
                let p = m.positions.remove(&account).unwrap_or_default();
                debug_assert!(p.iter().all(|b| b.reserved == 0), "resolution cancelled every order");
                let (won, lost) = (p[winner].total, p[1 - winner].total);
                m.pairs -= won;
                (won, lost)
            }
            None => self.settled.take(&account, market).ok_or(Reject::UnknownMarket)?,
        };
        if won > 0 {
            self.ledger.entry(account).credit(won);
        }
        Ok(Redemption {
            payout: Usdc::from_micros(i64::try_from(won).expect("a payout fits in i64 micros")),
            winning_burned: Size::from_micros(won),
            losing_burned: Size::from_micros(lost),
        })
    }
}
