//! What the balance reader reads, from where, and how patiently.
//!
//! Invariant: a [`BalanceConfig`] that passed [`BalanceConfig::validate`] has
//! at least one http(s) RPC URL, a non-zero TTL, timeout and attempt count, and
//! no address that was mistyped in a checksummed form.
//!
//! There is no default RPC URL: the public `https://polygon-rpc.com` stopped
//! serving anonymous requests in 2026 (viem PR #4352; protocol notes,
//! corrections item 6), and no keyless endpoint is reliable. A default that
//! fails every read would refuse every order only once trading started, so
//! the commands that need the chain stop at once, naming the setting.

use std::time::Duration;

use alloy::primitives::{Address, address};
use serde::{Deserialize, Deserializer, Serialize};

/// pUSD, Polymarket's V2 collateral on Polygon (6 decimals).
pub const POLYGON_COLLATERAL: Address = address!("0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB");
/// Gnosis ConditionalTokens (the ERC-1155 outcome tokens) on Polygon.
pub const POLYGON_CONDITIONAL_TOKENS: Address = address!("0x4D97DCd97eC945f40cF65F87097ACe5EA0476045");
/// CTF Exchange V2.
pub const POLYGON_EXCHANGE: Address = address!("0xE111180000d2663C0091e4f400237545B87B996B");
/// Neg Risk CTF Exchange V2.
pub const POLYGON_NEG_RISK_EXCHANGE: Address = address!("0xe2222d279d744050d28e00520010520000310F59");
/// Neg Risk Adapter.
pub const POLYGON_NEG_RISK_ADAPTER: Address = address!("0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296");
/// Polygon PoS mainnet.
pub const POLYGON_CHAIN_ID: u64 = 137;

/// The setting that names the RPC endpoints, as a user writes it.
pub const RPC_URLS_SETTING: &str = "[balance] rpc_urls";
/// The environment variable that overrides it (comma-separated URLs).
pub const RPC_URLS_ENV: &str = "PMBOT_BALANCE__RPC_URLS";

/// Configuration of [`super::BalanceReader`]. Every field but `rpc_urls` has
/// a default (the Polygon deployment), so a config file names only what
/// differs, and always the RPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BalanceConfig {
    /// JSON-RPC endpoints, tried in this order: the first is the primary, the
    /// rest are fallbacks used when an earlier one fails. May carry an API key
    /// in the path or query; only scheme, host and port are ever printed.
    /// A string is read as comma-separated URLs (what an environment
    /// variable can carry). Empty by default: see the module docs.
    #[serde(deserialize_with = "url_list")]
    pub rpc_urls: Vec<String>,
    /// The chain every endpoint must report from `eth_chainId`.
    pub chain_id: u64,
    /// The collateral ERC-20 (pUSD).
    #[serde(deserialize_with = "checked_address")]
    pub collateral: Address,
    /// The outcome-token ERC-1155 (ConditionalTokens).
    #[serde(deserialize_with = "checked_address")]
    pub conditional_tokens: Address,
    /// CTF Exchange: spender of collateral and operator of outcome tokens for every order.
    #[serde(deserialize_with = "checked_address")]
    pub exchange: Address,
    /// Neg Risk CTF Exchange: also needed for neg-risk markets.
    #[serde(deserialize_with = "checked_address")]
    pub neg_risk_exchange: Address,
    /// Neg Risk Adapter: also needed for neg-risk markets.
    #[serde(deserialize_with = "checked_address")]
    pub neg_risk_adapter: Address,
    /// How long a read is trusted before it is read again.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Bound on one JSON-RPC round trip (one batch to one endpoint).
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Rounds over all endpoints before a read fails (1 = no retry).
    pub attempts: u32,
    /// Pause after the first failed round; doubles each round up to `backoff_max`.
    #[serde(with = "humantime_serde")]
    pub backoff_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
}

impl Default for BalanceConfig {
    fn default() -> Self {
        BalanceConfig {
            rpc_urls: Vec::new(),
            chain_id: POLYGON_CHAIN_ID,
            collateral: POLYGON_COLLATERAL,
            conditional_tokens: POLYGON_CONDITIONAL_TOKENS,
            exchange: POLYGON_EXCHANGE,
            neg_risk_exchange: POLYGON_NEG_RISK_EXCHANGE,
            neg_risk_adapter: POLYGON_NEG_RISK_ADAPTER,
            cache_ttl: Duration::from_secs(30),
            call_timeout: Duration::from_secs(2),
            attempts: 3,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
        }
    }
}

