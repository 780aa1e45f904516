//! Simulated runs stay on this machine.
//!
//! Invariant: a run is simulated when its exchange is the embedded simulator
//! (`--sim`), is declared one (`--simulated-exchange`), or is reached at a
//! loopback address ([`Exchange::of`]: the one rule every command applies),
//! and a simulated run contacts loopback addresses only. Its exchange and
//! market look-ups must be on loopback (anything else is refused before a
//! byte is sent); a balance RPC or an alert webhook that is not is left
//! alone, and each one left alone is said in one printed line.
//!
//! Loopback means 127.0.0.0/8, ::1 or the name `localhost`, so no name is
//! ever looked up to decide it.

use std::net::IpAddr;

use pmbot_engine::journal::DataSource;
use pmbot_ops::alerts::AlertConfig;
use pmbot_venue::balance::redact_rpc_url;

use crate::error::Result;
use crate::error::refuse;

/// What the exchange of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// The embedded simulator, a running `pmbot sim`, or any exchange on
    /// loopback: never Polymarket, never real money.
    Simulated,
    /// Anything else: Polymarket, or whatever the URLs name.
    Real,
}

impl Exchange {
    /// The rule: the embedded simulator, or an exchange reached at a loopback
    /// address (any of its `urls`: REST, WebSocket), is simulated. Polymarket
    /// never runs on this machine.
    pub fn of(embedded: bool, urls: &[&str]) -> Exchange {
        if embedded || urls.iter().any(|u| is_loopback_url(u)) { Exchange::Simulated } else { Exchange::Real }
    }

    pub fn is_simulated(self) -> bool {
        self == Exchange::Simulated
    }

    /// How the journal records the run's market data: a simulated exchange's
    /// data never counts as live market data for the go-live gate.
    pub fn data_source(self) -> DataSource {
        match self {
            Exchange::Simulated => DataSource::Simulator,
            Exchange::Real => DataSource::LiveData,
        }
    }
}

/// Refuses a simulated run whose exchange or market look-ups would leave
/// the machine: every `(name, url)` must be on loopback. Only the host is
/// ever printed (a URL may carry a key).
pub fn require_loopback(named: &[(&str, &str)]) -> Result<()> {
    let far: Vec<String> = named
        .iter()
        .filter(|(_, url)| !is_loopback_url(url))
        .map(|(name, url)| format!("{name} ({})", url_host(url).unwrap_or("no host")))
        .collect();
    if !far.is_empty() {
        refuse!("a simulated run talks to loopback only (127.0.0.1, ::1, localhost); not loopback: {}", far.join(", "));
    }
    Ok(())
}

/// Where a simulated run reads balances from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimulatedBalances {
    /// The chain, at these loopback RPC URLs (an anvil node), in the
    /// configured order.
    Chain(Vec<String>),
    /// The simulator's own accounts (its `/balance-allowance` ledger).
    Exchange,
}

/// The balance source of a simulated run from `[balance] rpc_urls`: the
/// loopback ones if any, else the simulator's accounts; and the printed
/// line naming the URLs that are not contacted (`None` when every URL is
/// used). Only scheme, host and port of a URL are printed.
pub fn simulated_balances(rpc_urls: &[String]) -> (SimulatedBalances, Option<String>) {
    let (near, far): (Vec<&String>, Vec<&String>) = rpc_urls.iter().partition(|u| is_loopback_url(u));
    let source = if near.is_empty() {
        SimulatedBalances::Exchange
    } else {
        SimulatedBalances::Chain(near.into_iter().cloned().collect())
    };
    let notice = (!far.is_empty()).then(|| {
        let names: Vec<String> = far.iter().map(|u| redact_rpc_url(u)).collect();
        let from = match &source {
            SimulatedBalances::Exchange => "the simulator's accounts".to_owned(),
            SimulatedBalances::Chain(urls) => {
                format!("the loopback RPC {}", urls.iter().map(|u| redact_rpc_url(u)).collect::<Vec<_>>().join(", "))
            }
        };
        format!(
            "simulated run: the [balance] RPC {} is not contacted (not loopback); balances come from {from}",
            names.join(", ")
        )
    });
    (source, notice)
}

/// The alert settings of a simulated run: webhooks not on loopback are
/// removed, with the printed line that says so (`None` when none was).
pub fn loopback_alerts(alerts: AlertConfig) -> (AlertConfig, Option<String>) {
    let (alerts, dropped) = alerts.retain_webhooks(is_loopback_host);
    let notice = (!dropped.is_empty()).then(|| {
        format!(
            "simulated run: alerts are not sent to [alerts] {} (not loopback); they are journaled and logged only",
            dropped.join(", ")
        )
    });
    (alerts, notice)
}

