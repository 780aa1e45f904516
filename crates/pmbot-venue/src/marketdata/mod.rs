//! Market data that never lies: every book is right or known to be wrong.
//!
//! - [`parse`]: market-channel frames into `pmbot_core` events.
//! - [`stream`]: the supervised connection (heartbeat, silence watchdog,
//!   reconnect with backoff, resubscription, REST snapshots on request).
//! - [`books`]: the pure book store that gates deltas on snapshots and says
//!   whether each book can be trusted, and since when.
//! - [`health`]: the figures the monitoring issue publishes.
//! - [`service`]: stream plus book store, for watching and recording.

pub mod backoff;
pub mod books;
pub mod health;
pub mod parse;
pub mod rest;
pub mod service;
pub mod stream;

pub use books::{BookAction, BookStore, BookStoreConfig, DistrustReason, HashPolicy, Trust};
pub use health::{ConnectionState, DisconnectReason, StreamHealth};
pub use service::{MarketData, MarketDataConfig};
pub use stream::{Control, StreamConfig, StreamEvent, StreamHandle};
