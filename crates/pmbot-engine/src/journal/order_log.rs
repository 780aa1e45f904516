//! The trait between the order gateway and the journal, copied verbatim from
//! the issue 4 contract (`/work/notes/issue4-contracts.md`) until the gateway
//! branch lands. At merge these items come from `pmbot_venue::gateway::log`
//! and this file goes away; nothing else in `journal` needs to change.
//!
//! Only `Debug` and `Clone` are derived beyond the contract text (the
//! journal's own query types embed a `PreparedOrder`).

/// An order signed and about to be sent: everything needed to find it again.
#[derive(Debug, Clone)]
pub struct PreparedOrder {
    pub client_order_id: pmbot_core::ClientOrderId,
    pub order_hash: pmbot_core::OrderId, // EIP-712 hash = the exchange's orderID, known before sending
    pub salt: u64,
    pub intent: pmbot_core::events::OrderIntent,
    pub market: pmbot_core::ConditionId,
    pub body: String, // exact JSON body posted (no secrets in it)
    pub created: pmbot_core::TimestampMs,
}

pub trait OrderLog: Send {
    /// Durably records an order about to be sent. If this fails the order must not be sent.
    fn before_send(&mut self, order: &PreparedOrder) -> Result<(), OrderLogError>;
    /// A status change (core `OrderUpdate`, keyed by client_order_id and/or order_id).
    fn update(&mut self, update: &pmbot_core::events::OrderUpdate) -> Result<(), OrderLogError>;
    /// A fill; Ok(false) if this (trade id, order id) was already recorded (idempotent).
    fn fill(&mut self, fill: &pmbot_core::events::Fill) -> Result<bool, OrderLogError>;
    /// An intent refused before sending (kill switch, balance, heartbeat down, ...), with the reason.
    fn refusal(
        &mut self,
        intent: &pmbot_core::events::OrderIntent,
        reason: &str,
        at: pmbot_core::TimestampMs,
    ) -> Result<(), OrderLogError>;
    /// Free-form journal event (reconciliation findings, alerts, balance reads): kind + JSON.
    fn note(
        &mut self,
        kind: &str,
        detail: &serde_json::Value,
        at: pmbot_core::TimestampMs,
    ) -> Result<(), OrderLogError>;
    /// Orders not yet in a final state, for reconciliation at start-up.
    fn open_orders(&self) -> Result<Vec<LoggedOrder>, OrderLogError>;
}

#[derive(Debug, Clone)]
pub struct LoggedOrder {
    pub prepared: PreparedOrder,
    pub status: pmbot_core::events::OrderStatus,
    pub filled: pmbot_core::Size,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderLogError {
    #[error("journal: {0}")]
    Storage(String),
    #[error("journal is full: {0}")]
    Full(String),
}
