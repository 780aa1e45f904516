//! Where a recorder's bytes go. [`FsStorage`] is the file system; tests put a
//! failing or in-memory [`Storage`] in its place to reach the error paths
//! (a full disk, a write that fails half way) without needing one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file operations a recorder needs.
pub trait Storage {
    /// A data file open for writing.
    type File: Write;

    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()>;

    /// Whether `path` exists.
    fn exists(&mut self, path: &Path) -> io::Result<bool>;

    /// The whole content of `path`.
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>>;

    /// Creates `path`, failing with [`io::ErrorKind::AlreadyExists`] if it
    /// exists (never truncates someone's file).
    fn create_new(&mut self, path: &Path) -> io::Result<Self::File>;

    /// Replaces `path` with `bytes` so that a reader sees the old content or
    /// the new one, never a mix (metadata).
    fn replace(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()>;

    /// Makes what was written to `file` durable (at the end of a file).
    fn sync(&mut self, file: &mut Self::File) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsStorage;

impl Storage for FsStorage {
    type File = File;

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn exists(&mut self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn create_new(&mut self, path: &Path) -> io::Result<File> {
        OpenOptions::new().write(true).create_new(true).open(path)
    }

    fn replace(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        // Write beside it, then rename over it: rename is atomic on one file system.
        let tmp = temp_path(path);
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        drop(f);
        fs::rename(&tmp, path)
    }

    fn sync(&mut self, file: &mut File) -> io::Result<()> {
        file.sync_data()
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}
