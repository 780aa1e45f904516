//! Orders: the live ones resting on books, and the records of every order the
//! engine accepted (live, filled, cancelled) until its market is pruned.
//!
//! Invariant: an order is in `resting` exactly while its record's status is
//! `Live`; then it also sits in its level's queue, in its owner's open set and
//! (GTD) in the expiry index, and its `reserved` amount is part of its
//! funder's reserved balance. Every order gets a sequence number in arrival
//! order; listings sort by it, so output never depends on hash order.

use std::collections::BTreeSet;

use alloy_primitives::Address;
use pmbot_core::{OrderId, Price, Side};

use super::book::{BookSide, Outcome};
use super::fasthash::FastMap;
use super::types::OrderRecord;

/// A live order on a book.
#[derive(Debug, Clone)]
pub(crate) struct Resting {
    pub(crate) id: OrderId,
    pub(crate) market: u32,
    pub(crate) outcome: Outcome,
    pub(crate) side: Side,
    /// Limit price in the order's own token.
    pub(crate) price: Price,
    pub(crate) book_side: BookSide,
    /// Price in primary terms.
    pub(crate) book_price: u16,
    pub(crate) remaining: u64,
    /// Shares filled since the order started resting (rounding of its
    /// collateral is cumulative over these; see `settlement`).
    pub(crate) rest_filled: u64,
    /// Collateral (BUY) or shares (SELL) still held back for it.
    pub(crate) reserved: u64,
    pub(crate) maker: Address,
    pub(crate) owner: Address,
    /// When a GTD order stops (its expiration minus the security threshold).
    pub(crate) expires_ms: Option<i64>,
}

impl Resting {
    pub(crate) fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_ms.is_some_and(|t| t <= now_ms)
    }
}

#[derive(Debug, Default)]
pub(crate) struct OrderStore {
    pub(crate) resting: FastMap<u64, Resting>,
    pub(crate) records: FastMap<OrderId, OrderRecord>,
    /// Sequence number of each record, for listing in arrival order.
    pub(crate) seq_of: FastMap<OrderId, u64>,
    pub(crate) open_by_owner: FastMap<Address, BTreeSet<u64>>,
    /// (stop time, sequence) of live GTD orders.
    pub(crate) expiries: BTreeSet<(i64, u64)>,
    pub(crate) next_seq: u64,
}

impl OrderStore {
    pub(crate) fn is_live(&self, seq: u64) -> bool {
        self.resting.contains_key(&seq)
    }

    /// Takes a live order off every index (not off its book level, which the
    /// caller adjusts) and returns it.
    pub(crate) fn unlink(&mut self, seq: u64) -> Resting {
        let order = self.resting.remove(&seq).expect("unlinking a live order");
        if let Some(open) = self.open_by_owner.get_mut(&order.owner) {
            open.remove(&seq);
            if open.is_empty() {
                self.open_by_owner.remove(&order.owner);
            }
        }
        if let Some(t) = order.expires_ms {
            self.expiries.remove(&(t, seq));
        }
        order
    }

    /// Registers a live order on every index but its book level.
    pub(crate) fn link(&mut self, seq: u64, order: Resting) {
        self.open_by_owner.entry(order.owner).or_default().insert(seq);
        if let Some(t) = order.expires_ms {
            self.expiries.insert((t, seq));
        }
        self.resting.insert(seq, order);
    }

    /// Forgets the records of a pruned market's orders.
    pub(crate) fn forget(&mut self, ids: &[OrderId]) {
        for id in ids {
            self.records.remove(id);
            self.seq_of.remove(id);
        }
    }
}
