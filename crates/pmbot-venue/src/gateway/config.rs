//! The order gateway's settings: the `[gateway]` table of `pmbot.toml`.
//!
//! Every default is here, in one place; unknown keys are an error, so a typo
//! is caught instead of silently replaced by a default. Secrets are not
//! settings: the private key comes from `PMBOT_PRIVATE_KEY` or the owner-only
//! file named by `key_file`, and the API credentials are derived at start-up.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use crate::marketdata::backoff::BackoffConfig;

/// How orders are signed and whose funds they spend (the SDK's
/// `SignatureType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    /// A plain wallet: the signer holds the funds. No funder.
    #[default]
    Eoa,
    /// Polymarket's email/Magic proxy wallet (POLY_PROXY); funder derived if absent.
    Proxy,
    /// A browser-wallet Gnosis Safe (POLY_GNOSIS_SAFE); funder derived if absent.
    Safe,
    /// A deposit wallet (POLY_1271, ERC-1271): the funder is required and signs.
    #[serde(alias = "deposit_wallet")]
    Poly1271,
}

/// A client-side rate limit: a sustained rate and a burst (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    pub per_second: u32,
    pub burst: u32,
}

/// Retries of calls that are safe to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Sends of one request at most (the first included).
    pub attempts: u32,
    /// Backoff before attempt `n + 1`: full jitter in `[0, min(cap, initial x 2^n)]`.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one fails the call.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// The user channel (`/ws/user`): fills and order events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserChannelConfig {
    /// Run it (tests of the REST path alone turn it off).
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// A `PING` unanswered this long means the connection is dead.
    #[serde(with = "humantime_serde")]
    pub pong_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    pub backoff: BackoffConfig,
}

