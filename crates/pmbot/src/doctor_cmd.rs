//! `pmbot doctor`: the preflight before going live. The checks live next to
//! what they check (`pmbot_venue::doctor`: key, CLOB, markets, chain,
//! WebSocket); here are the config, the API key (a gateway the binary
//! wires) and the gate (the journal), and the order they run in.
//!
//! Invariants: every check runs even when an earlier one failed; a check is
//! skipped only when it cannot run without what an earlier one failed to
//! give ("skipped: needs X"). The exit code is 0 only when no check failed.
//! Nothing secret is printed: the key never, URLs only as scheme, host,
//! port (and for the exchange, path) — never user-info, query or an RPC path.
//! It places no order and changes nothing (the API key is derived, which
//! the exchange answers with the same key every time).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use pmbot_engine::gate;
use pmbot_engine::journal::Journal;
use pmbot_engine::record::redact_url;
use pmbot_venue::SystemClock;
use pmbot_venue::balance::ConfigError;
use pmbot_venue::doctor::{self, Check, Checks, Named};

use crate::config::FileConfig;
use pmbot_run::account;
use pmbot_run::source::GAMMA_URL;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Markets to check (their allowances, and a book over the WebSocket).
    #[arg(long = "market", num_args = 1.., value_name = "SLUG", conflicts_with = "tokens")]
    pub markets: Vec<String>,
    /// Token ids to check instead of markets.
    #[arg(long, num_args = 1.., value_name = "ID")]
    pub tokens: Vec<String>,
    /// Check against an embedded simulated exchange (the chain is still the
    /// configured RPC); the go-live gate is then not checked.
    #[arg(long)]
    pub sim: bool,
    /// Gamma API base URL, for --market (default: Polymarket's).
    #[arg(long, value_name = "URL")]
    pub gamma_url: Option<String>,
    /// How long to wait for a book over the WebSocket.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub book_timeout: Duration,
    /// The largest clock difference with the exchange that passes.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub max_skew: Duration,
}

/// The doctor's verdict when a check failed: `main` prints it and exits 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoctorFailed {
    pub failed: usize,
    pub total: usize,
}

impl fmt::Display for DoctorFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "doctor: {} of {} checks failed", self.failed, self.total)
    }
}

impl std::error::Error for DoctorFailed {}

/// The checks, printed as they complete.
fn printed() -> Checks {
    Checks::new(|check| println!("{check}"))
}

fn verdict(checks: &Checks) -> Result<()> {
    match checks.failed() {
        0 => Ok(()),
        failed => Err(DoctorFailed { failed, total: checks.all().len() }.into()),
    }
}

/// Every check after the config, for the report of a config that does not load.
const AFTER_CONFIG: [&str; 12] = [
    "key",
    "kill switch",
    "clob",
    "clock",
    "api key",
    "markets",
    "rpc",
    "chain",
    "collateral",
    "allowances",
    "websocket",
    "gate",
];

/// The report when the configuration does not load: the config check fails
/// with the parse error and every other check is skipped.
pub fn bad_config(error: &anyhow::Error) -> Result<()> {
    let mut report = printed();
    let text = format!("{error:#}").split_whitespace().collect::<Vec<_>>().join(" ");
    report.add(Check::fail("config", text, "correct the file (unknown keys are errors; see the key it names)"));
    for name in AFTER_CONFIG {
        report.add(Check::skip(name, "a configuration that loads"));
    }
    verdict(&report)
}

