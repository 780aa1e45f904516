//! The CLOB market channel (`/ws/market`): frames in, [`pmbot_core::MarketEvent`]s out.
//!
//! Invariant: a frame either becomes checked events or is counted as skipped
//! (a message type pmbot does not use) or refused (with a reason); the stream
//! above decides from a refusal whether books must be resynced.

pub mod parse;

pub use parse::{
    FrameKind, FrameOutcome, FrameParser, MessageType, ParseStats, RejectReason, Rejection, TokenIdBuildHasher,
    TokenIdHasher, TokenInterner, classify_frame,
};
