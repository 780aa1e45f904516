//! [`ReplaySource`]: any of the replayable formats, chosen by what a
//! directory holds.

use std::path::Path;

use super::fixtures::ws_fixture_frames;
use super::recording::{RecordingReader, data_files};
use super::resolvedkit::{BOOKS_FILE, ResolvedkitFrames};
use super::{Frame, ReplayError};
use crate::record::naming::META_FILE;

/// Frames from a pmbot recording, resolvedkit book snapshots or WebSocket
/// fixtures.
#[derive(Debug)]
pub enum ReplaySource {
    Recording(RecordingReader),
    Resolvedkit(ResolvedkitFrames),
    Fixtures(std::vec::IntoIter<Frame>),
}

impl ReplaySource {
    /// Opens `dir` as the first that fits: a pmbot recording (`recording.json`
    /// or `market-*.jsonl.zst` files), resolvedkit data (`books.jsonl.gz`),
    /// WebSocket fixtures (`ws_*.json` or `ws_messages/*.json` below it).
    pub fn open(dir: impl AsRef<Path>) -> Result<ReplaySource, ReplayError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(ReplayError::NotFound { path: dir.to_owned() });
        }
        if dir.join(META_FILE).is_file() || !data_files(dir)?.is_empty() {
            return RecordingReader::open(dir).map(ReplaySource::Recording);
        }
        if dir.join(BOOKS_FILE).is_file() {
            return ResolvedkitFrames::open(dir).map(ReplaySource::Resolvedkit);
        }
        let fixtures = ws_fixture_frames(dir)?;
        if fixtures.is_empty() {
            return Err(ReplayError::NotFound { path: dir.to_owned() });
        }
        Ok(ReplaySource::Fixtures(fixtures.into_iter()))
    }
}

impl Iterator for ReplaySource {
    type Item = Result<Frame, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ReplaySource::Recording(r) => r.next(),
            ReplaySource::Resolvedkit(r) => r.next(),
            ReplaySource::Fixtures(f) => f.next().map(Ok),
        }
    }
}
