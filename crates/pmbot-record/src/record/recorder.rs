//! [`Recorder`]: frames in, hourly zstd JSON-lines files out.
//!
//! Invariant: a frame for which [`Recorder::record`] returned `Ok` is in the
//! open file's zstd stream, and once flushed, a reader finds it even if the
//! process dies the next instant. After
//! a write error the recorder stops (the stream's state is unknown): later
//! calls return [`RecordError::Stopped`], and a new recorder with
//! [`OnExisting::NewName`] can continue in the same directory.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use pmbot_core::TimestampMs;
use serde::{Deserialize, Serialize};

use super::line::encode_line;
use super::meta::{MetaError, RecordingInfo, RecordingMeta, SessionEnd, SessionMeta, redact_url};
use super::naming::{FileKey, META_FILE, file_name, hour_of, hour_start_ms};
use super::storage::{FsStorage, Storage};

/// How long after an hour ends its file is finished by [`Recorder::flush_if_due`]
/// when no frame of the next hour has come: late frames stamped just before
/// the hour still land in it.
const ROLL_GRACE_MS: i64 = 1_000;

/// Files of one hour at most (`.1` ... `.9999`), so a misbehaving loop cannot
/// fill a directory.
const MAX_SEQ: u32 = 9_999;

/// The longest allowed flush interval: the "lose at most a second".
pub const MAX_FLUSH_INTERVAL_MS: u32 = 1_000;

/// What to do when a file the recorder would create already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExisting {
    /// Refuse: an error naming the file.
    #[default]
    Refuse,
    /// Record beside it: a new session in `recording.json`, data files named
    /// `...T14.1.jsonl.zst` etc. where the plain name is taken. (Appending to
    /// an existing file is not offered: after a killed writer it ends in a
    /// truncated zstd frame, and anything appended would be unreadable.)
    NewName,
}

/// Recorder settings (the `[record]` table of `pmbot.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecorderConfig {
    /// zstd level (3 is zstd's default: fast, and frames compress well anyway).
    pub level: i32,
    /// Flush when the oldest unflushed frame is this old, in ms (1 ..= 1000).
    pub flush_interval_ms: u32,
    pub on_existing: OnExisting,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig { level: 3, flush_interval_ms: MAX_FLUSH_INTERVAL_MS, on_existing: OnExisting::Refuse }
    }
}

impl RecorderConfig {
    fn validate(&self) -> Result<(), RecordError> {
        if !zstd::compression_level_range().contains(&self.level) {
            return Err(RecordError::Config(format!(
                "level {} is outside zstd's {:?}",
                self.level,
                zstd::compression_level_range()
            )));
        }
        if !(1..=MAX_FLUSH_INTERVAL_MS).contains(&self.flush_interval_ms) {
            return Err(RecordError::Config(format!(
                "flush_interval_ms {} is outside 1..={MAX_FLUSH_INTERVAL_MS}",
                self.flush_interval_ms
            )));
        }
        Ok(())
    }
}

/// The file operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    CreateDir,
    CreateFile,
    Write,
    Flush,
    Finish,
    Sync,
    ReadMetadata,
    WriteMetadata,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoOp::CreateDir => "create directory",
            IoOp::CreateFile => "create",
            IoOp::Write => "write",
            IoOp::Flush => "flush",
            IoOp::Finish => "finish",
            IoOp::Sync => "sync",
            IoOp::ReadMetadata => "read metadata",
            IoOp::WriteMetadata => "write metadata",
        })
    }
}

/// Why a recorder call failed. Every file error names the path.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("disk full: cannot {op} {path}")]
    DiskFull {
        path: PathBuf,
        op: IoOp,
        #[source]
        source: io::Error,
    },
    #[error("cannot {op} {path}: not writable ({source})")]
    NotWritable { path: PathBuf, op: IoOp, source: io::Error },
    #[error(
        "{path} already exists; not overwriting it (record into another directory, or set on_existing = \"new_name\")"
    )]
    AlreadyExists { path: PathBuf },
    #[error("cannot {op} {path}: {source}")]
    Io { path: PathBuf, op: IoOp, source: io::Error },
    #[error("existing metadata unusable: {0}")]
    Meta(#[from] MetaError),
    #[error("receive time {ms} ms is outside 1970..10000 (a broken clock?); nothing recorded")]
    TimeOutOfRange { ms: i64 },
    #[error("the recorder stopped after a write error on {path}; start a new one with on_existing = \"new_name\"")]
    Stopped { path: PathBuf },
    #[error("invalid recorder config: {0}")]
    Config(String),
}

