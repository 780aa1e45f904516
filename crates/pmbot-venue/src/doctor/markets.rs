//! The markets named: found, and each token with a book.

use std::time::Duration;

use pmbot_core::{Clock, TokenId};

use super::Check;
use super::Checks;
use crate::SystemClock;
use crate::balance::MarketKind;
use crate::discovery::market_by_slug;
use crate::marketdata::rest::RestClient;

/// What the doctor was asked to check.
#[derive(Debug, Clone, Default)]
pub struct Named {
    /// Market slugs, found through `gamma_url`.
    pub markets: Vec<String>,
    /// Token ids, as typed.
    pub tokens: Vec<String>,
    pub gamma_url: String,
    /// A market to check when none is named (a slug and its tokens).
    pub otherwise: Option<(String, Vec<TokenId>)>,
}

/// A market's tokens and which exchange contracts its orders go through.
#[derive(Debug, Clone)]
pub struct Target {
    pub tokens: Vec<TokenId>,
    pub kinds: Vec<MarketKind>,
}

/// Resolves the markets or tokens named (or, when none are, the market
/// given instead: the simulator's first), reading each token's neg-risk flag from its
/// book. `None` when nothing can be resolved.
pub async fn markets_check(named: &Named, clob_url: &str, timeout: Duration, checks: &mut Checks) -> Option<Target> {
    let mut tokens = Vec::new();
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for t in &named.tokens {
        match TokenId::parse(t) {
            Ok(id) => tokens.push(id),
            Err(_) => problems.push(format!("--tokens {t:?} is not a token id")),
        }
    }
    for slug in &named.markets {
        match market_by_slug(&named.gamma_url, slug, timeout.max(Duration::from_secs(5))).await {
            Ok(m) => {
                names.push(slug.clone());
                tokens.extend(m.tokens);
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if named.tokens.is_empty()
        && named.markets.is_empty()
        && let Some((slug, listed)) = &named.otherwise
    {
        names.push(slug.clone());
        tokens.extend(listed.iter().cloned());
    }
    tokens.dedup();
    if tokens.is_empty() && problems.is_empty() {
        checks.add(Check::skip("markets", "--market SLUG or --tokens ID"));
        return None;
    }
    let mut kinds = Vec::new();
    if !checks.passed("clob") {
        // Without the CLOB the books (and neg-risk flags) cannot be read; the
        // tokens still serve the WebSocket check, and every contract is checked.
        checks.add(if problems.is_empty() {
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
    let rest = RestClient::new(clob_url, timeout);
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
        checks
            .add(Check::pass("markets", format!("{} token(s){what}, each with a book ({neg} neg-risk)", tokens.len())));
    } else {
        checks.add(Check::fail(
            "markets",
            problems.join("; "),
            "name markets the exchange lists and that accept orders (see `pmbot watch --market SLUG`)",
        ));
    }
    Some(Target { tokens, kinds })
}
