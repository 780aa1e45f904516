//! The replayer: recorded market data back as the stream the live feed gives,
//! a sequence of [`Frame`]s (receive time, frame text).
//!
//! Invariants:
//! - **Same stream.** A pmbot recording replays every frame byte for byte,
//!   with its receive time, in receive order, across hourly files; a file cut
//!   short by a killed writer gives its frames up to the cut (reported in
//!   [`RecordingReader::truncations`]) and never an error.
//! - **Synchronous, no sleeping.** Sources are plain iterators. Pacing
//!   ([`Replayer`]) asks a [`pmbot_core::Clock`] for the time and says when the
//!   next frame is due; the caller sleeps (or sets a manual clock).
//! - **Errors do not end a replay.** A bad line or row yields one `Err` and the
//!   iterator goes on with the next; only an unreadable file ends that file.
//!
//! Sources ([`ReplaySource::open`] picks one from a directory's contents):
//! - [`RecordingReader`]: pmbot's own format (see [`crate::record`]).
//! - [`ResolvedkitFrames`]: `books.jsonl.gz` of the resolvedkit sample data
//!   (book snapshots per market and outcome side, no token ids), as synthesised
//!   market-channel `book` frames with token ids from [`synthetic_token_id`].
//! - [`ws_fixture_frames`]: single real-shaped messages (`ws-fixtures/`), one
//!   frame per file, for parser tests.

mod fixtures;
mod pace;
mod recording;
mod resolvedkit;
mod source;

use std::path::PathBuf;

use pmbot_core::TimestampMs;

pub use crate::record::meta::{MetaError, RecordingMeta};
pub use fixtures::{is_ws_fixture, ws_fixture_frames};
pub use pace::{Pace, Paced, Pacer, Replayer, Speed};
pub use recording::{RecordingReader, Truncation, ZstdFrames};
pub use resolvedkit::{
    BOOKS_FILE, MARKETS_FILE, Outcome, ResolvedkitFrames, ResolvedkitMarket, book_frame, synthetic_token_id,
};
pub use source::ReplaySource;

/// One market-channel frame as it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Receive time (unix ms): our clock when the frame arrived, or for
    /// synthesised frames the time the data gives.
    pub received: TimestampMs,
    /// The frame text, exactly as received.
    pub text: String,
}

/// Why a replay could not read something. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: unreadable after {frames} frames: {source}")]
    Corrupt { path: PathBuf, frames: u64, source: std::io::Error },
    #[error("{path} line {line}: {reason}")]
    BadLine { path: PathBuf, line: u64, reason: String },
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("{path}: no recording there (no market-*.jsonl.zst, recording.json, books.jsonl.gz or ws_*.json)")]
    NotFound { path: PathBuf },
    #[error("speed {0} is not a factor between 0.001 and 1000000")]
    BadSpeed(f64),
}
