//! What happens to orders and markets besides matching: cancels, GTD
//! expiry, trade status progress, market close, resolution and pruning.
//!
//! Invariant: removing a live order always releases exactly its remaining
//! reservation, takes its remaining size off its level and emits one
//! CANCELLATION event, whichever path removed it.
//!
//! Choices where the real exchange is silent:
//! - cancel replies give every refused id the real reason text "order can't
//!   be found - already canceled or matched" (also for another owner's order,
//!   since the server looks orders up per API key);
//! - at `end_ms` the market stops accepting orders but resting orders stay
//!   (cancellable) until `resolve`, which cancels them all.
//!
//! Resolution pays nothing (polymarket-protocol.md corrections 5): the
//! holders keep their tokens, and the collateral behind the winning ones
//! stays locked in the CTF until each holder redeems (`redeem`), as on
//! chain, where nothing is credited until `redeemPositions` is called.

use alloy_primitives::Address;
use pmbot_core::{ConditionId, OrderId, TokenId};

use super::Exchange;
use super::types::{CancelCause, CancelOutcome, EngineEvent, OrderEventKind, OrderStatus, Reject};

/// The reason the real API gives for an order it did not cancel.
const NOT_CANCELED_REASON: &str = "order can't be found - already canceled or matched";

impl Exchange {
    /// Removes a live order from its book, releases its reservation and
    /// emits its CANCELLATION, noting `cause`.
    pub(crate) fn cancel_resting(&mut self, seq: u64, cause: CancelCause) {
        let order = self.orders.unlink(seq);
        let market = self.markets.get_mut(&order.market).expect("live order's market exists");
        market.book.reduce(order.book_side, order.book_price, order.remaining);
        match order.side {
            pmbot_core::Side::Buy => self.ledger.entry(order.maker).release(order.reserved),
            pmbot_core::Side::Sell => market.position(order.maker)[order.outcome].release(order.reserved),
        }
        let orders = &self.orders;
        market.book.trim_front(order.book_side, order.book_price, |s| orders.is_live(s));
        self.touch(order.market, order.book_side, order.book_price);
        let record = self.orders.records.get_mut(&order.id).expect("live orders have records");
        record.status = OrderStatus::Canceled;
        record.cancel_cause = Some(cause);
        self.events.push(EngineEvent::Order { order: record.clone(), kind: OrderEventKind::Cancellation });
    }

    /// Cancels every live GTD order whose time has come.
    pub(crate) fn expire_due(&mut self, now_ms: i64) {
        while let Some(&(stops, seq)) = self.orders.expiries.first() {
            if stops > now_ms {
                break;
            }
            self.cancel_resting(seq, CancelCause::Canceled);
        }
    }

    /// Cancels `owner`'s orders among `ids`; the others are reported in
    /// `not_canceled` with the real API's reason.
    pub fn cancel(&mut self, owner: Address, ids: &[OrderId], now_ms: i64) -> CancelOutcome {
        let mut out = CancelOutcome::default();
        for id in ids {
            if out.canceled.contains(id) {
                continue;
            }
            let live = self.orders.records.get(id).filter(|r| r.owner == owner && r.status == OrderStatus::Live);
            match live {
                Some(_) => {
                    let seq = self.orders.seq_of[id];
                    self.cancel_resting(seq, CancelCause::Canceled);
                    out.canceled.push(*id);
                }
                None => {
                    out.not_canceled.insert(id.to_string(), NOT_CANCELED_REASON.to_owned());
                }
            }
        }
        self.publish(now_ms);
        out
    }

    /// Cancels every open order of `owner`, oldest first.
    pub fn cancel_all(&mut self, owner: Address, now_ms: i64) -> CancelOutcome {
        self.cancel_where(owner, now_ms, |_, _| true)
    }

    /// Cancels `owner`'s open orders in `market` and/or of `token` (both
    /// `None`: all of them).
    pub fn cancel_market(
        &mut self,
        owner: Address,
        market: Option<&ConditionId>,
        token: Option<&TokenId>,
        now_ms: i64,
    ) -> CancelOutcome {
        let market_idx = match market {
            Some(m) => match self.by_condition.get(m) {
                Some(&idx) => Some(idx),
                None => return CancelOutcome::default(),
            },
            None => None,
        };
        let token_key = match token {
            Some(t) => match self.by_token.get(t) {
                Some(&key) => Some(key),
                None => return CancelOutcome::default(),
            },
            None => None,
        };
        self.cancel_where(owner, now_ms, |idx, outcome| {
            market_idx.is_none_or(|m| m == idx) && token_key.is_none_or(|k| k == (idx, outcome))
        })
    }

