//! Read-only views: orders, trades and books as the REST API returns them.
//!
//! Invariant: these never change state, and list in a defined order (orders
//! by arrival, trades oldest first, levels best first), never hash order.

use alloy_primitives::Address;
use pmbot_core::{OrderId, TokenId};

use super::Exchange;
use super::book::own_price;
use super::types::{BookView, OrderRecord, Query, TradeRecord};

impl Exchange {
    /// Any order the engine accepted (live, filled or cancelled) until its
    /// market is pruned.
    pub fn order(&self, id: &OrderId) -> Option<OrderRecord> {
        self.orders.records.get(id).cloned()
    }

    /// The ids of every order of `owner` the engine holds a record of (live,
    /// filled or cancelled), in id order.
    pub fn orders_of(&self, owner: Address) -> Vec<OrderId> {
        let mut ids: Vec<OrderId> = self.orders.records.values().filter(|r| r.owner == owner).map(|r| r.id).collect();
        ids.sort();
        ids
    }

    /// `owner`'s live orders, oldest first, filtered by `q` (id, market, token).
    pub fn open_orders(&self, owner: Address, q: &Query) -> Vec<OrderRecord> {
        let Some(open) = self.orders.open_by_owner.get(&owner) else {
            return Vec::new();
        };
        open.iter()
            .map(|seq| &self.orders.records[&self.orders.resting[seq].id])
            .filter(|r| {
                q.id.as_ref().is_none_or(|id| OrderId::parse(id).is_ok_and(|id| id == r.id))
                    && q.market.is_none_or(|m| m == r.market)
                    && q.token.as_ref().is_none_or(|t| *t == r.token)
            })
            .cloned()
            .collect()
    }

    /// Trades `owner` took part in, as taker or maker, oldest first (at most
    /// `max_trades_per_account` of the latest), filtered by `q`.
    pub fn trades(&self, owner: Address, q: &Query) -> Vec<TradeRecord> {
        self.trades.list(&owner, q)
    }

    /// One token's aggregated book, in its own prices.
    pub fn book(&self, token: &TokenId) -> Option<BookView> {
        let &(idx, outcome) = self.by_token.get(token)?;
        let m = &self.markets[&idx];
        let (bids, asks) = m.book.view_levels(outcome);
        Some(BookView {
            market: m.spec.condition_id,
            token: token.clone(),
            bids,
            asks,
            tick: m.tick,
            min_order_size: m.spec.min_order_size,
            neg_risk: m.spec.neg_risk,
            last_trade_price: m.last_trade.map(|p| own_price(outcome, p)),
            timestamp_ms: m.book_ts_ms,
        })
    }
}
