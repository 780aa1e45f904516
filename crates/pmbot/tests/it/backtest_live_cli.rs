//! `pmbot backtest` over the real recorded data, and `pmbot live` refusing
//! to start when the go-live gate fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use pmbot_engine::journal::{DataSource, Journal, RunMode};

fn pmbot() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    // An ops server of its own on a free port (tests run side by side).
    cmd.env("PMBOT_OPS__HTTP", "127.0.0.1:0");
    cmd
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-btlive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if dir.join("books.jsonl.gz").is_file() {
        Some(dir)
    } else {
        eprintln!("NOTICE: skipped: {} is absent (the real recorded data)", dir.display());
        None
    }
}

/// Trains a model on `data` (in `dir/model.json`), then backtests it over
/// the same data into `dir/report`; returns the report folder and the
/// backtest's output.
fn train_then_backtest(dir: &Path, data: &Path) -> (PathBuf, std::process::Output) {
    let model = train(dir, data);
    backtest(dir, data, &model)
}

/// Two hours of two synthetic markets (seed 3, stepped once a second) as the
/// simulator's generator records them (markets listed with their tokens and
/// end times), at `dir/name`.
fn generated(dir: &Path, name: &str) -> PathBuf {
    use pmbot_sim::model::synthetic::SyntheticConfig;
    let cfg = SyntheticConfig { seed: 3, markets: 2, step_interval_ms: 1000, ..SyntheticConfig::default() };
    let rec = dir.join(name);
    pmbot_sim::generate::generate_recording(&cfg, std::time::Duration::from_secs(2 * 3600), &rec).unwrap();
    rec
}

/// Trains a model on `data`, into `dir/model.json`.
fn train(dir: &Path, data: &Path) -> PathBuf {
    let model = dir.join("model.json");
    let out = pmbot().arg("train").arg("--data").arg(data).arg("--out").arg(&model).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    model
}

/// Backtests `model` over `data` into `dir/report`; returns the report
/// folder and the backtest's output.
fn backtest(dir: &Path, data: &Path, model: &Path) -> (PathBuf, std::process::Output) {
    let report = dir.join("report");
    let out = pmbot()
        .current_dir(dir)
        .arg("backtest")
        .arg("--data")
        .arg(data)
        .arg("--model")
        .arg(model)
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    (report, out)
}

