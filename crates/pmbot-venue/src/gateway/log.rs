//! The journal seam: what the gateway writes down, and when.
//!
//! Invariant: an order is recorded durably ([`OrderLog::before_send`]) before
//! any byte of it is sent; if that fails, it is not sent. Everything the
//! gateway learns afterwards (status changes, fills, refusals, findings) is
//! written through the same trait, so a crash at any point leaves a journal
//! from which start-up reconciliation can find every order again by its hash.
//!
//! The SQLite journal (`pmbot-engine`) implements [`OrderLog`];
//! [`MemoryOrderLog`] is an in-memory one for tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use pmbot_core::events::{Fill, OrderIntent, OrderStatus, OrderUpdate};
use pmbot_core::{ClientOrderId, OrderId, Size, TimestampMs};

pub use pmbot_rows::{LoggedOrder, OrderLog, OrderLogError, PreparedOrder};

/// What a [`MemoryOrderLog`] holds; read it through [`MemoryOrderLog::snapshot`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryLogState {
    /// Every order, by client id: its latest preparation and state.
    pub orders: BTreeMap<ClientOrderId, LoggedOrder>,
    /// Every `before_send`, in order (a rebuilt order appears twice).
    pub sends: Vec<PreparedOrder>,
    pub updates: Vec<OrderUpdate>,
    pub fills: Vec<Fill>,
    pub refusals: Vec<(ClientOrderId, String)>,
    pub notes: Vec<(String, serde_json::Value)>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    state: MemoryLogState,
    fill_keys: BTreeSet<(String, OrderId)>,
    fail_before_send: bool,
}

/// An in-memory [`OrderLog`] for tests. Clones share one log, so a test keeps
/// a handle to read what the gateway wrote.
#[derive(Debug, Clone, Default)]
pub struct MemoryOrderLog {
    inner: Arc<Mutex<MemoryInner>>,
}

impl MemoryOrderLog {
    pub fn new() -> MemoryOrderLog {
        MemoryOrderLog::default()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of everything written so far.
    pub fn snapshot(&self) -> MemoryLogState {
        self.lock().state.clone()
    }

    /// Makes every later `before_send` fail (a full disk), or succeed again.
    pub fn fail_before_send(&self, fail: bool) {
        self.lock().fail_before_send = fail;
    }

    /// Records an order as if an earlier run had journaled it (for recovery tests).
    pub fn seed(&self, order: LoggedOrder) {
        let mut g = self.lock();
        g.state.sends.push(order.prepared.clone());
        g.state.orders.insert(order.prepared.client_order_id.clone(), order);
    }
}

impl OrderLog for MemoryOrderLog {
    fn before_send(&mut self, order: &PreparedOrder) -> Result<(), OrderLogError> {
        let mut g = self.lock();
        if g.fail_before_send {
            return Err(OrderLogError::Full("test: before_send set to fail".into()));
        }
        if let Some(existing) = g.state.orders.get(&order.client_order_id) {
            // Only a definitively rejected preparation may be replaced (an
            // order rebuilt on a new tick keeps its client id).
            if existing.status != OrderStatus::Rejected && existing.prepared.order_hash != order.order_hash {
                return Err(OrderLogError::Storage(format!(
                    "client order id {} already has a live order {}",
                    order.client_order_id, existing.prepared.order_hash
                )));
            }
        }
        g.state.sends.push(order.clone());
        g.state.orders.insert(
            order.client_order_id.clone(),
            LoggedOrder { prepared: order.clone(), status: OrderStatus::New, filled: Size::ZERO },
        );
        Ok(())
    }

    fn update(&mut self, update: &OrderUpdate) -> Result<(), OrderLogError> {
        let mut g = self.lock();
        g.state.updates.push(update.clone());
        let Some(row) = g.state.orders.get_mut(&update.client_order_id) else {
            return Err(OrderLogError::Storage(format!("update for unknown order {}", update.client_order_id)));
        };
        // An update about an earlier preparation of a rebuilt order is kept
        // in the history but does not overwrite the current one.
        if update.order_id.is_none_or(|id| id == row.prepared.order_hash) {
            row.status = update.status;
            row.filled = update.filled;
        }
        Ok(())
    }

