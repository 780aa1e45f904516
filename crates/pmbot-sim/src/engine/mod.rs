//! The matching engine: markets, books, accounts, matching and settlement.
//!
//! Invariants, which [`Exchange::audit`] checks and the tests exercise:
//! - a call that returns a [`Reject`] changes no state and emits no event;
//! - collateral is conserved: the sum of all accounts' collateral plus the
//!   collateral locked behind minted pairs equals what was funded, and in
//!   every open market each token's shares sum to the pairs outstanding (in a
//!   resolved one the winning token's do, until redeemed);
//! - every reserved amount is what resting orders have promised, so fills
//!   always settle;
//! - no book is ever crossed after a call returns;
//! - output is a pure function of the calls and their `now_ms`: no clock, no
//!   I/O, no hash-map iteration order in any result or event.
//!
//! The engine models Polymarket's CLOB as the research notes describe it;
//! where the real exchange is undocumented the module docs say what was
//! chosen and why (self-trades in [`config::SelfTradePolicy`], tick changes in
//! [`config::TickRule`], rounding in `settlement`, error texts in `reject`).
//!
//! Events come out in the order things happened within a call: cancellations
//! of expired orders, then per price level the cancellations of the taker's
//! own orders (self-trade rule), the trade and its makers' order updates,
//! then the taker's own order events, then one `LevelChanged` per touched
//! level (both tokens, final size of the call) and any tick change.

mod accounts;
mod approvals;
mod audit;
mod book;
mod config;
mod fasthash;
mod fees;
mod funds;
mod lifecycle;
mod markets;
mod matching;
mod orders;
mod publish;
mod queries;
mod redeem;
mod reject;
mod settlement;
mod submit;
mod trades;
mod types;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

pub use approvals::{
    Allowance, Approvals, CTF_EXCHANGE_V2, EXCHANGE_V3, NEG_RISK_ADAPTER, NEG_RISK_EXCHANGE_V2, Spender,
};
pub use config::{EngineConfig, SelfTradePolicy, TickRule};
pub use fees::{FeeSchedule, FeeScheduleError};
use pmbot_core::{ConditionId, TokenId};
pub use types::*;

use self::accounts::Ledger;
use self::book::{BookSide, Outcome};
use self::fasthash::FastMap;
use self::markets::Market;
use self::orders::OrderStore;
pub use self::redeem::Redemption;
use self::redeem::SettledStore;
use self::trades::TradeStore;

/// A simulated Polymarket CLOB: binary markets, their books, the accounts
/// trading on them. Synchronous and deterministic; see the module docs.
#[derive(Debug)]
pub struct Exchange {
    cfg: EngineConfig,
    /// Listed markets by listing number (so iteration is listing order).
    markets: BTreeMap<u32, Market>,
    by_condition: FastMap<ConditionId, u32>,
    by_token: FastMap<TokenId, (u32, Outcome)>,
    next_market: u32,
    /// (end time, market) of markets still accepting orders.
    closing: BTreeSet<(i64, u32)>,
    ledger: Ledger,
    /// Unredeemed holdings of pruned markets.
    settled: SettledStore,
    orders: OrderStore,
    trades: TradeStore,
    events: Vec<EngineEvent>,
    /// Levels changed by the current call, published when it ends.
    touched: Vec<(u32, BookSide, u16)>,
}

impl Exchange {
    pub fn new(cfg: EngineConfig) -> Self {
        Exchange {
            cfg,
            markets: BTreeMap::new(),
            by_condition: FastMap::default(),
            by_token: FastMap::default(),
            next_market: 0,
            closing: BTreeSet::new(),
            ledger: Ledger::default(),
            settled: SettledStore::default(),
            orders: OrderStore::default(),
            trades: TradeStore::default(),
            events: Vec::new(),
            touched: Vec::new(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Everything that happened since the last drain, in order.
    pub fn drain_events(&mut self) -> Vec<EngineEvent> {
        // Start the next batch at this one's size: growing a vector of large
        // events from empty on every call showed up in the matching profile.
        let capacity = self.events.len().max(8);
        std::mem::replace(&mut self.events, Vec::with_capacity(capacity))
    }
}
