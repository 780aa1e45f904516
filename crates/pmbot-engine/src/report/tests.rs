//! The report of a small journal built with the journal's own API: exact
//! figures in report.md, a self-contained report.html, valid PNGs, the same
//! bytes twice, and an empty journal.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pmbot_core::paper::PaperConfig;
use pmbot_core::{ClientOrderId, Hash32, Size, TimestampMs, TokenId, Usdc};
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::journal::{
    DataSource, Decision, DecisionAction, EngineRow, Journal, Mark, PayoutRow, RunMode, RunStart, Trade,
};
use crate::performance::{Performance, Proportion, Scope, compute};

/// 2024-03-01 00:00:00 UTC.
const T0: i64 = 1_709_251_200_000;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("pmbot-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(ms: i64) -> TimestampMs {
    TimestampMs::from_millis(T0 + ms)
}

fn dec(s: &str) -> Option<Decimal> {
    Some(s.parse().unwrap())
}

fn start(mode: RunMode, data_source: DataSource, started: TimestampMs) -> RunStart {
    RunStart {
        mode,
        data_source,
        config: json!({
            "strategy": {"min_confidence": "0.4"},
            "risk": {"capital_cap": "300"},
            "paper": serde_json::to_value(PaperConfig::default()).unwrap(),
            "markets": ["btc-updown-15m"],
        }),
        model_fingerprint: "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed".into(),
        model: json!({
            "fingerprint": "f00dfeed",
            "horizon_ms": 60_000,
            "confidence_threshold": "0.4",
            "validated_hit_rate": 0.88,
            "validated_low": 0.84,
            "validated_high": 0.91,
            "validated_coverage": 0.2,
        }),
        pmbot_version: "0.1.0".into(),
        gate_override: None,
        started,
    }
}

fn decision(
    run: i64,
    ms: i64,
    mid2: u32,
    p_up: &str,
    confidence: &str,
    action: DecisionAction,
    reason: &str,
) -> EngineRow {
    EngineRow::Decision(Decision {
        run,
        at: at(ms),
        market: Hash32([1; 32]),
        up_token: TokenId::parse("1001").unwrap(),
        up_mid2_pips: Some(mid2),
        p_up: dec(p_up),
        confidence: dec(confidence),
        action,
        reason: reason.into(),
        client_order_id: None,
        detail: json!({}),
    })
}

fn trade(run: i64, n: u32, closed_ms: i64, cost: i64, proceeds: i64, fees: i64) -> EngineRow {
    EngineRow::Trade(Trade {
        run,
        market: Hash32([1; 32]),
        token: TokenId::parse("1001").unwrap(),
        entry_order: ClientOrderId::new(format!("en-{n}")).unwrap(),
        opened: at(closed_ms - 30_000),
        closed: at(closed_ms),
        shares: Size::from_shares(10),
        cost: Usdc::from_micros(cost),
        proceeds: Usdc::from_micros(proceeds),
        fees: Usdc::from_micros(fees),
        close_reason: "take_profit".into(),
        confidence: dec("0.5"),
        probability: dec("0.75"),
    })
}

fn mark(run: i64, ms: i64, equity: i64, fees: i64) -> EngineRow {
    EngineRow::Mark(Mark {
        run,
        at: at(ms),
        cash: Usdc::from_micros(equity),
        positions: Usdc::ZERO,
        unredeemed: Usdc::ZERO,
        realised: Usdc::from_micros(equity - 300_000_000),
        fees: Usdc::from_micros(fees),
        open_positions: 0,
    })
}

