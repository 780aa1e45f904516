//! `pmbot summary` as a user runs it: on the journal of a simulated paper
//! run, every printed figure equals what the test's own SQL recomputes from
//! the journal file; nothing from the configuration is printed; bad input is
//! one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use pmbot_core::Usdc;
use rusqlite::{Connection, OpenFlags};

fn pmbot() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    c.env_remove("RUST_LOG");
    // An ops server of its own on a free port (tests run side by side).
    c.env("PMBOT_OPS__HTTP", "127.0.0.1:0");
    c
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-summary-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Two markets stepped once a second (as the paper tests run it).
const LIGHT_SIM: &str = "[sim.source]\nkind = \"synthetic\"\nseed = 11\nmarkets = 2\nstep_interval_ms = 1000\n";

/// One journal for every test here: `paper --sim` for 2 h after a 1 h warm-up.
fn sim_journal() -> &'static Path {
    static JOURNAL: OnceLock<PathBuf> = OnceLock::new();
    JOURNAL.get_or_init(|| {
        let dir = scratch("paper");
        std::fs::write(dir.join("pmbot.toml"), LIGHT_SIM).unwrap();
        let out = pmbot()
            .current_dir(&dir)
            .args(["--config", "pmbot.toml", "paper", "--sim", "--duration", "2h", "--warmup", "1h"])
            .args(["--journal", "paper.sqlite", "--report", "report"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        dir.join("paper.sqlite")
    })
}

/// The journal copied into a folder of the test's own (summaries are written beside it).
fn journal_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    let path = dir.join("journal.sqlite");
    std::fs::copy(sim_journal(), &path).unwrap();
    path
}

fn sql(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// The run's UTC day, from the journal.
fn run_day(conn: &Connection) -> (String, i64) {
    conn.query_row(
        "SELECT strftime('%Y-%m-%d', started_ms / 1000, 'unixepoch'),
                (started_ms / 86400000) * 86400000 FROM runs ORDER BY id LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn int(conn: &Connection, sql: &str, start: i64) -> i64 {
    conn.query_row(sql, [start, start + 86_400_000], |r| r.get::<_, Option<i64>>(0)).unwrap().unwrap_or(0)
}

/// The value cell of the figures row `label`.
fn cell<'a>(md: &'a str, label: &str) -> &'a str {
    let prefix = format!("| {label} | ");
    let line = md.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no row {label:?} in\n{md}"));
    line[prefix.len()..].trim_end_matches(" |")
}

/// "+0.60" or "1.25 (3 fills)" as micros.
fn micros(text: &str) -> i64 {
    let amount = text.split_whitespace().next().unwrap().trim_start_matches('+');
    Usdc::parse(amount).unwrap_or_else(|e| panic!("{text:?}: {e}")).micros()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn the_printed_figures_equal_sql_over_the_journal() {
    let journal = journal_copy("figures");
    let conn = sql(&journal);
    let (date, start) = run_day(&conn);
    let out = pmbot().args(["summary", "--date", &date, "--journal", s(&journal)]).output().unwrap();
    let md = ok(&out);

    // Written beside the journal, the same text as printed.
    let beside = journal.parent().unwrap().join(format!("pmbot-summary-{date}.md"));
    assert_eq!(std::fs::read_to_string(&beside).unwrap(), md);
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), format!("wrote {}", beside.display()));
    assert!(md.contains(&format!("The whole UTC day {date}, 00:00 to 24:00.")), "{md}");
    assert!(md.contains("simulator or on replayed data"), "the simulator is not live trading: {md}");

    let runs = int(&conn, "SELECT count(*) FROM runs WHERE started_ms >= ?1 AND started_ms < ?2", start);
    assert_eq!(cell(&md, "runs"), format!("{runs} (paper on simulator {runs})"));
    let closed = "FROM trades WHERE closed_ms >= ?1 AND closed_ms < ?2";
    let trades = int(&conn, &format!("SELECT count(*) {closed}"), start);
    assert!(trades > 0, "two simulated hours close trades");
    assert_eq!(cell(&md, "closed trades"), trades.to_string());
    assert_eq!(
        cell(&md, "wins"),
        int(&conn, &format!("SELECT count(*) {closed} AND pnl_micros > 0"), start).to_string()
    );
    assert_eq!(
        micros(cell(&md, "P&L after fees (pUSD)")),
        int(&conn, &format!("SELECT sum(pnl_micros) {closed}"), start)
    );
    assert_eq!(
        micros(cell(&md, "fees in that P&L (pUSD)")),
        int(&conn, &format!("SELECT sum(fees_micros) {closed}"), start)
    );
    let fills = "FROM fills WHERE received_ms >= ?1 AND received_ms < ?2";
    let fees = int(
        &conn,
        &format!(
            "SELECT sum(CASE fee_kind WHEN 'collateral' THEN fee_micros
                                      WHEN 'shares' THEN (price_pips * fee_micros + 9999) / 10000 ELSE 0 END) {fills}"
        ),
        start,
    );
    let fill_count = int(&conn, &format!("SELECT count(*) {fills}"), start);
    let fees_cell = cell(&md, "fees paid on the day's fills (pUSD)");
    assert_eq!(micros(fees_cell), fees);
    assert!(fees_cell.ends_with(&format!("({fill_count} fills)")), "{fees_cell}");
    // In paper, the fees paid are also what the ledger's last mark says.
    assert_eq!(fees, int(&conn, "SELECT fees_micros FROM marks WHERE ?1 < ?2 ORDER BY id DESC LIMIT 1", start));
    let orders = format!(
        "{} / {} / {}",
        int(&conn, "SELECT count(*) FROM orders WHERE created_ms >= ?1 AND created_ms < ?2", start),
        int(&conn, &format!("SELECT count(DISTINCT order_hash) {fills}"), start),
        int(
            &conn,
            "SELECT count(DISTINCT client_order_id) FROM order_events
             WHERE status = 'rejected' AND at_ms >= ?1 AND at_ms < ?2",
            start
        ),
    );
    assert_eq!(cell(&md, "orders placed / filled / rejected"), orders);
    // Refusals by reason: the table rows, then the total.
    let mut stmt = conn
        .prepare(
            "SELECT reason, count(*) FROM decisions WHERE action = 'refused' AND at_ms >= ?1 AND at_ms < ?2
             GROUP BY reason ORDER BY reason",
        )
        .unwrap();
    let refusals: Vec<(String, i64)> = stmt
        .query_map([start, start + 86_400_000], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (reason, n) in &refusals {
        assert!(md.contains(&format!("| `{reason}` | {n} |")), "refusal {reason} x {n} missing from\n{md}");
    }
    assert_eq!(cell(&md, "risk refusals"), refusals.iter().map(|r| r.1).sum::<i64>().to_string());
    // The largest exposure, and the one at the day's last mark.
    let marks = "FROM marks WHERE at_ms >= ?1 AND at_ms < ?2";
    let max = int(&conn, &format!("SELECT max(positions_micros) {marks}"), start);
    assert_eq!(micros(cell(&md, "largest exposure at a mark (pUSD)")), max);
    let last = int(&conn, &format!("SELECT positions_micros {marks} ORDER BY at_ms DESC, id DESC LIMIT 1"), start);
    let exposure = cell(&md, "exposure at the day's last mark");
    let worth = exposure.split(" worth ").nth(1).unwrap_or_else(|| panic!("{exposure}"));
    assert_eq!(micros(worth), last);
    // Uptime: the run from 01:00 to 03:00, ended.
    let up = int(
        &conn,
        "SELECT sum(min(e.ended_ms, ?2) - max(r.started_ms, ?1)) FROM runs r JOIN run_ends e ON e.run_id = r.id",
        start,
    );
    assert_eq!(up, 2 * 3_600_000);
    assert_eq!(cell(&md, "uptime"), "2 h of 1 d (8.3%)");
    let reconnects = int(
        &conn,
        "SELECT count(*) FROM notes WHERE kind = 'market_data_reconnect' AND at_ms >= ?1 AND at_ms < ?2",
        start,
    );
    assert_eq!(cell(&md, "market-data reconnects"), reconnects.to_string());
    let alerts = int(&conn, "SELECT count(*) FROM notes WHERE kind = 'alert' AND at_ms >= ?1 AND at_ms < ?2", start);
    assert_eq!(cell(&md, "alerts"), alerts.to_string());

    // Nothing from the stored configuration: no setting's text, not its hash.
    let (config, hash): (String, String) = conn
        .query_row("SELECT config_json, config_hash FROM runs LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let mut leaves = Vec::new();
    string_leaves(&config, &mut leaves);
    assert!(!leaves.is_empty(), "the run stores its settings: {config}");
    for leaf in leaves.iter().filter(|l| l.len() >= 8) {
        assert!(!md.contains(leaf.as_str()), "setting {leaf:?} printed");
    }
    assert!(!md.contains(&hash[..12]));
}

fn string_leaves(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| string_leaves(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| string_leaves(v, out)),
        _ => {}
    }
}

