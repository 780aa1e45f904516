//! `[ops]`: the ops server and the health verdict's thresholds.

use std::time::Duration;

use serde::Deserialize;

use crate::health::HealthConfig;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// Where the ops server listens (dashboard, /health, /metrics); `""`
    /// turns it off. Loopback by default: the pages show positions and P&L.
    pub http: String,
    /// Market data older than this makes /health answer 503.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// An engine loop silent this long makes /health answer 503.
    #[serde(with = "humantime_serde")]
    pub loop_silent_after: Duration,
    /// How long the server stays up after a run ends (to read its final
    /// figures); 0 stops it with the run.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
    /// Live runs: a collateral balance below this (pUSD) raises a
    /// `balance_low` alert; 0 turns it off.
    pub balance_floor: pmbot_core::Usdc,
    /// When the daily summary of the day before is written and posted, UTC
    /// `HH:MM`.
    pub summary_at: String,
}

impl Default for OpsConfig {
    fn default() -> Self {
        let health = HealthConfig::default();
        OpsConfig {
            http: "127.0.0.1:9184".to_owned(),
            stale_after: health.stale_after,
            loop_silent_after: health.loop_silent_after,
            linger: Duration::ZERO,
            balance_floor: pmbot_core::Usdc::from_whole(10),
            summary_at: "00:05".to_owned(),
        }
    }
}

/// A bad `[ops]` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("[ops] {key} = {value:?}: {reason}")]
pub struct OpsConfigError {
    pub key: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl OpsConfig {
    pub fn health(&self) -> HealthConfig {
        HealthConfig { stale_after: self.stale_after, loop_silent_after: self.loop_silent_after }
    }

    /// The summary time as minutes after midnight UTC.
    pub fn summary_minute(&self) -> Result<u32, OpsConfigError> {
        let bad = |reason| OpsConfigError { key: "summary_at", value: self.summary_at.clone(), reason };
        let (h, m) = self.summary_at.split_once(':').ok_or_else(|| bad("expected HH:MM (UTC)"))?;
        let h: u32 = h.parse().map_err(|_| bad("expected HH:MM (UTC)"))?;
        let m: u32 = m.parse().map_err(|_| bad("expected HH:MM (UTC)"))?;
        if h > 23 || m > 59 {
            return Err(bad("hours 0-23, minutes 0-59"));
        }
        Ok(h * 60 + m)
    }

    /// Checks every value, so a bad one stops the command before it starts.
    pub fn validate(&self) -> Result<(), OpsConfigError> {
        self.summary_minute()?;
        if !self.http.is_empty() && self.http.parse::<std::net::SocketAddr>().is_err() {
            return Err(OpsConfigError {
                key: "http",
                value: self.http.clone(),
                reason: "expected IP:PORT, or \"\" for no server",
            });
        }
        for (key, d) in [("stale_after", self.stale_after), ("loop_silent_after", self.loop_silent_after)] {
            if d.is_zero() {
                return Err(OpsConfigError {
                    key,
                    value: humantime::format_duration(d).to_string(),
                    reason: "must be positive",
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_named() {
        assert!(OpsConfig::default().validate().is_ok());
        assert_eq!(OpsConfig::default().summary_minute(), Ok(5));
        for bad in ["24:00", "7", "07:60", "ab:cd"] {
            let cfg = OpsConfig { summary_at: bad.into(), ..OpsConfig::default() };
            assert_eq!(cfg.validate().unwrap_err().key, "summary_at", "{bad}");
        }
        let cfg = OpsConfig { http: "localhost".into(), ..OpsConfig::default() };
        assert_eq!(cfg.validate().unwrap_err().key, "http");
        assert!(OpsConfig { http: String::new(), ..OpsConfig::default() }.validate().is_ok());
        let cfg = OpsConfig { stale_after: Duration::ZERO, ..OpsConfig::default() };
        assert_eq!(cfg.validate().unwrap_err().key, "stale_after");
    }
}
