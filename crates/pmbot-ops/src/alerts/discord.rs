//! Discord webhook sink.
//!
//! Invariant: every message respects Discord's limits (content <= 2000,
//! embed title <= 256, description <= 4096 characters), cut on a character
//! boundary with an ellipsis, so a long body (a daily summary) is shortened,
//! never refused. Mentions are disabled: alert text cannot ping anyone.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use serde_json::{Value, json};

use super::config::parse_http_url;
use super::sink::{AlertSink, BoxFuture, SinkError, outcome_of};
use super::{Alert, Severity};

pub const CONTENT_LIMIT: usize = 2000;
pub const TITLE_LIMIT: usize = 256;
pub const DESCRIPTION_LIMIT: usize = 4096;

pub struct DiscordSink {
    client: reqwest::Client,
    // Parsed once; a `Url` has no redacting Debug, so this type has a manual one.
    url: reqwest::Url,
}

impl std::fmt::Debug for DiscordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSink").field("url", &"[REDACTED]").finish()
    }
}

impl DiscordSink {
    /// `timeout` bounds each request (connect to answer). The URL error names no URL.
    pub fn new(url: &SecretString, timeout: Duration) -> Result<DiscordSink, SinkError> {
        let url = parse_http_url(url)
            .ok_or_else(|| SinkError::Permanent("discord webhook is not an http(s) URL".to_owned()))?;
        Ok(DiscordSink { client: http_client(timeout)?, url })
    }
}

/// One pooled client per sink: no redirects (a webhook does not move, and a
/// redirect would send the alert elsewhere), the configured timeout.
pub(super) fn http_client(timeout: Duration) -> Result<reqwest::Client, SinkError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("pmbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| SinkError::Permanent("HTTP client could not be built".to_owned()))
}

impl AlertSink for DiscordSink {
    fn name(&self) -> &str {
        "discord"
    }

    fn send<'a>(&'a self, alert: &'a Alert, suppressed: u64) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let request = self.client.post(self.url.clone()).json(&discord_payload(alert, suppressed));
            let response = request.send().await.map_err(|e| SinkError::from_transport(&e))?;
            outcome_of(response).await
        })
    }
}

/// Embed colour by severity (blue, amber, red).
pub fn colour(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 0x3498DB,
        Severity::Warning => 0xF39C12,
        Severity::Critical => 0xE74C3C,
    }
}

/// The webhook body: a one-line `content` (what notifications show) and an
/// embed with the detail.
pub fn discord_payload(alert: &Alert, suppressed: u64) -> Value {
    let title = if alert.title.trim().is_empty() { alert.kind.as_str() } else { alert.title.as_str() };
    let note = suppressed_note(suppressed);
    let severity = alert.severity.as_str().to_ascii_uppercase();
    let content = format!("[{severity}] {title}{note}");
    let mut embed = json!({
        "title": truncate(title, TITLE_LIMIT),
        "color": colour(alert.severity),
        "footer": { "text": format!("pmbot · {}", alert.kind) },
    });
    if !alert.body.trim().is_empty() {
        embed["description"] = json!(truncate(&alert.body, DESCRIPTION_LIMIT));
    }
    if let Some(at) = timestamp(alert.at_ms) {
        embed["timestamp"] = json!(at);
    }
    json!({
        "content": truncate(&content, CONTENT_LIMIT),
        "embeds": [embed],
        "allowed_mentions": { "parse": [] },
    })
}

/// " (N similar suppressed)" or nothing.
pub(super) fn suppressed_note(suppressed: u64) -> String {
    if suppressed == 0 { String::new() } else { format!(" ({suppressed} similar suppressed)") }
}

