//! What the journal observer hands on for a person: raw events that may
//! deserve an alert. [`crate::raise`] turns them into alerts.

use pmbot_core::OrderStatus;

/// An event a person may need to hear of.
#[derive(Debug, Clone, PartialEq)]
pub enum Raised {
    /// The risk gate refused an intent with rule `code`.
    Refusal { code: String, detail: String, at_ms: i64 },
    /// An order was rejected or its fate is unknown.
    Order { client_order_id: String, status: OrderStatus, reason: String, at_ms: i64 },
    /// A journal note (kill switch, gate override, gateway halt, ...).
    Note { kind: String, detail: serde_json::Value, at_ms: i64 },
}
