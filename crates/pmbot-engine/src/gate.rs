//! The go-live gate: the checklist a paper record must pass before pmbot
//! trades real money.
//!
//! Invariants:
//! - **Live market data only.** Only runs on [`DataSource::LiveData`] in
//!   paper or live mode count; replays and the simulator never do, however
//!   good their figures (the report shows them, named, beside the gate).
//! - **Every item shown.** The report lists each item with what was measured
//!   and what it needs, passed or not, so a failing gate says why.
//! - **Thresholds in config.** Defaults are the issue's (>= 3 days, >= 100
//!   trades, win rate > 70%, P&L > 0 after fees, hit rate > 85%, a good
//!   balance check, a recovered reconnect, a kill-switch test), set once in
//!   [`GateConfig::default`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use pmbot_core::Usdc;
use serde::{Deserialize, Serialize};

use crate::journal::{DataSource, Journal, Note, Run, RunMode};
use crate::performance::stats::{proportion_text, threshold_percent, time_text};
use crate::performance::{Performance, PerformanceError, compute_where};

/// The gate's thresholds (`[gate]` in pmbot.toml).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// Days of live market data covered (first to last decision, summed over runs).
    pub min_days: f64,
    /// Closed trades on live market data.
    pub min_trades: u64,
    /// The win rate must be strictly above this (a fraction, 0.70 = 70%).
    pub min_win_rate: f64,
    /// P&L after fees must be strictly above this.
    pub min_pnl: Usdc,
    /// The model's hit rate at its confidence threshold must be strictly above this.
    pub min_hit_rate: f64,
    /// Require the latest `balance_check` note to be ok.
    pub require_balance_check: bool,
    /// Require a live-data run to have reconnected and recovered.
    pub require_reconnect: bool,
    /// Require the kill switch to have stopped an order in a live-data run.
    pub require_kill_switch_test: bool,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            min_days: 3.0,
            min_trades: 100,
            min_win_rate: 0.70,
            min_pnl: Usdc::ZERO,
            min_hit_rate: 0.85,
            require_balance_check: true,
            require_reconnect: true,
            require_kill_switch_test: true,
        }
    }
}

/// A gate setting that makes no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("gate.{key} = {value}: {reason}")]
pub struct GateConfigError {
    pub key: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl GateConfig {
    /// Refuses thresholds no record could meet or that mean nothing.
    pub fn validate(&self) -> Result<(), GateConfigError> {
        if !self.min_days.is_finite() || self.min_days < 0.0 {
            return Err(GateConfigError {
                key: "min_days",
                value: self.min_days.to_string(),
                reason: "must be a number of days >= 0",
            });
        }
        for (key, value) in [("min_win_rate", self.min_win_rate), ("min_hit_rate", self.min_hit_rate)] {
            if !(0.0..1.0).contains(&value) {
                return Err(GateConfigError {
                    key,
                    value: value.to_string(),
                    reason: "must be a fraction in [0, 1) (0.7 = 70%; the rate must exceed it)",
                });
            }
        }
        Ok(())
    }
}

/// Which item of the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateCheck {
    Days,
    Trades,
    WinRate,
    Pnl,
    HitRate,
    BalanceCheck,
    Reconnect,
    KillSwitch,
}

/// One item of the checklist, measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateItem {
    pub check: GateCheck,
    /// What is checked ("trades on live market data").
    pub name: String,
    pub passed: bool,
    /// What was measured ("137").
    pub figure: String,
    /// What it needs (">= 100").
    pub required: String,
}

/// The checklist, every item measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub items: Vec<GateItem>,
}

impl GateReport {
    /// Whether every item passed.
    pub fn passed(&self) -> bool {
        self.items.iter().all(|i| i.passed)
    }

    /// The items that failed.
    pub fn failed(&self) -> impl Iterator<Item = &GateItem> {
        self.items.iter().filter(|i| !i.passed)
    }

    /// The item for `check`, if listed.
    pub fn item(&self, check: GateCheck) -> Option<&GateItem> {
        self.items.iter().find(|i| i.check == check)
    }
}

