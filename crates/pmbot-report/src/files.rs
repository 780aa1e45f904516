//! Report files are written whole or not at all: each goes to a temporary
//! name in its directory, is flushed to disk, and is renamed into place, so
//! a reader never sees a half-written file and a failed rewrite (a full
//! disk) leaves the previous file as it was.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file that could not be written (unwritable, full disk, ...).
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so `path` is never seen half-written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomic_with(path, bytes, |file, bytes| file.write_all(bytes))
}

/// [`write_atomic`] with the write step given, so tests can make it fail
/// the way a full disk does.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> io::Result<()>,
) -> Result<(), WriteError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Process id and a counter: two writers (processes or threads) never share a temporary.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let temp = path.with_file_name(format!(".{name}.{}-{unique}.tmp", std::process::id()));
    let result = File::create(&temp).and_then(|mut file| {
        write(&mut file, bytes)?;
        // Flushed to disk before the rename, so a crash cannot leave the new name on empty data.
        file.sync_all()
    });
    if let Err(source) = result.and_then(|()| fs::rename(&temp, path)) {
        // Best effort: the temporary may not exist (create failed); the write error is what matters.
        let _ = fs::remove_file(&temp);
        return Err(WriteError { path: path.to_path_buf(), source });
    }
    Ok(())
}

/// Creates `dir` and its parents if missing.
pub fn create_dir(dir: &Path) -> Result<(), WriteError> {
    fs::create_dir_all(dir).map_err(|source| WriteError { path: dir.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pmbot-report-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_full_disk_leaves_no_half_written_file_and_keeps_the_old_one() {
        let dir = scratch("full-disk");
        let path = dir.join("report.md");
        let full = |file: &mut File, bytes: &[u8]| -> io::Result<()> {
            file.write_all(&bytes[..bytes.len() / 2])?;
            Err(io::Error::from(io::ErrorKind::StorageFull))
        };
        let err = write_atomic_with(&path, b"# new report, long enough to be cut in half", full).unwrap_err();
        assert_eq!(err.path, path);
        assert_eq!(err.source.kind(), io::ErrorKind::StorageFull);
        assert!(err.to_string().starts_with(&format!("cannot write {}", path.display())), "{err}");
        assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));

        // A previous file survives a failed rewrite whole.
        write_atomic(&path, b"# old report").unwrap();
        write_atomic_with(&path, b"# new report", full).unwrap_err();
        assert_eq!(fs::read(&path).unwrap(), b"# old report");
        assert_eq!(entries(&dir), ["report.md"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
