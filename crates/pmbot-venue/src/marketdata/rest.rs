//! REST `/book` snapshots for resyncing a book.
//!
//! Fetched with reqwest rather than the official SDK's `order_book()`: the
//! SDK parses prices into decimals, and the exchange's book hash is computed
//! over the exact strings it sent, so checking it needs the raw body. Every
//! call has a timeout; a read is safe to repeat, so transport errors, 5xx,
//! 425 and 429 are retried a few times with backoff (honouring Retry-After).

use std::time::Duration;

use pmbot_core::book_hash::{HashCheck, RawBookSummary};
use pmbot_core::events::{BookSnapshot, EventTime};
use pmbot_core::level::parse_levels;
use pmbot_core::{ConditionId, Price, TickSize, TimestampMs, TokenId};

use super::books::RestBook;

/// Why a snapshot could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    #[error("GET /book timed out after {0:?}")]
    Timeout(Duration),
    #[error("GET /book failed: {0}")]
    Transport(String),
    #[error("GET /book answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("GET /book body is not a book: {0}")]
    Malformed(String),
    #[error("GET /book hash mismatch: stated {stated}, computed {computed}")]
    HashMismatch { stated: String, computed: String },
    #[error("GET /book returned token {got}, asked for {asked}")]
    WrongToken { asked: String, got: String },
}

impl RestError {
    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            RestError::Timeout(_) | RestError::Transport(_) => true,
            RestError::Status { status, .. } => *status == 425 || *status == 429 || *status >= 500,
            RestError::Malformed(_) | RestError::HashMismatch { .. } | RestError::WrongToken { .. } => false,
        }
    }
}

/// How many times a snapshot fetch is tried.
const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl RestClient {
    /// A client for the CLOB at `base` (e.g. `https://clob.polymarket.com`).
    pub fn new(base: &str, timeout: Duration) -> Result<RestClient, RestError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| RestError::Transport(e.to_string()))?;
        Ok(RestClient { http, base: base.trim_end_matches('/').to_owned(), timeout })
    }

    /// The book of `token`, its hash checked, stamped as received at the time
    /// `now` gives when the body arrived.
    pub async fn book(&self, token: &TokenId, now: impl Fn() -> TimestampMs) -> Result<RestBook, RestError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.book_once(token, &now).await {
                Ok(b) => return Ok(b),
                Err((e, retry_after)) if e.is_retryable() && attempt < ATTEMPTS => {
                    let backoff =
                        pmbot_core::backoff::ceiling(Duration::from_millis(200), Duration::from_secs(5), attempt);
                    tokio::time::sleep(retry_after.unwrap_or(backoff).min(Duration::from_secs(5))).await;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    async fn book_once(
        &self,
        token: &TokenId,
        now: &impl Fn() -> TimestampMs,
    ) -> Result<RestBook, (RestError, Option<Duration>)> {
        let url = format!("{}/book", self.base);
        let resp = self.http.get(&url).query(&[("token_id", token.as_str())]).send().await.map_err(|e| {
            let err =
                if e.is_timeout() { RestError::Timeout(self.timeout) } else { RestError::Transport(e.to_string()) };
            (err, None)
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.text().await.map_err(|e| (RestError::Transport(e.to_string()), None))?;
        if status != 200 {
            let message: String = body.chars().take(200).collect();
            return Err((RestError::Status { status, message }, retry_after));
        }
        parse_rest_book(&body, token, now()).map_err(|e| (e, None))
    }
}

/// Parses a REST `/book` body, checks its hash over the raw strings, and
/// turns it into a snapshot.
pub fn parse_rest_book(body: &str, asked: &TokenId, received: TimestampMs) -> Result<RestBook, RestError> {
    let raw: RawBookSummary<'_> = serde_json::from_str(body).map_err(|e| RestError::Malformed(e.to_string()))?;
    if let Some(HashCheck::Mismatch { stated, computed }) = raw.verify() {
        return Err(RestError::HashMismatch { stated, computed });
    }
    let bad = |what: &str| RestError::Malformed(what.to_owned());
    let token = TokenId::parse(&raw.asset_id).map_err(|e| bad(&e.to_string()))?;
    if &token != asked {
        return Err(RestError::WrongToken { asked: asked.to_string(), got: token.to_string() });
    }
    let market = ConditionId::parse(&raw.market).map_err(|e| bad(&e.to_string()))?;
    let exchange = TimestampMs::parse(&raw.timestamp).map_err(|e| bad(&e.to_string()))?;
    let bids = parse_levels(&raw.bids).map_err(|e| bad(&e.to_string()))?;
    let asks = parse_levels(&raw.asks).map_err(|e| bad(&e.to_string()))?;
    let tick_size =
        raw.tick_size.as_deref().map(str::parse::<TickSize>).transpose().map_err(|e| bad(&e.to_string()))?;
    let last_trade_price = match raw.last_trade_price.as_deref() {
        None | Some("") => None,
        Some(p) => Some(Price::parse(p).map_err(|e| bad(&e.to_string()))?),
    };
    let min_order_size = raw.min_order_size.as_deref().ok_or_else(|| bad("missing min_order_size"))?.to_owned();
    let neg_risk = raw.neg_risk.ok_or_else(|| bad("missing neg_risk"))?;
    Ok(RestBook {
        snapshot: BookSnapshot {
            token,
            market,
            bids,
            asks,
            tick_size,
            last_trade_price,
            hash: raw.hash.as_deref().map(str::to_owned),
            time: EventTime { received, exchange },
        },
        min_order_size,
        neg_risk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK: &str = r#"{"market":"0xaabbcc","asset_id":"100","timestamp":"123456789","hash":"0458ea5755c9f73d64a14636fa5c36ed460ec394","bids":[{"price":"0.3","size":"100"},{"price":"0.4","size":"100"}],"asks":[{"price":"0.6","size":"100"},{"price":"0.7","size":"100"}],"min_order_size":"100","tick_size":"0.01","neg_risk":false,"last_trade_price":"0.5"}"#;

    #[test]
    fn parses_and_checks_the_research_vector() {
        // The vector's market id is short; patch it to a full condition id
        // only where parsing needs one, keeping the hash check on the original.
        let err = parse_rest_book(BOOK, &TokenId::parse("100").unwrap(), TimestampMs(1)).unwrap_err();
        assert!(matches!(err, RestError::Malformed(_)), "the hash passed, the short market id did not: {err}");
        let tampered = BOOK.replace("\"size\":\"100\"}],\"asks\"", "\"size\":\"101\"}],\"asks\"");
        let err = parse_rest_book(&tampered, &TokenId::parse("100").unwrap(), TimestampMs(1)).unwrap_err();
        assert!(matches!(err, RestError::HashMismatch { .. }), "{err}");
    }

    #[test]
    fn retryable_classes() {
        assert!(RestError::Status { status: 503, message: String::new() }.is_retryable());
        assert!(RestError::Status { status: 429, message: String::new() }.is_retryable());
        assert!(!RestError::Status { status: 404, message: String::new() }.is_retryable());
        assert!(!RestError::HashMismatch { stated: String::new(), computed: String::new() }.is_retryable());
    }
}