impl RecordError {
    /// Sorts an I/O error into the variants callers act on differently.
    fn io(path: &Path, op: IoOp, source: io::Error) -> RecordError {
        let path = path.to_owned();
        match source.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => RecordError::DiskFull { path, op, source },
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::NotADirectory => {
                RecordError::NotWritable { path, op, source }
            }
            io::ErrorKind::AlreadyExists => RecordError::AlreadyExists { path },
            _ => RecordError::Io { path, op, source },
        }
    }
}

/// What [`Recorder::flush_if_due`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Every recorded frame was already flushed (or no file is open).
    NothingPending,
    /// Unflushed frames are younger than the flush interval.
    NotDue,
    /// The stream was flushed to the OS.
    Flushed,
    /// The hour is over: its file was finished (complete zstd frame, synced).
    Rolled,
}

/// What a closed recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    pub dir: PathBuf,
    /// Data files written by this session, in write order.
    pub files: Vec<PathBuf>,
    pub frames: u64,
    /// Total length of the frame texts.
    pub frame_bytes: u64,
    /// Total size of the data files.
    pub compressed_bytes: u64,
    /// Receive times of the first and last frame.
    pub first_ms: Option<TimestampMs>,
    pub last_ms: Option<TimestampMs>,
}

/// Counts what reaches the file.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct OpenFile<F: Write> {
    key: FileKey,
    path: PathBuf,
    encoder: zstd::stream::write::Encoder<'static, Counting<F>>,
}

enum State {
    Running,
    Failed { path: PathBuf },
    Closed,
}

/// Writes frames to a recording directory. See the module docs of
/// [`crate::record`] for the format and the guarantees.
pub struct Recorder<S: Storage = FsStorage> {
    storage: S,
    dir: PathBuf,
    config: RecorderConfig,
    meta: RecordingMeta,
    state: State,
    current: Option<OpenFile<S::File>>,
    /// Every file this session created, in order (a late frame for a finished
    /// hour gets the next free sequence number).
    written: Vec<(FileKey, PathBuf)>,
    /// Receive time of the oldest frame not yet flushed.
    unflushed_since: Option<i64>,
    frames: u64,
    flushed_frames: u64,
    frame_bytes: u64,
    /// Bytes of finished files (the open one is counted by its writer).
    finished_bytes: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    /// The latest time seen in any call: the session's end time.
    latest_ms: i64,
    line: Vec<u8>,
}

impl Recorder<FsStorage> {
    /// Starts recording into `dir` (created if missing) on the file system.
    /// Writes `recording.json` at once, so an unwritable directory or an
    /// existing recording is refused here.
    pub fn create(dir: impl Into<PathBuf>, config: RecorderConfig, info: RecordingInfo) -> Result<Self, RecordError> {
        Recorder::create_in(FsStorage, dir, config, info)
    }
}

impl<S: Storage> Recorder<S> {
    /// [`Recorder::create`] on any [`Storage`].
    pub fn create_in(
        mut storage: S,
        dir: impl Into<PathBuf>,
        config: RecorderConfig,
        info: RecordingInfo,
    ) -> Result<Self, RecordError> {
        config.validate()?;
        hour_of(info.started_ms).ok_or(RecordError::TimeOutOfRange { ms: info.started_ms })?;
        let dir = dir.into();
        storage.create_dir_all(&dir).map_err(|e| RecordError::io(&dir, IoOp::CreateDir, e))?;
        let meta_path = dir.join(META_FILE);
        let exists = storage.exists(&meta_path).map_err(|e| RecordError::io(&meta_path, IoOp::ReadMetadata, e))?;
        let mut meta = match (exists, config.on_existing) {
            (false, _) => RecordingMeta::new(),
            (true, OnExisting::Refuse) => return Err(RecordError::AlreadyExists { path: meta_path }),
            (true, OnExisting::NewName) => {
                let bytes = storage.read(&meta_path).map_err(|e| RecordError::io(&meta_path, IoOp::ReadMetadata, e))?;
                RecordingMeta::parse(&bytes, &meta_path)?
            }
        };
        meta.sessions.push(SessionMeta {
            pmbot_version: env!("CARGO_PKG_VERSION").to_owned(),
            source_url: redact_url(&info.source_url),
            tokens: info.tokens,
            markets: info.markets,
            started_ms: TimestampMs(info.started_ms),
            ended_ms: None,
            frames: 0,
            end: SessionEnd::Open,
        });
        let mut recorder = Recorder {
            storage,
            dir,
            config,
            meta,
            state: State::Running,
            current: None,
            written: Vec::new(),
            unflushed_since: None,
            frames: 0,
            flushed_frames: 0,
            frame_bytes: 0,
            finished_bytes: 0,
            first_ms: None,
            last_ms: None,
            latest_ms: info.started_ms,
            line: Vec::with_capacity(4096),
        };
        if let Err(e) = recorder.write_meta() {
            // Nothing was recorded: leave no session behind and let Drop do nothing.
            recorder.state = State::Closed;
            return Err(e);
        }
        Ok(recorder)
    }

