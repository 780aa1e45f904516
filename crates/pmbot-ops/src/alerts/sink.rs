//! The sink trait and what a failed delivery means for retrying.
//!
//! Invariant: a [`SinkError`] never carries a URL. HTTP sinks build their
//! messages from the status code and the kind of transport failure, never
//! from `reqwest::Error`'s text (which names the URL).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::Alert;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Somewhere alerts go. One call is one attempt: the dispatcher owns
/// retries, backoff and the per-request deadline, so every sink gets the
/// same policy.
pub trait AlertSink: Send + Sync + 'static {
    /// Short fixed name for stats and logs ("discord", "json_webhook"); never a URL.
    fn name(&self) -> &str;
    /// Delivers `alert`; `suppressed` is how many alerts of its kind were
    /// held back since the last message of that kind (to be shown).
    fn send<'a>(&'a self, alert: &'a Alert, suppressed: u64) -> BoxFuture<'a, Result<(), SinkError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The receiver asked us to wait (HTTP 429); the next attempt waits this long.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// Worth another attempt after a backoff: 5xx, timeout, connection failure.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying would not help: 4xx other than 429, a malformed alert.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl SinkError {
    /// Classifies a transport error without its text (which contains the URL).
    pub(super) fn from_transport(err: &reqwest::Error) -> SinkError {
        let what = if err.is_timeout() {
            "request timed out"
        } else if err.is_connect() {
            "could not connect"
        } else if err.is_body() || err.is_decode() {
            "broken response body"
        } else if err.is_builder() {
            return SinkError::Permanent("request could not be built".to_owned());
        } else {
            "request failed"
        };
        SinkError::Transient(what.to_owned())
    }

    /// Classifies a non-2xx answer. `retry_after` is read from a 429's body or headers.
    pub(super) fn from_status(status: reqwest::StatusCode, retry_after: Option<Duration>) -> SinkError {
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            // No figure given: wait a second rather than hammer the receiver.
            let retry_after = retry_after.unwrap_or(Duration::from_secs(1));
            SinkError::RateLimited { retry_after }
        } else if status.is_server_error() || status == reqwest::StatusCode::REQUEST_TIMEOUT {
            SinkError::Transient(format!("HTTP {}", status.as_u16()))
        } else {
            SinkError::Permanent(format!("HTTP {}", status.as_u16()))
        }
    }
}

/// How long a 429 asks us to wait: Discord's JSON body `retry_after`
/// (seconds, a float) first, then the `Retry-After` header (seconds), then
/// `X-RateLimit-Reset-After`. Negative, non-finite or absurd figures are
/// ignored (`None`), so a bad answer cannot park the dispatcher forever.
pub fn retry_after_from(
    body: &[u8],
    retry_after_header: Option<&str>,
    reset_after_header: Option<&str>,
) -> Option<Duration> {
    const LONGEST: f64 = 24.0 * 3600.0;
    let seconds = |s: f64| (s.is_finite() && (0.0..=LONGEST).contains(&s)).then(|| Duration::from_secs_f64(s));
    let from_body = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64))
        .and_then(seconds);
    let header = |h: Option<&str>| h.and_then(|h| h.trim().parse::<f64>().ok()).and_then(seconds);
    from_body.or_else(|| header(retry_after_header)).or_else(|| header(reset_after_header))
}

/// Reads a response into `Ok` or the [`SinkError`] it means. Shared by the HTTP sinks.
pub(super) async fn outcome_of(response: reqwest::Response) -> Result<(), SinkError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (retry_after, reset_after) = (header("retry-after"), header("x-ratelimit-reset-after"));
    // The body is read only to find `retry_after`; a body that fails to
    // arrive leaves the header figures.
    let body = if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        response.bytes().await.unwrap_or_default()
    } else {
        Default::default()
    };
    let wait = retry_after_from(&body, retry_after.as_deref(), reset_after.as_deref());
    Err(SinkError::from_status(status, wait))
}

/// Exponential backoff with equal jitter: attempt 1 waits about `base`,
/// each next one twice as long, capped; half of each wait is random so that
/// several senders do not retry in step.
pub(super) fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = pmbot_core::backoff::ceiling(base, cap, attempt.saturating_sub(1));
    pmbot_core::backoff::delay(ceiling, pmbot_core::backoff::Jitter::Equal, rand::random())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_discord_body_then_headers() {
        let body = br#"{"message": "You are being rate limited.", "retry_after": 0.3, "global": false}"#;
        assert_eq!(retry_after_from(body, Some("5"), None), Some(Duration::from_millis(300)));
        assert_eq!(retry_after_from(b"", Some("2"), Some("9")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after_from(b"not json", None, Some("1.5")), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after_from(br#"{"retry_after": -1}"#, None, None), None);
        assert_eq!(retry_after_from(br#"{"retry_after": 1e12}"#, Some("x"), None), None);
        assert_eq!(retry_after_from(b"", None, None), None);
    }

    #[test]
    fn status_classification() {
        use reqwest::StatusCode as S;
        assert_eq!(
            SinkError::from_status(S::TOO_MANY_REQUESTS, Some(Duration::from_millis(300))),
            SinkError::RateLimited { retry_after: Duration::from_millis(300) }
        );
        assert_eq!(
            SinkError::from_status(S::TOO_MANY_REQUESTS, None),
            SinkError::RateLimited { retry_after: Duration::from_secs(1) }
        );
        assert_eq!(SinkError::from_status(S::BAD_GATEWAY, None), SinkError::Transient("HTTP 502".into()));
        assert_eq!(SinkError::from_status(S::NOT_FOUND, None), SinkError::Permanent("HTTP 404".into()));
        assert_eq!(SinkError::from_status(S::BAD_REQUEST, None), SinkError::Permanent("HTTP 400".into()));
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let (base, cap) = (Duration::from_millis(500), Duration::from_secs(8));
        for attempt in 1..=10 {
            let exp = (base * 2u32.pow(attempt - 1)).min(cap);
            let wait = backoff(attempt, base, cap);
            assert!(wait >= exp / 2 && wait <= exp, "attempt {attempt}: {wait:?} vs {exp:?}");
        }
        assert!(backoff(40, base, cap) <= cap);
    }
}