    fn fill(&mut self, fill: &Fill) -> Result<bool, OrderLogError> {
        let mut g = self.lock();
        if !g.fill_keys.insert((fill.trade_id.clone(), fill.order_id)) {
            return Ok(false);
        }
        g.state.fills.push(fill.clone());
        Ok(true)
    }

    fn refusal(&mut self, intent: &OrderIntent, reason: &str, _at: TimestampMs) -> Result<(), OrderLogError> {
        self.lock().state.refusals.push((intent.client_order_id.clone(), reason.to_owned()));
        Ok(())
    }

    fn note(&mut self, kind: &str, detail: &serde_json::Value, _at: TimestampMs) -> Result<(), OrderLogError> {
        self.lock().state.notes.push((kind.to_owned(), detail.clone()));
        Ok(())
    }

    fn open_orders(&self) -> Result<Vec<LoggedOrder>, OrderLogError> {
        let g = self.lock();
        let recorded = |o: &LoggedOrder| {
            let hash = o.prepared.order_hash;
            g.state.fills.iter().filter(|f| f.order_id == hash).map(|f| f.size.micros()).sum::<u64>()
        };
        Ok(g.state
            .orders
            .values()
            .filter(|o| !o.status.is_terminal() || recorded(o) < o.filled.micros())
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use pmbot_core::events::{DecisionContext, EventTime, Liquidity, OrderType};
    use pmbot_core::{Hash32, Price, Side, TokenId};

    use super::*;

    fn prepared(cid: &str, hash: u8) -> PreparedOrder {
        PreparedOrder {
            client_order_id: ClientOrderId::new(cid).unwrap(),
            order_hash: Hash32([hash; 32]),
            salt: 7,
            intent: OrderIntent {
                client_order_id: ClientOrderId::new(cid).unwrap(),
                token: TokenId::parse("1234").unwrap(),
                side: Side::Buy,
                limit_price: Price::parse("0.4").unwrap(),
                size: Size::from_shares(10),
                order_type: OrderType::Gtc,
                post_only: false,
                expires_at: None,
                decision: DecisionContext::default(),
            },
            market: Hash32([9; 32]),
            body: "{}".into(),
            created: TimestampMs(1),
        }
    }

    #[test]
    fn orders_fills_and_failures() {
        let handle = MemoryOrderLog::new();
        let mut log: Box<dyn OrderLog> = Box::new(handle.clone());
        let p = prepared("a", 1);
        log.before_send(&p).unwrap();
        assert_eq!(log.open_orders().unwrap().len(), 1);
        // A second live order for the same intent is refused.
        assert!(log.before_send(&prepared("a", 2)).is_err());
        let u = OrderUpdate {
            client_order_id: p.client_order_id.clone(),
            order_id: Some(p.order_hash),
            status: OrderStatus::Filled,
            filled: Size::from_shares(10),
            reason: None,
            at: TimestampMs(2),
        };
        log.update(&u).unwrap();
        // Final, but its fill is not written yet: start-up must still look.
        assert_eq!(log.open_orders().unwrap().len(), 1);
        let f = Fill {
            order_id: p.order_hash,
            client_order_id: Some(p.client_order_id.clone()),
            trade_id: "t".into(),
            token: p.intent.token.clone(),
            side: Side::Buy,
            price: p.intent.limit_price,
            size: Size::from_shares(10),
            fee: pmbot_core::Usdc::ZERO,
            liquidity: Liquidity::Maker,
            time: EventTime { received: TimestampMs(3), exchange: TimestampMs(3) },
        };
        assert!(log.fill(&f).unwrap());
        assert!(log.open_orders().unwrap().is_empty(), "final, and its fills add up");
        assert!(!log.fill(&f).unwrap(), "the same (trade, order) twice is recorded once");
        handle.fail_before_send(true);
        assert!(matches!(log.before_send(&prepared("b", 3)), Err(OrderLogError::Full(_))));
        let s = handle.snapshot();
        assert_eq!((s.sends.len(), s.fills.len(), s.orders.len()), (1, 1, 1));
    }
}
