//! `pmbot.toml`: one table per part of the system, overridable by
//! `PMBOT_<TABLE>__<KEY>` environment variables (for example
//! `PMBOT_SIM__SEED=7`, or `PMBOT_MARKET_DATA__STREAM__PING_INTERVAL=5s`
//! for a nested table) and then by command-line flags.
//!
//! The layers are figment's: the file (`Toml`), then one `Serialized` value
//! per variable, nested at its dotted path and typed leniently by figment
//! (`0.75` a float, `false` a boolean, `[a, b]` a list, anything else a
//! string). Only the choice of variables is pmbot's: the `PMBOT_` prefix and
//! at least one `__` (so `PMBOT_PRIVATE_KEY` and the other secrets read by
//! name are never taken for settings). Figment's own `Env` provider does the
//! same but reads only the process's environment; taking the variables as
//! a list lets the tests give them without touching it.
//!
//! Unknown keys are errors, so a typo never silently becomes a default.
//! Secrets are never read from this file's printed form: nothing here is
//! echoed back except key names.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

pub use pmbot_run::config::FileConfig;

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
    // The file's own syntax first, so its error names the file.
    text.parse::<toml::Table>().with_context(|| format!("{name} is not valid TOML"))?;
    let mut layers = Figment::from(Toml::string(text));
    // Dotted key -> the variable that set it, to name it in an error.
    let mut from_env = BTreeMap::new();
    for (key, value) in env {
        let Some(rest) = key.strip_prefix(ENV_PREFIX) else { continue };
        if !rest.contains("__") {
            continue;
        }
        if rest.split("__").any(str::is_empty) {
            bail!("environment variable {key}: expected PMBOT_<TABLE>__<KEY> (or PMBOT_<TABLE>__<TABLE>__<KEY>)");
        }
        let path = rest.to_ascii_lowercase().replace("__", ".");
        let value: figment::value::Value =
            value.parse().unwrap_or_else(|never: std::convert::Infallible| match never {});
        layers = layers.merge(Serialized::default(&path, value));
        from_env.insert(path, key);
    }
    let read = layers.extract::<FileConfig>();
    read.map_err(|e| anyhow::anyhow!("{}", one_error(&e, &from_env, name))).context("invalid configuration")
}

/// Figment's error as one line: the first problem, its key, where the key
/// was set (the file or a variable), and how many more problems there are.
fn one_error(e: &figment::Error, from_env: &BTreeMap<String, String>, file: &str) -> String {
    let key = e.path.join(".");
    let origin = match from_env.get(&key) {
        Some(var) => format!("set by {var}"),
        None => format!("in {file}"),
    };
    let at = if key.is_empty() { String::new() } else { format!(" for key {key}") };
    let more = e.clone().count().saturating_sub(1);
    let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
    format!("{}{at} ({origin}){more}", e.kind)
}

#[cfg(test)]
mod tests {
    use pmbot_venue::marketdata::StreamConfig;

    use pmbot_engine::gate::GateConfig;

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

    /// Issue 14: the environment layer reached only `[table] key`, so a
    /// nested table (`[market_data.stream]`) could not be set, and a float
    /// (`0.75`) was taken for a string.
    #[test]
    fn the_environment_reaches_nested_tables_and_every_field_type() {
        let cfg = parse(
            "[market_data.stream]\nping_interval = \"9s\"\n",
            env(&[
                ("PMBOT_MARKET_DATA__STREAM__PING_INTERVAL", "3s"),
                ("PMBOT_MARKET_DATA__STREAM__CUSTOM_FEATURES", "true"),
                ("PMBOT_GATE__MIN_WIN_RATE", "0.75"),
                ("PMBOT_GATE__MIN_DAYS", "2"),
                ("PMBOT_RISK__DAILY_LOSS_LIMIT", "12.5"),
                ("PMBOT_OPS__HTTP", "127.0.0.1:0"),
                ("PMBOT_PRIVATE_KEY", "0xnot-a-setting"),
            ]),
            "t",
        )
        .unwrap();
        assert_eq!(cfg.market_data.stream.ping_interval, std::time::Duration::from_secs(3), "the environment wins");
        assert!(cfg.market_data.stream.custom_features);
        assert_eq!((cfg.gate.min_win_rate, cfg.gate.min_days), (0.75, 2.0));
        assert_eq!(cfg.risk.daily_loss_limit, pmbot_core::Usdc::from_micros(12_500_000));
        // What the environment does not set stays the file's, then the default.
        assert_eq!(cfg.market_data.stream.pong_timeout, StreamConfig::default().pong_timeout);
        let err = parse("", env(&[("PMBOT_MARKET_DATA__STREAM__PING_INTERVL", "3s")]), "t").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("ping_intervl") && !text.contains('\n'), "one line naming the typo: {text}");
        let err = parse("", env(&[("PMBOT_GATE__MIN_WIN_RATE", "high")]), "t").unwrap_err();
        assert!(format!("{err:#}").contains("min_win_rate"), "{err:#}");
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
