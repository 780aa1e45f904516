//! What the gateway tells the monitoring side (Discord alerts, health page).
//!
//! Alerts travel on a bounded channel and are dropped (and counted) when the
//! receiver lags: trading never waits for monitoring.

use std::path::PathBuf;

use pmbot_core::{ClientOrderId, OrderId, TimestampMs};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayAlert {
    /// The kill switch file exists: an order was refused. `cancelled` is how
    /// many open orders were cancelled because of it (`None`: not configured
    /// or the cancel failed, see `cancel_error`).
    KillSwitch { path: PathBuf, client_order_id: ClientOrderId, cancelled: Option<usize>, cancel_error: Option<String> },
    /// A fatal answer (401, a non-JSON 403 such as a region block): trading
    /// is halted until restart.
    Halted { reason: String, at: TimestampMs },
    /// The order-safety heartbeat failed while orders rest: new orders are refused.
    HeartbeatFailing { error: String, failures: u32 },
    /// Heartbeats succeed again.
    HeartbeatRecovered,
    /// An order's fate is unknown after every look-up and re-post.
    OrderUnknown { client_order_id: ClientOrderId, order_id: OrderId },
    /// The exchange's orderID differs from the hash computed before sending.
    OrderIdMismatch { client_order_id: ClientOrderId, computed: OrderId, reported: String },
    /// Writing to the journal failed after the order was sent.
    JournalFailed { detail: String },
    /// An order was refused because the wallet cannot be read (RPC down,
    /// wrong chain, garbage: fail closed) or an approval the order needs is
    /// missing. Waiting does not fix the second, and the first needs eyes.
    BalanceCheck { client_order_id: ClientOrderId, kind: super::BalanceRefusalKind, detail: String },
    /// The user channel reconnected; orders and trades were reconciled over REST.
    UserChannelReconnected { connection: u64 },
}
