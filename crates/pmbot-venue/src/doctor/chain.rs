//! The chain: the RPC answers, on the right chain; the funder holds pUSD and
//! has every allowance and approval the markets' orders need.

use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::{Address, U256};

use super::{Check, Checks, Target};
use crate::balance::config::{RPC_URLS_ENV, RPC_URLS_SETTING};
use crate::balance::{
    BalanceConfig, BalanceReader, CollateralView, EndpointError, MarketKind, ReadFailure, SharesView, format_units6,
    redact_rpc_url,
};

/// rpc, chain, collateral and allowances, from one read of the chain.
pub async fn chain_checks(
    balance: &BalanceConfig,
    reader: impl FnOnce(Address) -> Result<Arc<BalanceReader>, String>,
    funder: Option<Address>,
    target: Option<&Target>,
    checks: &mut Checks,
) {
    let Some(funder) = funder else {
        for name in ["rpc", "chain", "collateral", "allowances"] {
            checks.add(Check::skip(name, "the funder's address (a usable key or [gateway] funder)"));
        }
        return;
    };
    if balance.rpc_urls.is_empty() {
        checks.add(no_rpc_check());
        for name in ["chain", "collateral", "allowances"] {
            checks.add(Check::skip(name, "a Polygon RPC ([balance] rpc_urls)"));
        }
        return;
    }
    let reader = match reader(funder) {
        Ok(r) => r,
        Err(e) => {
            checks.add(Check::fail("rpc", e, "correct the [balance] table"));
            for name in ["chain", "collateral", "allowances"] {
                checks.add(Check::skip(name, "a valid [balance] table"));
            }
            return;
        }
    };
    // With no market named, every contract any market may need.
    let kind = match target {
        Some(t) if !t.kinds.is_empty() && t.kinds.iter().all(|k| *k == MarketKind::Standard) => MarketKind::Standard,
        _ => MarketKind::NegRisk,
    };
    let expected = balance.chain_id;
    let endpoints: Vec<String> = balance.rpc_urls.iter().map(|u| redact_rpc_url(u)).collect();
    let started = Instant::now();
    let collateral = reader.collateral(kind).await;
    let elapsed = started.elapsed().as_millis();
    let view = match collateral {
        Ok(v) => v,
        Err(failure) => {
            rpc_failure(&failure, expected, &endpoints, checks);
            for name in ["collateral", "allowances"] {
                checks.add(Check::skip(name, "a readable chain"));
            }
            return;
        }
    };
    checks.add(Check::pass("rpc", format!("{} answered in {elapsed} ms", endpoints.join(", "))));
    checks.add(Check::pass("chain", format!("chain id {expected}{}", chain_name(expected))));
    checks.add(if view.balance > U256::ZERO {
        Check::pass("collateral", format!("{} pUSD at funder {funder:#x}", format_units6(view.balance)))
    } else {
        Check::fail(
            "collateral",
            format!("the funder {funder:#x} holds 0 pUSD (collateral {:#x})", balance.collateral),
            format!("deposit pUSD to {funder:#x} (Polymarket's deposit page, or a transfer on Polygon)"),
        )
    });
    let shares = match target.and_then(|t| t.tokens.first()) {
        Some(token) => Some(reader.shares(token, kind).await),
        None => None,
    };
    checks.add(allowance_check(balance, &view, shares, kind));
}

/// No RPC configured: there is no public default any more.
pub fn no_rpc_check() -> Check {
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

fn rpc_failure(failure: &ReadFailure, expected: u64, endpoints: &[String], checks: &mut Checks) {
    let wrong = failure.attempts.iter().find_map(|a| match a.error {
        EndpointError::WrongChain { got, .. } => Some((a.endpoint.clone(), got)),
        _ => None,
    });
    match wrong {
        Some((endpoint, got)) => {
            checks.add(Check::pass("rpc", format!("{endpoint} answers")));
            let needs = if expected == 137 {
                "Polygon (137)".to_owned()
            } else {
                format!("chain {expected}{}, as [balance] chain_id says", chain_name(expected))
            };
            checks.add(Check::fail(
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
            checks.add(Check::fail(
                "rpc",
                format!("no JSON-RPC endpoint answered ({}): {}", endpoints.join(", "), seen.join("; ")),
                "check that the node is up and [balance] rpc_urls is right; add a fallback endpoint",
            ));
            checks.add(Check::skip("chain", "a reachable RPC"));
        }
    }
}

/// Every pUSD allowance and outcome-token approval the markets' orders need.
fn allowance_check(
    balance: &BalanceConfig,
    view: &CollateralView,
    shares: Option<Result<SharesView, ReadFailure>>,
    kind: MarketKind,
) -> Check {
    let mut missing = Vec::new();
    let mut fixes = Vec::new();
    for (spender, amount) in &view.allowances {
        if *amount == U256::ZERO {
            missing.push(format!("pUSD allowance of {} ({:#x}) is 0", spender.role.name(), spender.address));
            fixes
                .push(format!("approve(spender {:#x}, amount max) on pUSD {:#x}", spender.address, balance.collateral));
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
                        op.address, balance.conditional_tokens
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