/// A live-data paper run with three trades (+0.50, -0.20, +0.30 after
/// 0.16 of fees) and refusals, then a replay backtest of older data with one
/// losing trade (-1.00 after 0.02 of fees).
fn small_journal(path: &Path) {
    use DecisionAction::*;
    let mut j = Journal::open(path).unwrap();
    let paper = j.start_run(&start(RunMode::Paper, DataSource::LiveData, at(0))).unwrap();
    j.record_rows(&[
        mark(paper, 0, 300_000_000, 0),
        decision(paper, 0, 10_000, "0.5", "0", NotReady, "warm_up"),
        decision(paper, 10_000, 10_000, "0.75", "0.5", Enter, "entry"),
        decision(paper, 70_000, 10_400, "0.72", "0.45", Exit, "take_profit"),
        trade(paper, 1, 70_000, 5_070_000, 5_570_000, 70_000),
        mark(paper, 70_000, 300_500_000, 70_000),
        decision(paper, 130_000, 10_400, "0.25", "0.5", Refused, "kill_switch"),
        decision(paper, 190_000, 10_200, "0.8", "0.6", Refused, "kill_switch"),
        trade(paper, 2, 200_000, 4_200_000, 4_000_000, 50_000),
        mark(paper, 200_000, 300_300_000, 120_000),
        decision(paper, 250_000, 10_200, "0.7", "0.41", Refused, "price_band"),
        trade(paper, 3, 300_000, 3_000_000, 3_300_000, 40_000),
        mark(paper, 300_000, 300_600_000, 160_000),
        decision(paper, 310_000, 10_300, "0.6", "0.2", Pass, "no_edge"),
        decision(paper, 370_000, 10_300, "0.55", "0.1", Pass, "low_confidence"),
        EngineRow::Payout(PayoutRow {
            run: paper,
            market: Hash32([1; 32]),
            token: TokenId::parse("1001").unwrap(),
            shares: Size::from_shares(3),
            amount: Usdc::from_whole(3),
            at: at(300_000),
        }),
        mark(paper, 400_000, 300_600_000, 160_000),
    ])
    .unwrap();
    j.end_run(paper, at(400_000), "duration").unwrap();
    j.record_note("balance_check", &json!({"ok": true, "detail": "enough pUSD and approvals"}), at(0)).unwrap();

    // A day earlier in market time: the replay's times go back.
    let replay = j.start_run(&start(RunMode::Backtest, DataSource::Replay, at(-86_400_000))).unwrap();
    j.record_rows(&[
        mark(replay, -86_400_000, 300_000_000, 0),
        decision(replay, -86_400_000, 10_000, "0.8", "0.6", Enter, "entry"),
        decision(replay, -86_340_000, 9_000, "0.3", "0.4", Exit, "stop_loss"),
        trade(replay, 4, -86_340_000, 2_000_000, 1_000_000, 20_000),
        mark(replay, -86_340_000, 299_000_000, 20_000),
    ])
    .unwrap();
    j.end_run(replay, at(-86_300_000), "end_of_data").unwrap();
}

