//! What an answer to an order post means, and what to do about it.
//!
//! Invariant: an order is re-sent only when the exchange certainly did not
//! take it (connection refused, 429), or after look-ups, and then only as the
//! identical signed bytes (same hash: the exchange refuses a second copy). A
//! post whose fate is unknown is never classed as "not taken".
//!
//! The decision is a pure function of the reply, table-tested by named case.

use std::time::Duration;

use pmbot_core::OrderId;
use pmbot_core::order_state::VenueOrderStatus;
use serde::Deserialize;

use super::transport::{Reply, SendError};

/// Why the exchange refused an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// The price is off the market's (new) tick grid: refetch the tick, rebuild once.
    TickSize,
    /// Not enough balance or allowance: refresh the balance reader, then refuse.
    Balance,
    /// A post-only order would have crossed.
    PostOnlyCrosses,
    /// The market or the exchange takes no new orders now.
    Closed,
    /// Anything else the exchange found wrong with the order.
    Invalid,
}

/// The meaning of one order post's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// The exchange holds the order.
    Accepted { order_id: String, status: VenueOrderStatus },
    /// The exchange already had this exact order (a re-post of an order whose
    /// first post did land).
    AlreadyThere,
    /// The exchange refused it; it does not hold it.
    Refused { kind: RefusalKind, message: String },
    /// 429: not taken; wait this long (or the client's own backoff) and resend.
    RateLimited { retry_after: Option<Duration> },
    /// Connection refused before sending: not taken; resend.
    NotSent { detail: String },
    /// Timeout, 5xx, 425 or a broken connection after sending: it may or may
    /// not have been taken. Look it up before anything else.
    Ambiguous { detail: String },
    /// No retry can fix this (401, a non-JSON 403 such as a region block).
    Fatal { status: u16, detail: String },
}

#[derive(Debug, Deserialize)]
struct PostReply {
    #[serde(default)]
    success: bool,
    #[serde(default, rename = "errorMsg", alias = "error_msg")]
    error_msg: Option<String>,
    #[serde(default, rename = "orderID", alias = "orderId")]
    order_id: String,
    #[serde(default)]
    status: String,
}

/// Sorts an exchange refusal message by what can be done about it.
pub fn refusal_kind(message: &str) -> RefusalKind {
    let m = message.to_ascii_lowercase();
    if m.contains("tick size") || m.contains("tick_size") {
        RefusalKind::TickSize
    } else if m.contains("balance") || m.contains("allowance") {
        RefusalKind::Balance
    } else if m.contains("post-only") || m.contains("post only") || m.contains("crosses") {
        RefusalKind::PostOnlyCrosses
    } else if m.contains("trading is currently")
        || m.contains("cancel-only")
        || m.contains("not yet ready")
        || m.contains("closed")
        || m.contains("resolved")
    {
        RefusalKind::Closed
    } else {
        RefusalKind::Invalid
    }
}

fn is_duplicate(message: &str) -> bool {
    message.to_ascii_lowercase().contains("duplicate")
}

/// Classifies the result of `POST /order`.
pub fn classify_post(result: &Result<Reply, SendError>) -> PostOutcome {
    let reply = match result {
        Err(SendError::NotSent(d)) => return PostOutcome::NotSent { detail: d.clone() },
        Err(SendError::Unanswered(d)) => return PostOutcome::Ambiguous { detail: d.clone() },
        Ok(r) => r,
    };
    let message = reply.error_message();
    match reply.status {
        200..=299 => match serde_json::from_str::<PostReply>(&reply.body) {
            Ok(p) if p.success => match VenueOrderStatus::parse(&p.status) {
                Some(status) => PostOutcome::Accepted { order_id: p.order_id, status },
                None => PostOutcome::Ambiguous { detail: format!("success with unknown status {:?}", p.status) },
            },
            Ok(p) => {
                let msg = p.error_msg.unwrap_or_default();
                if is_duplicate(&msg) {
                    PostOutcome::AlreadyThere
                } else {
                    PostOutcome::Refused { kind: refusal_kind(&msg), message: msg }
                }
            }
            // A 2xx we cannot read: the order may well be in.
            Err(e) => PostOutcome::Ambiguous { detail: format!("unreadable 2xx reply: {e}") },
        },
        401 => PostOutcome::Fatal { status: 401, detail: message },
        403 if !reply.json => {
            PostOutcome::Fatal { status: 403, detail: format!("non-JSON 403 (region block?): {message}") }
        }
        429 => PostOutcome::RateLimited { retry_after: reply.retry_after },
        // 425 "service not ready" and 5xx may come after the request was
        // handled (a proxy timing out on a slow backend): ambiguous. An
        // explicit "trading disabled / cancel-only" is a refusal.
        425 | 500..=599 => {
            if reply.json && refusal_kind(&message) == RefusalKind::Closed {
                PostOutcome::Refused { kind: RefusalKind::Closed, message }
            } else {
                PostOutcome::Ambiguous { detail: format!("HTTP {}: {message}", reply.status) }
            }
        }
        _ if is_duplicate(&message) => PostOutcome::AlreadyThere,
        400..=499 => PostOutcome::Refused { kind: refusal_kind(&message), message },
        other => PostOutcome::Ambiguous { detail: format!("unexpected HTTP {other}: {message}") },
    }
}

/// The meaning of the result of a call that is safe to repeat (a cancel, a look-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// A 2xx (or a 404 for a look-up, handled by the caller).
    Answered,
    /// Try again: after `retry_after` if the exchange said so.
    Retry {
        retry_after: Option<Duration>,
        detail: String,
    },
    /// A 4xx refusal that a repeat would not change.
    Failed {
        status: u16,
        detail: String,
    },
    Fatal {
        status: u16,
        detail: String,
    },
}