    fn cancel_where(&mut self, owner: Address, now_ms: i64, keep: impl Fn(u32, usize) -> bool) -> CancelOutcome {
        let seqs: Vec<u64> = self
            .orders
            .open_by_owner
            .get(&owner)
            .map(|open| {
                open.iter()
                    .copied()
                    .filter(|seq| {
                        let r = &self.orders.resting[seq];
                        keep(r.market, r.outcome)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut out = CancelOutcome::default();
        for seq in seqs {
            out.canceled.push(self.orders.resting[&seq].id);
            self.cancel_resting(seq, CancelCause::Canceled);
        }
        self.publish(now_ms);
        out
    }

    /// Advances time: expires GTD orders, moves trades to MINED and
    /// CONFIRMED, and closes markets whose `end_ms` has passed.
    pub fn tick(&mut self, now_ms: i64) {
        self.expire_due(now_ms);
        self.trades.advance(now_ms, self.cfg.confirmed_after_ms, &mut self.events);
        while let Some(&(end, idx)) = self.closing.first() {
            if end > now_ms {
                break;
            }
            self.closing.pop_first();
            if let Some(market) = self.markets.get_mut(&idx) {
                market.accepting = false;
                market.closed = true;
            }
        }
        self.publish(now_ms);
    }

    /// Resolves a market: cancels its open orders (`CancelCause::MarketResolved`)
    /// and stops it for good. Holdings stay as they are until redeemed.
    pub fn resolve(&mut self, market: &ConditionId, winning_token: &TokenId, now_ms: i64) -> Result<(), Reject> {
        let &idx = self.by_condition.get(market).ok_or(Reject::UnknownMarket)?;
        let m = &self.markets[&idx];
        if m.winner.is_some() {
            return Err(Reject::AlreadyResolved);
        }
        let winner = m.spec.tokens.iter().position(|t| t.token_id == *winning_token).ok_or(Reject::UnknownToken)?;
        // Every live order sits in a level queue; cancel in arrival order.
        let mut live: Vec<u64> = [&m.book.bids, &m.book.asks]
            .into_iter()
            .flat_map(|side| side.values())
            .flat_map(|level| level.queue.iter().copied())
            .filter(|seq| self.orders.is_live(*seq))
            .collect();
        live.sort_unstable();
        live.dedup();
        let m_end = m.spec.end_ms;
        for seq in live {
            self.cancel_resting(seq, CancelCause::MarketResolved);
        }
        let m = self.markets.get_mut(&idx).expect("checked above");
        m.winner = Some(winner);
        m.resolved_ms = Some(now_ms);
        m.accepting = false;
        m.closed = true;
        if let Some(end) = m_end {
            self.closing.remove(&(end, idx));
        }
        self.publish(now_ms);
        self.events.push(EngineEvent::MarketResolved {
            market: *market,
            winning_token: winning_token.clone(),
            timestamp_ms: now_ms,
        });
        Ok(())
    }

    /// Forgets markets resolved before `before_ms`: their book, order records
    /// and token ids. Holdings not yet redeemed move to the settled store,
    /// where they can still be redeemed; trade records stay in the accounts'
    /// bounded histories.
    pub fn prune_resolved(&mut self, before_ms: i64) {
        let gone: Vec<u32> = self
            .markets
            .iter()
            .filter(|(_, m)| m.resolved_ms.is_some_and(|t| t < before_ms))
            .map(|(&idx, _)| idx)
            .collect();
        for idx in gone {
            let m = self.markets.remove(&idx).expect("listed above");
            debug_assert!(m.book.is_empty(), "resolution cancelled every order");
            self.by_condition.remove(&m.spec.condition_id);
            for t in &m.spec.tokens {
                self.by_token.remove(&t.token_id);
            }
            self.orders.forget(&m.order_ids);
            self.settled.keep(m);
        }
    }
}
