//! `pmbot doctor`: the preflight before going live. Each check prints one
//! line, `PASS|FAIL|SKIP  name  figure or reason`, and a failure a `fix:`
//! line under it.
//!
//! Invariants: every check runs even when an earlier one failed; a check is
//! skipped only when it cannot run without what an earlier one failed to
//! give ("skipped: needs X"). The exit code is 0 only when no check failed.
//! Nothing secret is printed: the key never, URLs only as scheme, host,
//! port (and for the exchange, path) — never user-info, query or an RPC path.
//! It places no order and changes nothing (the API key is derived, which
//! the exchange answers with the same key every time).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use anyhow::Result;
use clap::Args;
use pmbot_core::{Clock, TokenId};
use pmbot_engine::gate;
use pmbot_engine::journal::Journal;
use pmbot_engine::record::redact_url;
use pmbot_venue::SystemClock;
use pmbot_venue::balance::config::{RPC_URLS_ENV, RPC_URLS_SETTING};
use pmbot_venue::balance::{CollateralView, EndpointError, MarketKind, ReadFailure, SharesView, format_units6};
use pmbot_venue::balance::{ConfigError, redact_rpc_url};
use pmbot_venue::discovery::market_by_slug;
use pmbot_venue::gateway::{PrivateKey, SecretError};
use pmbot_venue::marketdata::rest::RestClient;
use pmbot_venue::marketdata::{ConnectionState, MarketData};

use crate::account;
use crate::config::FileConfig;
use crate::source::GAMMA_URL;

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

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        })
    }
}

/// One check, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    /// The figure (pass), the reason (fail) or what is missing (skip).
    pub detail: String,
    /// How to fix a failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, outcome: Outcome::Pass, detail: detail.into(), fix: None }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, outcome: Outcome::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }

    fn skip(name: &'static str, needs: impl fmt::Display) -> Check {
        Check { name, outcome: Outcome::Skip, detail: format!("skipped: needs {needs}"), fix: None }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {:<11}  {}", self.outcome, self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n      fix: {fix}")?;
        }
        Ok(())
    }
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

/// Prints each check as it completes and keeps the count.
#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, check: Check) {
        println!("{check}");
        self.checks.push(check);
    }

    fn passed(&self, name: &str) -> bool {
        self.checks.iter().any(|c| c.name == name && c.outcome == Outcome::Pass)
    }

    fn verdict(self) -> Result<()> {
        let failed = self.checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
        if failed == 0 { Ok(()) } else { Err(DoctorFailed { failed, total: self.checks.len() }.into()) }
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
    let mut report = Report::default();
    let text = format!("{error:#}").split_whitespace().collect::<Vec<_>>().join(" ");
    report.add(Check::fail("config", text, "correct the file (unknown keys are errors; see the key it names)"));
    for name in AFTER_CONFIG {
        report.add(Check::skip(name, "a configuration that loads"));
    }
    report.verdict()
}

/// A market's tokens and which exchange contracts its orders go through.
struct Target {
    tokens: Vec<TokenId>,
    kinds: Vec<MarketKind>,
}

