//! The journal: one SQLite file that is pmbot's record of what it did.
//!
//! Invariants:
//! - **Written before sent.** [`Journal::record_order`] (the gateway's
//!   `before_send`) returns only once the order's row and its first event are
//!   committed and fsynced (`journal_mode=WAL`, `synchronous=FULL`). A crash
//!   the instant after leaves the row on disk, so every order the exchange
//!   could hold is found again at start-up.
//! - **All or nothing.** Each write is one transaction: an order row with its
//!   event, a status change with its event, a fill. A crash, a full disk or a
//!   refused write leaves the journal as it was before the call.
//! - **Nothing dropped silently.** An update or fill for an order the journal
//!   never recorded, or one that contradicts the record, is a typed error.
//! - **Exact.** Prices in pips, sizes and pUSD in micros, as integers in
//!   `STRICT` tables; derived amounts are exact decimals. No floating point.
//! - **One writer.** [`Journal::open`] holds an advisory lock on `<file>-lock`
//!   for as long as the journal is open (the kernel releases it if the process
//!   dies); readers ([`Journal::open_read_only`]) take no lock and see every
//!   committed row while the writer runs.
//! - **No wall clock.** Every time is an argument, so the same inputs give
//!   the same rows.
//! - **No secrets.** Nothing here takes a key, API secret or passphrase;
//!   [`Journal::scan_for`] lets a test prove none reached a row.
//!
//! The tables and how later issues add to them: [`schema`].

mod codec;
mod error;
mod export;
mod observer;
mod order_log;
mod read;
mod redemptions;
mod runs;
pub mod schema;
mod write;

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use error::{Conflict, JournalError};
pub use export::Location;
pub use observer::{Committed, JournalObserver};
// The gateway's journal seam (`pmbot_rows`), implemented by the journal.
pub use order_log::{LoggedOrder, OrderLog, OrderLogError, PreparedOrder};
pub use read::{JournalOrder, Note, OrderEvent, Position, Refusal};
pub use redemptions::Unredeemed;
pub use runs::{
    DataSource, Decision, DecisionAction, EngineRow, Mark, PayoutRow, Run, RunMode, RunStart, Trade, config_hash,
};
pub use schema::SCHEMA_VERSION;
pub use write::{FillOutcome, OrderOutcome};

use error::classify;
use schema::FileState;

/// How long a statement waits for another connection's lock (a reader's
/// checkpoint, the writer's commit) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub use pmbot_rows::EventSource;

/// Whether this handle may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The engine: the only writer, holding the writer lock.
    ReadWrite,
    /// A reader beside the running engine (CLI, reports).
    ReadOnly,
}

/// An open journal. See the module docs for what it guarantees.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    access: Access,
    /// Held (and flock-ed) while open; `None` for readers.
    _writer_lock: Option<File>,
    /// Told of every committed write (metrics, logs, alerts).
    observer: Option<Box<dyn JournalObserver>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).field("access", &self.access).finish()
    }
}