fn performance(path: &Path) -> Performance {
    compute(&Journal::open_read_only(path).unwrap(), Scope::All).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_report_of_a_small_journal_states_its_exact_figures() {
    let scratch = Scratch::new("small");
    let journal = scratch.path("j.sqlite");
    small_journal(&journal);
    let perf = performance(&journal);
    let files = write_report(&scratch.path("out"), &perf, &journal).unwrap();
    assert_eq!(files, ReportFiles::in_dir(&scratch.path("out")));
    let md = read(&files.markdown);

    for row in [
        "| closed trades | 4 |",
        "| wins (P&L > 0 after fees) | 2 |",
        "| losses (P&L ≤ 0 after fees) | 2 |",
        "| win rate | 50.0% |",
        "| win rate, 95% Wilson interval | [15.0%, 85.0%] |",
        "| P&L after fees | **-0.40** |",
        "| fees paid | 0.18 |",
        "| P&L before fees | -0.22 |",
        "| average win | +0.40 |",
        "| average loss | -0.60 |",
        "| `kill_switch` | 2 |",
        "| `price_band` | 1 |",
        "| `no_edge` | 1 |",
        "| `low_confidence` | 1 |",
        "| `refused` | 3 |",
        "| `not_ready` | 1 |",
        "| `latency_ms` | `250` |",
        "| `walk_book` | `true` |",
        "| `queue` | `back_of_visible` |",
        "| `starting_cash` | `300` |",
    ] {
        assert!(md.contains(row), "missing {row:?} in\n{md}");
    }
    // The refusals table lists the most frequent reason first.
    assert!(md.find("| `kill_switch` | 2 |").unwrap() < md.find("| `price_band` | 1 |").unwrap());
    // Every target, as measured, with its verdict.
    assert!(!perf.targets.is_empty());
    for t in &perf.targets {
        let verdict = if t.met { "**yes**" } else { "**no**" };
        let esc = markdown::escape;
        let row = format!("| {} | {} | {} | {verdict} |", esc(&t.name), esc(&t.target), esc(&t.measured));
        assert!(md.contains(&row), "missing target row {row:?} in\n{md}");
    }
    assert!(md.contains("| **no** |"), "P&L -0.40 misses the target: {md}");
    // Said plainly: too few trades, and replays never count.
    assert!(md.contains("Too few trades to judge."), "{md}");
    assert!(md.contains("contains the 70% target"), "{md}");
    assert!(md.contains("4 closed trades: fewer than the 100 the go-live gate asks for."), "{md}");
    assert!(md.contains("**Only runs on live market data count for the go-live gate**"), "{md}");
    assert!(md.contains("including runs that do not count for the gate: 1 replay run (1 trade)."), "{md}");
    // Coverage by source and mode; both runs listed with their provenance.
    assert!(md.contains("| `live_data` | yes | 1 | 3 |"), "{md}");
    assert!(md.contains("| `replay` | never | 1 | 1 |"), "{md}");
    assert!(md.contains("| `paper` | 1 | 3 | 8 |"), "{md}");
    assert!(md.contains("| `backtest` | 1 | 1 | 2 |"), "{md}");
    let hash = &perf.runs[0].config_hash[..12];
    assert!(md.contains(&format!("| 1 | `paper` | `live_data` | 2024-03-01 00:00:00 | 2024-03-01 00:06:40 (duration) | 3 | 8 | `{hash}` | `f00dfeedf00d` | no |")), "{md}");
    // The model's figure beside the validated one.
    assert!(md.contains("| model file (walk-forward validation) | 88.0% | [84.0%, 91.0%] | coverage 20.0% |"), "{md}");
    // No float artefact ever reaches the page.
    for bad in ["NaN", "inf%", "| inf", "n/a (no trade)"] {
        assert!(!md.contains(bad), "{bad} in\n{md}");
    }
    for plot in [EQUITY_PLOT, DRAWDOWN_PLOT, PNL_HISTOGRAM_PLOT, FEES_PLOT, DAILY_PNL_PLOT] {
        assert!(md.contains(&format!("]({plot})")), "{plot} not linked");
    }
}

#[test]
fn the_html_page_is_self_contained_and_embeds_every_plot() {
    let scratch = Scratch::new("html");
    let journal = scratch.path("j.sqlite");
    small_journal(&journal);
    let files = write_report(&scratch.path("out"), &performance(&journal), &journal).unwrap();
    let html = read(&files.html);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for external in ["src=\"http", "href=\"http", "<link", "<script", "url(", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    for plot in files.plots() {
        let bytes = std::fs::read(plot).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (1000, 480), "{}", plot.display());
        let uri = format!("src=\"data:image/png;base64,{}\"", STANDARD.encode(&bytes));
        assert!(html.contains(&uri), "{} not embedded", plot.display());
    }
    assert!(html.contains("<td class=\"r\"><strong>-0.40</strong></td>"));
    assert!(html.contains("<td><code>kill_switch</code></td><td class=\"r\">2</td>"));
}

#[test]
fn the_same_journal_gives_the_same_bytes() {
    let scratch = Scratch::new("same");
    let journal = scratch.path("j.sqlite");
    small_journal(&journal);
    let a = write_report(&scratch.path("a"), &performance(&journal), &journal).unwrap();
    let b = write_report(&scratch.path("b"), &performance(&journal), &journal).unwrap();
    for (x, y) in a.all().into_iter().zip(b.all()) {
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap(), "{} differs", x.display());
    }
    // Written again into the same folder: replaced, no temporary left behind.
    write_report(&scratch.path("a"), &performance(&journal), &journal).unwrap();
    let names: Vec<String> = std::fs::read_dir(scratch.path("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
}

#[test]
fn the_fee_curve_ends_at_the_fee_total_of_the_runs_in_scope() {
    let scratch = Scratch::new("fees");
    let journal = scratch.path("j.sqlite");
    small_journal(&journal);
    let perf = performance(&journal);
    let j = Journal::open_read_only(&journal).unwrap();
    let curve = fee_curve(&j, &perf.runs).unwrap();
    let micros: Vec<i64> = curve.iter().map(|(_, f)| f.micros()).collect();
    assert_eq!(micros, [70_000, 120_000, 160_000, 180_000]);
    assert_eq!(curve.last().unwrap().1, perf.fees);
    // Only the runs given: the replay run alone paid 0.02.
    let replay_only: Vec<_> = perf.runs.iter().filter(|r| r.data_source == DataSource::Replay).cloned().collect();
    let curve = fee_curve(&j, &replay_only).unwrap();
    assert_eq!(curve, vec![(at(-86_340_000), Usdc::from_micros(20_000))]);
}

#[test]
fn an_empty_journal_says_there_is_nothing_to_report() {
    let scratch = Scratch::new("empty");
    let journal = scratch.path("j.sqlite");
    drop(Journal::open(&journal).unwrap());
    let perf = performance(&journal);
    assert!(perf.runs.is_empty());
    let files = write_report(&scratch.path("out"), &perf, &journal).unwrap();
    let md = read(&files.markdown);
    assert!(md.contains("## Nothing to report"), "{md}");
    assert!(md.contains("The journal holds no run"), "{md}");
    assert!(md.contains("never count for the gate"), "{md}");
    for bad in ["NaN", "inf%", "| inf", "## Targets"] {
        assert!(!md.contains(bad), "{bad} in\n{md}");
    }
    assert!(read(&files.html).contains("Nothing to report"));
    for plot in files.plots() {
        assert!(std::fs::read(plot).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"), "{}", plot.display());
    }
}

#[test]
fn an_unwritable_folder_is_a_typed_error_and_writes_nothing() {
    let scratch = Scratch::new("unwritable");
    let journal = scratch.path("j.sqlite");
    small_journal(&journal);
    let blocker = scratch.path("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let err = write_report(&blocker.join("out"), &performance(&journal), &journal).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("a-file"), "{err}");
    assert_eq!(read(&blocker), "not a folder");
}

#[test]
fn a_missing_journal_is_a_typed_error() {
    let scratch = Scratch::new("missing");
    let journal = scratch.path("j.sqlite");
    small_journal(&journal);
    let perf = performance(&journal);
    let err = write_report(&scratch.path("out"), &perf, &scratch.path("nope.sqlite")).unwrap_err();
    assert!(matches!(err, ReportError::Journal(_)), "{err:?}");
    assert!(!scratch.path("out").exists(), "nothing written");
}

#[test]
fn an_interval_above_the_target_is_said_plainly_and_an_override_is_loud() {
    let scratch = Scratch::new("above");
    let journal = scratch.path("j.sqlite");
    small_journal(&journal);
    let mut perf = performance(&journal);
    perf.trades = 200;
    perf.win_rate = Some(Proportion { hits: 190, n: 200, rate: 0.95, low: 0.911, high: 0.973 });
    perf.runs[0].gate_override = Some("operator said so".into());
    perf.coverage.retain(|source, _| *source == DataSource::LiveData);
    let md = read(&write_report(&scratch.path("out"), &perf, &journal).unwrap().markdown);
    assert!(
        md.contains(
            "The win rate is 95.0% (190 of 200 trades), 95% Wilson interval [91.1%, 97.3%]: the whole interval \
                     is above 70%."
        ),
        "{md}"
    );
    assert!(!md.contains("Too few trades"), "{md}");
    assert!(!md.contains("fewer than the 100"), "{md}");
    assert!(!md.contains("pool every run"), "live data only: {md}");
    assert!(
        md.contains("The gate was overridden with --override-gate for run 1 (reason: \"operator said so\")."),
        "{md}"
    );
    assert!(md.contains("| yes: operator said so |"), "{md}");
}

#[test]
fn a_run_without_trades_says_there_is_nothing_to_judge() {
    use DecisionAction::*;
    let scratch = Scratch::new("no-trades");
    let journal = scratch.path("j.sqlite");
    let mut j = Journal::open(&journal).unwrap();
    let run = j.start_run(&start(RunMode::Paper, DataSource::LiveData, at(0))).unwrap();
    j.record_rows(&[
        decision(run, 0, 10_000, "0.5", "0", NotReady, "no_book"),
        decision(run, 5_000, 10_000, "0.55", "0.1", Pass, "low_confidence"),
    ])
    .unwrap();
    drop(j);
    let perf = performance(&journal);
    let files = write_report(&scratch.path("out"), &perf, &journal).unwrap();
    let md = read(&files.markdown);
    for needle in [
        "| closed trades | 0 |",
        "| win rate | n/a (no trade) |",
        "| P&L after fees | **0.00** |",
        "No closed trade: there is nothing to judge a win rate or a P&L on yet.",
        "The risk gate refused no order.",
        "No P&L mark: no daily return.",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    for bad in ["NaN", "inf%", "| inf"] {
        assert!(!md.contains(bad), "{bad} in\n{md}");
    }
    for plot in files.plots() {
        assert!(std::fs::read(plot).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
