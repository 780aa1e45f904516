//! The market-data recorder: every market-channel WebSocket frame, exactly as
//! received, with its receive time, into hourly zstd-compressed JSON-lines
//! files.
//!
//! Invariants:
//! - **Raw.** The frame text is stored as received, never parsed and
//!   re-serialised; frames that are not JSON (or not valid JSON) are kept too.
//!   Replaying gives back every frame byte for byte with its receive time.
//! - **At most a second lost.** The zstd stream is flushed (to the OS) once the
//!   oldest unwritten frame is `flush_interval_ms` (default and maximum 1000)
//!   old, checked on every [`Recorder::record`] and [`Recorder::flush_if_due`]
//!   call (call the latter from a timer, at least every second), and at every
//!   roll. A reader reads a file whose writer was killed up to its last flush.
//!   (A power cut can lose what the OS had not yet written; each file is
//!   `fsync`ed when it is finished.)
//! - **No clock inside.** Every time is an argument, so tests drive the hours.
//! - **Nothing overwritten.** Existing files are refused, or, with
//!   [`OnExisting::NewName`], recorded beside under a new name.
//!
//! # FORMAT (version 1)
//!
//! A recording is a directory:
//!
//! - `market-YYYY-MM-DDTHH.jsonl.zst`: the frames received in that UTC hour
//!   (the hour of the first frame written to it). Files roll forward only: a
//!   frame whose receive time is earlier than its predecessor's (a clock step
//!   back) goes into the current file. A second file for the same hour is named
//!   `market-YYYY-MM-DDTHH.<n>.jsonl.zst` (n = 1, 2, ...); read files in
//!   (hour, n) order, which [`naming::parse_file_name`] gives.
//! - Each file is one zstd frame (with content checksum) holding UTF-8 lines,
//!   one per received frame, in receive order:
//!
//!   ```text
//!   {"t":1795750000123,"frame":"{\"event_type\":\"book\",\"asset_id\":\"7132...\"}"}
//!   ```
//!
//!   `t` is the receive time in unix milliseconds (an integer); `frame` is the
//!   frame text as a JSON string (serde_json escaping: `"`, `\` and control
//!   characters escaped, everything else verbatim UTF-8), so any text
//!   round-trips, and every line ends with `\n`. Readers ignore other keys.
//! - A file cut short (writer killed) is a valid zstd prefix: decode it until
//!   the decoder reports an incomplete frame and drop a last line without `\n`.
//! - `recording.json`: [`RecordingMeta`]: `format` ("pmbot-market-recording"),
//!   `format_version` (1), and one entry per recorder session with the pmbot
//!   version, the source URL without credentials, the tokens, the markets
//!   (condition ids, slugs if known), start and end times (unix ms), the frame
//!   count and how it ended (`open` while recording or if killed, `closed`,
//!   `failed`).

pub mod line;
pub mod meta;
pub mod naming;
mod recorder;
pub mod storage;

pub use meta::{MarketRef, MetaError, RecordingInfo, RecordingMeta, SessionEnd, SessionMeta, redact_url};
pub use naming::{FILE_PREFIX, FILE_SUFFIX, FileKey, META_FILE};
pub use recorder::{FlushOutcome, IoOp, OnExisting, RecordError, Recorder, RecorderConfig, RecordingSummary};
pub use storage::{FsStorage, Storage};