impl Default for UserChannelConfig {
    fn default() -> Self {
        UserChannelConfig {
            enabled: true,
            ping_interval: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            backoff: BackoffConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// CLOB REST base URL. The SDK's own default is an old test host: always set.
    pub clob_url: String,
    /// WebSocket base URL; `/ws/user` is appended.
    pub ws_url: String,
    /// 137 (Polygon) or 80002 (Amoy).
    pub chain_id: u64,
    pub signature_type: SignatureKind,
    /// The address holding the funds (proxy, Safe or deposit wallet), `0x` hex.
    pub funder: Option<String>,
    /// Owner-only file with the private key, read when `PMBOT_PRIVATE_KEY` is unset.
    pub key_file: Option<PathBuf>,
    /// Bound on every REST call.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    pub retry: RetryConfig,
    /// Order posts. The exchange's published limit is 3,500 per 10 s burst and
    /// 36,000 per 10 min (60/s sustained); this stays below both.
    pub order_rate: RateConfig,
    /// Cancels. Published: 3,000 per 10 s and 30,000 per 10 min (50/s).
    pub cancel_rate: RateConfig,
    /// While this file exists no order is sent. Checked before every order.
    pub kill_switch: PathBuf,
    /// Cancel every open order when the kill switch is found.
    pub cancel_all_on_kill: bool,
    /// How often the order-safety heartbeat is sent while orders rest.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Look-ups of an order whose post was ambiguous, before re-posting it.
    pub lookup_tries: u32,
    #[serde(with = "humantime_serde")]
    pub lookup_interval: Duration,
    /// How often orders left pending reconciliation are looked up again.
    #[serde(with = "humantime_serde")]
    pub pending_sweep: Duration,
    pub user_channel: UserChannelConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            clob_url: "https://clob.polymarket.com".into(),
            ws_url: "wss://ws-subscriptions-clob.polymarket.com".into(),
            chain_id: 137,
            signature_type: SignatureKind::Eoa,
            funder: None,
            key_file: None,
            request_timeout: Duration::from_secs(5),
            retry: RetryConfig::default(),
            order_rate: RateConfig { per_second: 50, burst: 300 },
            cancel_rate: RateConfig { per_second: 40, burst: 250 },
            kill_switch: PathBuf::from(".kill_switch"),
            cancel_all_on_kill: true,
            heartbeat_interval: Duration::from_secs(5),
            lookup_tries: 3,
            lookup_interval: Duration::from_millis(250),
            pending_sweep: Duration::from_secs(10),
            user_channel: UserChannelConfig::default(),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("gateway.{field} must be positive")]
    NotPositive { field: &'static str },
    #[error("gateway.funder {0:?} is not a 0x-prefixed 20-byte address")]
    BadFunder(String),
    #[error("gateway.signature_type = {kind:?} {problem}")]
    Funder { kind: SignatureKind, problem: &'static str },
    #[error("gateway.chain_id {0} is neither Polygon (137) nor Amoy (80002)")]
    Chain(u64),
    #[error("gateway.{field} {value:?} is not an http(s)/ws(s) URL")]
    Url { field: &'static str, value: String },
}

impl GatewayConfig {
    /// Checks what can be checked without the network; returns the funder.
    pub fn validate(&self) -> Result<Option<Address>, ConfigError> {
        let positive = |ok: bool, field| if ok { Ok(()) } else { Err(ConfigError::NotPositive { field }) };
        positive(!self.request_timeout.is_zero(), "request_timeout")?;
        positive(self.retry.attempts > 0, "retry.attempts")?;
        positive(self.order_rate.per_second > 0 && self.order_rate.burst > 0, "order_rate")?;
        positive(self.cancel_rate.per_second > 0 && self.cancel_rate.burst > 0, "cancel_rate")?;
        positive(!self.heartbeat_interval.is_zero(), "heartbeat_interval")?;
        positive(self.lookup_tries > 0, "lookup_tries")?;
        if !matches!(self.chain_id, 137 | 80002) {
            return Err(ConfigError::Chain(self.chain_id));
        }
        for (field, value, schemes) in
            [("clob_url", &self.clob_url, ["http://", "https://"]), ("ws_url", &self.ws_url, ["ws://", "wss://"])]
        {
            if !schemes.iter().any(|s| value.starts_with(s)) {
                return Err(ConfigError::Url { field, value: value.clone() });
            }
        }
        let funder = match &self.funder {
            None => None,
            Some(s) => {
                let a: Address = s.parse().map_err(|_| ConfigError::BadFunder(s.clone()))?;
                if !s.starts_with("0x") || a == Address::ZERO {
                    return Err(ConfigError::BadFunder(s.clone()));
                }
                Some(a)
            }
        };
        match (self.signature_type, funder) {
            (SignatureKind::Eoa, Some(_)) => Err(ConfigError::Funder {
                kind: SignatureKind::Eoa,
                problem: "takes no funder: the signer holds the funds",
            }),
            (SignatureKind::Poly1271, None) => Err(ConfigError::Funder {
                kind: SignatureKind::Poly1271,
                problem: "needs the deposit wallet's address as funder",
            }),
            _ => Ok(funder),
        }
    }

    pub(crate) fn order_quota(&self) -> governor::Quota {
        quota(self.order_rate)
    }

    pub(crate) fn cancel_quota(&self) -> governor::Quota {
        quota(self.cancel_rate)
    }
}

fn quota(r: RateConfig) -> governor::Quota {
    let per = NonZeroU32::new(r.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(r.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    governor::Quota::per_second(per).allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = GatewayConfig::default();
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(c.retry.attempts, 3);
        assert_eq!(c.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(c.kill_switch, PathBuf::from(".kill_switch"));
        assert!(c.cancel_all_on_kill);
        // Below the exchange's published sustained rates (60 posts/s, 50 cancels/s).
        assert!(c.order_rate.per_second < 60 && c.cancel_rate.per_second < 50);
        assert_eq!(c.validate(), Ok(None));
    }

    #[test]
    fn toml_round_trip_and_typos_are_errors() {
        let c: GatewayConfig = toml::from_str(
            "clob_url = \"http://127.0.0.1:9\"\nrequest_timeout = \"2s\"\nsignature_type = \"deposit_wallet\"\n\
             funder = \"0x1111111111111111111111111111111111111111\"\n[retry]\nattempts = 5\n",
        )
        .unwrap();
        assert_eq!(c.request_timeout, Duration::from_secs(2));
        assert_eq!(c.retry.attempts, 5);
        assert_eq!(c.signature_type, SignatureKind::Poly1271);
        assert!(c.validate().unwrap().is_some());
        assert!(toml::from_str::<GatewayConfig>("request_timout = \"2s\"").is_err());
        assert!(toml::from_str::<GatewayConfig>("[retry]\nattempt = 2").is_err());
    }

    #[test]
    fn funder_rules() {
        let with = |kind, funder: Option<&str>| GatewayConfig {
            signature_type: kind,
            funder: funder.map(str::to_owned),
            ..GatewayConfig::default()
        };
        let a = "0x1111111111111111111111111111111111111111";
        assert!(matches!(with(SignatureKind::Eoa, Some(a)).validate(), Err(ConfigError::Funder { .. })));
        assert!(matches!(with(SignatureKind::Poly1271, None).validate(), Err(ConfigError::Funder { .. })));
        assert!(with(SignatureKind::Proxy, None).validate().is_ok(), "derived from the signer");
        assert!(with(SignatureKind::Safe, Some(a)).validate().is_ok());
        assert!(matches!(with(SignatureKind::Safe, Some("0x12")).validate(), Err(ConfigError::BadFunder(_))));
        let zero = "0x0000000000000000000000000000000000000000";
        assert!(matches!(with(SignatureKind::Safe, Some(zero)).validate(), Err(ConfigError::BadFunder(_))));
        let bad = GatewayConfig { retry: RetryConfig { attempts: 0, ..RetryConfig::default() }, ..Default::default() };
        assert_eq!(bad.validate(), Err(ConfigError::NotPositive { field: "retry.attempts" }));
        let bad = GatewayConfig { chain_id: 1, ..Default::default() };
        assert_eq!(bad.validate(), Err(ConfigError::Chain(1)));
    }
}
