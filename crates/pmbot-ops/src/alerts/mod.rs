//! Alerts to a person: Discord (and a generic JSON webhook) behind one sink trait.
//!
//! Invariants:
//! - [`Alerter::send`] never awaits and never blocks: it is a `try_send` on a
//!   bounded queue, and a full queue costs a counted drop, never a wait. All
//!   sending, retrying and deduplication happen on the dispatcher task.
//! - A webhook URL lives in a [`secrecy::SecretString`] from the moment it is
//!   read until the request is built; it appears in no `Debug` output, no
//!   [`SinkError`], no log line and no [`AlertStats`].
//! - At most one message per [`AlertKind`] per window goes out; what the
//!   window held back is counted and told (on the next message of the kind,
//!   or in a follow-up when the window ends quietly).

mod config;
mod dedup;
mod discord;
mod dispatch;
mod sink;
mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use config::{AlertConfig, AlertConfigError, DISCORD_WEBHOOK_ENV, JSON_WEBHOOK_ENV};
pub use discord::{DiscordSink, discord_payload};
pub use dispatch::{AlertStats, Alerter, KindStats, SinkStats, sinks_from_config};
pub use sink::{AlertSink, BoxFuture, SinkError, retry_after_from};
pub use webhook::JsonWebhookSink;

/// How urgently a person should look. Ordered: `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened. Deduplication and the per-kind counters are keyed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    ProcessStart,
    ProcessStop,
    KillSwitch,
    DailyLossLimit,
    Cooldown,
    MarketDataStale,
    OrderRejected,
    OrderAmbiguous,
    BalanceCheckFailing,
    BalanceLow,
    GateOverride,
    DailySummary,
    Gateway,
}

impl AlertKind {
    /// Every kind, in declaration order (the index of a kind in this array is
    /// [`AlertKind::index`]).
    pub const ALL: [AlertKind; 13] = [
        AlertKind::ProcessStart,
        AlertKind::ProcessStop,
        AlertKind::KillSwitch,
        AlertKind::DailyLossLimit,
        AlertKind::Cooldown,
        AlertKind::MarketDataStale,
        AlertKind::OrderRejected,
        AlertKind::OrderAmbiguous,
        AlertKind::BalanceCheckFailing,
        AlertKind::BalanceLow,
        AlertKind::GateOverride,
        AlertKind::DailySummary,
        AlertKind::Gateway,
    ];

    /// snake_case name; also the metrics label.
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertKind::ProcessStart => "process_start",
            AlertKind::ProcessStop => "process_stop",
            AlertKind::KillSwitch => "kill_switch",
            AlertKind::DailyLossLimit => "daily_loss_limit",
            AlertKind::Cooldown => "cooldown",
            AlertKind::MarketDataStale => "market_data_stale",
            AlertKind::OrderRejected => "order_rejected",
            AlertKind::OrderAmbiguous => "order_ambiguous",
            AlertKind::BalanceCheckFailing => "balance_check_failing",
            AlertKind::BalanceLow => "balance_low",
            AlertKind::GateOverride => "gate_override",
            AlertKind::DailySummary => "daily_summary",
            AlertKind::Gateway => "gateway",
        }
    }

    /// Position in [`AlertKind::ALL`]; indexes the lock-free counters.
    pub fn index(&self) -> usize {
        *self as usize
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing to tell a person. `at_ms` is Unix time in milliseconds, taken by
/// the caller (the engine's clock), so replays stamp replay time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    pub at_ms: i64,
}

impl Alert {
    pub fn new(
        kind: AlertKind,
        severity: Severity,
        title: impl Into<String>,
        body: impl Into<String>,
        at_ms: i64,
    ) -> Alert {
        Alert { kind, severity, title: title.into(), body: body.into(), at_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_index_matches_all_and_names_are_unique_snake_case() {
        let mut names = std::collections::BTreeSet::new();
        for (i, kind) in AlertKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
            let name = kind.as_str();
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(name));
            assert!(names.insert(name));
        }
    }

    #[test]
    fn severity_orders_and_displays() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        assert_eq!(Severity::Critical.to_string(), "critical");
        assert_eq!(serde_json::to_value(Severity::Warning).unwrap(), serde_json::json!("warning"));
    }
}