    /// Records one frame received at `received_ms` (unix ms), then flushes if
    /// due. A time outside 1970..10000 is refused and changes nothing.
    pub fn record(&mut self, received_ms: i64, frame: &str) -> Result<(), RecordError> {
        self.check_running()?;
        let hour = hour_of(received_ms).ok_or(RecordError::TimeOutOfRange { ms: received_ms })?;
        self.ensure_file(hour)?;
        self.line.clear();
        encode_line(&mut self.line, received_ms, frame);
        let file = self.current.as_mut().expect("ensure_file leaves a file open");
        if let Err(e) = file.encoder.write_all(&self.line) {
            let path = file.path.clone();
            return Err(self.fail(&path, IoOp::Write, e));
        }
        self.frames += 1;
        self.frame_bytes += frame.len() as u64;
        self.first_ms.get_or_insert(received_ms);
        self.last_ms = Some(received_ms);
        self.latest_ms = self.latest_ms.max(received_ms);
        self.unflushed_since.get_or_insert(received_ms);
        self.flush_if_due(received_ms).map(|_| ())
    }

    /// Flushes if the oldest unflushed frame is `flush_interval_ms` old at
    /// `now_ms` (or the clock went back past it), and finishes the open file
    /// once its hour is over. Call it from a timer at least every second.
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<FlushOutcome, RecordError> {
        self.check_running()?;
        hour_of(now_ms).ok_or(RecordError::TimeOutOfRange { ms: now_ms })?;
        self.latest_ms = self.latest_ms.max(now_ms);
        let Some(file) = &self.current else { return Ok(FlushOutcome::NothingPending) };
        if now_ms >= hour_start_ms(file.key.hour + 1) + ROLL_GRACE_MS {
            self.finish_current()?;
            return Ok(FlushOutcome::Rolled);
        }
        let interval = i64::from(self.config.flush_interval_ms);
        match self.unflushed_since {
            None => Ok(FlushOutcome::NothingPending),
            Some(since) if now_ms < since || now_ms - since >= interval => {
                self.flush()?;
                Ok(FlushOutcome::Flushed)
            }
            Some(_) => Ok(FlushOutcome::NotDue),
        }
    }

