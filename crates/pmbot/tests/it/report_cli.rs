//! `pmbot report` as a user runs it: a journal written with the journal's
//! API, reported into a new folder; bad input is one clear line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pmbot_core::{ClientOrderId, Hash32, Size, TimestampMs, TokenId, Usdc};
use pmbot_engine::journal::{DataSource, Decision, DecisionAction, EngineRow, Journal, Mark, RunMode, RunStart, Trade};
use serde_json::json;

fn pmbot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmbot")).args(args).env_remove("RUST_LOG").output().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-report-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// One live-data paper run: a refused order and one trade that made 0.43
/// after 0.07 of fees.
fn journal(path: &Path) {
    let t = |ms: i64| TimestampMs::from_millis(1_709_251_200_000 + ms);
    let mut j = Journal::open(path).unwrap();
    let run = j
        .start_run(&RunStart {
            mode: RunMode::Paper,
            data_source: DataSource::LiveData,
            config: json!({"paper": {"latency_ms": 250, "walk_book": true}}),
            model_fingerprint: "0123456789abcdef".into(),
            model: json!({"horizon_ms": 60_000, "confidence_threshold": "0.4"}),
            pmbot_version: "0.1.0".into(),
            gate_override: Some("testing the report".into()),
            started: t(0),
        })
        .unwrap();
    let decision = |ms, action, reason: &str| {
        EngineRow::Decision(Decision {
            run,
            at: t(ms),
            market: Hash32([3; 32]),
            up_token: TokenId::parse("77").unwrap(),
            up_mid2_pips: Some(10_000),
            p_up: Some("0.8".parse().unwrap()),
            confidence: Some("0.6".parse().unwrap()),
            action,
            reason: reason.into(),
            client_order_id: None,
            detail: json!({}),
        })
    };
    let mark = |ms, equity| {
        EngineRow::Mark(Mark {
            run,
            at: t(ms),
            cash: Usdc::from_micros(equity),
            positions: Usdc::ZERO,
            unredeemed: Usdc::ZERO,
            realised: Usdc::ZERO,
            fees: Usdc::ZERO,
            open_positions: 0,
        })
    };
    j.record_rows(&[
        mark(0, 300_000_000),
        decision(1_000, DecisionAction::Enter, "entry"),
        decision(30_000, DecisionAction::Refused, "max_open_positions"),
        decision(61_000, DecisionAction::Exit, "take_profit"),
        EngineRow::Trade(Trade {
            run,
            market: Hash32([3; 32]),
            token: TokenId::parse("77").unwrap(),
            entry_order: ClientOrderId::new("en-1").unwrap(),
            opened: t(1_000),
            closed: t(61_000),
            shares: Size::from_shares(10),
            cost: Usdc::from_micros(5_070_000),
            proceeds: Usdc::from_micros(5_500_000),
            fees: Usdc::from_micros(70_000),
            close_reason: "take_profit".into(),
            confidence: None,
            probability: None,
        }),
        mark(61_000, 300_430_000),
    ])
    .unwrap();
    j.end_run(run, t(120_000), "duration").unwrap();
}

#[test]
fn report_writes_markdown_html_and_plots_and_prints_their_paths() {
    let dir = temp_dir("ok");
    let journal_path = dir.join("journal.sqlite");
    journal(&journal_path);
    let out_dir = dir.join("reports/today");
    let out = pmbot(&["report", "--journal", s(&journal_path), "--out", s(&out_dir)]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let names =
        ["equity.png", "drawdown.png", "pnl_histogram.png", "fees.png", "daily_pnl.png", "report.html", "report.md"];
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), names.len(), "{stdout}");
    for (line, name) in printed.iter().zip(names) {
        let path = out_dir.join(name);
        assert_eq!(*line, format!("wrote {}", path.display()));
        assert!(path.is_file(), "{}", path.display());
    }
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for needle in [
        "| closed trades | 1 |",
        "| P&L after fees | **+0.43** |",
        "| fees paid | 0.07 |",
        "| `max_open_positions` | 1 |",
        "| `latency_ms` | `250` |",
        "yes: testing the report",
        "Too few trades to judge.",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("<link"));
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 5);

    // Written again from the same journal: the same bytes.
    let again = dir.join("again");
    assert!(pmbot(&["report", "--journal", s(&journal_path), "--out", s(&again)]).status.success());
    for name in names {
        assert_eq!(std::fs::read(out_dir.join(name)).unwrap(), std::fs::read(again.join(name)).unwrap(), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_record_that_meets_every_target_reads_so() {
    let dir = temp_dir("passing");
    let journal_path = dir.join("journal.sqlite");
    pmbot_testkit::journals::GateFixture::passing().create(&journal_path).unwrap();
    let out = pmbot(&["report", "--journal", s(&journal_path), "--out", s(&dir.join("r"))]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let md = std::fs::read_to_string(dir.join("r/report.md")).unwrap();
    assert_eq!(md.matches("| **yes** |").count(), 4, "{md}");
    assert!(!md.contains("| **no** |"), "{md}");
    for needle in [
        "| closed trades | 137 |",
        "| P&L after fees | **+46.90** |",
        "| fees paid | 6.85 |",
        "95% Wilson interval [72.8%, 86.1%]: the whole interval is above 70%.",
        // The hit rate meets the target, but its interval does not settle it.
        "| these runs | **90.0%** | [82.6%, 94.5%] | 100 |",
        "Too few scored calls to judge: the interval [82.6%, 94.5%] contains the 85% target.",
        "| `live_data` | yes | 1 | 137 |",
        "| `kill_switch` | 1 |",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    assert!(!md.contains("Too few trades"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_journal_gives_a_report_that_says_so() {
    let dir = temp_dir("empty");
    let journal_path = dir.join("journal.sqlite");
    drop(Journal::open(&journal_path).unwrap());
    let out = pmbot(&["report", "--journal", s(&journal_path), "--out", s(&dir.join("r"))]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let md = std::fs::read_to_string(dir.join("r/report.md")).unwrap();
    assert!(md.contains("Nothing to report"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_one_clear_line() {
    let dir = temp_dir("bad");
    let journal_path = dir.join("journal.sqlite");
    journal(&journal_path);
    let not_a_journal = dir.join("notes.txt");
    std::fs::write(&not_a_journal, "hello, this is not SQLite at all, just some text that is long enough").unwrap();
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let missing = dir.join("missing.sqlite");
    let (r1, r2, under_a_file) = (dir.join("r1"), dir.join("r2"), blocker.join("r"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["report", "--journal", s(&missing), "--out", s(&r1)], "missing.sqlite"),
        (vec!["report", "--journal", s(&not_a_journal), "--out", s(&r2)], "notes.txt"),
        (vec!["report", "--journal", s(&journal_path), "--out", s(&under_a_file)], "a-file"),
    ];
    for (args, needle) in cases {
        let out = pmbot(&args);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?} succeeded: {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("pmbot: ") && stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(!missing.exists(), "a missing journal is not created");
    assert!(!r1.exists() && !r2.exists(), "nothing written on a bad journal");
    let _ = std::fs::remove_dir_all(&dir);
}
