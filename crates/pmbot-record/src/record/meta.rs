//! The metadata file of a recording directory, `recording.json`.
//!
//! Invariant: it never holds a credential. The source URL is stored without
//! its user-info, query and fragment, the places a key could ride along.
//!
//! A directory can hold several recording *sessions* (a recorder restarted
//! into the same directory with `on_existing = "new_name"`); each appends a
//! [`SessionMeta`], and their files sort after the earlier ones'.

use std::path::{Path, PathBuf};

use pmbot_core::{ConditionId, TimestampMs, TokenId};
use serde::{Deserialize, Serialize};

use super::naming::META_FILE;

/// The `format` value of every pmbot recording.
pub const FORMAT_NAME: &str = "pmbot-market-recording";
/// The line and file format this code writes and reads (see the FORMAT section
/// of [`crate::record`]).
pub const FORMAT_VERSION: u32 = 1;

/// What a recording directory holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingMeta {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this code.
    pub format_version: u32,
    /// In the order they were recorded.
    pub sessions: Vec<SessionMeta>,
}

/// One run of a recorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    /// The pmbot version that recorded it.
    pub pmbot_version: String,
    /// The WebSocket URL the frames came from, without credentials.
    pub source_url: String,
    /// The tokens (asset ids) subscribed to.
    pub tokens: Vec<TokenId>,
    /// The markets of those tokens, if known.
    #[serde(default)]
    pub markets: Vec<MarketRef>,
    /// When recording started (unix ms, the caller's clock).
    pub started_ms: TimestampMs,
    /// The latest time the recorder saw (a frame or a flush check), written at
    /// close; `None` while recording or if the recorder was killed.
    pub ended_ms: Option<TimestampMs>,
    /// Frames written, counted at close.
    pub frames: u64,
    /// How the session ended.
    pub end: SessionEnd,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// Still recording, or killed (the last file may be truncated).
    Open,
    /// Closed cleanly: every file ends with a complete zstd frame.
    Closed,
    /// Stopped by a write error; the last file may be truncated.
    Failed,
}

/// A market (condition id), its slug, and what a backtest needs of it, when
/// known: its outcome tokens (first = UP/YES) and when trading ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketRef {
    pub condition_id: ConditionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
}

impl MarketRef {
    /// A market known by id (and slug) only.
    pub fn new(condition_id: ConditionId, slug: Option<String>) -> MarketRef {
        MarketRef { condition_id, slug, tokens: Vec::new(), end_ms: None }
    }
}

/// What the caller knows about a recording when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    /// The WebSocket URL; credentials in it are dropped before it is stored.
    pub source_url: String,
    pub tokens: Vec<TokenId>,
    pub markets: Vec<MarketRef>,
    /// Unix ms, from the caller's clock.
    pub started_ms: i64,
}

/// A metadata file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not recording metadata: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "{path} has format {format:?} version {version}; this pmbot reads {FORMAT_NAME:?} version {FORMAT_VERSION}"
    )]
    Unsupported { path: PathBuf, format: String, version: u32 },
}

impl RecordingMeta {
    /// Metadata with no sessions yet.
    pub fn new() -> RecordingMeta {
        RecordingMeta { format: FORMAT_NAME.to_owned(), format_version: FORMAT_VERSION, sessions: Vec::new() }
    }

    /// Reads `dir/recording.json`.
    pub fn read(dir: &Path) -> Result<RecordingMeta, MetaError> {
        let path = dir.join(META_FILE);
        let bytes = std::fs::read(&path).map_err(|source| MetaError::Io { path: path.clone(), source })?;
        RecordingMeta::parse(&bytes, &path)
    }