pub async fn run(mut file: FileConfig, args: DoctorArgs) -> Result<()> {
    let mut report = Report::default();
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

    let key = key_check(&file, &mut report);
    let funder = account::funder_address(&file.gateway).ok();
    report.add(kill_switch_check(&file.gateway.kill_switch));

    let clob = redact_url(&file.gateway.clob_url);
    let skew = clob_time(&file.gateway.clob_url, file.gateway.request_timeout).await;
    match &skew {
        Ok(t) => report.add(Check::pass("clob", format!("{clob} answered GET /time in {} ms", t.round_trip_ms))),
        Err(e) => report.add(Check::fail(
            "clob",
            format!("cannot reach the CLOB at {clob}: {e}"),
            "check [gateway] clob_url and the network (a 403 page is a region block)",
        )),
    }
    report.add(match &skew {
        Ok(t) => clock_check(t.skew_ms, args.max_skew),
        Err(_) => Check::skip("clock", "a reachable CLOB"),
    });

    report.add(if key.is_none() {
        Check::skip("api key", "a usable private key")
    } else if !report.passed("clob") {
        Check::skip("api key", "a reachable CLOB")
    } else {
        api_key_check(&file).await
    });

    let target = markets_check(&file, &args, sim.as_ref(), &mut report).await;

    chain_checks(&file, funder, target.as_ref(), &mut report).await;

    report.add(match &target {
        Some(t) if !t.tokens.is_empty() => websocket_check(&file, &t.tokens, args.book_timeout).await,
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
    report.verdict()
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

/// The private key: where it comes from, that it parses, and that a key
/// file is owner-only (checked even when the environment supplies the key:
/// a readable file still exposes it).
fn key_check(file: &FileConfig, report: &mut Report) -> Option<Address> {
    let loaded = PrivateKey::load(file.gateway.key_file.as_deref());
    let mut exposed = None;
    if let (Ok(k), Some(path)) = (&loaded, &file.gateway.key_file)
        && *k.source() == pmbot_venue::gateway::KeySource::Env
        && let Some(mode) = group_or_other_bits(path)
    {
        exposed = Some((path.clone(), mode));
    }
    let result = loaded.and_then(|k| k.address().map(|a| (k.source().to_string(), a)));
    match (result, exposed) {
        (Ok((from, address)), None) => {
            report.add(Check::pass("key", format!("from {from}, address {address:#x}")));
            Some(address)
        }
        (Ok(_), Some((path, mode))) => {
            report.add(Check::fail(
                "key",
                format!("key file {} can be read by group or others (mode {mode:04o})", path.display()),
                format!("chmod 600 {}", path.display()),
            ));
            None
        }
        (Err(e), _) => {
            let fix = match &e {
                SecretError::Missing => {
                    "export PMBOT_PRIVATE_KEY, or set [gateway] key_file to an owner-only file".to_owned()
                }
                SecretError::Permissive { path, .. } => format!("chmod 600 {}", path.display()),
                SecretError::Io { .. } => "check the path in [gateway] key_file and that pmbot may read it".to_owned(),
                SecretError::Malformed { .. } => "the key must be 32 bytes of hex (64 digits, 0x optional)".to_owned(),
            };
            let detail = match &e {
                // Its message carries the fix as well; the fix line has it.
                SecretError::Permissive { path, mode } => {
                    format!("key file {} can be read by group or others (mode {mode:04o})", path.display())
                }
                other => other.to_string(),
            };
            report.add(Check::fail("key", detail, fix));
            None
        }
    }
}

#[cfg(unix)]
fn group_or_other_bits(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn group_or_other_bits(_: &Path) -> Option<u32> {
    None
}

fn kill_switch_check(path: &Path) -> Check {
    if !path.exists() {
        return Check::pass("kill switch", format!("absent ({})", path.display()));
    }
    // The file's first line says who set it and when (`pmbot kill` writes it).
    let said = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().next().map(|l| l.chars().take(120).collect::<String>()))
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!(": {l}"))
        .unwrap_or_default();
    Check::fail(
        "kill switch",
        format!("present at {}{said}; no order will be sent", path.display()),
        "`pmbot unkill` after checking why it was set",
    )
}

/// The exchange's clock against ours.
struct ClobTime {
    round_trip_ms: u64,
    /// Exchange minus local, ms (the exchange answers whole seconds, so
    /// this is within ±500 ms plus half the round trip).
    skew_ms: i64,
}

async fn clob_time(clob_url: &str, timeout: Duration) -> Result<ClobTime, String> {
    let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
    let url = format!("{}/time", clob_url.trim_end_matches('/'));
    let clock = SystemClock;
    let sent_ms = clock.now_ms();
    let started = Instant::now();
    let resp = http.get(&url).send().await.map_err(|e| describe_reqwest(&e))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| describe_reqwest(&e))?;
    let round_trip_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !status.is_success() {
        return Err(format!("GET /time answered {status}"));
    }
    let seconds: i64 = body.trim().trim_matches('"').parse().map_err(|_| {
        let shown: String = body.chars().take(60).collect();
        format!("GET /time answered {shown:?}, not unix seconds")
    })?;
    let local_mid_ms = sent_ms + i64::try_from(round_trip_ms / 2).unwrap_or(0);
    Ok(ClobTime { round_trip_ms, skew_ms: seconds * 1000 + 500 - local_mid_ms })
}

/// A reqwest error without its URL (which may carry a query).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut root = None;
    while let Some(s) = source {
        root = Some(s.to_string());
        source = s.source();
    }
    match root {
        Some(r) => format!("{kind} ({r})"),
        None => kind.to_owned(),
    }
}

