//! Authenticated REST calls for trading: posts, cancels, look-ups.
//!
//! Invariant: every call is bounded by the configured timeout, and its result
//! says what the exchange may have seen: [`SendError::NotSent`] only when the
//! connection was refused before a byte of the request left; any later
//! failure (timeout, connection lost) is [`SendError::Unanswered`], which for
//! an order post means "it may have been taken".
//!
//! Why not the SDK's `post_order`: it discards the response headers
//! (`Retry-After`, `Poly-RateLimit-*`) and folds transport failures into one
//! opaque error, and it re-serializes the order on every call, while a safe
//! re-post must send the identical journaled bytes. The SDK still builds and
//! signs every order and derives the API key; this module only signs each
//! request with the L2 HMAC (`timestamp + METHOD + path + body`, keyed by the
//! base64url-decoded secret) as the protocol notes describe.

use std::time::Duration;

use alloy_primitives::Address;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac as _};
use polymarket_client_sdk_v2::auth::Credentials;
use reqwest::Method;
use secrecy::ExposeSecret as _;
use sha2::Sha256;

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The body is JSON (by content type, or by its first character).
    pub json: bool,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// `Poly-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `Poly-RateLimit-Reset`, unix seconds.
    pub reset_unix_s: Option<u64>,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `error` (or `errorMsg`) text of a JSON error body, else the body.
    pub fn error_message(&self) -> String {
        if self.json
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&self.body)
        {
            for key in ["error", "errorMsg", "error_msg", "message"] {
                if let Some(s) = v.get(key).and_then(|x| x.as_str()) {
                    return s.to_owned();
                }
            }
        }
        let mut s: String = self.body.chars().take(200).collect();
        if self.body.len() > s.len() {
            s.push('…');
        }
        s
    }
}

/// A call that got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection was refused or could not be made: nothing was sent.
    #[error("not sent: {0}")]
    NotSent(String),
    /// Timed out, or the connection broke after the request was (or may have
    /// been) sent.
    #[error("no answer: {0}")]
    Unanswered(String),
}

pub struct Transport {
    http: reqwest::Client,
    /// Base URL with a trailing slash.
    base: String,
    /// The L2 `POLY_ADDRESS`: the signer's address, checksummed.
    address: String,
    creds: Credentials,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("base", &self.base).field("address", &self.address).finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The L2 signature of one request.
pub fn l2_signature(secret_b64: &str, timestamp_s: i64, method: &str, path: &str, body: &str) -> Option<String> {
    let key = URL_SAFE.decode(secret_b64.trim()).ok()?;
    let mut mac = HmacSha256::new_from_slice(&key).ok()?;
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    // The clients sign the body with single quotes turned into double ones.
    mac.update(body.replace('\'', "\"").as_bytes());
    Some(URL_SAFE.encode(mac.finalize().into_bytes()))
}

impl Transport {
    pub fn new(base: &str, address: Address, creds: Credentials, timeout: Duration) -> Result<Transport, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent("pmbot")
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        let base = if base.ends_with('/') { base.to_owned() } else { format!("{base}/") };
        Ok(Transport { http, base, address: address.to_checksum(None), creds })
    }

    pub fn api_key(&self) -> String {
        self.creds.key().to_string()
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Sends `method path?query` with `body`, L2-signed.
    pub async fn send(&self, method: Method, path: &str, query: &str, body: Option<&str>) -> Result<Reply, SendError> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature =
            l2_signature(self.creds.secret().expose_secret(), timestamp, method.as_str(), path, body.unwrap_or(""))
                .ok_or_else(|| SendError::NotSent("the API secret is not base64url".into()))?;
        let url = format!("{}{}{}", self.base, path.trim_start_matches('/'), query);
        let mut req = self
            .http
            .request(method, url)
            .header("POLY_ADDRESS", &self.address)
            .header("POLY_SIGNATURE", signature)
            .header("POLY_TIMESTAMP", timestamp.to_string())
            .header("POLY_API_KEY", self.creds.key().to_string())
            .header("POLY_PASSPHRASE", self.creds.passphrase().expose_secret());
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b.to_owned());
        }
        let resp = req.send().await.map_err(classify_transport)?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok()).map(Duration::from_secs);
        let remaining = header("poly-ratelimit-remaining").and_then(|v| v.parse().ok());
        let reset_unix_s = header("poly-ratelimit-reset").and_then(|v| v.parse().ok());
        let content_json = header("content-type").is_some_and(|c| c.contains("json"));
        let body = resp.text().await.map_err(|e| SendError::Unanswered(format!("reading the reply: {}", short(&e))))?;
        let json = content_json || matches!(body.trim_start().chars().next(), Some('{' | '[' | '"'));
        Ok(Reply { status, body, json, retry_after, remaining, reset_unix_s })
    }
}

fn classify_transport(e: reqwest::Error) -> SendError {
    // A connect error (refused, unreachable, DNS) means no request bytes left.
    // A connect *timeout* is also a connect error. Anything else may have
    // delivered the request.
    if e.is_connect() {
        SendError::NotSent(short(&e))
    } else if e.is_timeout() {
        SendError::Unanswered(format!("timed out: {}", short(&e)))
    } else {
        SendError::Unanswered(short(&e))
    }
}

/// The error and its causes on one line, without the URL's query.
fn short(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The L2 vectors of the reference clients (research/test-vectors.md §2;
    /// secret = base64url of 32 zero bytes).
    #[test]
    fn l2_signature_matches_the_reference_clients() {
        let secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let cases = [
            (1_000_000, "test-sign", "/orders", r#"{"hash": "0x123"}"#, "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="),
            (1_000_000, "test-sign", "/orders", r#"{"hash":"0x123"}"#, "4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM="),
            (1, "GET", "/", "", "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="),
            (1, "GET", "/data/orders", "", "cnThw5te07Y2pRUmbE09vF67Qj_c1djYNWAw6kNCMBY="),
        ];
        for (ts, method, path, body, expected) in cases {
            assert_eq!(
                l2_signature(secret, ts, method, path, body).as_deref(),
                Some(expected),
                "{method} {path} {body}"
            );
        }
        // Quotes are normalised before signing, as the SDKs do.
        assert_eq!(
            l2_signature(secret, 1, "POST", "/order", "{'a':1}"),
            l2_signature(secret, 1, "POST", "/order", "{\"a\":1}")
        );
        assert_eq!(l2_signature("not base64!", 1, "GET", "/", ""), None);
    }

    #[test]
    fn error_messages_come_from_the_body() {
        let r = |body: &str, json| Reply {
            status: 400,
            body: body.into(),
            json,
            retry_after: None,
            remaining: None,
            reset_unix_s: None,
        };
        assert_eq!(
            r(r#"{"error":"not enough balance / allowance"}"#, true).error_message(),
            "not enough balance / allowance"
        );
        assert_eq!(r(r#"{"success":false,"errorMsg":"x"}"#, true).error_message(), "x");
        let page = "<html>".repeat(100);
        assert!(r(&page, false).error_message().len() < 210);
    }
}
