//! The journal's tables and how a file gets to the current version.
//!
//! Invariant: a file is at exactly the version of its highest
//! `schema_version` row, and it got there by running every migration up to it,
//! each in the same transaction as its `schema_version` row. A migration is
//! never edited once released; later issues append migrations (decisions,
//! positions, P&L marks, daily summaries), they do not rewrite version 1.
//!
//! A pmbot journal carries `PRAGMA application_id` = [`APPLICATION_ID`], so
//! another program's SQLite file is refused rather than migrated into.
//!
//! Money, prices and sizes are integers in the exchange's exact units (price in
//! pips of 0.0001, sizes and pUSD in micros of 10^-6); every table is `STRICT`,
//! so a REAL can never be stored by mistake. Tables other than `orders` are
//! append-only (enforced by triggers), and an order's identity columns never
//! change after its row is written.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::error::{JournalError, classify, corrupt};

/// "pmbj": marks an SQLite file as a pmbot journal.
pub const APPLICATION_ID: i32 = 0x706d_626a;

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, in version order (1, 2, ...).
pub(crate) const MIGRATIONS: &[Migration] =
    &[Migration { version: 1, description: "orders, order events, fills, refusals, notes", sql: V1 }];

/// The version this build writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Created with the file, before any migration.
const BOOTSTRAP: &str = "
CREATE TABLE schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL
) STRICT;
";

const V1: &str = "
CREATE TABLE orders (
    id              INTEGER PRIMARY KEY,
    client_order_id TEXT    NOT NULL UNIQUE,
    order_hash      TEXT    NOT NULL UNIQUE,
    -- a u64 in decimal: salts reach past SQLite's signed 64-bit integers
    salt            TEXT    NOT NULL,
    token           TEXT    NOT NULL,
    market          TEXT    NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price_pips      INTEGER NOT NULL CHECK (price_pips BETWEEN 0 AND 10000),
    size_micros     INTEGER NOT NULL CHECK (size_micros >= 0),
    order_type      TEXT    NOT NULL CHECK (order_type IN ('GTC', 'GTD', 'FOK', 'FAK')),
    post_only       INTEGER NOT NULL CHECK (post_only IN (0, 1)),
    expires_ms      INTEGER,
    -- the pmbot-core OrderIntent as JSON (decision context included)
    intent_json     TEXT    NOT NULL CHECK (json_valid(intent_json)),
    -- the exact body posted to the exchange
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('new', 'sent', 'acknowledged', 'partially_filled',
                                                       'filled', 'cancelled', 'rejected',
                                                       'unknown_pending_reconcile')),
    exchange_status TEXT,
    filled_micros   INTEGER NOT NULL CHECK (filled_micros >= 0),
    attempts        INTEGER NOT NULL CHECK (attempts >= 1),
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    last_error      TEXT
) STRICT;
CREATE INDEX orders_by_status ON orders (status);

CREATE TRIGGER orders_keep_rows BEFORE DELETE ON orders
BEGIN SELECT RAISE(ABORT, 'orders are never deleted'); END;
CREATE TRIGGER orders_keep_identity
BEFORE UPDATE OF id, client_order_id, order_hash, salt, token, market, side, price_pips, size_micros,
                 order_type, post_only, expires_ms, intent_json, body, created_ms ON orders
BEGIN SELECT RAISE(ABORT, 'an order''s identity never changes'); END;

-- every status change of an order, in the order learnt
CREATE TABLE order_events (
    id              INTEGER PRIMARY KEY,
    client_order_id TEXT    NOT NULL REFERENCES orders (client_order_id),
    status          TEXT    NOT NULL,
    filled_micros   INTEGER NOT NULL CHECK (filled_micros >= 0),
    exchange_status TEXT,
    reason          TEXT,
    source          TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL
) STRICT;
CREATE INDEX order_events_by_order ON order_events (client_order_id, id);

CREATE TABLE fills (
    id              INTEGER PRIMARY KEY,
    trade_id        TEXT    NOT NULL,
    order_hash      TEXT    NOT NULL REFERENCES orders (order_hash),
    client_order_id TEXT    NOT NULL REFERENCES orders (client_order_id),
    token           TEXT    NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price_pips      INTEGER NOT NULL CHECK (price_pips BETWEEN 0 AND 10000),
    size_micros     INTEGER NOT NULL CHECK (size_micros >= 0),
    -- 'collateral': fee_micros of pUSD; 'shares': fee_micros of shares withheld
    fee_kind        TEXT    NOT NULL CHECK (fee_kind IN ('none', 'collateral', 'shares')),
    fee_micros      INTEGER NOT NULL CHECK (fee_kind <> 'none' OR fee_micros = 0),
    liquidity       TEXT    NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    received_ms     INTEGER NOT NULL,
    exchange_ms     INTEGER NOT NULL,
    UNIQUE (trade_id, order_hash)
) STRICT;
CREATE INDEX fills_by_order ON fills (order_hash, id);

