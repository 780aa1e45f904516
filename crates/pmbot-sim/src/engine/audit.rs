//! A full consistency check of the engine's state, for tests and debugging.
//!
//! It recomputes from scratch what the engine maintains incrementally and
//! reports the first disagreement: conservation of collateral, share counts
//! against pairs, reservations against resting orders, level totals against
//! their orders, and uncrossed books. O(state), so not for hot paths.

use std::collections::HashMap;

use alloy_primitives::Address;
use pmbot_core::Side;

use super::Exchange;
use super::book::BookSide;
use super::types::OrderStatus;

impl Exchange {
    /// `Ok` if every engine invariant holds, else a description of the first
    /// violation found.
    pub fn audit(&self) -> Result<(), String> {
        let mut collateral: u128 = 0;
        for (account, b) in &self.ledger.collateral {
            if b.reserved > b.total {
                return Err(format!("{account}: collateral reserved {} > total {}", b.reserved, b.total));
            }
            collateral += u128::from(b.total);
        }
        let locked: u128 = self.markets.values().map(|m| u128::from(m.pairs)).sum::<u128>() + self.settled.locked();
        if collateral as i128 + locked as i128 != self.ledger.funded {
            return Err(format!("collateral {collateral} + locked {locked} != funded {}", self.ledger.funded));
        }

        // What resting orders have promised, per (account) and per (market, outcome, account).
        let mut promised_collateral: HashMap<Address, u64> = HashMap::new();
        let mut promised_shares: HashMap<(u32, usize, Address), u64> = HashMap::new();
        let mut level_sums: HashMap<(u32, BookSide, u16), u64> = HashMap::new();
        for (seq, r) in &self.orders.resting {
            match r.side {
                Side::Buy => *promised_collateral.entry(r.maker).or_default() += r.reserved,
                Side::Sell => *promised_shares.entry((r.market, r.outcome, r.maker)).or_default() += r.reserved,
            }
            *level_sums.entry((r.market, r.book_side, r.book_price)).or_default() += r.remaining;
            let record = self.orders.records.get(&r.id).ok_or(format!("live order {} has no record", r.id))?;
            if record.status != OrderStatus::Live {
                return Err(format!("resting order {} has status {:?}", r.id, record.status));
            }
            let level = self.markets[&r.market].book.side(r.book_side).get(&r.book_price);
            if !level.is_some_and(|l| l.queue.contains(seq)) {
                return Err(format!("resting order {} missing from its level", r.id));
            }
        }
        for (account, b) in &self.ledger.collateral {
            let promised = promised_collateral.get(account).copied().unwrap_or(0);
            if b.reserved != promised {
                return Err(format!("{account}: collateral reserved {} but orders promise {promised}", b.reserved));
            }
        }
        if let Some((account, _)) =
            promised_collateral.iter().find(|(a, p)| **p > 0 && !self.ledger.collateral.contains_key(*a))
        {
            return Err(format!("{account}: orders promise collateral it has no balance for"));
        }
        for (&idx, m) in &self.markets {
            let mut sums = [0u128; 2];
            for (account, pos) in &m.positions {
                for (outcome, b) in pos.iter().enumerate() {
                    if b.reserved > b.total {
                        return Err(format!("{account}: shares reserved {} > total {}", b.reserved, b.total));
                    }
                    let promised = promised_shares.get(&(idx, outcome, *account)).copied().unwrap_or(0);
                    if b.reserved != promised {
                        return Err(format!("{account}: shares reserved {} but orders promise {promised}", b.reserved));
                    }
                    sums[outcome] += u128::from(b.total);
                }
            }
            let backed = match m.winner {
                None => sums == [u128::from(m.pairs); 2],
                // Resolved: the lock pays the winning shares; losing ones are worthless.
                Some(w) => sums[w] == u128::from(m.pairs),
            };
            if !backed {
                return Err(format!("market {}: shares {sums:?} != pairs {}", m.spec.condition_id, m.pairs));
            }
            for side in [BookSide::Bid, BookSide::Ask] {
                for (&price, level) in m.book.side(side) {
                    let sum = level_sums.get(&(idx, side, price)).copied().unwrap_or(0);
                    if sum != level.total || level.total == 0 {
                        return Err(format!(
                            "market {}: level {side:?} {price} total {} != orders {sum}",
                            m.spec.condition_id, level.total
                        ));
                    }
                }
            }
            if let (Some(bid), Some(ask)) = (m.book.best_bid(), m.book.best_ask())
                && bid >= ask
            {
                return Err(format!("market {}: book crossed, bid {bid} >= ask {ask}", m.spec.condition_id));
            }
        }
        self.settled.audit()
    }
}