fn clock_check(skew_ms: i64, max: Duration) -> Check {
    let max_ms = i64::try_from(max.as_millis()).unwrap_or(i64::MAX);
    let shown = format!("{:+.1} s", skew_ms as f64 / 1000.0);
    if skew_ms.abs() <= max_ms {
        Check::pass("clock", format!("{shown} from the exchange's (±0.5 s resolution; limit {max:?})"))
    } else {
        Check::fail(
            "clock",
            format!("{shown} from the exchange's, more than {max:?}: order expiries and signatures go wrong"),
            "synchronise the system clock (e.g. `timedatectl set-ntp true`, or chrony)",
        )
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

/// Resolves the markets or tokens named (or, with --sim and none named, the
/// simulator's first market), reading each token's neg-risk flag from its
/// book. `None` when nothing can be resolved.
async fn markets_check(
    file: &FileConfig,
    args: &DoctorArgs,
    sim: Option<&pmbot_sim::SimHandle>,
    report: &mut Report,
) -> Option<Target> {
    let mut tokens = Vec::new();
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for t in &args.tokens {
        match TokenId::parse(t) {
            Ok(id) => tokens.push(id),
            Err(_) => problems.push(format!("--tokens {t:?} is not a token id")),
        }
    }
    let gamma = match (&args.gamma_url, sim) {
        (Some(g), _) => g.clone(),
        (None, Some(h)) => format!("{}gamma", h.rest_url()),
        (None, None) => GAMMA_URL.to_owned(),
    };
    for slug in &args.markets {
        match market_by_slug(&gamma, slug, file.gateway.request_timeout.max(Duration::from_secs(5))).await {
            Ok(m) => {
                names.push(slug.clone());
                tokens.extend(m.tokens);
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if args.tokens.is_empty()
        && args.markets.is_empty()
        && let Some(h) = sim
    {
        let g = h.state.lock();
        if let Some(m) = g.exchange.markets().iter().find(|m| m.accepting_orders) {
            names.push(m.spec.slug.clone());
            tokens.extend(m.spec.tokens.iter().map(|t| t.token_id.clone()));
        }
    }
    tokens.dedup();
    if tokens.is_empty() && problems.is_empty() {
        report.add(Check::skip("markets", "--market SLUG or --tokens ID"));
        return None;
    }
    let mut kinds = Vec::new();
    if !report.passed("clob") {
        // Without the CLOB the books (and neg-risk flags) cannot be read; the
        // tokens still serve the WebSocket check, and every contract is checked.
        report.add(if problems.is_empty() {
            Check::skip("markets", "a reachable CLOB")
        } else {
            Check::fail(
                "markets",
                problems.join("; "),
                "name markets the exchange lists (see `pmbot watch --market SLUG`)",
            )
        });
        return Some(Target { tokens, kinds });
    }
    let rest = RestClient::new(&file.gateway.clob_url, file.gateway.request_timeout);
    match rest {
        Ok(rest) => {
            for t in &tokens {
                match rest.book(t, || SystemClock.now()).await {
                    Ok(b) => kinds.push(MarketKind::from_neg_risk(b.neg_risk)),
                    Err(e) => problems.push(format!("token {t}: {e}")),
                }
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    if problems.is_empty() {
        let neg = kinds.iter().filter(|k| **k == MarketKind::NegRisk).count();
        let what = if names.is_empty() { String::new() } else { format!(" of {}", names.join(", ")) };
        report
            .add(Check::pass("markets", format!("{} token(s){what}, each with a book ({neg} neg-risk)", tokens.len())));
    } else {
        report.add(Check::fail(
            "markets",
            problems.join("; "),
            "name markets the exchange lists and that accept orders (see `pmbot watch --market SLUG`)",
        ));
    }
    Some(Target { tokens, kinds })
}

/// rpc, chain, collateral and allowances, from one read of the chain.
async fn chain_checks(file: &FileConfig, funder: Option<Address>, target: Option<&Target>, report: &mut Report) {
    let Some(funder) = funder else {
        for name in ["rpc", "chain", "collateral", "allowances"] {
            report.add(Check::skip(name, "the funder's address (a usable key or [gateway] funder)"));
        }
        return;
    };
    if file.balance.rpc_urls.is_empty() {
        report.add(no_rpc_check());
        for name in ["chain", "collateral", "allowances"] {
            report.add(Check::skip(name, "a Polygon RPC ([balance] rpc_urls)"));
        }
        return;
    }
    let reader = match account::balance_reader(file, funder, Arc::new(SystemClock)) {
        Ok(r) => r,
        Err(e) => {
            report.add(Check::fail("rpc", format!("{e:#}"), "correct the [balance] table"));
            for name in ["chain", "collateral", "allowances"] {
                report.add(Check::skip(name, "a valid [balance] table"));
            }
            return;
        }
    };
    // With no market named, every contract any market may need.
    let kind = match target {
        Some(t) if !t.kinds.is_empty() && t.kinds.iter().all(|k| *k == MarketKind::Standard) => MarketKind::Standard,
        _ => MarketKind::NegRisk,
    };
    let expected = file.balance.chain_id;
    let endpoints: Vec<String> = file.balance.rpc_urls.iter().map(|u| redact_rpc_url(u)).collect();
    let started = Instant::now();
    let collateral = reader.collateral(kind).await;
    let elapsed = started.elapsed().as_millis();
    let view = match collateral {
        Ok(v) => v,
        Err(failure) => {
            rpc_failure(&failure, expected, &endpoints, report);
            for name in ["collateral", "allowances"] {
                report.add(Check::skip(name, "a readable chain"));
            }
            return;
        }
    };
    report.add(Check::pass("rpc", format!("{} answered in {elapsed} ms", endpoints.join(", "))));
    report.add(Check::pass("chain", format!("chain id {expected}{}", chain_name(expected))));
    report.add(if view.balance > U256::ZERO {
        Check::pass("collateral", format!("{} pUSD at funder {funder:#x}", format_units6(view.balance)))
    } else {
        Check::fail(
            "collateral",
            format!("the funder {funder:#x} holds 0 pUSD (collateral {:#x})", file.balance.collateral),
            format!("deposit pUSD to {funder:#x} (Polymarket's deposit page, or a transfer on Polygon)"),
        )
    });
    let shares = match target.and_then(|t| t.tokens.first()) {
        Some(token) => Some(reader.shares(token, kind).await),
        None => None,
    };
    report.add(allowance_check(file, &view, shares, kind));
}

/// No RPC configured: there is no public default any more.
fn no_rpc_check() -> Check {
    Check::fail(
        "rpc",
        format!(
            "no Polygon RPC configured: {RPC_URLS_SETTING} is empty (the public polygon-rpc.com stopped serving \
             anonymous requests in 2026)"
        ),
        format!(
            "get a Polygon mainnet JSON-RPC URL from a provider (Alchemy, Infura, QuickNode, dRPC, ...) or run \
             your own node, then set {RPC_URLS_SETTING} = [\"https://...\"] in \
             pmbot.toml or {RPC_URLS_ENV}=https://...; a second URL is a fallback"
        ),
    )
}

fn chain_name(id: u64) -> &'static str {
    match id {
        137 => " (Polygon)",
        80002 => " (Amoy)",
        _ => "",
    }
}

fn rpc_failure(failure: &ReadFailure, expected: u64, endpoints: &[String], report: &mut Report) {
    let wrong = failure.attempts.iter().find_map(|a| match a.error {
        EndpointError::WrongChain { got, .. } => Some((a.endpoint.clone(), got)),
        _ => None,
    });
    match wrong {
        Some((endpoint, got)) => {
            report.add(Check::pass("rpc", format!("{endpoint} answers")));
            let needs = if expected == 137 {
                "Polygon (137)".to_owned()
            } else {
                format!("chain {expected}{}, as [balance] chain_id says", chain_name(expected))
            };
            report.add(Check::fail(
                "chain",
                format!("the RPC at {endpoint} is on chain {got}; pmbot needs {needs}"),
                format!("set [balance] rpc_urls to a{} endpoint", if expected == 137 { " Polygon" } else { "n" }),
            ));
        }
        None => {
            let mut seen = Vec::new();
            for a in &failure.attempts {
                let line = format!("{}: {}", a.endpoint, a.error);
                if !seen.contains(&line) {
                    seen.push(line);
                }
            }
            report.add(Check::fail(
                "rpc",
                format!("no JSON-RPC endpoint answered ({}): {}", endpoints.join(", "), seen.join("; ")),
                "check that the node is up and [balance] rpc_urls is right; add a fallback endpoint",
            ));
            report.add(Check::skip("chain", "a reachable RPC"));
        }
    }
}

/// Every pUSD allowance and outcome-token approval the markets' orders need.
fn allowance_check(
    file: &FileConfig,
    view: &CollateralView,
    shares: Option<Result<SharesView, ReadFailure>>,
    kind: MarketKind,
) -> Check {
    let mut missing = Vec::new();
    let mut fixes = Vec::new();
    for (spender, amount) in &view.allowances {
        if *amount == U256::ZERO {
            missing.push(format!("pUSD allowance of {} ({:#x}) is 0", spender.role.name(), spender.address));
            fixes.push(format!(
                "approve(spender {:#x}, amount max) on pUSD {:#x}",
                spender.address, file.balance.collateral
            ));
        }
    }
    let mut approvals_note = "outcome-token approvals not read (name a market)".to_owned();
    match shares {
        Some(Ok(s)) => {
            approvals_note = format!("{} operator approval(s) set", s.approvals.iter().filter(|(_, ok)| *ok).count());
            for (op, ok) in &s.approvals {
                if !ok {
                    missing.push(format!("outcome tokens not approved for {} ({:#x})", op.role.name(), op.address));
                    fixes.push(format!(
                        "setApprovalForAll(operator {:#x}, true) on ConditionalTokens {:#x}",
                        op.address, file.balance.conditional_tokens
                    ));
                }
            }
        }
        Some(Err(e)) => missing.push(format!("outcome-token approvals unreadable: {}", first_error(&e))),
        None => {}
    }
    let which = match kind {
        MarketKind::Standard => "the CTF Exchange",
        MarketKind::NegRisk => "the CTF Exchange, Neg Risk CTF Exchange and Neg Risk Adapter",
    };
    if missing.is_empty() {
        let amounts: Vec<String> =
            view.allowances.iter().map(|(s, a)| format!("{} {}", s.role.name(), format_units6(*a))).collect();
        Check::pass("allowances", format!("pUSD: {}; {approvals_note} ({which})", amounts.join(", ")))
    } else {
        Check::fail(
            "allowances",
            missing.join("; "),
            format!(
                "from the funder {:#x}, send {} (Polymarket's web app sets them at the first trade)",
                view.funder,
                fixes.join(" and ")
            ),
        )
    }
}

fn first_error(f: &ReadFailure) -> String {
    f.attempts.first().map(|a| format!("{}: {}", a.endpoint, a.error)).unwrap_or_else(|| "no attempt".into())
}

/// Subscribes on the market WebSocket and waits for every token's book to
/// arrive over it (a REST fallback snapshot does not count).
async fn websocket_check(file: &FileConfig, tokens: &[TokenId], timeout: Duration) -> Check {
    let ws = redact_url(&file.market_data.stream.ws_url);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let md = match MarketData::start(file.market_data.clone(), tokens.to_vec(), clock, None) {
        Ok(md) => md,
        Err(e) => {
            return Check::fail("websocket", format!("cannot start the stream: {e}"), "check [market_data.stream]");
        }
    };
    let started = Instant::now();
    let arrived = loop {
        let health = md.health();
        let live = matches!(health.state, ConnectionState::Live { .. });
        let all = live && {
            let st = md.state();
            tokens.iter().all(|t| {
                st.books.trust(t).is_some_and(|tr| tr.is_trusted())
                    && health.tokens.get(t).is_some_and(|h| h.messages > 0)
            })
        };
        if all {
            break Ok(started.elapsed().as_millis());
        }
        if started.elapsed() >= timeout {
            let got = tokens.iter().filter(|t| health.tokens.get(*t).is_some_and(|h| h.messages > 0)).count();
            let state = match health.state {
                ConnectionState::Live { .. } => "subscribed".to_owned(),
                ConnectionState::Connecting => "still connecting".to_owned(),
                ConnectionState::Backoff { attempt, .. } => format!("reconnecting (attempt {attempt})"),
                ConnectionState::Stopped => "stopped".to_owned(),
            };
            break Err(format!("{state}; {got} of {} book(s) arrived within {timeout:?}", tokens.len()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let top = {
        let st = md.state();
        tokens.first().and_then(|t| st.books.book(t)).map(|b| {
            let side = |l: Option<pmbot_core::Level>| l.map(|l| l.price.to_string()).unwrap_or_else(|| "-".into());
            format!("; first: bid {} / ask {}", side(b.best_bid()), side(b.best_ask()))
        })
    };
    md.stop().await;
    match arrived {
        Ok(ms) => Check::pass(
            "websocket",
            format!("{ws}: subscribed, {} book(s) in {ms} ms{}", tokens.len(), top.unwrap_or_default()),
        ),
        Err(why) => Check::fail(
            "websocket",
            format!("{ws}: {why}"),
            "check [market_data.stream] ws_url and that outbound WebSocket (wss) connections are allowed",
        ),
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
    fn lines_and_fixes_are_printed_in_the_documented_shape() {
        let c = Check::fail("kill switch", "present at /x", "`pmbot unkill` after checking why it was set");
        assert_eq!(
            c.to_string(),
            "FAIL  kill switch  present at /x\n      fix: `pmbot unkill` after checking why it was set"
        );
        assert_eq!(Check::pass("rpc", "ok").to_string(), "PASS  rpc          ok");
        assert_eq!(
            Check::skip("chain", "a reachable RPC").to_string(),
            "SKIP  chain        skipped: needs a reachable RPC"
        );
    }

    #[test]
    fn clock_skew_passes_within_the_limit_and_fails_beyond() {
        let max = Duration::from_secs(2);
        assert_eq!(clock_check(1_900, max).outcome, Outcome::Pass);
        assert_eq!(clock_check(-1_900, max).outcome, Outcome::Pass);
        let c = clock_check(-2_600, max);
        assert_eq!(c.outcome, Outcome::Fail);
        assert!(c.detail.starts_with("-2.6 s"), "{}", c.detail);
        assert!(c.fix.unwrap().contains("synchronise the system clock"));
    }

    #[test]
    fn the_verdict_counts_failures_only() {
        let mut r = Report::default();
        r.checks.push(Check::pass("a", ""));
        r.checks.push(Check::skip("b", "x"));
        assert!(r.verdict().is_ok());
        let mut r = Report::default();
        r.checks.push(Check::pass("a", ""));
        r.checks.push(Check::fail("b", "", ""));
        let err = r.verdict().unwrap_err();
        assert_eq!(err.downcast_ref::<DoctorFailed>(), Some(&DoctorFailed { failed: 1, total: 2 }));
    }
}
