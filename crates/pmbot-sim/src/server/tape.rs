//! The public trade tape: each token's recent trades, for `/last-trade-price`
//! and `/prices-history`.

use std::collections::{BTreeMap, VecDeque};

use pmbot_core::{Price, Side, Size, TokenId};

use crate::engine::{EngineEvent, TradeStatus};

/// Trades kept per token; older ones fall off.
const PER_TOKEN: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapeEntry {
    pub time_ms: i64,
    pub price: Price,
    pub side: Side,
    pub size: Size,
}

#[derive(Debug, Default)]
pub struct Tape {
    by_token: BTreeMap<TokenId, VecDeque<TapeEntry>>,
}

impl Tape {
    /// Records the new trades among `events` (status MATCHED; later statuses
    /// of the same trade are not new prints).
    pub fn record(&mut self, events: &[EngineEvent]) {
        for ev in events {
            if let EngineEvent::Trade(t) = ev
                && t.status == TradeStatus::Matched
            {
                let q = self.by_token.entry(t.token.clone()).or_default();
                if q.len() == PER_TOKEN {
                    q.pop_front();
                }
                q.push_back(TapeEntry { time_ms: t.match_time_ms, price: t.price, side: t.side, size: t.size });
            }
        }
    }

    pub fn last(&self, token: &TokenId) -> Option<&TapeEntry> {
        self.by_token.get(token).and_then(|q| q.back())
    }

    pub fn history(&self, token: &TokenId) -> impl Iterator<Item = &TapeEntry> {
        self.by_token.get(token).into_iter().flatten()
    }

    /// Drops tokens for which `keep` is false (markets the engine freed).
    pub fn retain(&mut self, mut keep: impl FnMut(&TokenId) -> bool) {
        self.by_token.retain(|t, _| keep(t));
    }
}