impl fmt::Display for GateItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        write!(f, "{verdict}  {}  {} (needs {})", self.name, self.figure, self.required)
    }
}

impl fmt::Display for GateReport {
    /// One line per item.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            writeln!(f, "{item}")?;
        }
        Ok(())
    }
}

/// Whether a run's record counts towards the gate: live market data, traded
/// on paper or for real (a backtest never counts, whatever its data).
pub fn counts_for_gate(run: &Run) -> bool {
    run.start.data_source == DataSource::LiveData && matches!(run.start.mode, RunMode::Paper | RunMode::Live)
}

/// Measures every item of the checklist over the runs that count.
pub fn evaluate(journal: &Journal, cfg: &GateConfig) -> Result<GateReport, PerformanceError> {
    cfg.validate().map_err(|source| PerformanceError::InvalidGate { path: journal.path().to_path_buf(), source })?;
    let perf = compute_where(journal, counts_for_gate)?;
    let counted: BTreeSet<i64> = perf.runs.iter().map(|r| r.id).collect();
    let uncounted = not_counted(&journal.runs()?, &journal.trades()?);
    let mut items = vec![days(&perf, cfg, &uncounted), trades(&perf, cfg, &uncounted), win_rate(&perf, cfg)];
    items.push(pnl(&perf, cfg));
    items.push(hit_rate(&perf, cfg));
    items.push(balance_check(&journal.notes(BALANCE_CHECK)?, cfg));
    items.push(reconnect(&journal.notes(RECONNECT)?, &counted, cfg));
    items.push(kill_switch(&perf, &journal.notes(KILL_SWITCH)?, &counted, cfg));
    Ok(GateReport { items })
}

/// Note kinds the gate reads (written by `pmbot balance` and the engine).
pub const BALANCE_CHECK: &str = "balance_check";
pub const RECONNECT: &str = "market_data_reconnect";
pub const KILL_SWITCH: &str = "kill_switch";

/// "not counted: 2 replay runs (150 trades), 1 simulator run (200 trades)",
/// or `None` when every run counts.
fn not_counted(runs: &[Run], trades: &[crate::journal::Trade]) -> Option<String> {
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let kind_of = |run: &Run| match run.start.data_source {
        DataSource::LiveData => "live-data backtest",
        other => other.as_str(),
    };
    for run in runs.iter().filter(|r| !counts_for_gate(r)) {
        let n = trades.iter().filter(|t| t.run == run.id).count() as u64;
        let entry = by_kind.entry(kind_of(run)).or_default();
        entry.0 += 1;
        entry.1 += n;
    }
    if by_kind.is_empty() {
        return None;
    }
    let parts: Vec<String> = by_kind
        .iter()
        .map(|(kind, (runs, trades))| {
            format!("{runs} {kind} run{} ({trades} trades)", if *runs == 1 { "" } else { "s" })
        })
        .collect();
    Some(format!("not counted: {}", parts.join(", ")))
}

fn with_uncounted(figure: String, uncounted: &Option<String>) -> String {
    match uncounted {
        Some(why) => format!("{figure}; {why}"),
        None => figure,
    }
}

fn live_coverage(perf: &Performance) -> (f64, u32) {
    perf.coverage.get(&DataSource::LiveData).map_or((0.0, 0), |c| (c.days, c.calendar_days))
}

fn days(perf: &Performance, cfg: &GateConfig, uncounted: &Option<String>) -> GateItem {
    let (days, dates) = live_coverage(perf);
    GateItem {
        check: GateCheck::Days,
        name: "days of live market data".into(),
        passed: days >= cfg.min_days,
        figure: with_uncounted(format!("{days:.2} days over {dates} UTC dates"), uncounted),
        required: format!(">= {}", cfg.min_days),
    }
}

fn trades(perf: &Performance, cfg: &GateConfig, uncounted: &Option<String>) -> GateItem {
    GateItem {
        check: GateCheck::Trades,
        name: "trades on live market data".into(),
        passed: perf.trades >= cfg.min_trades,
        figure: with_uncounted(perf.trades.to_string(), uncounted),
        required: format!(">= {}", cfg.min_trades),
    }
}