#[test]
fn a_backtest_over_the_real_data_completes_with_its_report() {
    let Some(data) = shared_data() else { return };
    let dir = scratch("real");
    let (report, out) = train_then_backtest(&dir, &data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Trained and tested on the same data: the command says so.
    assert!(stderr.contains("in-sample"), "{stderr}");
    for file in ["report.md", "report.html", "equity.png", "drawdown.png", "pnl_histogram.png", "journal.sqlite"] {
        assert!(report.join(file).is_file(), "{file} missing");
    }
    let j = Journal::open_read_only(report.join("journal.sqlite")).unwrap();
    let runs = j.runs().unwrap();
    assert_eq!((runs[0].start.mode, runs[0].start.data_source), (RunMode::Backtest, DataSource::Replay));
    assert_eq!(runs[0].end.as_ref().map(|e| e.1.as_str()), Some("end_of_data"));
    // All 13 markets were sampled, and every one resolved.
    let markets: std::collections::BTreeSet<_> = j.decisions().unwrap().iter().map(|d| d.market).collect();
    assert_eq!(markets.len(), 13);
    let text = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(text.contains("`replay`"), "the report names the data source");
}

/// Live on the real exchange needs an RPC before the gate is looked at;
/// the gate refuses before it is contacted (a closed loopback port).
const RPC: &str = "[balance]\nrpc_urls = [\"http://127.0.0.1:9\"]\n";

#[test]
fn live_refuses_to_start_when_the_gate_fails() {
    let dir = scratch("gate");
    // A journal with only a simulator run: nothing counts for the gate.
    let cfg = dir.join("pmbot.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sim.source]\nkind = \"synthetic\"\nmarkets = 2\nstep_interval_ms = 1000\n[journal]\npath = '{}'\n{RPC}",
            dir.join("journal.sqlite").display()
        ),
    )
    .unwrap();
    let out = pmbot()
        .current_dir(&dir)
        .args(["--config", "pmbot.toml", "paper", "--sim", "--duration", "10m", "--warmup", "1h", "--report", "r"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = dir.join("r").join("model.json");
    let out = pmbot()
        .current_dir(&dir)
        .args(["--config", "pmbot.toml", "live", "--market", "some-market", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("FAIL"), "each checklist item is printed: {stdout}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("live trading refused") && stderr.contains("--override-gate"), "{stderr}");
    // Nothing was started: the journal holds only the paper run.
    let j = Journal::open_read_only(dir.join("journal.sqlite")).unwrap();
    assert_eq!(j.runs().unwrap().len(), 1);
    // An empty reason is no override.
    let out = pmbot()
        .current_dir(&dir)
        .args(["--config", "pmbot.toml", "live", "--market", "x", "--override-gate", " ", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--override-gate needs a reason"));

    // No journal at all: every item fails, and the empty journal the gate
    // was evaluated on is not left behind.
    let leftovers = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("pmbot-empty-gate-"))
            .count()
    };
    let before = leftovers();
    std::fs::write(&cfg, format!("[journal]\npath = '{}'\n{RPC}", dir.join("none.sqlite").display())).unwrap();
    let out = pmbot()
        .current_dir(&dir)
        .args(["--config", "pmbot.toml", "live", "--market", "x", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("8 of 8 go-live gate items failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers(), before);
    assert!(!dir.join("none.sqlite").exists(), "the missing journal is not created");
}

/// A pmbot recording (here the simulator's generator writes one, markets
/// listed with their tokens and end times) backtests like the real data.
#[test]
fn a_backtest_over_a_pmbot_recording_trades_its_listed_markets() {
    let dir = scratch("recording");
    let rec = generated(&dir, "rec");
    let meta = pmbot_engine::replay::RecordingMeta::read(&rec).unwrap();
    let listed = meta.markets();
    assert!(listed.iter().all(|m| m.tokens.len() == 2 && m.end_ms.is_some()), "{listed:?}");

    let (report, out) = train_then_backtest(&dir, &rec);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = Journal::open_read_only(report.join("journal.sqlite")).unwrap();
    let sampled: std::collections::BTreeSet<_> = j.decisions().unwrap().iter().map(|d| d.market).collect();
    let expected: std::collections::BTreeSet<_> = listed.iter().map(|m| m.condition_id).collect();
    assert_eq!(sampled, expected, "the listed markets, and only they, were traded");
    assert!(report.join("report.md").is_file());

    // The same backtest again into the same folder: a second run appended,
    // the same decisions and orders under ids of its own.
    let (_, again) = backtest(&dir, &rec, &dir.join("model.json"));
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let j = Journal::open_read_only(report.join("journal.sqlite")).unwrap();
    let runs = j.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.end.as_ref().is_some_and(|e| e.1 == "end_of_data")));
    let decisions = j.decisions().unwrap();
    let per_run = |n: i64| decisions.iter().filter(|d| d.run == n).count();
    assert_eq!(per_run(1), per_run(2));
    let orders = j.orders().unwrap();
    let of_run =
        |n: i64| orders.iter().filter(|o| o.prepared.client_order_id.as_str().starts_with(&format!("r{n}-"))).count();
    assert!(of_run(1) > 0);
    assert_eq!((of_run(1), of_run(1) + of_run(2)), (of_run(2), orders.len()));

    // A recording without market details is refused with the reason.
    let bare = dir.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    for entry in std::fs::read_dir(&rec).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("market-")) {
            std::fs::copy(&path, bare.join(path.file_name().unwrap())).unwrap();
        }
    }
    let out = pmbot()
        .arg("backtest")
        .arg("--data")
        .arg(&bare)
        .arg("--model")
        .arg(dir.join("model.json"))
        .arg("--out")
        .arg(dir.join("r2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("lists no market"), "{err}");
}

/// `pmbot record --sim` with no market named records the simulator's own
/// markets, and its recording lists them (condition id, slug, both tokens,
/// end time), so it backtests. It used to list none, and the backtest
/// refused it (issue 12).
#[test]
fn a_recording_made_with_the_embedded_simulator_backtests() {
    let dir = scratch("record-sim");
    // A model of the same market model, trained on generated data.
    let model = train(&dir, &generated(&dir, "generated"));

    std::fs::write(dir.join("pmbot.toml"), "[sim.source]\nkind = \"synthetic\"\nseed = 3\nmarkets = 2\n").unwrap();
    let rec = dir.join("rec");
    // Twice into one folder (a restart): the second adds a session.
    for _ in 0..2 {
        let out = pmbot()
            .current_dir(&dir)
            .args(["--config", "pmbot.toml", "record", "--sim", "--duration", "6s", "--out"])
            .arg(&rec)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let meta = pmbot_engine::replay::RecordingMeta::read(&rec).unwrap();
    assert_eq!(meta.sessions.len(), 2, "a session per run");
    assert!(meta.sessions.iter().all(|s| s.ended_ms.is_some()), "both closed");
    // Each session's simulator made its own two markets.
    assert!(meta.sessions.iter().all(|s| s.markets.len() == 2), "both simulated markets are listed: {meta:?}");
    let listed = meta.markets();
    assert_eq!(listed.len(), 4, "{listed:?}");
    for m in &listed {
        assert!(m.slug.as_deref().is_some_and(|s| !s.is_empty()), "{m:?}");
        assert_eq!(m.tokens.len(), 2, "{m:?}");
        let started = meta.started_ms().expect("a start time").millis();
        assert!(m.end_ms.is_some_and(|end| end > started), "ends after the recording started: {m:?}");
    }
    let listed_tokens: std::collections::BTreeSet<_> = listed.iter().flat_map(|m| m.tokens.clone()).collect();
    let recorded_tokens: std::collections::BTreeSet<_> = meta.tokens().into_iter().collect();
    assert_eq!(listed_tokens, recorded_tokens, "the listed markets are the recorded tokens' markets");

    let (report, out) = backtest(&dir, &rec, &model);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = Journal::open_read_only(report.join("journal.sqlite")).unwrap();
    let sampled: std::collections::BTreeSet<_> = j.decisions().unwrap().iter().map(|d| d.market).collect();
    let expected: std::collections::BTreeSet<_> = listed.iter().map(|m| m.condition_id).collect();
    assert_eq!(sampled, expected, "every recorded market was sampled");
}