    /// Parses metadata text; `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<RecordingMeta, MetaError> {
        let meta: RecordingMeta = serde_json::from_slice(bytes)
            .map_err(|e| MetaError::Malformed { path: path.to_owned(), reason: e.to_string() })?;
        if meta.format != FORMAT_NAME || meta.format_version != FORMAT_VERSION {
            return Err(MetaError::Unsupported {
                path: path.to_owned(),
                format: meta.format,
                version: meta.format_version,
            });
        }
        Ok(meta)
    }

    /// Pretty JSON, as written to disk.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("metadata has only string keys");
        out.push(b'\n');
        out
    }

    /// Every token of every session, first appearance first, without repeats.
    pub fn tokens(&self) -> Vec<TokenId> {
        let mut out: Vec<TokenId> = Vec::new();
        for t in self.sessions.iter().flat_map(|s| &s.tokens) {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }

    /// Every market of every session, first appearance first, without repeats
    /// (a slug learnt later fills one missing earlier).
    pub fn markets(&self) -> Vec<MarketRef> {
        let mut out: Vec<MarketRef> = Vec::new();
        for m in self.sessions.iter().flat_map(|s| &s.markets) {
            match out.iter_mut().find(|o| o.condition_id == m.condition_id) {
                Some(known) => {
                    if known.slug.is_none() {
                        known.slug.clone_from(&m.slug);
                    }
                    if known.tokens.is_empty() {
                        known.tokens.clone_from(&m.tokens);
                    }
                    known.end_ms = known.end_ms.or(m.end_ms);
                }
                None => out.push(m.clone()),
            }
        }
        out
    }

    /// When the first session started.
    pub fn started_ms(&self) -> Option<TimestampMs> {
        self.sessions.first().map(|s| s.started_ms)
    }

    /// When the last session ended, if it was closed.
    pub fn ended_ms(&self) -> Option<TimestampMs> {
        self.sessions.last().and_then(|s| s.ended_ms)
    }
}

impl Default for RecordingMeta {
    fn default() -> Self {
        RecordingMeta::new()
    }
}

/// `url` without user-info, query and fragment (`pmbot_core::redact`).
pub fn redact_url(url: &str) -> String {
    pmbot_core::redact::without_credentials(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(tokens: &[&str], markets: &[(u8, Option<&str>)]) -> SessionMeta {
        SessionMeta {
            pmbot_version: "0.1.0".into(),
            source_url: "ws://x".into(),
            tokens: tokens.iter().map(|t| TokenId::parse(t).unwrap()).collect(),
            markets: markets
                .iter()
                .map(|(b, slug)| MarketRef::new(pmbot_core::Hash32([*b; 32]), slug.map(str::to_owned)))
                .collect(),
            started_ms: TimestampMs(1),
            ended_ms: None,
            frames: 0,
            end: SessionEnd::Open,
        }
    }

    #[test]
    fn sessions_merge_tokens_and_markets() {
        let mut meta = RecordingMeta::new();
        meta.sessions.push(session(&["1", "2"], &[(1, None)]));
        meta.sessions.push(session(&["2", "3"], &[(1, Some("a")), (2, Some("b"))]));
        assert_eq!(meta.tokens().iter().map(TokenId::as_str).collect::<Vec<_>>(), ["1", "2", "3"]);
        let markets = meta.markets();
        assert_eq!(markets.len(), 2);
        assert_eq!(markets[0].slug.as_deref(), Some("a"));
        let back = RecordingMeta::parse(&meta.to_json(), Path::new("m.json")).unwrap();
        assert_eq!(back, meta);
    }

    #[test]
    fn other_formats_and_versions_are_refused() {
        let mut meta = RecordingMeta::new();
        meta.format_version = 2;
        let err = RecordingMeta::parse(&meta.to_json(), Path::new("d/recording.json")).unwrap_err();
        assert!(matches!(err, MetaError::Unsupported { version: 2, .. }), "{err}");
        assert!(err.to_string().contains("d/recording.json"));
        let err = RecordingMeta::parse(b"{\"format\":1}", Path::new("m.json")).unwrap_err();
        assert!(matches!(err, MetaError::Malformed { .. }), "{err}");
    }
}
