//! The go-live gate: the checklist a paper record must pass before pmbot
//! trades real money.
//!
//! Invariants:
//! - **Live market data only.** Only runs on [`DataSource::LiveData`] in
//!   paper or live mode count; replays and the simulator never do, however
//!   good their figures (the report shows them, named, beside the gate).
//! - **Every item shown.** The report lists each item with what was measured
//!   and what it needs, passed or not, so a failing gate says why.
//! - **Thresholds in config.** Defaults are the (>= 3 days, >= 100
//!   trades, win rate > 70%, P&L > 0 after fees, hit rate > 85%, a good
//!   balance check, a recovered reconnect, a kill-switch test), set once in
//!   [`GateConfig::default`].

use std::fmt;

use pmbot_core::Usdc;
use serde::{Deserialize, Serialize};

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