pub fn classify_call(result: &Result<Reply, SendError>) -> CallOutcome {
    match result {
        Err(e) => CallOutcome::Retry { retry_after: None, detail: e.to_string() },
        Ok(r) if r.is_success() => CallOutcome::Answered,
        Ok(r) => {
            let detail = format!("HTTP {}: {}", r.status, r.error_message());
            match r.status {
                401 => CallOutcome::Fatal { status: 401, detail },
                403 if !r.json => CallOutcome::Fatal { status: 403, detail },
                429 => CallOutcome::Retry { retry_after: r.retry_after, detail },
                425 | 500..=599 => CallOutcome::Retry { retry_after: None, detail },
                status => CallOutcome::Failed { status, detail },
            }
        }
    }
}

/// The orderID string of a reply as a hash, if it is one.
pub fn parse_order_id(s: &str) -> Option<OrderId> {
    OrderId::parse(s.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Result<Reply, SendError> {
        Ok(Reply {
            status,
            body: body.into(),
            json: body.starts_with('{'),
            retry_after: (status == 429).then(|| Duration::from_secs(2)),
            remaining: None,
            reset_unix_s: None,
        })
    }

    const ACCEPTED: &str = r#"{"success":true,"errorMsg":"","orderID":"0xab","status":"live","makingAmount":"","takingAmount":"","transactionsHashes":[],"tradeIDs":[]}"#;

    #[test]
    fn every_class_by_named_case() {
        use PostOutcome as P;
        type Case = (&'static str, Result<Reply, SendError>, fn(&PostOutcome) -> bool);
        let cases: Vec<Case> = vec![
            ("accepted, resting", reply(200, ACCEPTED), |o| {
                matches!(o, P::Accepted { status: VenueOrderStatus::Live, .. })
            }),
            (
                "200 success:false refusal",
                reply(200, r#"{"success":false,"errorMsg":"not enough balance / allowance"}"#),
                |o| matches!(o, P::Refused { kind: RefusalKind::Balance, .. }),
            ),
            ("400 balance", reply(400, r#"{"error":"not enough balance / allowance"}"#), |o| {
                matches!(o, P::Refused { kind: RefusalKind::Balance, .. })
            }),
            ("400 tick size", reply(400, r#"{"error":"Price (0.305) breaks minimum tick size rule: 0.01"}"#), |o| {
                matches!(o, P::Refused { kind: RefusalKind::TickSize, .. })
            }),
            ("400 post-only crosses", reply(400, r#"{"error":"invalid post-only order: order crosses book"}"#), |o| {
                matches!(o, P::Refused { kind: RefusalKind::PostOnlyCrosses, .. })
            }),
            (
                "400 duplicate: the first post landed",
                reply(400, r#"{"error":"order 0xab is invalid. Duplicated."}"#),
                |o| matches!(o, P::AlreadyThere),
            ),
            (
                "503 trading disabled is a refusal",
                reply(503, r#"{"error":"Trading is currently disabled. Check polymarket.com for updates"}"#),
                |o| matches!(o, P::Refused { kind: RefusalKind::Closed, .. }),
            ),
            ("500 is ambiguous", reply(500, r#"{"error":"internal server error"}"#), |o| {
                matches!(o, P::Ambiguous { .. })
            }),
            ("502 is ambiguous", reply(502, r#"{"error":"bad gateway"}"#), |o| matches!(o, P::Ambiguous { .. })),
            ("425 is ambiguous", reply(425, r#"{"error":"service not ready"}"#), |o| matches!(o, P::Ambiguous { .. })),
            (
                "429 honours Retry-After",
                reply(429, r#"{"error":"Too Many Requests"}"#),
                |o| matches!(o, P::RateLimited { retry_after: Some(d) } if *d == Duration::from_secs(2)),
            ),
            ("401 is fatal", reply(401, r#"{"error":"Unauthorized/Invalid api key"}"#), |o| {
                matches!(o, P::Fatal { status: 401, .. })
            }),
            (
                "HTML 403 (region block) is fatal",
                reply(403, "<!DOCTYPE html><title>Attention Required! | Cloudflare</title>"),
                |o| matches!(o, P::Fatal { status: 403, .. }),
            ),
            ("JSON 403 is a refusal", reply(403, r#"{"error":"closed only mode"}"#), |o| {
                matches!(o, P::Refused { .. })
            }),
            ("connection refused: not sent", Err(SendError::NotSent("connection refused".into())), |o| {
                matches!(o, P::NotSent { .. })
            }),
            ("timeout: ambiguous", Err(SendError::Unanswered("timed out".into())), |o| {
                matches!(o, P::Ambiguous { .. })
            }),
            ("garbled 200: ambiguous", reply(200, "{\"succ"), |o| matches!(o, P::Ambiguous { .. })),
        ];
        for (name, input, ok) in cases {
            let got = classify_post(&input);
            assert!(ok(&got), "{name}: {got:?}");
        }
    }

    #[test]
    fn calls_that_may_be_repeated() {
        assert_eq!(classify_call(&reply(200, "{}")), CallOutcome::Answered);
        assert!(matches!(classify_call(&reply(503, "{}")), CallOutcome::Retry { .. }));
        assert!(matches!(classify_call(&reply(429, "{}")), CallOutcome::Retry { retry_after: Some(_), .. }));
        assert!(matches!(classify_call(&Err(SendError::Unanswered("x".into()))), CallOutcome::Retry { .. }));
        assert!(matches!(classify_call(&reply(401, "{}")), CallOutcome::Fatal { .. }));
        assert!(matches!(classify_call(&reply(403, "<html>")), CallOutcome::Fatal { .. }));
        assert!(matches!(classify_call(&reply(400, "{}")), CallOutcome::Failed { status: 400, .. }));
    }
}