#[test]
fn today_is_the_day_so_far_and_out_writes_elsewhere() {
    let journal = journal_copy("today");
    let out_file = journal.parent().unwrap().join("elsewhere.md");
    let out = pmbot().args(["summary", "--journal", s(&journal), "--out", s(&out_file)]).output().unwrap();
    let md = ok(&out);
    assert!(md.contains("The day so far"), "{md}");
    assert!(md.contains("| closed trades | 0 |"), "the simulated day is long past: {md}");
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), md);
    let beside: Vec<_> = std::fs::read_dir(journal.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pmbot-summary-"))
        .collect();
    assert!(beside.is_empty(), "--out writes only there: {beside:?}");
}

#[test]
fn the_journal_path_comes_from_the_config() {
    let journal = journal_copy("config");
    let dir = journal.parent().unwrap();
    std::fs::write(dir.join("pmbot.toml"), "[journal]\npath = \"journal.sqlite\"\n").unwrap();
    let (date, _) = run_day(&sql(&journal));
    let out = pmbot().current_dir(dir).args(["--config", "pmbot.toml", "summary", "--date", &date]).output().unwrap();
    ok(&out);
    assert!(dir.join(format!("pmbot-summary-{date}.md")).is_file());
}

#[test]
fn bad_input_is_one_line() {
    let dir = scratch("bad");
    let journal = journal_copy("bad-journal");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--date".into(), "2026-02-30".into(), "--journal".into(), s(&journal).into()], "--date"),
        (vec!["--date".into(), "yesterday".into(), "--journal".into(), s(&journal).into()], "YYYY-MM-DD"),
        (vec!["--journal".into(), s(&dir.join("missing.sqlite")).into()], "does not exist"),
        (vec!["--date".into(), "2999-01-01".into(), "--journal".into(), s(&journal).into()], "not begun"),
        (
            vec!["--journal".into(), s(&journal).into(), "--out".into(), s(&dir.join("no/such/dir/x.md")).into()],
            "cannot write",
        ),
    ];
    for (args, needle) in cases {
        let out = pmbot().arg("summary").args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line for {args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A file that is not a journal.
    let not = dir.join("not.sqlite");
    std::fs::write(&not, "hello").unwrap();
    let out = pmbot().args(["summary", "--journal", s(&not)]).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end().lines().count(), 1);
}
