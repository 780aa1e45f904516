//! `pmbot.toml` as types: one table per part of the system. The binary
//! loads it (file, then `PMBOT_*` variables, then flags); everything a run
//! needs is read from here.

use std::path::PathBuf;

use pmbot_core::{PaperConfig, RiskConfig, StrategyConfig};
use pmbot_engine::gate::GateConfig;
use pmbot_sim::SimConfig;
use pmbot_venue::balance::BalanceConfig;
use pmbot_venue::gateway::GatewayConfig;
use pmbot_venue::marketdata::MarketDataConfig;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub sim: SimConfig,
    /// The market-data stream and book store (`[market_data.stream]`,
    /// `[market_data.books]`).
    pub market_data: MarketDataConfig,
    /// The order gateway: exchange URLs, signature type, funder, key file,
    /// timeouts, rate limits, kill switch path.
    pub gateway: GatewayConfig,
    /// The on-chain balance reader: RPC URLs (no default: required by
    /// live, balance, redeem and doctor), chain, contract addresses, TTL.
    pub balance: BalanceConfig,
    /// Redemption of resolved markets: receipt_timeout, receipt_poll,
    /// retry_initial, retry_max, attempts, resolution_poll.
    pub redeem: pmbot_venue::redeem::RedeemConfig,
    pub journal: JournalConfig,
    /// The strategy: confidence threshold, edge margin, sizing, exits.
    pub strategy: StrategyConfig,
    /// The risk gate's limits.
    pub risk: RiskConfig,
    /// The paper venue's fill model (each assumption the report states).
    pub paper: PaperConfig,
    /// The engine loop: P&L mark interval, journal batching.
    pub engine: crate::settings::EngineTable,
    /// Live trading's own limits.
    pub live: LiveConfig,
    /// The go-live gate's thresholds (`pmbot gate`, and `pmbot live` before
    /// it trades): min_days, min_trades, min_win_rate, min_pnl, min_hit_rate,
    /// require_balance_check, require_reconnect, require_kill_switch_test.
    pub gate: GateConfig,
    /// The ops server (dashboard, /health, /metrics) and health thresholds:
    /// http, stale_after, loop_silent_after, summary_at.
    pub ops: pmbot_ops::config::OpsConfig,
    /// Log levels and the JSON log folder: terminal, file, dir, keep_days.
    pub logs: pmbot_ops::logs::LogConfig,
    /// Alerts: discord_webhook (or env PMBOT_DISCORD_WEBHOOK), json_webhook,
    /// window, queue, max_attempts, timeout, min_severity.
    pub alerts: pmbot_ops::alerts::AlertConfig,
    /// Stopping on SIGTERM or SIGINT: timeout (the longest a clean stop may
    /// take before the process exits anyway).
    pub shutdown: crate::shutdown::ShutdownConfig,
}

/// `[live]`: what applies to real money only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// The capital cap of live runs (the risk cap applies when lower): the
    /// first live runs trade 50 pUSD of the 300 the design allows.
    pub capital_cap: pmbot_core::Usdc,
    /// When a run stops (signal, --duration, end of data), cancel the orders
    /// it left resting on the exchange before writing the run's end.
    pub cancel_on_exit: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig { capital_cap: pmbot_core::Usdc::from_whole(50), cancel_on_exit: true }
    }
}

/// Where the journal lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// The SQLite journal file (created if missing).
    pub path: PathBuf,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig { path: PathBuf::from("pmbot-journal.sqlite") }
    }
}
