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
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, description: "orders, order events, fills, refusals, notes", sql: V1 },
    Migration { version: 2, description: "engine runs, decisions, trades, payouts, P&L marks", sql: V2 },
    Migration { version: 3, description: "redemptions; resolved-unredeemed value in marks", sql: V3 },
    Migration { version: 4, description: "fill fees in pUSD on both sides (CLOB V2)", sql: V4 },
];

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

/// The trading engine's record (issue 6). A run is one start of the engine:
/// its mode, where its market data came from (only `live_data` counts for
/// the go-live gate), the hash of its settings and the model it used.
const V2: &str = "
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    mode              TEXT    NOT NULL CHECK (mode IN ('paper', 'backtest', 'live')),
    data_source       TEXT    NOT NULL CHECK (data_source IN ('live_data', 'replay', 'simulator')),
    -- sha256 (hex) of config_json as stored
    config_hash       TEXT    NOT NULL CHECK (length(config_hash) = 64),
    -- strategy, risk and paper-venue settings; never a secret
    config_json       TEXT    NOT NULL CHECK (json_valid(config_json)),
    model_fingerprint TEXT    NOT NULL CHECK (model_fingerprint <> ''),
    -- horizon, threshold, the model's validated hit rate at the threshold
    model_json        TEXT    NOT NULL CHECK (json_valid(model_json)),
    pmbot_version     TEXT    NOT NULL,
    -- the reason given with --override-gate, when the gate was overridden
    gate_override     TEXT    CHECK (gate_override IS NULL OR gate_override <> ''),
    started_ms        INTEGER NOT NULL
) STRICT;

CREATE TABLE run_ends (
    run_id   INTEGER PRIMARY KEY REFERENCES runs (id),
    ended_ms INTEGER NOT NULL,
    reason   TEXT    NOT NULL CHECK (reason <> '')
) STRICT;

-- which run placed an order (orders predate runs, so this is beside them)
CREATE TABLE run_orders (
    client_order_id TEXT    PRIMARY KEY REFERENCES orders (client_order_id),
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    market          TEXT    NOT NULL
) STRICT;

-- every sample at which the strategy looked at a market, and what came of it
CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    at_ms           INTEGER NOT NULL,
    market          TEXT    NOT NULL,
    up_token        TEXT    NOT NULL,
    -- the UP book's best bid + best ask in pips (twice the mid); NULL unless two-sided
    up_mid2_pips    INTEGER CHECK (up_mid2_pips IS NULL OR up_mid2_pips BETWEEN 0 AND 20000),
    -- exact decimal text; NULL when the features were not ready
    p_up            TEXT,
    confidence      TEXT,
    action          TEXT    NOT NULL CHECK (action IN ('enter', 'exit', 'pass', 'refused', 'not_ready')),
    -- the pass rule, the risk refusal code, the exit reason, or 'entry'
    reason          TEXT    NOT NULL CHECK (reason <> ''),
    client_order_id TEXT,
    detail_json     TEXT    NOT NULL CHECK (json_valid(detail_json))
) STRICT;
CREATE INDEX decisions_by_run ON decisions (run_id, id);

CREATE TABLE payouts (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    market        TEXT    NOT NULL,
    token         TEXT    NOT NULL,
    shares_micros INTEGER NOT NULL CHECK (shares_micros >= 0),
    amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
    at_ms         INTEGER NOT NULL
) STRICT;

-- a closed position: bought, then sold or paid out at resolution
CREATE TABLE trades (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    market          TEXT    NOT NULL,
    token           TEXT    NOT NULL,
    entry_order     TEXT    NOT NULL,
    opened_ms       INTEGER NOT NULL,
    closed_ms       INTEGER NOT NULL CHECK (closed_ms >= opened_ms),
    -- shares matched on the buys (before fee shares withheld)
    shares_micros   INTEGER NOT NULL CHECK (shares_micros > 0),
    -- pUSD paid for the buys, pUSD fees included
    cost_micros     INTEGER NOT NULL CHECK (cost_micros >= 0),
    -- pUSD received from sells (after their fees) and payouts
    proceeds_micros INTEGER NOT NULL CHECK (proceeds_micros >= 0),
    -- fees paid: pUSD fees plus fee shares valued at their fill price
    fees_micros     INTEGER NOT NULL CHECK (fees_micros >= 0),
    -- proceeds - cost: after every fee
    pnl_micros      INTEGER NOT NULL CHECK (pnl_micros = proceeds_micros - cost_micros),
    close_reason    TEXT    NOT NULL CHECK (close_reason <> ''),
    -- at the entry decision, exact decimal text
    confidence      TEXT,
    probability     TEXT
) STRICT;
CREATE INDEX trades_by_run ON trades (run_id, id);

-- the account marked to the best bid, at intervals and after every fill or payout
CREATE TABLE marks (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs (id),
    at_ms            INTEGER NOT NULL,
    cash_micros      INTEGER NOT NULL,
    positions_micros INTEGER NOT NULL CHECK (positions_micros >= 0),
    equity_micros    INTEGER NOT NULL CHECK (equity_micros = cash_micros + positions_micros),
    -- cumulative within the run
    realised_micros  INTEGER NOT NULL,
    fees_micros      INTEGER NOT NULL CHECK (fees_micros >= 0),
    open_positions   INTEGER NOT NULL CHECK (open_positions >= 0)
) STRICT;
CREATE INDEX marks_by_run ON marks (run_id, id);

