//! `pmbot.toml`: one table per part of the system, overridable by
//! `PMBOT_<TABLE>__<KEY>` environment variables (for example
//! `PMBOT_SIM__SEED=7`) and then by command-line flags.
//!
//! Unknown keys are errors, so a typo never silently becomes a default.
//! Secrets are never read from this file's printed form: nothing here is
//! echoed back except key names.

use std::path::Path;

use anyhow::{Context, Result, bail};
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
    pub engine: crate::trade::EngineTable,
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

const DEFAULT_PATH: &str = "pmbot.toml";
const ENV_PREFIX: &str = "PMBOT_";

/// Loads `path`, or `./pmbot.toml` when no path is given and it exists, then
/// applies environment overrides.
pub fn load(path: Option<&Path>) -> Result<FileConfig> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read config file {}", p.display()))?,
        None if Path::new(DEFAULT_PATH).exists() => {
            std::fs::read_to_string(DEFAULT_PATH).with_context(|| format!("cannot read config file {DEFAULT_PATH}"))?
        }
        None => String::new(),
    };
    let name = path.map(|p| p.display().to_string()).unwrap_or_else(|| DEFAULT_PATH.to_owned());
    parse(&text, std::env::vars(), &name)
}

/// Parses `text` with the `PMBOT_*` overrides among `env`.
pub fn parse(text: &str, env: impl Iterator<Item = (String, String)>, name: &str) -> Result<FileConfig> {
    let mut table: toml::Table = text.parse().with_context(|| format!("{name} is not valid TOML"))?;
    for (key, value) in env {
        let Some(rest) = key.strip_prefix(ENV_PREFIX) else { continue };
        let Some((section, field)) = rest.split_once("__") else { continue };
        if section.is_empty() || field.is_empty() {
            bail!("environment variable {key}: expected PMBOT_<TABLE>__<KEY>");
        }
        let section = section.to_ascii_lowercase();
        let field = field.to_ascii_lowercase();
        let entry = table.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else { bail!("config key {section} is not a table") };
        t.insert(field, env_value(&value));
    }
    FileConfig::deserialize(toml::Value::Table(table)).with_context(|| format!("invalid configuration in {name}"))
}

/// An environment value as TOML: a number or boolean if it reads as one,
/// otherwise a string.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    toml::Value::String(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn file_then_environment() {
        let cfg =
            parse("[sim]\nseed = 3\nport = 9000\n", env(&[("PMBOT_SIM__SEED", "9"), ("HOME", "/x")]), "t").unwrap();
        assert_eq!(cfg.sim.seed, 9);
        assert_eq!(cfg.sim.port, 9000);
    }

    #[test]
    fn typos_are_errors_naming_the_key() {
        let err = parse("[sim]\nsede = 3\n", env(&[]), "pmbot.toml").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("sede"), "{text}");
        let err = parse("[simm]\n", env(&[]), "pmbot.toml").unwrap_err();
        assert!(format!("{err:#}").contains("simm"));
        assert!(parse("not toml [", env(&[]), "x").is_err());
        assert!(parse("", env(&[("PMBOT_SIM", "1")]), "x").is_ok(), "no double underscore: not an override");
        assert!(parse("", env(&[("PMBOT___X", "1")]), "x").is_err());
    }

    #[test]
    fn rpc_urls_come_from_the_file_or_the_environment_and_have_no_default() {
        assert!(parse("", env(&[]), "t").unwrap().balance.rpc_urls.is_empty(), "no public default");
        let cfg = parse("", env(&[("PMBOT_BALANCE__RPC_URLS", "https://a.example/KEY,https://b.example")]), "t");
        assert_eq!(cfg.unwrap().balance.rpc_urls, ["https://a.example/KEY", "https://b.example"]);
        let cfg = parse("[balance]\nrpc_urls = [\"http://127.0.0.1:8545\"]\n", env(&[]), "t").unwrap();
        assert_eq!(cfg.balance.rpc_urls, ["http://127.0.0.1:8545"]);
        let cfg = parse("[redeem]\nattempts = 2\nretry_initial = \"100ms\"\n", env(&[]), "t").unwrap();
        assert_eq!((cfg.redeem.attempts, cfg.redeem.retry_initial), (2, std::time::Duration::from_millis(100)));
        assert!(parse("[redeem]\nattempt = 2\n", env(&[]), "t").is_err(), "typos are errors");
    }

    #[test]
    fn the_gate_table_defaults_overrides_and_refuses_typos() {
        let cfg = parse("", env(&[]), "t").unwrap();
        assert_eq!(cfg.gate, GateConfig::default());
        let cfg = parse(
            "[gate]\nmin_trades = 50\nmin_win_rate = 0.75\nmin_pnl = \"1.5\"\n",
            env(&[("PMBOT_GATE__REQUIRE_RECONNECT", "false")]),
            "t",
        )
        .unwrap();
        assert_eq!((cfg.gate.min_trades, cfg.gate.min_win_rate), (50, 0.75));
        assert_eq!(cfg.gate.min_pnl, pmbot_core::Usdc::from_micros(1_500_000));
        assert!(!cfg.gate.require_reconnect && cfg.gate.require_balance_check);
        assert_eq!(cfg.gate.min_days, 3.0);
        let err = parse("[gate]\nmin_trade = 5\n", env(&[]), "pmbot.toml").unwrap_err();
        assert!(format!("{err:#}").contains("min_trade"), "{err:#}");
    }
}
