//! `pmbot gate --journal FILE` as an operator runs it, on the same fixture
//! journals the engine's gate tests use: every item printed, exit 0 when
//! all pass, 1 with `gate: N of M items failed` when any fails, one error
//! line for a journal that is not there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pmbot_testkit::journals::{GateFixture, KillSwitchTest};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-gate-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `pmbot gate` in `dir` with its pmbot.toml (if any) and `args`.
fn gate(dir: &Path, args: &[&str]) -> (Output, String, String) {
    let config = dir.join("pmbot.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .current_dir(dir)
        .arg("--config")
        .arg(&config)
        .arg("gate")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    (out, stdout, stderr)
}

#[test]
fn a_qualifying_record_passes_and_exits_zero() {
    let dir = temp_dir("pass");
    let journal = dir.join("journal.sqlite");
    GateFixture::passing().create(&journal).unwrap();
    let (out, stdout, stderr) = gate(&dir, &["--journal", journal.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stderr, "");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert!(lines.iter().all(|l| l.starts_with("PASS  ")), "{stdout}");
    assert!(lines.contains(&"PASS  trades on live market data  137 (needs >= 100)"), "{stdout}");
    assert!(lines.contains(&"PASS  kill switch tested  1 order refused by it (needs a kill_switch refusal or the switch seen set in a live-data run)"), "{stdout}");
}

#[test]
fn a_failing_record_prints_every_item_and_exits_one() {
    let dir = temp_dir("fail");
    let journal = dir.join("journal.sqlite");
    GateFixture { trades: 99, wins: 80, kill_switch: KillSwitchTest::None, ..GateFixture::passing() }
        .create(&journal)
        .unwrap();
    let (out, stdout, stderr) = gate(&dir, &["--journal", journal.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stderr, "gate: 2 of 8 items failed\n");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert!(lines.contains(&"FAIL  trades on live market data  99 (needs >= 100)"), "{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("FAIL  kill switch tested  not tested")), "{stdout}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("PASS  ")).count(), 6, "{stdout}");

    // The thresholds come from [gate] in the config: with fewer trades needed
    // and no kill-switch test required, the same journal passes.
    std::fs::write(
        dir.join("pmbot.toml"),
        format!(
            "[journal]\npath = \"{}\"\n[gate]\nmin_trades = 99\nrequire_kill_switch_test = false\n",
            journal.display()
        ),
    )
    .unwrap();
    let (out, stdout, stderr) = gate(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "the journal from [journal] path: {stdout}{stderr}");
    assert!(stdout.contains("PASS  trades on live market data  99 (needs >= 99)"), "{stdout}");

    // A typo in [gate] is an error naming the key.
    std::fs::write(dir.join("pmbot.toml"), "[gate]\nmin_trade = 5\n").unwrap();
    let (out, _, stderr) = gate(&dir, &["--journal", journal.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.starts_with("pmbot: ") && stderr.contains("min_trade"), "{stderr}");
    std::fs::write(dir.join("pmbot.toml"), "[gate]\nmin_win_rate = 70\n").unwrap();
    let (out, _, stderr) = gate(&dir, &["--journal", journal.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr.contains("gate.min_win_rate = 70"), "{stderr}");
}

#[test]
fn a_missing_or_foreign_journal_is_one_error_line() {
    let dir = temp_dir("missing");
    let missing = dir.join("nope.sqlite");
    let (out, stdout, stderr) = gate(&dir, &["--journal", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.trim_end(), format!("pmbot: journal {} does not exist", missing.display()));
    assert!(!missing.exists(), "reading never creates a journal");

    let foreign = dir.join("notes.txt");
    std::fs::write(&foreign, "not a database, just text that is long enough to have a header page").unwrap();
    let (out, _, stderr) = gate(&dir, &["--journal", foreign.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("pmbot: journal ") && stderr.contains("not a pmbot journal"), "{stderr}");
}
