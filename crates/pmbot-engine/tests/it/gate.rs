//! The go-live gate over fixture journals: a qualifying paper record on live
//! market data passes; replays and the simulator never count; each item
//! missing on its own fails the gate with that item named.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use pmbot_core::Usdc;
use pmbot_engine::gate::{GateCheck, GateConfig, GateReport, evaluate};
use pmbot_engine::journal::{DataSource, Journal, RunMode};
use pmbot_engine::performance::PerformanceError;
use pmbot_testkit::journals::{DAY_MS, GateFixture, HOUR_MS, KillSwitchTest, T0};

fn scratch() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pmbot-gate-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journal.sqlite")
}

fn gate(fixtures: &[GateFixture]) -> GateReport {
    let path = scratch();
    let mut j = Journal::open(&path).unwrap();
    for f in fixtures {
        f.write(&mut j).unwrap();
    }
    evaluate(&j, &GateConfig::default()).unwrap()
}

fn failed(report: &GateReport) -> Vec<GateCheck> {
    report.failed().map(|i| i.check).collect()
}

#[test]
fn a_qualifying_live_data_record_passes_every_item() {
    let report = gate(&[GateFixture::passing()]);
    assert!(report.passed(), "{report}");
    let lines: Vec<String> = report.to_string().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 8, "{report}");
    assert!(lines.iter().all(|l| l.starts_with("PASS  ")), "{report}");
    assert!(lines.contains(&"PASS  trades on live market data  137 (needs >= 100)".to_string()), "{report}");
    assert!(lines.contains(&"PASS  days of live market data  3.50 days over 4 UTC dates (needs >= 3)".to_string()));
    let item = |c| report.item(c).unwrap().figure.clone();
    assert_eq!(item(GateCheck::WinRate), "80.3% (110 of 137, 95% CI 72.8–86.1%)");
    assert_eq!(item(GateCheck::Pnl), "46.9 pUSD (fees 6.85 pUSD)");
    assert!(item(GateCheck::HitRate).starts_with("90.0% (90 of 100, "), "{report}");
    assert_eq!(report.item(GateCheck::HitRate).unwrap().name, "model hit rate at confidence >= 0.4");
    assert!(item(GateCheck::BalanceCheck).starts_with("latest ok at 2024-12-31 23:00 UTC: pUSD 250.5"), "{report}");
    assert!(
        item(GateCheck::Reconnect).starts_with("recovered in run 1 (1 reconnect) at 2025-01-01 02:00 UTC"),
        "{report}"
    );
    assert_eq!(item(GateCheck::KillSwitch), "1 order refused by it");

    // The kill switch seen set (a note) is a test as good as a refusal.
    let report = gate(&[GateFixture { kill_switch: KillSwitchTest::Note, ..GateFixture::passing() }]);
    assert!(report.passed(), "{report}");
    assert!(report.item(GateCheck::KillSwitch).unwrap().figure.starts_with("switch set in run 1"));
    // Live mode on live data counts too.
    assert!(gate(&[GateFixture { mode: RunMode::Live, ..GateFixture::passing() }]).passed());
}

#[test]
fn replays_and_the_simulator_never_count_however_good() {
    let mut replay = GateFixture { mode: RunMode::Backtest, source: DataSource::Replay, ..GateFixture::passing() };
    let report = gate(std::slice::from_ref(&replay));
    assert!(!report.passed());
    let trades = report.item(GateCheck::Trades).unwrap().to_string();
    assert_eq!(trades, "FAIL  trades on live market data  0; not counted: 1 replay run (137 trades) (needs >= 100)");
    assert!(report.item(GateCheck::Days).unwrap().figure.contains("not counted: 1 replay run"), "{report}");
    // Everything the run itself shows is refused: its reconnect and kill switch are not live data's.
    let expect = vec![
        GateCheck::Days,
        GateCheck::Trades,
        GateCheck::WinRate,
        GateCheck::Pnl,
        GateCheck::HitRate,
        GateCheck::Reconnect,
        GateCheck::KillSwitch,
    ];
    assert_eq!(failed(&report), expect, "{report}");
    // Paper mode over a replay does not count either.
    replay.mode = RunMode::Paper;
    assert_eq!(failed(&gate(&[replay])), expect);

    // 200 winning trades over 4 days on the simulator: still nothing counted.
    let sim = GateFixture {
        source: DataSource::Simulator,
        span_ms: 4 * DAY_MS,
        trades: 200,
        wins: 200,
        ..GateFixture::passing()
    };
    let report = gate(&[sim]);
    assert_eq!(failed(&report), expect, "{report}");
    assert!(report.item(GateCheck::Trades).unwrap().figure.contains("1 simulator run (200 trades)"), "{report}");

    // A backtest run on live data is not a paper record.
    let report = gate(&[GateFixture { mode: RunMode::Backtest, ..GateFixture::passing() }]);
    assert!(report.item(GateCheck::Trades).unwrap().figure.contains("1 live-data backtest run"), "{report}");
    assert!(!report.passed());
}

