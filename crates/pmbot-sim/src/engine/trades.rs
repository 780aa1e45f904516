//! Trade records: ids, settlement status, and each account's bounded history.
//!
//! Invariant: a record is stored while some account's history lists it or
//! its status can still advance (MATCHED -> MINED -> CONFIRMED); each history
//! holds at most `max_trades_per_account` ids, oldest dropped first, so
//! memory is bounded however long the exchange runs. Status changes happen in
//! match order because every trade waits the same delays.

use std::collections::VecDeque;

use alloy_primitives::{Address, keccak256};
use pmbot_core::Hash32;
use uuid::Uuid;

use super::fasthash::FastMap;
use super::types::{EngineEvent, Query, TradeRecord, TradeStatus};

/// Namespace of trade ids: uuid v5 of the trade's sequence number.
const TRADE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x8c1f_4e0a_5b7d_4d52_9a43_6f2e_b1c0_d7a9);

#[derive(Debug)]
struct Stored {
    record: TradeRecord,
    /// Histories that list it.
    holders: u32,
    /// Still waiting for MINED or CONFIRMED.
    pending: bool,
}

#[derive(Debug, Default)]
pub(crate) struct TradeStore {
    stored: FastMap<u64, Stored>,
    history: FastMap<Address, VecDeque<u64>>,
    to_mine: VecDeque<(u64, i64)>,
    to_confirm: VecDeque<(u64, i64)>,
    next: u64,
}

impl TradeStore {
    /// Reserves the next trade's sequence number and its id.
    pub(crate) fn next_id(&mut self) -> (u64, String) {
        let seq = self.next;
        self.next += 1;
        (seq, Uuid::new_v5(&TRADE_ID_NAMESPACE, &seq.to_be_bytes()).to_string())
    }

    /// Stores a new MATCHED trade, lists it for every participant and queues
    /// its status changes.
    pub(crate) fn insert(
        &mut self,
        seq: u64,
        record: TradeRecord,
        participants: &[Address],
        keep: usize,
        mined_at: i64,
    ) {
        self.stored.insert(seq, Stored { record, holders: 0, pending: true });
        self.to_mine.push_back((seq, mined_at));
        for &owner in participants {
            self.list_for(owner, seq, keep);
        }
    }

    fn list_for(&mut self, owner: Address, seq: u64, keep: usize) {
        let history = self.history.entry(owner).or_default();
        history.push_back(seq);
        self.stored.get_mut(&seq).expect("listed trade is stored").holders += 1;
        while history.len() > keep {
            let old = history.pop_front().expect("longer than keep");
            let gone = {
                let s = self.stored.get_mut(&old).expect("listed trade is stored");
                s.holders -= 1;
                s.holders == 0 && !s.pending
            };
            if gone {
                self.stored.remove(&old);
            }
        }
    }

    /// Moves trades whose time has come to MINED (with a fake transaction
    /// hash) and CONFIRMED, emitting the updated record each time.
    pub(crate) fn advance(&mut self, now_ms: i64, confirm_delay_ms: i64, events: &mut Vec<EngineEvent>) {
        while let Some(&(seq, due)) = self.to_mine.front() {
            if due > now_ms {
                break;
            }
            self.to_mine.pop_front();
            let s = self.stored.get_mut(&seq).expect("pending trade is stored");
            s.record.status = TradeStatus::Mined;
            s.record.last_update_ms = now_ms;
            s.record.transaction_hash = Some(fake_tx_hash(seq));
            events.push(EngineEvent::Trade(s.record.clone()));
            self.to_confirm.push_back((seq, s.record.match_time_ms + confirm_delay_ms));
        }
        while let Some(&(seq, due)) = self.to_confirm.front() {
            if due > now_ms {
                break;
            }
            self.to_confirm.pop_front();
            let s = self.stored.get_mut(&seq).expect("pending trade is stored");
            s.record.status = TradeStatus::Confirmed;
            s.record.last_update_ms = now_ms;
            s.pending = false;
            events.push(EngineEvent::Trade(s.record.clone()));
            if s.holders == 0 {
                self.stored.remove(&seq);
            }
        }
    }

    /// `owner`'s trades (as taker or maker), oldest first, filtered by `q`.
    pub(crate) fn list(&self, owner: &Address, q: &Query) -> Vec<TradeRecord> {
        let Some(history) = self.history.get(owner) else {
            return Vec::new();
        };
        history
            .iter()
            .filter_map(|seq| self.stored.get(seq))
            .map(|s| &s.record)
            .filter(|t| matches(t, q))
            .cloned()
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn stored_len(&self) -> usize {
        self.stored.len()
    }
}

fn matches(t: &TradeRecord, q: &Query) -> bool {
    let secs = t.match_time_ms.div_euclid(1000);
    q.id.as_ref().is_none_or(|id| *id == t.id)
        && q.market.is_none_or(|m| m == t.market)
        && q.token.as_ref().is_none_or(|tok| *tok == t.token || t.makers.iter().any(|m| m.token == *tok))
        && q.after_s.is_none_or(|a| secs >= a)
        && q.before_s.is_none_or(|b| secs <= b)
}

/// A well-formed, deterministic stand-in for the settlement transaction.
fn fake_tx_hash(seq: u64) -> Hash32 {
    let mut input = b"pmbot-sim settlement tx ".to_vec();
    input.extend_from_slice(&seq.to_be_bytes());
    Hash32(keccak256(&input).0)
}