/// The host part of a URL, if it has one (`scheme://[user@]host[:port]/...`).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    let host = host_port.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

/// `localhost`, or a loopback IP address (IPv6 without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub fn is_loopback_url(url: &str) -> bool {
    url_host(url).is_some_and(is_loopback_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for ok in [
            "http://127.0.0.1:8080/",
            "ws://localhost:1",
            "http://[::1]:9/x",
            "http://user@127.0.0.1/",
            "http://LOCALHOST",
            "http://127.0.0.2:1",
        ] {
            assert!(is_loopback_url(ok), "{ok}");
        }
        for far in [
            "https://clob.polymarket.com",
            "wss://ws-subscriptions-clob.polymarket.com",
            "http://10.0.0.1:8545",
            "http://127.0.0.1.evil.com/",
            "http://localhost@evil.com/",
            "http://[::2]:1/",
            "",
        ] {
            assert!(!is_loopback_url(far), "{far}");
        }
        assert!(is_loopback_host("::1") && is_loopback_host("[::1]") && !is_loopback_host("discord.com"));
    }

    #[test]
    fn one_rule_decides_what_is_simulated() {
        let polymarket = ["https://clob.polymarket.com", "wss://ws-subscriptions-clob.polymarket.com"];
        assert_eq!(Exchange::of(false, &polymarket), Exchange::Real);
        assert_eq!(Exchange::of(true, &polymarket), Exchange::Simulated, "the embedded simulator");
        assert_eq!(Exchange::of(false, &["http://127.0.0.1:5/", polymarket[1]]), Exchange::Simulated);
        assert_eq!(Exchange::of(false, &[polymarket[0], "ws://[::1]:5"]), Exchange::Simulated);
        assert_eq!(Exchange::Simulated.data_source(), DataSource::Simulator);
        assert_eq!(Exchange::Real.data_source(), DataSource::LiveData);
    }

    #[test]
    fn a_simulated_run_refuses_far_urls_naming_only_their_hosts() {
        require_loopback(&[("--clob-url", "http://127.0.0.1:1/"), ("--gamma-url", "http://localhost:1/gamma")])
            .unwrap();
        let err = require_loopback(&[
            ("--clob-url", "http://127.0.0.1:1/"),
            ("--gamma-url", "https://user:pw@gamma-api.polymarket.com/?key=SECRET"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("--gamma-url (gamma-api.polymarket.com)") && !err.contains("--clob-url"), "{err}");
        assert!(!err.contains("SECRET") && !err.contains("pw"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }

    #[test]
    fn balances_come_from_a_loopback_rpc_or_the_simulator() {
        let urls = |u: &[&str]| u.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (source, notice) = simulated_balances(&urls(&["https://polygon-rpc.com"]));
        assert_eq!(source, SimulatedBalances::Exchange);
        let notice = notice.unwrap();
        assert!(notice.contains("https://polygon-rpc.com is not contacted"), "{notice}");
        assert!(notice.contains("the simulator's accounts"), "{notice}");

        let (source, notice) = simulated_balances(&urls(&["https://rpc.example/v2/SECRET", "http://127.0.0.1:8545"]));
        assert_eq!(source, SimulatedBalances::Chain(urls(&["http://127.0.0.1:8545"])));
        let notice = notice.unwrap();
        assert!(notice.contains("https://rpc.example is not") && notice.contains("127.0.0.1:8545"), "{notice}");
        assert!(!notice.contains("SECRET"), "{notice}");

        let (source, notice) = simulated_balances(&urls(&["http://localhost:8545"]));
        assert_eq!((source, notice), (SimulatedBalances::Chain(urls(&["http://localhost:8545"])), None));
        assert_eq!(simulated_balances(&[]), (SimulatedBalances::Exchange, None));
    }

    #[test]
    fn far_webhooks_are_dropped_and_said_loopback_ones_kept() {
        use pmbot_ops::alerts::{DISCORD_WEBHOOK_ENV, JSON_WEBHOOK_ENV};
        let cfg = AlertConfig::default().with_env(|name| match name {
            DISCORD_WEBHOOK_ENV => Some("https://discord.com/api/webhooks/1/tok_SECRET".to_owned()),
            JSON_WEBHOOK_ENV => Some("http://127.0.0.1:9/hook".to_owned()),
            _ => None,
        });
        let (kept, notice) = loopback_alerts(cfg);
        assert!(kept.discord_webhook.is_none() && kept.json_webhook.is_some());
        let notice = notice.unwrap();
        assert!(notice.contains("discord_webhook") && !notice.contains("json_webhook"), "{notice}");
        assert!(!notice.contains("SECRET") && !notice.contains("discord.com"), "{notice}");
        let (_, notice) = loopback_alerts(AlertConfig::default());
        assert_eq!(notice, None);
    }
}