/// A configuration the reader refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no Polygon RPC configured: set {RPC_URLS_SETTING} in pmbot.toml or {RPC_URLS_ENV} (your own endpoint \
         from a provider such as Alchemy, Infura, QuickNode or dRPC, or your own node; the public \
         polygon-rpc.com no longer serves anonymous requests)"
    )]
    NoRpcUrl,
    #[error("balance: rpc_urls[{index}] is not an http(s) URL ({reason})")]
    BadRpcUrl { index: usize, reason: String },
    #[error("balance: {field} must be greater than zero")]
    Zero { field: &'static str },
    #[error("balance: backoff_initial ({initial:?}) is longer than backoff_max ({max:?})")]
    Backoff { initial: Duration, max: Duration },
    #[error("balance: cannot build the HTTP client: {0}")]
    Http(String),
}

impl BalanceConfig {
    /// Checks the invariant above; the reader calls it before anything else.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rpc_urls.is_empty() {
            return Err(ConfigError::NoRpcUrl);
        }
        for (index, url) in self.rpc_urls.iter().enumerate() {
            parse_rpc_url(url).map_err(|reason| ConfigError::BadRpcUrl { index, reason })?;
        }
        for (field, zero) in [
            ("cache_ttl", self.cache_ttl.is_zero()),
            ("call_timeout", self.call_timeout.is_zero()),
            ("attempts", self.attempts == 0),
            ("chain_id", self.chain_id == 0),
        ] {
            if zero {
                return Err(ConfigError::Zero { field });
            }
        }
        if self.backoff_initial > self.backoff_max {
            return Err(ConfigError::Backoff { initial: self.backoff_initial, max: self.backoff_max });
        }
        Ok(())
    }

    /// The cache TTL in milliseconds of the reader's clock.
    pub(crate) fn ttl_ms(&self) -> i64 {
        i64::try_from(self.cache_ttl.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Parses an RPC URL; the error text never repeats the URL (it may hold a key).
pub(crate) fn parse_rpc_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| e.to_string())?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some() => Ok(parsed),
        "http" | "https" => Err("no host".to_owned()),
        other => Err(format!("scheme {other:?}; only http and https are supported")),
    }
}

/// `scheme://host[:port]` of an RPC URL: what logs and refusals may show.
/// Paths, queries and user info are dropped because providers put API keys there.
pub fn redact_url(url: &str) -> String {
    pmbot_core::redact::origin(url).unwrap_or_else(|| "<unparseable rpc url>".to_owned())
}

/// A list of URLs, or one string of comma-separated URLs (`PMBOT_*`
/// environment overrides are strings). Empty entries are dropped.
fn url_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Urls {
        One(String),
        Many(Vec<String>),
    }
    let urls = match Urls::deserialize(d)? {
        Urls::One(text) => text.split(',').map(str::to_owned).collect(),
        Urls::Many(list) => list,
    };
    Ok(urls.into_iter().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect())
}