/// ISO 8601 for the embed; `None` for a time before 1970 (not a real alert time).
fn timestamp(at_ms: i64) -> Option<String> {
    // humantime formats years up to 9999 only.
    const LAST_MS_OF_9999: u64 = 253_402_300_799_999;
    let ms = u64::try_from(at_ms).ok().filter(|ms| *ms <= LAST_MS_OF_9999)?;
    let at: SystemTime = UNIX_EPOCH + Duration::from_millis(ms);
    Some(humantime::format_rfc3339_millis(at).to_string())
}

/// At most `limit` characters; a cut text ends in "…" (counted in the limit).
pub fn truncate(text: &str, limit: usize) -> Cow<'_, str> {
    match text.char_indices().nth(limit) {
        None => Cow::Borrowed(text),
        Some(_) if limit == 0 => Cow::Borrowed(""),
        Some(_) => {
            let keep = limit.saturating_sub(1);
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &text[..end]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::AlertKind;

    fn alert(title: &str, body: &str) -> Alert {
        Alert::new(AlertKind::KillSwitch, Severity::Critical, title, body, 1_700_000_000_123)
    }

    #[test]
    fn payload_has_content_embed_colour_and_time() {
        let p = discord_payload(&alert("Kill switch engaged", "loss 51.20 USDC > 50"), 0);
        assert_eq!(p["content"], "[CRITICAL] Kill switch engaged");
        let embed = &p["embeds"][0];
        assert_eq!(embed["title"], "Kill switch engaged");
        assert_eq!(embed["description"], "loss 51.20 USDC > 50");
        assert_eq!(embed["color"], 0xE74C3C);
        assert_eq!(embed["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(embed["footer"]["text"], "pmbot · kill_switch");
        assert_eq!(p["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn suppressed_count_is_shown_and_empty_parts_are_filled_or_left_out() {
        let p = discord_payload(&alert("", "  "), 7);
        assert_eq!(p["content"], "[CRITICAL] kill_switch (7 similar suppressed)");
        assert_eq!(p["embeds"][0]["title"], "kill_switch");
        assert!(p["embeds"][0].get("description").is_none());
        let before_1970 = Alert { at_ms: -5, ..alert("t", "b") };
        assert!(discord_payload(&before_1970, 0)["embeds"][0].get("timestamp").is_none());
    }

    #[test]
    fn limits_are_kept_on_char_boundaries() {
        // Multi-byte characters: a byte cut would panic or split one.
        let title = "é".repeat(300);
        let body = "日本".repeat(3000);
        let p = discord_payload(&alert(&title, &body), 3);
        let embed = &p["embeds"][0];
        let t = embed["title"].as_str().unwrap();
        let d = embed["description"].as_str().unwrap();
        let c = p["content"].as_str().unwrap();
        assert_eq!(t.chars().count(), TITLE_LIMIT);
        assert!(t.ends_with('…') && t.starts_with("éé"));
        assert_eq!(d.chars().count(), DESCRIPTION_LIMIT);
        assert!(d.ends_with('…'));
        assert!(c.chars().count() <= CONTENT_LIMIT);
        let long = "x".repeat(2500);
        let c = discord_payload(&alert(&long, ""), 0)["content"].as_str().unwrap().to_owned();
        assert_eq!(c.chars().count(), CONTENT_LIMIT);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn truncate_exact_limits() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate("", 0), "");
        assert_eq!(truncate("a", 0), "");
        assert_eq!(truncate("añb", 2), "a…");
    }

    #[test]
    fn debug_and_bad_url_hide_the_url() {
        let url = SecretString::from("https://discord.com/api/webhooks/42/tok_SECRET");
        let sink = DiscordSink::new(&url, Duration::from_secs(1)).unwrap();
        assert!(!format!("{sink:?}").contains("SECRET"));
        let bad = SecretString::from("discord.com/api/webhooks/42/tok_SECRET");
        let err = DiscordSink::new(&bad, Duration::from_secs(1)).unwrap_err();
        assert!(!err.to_string().contains("SECRET") && !format!("{err:?}").contains("SECRET"));
    }
}
