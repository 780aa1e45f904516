//! Opening: creation, reopening, migration, and every file that is refused.

use rusqlite::Connection;

use super::super::schema::{APPLICATION_ID, MIGRATIONS, Migration};
use super::super::{Access, Journal, JournalError, SCHEMA_VERSION};
use super::*;

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// The error names the journal's path, in its text too.
fn assert_names_path(e: &JournalError, path: &Path) {
    assert_eq!(e.path(), path);
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

#[test]
fn a_new_file_is_created_in_wal_mode_with_full_sync() {
    let s = Scratch::new("create");
    let path = s.journal();
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.path(), path);
    assert_eq!(j.access(), Access::ReadWrite);
    assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 4);
    let c = j.connection();
    let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = c.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    assert_eq!(sync, 2, "synchronous=FULL");
    let fk: i64 = c.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
    assert_eq!(fk, 1);
    let app: i32 = c.pragma_query_value(None, "application_id", |r| r.get(0)).unwrap();
    assert_eq!(app, APPLICATION_ID);
    let versions: Vec<(u32, String)> = c
        .prepare("SELECT version, description FROM schema_version ORDER BY version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(u32, String)> = MIGRATIONS.iter().map(|m| (m.version, m.description.to_string())).collect();
    assert_eq!(versions.iter().map(|v| v.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(versions, expected);
    let mut tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    let want = [
        "decisions",
        "fills",
        "marks",
        "notes",
        "order_events",
        "orders",
        "payouts",
        "redemptions",
        "refusals",
        "run_ends",
        "run_orders",
        "runs",
        "schema_version",
        "trades",
    ];
    assert_eq!(tables, want);
    assert!(s.path("journal.sqlite-wal").exists(), "the write-ahead log is in use");
    assert!(s.path("journal.sqlite-lock").exists(), "the writer lock is held");
}

#[test]
fn reopening_keeps_rows_and_does_not_migrate_again() {
    let s = Scratch::new("reopen");
    let path = s.journal();
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_order(&order(1)).unwrap();
    }
    let j = Journal::open(&path).unwrap();
    assert_eq!(ids(&j.orders().unwrap()), ["pmbot-000001"]);
    let rows: i64 = j.connection().query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, MIGRATIONS.len() as i64);
}

#[test]
fn an_existing_empty_file_becomes_a_journal() {
    let s = Scratch::new("empty");
    let path = s.journal();
    std::fs::write(&path, b"").unwrap();
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_file_that_is_not_sqlite_is_not_a_journal_and_is_left_alone() {
    let s = Scratch::new("garbage");
    for (name, content) in [
        ("text", b"hello, this is a text file and no database\n".repeat(200)),
        ("noise", (0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
    ] {
        let path = s.path(name);
        std::fs::write(&path, &content).unwrap();
        let e = Journal::open(&path).unwrap_err();
        assert!(matches!(e, JournalError::NotAJournal { .. }), "{name}: {e}");
        assert_names_path(&e, &path);
        let e = Journal::open_read_only(&path).unwrap_err();
        assert!(matches!(e, JournalError::NotAJournal { .. }), "{name}: {e}");
        assert_eq!(bytes(&path), content, "{name} was changed");
    }
}

#[test]
fn another_programs_database_is_not_a_journal_and_is_left_alone() {
    let s = Scratch::new("foreign");
    let plain = s.path("plain.db");
    raw(&plain).execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)").unwrap();
    let other_app = s.path("other-app.db");
    {
        let c = raw(&other_app);
        c.pragma_update(None, "application_id", 0x1234_5678).unwrap();
        c.execute_batch("CREATE TABLE t (x)").unwrap();
    }
    for (path, says) in [(&plain, "without pmbot's application id"), (&other_app, "0x12345678")] {
        let before = bytes(path);
        let e = Journal::open(path).unwrap_err();
        match &e {
            JournalError::NotAJournal { reason, .. } => assert!(reason.contains(says), "{reason}"),
            other => panic!("{other}"),
        }
        assert_names_path(&e, path);
        assert!(matches!(Journal::open_read_only(path), Err(JournalError::NotAJournal { .. })));
        assert_eq!(bytes(path), before, "{} was changed", path.display());
    }
}

#[test]
fn pmbots_id_without_a_version_table_is_corrupt() {
    let s = Scratch::new("noversions");
    let path = s.journal();
    {
        let c = raw(&path);
        c.pragma_update(None, "application_id", APPLICATION_ID).unwrap();
        c.execute_batch("CREATE TABLE orders (x)").unwrap();
    }
    let e = Journal::open(&path).unwrap_err();
    assert!(matches!(&e, JournalError::Corrupt { reason, .. } if reason.contains("schema_version")), "{e}");
    assert_names_path(&e, &path);
}

#[test]
fn a_damaged_file_is_corrupt() {
    let s = Scratch::new("corrupt");
    let path = s.journal();
    {
        let mut j = Journal::open(&path).unwrap();
        for n in 0..200 {
            j.record_order(&order(n)).unwrap();
        }
    }
    let good = bytes(&path);
    assert!(good.len() > 16 * 4096, "{} bytes", good.len());
    // Damage the tail (order rows and indexes) while the header and the
    // schema page stay intact, so only a check of the whole file finds it.
    let mut tail = good.clone();
    let n = tail.len();
    tail[n - 3 * 4096..n - 4096].fill(0xa7);
    std::fs::write(&path, &tail).unwrap();
    let e = Journal::open(&path).unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e}");
    assert_names_path(&e, &path);
    assert!(matches!(Journal::open_read_only(&path), Err(JournalError::Corrupt { .. })));

    // Damage everything after the first page (the version table included).
    let mut body = good;
    let n = body.len();
    body[4096..n].fill(0x3c);
    std::fs::write(&path, &body).unwrap();
    let e = Journal::open(&path).unwrap_err();
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e}");
}

