//! Generic JSON webhook sink: each alert POSTed as one JSON object
//! `{kind, severity, title, body, at_ms, suppressed}`, for a relay, a pager
//! bridge or a log collector. Same retry classification as Discord.

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use super::config::parse_http_url;
use super::discord::http_client;
use super::sink::{AlertSink, BoxFuture, SinkError, outcome_of};
use super::{Alert, AlertKind, Severity};

pub struct JsonWebhookSink {
    client: reqwest::Client,
    url: reqwest::Url,
}

impl std::fmt::Debug for JsonWebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonWebhookSink").field("url", &"[REDACTED]").finish()
    }
}

/// The wire shape (stable field names; `kind` and `severity` in snake_case).
#[derive(Debug, Serialize)]
pub struct JsonAlert<'a> {
    pub kind: AlertKind,
    pub severity: Severity,
    pub title: &'a str,
    pub body: &'a str,
    pub at_ms: i64,
    pub suppressed: u64,
}

impl JsonWebhookSink {
    pub fn new(url: &SecretString, timeout: Duration) -> Result<JsonWebhookSink, SinkError> {
        let url =
            parse_http_url(url).ok_or_else(|| SinkError::Permanent("json webhook is not an http(s) URL".to_owned()))?;
        Ok(JsonWebhookSink { client: http_client(timeout)?, url })
    }
}

impl AlertSink for JsonWebhookSink {
    fn name(&self) -> &str {
        "json_webhook"
    }

    fn send<'a>(&'a self, alert: &'a Alert, suppressed: u64) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let body = JsonAlert {
                kind: alert.kind,
                severity: alert.severity,
                title: &alert.title,
                body: &alert.body,
                at_ms: alert.at_ms,
                suppressed,
            };
            let response = self
                .client
                .post(self.url.clone())
                .json(&body)
                .send()
                .await
                .map_err(|e| SinkError::from_transport(&e))?;
            outcome_of(response).await
        })
    }
}
