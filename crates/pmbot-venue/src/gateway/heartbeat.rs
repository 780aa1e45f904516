//! The exchange's order-safety heartbeat (dead-man switch).
//!
//! Invariant: while any order may rest, a heartbeat goes out every interval
//! (the SDK's `post_heartbeat`, threading the id the exchange returns, or
//! adopting the one a refusal names); a
//! failed one marks the gateway unhealthy and new orders are refused until a
//! heartbeat succeeds again. With nothing resting nothing is sent and the
//! state is idle: the exchange stops watching, which cancels nothing.

use pmbot_core::TimestampMs;
use polymarket_client_sdk_v2::auth::Uuid;
use polymarket_client_sdk_v2::error::Status;
use std::sync::Weak;
use tokio::sync::watch;

use super::{GatewayAlert, Inner, lock};

/// The heartbeat's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HeartbeatHealth {
    /// Nothing rests; no heartbeat needed.
    #[default]
    Idle,
    Healthy {
        last_ok: TimestampMs,
    },
    Failing {
        since: TimestampMs,
        failures: u32,
        last_error: String,
    },
}

impl HeartbeatHealth {
    /// Why new orders must wait, if they must.
    pub fn failing(&self) -> Option<String> {
        match self {
            HeartbeatHealth::Failing { failures, last_error, .. } => {
                Some(format!("{failures} failed heartbeat(s), last: {last_error}"))
            }
            _ => None,
        }
    }
}

enum Beat {
    Ok(Uuid),
    /// HTTP 400 `Invalid Heartbeat ID`: the exchange names the id it expects
    /// (`None` when it expects a fresh start: its registration expired).
    Expected(Option<Uuid>),
    Failed(String),
}

async fn beat(inner: &Inner, id: Option<Uuid>) -> Beat {
    match tokio::time::timeout(inner.cfg.request_timeout, inner.sdk.post_heartbeat(id)).await {
        Ok(Ok(r)) => match r.error {
            Some(e) if !e.is_empty() => Beat::Failed(e),
            _ => Beat::Ok(r.heartbeat_id),
        },
        Ok(Err(e)) => match e.downcast_ref::<Status>().and_then(expected_id) {
            Some(expected) => Beat::Expected(expected),
            None => Beat::Failed(e.to_string()),
        },
        Err(_) => Beat::Failed("timed out".into()),
    }
}

/// The id a refused heartbeat names. The real exchange answers a stale or
/// wrong id with HTTP 400 `{"error_msg":"Invalid Heartbeat ID",
/// "heartbeat_id":"<expected id>"}` and keeps expecting that id: restarting
/// with null is refused again, and once the deadline passes every open order
/// is cancelled. Sources: polymarket-protocol.md corrections 3; the official
/// TypeScript SDK's `sendOrderHeartbeat` ("Catch OrderHeartbeatMismatchError
/// and explicitly retry with its heartbeatId"); Polymarket/py-sdk's
/// transport test `test_order_heartbeat_rejection_preserves_id_without_retry`
/// (the body). `Some(None)`: the exchange expects "" (a fresh start).
fn expected_id(status: &Status) -> Option<Option<Uuid>> {
    if status.status_code.as_u16() != 400 {
        return None;
    }
    let body: serde_json::Value = serde_json::from_str(&status.message).ok()?;
    let expected = body.get("heartbeat_id")?.as_str()?;
    if expected.is_empty() {
        return Some(None);
    }
    Uuid::parse_str(expected).ok().map(Some)
}

pub(crate) async fn run(weak: Weak<Inner>, mut shutdown: watch::Receiver<bool>) {
    let mut id: Option<Uuid> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let failing = lock(&inner.heartbeat).failing().is_some();
        // While failing, retry sooner than the interval: every beat missed
        // brings the exchange's cancel-all closer.
        let wait = if failing { inner.cfg.heartbeat_interval / 4 } else { inner.cfg.heartbeat_interval };
        let idle = matches!(*lock(&inner.heartbeat), HeartbeatHealth::Idle);
        // Holding `inner` while waiting is fine: the gateway aborts this task
        // when its last handle is dropped.
        tokio::select! {
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(wait) => {}
            // A new resting order while idle: start beating now.
            () = inner.heartbeat_kick.notified(), if idle => {}
        }
        if !lock(&inner.tracker).any_may_rest() {
            *lock(&inner.heartbeat) = HeartbeatHealth::Idle;
            continue;
        }
        let mut outcome = beat(&inner, id).await;
        if let Beat::Expected(expected) = outcome {
            // Adopt the id the exchange expects and beat again at once: the
            // deadline keeps running while we are out of step.
            id = expected;
            outcome = beat(&inner, id).await;
        }
        let now = inner.now();
        let mut h = lock(&inner.heartbeat);
        match outcome {
            Beat::Ok(next) => {
                id = Some(next);
                let recovered = matches!(*h, HeartbeatHealth::Failing { .. });
                *h = HeartbeatHealth::Healthy { last_ok: now };
                drop(h);
                if recovered {
                    inner.alert(GatewayAlert::HeartbeatRecovered);
                    inner.journal_note("heartbeat_recovered", &serde_json::json!({}));
                }
            }
            Beat::Failed(error) => record_failure(&inner, h, now, error),
            Beat::Expected(expected) => {
                // Refused even with the id it named (another beat crossed
                // ours): keep the newest id it named for the next beat.
                id = expected;
                record_failure(&inner, h, now, "the exchange refused the heartbeat id it had named".to_owned());
            }
        }
    }
}

/// Marks the heartbeat failing; alerts on the first failure and every tenth.
fn record_failure(inner: &Inner, mut h: std::sync::MutexGuard<'_, HeartbeatHealth>, now: TimestampMs, error: String) {
    let (since, failures) = match &*h {
        HeartbeatHealth::Failing { since, failures, .. } => (*since, failures + 1),
        _ => (now, 1),
    };
    *h = HeartbeatHealth::Failing { since, failures, last_error: error.clone() };
    drop(h);
    tracing::warn!(%error, failures, "order-safety heartbeat failed");
    if failures == 1 || failures % 10 == 0 {
        inner.alert(GatewayAlert::HeartbeatFailing { error: error.clone(), failures });
        inner.journal_note("heartbeat_failing", &serde_json::json!({ "error": error, "failures": failures }));
    }
}