#[test]
fn unreadable_paths_are_named() {
    let s = Scratch::new("unreadable");
    let missing_dir = s.path("no-such-dir").join("journal.sqlite");
    let e = Journal::open(&missing_dir).unwrap_err();
    assert!(matches!(e, JournalError::Unreadable { .. }), "{e}");
    assert_names_path(&e, &missing_dir);

    let missing = s.path("missing.sqlite");
    let e = Journal::open_read_only(&missing).unwrap_err();
    assert!(matches!(e, JournalError::Unreadable { .. }), "{e}");
    assert_names_path(&e, &missing);
    assert!(!missing.exists(), "a reader never creates the file");

    let dir = s.path("a-directory");
    std::fs::create_dir(&dir).unwrap();
    let e = Journal::open(&dir).unwrap_err();
    assert!(matches!(e, JournalError::Unreadable { .. }), "{e}");
    assert_names_path(&e, &dir);
    let e = Journal::open_read_only(&dir).unwrap_err();
    assert!(matches!(e, JournalError::Unreadable { .. }), "{e}");
}

#[test]
fn a_reader_refuses_an_empty_file() {
    let s = Scratch::new("reader-empty");
    let path = s.journal();
    std::fs::write(&path, b"").unwrap();
    let e = Journal::open_read_only(&path).unwrap_err();
    assert!(matches!(&e, JournalError::NotAJournal { reason, .. } if reason.contains("empty")), "{e}");
}

#[test]
fn a_journal_from_a_newer_pmbot_is_refused_untouched() {
    let s = Scratch::new("newer");
    let path = s.journal();
    drop(Journal::open(&path).unwrap());
    raw(&path).execute("INSERT INTO schema_version (version, description) VALUES (5, 'from the future')", []).unwrap();
    let before = bytes(&path);
    let e = Journal::open(&path).unwrap_err();
    assert!(matches!(e, JournalError::NewerSchema { found: 5, supported: 4, .. }), "{e}");
    assert_names_path(&e, &path);
    let e = Journal::open_read_only(&path).unwrap_err();
    assert!(matches!(e, JournalError::NewerSchema { found: 5, supported: 4, .. }), "{e}");
    assert_eq!(bytes(&path), before);
}

#[test]
fn a_reader_does_not_migrate_an_older_journal() {
    let s = Scratch::new("older");
    let path = s.journal();
    {
        // A journal at version 0: bootstrapped, no migration applied.
        let c = raw(&path);
        c.pragma_update(None, "application_id", APPLICATION_ID).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL) STRICT;
             INSERT INTO schema_version VALUES (0, 'bootstrap');",
        )
        .unwrap();
    }
    let e = Journal::open_read_only(&path).unwrap_err();
    assert!(matches!(e, JournalError::OlderSchema { found: 0, current: 4, .. }), "{e}");
    // The writer migrates it.
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
    j.record_order(&order(1)).unwrap();
    drop(j);
    assert_eq!(Journal::open_read_only(&path).unwrap().orders().unwrap().len(), 1);
}