pub async fn run(mut file: FileConfig, args: DoctorArgs) -> Result<()> {
    let mut report = printed();
    report.add(config_check(&file));

    let sim = if args.sim {
        match pmbot_sim::start(file.sim.clone()).await {
            Ok(handle) => {
                file.gateway.clob_url = handle.rest_url();
                file.gateway.ws_url = handle.ws_url();
                file.market_data.stream.rest_url = handle.rest_url();
                file.market_data.stream.ws_url = handle.ws_url();
                Some(handle)
            }
            Err(e) => anyhow::bail!("cannot start the embedded simulator: {e}"),
        }
    } else {
        None
    };

    let key = doctor::key_check(&file.gateway, &mut report);
    let funder = account::funder_address(&file.gateway).ok();
    report.add(doctor::kill_switch_check(&file.gateway.kill_switch));

    let clob = redact_url(&file.gateway.clob_url);
    let skew = doctor::clob_time(&file.gateway.clob_url, file.gateway.request_timeout).await;
    match &skew {
        Ok(t) => report.add(Check::pass("clob", format!("{clob} answered GET /time in {} ms", t.round_trip_ms))),
        Err(e) => report.add(Check::fail(
            "clob",
            format!("cannot reach the CLOB at {clob}: {e}"),
            "check [gateway] clob_url and the network (a 403 page is a region block)",
        )),
    }
    report.add(match &skew {
        Ok(t) => doctor::clock_check(t.skew_ms, args.max_skew),
        Err(_) => Check::skip("clock", "a reachable CLOB"),
    });

    report.add(if key.is_none() {
        Check::skip("api key", "a usable private key")
    } else if !report.passed("clob") {
        Check::skip("api key", "a reachable CLOB")
    } else {
        api_key_check(&file).await
    });

    let named = Named {
        markets: args.markets.clone(),
        tokens: args.tokens.clone(),
        gamma_url: match (&args.gamma_url, &sim) {
            (Some(g), _) => g.clone(),
            (None, Some(h)) => format!("{}gamma", h.rest_url()),
            (None, None) => GAMMA_URL.to_owned(),
        },
        // With --sim and nothing named: the simulator's first open market.
        otherwise: sim.as_ref().and_then(|h| {
            let g = h.state.lock();
            g.exchange
                .markets()
                .iter()
                .find(|m| m.accepting_orders)
                .map(|m| (m.spec.slug.clone(), m.spec.tokens.iter().map(|t| t.token_id.clone()).collect()))
        }),
    };
    let target = doctor::markets_check(&named, &file.gateway.clob_url, file.gateway.request_timeout, &mut report).await;

    let reader = |funder| account::balance_reader(&file, funder, Arc::new(SystemClock)).map_err(|e| format!("{e:#}"));
    doctor::chain_checks(&file.balance, reader, funder, target.as_ref(), &mut report).await;

    report.add(match &target {
        Some(t) if !t.tokens.is_empty() => {
            doctor::websocket_check(&file.market_data, &t.tokens, args.book_timeout).await
        }
        _ => Check::skip("websocket", "--market SLUG or --tokens ID"),
    });

    report.add(if sim.is_some() {
        Check::skip("gate", "a real exchange (`pmbot live --sim` trades the simulator without the gate)")
    } else {
        gate_check(&file)
    });

    if let Some(handle) = sim {
        handle.shutdown().await;
    }
    verdict(&report)
}

fn config_check(file: &FileConfig) -> Check {
    let problems: Vec<String> = [
        file.gateway.validate().err().map(|e| e.to_string()),
        // A missing RPC is the rpc check's failure, with how to get one.
        file.balance.validate().err().filter(|e| *e != ConfigError::NoRpcUrl).map(|e| e.to_string()),
        file.gate.validate().err().map(|e| e.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if problems.is_empty() {
        Check::pass("config", format!("loaded; journal {}", file.journal.path.display()))
    } else {
        Check::fail("config", problems.join("; "), "correct the settings named above in the config file")
    }
}

async fn api_key_check(file: &FileConfig) -> Check {
    let started = Instant::now();
    match account::inspect_gateway(file).await {
        Ok(gateway) => {
            let open = match gateway.open_on_exchange().await {
                Ok(o) => format!("{} open order(s) on the exchange", o.len()),
                Err(e) => format!("open orders not listed: {e}"),
            };
            gateway.shutdown();
            Check::pass(
                "api key",
                format!("derived for {:#x} in {} ms; {open}", gateway.address(), started.elapsed().as_millis()),
            )
        }
        Err(e) => {
            let text = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            Check::fail(
                "api key",
                text,
                "check that the key, [gateway] signature_type and funder match the Polymarket account",
            )
        }
    }
}

/// The go-live gate on the journal: `pmbot live` refuses while it fails.
fn gate_check(file: &FileConfig) -> Check {
    let path = &file.journal.path;
    let fix =
        "paper trade on live market data until `pmbot gate` passes, or start live with --override-gate \"REASON\"";
    if !path.exists() {
        return Check::fail("gate", format!("no journal at {}: no paper record yet", path.display()), fix);
    }
    let report = Journal::open_read_only(path)
        .map_err(anyhow::Error::from)
        .and_then(|j| gate::evaluate(&j, &file.gate).map_err(anyhow::Error::from));
    match report {
        Ok(r) if r.passed() => Check::pass("gate", format!("all {} items pass on {}", r.items.len(), path.display())),
        Ok(r) => {
            let failed: Vec<&str> = r.failed().map(|i| i.name.as_str()).collect();
            Check::fail(
                "gate",
                format!(
                    "{} of {} items fail ({}); `pmbot live` will refuse",
                    failed.len(),
                    r.items.len(),
                    failed.join(", ")
                ),
                fix,
            )
        }
        Err(e) => Check::fail("gate", format!("cannot evaluate the gate on {}: {e:#}", path.display()), fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_counts_failures_only() {
        let mut r = Checks::new(|_| {});
        r.add(Check::pass("a", ""));
        r.add(Check::skip("b", "x"));
        assert!(verdict(&r).is_ok());
        r.add(Check::fail("c", "", ""));
        let err = verdict(&r).unwrap_err();
        assert_eq!(err.downcast_ref::<DoctorFailed>(), Some(&DoctorFailed { failed: 1, total: 3 }));
    }
}
