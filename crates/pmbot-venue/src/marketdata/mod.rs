//! Market data that never lies: every book is right or known to be wrong.
//!
//! The CLOB market channel (`/ws/market`): frames in, [`pmbot_core::MarketEvent`]s out.
//! A frame either becomes checked events or is counted as skipped (a message
//! type pmbot does not use) or refused (with a reason); a refusal makes the
//! books it may have touched unknown until resynced.
//!
//! - [`parse`]: market-channel frames into `pmbot_core` events (the pure
//!   `pmbot-feed` crate, re-exported: the paper driver, the replays and the
//!   model's datasets use the same parser without linking this adapter).
//! - [`stream`]: the supervised connection (heartbeat, silence watchdog,
//!   reconnect with backoff, resubscription, REST snapshots on request).
//! - [`books`]: the pure book store that gates deltas on snapshots and says
//!   whether each book can be trusted, and since when.
//! - [`health`]: the figures the monitoring issue publishes.
//! - [`service`]: stream plus book store, for watching and recording.
//! - [`resolution`]: resolutions the feed missed, asked for over REST.

pub mod backoff;
pub mod books;
pub mod health;
pub use pmbot_feed as parse;
pub mod resolution;
pub mod rest;
pub mod service;
pub mod stream;

pub use books::{BookAction, BookStore, BookStoreConfig, DistrustReason, HashPolicy, Trust};
pub use health::{ConnectionState, DisconnectReason, StreamHealth};
pub use parse::{
    FrameKind, FrameOutcome, FrameParser, MessageType, ParseStats, RejectReason, Rejection, TokenIdBuildHasher,
    TokenIdHasher, TokenInterner, classify_frame,
};
pub use service::{FeedEvent, MarketData, MarketDataConfig, Outputs};
pub use stream::{Control, StreamConfig, StreamEvent, StreamHandle};
