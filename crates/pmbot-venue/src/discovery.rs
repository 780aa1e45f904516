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

impl MarketRef {
    /// The market's (Up, Down) tokens, matched by the `outcomes` names.
    /// Gamma lists `clobTokenIds` in the order of `outcomes`, and that order
    /// is the market's, not a promise that Up comes first: pmbot took
    /// `tokens[0]` as Up, which on a market listed Down-first trades every
    /// signal backwards. Sources: polymarket-protocol.md corrections 9 and
    /// section 8 ("index i of outcomes <-> index i of clobTokenIds"); the
    /// CLOB's `tokens: [{token_id, outcome}]` pairs them the same way; issue
    /// 13 item 8. Names are compared without case or surrounding spaces.
    pub fn up_down(&self) -> Result<(TokenId, TokenId), OutcomeError> {
        let refuse = || OutcomeError { slug: self.slug.clone(), outcomes: self.outcomes.clone() };
        if self.tokens.len() != 2 || self.outcomes.len() != self.tokens.len() {
            return Err(refuse());
        }
        let find = |name: &str| self.outcomes.iter().position(|o| o.trim().eq_ignore_ascii_case(name));
        match (find("up"), find("down")) {
            (Some(up), Some(down)) if up != down => Ok((self.tokens[up].clone(), self.tokens[down].clone())),
            _ => Err(refuse()),
        }
    }
}

/// A market whose tokens cannot be told apart as Up and Down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("market {slug:?}: outcomes {outcomes:?} are not one \"Up\" and one \"Down\"; pmbot trades Up/Down markets")]
pub struct OutcomeError {
    pub slug: String,
    pub outcomes: Vec<String>,
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

/// A Gamma list answer: a bare array, or wrapped as `{"data":[...]}` (paging
/// fields beside it are ignored). pmbot accepted only the bare array and called the wrapped one malformed.
/// Sources: polymarket-protocol.md corrections 9; issue 13 item 8.
#[derive(Deserialize)]
#[serde(untagged)]
enum GammaList {
    Bare(Vec<GammaMarket>),
    Wrapped { data: Vec<GammaMarket> },
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
    let markets = match serde_json::from_str(body).map_err(|e| bad(e.to_string()))? {
        GammaList::Bare(markets) | GammaList::Wrapped { data: markets } => markets,
    };
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

    /// Up and Down are found by the outcome names, whatever their order; a
    /// market without one "Up" and one "Down" is refused with one line.
    #[test]
    fn up_and_down_by_outcome_name() {
        let m = |outcomes: &[&str], tokens: &[&str]| MarketRef {
            condition_id: ConditionId::parse(&format!("0x{}", "1f".repeat(32))).unwrap(),
            slug: "s".into(),
            question: String::new(),
            tokens: tokens.iter().map(|t| TokenId::parse(t).unwrap()).collect(),
            outcomes: outcomes.iter().map(|o| (*o).to_owned()).collect(),
            end_date: None,
            closed: false,
        };
        let t = |s: &str| TokenId::parse(s).unwrap();
        assert_eq!(m(&["Up", "Down"], &["11", "22"]).up_down().unwrap(), (t("11"), t("22")));
        assert_eq!(m(&["Down", "Up"], &["11", "22"]).up_down().unwrap(), (t("22"), t("11")));
        assert_eq!(m(&[" up", "DOWN "], &["11", "22"]).up_down().unwrap(), (t("11"), t("22")));
        for (outcomes, tokens) in [
            (&["Yes", "No"][..], &["11", "22"][..]),
            (&["Up", "Up"], &["11", "22"]),
            (&["Up"], &["11", "22"]),
            (&[], &["11", "22"]),
            (&["Up", "Down", "Flat"], &["11", "22", "33"]),
        ] {
            let err = m(outcomes, tokens).up_down().unwrap_err();
            let text = err.to_string();
            assert!(text.contains("\"s\"") && !text.contains('\n'), "{text}");
        }
    }

    /// Gamma may wrap a list as `{"data":[...]}` (polymarket-protocol.md
    /// corrections 9): read like the bare array.
    #[test]
    fn reads_a_wrapped_list() {
        let cid = format!("0x{}", "1f".repeat(32));
        let market = format!(
            r#"{{"conditionId":"{cid}","slug":"s","clobTokenIds":"[\"11\", \"22\"]","outcomes":"[\"Up\", \"Down\"]"}}"#
        );
        let bare = parse_markets(&format!("[{market}]"), "s").unwrap();
        let wrapped = parse_markets(&format!(r#"{{"data":[{market}],"next_cursor":"LTE=","count":1}}"#), "s").unwrap();
        assert_eq!(wrapped, bare);
        assert_eq!(parse_markets(r#"{"data":[]}"#, "s"), Err(DiscoveryError::NotFound("s".into())));
    }
}