const NEXT_TEST: Migration = Migration {
    version: 5,
    description: "test: quotes",
    sql: "CREATE TABLE quotes (id INTEGER PRIMARY KEY, token TEXT NOT NULL, price_pips INTEGER NOT NULL) STRICT;",
};

#[test]
fn migrations_apply_in_order_and_keep_the_rows() {
    let s = Scratch::new("migrate");
    let path = s.journal();
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_order(&order(7)).unwrap();
    }
    let migrations = [MIGRATIONS[0], MIGRATIONS[1], MIGRATIONS[2], MIGRATIONS[3], NEXT_TEST];
    let j = Journal::open_with(&path, &migrations).unwrap();
    assert_eq!(j.schema_version().unwrap(), 5);
    j.connection().execute("INSERT INTO quotes (token, price_pips) VALUES ('1', 5200)", []).unwrap();
    assert_eq!(ids(&j.orders().unwrap()), ["pmbot-000007"]);
    let versions: Vec<u32> = j
        .connection()
        .prepare("SELECT version FROM schema_version ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    drop(j);
    // This build (version 4) must now refuse the file.
    assert!(matches!(Journal::open(&path), Err(JournalError::NewerSchema { found: 5, supported: 4, .. })));

    // An empty file goes straight to the last version.
    let fresh = s.path("fresh.sqlite");
    assert_eq!(Journal::open_with(&fresh, &migrations).unwrap().schema_version().unwrap(), 5);
}

#[test]
fn a_failing_migration_changes_nothing() {
    let s = Scratch::new("migrate-fail");
    let path = s.journal();
    {
        let mut j = Journal::open(&path).unwrap();
        j.record_order(&order(1)).unwrap();
    }
    let broken = Migration {
        version: 5,
        description: "broken",
        sql: "CREATE TABLE half_done (x INTEGER) STRICT; INSERT INTO no_such_table VALUES (1);",
    };
    let e =
        Journal::open_with(&path, &[MIGRATIONS[0], MIGRATIONS[1], MIGRATIONS[2], MIGRATIONS[3], broken]).unwrap_err();
    assert!(matches!(e, JournalError::Storage { .. }), "{e}");
    assert!(e.to_string().contains("no_such_table"), "{e}");
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.schema_version().unwrap(), 4);
    let half: i64 = j
        .connection()
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(half, 0, "the migration's first statement was rolled back too");
    assert_eq!(j.orders().unwrap().len(), 1);
}

#[test]
fn there_is_one_writer_at_a_time() {
    let s = Scratch::new("in-use");
    let path = s.journal();
    let j = Journal::open(&path).unwrap();
    let e = Journal::open(&path).unwrap_err();
    match &e {
        JournalError::InUse { lock, .. } => assert_eq!(lock, &s.path("journal.sqlite-lock")),
        other => panic!("{other}"),
    }
    assert_names_path(&e, &path);
    // Readers are welcome beside the writer.
    assert_eq!(Journal::open_read_only(&path).unwrap().access(), Access::ReadOnly);
    drop(j);
    // Released with the writer.
    Journal::open(&path).unwrap();
}

#[test]
fn a_writer_that_closes_within_a_moment_does_not_block_the_next() {
    let s = Scratch::new("in-use-briefly");
    let path = s.journal();
    let j = Journal::open(&path).unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(j);
    });
    // Opened while the first writer still holds the lock, it waits it out.
    Journal::open(&path).unwrap();
    closer.join().unwrap();
}

#[test]
fn a_replay_journal_can_stop_waiting_for_the_disk() {
    let s = Scratch::new("relaxed");
    let j = Journal::open(s.journal()).unwrap();
    j.relax_durability_for_replay().unwrap();
    let sync: i64 = j.connection().pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    assert_eq!(sync, 1, "synchronous=NORMAL");
    drop(j);
    // A new handle is FULL again: the setting never outlives the backtest.
    let j = Journal::open(s.journal()).unwrap();
    let sync: i64 = j.connection().pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    assert_eq!(sync, 2);
}
