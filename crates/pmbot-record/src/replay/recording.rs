//! Reading pmbot recordings: [`ZstdFrames`] for one zstd stream (a file, or
//! bytes in memory), [`RecordingReader`] for a directory of hourly files.
//!
//! Invariant: a stream cut anywhere yields exactly the frames whose complete
//! lines precede the cut, then ends; the cut is reported as a
//! [`Truncation`], not as an error. (The writer flushes whole lines only, and
//! zstd decodes a block only once all of it is there, so a prefix of the file
//! decodes to a prefix of the lines.)

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use pmbot_core::TimestampMs;

use super::{Frame, ReplayError};
use crate::record::line::decode_line;
use crate::record::meta::RecordingMeta;
use crate::record::naming::{META_FILE, parse_file_name};

/// Decompressed bytes are read in chunks of this size.
const LINE_BUFFER: usize = 128 * 1024;

/// Where a stream ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub path: PathBuf,
    /// Frames read before the cut.
    pub frames: u64,
    /// Bytes of a partial last line that were dropped.
    pub dropped_bytes: usize,
}

type Lines<R> = BufReader<zstd::stream::read::Decoder<'static, BufReader<R>>>;

/// The frames of one zstd-compressed recording stream.
pub struct ZstdFrames<R: Read> {
    path: PathBuf,
    /// `None` once the stream has ended.
    lines: Option<Lines<R>>,
    buf: Vec<u8>,
    line: u64,
    frames: u64,
    truncation: Option<Truncation>,
}

impl<R: Read> std::fmt::Debug for ZstdFrames<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdFrames").field("path", &self.path).field("line", &self.line).finish_non_exhaustive()
    }
}

impl<R: Read> ZstdFrames<R> {
    /// Frames from `reader` (compressed bytes); `path` names it in errors.
    pub fn new(reader: R, path: impl Into<PathBuf>) -> Result<Self, ReplayError> {
        let path = path.into();
        let decoder = zstd::stream::read::Decoder::new(reader)
            .map_err(|source| ReplayError::Io { path: path.clone(), source })?;
        Ok(ZstdFrames {
            path,
            lines: Some(BufReader::with_capacity(LINE_BUFFER, decoder)),
            buf: Vec::with_capacity(4096),
            line: 0,
            frames: 0,
            truncation: None,
        })
    }

    /// Where the stream was cut, once it has ended that way.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// Frames yielded so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    fn cut(&mut self) {
        self.lines = None;
        self.truncation =
            Some(Truncation { path: self.path.clone(), frames: self.frames, dropped_bytes: self.buf.len() });
    }
}

impl<R: Read> Iterator for ZstdFrames<R> {
    type Item = Result<Frame, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        let lines = self.lines.as_mut()?;
        self.buf.clear();
        loop {
            match lines.read_until(b'\n', &mut self.buf) {
                Ok(0) => {
                    self.lines = None;
                    return None;
                }
                Ok(_) if self.buf.last() == Some(&b'\n') => break,
                // The data ended inside a line: our writer never does that, so the rest was lost.
                Ok(_) => {
                    self.cut();
                    return None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // zstd's "incomplete frame": the file stops inside the stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.cut();
                    return None;
                }
                Err(source) => {
                    self.lines = None;
                    return Some(Err(ReplayError::Corrupt { path: self.path.clone(), frames: self.frames, source }));
                }
            }
        }
        self.line += 1;
        let text = &self.buf[..self.buf.len() - 1];
        Some(match decode_line(text) {
            Ok((t, text)) => {
                self.frames += 1;
                Ok(Frame { received: TimestampMs(t), text })
            }
            Err(e) => Err(ReplayError::BadLine { path: self.path.clone(), line: self.line, reason: e.to_string() }),
        })
    }
}

/// The frames of a recording directory, file after file in (hour, sequence)
/// order.
#[derive(Debug)]
pub struct RecordingReader {
    dir: PathBuf,
    meta: Option<RecordingMeta>,
    files: Vec<PathBuf>,
    next_file: usize,
    current: Option<ZstdFrames<File>>,
    truncations: Vec<Truncation>,
}

impl RecordingReader {
    /// Opens `dir`: lists its data files and reads `recording.json` if there
    /// is one (a metadata file of another format or version is an error, so
    /// it is never misread).
    pub fn open(dir: impl AsRef<Path>) -> Result<RecordingReader, ReplayError> {
        let dir = dir.as_ref().to_owned();
        let files = data_files(&dir)?;
        let meta_path = dir.join(META_FILE);
        let meta = if meta_path.is_file() { Some(RecordingMeta::read(&dir)?) } else { None };
        if files.is_empty() && meta.is_none() {
            return Err(ReplayError::NotFound { path: dir });
        }
        Ok(RecordingReader { dir, meta, files, next_file: 0, current: None, truncations: Vec::new() })
    }

    /// The recording's metadata, if it has a `recording.json`.
    pub fn meta(&self) -> Option<&RecordingMeta> {
        self.meta.as_ref()
    }

    /// The data files, in replay order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Files that ended early (a killed writer), as far as read so far.
    pub fn truncations(&self) -> &[Truncation] {
        &self.truncations
    }
}

impl Iterator for RecordingReader {
    type Item = Result<Frame, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(current) = self.current.as_mut() {
                if let Some(item) = current.next() {
                    return Some(item);
                }
                if let Some(cut) = current.truncation() {
                    self.truncations.push(cut.clone());
                }
                self.current = None;
            }
            let path = self.files.get(self.next_file)?.clone();
            self.next_file += 1;
            let opened = File::open(&path)
                .map_err(|source| ReplayError::Io { path: path.clone(), source })
                .and_then(|f| ZstdFrames::new(f, &path));
            match opened {
                Ok(frames) => self.current = Some(frames),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The data files in `dir`, sorted by (hour, sequence).
pub(crate) fn data_files(dir: &Path) -> Result<Vec<PathBuf>, ReplayError> {
    let io_err = |source| ReplayError::Io { path: dir.to_owned(), source };
    let mut keyed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        if let Some(key) = name.to_str().and_then(parse_file_name) {
            keyed.push((key, entry.path()));
        }
    }
    keyed.sort();
    Ok(keyed.into_iter().map(|(_, p)| p).collect())
}
