//! The performance figures, recomputed by hand for a small journal: two paper
//! runs on live market data over three UTC days (5 trades, 20 decisions)
//! and a replay run beside them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pmbot_core::Usdc;
use pmbot_engine::journal::{DataSource, DecisionAction as A, EngineRow, Journal, JournalError, RunMode};
use pmbot_engine::performance::{PerformanceError, Scope, compute};
use pmbot_testkit::journals::{DAY_MS, HOUR_MS, T0, at, decision, mark, run_start, trade};
use serde_json::json;

const MIN: i64 = 60_000;
const SEC: i64 = 1_000;
/// 2025-01-01, -02, -03 at midnight UTC.
const D1: i64 = T0;
const D2: i64 = T0 + DAY_MS;
const D3: i64 = T0 + 2 * DAY_MS;
/// 2024-12-20: the replayed recording's day.
const REPLAY_DAY: i64 = T0 - 12 * DAY_MS;

fn u(s: &str) -> Usdc {
    Usdc::parse(s).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-perf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journal.sqlite")
}

fn equity_mark(run: i64, when: i64, equity: &str) -> EngineRow {
    EngineRow::Mark(mark(run, when, u(equity), Usdc::ZERO, Usdc::ZERO, Usdc::ZERO))
}

fn closed(run: i64, n: u32, when: i64, cost: &str, proceeds: &str, fees: &str) -> EngineRow {
    EngineRow::Trade(trade(run, n, when - 10 * MIN, when, u(cost), u(proceeds), u(fees)))
}

/// Decision shorthand: (run, time, market, mid2, p_up, confidence, action, reason).
#[allow(clippy::too_many_arguments)]
fn d(run: i64, when: i64, m: u8, mid: Option<u32>, p: Option<&str>, c: Option<&str>, a: A, why: &str) -> EngineRow {
    EngineRow::Decision(decision(run, when, m, mid, p, c, a, why))
}

