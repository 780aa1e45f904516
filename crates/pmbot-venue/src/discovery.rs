//! Finding a market's tokens from its slug, through Polymarket's Gamma API
//! (`GET /markets?slug=`), which writes `clobTokenIds` and `outcomes` as
//! JSON-encoded strings inside the JSON.

use std::time::Duration;

use pmbot_core::{ConditionId, TokenId};
use serde::Deserialize;

/// A market as the bot needs to know it to follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketRef {
    pub condition_id: ConditionId,
    pub slug: String,
    pub question: String,
    /// `tokens[i]` is the token of `outcomes[i]`.
    pub tokens: Vec<TokenId>,
    pub outcomes: Vec<String>,
    pub end_date: Option<String>,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("Gamma lookup of {slug:?} failed: {reason}")]
    Request { slug: String, reason: String },
    #[error("no market with slug {0:?}")]
    NotFound(String),
    #[error("Gamma market {slug:?} is malformed: {reason}")]
    Malformed { slug: String, reason: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GammaMarket {
    condition_id: String,
    slug: String,
    #[serde(default)]
    question: String,
    clob_token_ids: Option<String>,
    outcomes: Option<String>,
    #[serde(default)]
    end_date: Option<String>,
    #[serde(default)]
    closed: bool,
}

/// Looks `slug` up on the Gamma API at `gamma_base`.
pub async fn market_by_slug(gamma_base: &str, slug: &str, timeout: Duration) -> Result<MarketRef, DiscoveryError> {
    let req_err = |reason: String| DiscoveryError::Request { slug: slug.to_owned(), reason };
    let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| req_err(e.to_string()))?;
    let url = format!("{}/markets", gamma_base.trim_end_matches('/'));
    let resp = http.get(&url).query(&[("slug", slug)]).send().await.map_err(|e| req_err(e.to_string()))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| req_err(e.to_string()))?;
    if !status.is_success() {
        return Err(req_err(format!("HTTP {status}")));
    }
    parse_markets(&body, slug)
}

/// Picks the market with `slug` out of a Gamma `/markets` body.
pub fn parse_markets(body: &str, slug: &str) -> Result<MarketRef, DiscoveryError> {
    let bad = |reason: String| DiscoveryError::Malformed { slug: slug.to_owned(), reason };
    let markets: Vec<GammaMarket> = serde_json::from_str(body).map_err(|e| bad(e.to_string()))?;
    let m = markets.into_iter().find(|m| m.slug == slug).ok_or_else(|| DiscoveryError::NotFound(slug.to_owned()))?;
    let ids: Vec<String> =
        serde_json::from_str(m.clob_token_ids.as_deref().unwrap_or("[]")).map_err(|e| bad(e.to_string()))?;
    let outcomes: Vec<String> =
        serde_json::from_str(m.outcomes.as_deref().unwrap_or("[]")).map_err(|e| bad(e.to_string()))?;
    let tokens =
        ids.iter().map(|t| TokenId::parse(t)).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
    if tokens.is_empty() {
        return Err(bad("no clobTokenIds".into()));
    }
    Ok(MarketRef {
        condition_id: ConditionId::parse(&m.condition_id).map_err(|e| bad(e.to_string()))?,
        slug: m.slug,
        question: m.question,
        tokens,
        outcomes,
        end_date: m.end_date,
        closed: m.closed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gammas_double_encoded_fields() {
        let cid = format!("0x{}", "1f".repeat(32));
        let body = format!(
            r#"[{{"conditionId":"{cid}","slug":"btc-updown-15m-1","question":"Up?","clobTokenIds":"[\"11\", \"22\"]","outcomes":"[\"Up\", \"Down\"]","closed":false}}]"#
        );
        let m = parse_markets(&body, "btc-updown-15m-1").unwrap();
        assert_eq!(m.tokens, [TokenId::parse("11").unwrap(), TokenId::parse("22").unwrap()]);
        assert_eq!(m.outcomes, ["Up", "Down"]);
        assert_eq!(parse_markets(&body, "other"), Err(DiscoveryError::NotFound("other".into())));
        assert!(matches!(parse_markets("{}", "x"), Err(DiscoveryError::Malformed { .. })));
    }
}
