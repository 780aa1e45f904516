//! `pmbot paper --sim` end to end: a simulated day at an accelerated clock,
//! the journal's figures recomputed from its raw rows, determinism, and bad
//! configurations refused before anything runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pmbot_core::{Side, Usdc};
use pmbot_engine::journal::{DecisionAction, Journal};

fn pmbot() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    // An ops server of its own on a free port (tests run side by side).
    cmd.env("PMBOT_OPS__HTTP", "127.0.0.1:0");
    cmd
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-paper-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two markets stepped once a second: a day runs in about two minutes even
/// in a debug build.
const LIGHT_SIM: &str = "[sim.source]\nkind = \"synthetic\"\nseed = 11\nmarkets = 2\nstep_interval_ms = 1000\n";

fn paper(dir: &Path, config: &str, journal: &str, duration: &str, warmup: &str) -> Output {
    let cfg = dir.join("pmbot.toml");
    std::fs::write(&cfg, config).unwrap();
    pmbot()
        .current_dir(dir)
        .args(["--config", cfg.to_str().unwrap(), "paper", "--sim", "--duration", duration, "--warmup", warmup])
        .args(["--journal", journal, "--report", "report"])
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn a_simulated_day_of_paper_trading_adds_up_from_the_journal_rows() {
    let dir = scratch("day");
    let out = paper(&dir, LIGHT_SIM, "day.sqlite", "24h", "2h");
    let stdout = ok(&out);
    assert!(stdout.contains("closed trades"), "{stdout}");

    let j = Journal::open_read_only(dir.join("day.sqlite")).unwrap();
    let runs = j.runs().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let (ended, reason) = run.end.clone().expect("the run ended");
    assert_eq!(reason, "duration");
    assert_eq!(ended.millis_since(run.start.started), 24 * 3_600_000, "a whole simulated day");
    assert_eq!(run.start.config["paper"]["queue"], "back_of_visible", "the paper assumptions are recorded");

    let trades = j.trades().unwrap();
    let fills = j.fills().unwrap();
    let payouts = j.payouts().unwrap();
    let marks = j.marks().unwrap();
    let decisions = j.decisions().unwrap();
    assert!(!trades.is_empty(), "a day of trading closes trades");
    assert!(decisions.len() > 10_000, "every look is journaled: {}", decisions.len());
    assert!(decisions.iter().any(|d| d.action == DecisionAction::Enter));

    // Cash from the raw rows: what the fills and payouts moved. Fees are
    // pUSD on both sides (CLOB V2): a buy pays its fee on top of the shares'
    // price, a sell out of its proceeds.
    let start = Usdc::from_whole(300);
    let mut cash = start;
    let mut fees = Usdc::ZERO;
    for f in &fills {
        match f.side {
            Side::Buy => cash -= Usdc::from_price_size_ceil(f.price, f.size),
            Side::Sell => cash += Usdc::from_price_size_floor(f.price, f.size),
        }
        cash -= f.fee;
        fees += f.fee;
    }
    assert!(fills.iter().any(|f| f.side == Side::Buy && f.fee > Usdc::ZERO), "taker buys pay a pUSD fee");
    for p in &payouts {
        cash += p.amount;
    }
    let last = marks.last().unwrap();
    assert_eq!(last.cash, cash, "the last mark's cash is what fills and payouts moved");
    assert_eq!(last.fees, fees, "fees paid");
    // The account the run prints at its end is the ledger's (its one
    // account: the paper venue keeps none), and says the same.
    let account = format!("account: cash {} pUSD, fees {} pUSD", last.cash, fees);
    assert!(stdout.contains(&account), "{account}\n{stdout}");
    // Every trade closed, no position open at the end (the markets resolved).
    let pnl = trades.iter().fold(Usdc::ZERO, |a, t| a + t.pnl());
    let dust = dust_paid(&payouts, &trades);
    if last.open_positions == 0 {
        // The trades' P&L after fees, and what shares under a lot left
        // after sales paid at resolution.
        assert_eq!(last.equity() - start, pnl + dust, "equity change = the trades' P&L + dust paid");
    }
    assert_eq!(last.realised, pnl + dust);
    // Each order has its run and was decided before it was sent.
    let orders = j.orders().unwrap();
    let owned = j.run_orders().unwrap();
    assert_eq!(orders.len(), owned.len());
    for o in &orders {
        let d = decisions
            .iter()
            .find(|d| d.client_order_id.as_ref() == Some(&o.prepared.client_order_id))
            .expect("every order has its decision row");
        assert!(matches!(d.action, DecisionAction::Enter | DecisionAction::Exit));
        assert!(d.at <= o.prepared.created);
    }
}

/// Payouts of shares left under a lot after a position was sold: realised,
/// but outside any trade.
fn dust_paid(payouts: &[pmbot_engine::journal::PayoutRow], trades: &[pmbot_engine::journal::Trade]) -> Usdc {
    payouts
        .iter()
        .filter(|p| !trades.iter().any(|t| t.token == p.token && t.closed == p.at && t.close_reason == "resolution"))
        .fold(Usdc::ZERO, |a, p| a + p.amount)
}

#[test]
fn the_same_simulated_feed_twice_gives_byte_identical_journals() {
    let dir = scratch("twice");
    ok(&paper(&dir, LIGHT_SIM, "a.sqlite", "90m", "1h"));
    ok(&paper(&dir, LIGHT_SIM, "b.sqlite", "90m", "1h"));
    let a = std::fs::read(dir.join("a.sqlite")).unwrap();
    let b = std::fs::read(dir.join("b.sqlite")).unwrap();
    assert!(a.len() > 100_000, "a real journal: {} bytes", a.len());
    assert!(a == b, "the two journals differ");
}

/// The README's main command (`paper --sim`, default journal and report),
/// twice in one folder: the second run appends to the journal as run 2,
/// with client order ids of its own, and both end with a report.
#[test]
fn the_main_command_twice_in_one_folder_appends_a_second_run() {
    let dir = scratch("rerun");
    std::fs::write(dir.join("pmbot.toml"), LIGHT_SIM).unwrap();
    let run =
        || pmbot().current_dir(&dir).args(["paper", "--sim", "--duration", "90m", "--warmup", "1h"]).output().unwrap();
    for n in 1..=2 {
        let _ = std::fs::remove_file(dir.join("pmbot-report").join("report.md"));
        let stdout = ok(&run());
        assert!(stdout.contains(&format!("run {n} for 1h 30m")), "{stdout}");
        assert!(dir.join("pmbot-report").join("report.md").is_file(), "run {n} wrote its report");
    }
    let j = Journal::open_read_only(dir.join("pmbot-journal.sqlite")).unwrap();
    let runs = j.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.end.as_ref().is_some_and(|e| e.1 == "duration")));
    let orders = j.orders().unwrap();
    let of_run =
        |n: i64| orders.iter().filter(|o| o.prepared.client_order_id.as_str().starts_with(&format!("r{n}-"))).count();
    assert!(of_run(1) > 0, "run 1 placed orders");
    assert_eq!(of_run(1) + of_run(2), orders.len(), "every id carries its run");
    // The same simulated feed and model: the same orders, under new ids.
    assert_eq!(of_run(1), of_run(2));
}

