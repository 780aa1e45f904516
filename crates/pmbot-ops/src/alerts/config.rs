//! The `[alerts]` table of pmbot.toml.
//!
//! Invariant: webhook URLs are deserialised straight into `SecretString`, so
//! the `Debug` of the config (and of anything holding it) shows no URL.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::Severity;

/// Environment variable holding the Discord webhook URL; overrides the file.
pub const DISCORD_WEBHOOK_ENV: &str = "PMBOT_DISCORD_WEBHOOK";
/// Environment variable holding the generic JSON webhook URL; overrides the file.
pub const JSON_WEBHOOK_ENV: &str = "PMBOT_JSON_WEBHOOK";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Discord webhook URL (`https://discord.com/api/webhooks/<id>/<token>`).
    pub discord_webhook: Option<SecretString>,
    /// Generic JSON webhook: each alert is POSTed as a JSON object.
    pub json_webhook: Option<SecretString>,
    /// Deduplication window per kind: one message per kind per window.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Bounded queue between the engine and the dispatcher; full => dropped.
    pub queue: usize,
    /// Attempts per message per sink, the first included.
    pub max_attempts: u32,
    /// Per-request timeout (connect and answer).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Alerts below this severity are counted as filtered and not queued.
    pub min_severity: Severity,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            discord_webhook: None,
            json_webhook: None,
            window: Duration::from_secs(5 * 60),
            queue: 256,
            max_attempts: 5,
            timeout: Duration::from_secs(5),
            min_severity: Severity::Info,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertConfigError {
    #[error("alerts.queue must be at least 1")]
    EmptyQueue,
    #[error("alerts.max_attempts must be at least 1")]
    NoAttempts,
    #[error("alerts.timeout must be greater than zero")]
    ZeroTimeout,
    /// Names the field only: the value is a secret.
    #[error("alerts.{field} is not an http(s) URL")]
    BadUrl { field: &'static str },
}

impl AlertConfig {
    /// Fills the webhooks from the environment: a non-empty
    /// `PMBOT_DISCORD_WEBHOOK` / `PMBOT_JSON_WEBHOOK` overrides the file
    /// (secrets are kept out of config files where possible). `env` is
    /// `|name| std::env::var(name).ok()` in the binary, a map in tests.
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> AlertConfig {
        let read = |name: &str| env(name).filter(|v| !v.trim().is_empty()).map(SecretString::from);
        if let Some(url) = read(DISCORD_WEBHOOK_ENV) {
            self.discord_webhook = Some(url);
        }
        if let Some(url) = read(JSON_WEBHOOK_ENV) {
            self.json_webhook = Some(url);
        }
        self
    }

    pub fn validate(&self) -> Result<(), AlertConfigError> {
        if self.queue == 0 {
            return Err(AlertConfigError::EmptyQueue);
        }
        if self.max_attempts == 0 {
            return Err(AlertConfigError::NoAttempts);
        }
        if self.timeout.is_zero() {
            return Err(AlertConfigError::ZeroTimeout);
        }
        for (field, url) in [("discord_webhook", &self.discord_webhook), ("json_webhook", &self.json_webhook)] {
            if let Some(url) = url
                && parse_http_url(url).is_none()
            {
                return Err(AlertConfigError::BadUrl { field });
            }
        }
        Ok(())
    }
}

impl AlertConfig {
    /// Keeps the webhooks whose host `keep` accepts (it is shown the host
    /// alone, IPv6 without brackets, never the URL) and removes the others;
    /// returns the names of the fields removed. A URL that does not parse is
    /// kept, so [`AlertConfig::validate`] still refuses it by name.
    pub fn retain_webhooks(mut self, keep: impl Fn(&str) -> bool) -> (AlertConfig, Vec<&'static str>) {
        let mut removed = Vec::new();
        for (field, url) in [("discord_webhook", &mut self.discord_webhook), ("json_webhook", &mut self.json_webhook)] {
            let host = url.as_ref().and_then(parse_http_url).map(|u| {
                let host = u.host_str().unwrap_or_default();
                host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).to_owned()
            });
            if host.is_some_and(|h| !keep(&h)) {
                *url = None;
                removed.push(field);
            }
        }
        (self, removed)
    }
}

