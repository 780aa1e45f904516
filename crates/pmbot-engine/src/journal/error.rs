//! What can go wrong with the journal. Every error names the journal's path,
//! and none carries row contents beyond ids (no body, no intent), so an error
//! message can be logged as it is.

use std::path::{Path, PathBuf};

use pmbot_core::{ClientOrderId, OrderId};
use rusqlite::ErrorCode;

/// A journal that cannot be opened, read or written, or a write it refused.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file (or its directory) cannot be opened or read.
    #[error("journal {}: cannot open or read it: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// The file is not an SQLite database, or is one of another program.
    #[error("journal {}: not a pmbot journal: {reason}", path.display())]
    NotAJournal { path: PathBuf, reason: String },
    /// SQLite found the file damaged, or a stored value no longer parses.
    #[error("journal {}: corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// No room for the write (disk full or the database's page limit); the
    /// write was rolled back whole.
    #[error("journal {}: full (no space on the disk or the size limit reached); the write was rolled back", path.display())]
    Full { path: PathBuf },
    /// Written by a newer pmbot: this build must not guess at its tables.
    #[error("journal {}: schema version {found} is newer than this build's {supported}; use a newer pmbot", path.display())]
    NewerSchema { path: PathBuf, found: u32, supported: u32 },
    /// A read-only open of a journal that still needs migrating.
    #[error("journal {}: schema version {found} is older than {current}; open it read-write once to migrate it", path.display())]
    OlderSchema { path: PathBuf, found: u32, current: u32 },
    /// Another process holds the writer lock: there is one writer per journal.
    #[error("journal {}: another process is writing it (lock file {} is held)", path.display(), lock.display())]
    InUse { path: PathBuf, lock: PathBuf },
    /// A write through a read-only journal, or a file the process may not write.
    #[error("journal {}: read-only (opened read-only, or the file cannot be written)", path.display())]
    ReadOnly { path: PathBuf },
    /// An update or fill for an order the journal never recorded.
    #[error("journal {}: order {order} is not in the journal", path.display())]
    UnknownOrder { path: PathBuf, order: String },
    /// A write that contradicts what is recorded; nothing was written.
    #[error("journal {}: order {order}: {conflict}", path.display())]
    Conflict { path: PathBuf, order: String, conflict: Conflict },
    /// Input the journal refuses (an empty note kind or refusal reason).
    #[error("journal {}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    /// A quantity beyond SQLite's signed 64-bit integers.
    #[error("journal {}: {what} is too large to store", path.display())]
    TooLarge { path: PathBuf, what: String },
    /// Any other SQLite failure (I/O error, lock timeout, ...).
    #[error("journal {}: {reason}", path.display())]
    Storage { path: PathBuf, reason: String },
}

/// How a write contradicts the journal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("its client order id is already recorded for order hash {recorded}")]
    ClientIdReused { recorded: OrderId },
    #[error("its order hash is already recorded for client order id {recorded}")]
    HashReused { recorded: ClientOrderId },
    #[error("a resend must carry the recorded salt, intent and body unchanged")]
    ResendDiffers,
    #[error("its intent carries client order id {intent}")]
    IntentIdMismatch { intent: ClientOrderId },
    #[error("the update names order id {given}, the journal has {recorded}")]
    OrderIdMismatch { recorded: OrderId, given: OrderId },
    #[error("the fill's {field} differs from the order's")]
    FillMismatch { field: &'static str },
    #[error("trade {trade_id} is already recorded with a different price or size")]
    FillDiffers { trade_id: String },
}

impl JournalError {
    /// The journal's path.
    pub fn path(&self) -> &Path {
        match self {
            JournalError::Unreadable { path, .. }
            | JournalError::NotAJournal { path, .. }
            | JournalError::Corrupt { path, .. }
            | JournalError::Full { path }
            | JournalError::NewerSchema { path, .. }
            | JournalError::OlderSchema { path, .. }
            | JournalError::InUse { path, .. }
            | JournalError::ReadOnly { path }
            | JournalError::UnknownOrder { path, .. }
            | JournalError::Conflict { path, .. }
            | JournalError::Invalid { path, .. }
            | JournalError::TooLarge { path, .. }
            | JournalError::Storage { path, .. } => path,
        }
    }
}

/// Sorts an SQLite failure into the error a caller can act on.
pub(crate) fn classify(path: &Path, e: rusqlite::Error) -> JournalError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => JournalError::Full { path },
        Some(ErrorCode::DatabaseCorrupt) => JournalError::Corrupt { path, reason: e.to_string() },
        Some(ErrorCode::NotADatabase) => {
            JournalError::NotAJournal { path, reason: "the file is not an SQLite database".into() }
        }
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            JournalError::Unreadable { path, reason: e.to_string() }
        }
        Some(ErrorCode::ReadOnly) => JournalError::ReadOnly { path },
        _ => match e {
            // A stored value of the wrong type or range: the file was altered.
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::Utf8Error(..) => JournalError::Corrupt { path, reason: e.to_string() },
            other => JournalError::Storage { path, reason: other.to_string() },
        },
    }
}

/// A stored value that does not parse back.
pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> JournalError {
    JournalError::Corrupt { path: path.to_path_buf(), reason: reason.into() }
}