fn win_rate(perf: &Performance, cfg: &GateConfig) -> GateItem {
    GateItem {
        check: GateCheck::WinRate,
        name: "win rate".into(),
        passed: perf.win_rate.is_some_and(|w| w.rate > cfg.min_win_rate),
        figure: perf.win_rate.as_ref().map_or_else(|| "no trades".into(), proportion_text),
        required: format!("> {}", threshold_percent(cfg.min_win_rate)),
    }
}

fn pnl(perf: &Performance, cfg: &GateConfig) -> GateItem {
    GateItem {
        check: GateCheck::Pnl,
        name: "P&L after fees".into(),
        passed: perf.pnl > cfg.min_pnl,
        figure: format!("{} pUSD (fees {} pUSD)", perf.pnl, perf.fees),
        required: format!("> {} pUSD", cfg.min_pnl),
    }
}

fn hit_rate(perf: &Performance, cfg: &GateConfig) -> GateItem {
    let h = &perf.hit_rate;
    GateItem {
        check: GateCheck::HitRate,
        name: format!("model hit rate at confidence >= {}", h.threshold.normalize()),
        passed: h.rate.is_some_and(|r| r.rate > cfg.min_hit_rate),
        figure: h.rate.as_ref().map_or_else(|| "no call could be scored".into(), proportion_text),
        required: format!("> {}", threshold_percent(cfg.min_hit_rate)),
    }
}

/// "nothing (require_x = false)" for an item switched off in config.
fn not_required(key: &str) -> String {
    format!("nothing ({key} = false)")
}

/// The latest balance check decides: a later failed check supersedes an
/// earlier good one (the money or an approval may be gone).
fn balance_check(notes: &[Note], cfg: &GateConfig) -> GateItem {
    let latest = notes.iter().max_by_key(|n| n.at);
    let ok = latest.is_some_and(|n| n.detail.get("ok").and_then(serde_json::Value::as_bool) == Some(true));
    let figure = match latest {
        None => "none journaled (run `pmbot balance`)".to_string(),
        Some(n) => {
            let detail = n.detail.get("detail").and_then(serde_json::Value::as_str).unwrap_or("no detail");
            let verdict = if ok { "ok" } else { "NOT ok" };
            format!("latest {verdict} at {}: {detail}", time_text(n.at.millis()))
        }
    };
    GateItem {
        check: GateCheck::BalanceCheck,
        name: "balance check".into(),
        passed: ok || !cfg.require_balance_check,
        figure,
        required: if cfg.require_balance_check {
            "the latest balance_check ok".into()
        } else {
            not_required("require_balance_check")
        },
    }
}

/// The run a note names (`"run": id`), if it is one that counts.
fn in_counted_run(note: &Note, counted: &BTreeSet<i64>) -> Option<i64> {
    note.detail.get("run").and_then(serde_json::Value::as_i64).filter(|r| counted.contains(r))
}

fn reconnect(notes: &[Note], counted: &BTreeSet<i64>, cfg: &GateConfig) -> GateItem {
    let live: Vec<&Note> = notes.iter().filter(|n| in_counted_run(n, counted).is_some()).collect();
    let recovered = live.iter().find(|n| n.detail.get("recovered").and_then(serde_json::Value::as_bool) == Some(true));
    let figure = match recovered {
        Some(n) => {
            let count = n.detail.get("reconnects").and_then(serde_json::Value::as_u64).unwrap_or(0);
            format!(
                "recovered in run {} ({count} reconnect{}) at {}",
                in_counted_run(n, counted).unwrap_or_default(),
                if count == 1 { "" } else { "s" },
                time_text(n.at.millis())
            )
        }
        None if live.is_empty() && notes.is_empty() => "none seen".into(),
        None if live.is_empty() => format!("none in a live-data run ({} in runs that do not count)", notes.len()),
        None => format!("{} in live-data runs, none recovered", live.len()),
    };
    GateItem {
        check: GateCheck::Reconnect,
        name: "market-data reconnect recovered".into(),
        passed: recovered.is_some() || !cfg.require_reconnect,
        figure,
        required: if cfg.require_reconnect {
            "a recovered reconnect in a live-data run".into()
        } else {
            not_required("require_reconnect")
        },
    }
}