/// The URL if it is absolute http(s); `None` otherwise. Never echoes it.
pub(super) fn parse_http_url(url: &SecretString) -> Option<reqwest::Url> {
    let parsed = reqwest::Url::parse(url.expose_secret().trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://discord.com/api/webhooks/1234567890/tok_SECRET_abc";

    #[test]
    fn defaults_and_humantime_durations_parse() {
        let cfg: AlertConfig = toml_like(r#"{"window": "90s", "timeout": "250ms", "min_severity": "warning"}"#);
        assert_eq!(cfg.window, Duration::from_secs(90));
        assert_eq!(cfg.timeout, Duration::from_millis(250));
        assert_eq!(cfg.min_severity, Severity::Warning);
        assert_eq!(cfg.queue, 256);
        assert_eq!(cfg.max_attempts, 5);
        assert!(cfg.discord_webhook.is_none());
        let empty: AlertConfig = toml_like("{}");
        assert_eq!(empty.window, Duration::from_secs(300));
        assert_eq!(empty.timeout, Duration::from_secs(5));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<AlertConfig>(r#"{"webhook": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_empty_env_is_ignored() {
        let cfg: AlertConfig = toml_like(&format!(r#"{{"discord_webhook": "{URL}"}}"#));
        let from_env = cfg.clone().with_env(|name| {
            (name == DISCORD_WEBHOOK_ENV).then(|| "https://discord.com/api/webhooks/9/other".to_owned())
        });
        assert_eq!(
            from_env.discord_webhook.as_ref().unwrap().expose_secret(),
            "https://discord.com/api/webhooks/9/other"
        );
        let blank = cfg.with_env(|_| Some("  ".to_owned()));
        assert_eq!(blank.discord_webhook.as_ref().unwrap().expose_secret(), URL);
        assert!(blank.json_webhook.is_none());
    }

    #[test]
    fn debug_and_errors_hide_the_url() {
        let cfg: AlertConfig =
            toml_like(&format!(r#"{{"discord_webhook": "{URL}", "json_webhook": "ftp://x/tok_SECRET_abc"}}"#));
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("tok_SECRET") && !debug.contains("1234567890"), "{debug}");
        let err = cfg.validate().unwrap_err();
        assert_eq!(err, AlertConfigError::BadUrl { field: "json_webhook" });
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn webhooks_are_kept_by_their_host_alone() {
        let cfg: AlertConfig = toml_like(&format!(
            r#"{{"discord_webhook": "{URL}", "json_webhook": "http://[::1]:9/hook?token=tok_SECRET"}}"#
        ));
        let seen = std::sync::Mutex::new(Vec::new());
        let (kept, removed) = cfg.clone().retain_webhooks(|host| {
            seen.lock().unwrap().push(host.to_owned());
            host == "::1"
        });
        assert_eq!(removed, vec!["discord_webhook"]);
        assert!(kept.discord_webhook.is_none());
        assert_eq!(kept.json_webhook.as_ref().unwrap().expose_secret(), "http://[::1]:9/hook?token=tok_SECRET");
        assert_eq!(*seen.lock().unwrap(), vec!["discord.com".to_owned(), "::1".to_owned()], "hosts only");
        let (all, removed) = cfg.retain_webhooks(|_| true);
        assert!(removed.is_empty() && all.discord_webhook.is_some() && all.json_webhook.is_some());
        // One that does not parse stays, for validate to refuse by name.
        let bad: AlertConfig = toml_like(r#"{"json_webhook": "not a url"}"#);
        let (bad, removed) = bad.retain_webhooks(|_| false);
        assert!(removed.is_empty());
        assert_eq!(bad.validate(), Err(AlertConfigError::BadUrl { field: "json_webhook" }));
    }

    #[test]
    fn validate_refuses_zero_sizes() {
        let ok = AlertConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(AlertConfig { queue: 0, ..ok.clone() }.validate(), Err(AlertConfigError::EmptyQueue));
        assert_eq!(AlertConfig { max_attempts: 0, ..ok.clone() }.validate(), Err(AlertConfigError::NoAttempts));
        assert_eq!(AlertConfig { timeout: Duration::ZERO, ..ok }.validate(), Err(AlertConfigError::ZeroTimeout));
    }

    // The config arrives through serde from TOML in the binary; JSON exercises
    // the same derive without a toml dependency here.
    fn toml_like(json: &str) -> AlertConfig {
        serde_json::from_str(json).expect("config parses")
    }
}