#[test]
fn each_missing_item_alone_fails_the_gate_naming_it() {
    let pass = GateFixture::passing;
    let cases: Vec<(GateFixture, GateCheck, &str)> = vec![
        (GateFixture { span_ms: 3 * DAY_MS - HOUR_MS, ..pass() }, GateCheck::Days, "days of live market data"),
        (GateFixture { trades: 99, wins: 80, ..pass() }, GateCheck::Trades, "trades on live market data"),
        // Exactly 70% is not above 70%.
        (GateFixture { trades: 120, wins: 84, ..pass() }, GateCheck::WinRate, "win rate"),
        (GateFixture { win_pnl: Usdc::from_micros(50_000), ..pass() }, GateCheck::Pnl, "P&L after fees"),
        // Exactly 85% is not above 85%.
        (GateFixture { call_hits: 85, ..pass() }, GateCheck::HitRate, "model hit rate at confidence >= 0.4"),
        (GateFixture { calls: 0, call_hits: 0, ..pass() }, GateCheck::HitRate, "model hit rate at confidence >= 0.4"),
        (GateFixture { balance_check: None, ..pass() }, GateCheck::BalanceCheck, "balance check"),
        (GateFixture { balance_check: Some(false), ..pass() }, GateCheck::BalanceCheck, "balance check"),
        (GateFixture { reconnect: None, ..pass() }, GateCheck::Reconnect, "market-data reconnect recovered"),
        (GateFixture { reconnect: Some(false), ..pass() }, GateCheck::Reconnect, "market-data reconnect recovered"),
        (GateFixture { kill_switch: KillSwitchTest::None, ..pass() }, GateCheck::KillSwitch, "kill switch tested"),
    ];
    for (fixture, check, name) in cases {
        let report = gate(std::slice::from_ref(&fixture));
        assert_eq!(failed(&report), vec![check], "{fixture:?}\n{report}");
        let line = report.to_string().lines().find(|l| l.starts_with("FAIL")).unwrap().to_owned();
        assert!(line.starts_with(&format!("FAIL  {name}  ")), "{line}");
    }
    // The P&L case really lost money while winning 80% of its trades.
    let losing = GateFixture { win_pnl: Usdc::from_micros(50_000), ..pass() };
    assert!(losing.pnl() < Usdc::ZERO);
}

#[test]
fn notes_count_only_from_live_data_runs_and_the_latest_balance_check_decides() {
    // A recovered reconnect and a kill-switch note in a simulator run, none in the live one.
    let sim = GateFixture {
        source: DataSource::Simulator,
        start: T0 - 10 * DAY_MS,
        kill_switch: KillSwitchTest::Note,
        ..GateFixture::passing()
    };
    let live = GateFixture { reconnect: None, kill_switch: KillSwitchTest::None, ..GateFixture::passing() };
    let report = gate(&[sim, live]);
    assert_eq!(failed(&report), vec![GateCheck::Reconnect, GateCheck::KillSwitch], "{report}");
    assert_eq!(
        report.item(GateCheck::Reconnect).unwrap().figure,
        "none in a live-data run (1 in runs that do not count)"
    );
    // The simulator run's trades show as not counted; the live run's 137 count.
    assert_eq!(report.item(GateCheck::Trades).unwrap().figure, "137; not counted: 1 simulator run (137 trades)");

    // A good check, then a failed one: the gate goes by the latest.
    let path = scratch();
    let mut j = Journal::open(&path).unwrap();
    GateFixture::passing().write(&mut j).unwrap();
    let later = pmbot_testkit::journals::at(T0 + 5 * DAY_MS);
    j.record_note("balance_check", &serde_json::json!({"ok": false, "detail": "pUSD 0"}), later).unwrap();
    let report = evaluate(&j, &GateConfig::default()).unwrap();
    assert_eq!(failed(&report), vec![GateCheck::BalanceCheck]);
    assert!(report.item(GateCheck::BalanceCheck).unwrap().figure.starts_with("latest NOT ok at 2025-01-06"));

    // Switched off in config, the item passes and says so.
    let cfg = GateConfig { require_balance_check: false, ..GateConfig::default() };
    let report = evaluate(&j, &cfg).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.item(GateCheck::BalanceCheck).unwrap().required, "nothing (require_balance_check = false)");
}

#[test]
fn thresholds_come_from_config_and_bad_ones_are_refused() {
    let path = scratch();
    GateFixture::passing().create(&path).unwrap();
    let j = Journal::open_read_only(&path).unwrap();
    let strict = GateConfig { min_trades: 138, min_days: 3.6, ..GateConfig::default() };
    let report = evaluate(&j, &strict).unwrap();
    assert_eq!(failed(&report), vec![GateCheck::Days, GateCheck::Trades]);
    assert_eq!(report.item(GateCheck::Trades).unwrap().required, ">= 138");
    let loose = GateConfig { min_pnl: Usdc::from_whole(47), ..GateConfig::default() };
    assert_eq!(failed(&evaluate(&j, &loose).unwrap()), vec![GateCheck::Pnl]);

    let bad = GateConfig { min_hit_rate: 85.0, ..GateConfig::default() };
    let e = evaluate(&j, &bad).unwrap_err();
    assert!(matches!(&e, PerformanceError::InvalidGate { source, .. } if source.key == "min_hit_rate"), "{e}");
    assert!(e.to_string().contains(&path.display().to_string()));
}