/// An address from config. All-lowercase or all-uppercase hex is taken as is;
/// mixed case must be a valid EIP-55 checksum, so a one-character typo in a
/// copied checksummed address is refused instead of pointing at nowhere.
fn checked_address<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
    let text = String::deserialize(d)?;
    let hex = text.strip_prefix("0x").unwrap_or(&text);
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    let parsed = if has_lower && has_upper {
        Address::parse_checksummed(&text, None).map_err(|e| format!("{text:?}: bad EIP-55 checksum ({e})"))
    } else {
        text.parse::<Address>().map_err(|e| format!("{text:?} is not an address ({e})"))
    };
    parsed.map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_polygon_without_an_rpc() {
        let c = BalanceConfig::default();
        assert_eq!(c.validate(), Err(ConfigError::NoRpcUrl), "no dead public RPC as a default");
        let with_rpc = BalanceConfig { rpc_urls: vec!["https://rpc.example/KEY".into()], ..c.clone() };
        with_rpc.validate().unwrap();
        assert_eq!(c.chain_id, 137);
        assert_eq!(c.cache_ttl, Duration::from_secs(30));
        assert_eq!(c.collateral.to_checksum(None), "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB");
        // An empty table is the default config.
        let parsed: BalanceConfig = toml_like("{}");
        assert_eq!(parsed, c);
    }

    fn toml_like(json: &str) -> BalanceConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn overrides_and_durations_parse() {
        let c = toml_like(
            r#"{"rpc_urls":["http://127.0.0.1:8545","https://b.example/v2/KEY"],"chain_id":31337,
                "cache_ttl":"5s","call_timeout":"750ms","attempts":1,
                "collateral":"0xc011a7e12a19f7b1f670d46f03b03f3342e82dfb"}"#,
        );
        c.validate().unwrap();
        assert_eq!(c.rpc_urls.len(), 2);
        assert_eq!(c.chain_id, 31337);
        assert_eq!(c.cache_ttl, Duration::from_secs(5));
        assert_eq!(c.call_timeout, Duration::from_millis(750));
        assert_eq!(c.collateral, POLYGON_COLLATERAL);
    }

    #[test]
    fn rpc_urls_read_from_a_list_or_a_comma_separated_string() {
        let list = toml_like(r#"{"rpc_urls":["http://a.example", " http://b.example "]}"#);
        assert_eq!(list.rpc_urls, ["http://a.example", "http://b.example"]);
        let text = toml_like(r#"{"rpc_urls":"http://a.example, http://b.example,"}"#);
        assert_eq!(text.rpc_urls, list.rpc_urls);
        assert!(toml_like(r#"{"rpc_urls":""}"#).rpc_urls.is_empty());
        assert!(serde_json::from_str::<BalanceConfig>(r#"{"rpc_urls":5}"#).is_err());
    }

    #[test]
    fn a_missing_rpc_names_the_setting_and_the_variable_on_one_line() {
        let text = ConfigError::NoRpcUrl.to_string();
        assert!(text.contains("[balance] rpc_urls") && text.contains("PMBOT_BALANCE__RPC_URLS"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }

    #[test]
    fn unknown_fields_and_bad_checksums_are_refused() {
        assert!(serde_json::from_str::<BalanceConfig>(r#"{"rpc_url":"http://x"}"#).is_err());
        // Last character changed from B to b: mixed case, wrong checksum.
        let err = serde_json::from_str::<BalanceConfig>(r#"{"exchange":"0xE111180000d2663C0091e4f400237545B87B996b"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        assert!(serde_json::from_str::<BalanceConfig>(r#"{"exchange":"0x1234"}"#).is_err());
    }

    #[test]
    fn validation_names_the_problem() {
        let base = BalanceConfig { rpc_urls: vec!["http://127.0.0.1:8545".into()], ..BalanceConfig::default() };
        let with = |f: &dyn Fn(&mut BalanceConfig)| {
            let mut c = base.clone();
            f(&mut c);
            c.validate()
        };
        assert_eq!(with(&|c| c.rpc_urls.clear()), Err(ConfigError::NoRpcUrl));
        assert!(matches!(with(&|c| c.rpc_urls = vec!["ws://x".into()]), Err(ConfigError::BadRpcUrl { index: 0, .. })));
        assert!(matches!(with(&|c| c.rpc_urls.push("not a url".into())), Err(ConfigError::BadRpcUrl { index: 1, .. })));
        assert_eq!(with(&|c| c.cache_ttl = Duration::ZERO), Err(ConfigError::Zero { field: "cache_ttl" }));
        assert_eq!(with(&|c| c.attempts = 0), Err(ConfigError::Zero { field: "attempts" }));
        assert!(matches!(with(&|c| c.backoff_initial = Duration::from_secs(9)), Err(ConfigError::Backoff { .. })));
    }

    #[test]
    fn redaction_keeps_only_scheme_host_port() {
        assert_eq!(
            redact_url("https://polygon-mainnet.g.alchemy.com/v2/SECRETKEY"),
            "https://polygon-mainnet.g.alchemy.com"
        );
        assert_eq!(redact_url("https://user:pw@rpc.example:8443/?apikey=SECRET"), "https://rpc.example:8443");
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(redact_url("garbage SECRET"), "<unparseable rpc url>");
    }
}