/// The journal the figures below were worked out for.
fn fixture(path: &PathBuf) {
    let mut j = Journal::open(path).unwrap();
    let lc = "low_confidence";

    // Run 1: paper on live data, 2025-01-01 00:00 to 2025-01-02 23:00.
    let r1 = j.start_run(&run_start(RunMode::Paper, DataSource::LiveData, D1)).unwrap();
    j.record_rows(&[
        // (a) up called, the mid rose one horizon later: a hit.
        d(r1, D1 + HOUR_MS, 1, Some(10_000), Some("0.8"), Some("0.6"), A::Enter, "entry"),
        d(r1, D1 + HOUR_MS + 30 * SEC, 1, Some(10_100), Some("0.55"), Some("0.1"), A::Pass, lc),
        // (b) down called; the mid's first move within the horizon was down
        // (it rose again later): a hit, as the model's label scores it.
        d(r1, D1 + 2 * HOUR_MS, 1, Some(10_000), Some("0.2"), Some("0.6"), A::Pass, "no_edge"),
        d(r1, D1 + 2 * HOUR_MS + 20 * SEC, 1, Some(9_000), None, None, A::NotReady, "warm_up"),
        d(r1, D1 + 2 * HOUR_MS + 45 * SEC, 1, Some(10_200), Some("0.55"), Some("0.1"), A::Pass, lc),
        // (c) confidence exactly at the threshold, but the mid did not move: not counted.
        d(r1, D1 + 3 * HOUR_MS, 1, Some(10_000), Some("0.7"), Some("0.4"), A::Refused, "max_exposure_per_market"),
        d(r1, D1 + 3 * HOUR_MS + 30 * SEC, 1, Some(10_000), Some("0.55"), Some("0.1"), A::Pass, lc),
        // (d) market 2 is never looked at again: no later decision, not counted.
        d(r1, D1 + 4 * HOUR_MS, 2, Some(8_000), Some("0.9"), Some("0.8"), A::Refused, "kill_switch"),
        // (e) below the threshold: not counted, however the mid moves.
        d(r1, D1 + 5 * HOUR_MS, 1, Some(10_000), Some("0.65"), Some("0.3"), A::Pass, lc),
        d(r1, D1 + 5 * HOUR_MS + 30 * SEC, 1, Some(12_000), Some("0.55"), Some("0.1"), A::Pass, lc),
        // (f) down called at the threshold; the next look is after the
        // horizon: not counted.
        d(r1, D2 + 6 * HOUR_MS, 1, Some(10_000), Some("0.3"), Some("0.4"), A::Exit, "stop_loss"),
        d(r1, D2 + 6 * HOUR_MS + MIN, 1, Some(9_950), Some("0.55"), Some("0.1"), A::Pass, lc),
        // (g) no two-sided book now: not counted.
        d(r1, D2 + 7 * HOUR_MS, 1, None, Some("0.9"), Some("0.8"), A::Pass, "no_bid"),
        // (g') the run's last look at market 1: run 3's later looks do not score it.
        d(r1, D2 + 22 * HOUR_MS, 1, Some(10_000), Some("0.8"), Some("0.6"), A::Pass, "order_pending"),
        // Trades: +1.20, -0.80 on day 1, +0.50 on day 2.
        closed(r1, 1, D1 + 10 * HOUR_MS, "5", "6.2", "0.1"),
        closed(r1, 2, D1 + 20 * HOUR_MS, "4", "3.2", "0.08"),
        closed(r1, 3, D2 + 8 * HOUR_MS, "2", "2.5", "0.04"),
        // Equity: 100 -> 101.20 -> 99.50 (open position marked down) -> 100.40 | 100.90 -> 100.90.
        equity_mark(r1, D1, "100"),
        equity_mark(r1, D1 + 10 * HOUR_MS, "101.2"),
        equity_mark(r1, D1 + 12 * HOUR_MS, "99.5"),
        equity_mark(r1, D1 + 20 * HOUR_MS, "100.4"),
        equity_mark(r1, D2 + 8 * HOUR_MS, "100.9"),
        equity_mark(r1, D2 + 23 * HOUR_MS, "100.9"),
    ])
    .unwrap();
    j.end_run(r1, at(D2 + 23 * HOUR_MS), "duration").unwrap();

    // Run 2: a backtest on a replayed recording (counted only in Scope::All).
    let r2 = j.start_run(&run_start(RunMode::Backtest, DataSource::Replay, REPLAY_DAY)).unwrap();
    j.record_rows(&[
        d(r2, REPLAY_DAY + 10 * HOUR_MS, 1, Some(10_000), Some("0.8"), Some("0.6"), A::Pass, lc),
        d(r2, REPLAY_DAY + 10 * HOUR_MS + 30 * SEC, 1, Some(9_000), Some("0.5"), Some("0"), A::Pass, lc),
        d(r2, REPLAY_DAY + DAY_MS + 9 * HOUR_MS, 1, Some(10_000), Some("0.5"), Some("0"), A::Pass, lc),
        closed(r2, 1, REPLAY_DAY + 11 * HOUR_MS, "5", "7", "0.1"),
        equity_mark(r2, REPLAY_DAY, "1000"),
        equity_mark(r2, REPLAY_DAY + 11 * HOUR_MS, "1002"),
    ])
    .unwrap();
    j.end_run(r2, at(REPLAY_DAY + DAY_MS + 10 * HOUR_MS), "end_of_data").unwrap();

    // Run 3: paper on live data again, a fresh 500 pUSD account, 2025-01-03; never ended (a crash).
    let r3 = j.start_run(&run_start(RunMode::Paper, DataSource::LiveData, D3 + HOUR_MS)).unwrap();
    j.record_rows(&[
        // (h) the first decision one horizon later has no mid: not counted,
        // though a later one has.
        d(r3, D3 + 2 * HOUR_MS, 1, Some(10_000), Some("0.8"), Some("0.5"), A::Pass, "holding"),
        d(r3, D3 + 2 * HOUR_MS + 30 * SEC, 1, None, None, None, A::NotReady, "no_book"),
        d(r3, D3 + 2 * HOUR_MS + MIN, 1, Some(10_100), Some("0.55"), Some("0.1"), A::Pass, lc),
        // (i) up called, the mid rose: a hit.
        d(r3, D3 + 3 * HOUR_MS, 1, Some(10_000), Some("0.8"), Some("0.6"), A::Enter, "entry"),
        d(r3, D3 + 3 * HOUR_MS + 30 * SEC, 1, Some(10_050), Some("0.55"), Some("0.1"), A::Pass, lc),
        d(r3, D3 + 4 * HOUR_MS, 2, None, None, None, A::Refused, "kill_switch"),
        // Trades: 0 (a loss: not > 0) and +0.30.
        closed(r3, 4, D3 + 9 * HOUR_MS, "3", "3", "0.06"),
        closed(r3, 5, D3 + 15 * HOUR_MS, "1", "1.3", "0.02"),
        // Equity 500 -> 499 -> 500 -> 500.30 -> 499.60 (an open position marked down).
        equity_mark(r3, D3 + HOUR_MS, "500"),
        equity_mark(r3, D3 + 6 * HOUR_MS, "499"),
        equity_mark(r3, D3 + 9 * HOUR_MS, "500"),
        equity_mark(r3, D3 + 15 * HOUR_MS, "500.3"),
        equity_mark(r3, D3 + 23 * HOUR_MS + 59 * MIN, "499.6"),
    ])
    .unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn live_data_figures_match_the_hand_computed_ones() {
    let path = scratch("live");
    fixture(&path);
    let j = Journal::open_read_only(&path).unwrap();
    let p = compute(&j, Scope::Sources(vec![DataSource::LiveData])).unwrap();

    // Runs: 1 and 3, with their counts; run 3 never ended.
    assert_eq!(p.runs.iter().map(|r| (r.id, r.trades, r.decisions)).collect::<Vec<_>>(), vec![(1, 3, 14), (3, 2, 6)]);
    assert_eq!(p.runs[0].ended, Some(at(D2 + 23 * HOUR_MS)));
    assert_eq!(p.runs[0].end_reason.as_deref(), Some("duration"));
    assert_eq!((p.runs[1].ended, p.runs[1].end_reason.as_ref()), (None, None));
    assert_eq!(p.runs[0].mode, RunMode::Paper);
    assert_eq!(p.runs[0].model_fingerprint, "fixture-model");
    assert_eq!(p.runs[0].config_hash, j.runs().unwrap()[0].config_hash);

    // Coverage: run 1 from 01:00 on day 1 to 22:00 on day 2 (45 h), run 3 2 h.
    assert_eq!(p.coverage.keys().copied().collect::<Vec<_>>(), vec![DataSource::LiveData]);
    let c = &p.coverage[&DataSource::LiveData];
    assert_eq!((c.runs, c.trades, c.decisions, c.calendar_days), (2, 5, 20, 3));
    assert_eq!(c.covered_ms, 47 * HOUR_MS);
    assert!(close(c.days, 47.0 / 24.0), "{}", c.days);

    // Money, exactly: +1.20 -0.80 +0.50 +0 +0.30.
    assert_eq!((p.trades, p.wins, p.losses), (5, 3, 2));
    assert_eq!(p.pnl_per_trade, vec![u("1.2"), u("-0.8"), u("0.5"), u("0"), u("0.3")]);
    assert_eq!(p.pnl, u("1.2"));
    assert_eq!(p.fees, u("0.3"));
    assert_eq!(p.pnl_before_fees, u("1.5"));
    assert_eq!(p.average_win, Some(u("0.666667")), "2.00 / 3, rounded to the micro");
    assert_eq!(p.average_loss, Some(u("-0.4")));
    let w = p.win_rate.unwrap();
    assert_eq!((w.hits, w.n), (3, 5));
    assert!(close(w.rate, 0.6) && (w.low - 0.230_724).abs() < 1e-6 && (w.high - 0.882_379).abs() < 1e-6, "{w:?}");

    // Equity: run 3 (a fresh 500 account) continues from run 1's 100.90.
    let equity: Vec<Usdc> = p.equity.iter().map(|e| e.1).collect();
    let expect = ["100", "101.2", "99.5", "100.4", "100.9", "100.9", "100.9", "99.9", "100.9", "101.2", "100.5"];
    assert_eq!(equity, expect.map(u).to_vec());
    assert_eq!(p.equity[6].0, at(D3 + HOUR_MS));
    let drawdown: Vec<Usdc> = p.drawdown.iter().map(|e| e.1).collect();
    let expect = ["0", "0", "-1.7", "-0.8", "-0.3", "-0.3", "-0.3", "-1.3", "-0.3", "0", "-0.7"];
    assert_eq!(drawdown, expect.map(u).to_vec());
    assert_eq!(p.max_drawdown, u("1.7"));
    assert!(close(p.max_drawdown_pct.unwrap(), 1.7 / 101.2 * 100.0));

    // Daily, at UTC day ends: 100 -> 100.40 -> 100.90 -> 100.50.
    let days: Vec<(&str, Usdc)> = p.daily.iter().map(|d| (d.day.as_str(), d.pnl)).collect();
    assert_eq!(days, vec![("2025-01-01", u("0.4")), ("2025-01-02", u("0.5")), ("2025-01-03", u("-0.4"))]);
    let returns = [0.4, 0.5 / 100.4 * 100.0, -0.4 / 100.9 * 100.0];
    for (d, r) in p.daily.iter().zip(returns) {
        assert!(close(d.return_pct, r), "{d:?}");
    }
    assert!((p.sharpe.unwrap() - 6.511_243_653).abs() < 1e-6, "{:?}", p.sharpe);
    assert!((p.sortino.unwrap() - 13.955_763_585).abs() < 1e-6, "{:?}", p.sortino);

    // Hit rate: (a), (b), (i) hits; (c) (d) (e) (f) (g) (g') (h) not counted.
    let h = &p.hit_rate;
    assert_eq!((h.threshold.to_string().as_str(), h.horizon_ms), ("0.4", 30_000));
    let r = h.rate.unwrap();
    assert_eq!((r.hits, r.n), (3, 3));
    // Wilson 3 of 3: centre (1 + z²/6) / (1 + z²/3), half-width z·sqrt(z²/36) / (1 + z²/3).
    assert!((r.low - 0.438_503).abs() < 1e-6 && (r.high - 1.0).abs() < 1e-9, "{r:?}");
    let v = h.validated.unwrap();
    assert_eq!((v.rate, v.low, v.high, v.coverage), (0.88, 0.84, 0.91, Some(0.12)));

    // What the strategy and the risk gate did.
    let refusals = BTreeMap::from([("kill_switch".to_string(), 2), ("max_exposure_per_market".to_string(), 1)]);
    assert_eq!(p.refusals, refusals);
    let passes: BTreeMap<String, u64> =
        [("low_confidence", 8), ("no_edge", 1), ("no_bid", 1), ("order_pending", 1), ("holding", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    assert_eq!(p.passes, passes);
    assert_eq!((p.entries, p.exits, p.not_ready), (2, 1, 2));
    assert_eq!(p.assumptions.as_ref().unwrap()["starting_cash"], json!("1000"));

    // Targets: P&L and hit rate (3 of 3) met; win rate and days not.
    let met: Vec<(&str, bool)> = p.targets.iter().map(|t| (t.name.as_str(), t.met)).collect();
    assert_eq!(
        met,
        vec![
            ("win rate", false),
            ("P&L after fees", true),
            ("days of market data", false),
            ("model hit rate at confidence >= 0.4", true)
        ]
    );
    assert_eq!(p.targets[0].target, "> 70%");
    assert_eq!(p.targets[0].measured, "60.0% (3 of 5, 95% CI 23.1–88.2%)");
    assert_eq!(p.targets[2].measured, "1.96 days (3 UTC dates)");
    assert!(p.targets[3].measured.contains("100.0% (3 of 3") && p.targets[3].measured.contains("validated 88.0%"));

    // Serialises for the report (sources as map keys, money as exact text).
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["pnl"], json!("1.2"));
    assert_eq!(v["coverage"]["live_data"]["calendar_days"], json!(3));
}

#[test]
fn scopes_pick_their_runs_and_coverage_is_per_source() {
    let path = scratch("scopes");
    fixture(&path);
    let j = Journal::open_read_only(&path).unwrap();

    let all = compute(&j, Scope::All).unwrap();
    assert_eq!(all.runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(all.coverage.len(), 2);
    let replay = &all.coverage[&DataSource::Replay];
    assert_eq!((replay.runs, replay.trades, replay.decisions, replay.calendar_days), (1, 1, 3, 2));
    assert_eq!(replay.covered_ms, 23 * HOUR_MS);
    assert_eq!(all.coverage[&DataSource::LiveData].covered_ms, 47 * HOUR_MS);
    assert_eq!((all.trades, all.pnl), (6, u("3.2")));
    assert_eq!(all.passes["low_confidence"], 11);
    // The replay's one call: up (p_up 0.8), and the mid fell: a miss.
    assert_eq!(all.hit_rate.rate.map(|r| (r.hits, r.n)), Some((3, 4)));

    let replay_only = compute(&j, Scope::Sources(vec![DataSource::Replay])).unwrap();
    assert_eq!(replay_only.runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![2]);
    assert_eq!(replay_only.pnl, u("2"));
    assert_eq!(replay_only.assumptions.as_ref().unwrap()["latency_ms"], json!(250));
    assert!(replay_only.refusals.is_empty());

    let none = compute(&j, Scope::Sources(vec![DataSource::Simulator])).unwrap();
    assert!(none.runs.is_empty() && none.coverage.is_empty() && none.equity.is_empty());
    assert_eq!((none.trades, none.pnl, none.win_rate, none.max_drawdown_pct), (0, Usdc::ZERO, None, None));
    assert_eq!((none.hit_rate.threshold.to_string(), none.hit_rate.horizon_ms), ("0.4".to_string(), 0));
    assert_eq!((none.sharpe, none.sortino, none.average_win), (None, None, None));
    assert!(none.targets.iter().all(|t| !t.met));
}

#[test]
fn a_run_whose_model_has_no_horizon_is_a_typed_error_naming_the_journal_and_run() {
    let path = scratch("no-horizon");
    let mut j = Journal::open(&path).unwrap();
    let mut start = run_start(RunMode::Paper, DataSource::LiveData, D1);
    start.model = json!({"fingerprint": "fixture-model", "confidence_threshold": "0.4"});
    let run = j.start_run(&start).unwrap();
    let e = compute(&j, Scope::All).unwrap_err();
    assert!(matches!(&e, PerformanceError::Model { run: r, .. } if *r == run), "{e}");
    assert_eq!(e.path(), path.as_path());
    let text = e.to_string();
    assert!(text.contains(&path.display().to_string()) && text.contains("horizon_ms"), "{text}");

    // A journal error keeps the journal's path.
    let wrapped = PerformanceError::from(JournalError::Unreadable { path: path.clone(), reason: "gone".into() });
    assert_eq!(wrapped.path(), path.as_path());
    assert!(wrapped.to_string().contains(&path.display().to_string()));
}
