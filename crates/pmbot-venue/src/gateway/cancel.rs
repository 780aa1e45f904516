//! Cancels, and the retry loop of every call that is safe to repeat.
//!
//! Invariant: a cancel may be sent any number of times (cancelling a
//! cancelled order changes nothing), so it is retried on every transient
//! failure, within the cancel rate limit; only a fatal answer stops it.

use std::collections::BTreeMap;

use pmbot_core::order_state::OrderInput;
use pmbot_core::{ConditionId, OrderId, TokenId};
use reqwest::Method;

use super::classify::{CallOutcome, classify_call};
use super::limits::Limiter;
use super::transport::Reply;
use super::wire::CancelReply;
use super::{GatewayError, Inner, lock};

/// What a cancel did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelReport {
    pub cancelled: Vec<OrderId>,
    /// Order id (as sent or reported) and the exchange's reason.
    pub not_cancelled: BTreeMap<String, String>,
}

impl Inner {
    /// Sends an L2 call, retrying transient failures with backoff and
    /// honouring `Retry-After`. `limit` is the rate-limit class and cost.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&str>,
        limit: Option<(&Limiter, u32)>,
    ) -> Result<Reply, GatewayError> {
        let what = "exchange call";
        let mut last = String::new();
        for attempt in 0..self.cfg.retry.attempts {
            if let Some((l, cost)) = limit {
                l.acquire(cost).await;
            }
            let r = self.transport.send(method.clone(), path, query, body).await;
            if let (Ok(reply), Some((l, _))) = (&r, limit) {
                let now_s = self.now().millis() / 1000;
                l.observe(reply, now_s, self.backoff(attempt), self.cfg.retry.max_retry_after);
            }
            match classify_call(&r) {
                CallOutcome::Answered => return r.map_err(|e| GatewayError::Call { what, detail: e.to_string() }),
                CallOutcome::Failed { detail, .. } => {
                    return Err(GatewayError::Call { what, detail: format!("{method} {path}: {detail}") });
                }
                CallOutcome::Fatal { detail, .. } => {
                    let reason = format!("{method} {path}: {detail}");
                    self.halt(reason.clone());
                    return Err(GatewayError::Fatal(reason));
                }
                CallOutcome::Retry { retry_after, detail } => {
                    last = detail;
                    if attempt + 1 < self.cfg.retry.attempts {
                        let wait = retry_after
                            .map(|d| d.min(self.cfg.retry.max_retry_after))
                            .unwrap_or_else(|| self.backoff(attempt));
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Err(GatewayError::Call { what, detail: format!("{method} {path}: {last}") })
    }

    async fn cancel_call(
        &self,
        method_path: &str,
        body: Option<String>,
        cost: u32,
    ) -> Result<CancelReport, GatewayError> {
        let reply =
            self.call(Method::DELETE, method_path, "", body.as_deref(), Some((&self.cancel_limit, cost))).await?;
        let parsed: CancelReply = serde_json::from_str(&reply.body)
            .map_err(|e| GatewayError::Call { what: "cancel", detail: format!("unreadable reply: {e}") })?;
        let mut report = CancelReport::default();
        for id in parsed.canceled.unwrap_or_default() {
            if let Ok(h) = OrderId::parse(id.trim()) {
                self.apply_hash(&h, OrderInput::CancelConfirmed, None);
                report.cancelled.push(h);
            }
        }
        report.not_cancelled = parsed.not_canceled.unwrap_or_default().into_iter().collect();
        // An order we track that could not be cancelled has most likely
        // filled or gone already: read its state back.
        for id in report.not_cancelled.keys() {
            if let Ok(h) = OrderId::parse(id.trim())
                && lock(&self.tracker).cid_of(&h).is_some()
                && let Ok(Some(o)) = self.lookup_order(h).await
            {
                self.apply_venue_order(&o);
            }
        }
        Ok(report)
    }

    pub(crate) async fn cancel_many(&self, ids: &[OrderId]) -> Result<CancelReport, GatewayError> {
        match ids {
            [] => Ok(CancelReport::default()),
            [one] => {
                let body = serde_json::json!({ "orderID": one.to_string() }).to_string();
                self.cancel_call("/order", Some(body), 1).await
            }
            many => {
                let list: Vec<String> = many.iter().map(ToString::to_string).collect();
                let body = serde_json::to_string(&list).unwrap_or_default();
                self.cancel_call("/orders", Some(body), u32::try_from(many.len()).unwrap_or(u32::MAX)).await
            }
        }
    }

    pub(crate) async fn cancel_all(&self) -> Result<CancelReport, GatewayError> {
        // The exchange charges 1 + the number cancelled; count ours.
        let open = lock(&self.tracker).open().len();
        self.cancel_call("/cancel-all", None, 1 + u32::try_from(open).unwrap_or(u32::MAX)).await
    }

    pub(crate) async fn cancel_market(
        &self,
        market: Option<ConditionId>,
        token: Option<TokenId>,
    ) -> Result<CancelReport, GatewayError> {
        let mut body = serde_json::Map::new();
        if let Some(m) = market {
            body.insert("market".into(), m.to_string().into());
        }
        if let Some(t) = token {
            body.insert("asset_id".into(), t.as_str().into());
        }
        let open = lock(&self.tracker).open().len();
        let body = serde_json::Value::Object(body).to_string();
        self.cancel_call("/cancel-market-orders", Some(body), 1 + u32::try_from(open).unwrap_or(u32::MAX)).await
    }
}