impl Journal {
    /// Opens the journal at `path` for writing: creates it if the file is
    /// missing or empty, migrates an older one, refuses a newer one, another
    /// program's SQLite file, a damaged file, and a journal another process
    /// is writing.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        Self::open_with(path.as_ref(), schema::MIGRATIONS)
    }

    pub(crate) fn open_with(path: &Path, migrations: &[schema::Migration]) -> Result<Journal, JournalError> {
        refuse_directory(path)?;
        let lock = writer_lock(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| opening(classify(path, e)))?;
        // Identify the file before changing anything in it.
        schema::inspect(&conn, path).map_err(opening)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
            .map_err(|e| opening(classify(path, e)))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(JournalError::Storage {
                path: path.to_path_buf(),
                reason: format!("cannot use write-ahead logging here (journal mode stays {mode:?})"),
            });
        }
        configure(&conn, path).map_err(opening)?;
        quick_check(&conn, path).map_err(opening)?;
        schema::migrate(&mut conn, path, migrations)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
            access: Access::ReadWrite,
            _writer_lock: Some(lock),
            observer: None,
        })
    }

    /// Opens an existing journal to read it, beside a running writer or
    /// without one. Never creates, migrates or writes.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let path = path.as_ref();
        refuse_directory(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| opening(classify(path, e)))?;
        configure(&conn, path).map_err(opening)?;
        conn.pragma_update(None, "query_only", true).map_err(|e| opening(classify(path, e)))?;
        match schema::inspect(&conn, path).map_err(opening)? {
            FileState::Empty => {
                return Err(JournalError::NotAJournal {
                    path: path.to_path_buf(),
                    reason: "the file is empty (no journal was written here)".into(),
                });
            }
            FileState::Journal { version } if version > SCHEMA_VERSION => {
                return Err(JournalError::NewerSchema {
                    path: path.to_path_buf(),
                    found: version,
                    supported: SCHEMA_VERSION,
                });
            }
            FileState::Journal { version } if version < SCHEMA_VERSION => {
                return Err(JournalError::OlderSchema {
                    path: path.to_path_buf(),
                    found: version,
                    current: SCHEMA_VERSION,
                });
            }
            FileState::Journal { .. } => {}
        }
        quick_check(&conn, path).map_err(opening)?;
        Ok(Journal { conn, path: path.to_path_buf(), access: Access::ReadOnly, _writer_lock: None, observer: None })
    }

    /// Commits stop waiting for the disk (`synchronous=NORMAL`: in WAL mode
    /// a commit is then durable at the next checkpoint, not at once). For
    /// backtests only: they can be run again, and an fsync per order would
    /// be most of their time. Live and paper journals never call this.
    pub fn relax_durability_for_replay(&self) -> Result<(), JournalError> {
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| classify(&self.path, e))
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn access(&self) -> Access {
        self.access
    }

    /// The schema version of the file (the highest applied migration).
    pub fn schema_version(&self) -> Result<u32, JournalError> {
        match schema::inspect(&self.conn, &self.path)? {
            FileState::Journal { version } => Ok(version),
            FileState::Empty => Err(error::corrupt(&self.path, "the journal's tables are gone")),
        }
    }

    /// Lowers the database's page limit (test hook for a full disk).
    #[cfg(test)]
    pub(crate) fn set_max_pages(&self, pages: i64) -> i64 {
        self.conn.pragma_update_and_check(None, "max_page_count", pages, |r| r.get(0)).unwrap()
    }

    #[cfg(test)]
    pub(crate) fn page_count(&self) -> i64 {
        self.conn.pragma_query_value(None, "page_count", |r| r.get(0)).unwrap()
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Settings that last only as long as the connection, so every open sets them.
fn configure(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    // FULL: in WAL mode every commit fsyncs the log, so a committed order
    // survives a crash or power cut right after `record_order` returns.
    conn.pragma_update(None, "synchronous", "FULL").map_err(|e| classify(path, e))?;
    conn.pragma_update(None, "foreign_keys", true).map_err(|e| classify(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| classify(path, e))?;
    Ok(())
}

/// A damaged file stops start-up instead of trading on a partial picture.
fn quick_check(conn: &Connection, path: &Path) -> Result<(), JournalError> {
    let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0)).map_err(|e| classify(path, e))?;
    if verdict == "ok" { Ok(()) } else { Err(error::corrupt(path, verdict)) }
}

/// While opening, a failure SQLite cannot name (an I/O error, a lock held
/// past the timeout) means the file cannot be opened or read.
fn opening(e: JournalError) -> JournalError {
    match e {
        JournalError::Storage { path, reason } => JournalError::Unreadable { path, reason },
        other => other,
    }
}

fn refuse_directory(path: &Path) -> Result<(), JournalError> {
    if path.is_dir() {
        return Err(JournalError::Unreadable { path: path.to_path_buf(), reason: "it is a directory".into() });
    }
    Ok(())
}

/// The advisory lock that makes the engine the journal's only writer.
fn writer_lock(path: &Path) -> Result<File, JournalError> {
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    let lock = PathBuf::from(name);
    let unreadable = |e: std::io::Error| JournalError::Unreadable {
        path: path.to_path_buf(),
        reason: format!("lock file {}: {e}", lock.display()),
    };
    let file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock).map_err(unreadable)?;
    // A lock held by a writer that is just closing, or by a copy of its
    // descriptor in a child forked an instant before exec (the lock belongs
    // to the open file, which fork shares), goes within moments: wait that
    // long before calling the journal in use.
    let deadline = std::time::Instant::now() + LOCK_GRACE;
    loop {
        // `File::try_lock` is Rust 1.89; the workspace's declared 1.88 is stale
        // (rusqlite 0.43 needs 1.89, alloy 1.8 needs 1.91).
        #[allow(clippy::incompatible_msrv)]
        let locked = file.try_lock();
        match locked {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => return Err(JournalError::InUse { path: path.to_path_buf(), lock }),
            Err(TryLockError::Error(e)) => return Err(unreadable(e)),
        }
    }
}

/// How long opening waits for a writer lock held by someone else.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