fn kill_switch(perf: &Performance, notes: &[Note], counted: &BTreeSet<i64>, cfg: &GateConfig) -> GateItem {
    let refused = perf.refusals.get("kill_switch").copied().unwrap_or(0);
    let set = notes.iter().find(|n| {
        in_counted_run(n, counted).is_some()
            && n.detail.get("present").and_then(serde_json::Value::as_bool) == Some(true)
    });
    let figure = match (refused, set) {
        (0, None) => "not tested in a live-data run".to_string(),
        (0, Some(n)) => format!(
            "switch set in run {} at {}",
            in_counted_run(n, counted).unwrap_or_default(),
            time_text(n.at.millis())
        ),
        (r, _) => format!("{r} order{} refused by it", if r == 1 { "" } else { "s" }),
    };
    GateItem {
        check: GateCheck::KillSwitch,
        name: "kill switch tested".into(),
        passed: refused > 0 || set.is_some() || !cfg.require_kill_switch_test,
        figure,
        required: if cfg.require_kill_switch_test {
            "a kill_switch refusal or the switch seen set in a live-data run".into()
        } else {
            not_required("require_kill_switch_test")
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_are_the_issues_and_unknown_keys_are_refused() {
        let cfg: GateConfig = serde_json::from_value(json!({"min_trades": 50})).unwrap();
        assert_eq!(cfg, GateConfig { min_trades: 50, ..GateConfig::default() });
        let d = GateConfig::default();
        assert_eq!((d.min_days, d.min_trades, d.min_win_rate, d.min_hit_rate), (3.0, 100, 0.70, 0.85));
        assert_eq!(d.min_pnl, Usdc::ZERO);
        assert!(d.require_balance_check && d.require_reconnect && d.require_kill_switch_test);
        assert!(d.validate().is_ok());
        let e = serde_json::from_value::<GateConfig>(json!({"min_trade": 50})).unwrap_err();
        assert!(e.to_string().contains("min_trade"), "{e}");
        let cfg: GateConfig = serde_json::from_value(json!({"min_pnl": "2.5", "min_days": 1})).unwrap();
        assert_eq!((cfg.min_pnl, cfg.min_days), (Usdc::from_micros(2_500_000), 1.0));
    }

    #[test]
    fn validation_names_the_key() {
        let bad = [
            GateConfig { min_days: -1.0, ..GateConfig::default() },
            GateConfig { min_days: f64::NAN, ..GateConfig::default() },
            GateConfig { min_win_rate: 70.0, ..GateConfig::default() },
            GateConfig { min_hit_rate: 1.0, ..GateConfig::default() },
            GateConfig { min_hit_rate: -0.1, ..GateConfig::default() },
        ];
        let keys: Vec<&str> = bad.iter().map(|c| c.validate().unwrap_err().key).collect();
        assert_eq!(keys, vec!["min_days", "min_days", "min_win_rate", "min_hit_rate", "min_hit_rate"]);
        let text = bad[2].validate().unwrap_err().to_string();
        assert!(text.starts_with("gate.min_win_rate = 70: "), "{text}");
    }

    #[test]
    fn one_line_per_item() {
        let item = |check, name: &str, passed, figure: &str, required: &str| GateItem {
            check,
            name: name.into(),
            passed,
            figure: figure.into(),
            required: required.into(),
        };
        let report = GateReport {
            items: vec![
                item(GateCheck::Trades, "trades on live market data", true, "137", ">= 100"),
                item(GateCheck::WinRate, "win rate", false, "70.0% (84 of 120)", "> 70%"),
            ],
        };
        assert_eq!(
            report.to_string(),
            "PASS  trades on live market data  137 (needs >= 100)\nFAIL  win rate  70.0% (84 of 120) (needs > 70%)\n"
        );
        assert!(!report.passed());
        assert_eq!(report.failed().map(|i| i.check).collect::<Vec<_>>(), vec![GateCheck::WinRate]);
        assert_eq!(report.item(GateCheck::Trades).map(|i| i.figure.as_str()), Some("137"));
    }
}