CREATE TABLE refusals (
    id              INTEGER PRIMARY KEY,
    client_order_id TEXT    NOT NULL,
    token           TEXT    NOT NULL,
    intent_json     TEXT    NOT NULL CHECK (json_valid(intent_json)),
    reason          TEXT    NOT NULL CHECK (reason <> ''),
    at_ms           INTEGER NOT NULL
) STRICT;

CREATE TABLE notes (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind <> ''),
    detail_json TEXT    NOT NULL CHECK (json_valid(detail_json)),
    at_ms       INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_by_kind ON notes (kind, id);

CREATE TRIGGER order_events_append_only_u BEFORE UPDATE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER order_events_append_only_d BEFORE DELETE ON order_events
BEGIN SELECT RAISE(ABORT, 'order_events is append-only'); END;
CREATE TRIGGER fills_append_only_u BEFORE UPDATE ON fills
BEGIN SELECT RAISE(ABORT, 'fills is append-only'); END;
CREATE TRIGGER fills_append_only_d BEFORE DELETE ON fills
BEGIN SELECT RAISE(ABORT, 'fills is append-only'); END;
CREATE TRIGGER refusals_append_only_u BEFORE UPDATE ON refusals
BEGIN SELECT RAISE(ABORT, 'refusals is append-only'); END;
CREATE TRIGGER refusals_append_only_d BEFORE DELETE ON refusals
BEGIN SELECT RAISE(ABORT, 'refusals is append-only'); END;
CREATE TRIGGER notes_append_only_u BEFORE UPDATE ON notes
BEGIN SELECT RAISE(ABORT, 'notes is append-only'); END;
CREATE TRIGGER notes_append_only_d BEFORE DELETE ON notes
BEGIN SELECT RAISE(ABORT, 'notes is append-only'); END;
";

/// What an SQLite file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// No tables and no application id: a new (or empty) file.
    Empty,
    /// A pmbot journal at this schema version.
    Journal { version: u32 },
}

/// Tells a pmbot journal from an empty file and from anything else.
pub(crate) fn inspect(conn: &Connection, path: &Path) -> Result<FileState, JournalError> {
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(|e| classify(path, e))?;
    let objects: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).map_err(|e| classify(path, e))?;
    if app_id == 0 && objects == 0 {
        return Ok(FileState::Empty);
    }
    if app_id != APPLICATION_ID {
        let reason = if app_id == 0 {
            "an SQLite database without pmbot's application id (another program's file?)".to_string()
        } else {
            format!("an SQLite database with application id {app_id:#x}, not pmbot's {APPLICATION_ID:#x}")
        };
        return Err(JournalError::NotAJournal { path: path.to_path_buf(), reason });
    }
    let has_versions: Option<String> = conn
        .query_row("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'", [], |r| r.get(0))
        .optional()
        .map_err(|e| classify(path, e))?;
    if has_versions.is_none() {
        return Err(corrupt(path, "pmbot's application id but no schema_version table"));
    }
    let version: Option<i64> =
        conn.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0)).map_err(|e| classify(path, e))?;
    let version = version.ok_or_else(|| corrupt(path, "schema_version is empty"))?;
    let version = u32::try_from(version).map_err(|_| corrupt(path, format!("schema version {version}")))?;
    Ok(FileState::Journal { version })
}

/// Brings the file to the last of `migrations` in one transaction: an empty
/// file is created, an older journal migrated, a newer one refused. Returns
/// the version the file is at.
pub(crate) fn migrate(conn: &mut Connection, path: &Path, migrations: &[Migration]) -> Result<u32, JournalError> {
    let supported = migrations.last().map_or(0, |m| m.version);
    // IMMEDIATE: take the write lock before reading the version, so what is
    // read is what is migrated.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| classify(path, e))?;
    let current = match inspect(&tx, path)? {
        FileState::Empty => {
            tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(|e| classify(path, e))?;
            tx.execute_batch(BOOTSTRAP).map_err(|e| classify(path, e))?;
            0
        }
        FileState::Journal { version } => version,
    };
    if current > supported {
        return Err(JournalError::NewerSchema { path: path.to_path_buf(), found: current, supported });
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql).map_err(|e| classify(path, e))?;
        tx.execute("INSERT INTO schema_version (version, description) VALUES (?1, ?2)", (m.version, m.description))
            .map_err(|e| classify(path, e))?;
    }
    tx.commit().map_err(|e| classify(path, e))?;
    Ok(supported)
}