    /// Flushes now, whether due or not.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.check_running()?;
        let Some(file) = self.current.as_mut() else { return Ok(()) };
        if let Err(e) = file.encoder.flush() {
            let path = file.path.clone();
            return Err(self.fail(&path, IoOp::Flush, e));
        }
        self.unflushed_since = None;
        self.flushed_frames = self.frames;
        Ok(())
    }

    /// Finishes the open file and writes the session's end to
    /// `recording.json`. After a write error this still records the session as
    /// failed (best effort) and returns [`RecordError::Stopped`].
    pub fn close(mut self) -> Result<RecordingSummary, RecordError> {
        self.shutdown()
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames a reader would find if the process died now (flushed ones).
    pub fn flushed_frames(&self) -> u64 {
        self.flushed_frames
    }

    /// The data file being written, if one is open.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|f| f.path.as_path())
    }

    /// The recording directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A summary of what was written so far.
    pub fn summary(&self) -> RecordingSummary {
        let open = self.current.as_ref().map_or(0, |f| f.encoder.get_ref().bytes);
        RecordingSummary {
            dir: self.dir.clone(),
            files: self.written.iter().map(|(_, p)| p.clone()).collect(),
            frames: self.frames,
            frame_bytes: self.frame_bytes,
            compressed_bytes: self.finished_bytes + open,
            first_ms: self.first_ms.map(TimestampMs),
            last_ms: self.last_ms.map(TimestampMs),
        }
    }

    fn check_running(&self) -> Result<(), RecordError> {
        match &self.state {
            State::Running => Ok(()),
            State::Failed { path } => Err(RecordError::Stopped { path: path.clone() }),
            State::Closed => Err(RecordError::Stopped { path: self.dir.clone() }),
        }
    }

    /// Makes sure a file is open for a frame of `hour`: the open one unless
    /// `hour` is later (files roll forward only).
    fn ensure_file(&mut self, hour: i64) -> Result<(), RecordError> {
        match &self.current {
            Some(open) if hour <= open.key.hour => return Ok(()),
            Some(_) => self.finish_current()?,
            None => {}
        }
        let newest = self.written.last().map_or(hour, |(k, _)| k.hour);
        self.open_file(hour.max(newest))
    }

    fn open_file(&mut self, hour: i64) -> Result<(), RecordError> {
        for seq in 0..=MAX_SEQ {
            let key = FileKey { hour, seq };
            if self.written.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let name = file_name(key).ok_or(RecordError::TimeOutOfRange { ms: hour_start_ms(hour) })?;
            let path = self.dir.join(name);
            let file = match self.storage.create_new(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match self.config.on_existing {
                    OnExisting::Refuse => return Err(RecordError::AlreadyExists { path }),
                    OnExisting::NewName => continue,
                },
                // Nothing is open, so nothing is half-written: the next frame retries.
                Err(e) => return Err(RecordError::io(&path, IoOp::CreateFile, e)),
            };
            let encoder = zstd::stream::write::Encoder::new(Counting { inner: file, bytes: 0 }, self.config.level)
                .and_then(|mut enc| enc.include_checksum(true).map(|()| enc));
            let encoder = match encoder {
                Ok(enc) => enc,
                Err(e) => return Err(self.fail(&path, IoOp::CreateFile, e)),
            };
            self.written.push((key, path.clone()));
            self.current = Some(OpenFile { key, path, encoder });
            return Ok(());
        }
        let last = file_name(FileKey { hour, seq: MAX_SEQ }).unwrap_or_default();
        Err(RecordError::AlreadyExists { path: self.dir.join(last) })
    }

    /// Ends the open file's zstd frame and syncs it.
    fn finish_current(&mut self) -> Result<(), RecordError> {
        let Some(file) = self.current.take() else { return Ok(()) };
        let mut counting = match file.encoder.finish() {
            Ok(counting) => counting,
            Err(e) => return Err(self.fail(&file.path, IoOp::Finish, e)),
        };
        self.finished_bytes += counting.bytes;
        self.unflushed_since = None;
        self.flushed_frames = self.frames;
        if let Err(e) = self.storage.sync(&mut counting.inner) {
            return Err(self.fail(&file.path, IoOp::Sync, e));
        }
        Ok(())
    }

    /// Stops the recorder after a write error on `path`.
    fn fail(&mut self, path: &Path, op: IoOp, e: io::Error) -> RecordError {
        self.state = State::Failed { path: path.to_owned() };
        // The stream's state is unknown; drop it without writing more.
        self.current = None;
        RecordError::io(path, op, e)
    }

    fn write_meta(&mut self) -> Result<(), RecordError> {
        let path = self.dir.join(META_FILE);
        let bytes = self.meta.to_json();
        self.storage.replace(&path, &bytes).map_err(|e| RecordError::io(&path, IoOp::WriteMetadata, e))
    }

    fn end_session(&mut self, end: SessionEnd) -> Result<(), RecordError> {
        let session = self.meta.sessions.last_mut().expect("create pushed this session");
        session.ended_ms = Some(TimestampMs(self.latest_ms));
        session.frames = self.frames;
        session.end = end;
        self.write_meta()
    }

    fn shutdown(&mut self) -> Result<RecordingSummary, RecordError> {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Closed => Ok(self.summary()),
            State::Failed { path } => {
                // Best effort: the error that stopped us is the one to report.
                let _ = self.end_session(SessionEnd::Failed);
                Err(RecordError::Stopped { path })
            }
            State::Running => {
                self.state = State::Running;
                if let Err(e) = self.finish_current() {
                    let _ = self.end_session(SessionEnd::Failed);
                    self.state = State::Closed;
                    return Err(e);
                }
                self.state = State::Closed;
                self.end_session(SessionEnd::Closed)?;
                Ok(self.summary())
            }
        }
    }
}

impl<S: Storage> Drop for Recorder<S> {
    /// A recorder dropped without [`Recorder::close`] (an early return, a
    /// panic unwinding) still finishes its file, so only a killed process
    /// leaves a truncated one. Errors cannot be reported from here.
    fn drop(&mut self) {
        if !matches!(self.state, State::Closed) {
            let _ = self.shutdown();
        }
    }
}

impl<S: Storage> fmt::Debug for Recorder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.dir)
            .field("current_file", &self.current_file())
            .field("frames", &self.frames)
            .field("flushed_frames", &self.flushed_frames)
            .finish_non_exhaustive()
    }
}