#[test]
fn bad_configurations_are_one_line_before_anything_runs() {
    let dir = scratch("bad");
    let cases: [(String, &[&str], &str); 4] = [
        (format!("{LIGHT_SIM}[risk]\nmax_per_trade = \"500\"\n"), &[], "max_per_trade"),
        (format!("{LIGHT_SIM}[risk]\nmin_price = \"0.9\"\nmax_price = \"0.1\"\n"), &[], "[risk]"),
        (format!("{LIGHT_SIM}[risk]\ncapital_kap = \"5\"\n"), &[], "capital_kap"),
        (LIGHT_SIM.to_owned(), &["--journal", "/nonexistent/dir/j.sqlite"], "/nonexistent/dir/j.sqlite"),
    ];
    for (config, extra, needle) in cases {
        let cfg = dir.join("pmbot.toml");
        std::fs::write(&cfg, &config).unwrap();
        let out = pmbot()
            .current_dir(&dir)
            .args(["--config", cfg.to_str().unwrap(), "paper", "--sim", "--duration", "1h", "--report", "r"])
            .args(extra)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{config} {extra:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("pmbot: "), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("paper trading"), "nothing started: {config}");
    }
    // A model for other features.
    let model = dir.join("other.json");
    let text = std::fs::read_to_string(fixture_model(&dir)).unwrap().replacen(
        "\"mid_change_short_ticks\"",
        "\"mid_change_shorter\"",
        1,
    );
    std::fs::write(&model, text).unwrap();
    std::fs::write(dir.join("pmbot.toml"), LIGHT_SIM).unwrap();
    let out = pmbot()
        .current_dir(&dir)
        .args(["--config", "pmbot.toml", "paper", "--sim", "--duration", "1h", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("other.json") && err.contains("feature"), "{err}");
}

/// A real model file: trained by `paper --sim` on a short warm-up.
fn fixture_model(dir: &Path) -> PathBuf {
    let sub = dir.join("fixture");
    std::fs::create_dir_all(&sub).unwrap();
    ok(&paper(&sub, LIGHT_SIM, "fixture.sqlite", "1m", "1h"));
    sub.join("report").join("model.json")
}