CREATE TRIGGER runs_keep_rows BEFORE DELETE ON runs
BEGIN SELECT RAISE(ABORT, 'runs are never deleted'); END;
CREATE TRIGGER runs_append_only BEFORE UPDATE ON runs
BEGIN SELECT RAISE(ABORT, 'runs is append-only'); END;
CREATE TRIGGER run_ends_append_only_u BEFORE UPDATE ON run_ends
BEGIN SELECT RAISE(ABORT, 'run_ends is append-only'); END;
CREATE TRIGGER run_ends_append_only_d BEFORE DELETE ON run_ends
BEGIN SELECT RAISE(ABORT, 'run_ends is append-only'); END;
CREATE TRIGGER run_orders_append_only_u BEFORE UPDATE ON run_orders
BEGIN SELECT RAISE(ABORT, 'run_orders is append-only'); END;
CREATE TRIGGER run_orders_append_only_d BEFORE DELETE ON run_orders
BEGIN SELECT RAISE(ABORT, 'run_orders is append-only'); END;
CREATE TRIGGER decisions_append_only_u BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END;
CREATE TRIGGER decisions_append_only_d BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END;
CREATE TRIGGER payouts_append_only_u BEFORE UPDATE ON payouts
BEGIN SELECT RAISE(ABORT, 'payouts is append-only'); END;
CREATE TRIGGER payouts_append_only_d BEFORE DELETE ON payouts
BEGIN SELECT RAISE(ABORT, 'payouts is append-only'); END;
CREATE TRIGGER trades_append_only_u BEFORE UPDATE ON trades
BEGIN SELECT RAISE(ABORT, 'trades is append-only'); END;
CREATE TRIGGER trades_append_only_d BEFORE DELETE ON trades
BEGIN SELECT RAISE(ABORT, 'trades is append-only'); END;
CREATE TRIGGER marks_append_only_u BEFORE UPDATE ON marks
BEGIN SELECT RAISE(ABORT, 'marks is append-only'); END;
CREATE TRIGGER marks_append_only_d BEFORE DELETE ON marks
BEGIN SELECT RAISE(ABORT, 'marks is append-only'); END;
";

/// Redemption (issue 13). Polymarket pays nothing at resolution: winning
/// shares become pUSD only when the holder redeems them on chain. A
/// redemption's transaction hash is written ('sent') before the transaction
/// is broadcast, and a market is confirmed once (the unique index), so a
/// payout can never be counted twice. Marks now say how much of their
/// `positions` is resolved but not yet redeemed (valued at the payout; not
/// cash).
const V3: &str = "
CREATE TABLE redemptions (
    id            INTEGER PRIMARY KEY,
    market        TEXT    NOT NULL CHECK (length(market) = 66),
    -- 'sent': signed, hash known, broadcast or about to be; 'confirmed': paid;
    -- 'failed': mined and reverted (nothing paid)
    status        TEXT    NOT NULL CHECK (status IN ('sent', 'confirmed', 'failed')),
    -- 'chain': a transaction; 'simulator': a simulated exchange's /_sim/redeem
    via           TEXT    NOT NULL CHECK (via IN ('chain', 'simulator')),
    tx_hash       TEXT    CHECK (tx_hash IS NULL OR length(tx_hash) = 66),
    -- sent: the payout expected; confirmed: the payout received
    payout_micros INTEGER CHECK (payout_micros IS NULL OR payout_micros >= 0),
    detail_json   TEXT    NOT NULL CHECK (json_valid(detail_json)),
    at_ms         INTEGER NOT NULL,
    CHECK (status <> 'confirmed' OR payout_micros IS NOT NULL),
    CHECK (status = 'confirmed' OR via = 'simulator' OR tx_hash IS NOT NULL)
) STRICT;
CREATE INDEX redemptions_by_market ON redemptions (market, id);
CREATE UNIQUE INDEX redemptions_confirmed_once ON redemptions (market) WHERE status = 'confirmed';
CREATE TRIGGER redemptions_append_only_u BEFORE UPDATE ON redemptions
BEGIN SELECT RAISE(ABORT, 'redemptions is append-only'); END;
CREATE TRIGGER redemptions_append_only_d BEFORE DELETE ON redemptions
BEGIN SELECT RAISE(ABORT, 'redemptions is append-only'); END;

-- of positions_micros, the part resolved and not yet redeemed (at the payout)
ALTER TABLE marks ADD COLUMN unredeemed_micros INTEGER NOT NULL DEFAULT 0
    CHECK (unredeemed_micros >= 0 AND unredeemed_micros <= positions_micros);
";

/// CLOB V2 charges the taker fee in pUSD on both sides: a BUY receives every
/// share it matched and pays its fee on top (issue 13). From this version a
/// fill's fee is never shares: `fee_kind` is 'none' or 'collateral'. Rows
/// written before keep the meaning they had (fee shares withheld from a
/// BUY) and are read with it.
const V4: &str = "
CREATE TRIGGER fills_fee_in_pusd BEFORE INSERT ON fills WHEN NEW.fee_kind = 'shares'
BEGIN SELECT RAISE(ABORT, 'a fill''s fee is pUSD (CLOB V2), never shares'); END;
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
