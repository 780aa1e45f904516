//! The simulator's configuration: the `[sim]` table of `pmbot.toml`, or
//! built in code by tests. Every field has its default here, in one place;
//! unknown keys are an error, so a typo is caught instead of ignored.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use pmbot_core::Usdc;
use serde::{Deserialize, Serialize};

use crate::engine::{Address, EngineConfig};
use crate::faults::FaultSpec;
use crate::model::MarketSource;
use crate::model::replay::{ReplayOptions, ReplayPace, ReplaySource};
use crate::model::synthetic::{SyntheticConfig, SyntheticMarkets};
use crate::ratelimit::RateLimitConfig;

/// Where the simulator's books come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// Seeded synthetic binary markets (the embedded default).
    Synthetic(Box<SyntheticConfig>),
    /// Real recorded books replayed as the exchange's books.
    Replay {
        dir: PathBuf,
        /// 1.0 = recorded pace; 10.0 = ten times faster.
        #[serde(default = "default_speed")]
        speed: f64,
    },
}

fn default_speed() -> f64 {
    1.0
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig::Synthetic(Box::default())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Loopback address to listen on; anything else is refused.
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Seed for keys, markets and faults: the same seed gives the same run.
    pub seed: u64,
    /// Chain id orders and L1 auth are signed for (Polygon: 137).
    pub chain_id: u64,
    /// Collateral an address gets when it first creates an API key.
    pub starting_balance: Usdc,
    /// Extra collateral for given addresses at start (`ADDRESS = "AMOUNT"`).
    pub fund: BTreeMap<String, Usdc>,
    /// Fault injection plan (see `faults`), e.g. `"ws-drop-every=500,rest-5xx=0.05"`.
    pub faults: FaultSpec,
    /// Open orders of an account that sent heartbeats are cancelled when none
    /// arrives for this long.
    #[serde(with = "humantime_serde")]
    pub heartbeat_timeout: Duration,
    /// How often the market channel sends the plain-text frame
    /// `NO NEW ASSETS` to a connection that enabled custom features (new
    /// market discovery), as the real one does "periodically"
    /// (polymarket-protocol.md corrections 4; the real interval is not
    /// documented). `0s` never sends it.
    #[serde(with = "humantime_serde")]
    pub no_new_assets_every: Duration,
    /// Largest accepted difference between a request's POLY_TIMESTAMP and the
    /// server's clock.
    #[serde(with = "humantime_serde")]
    pub auth_max_skew: Duration,
    pub rate_limits: RateLimitConfig,
    pub source: SourceConfig,
    /// How long a resolved market's books, orders and trades are kept before
    /// they are freed (a rotating universe must not grow memory).
    #[serde(with = "humantime_serde")]
    pub keep_resolved: Duration,
    /// Matching-engine settings (tick rule, trade settlement delays, ...).
    pub engine: EngineConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: 1,
            chain_id: 137,
            starting_balance: Usdc::from_whole(1_000),
            fund: BTreeMap::new(),
            faults: FaultSpec::none(),
            heartbeat_timeout: Duration::from_secs(10),
            no_new_assets_every: Duration::from_secs(60),
            auth_max_skew: Duration::from_secs(300),
            rate_limits: RateLimitConfig::default(),
            source: SourceConfig::default(),
            keep_resolved: Duration::from_secs(600),
            engine: EngineConfig::default(),
        }
    }
}

impl SimConfig {
    pub fn heartbeat_timeout_ms(&self) -> i64 {
        i64::try_from(self.heartbeat_timeout.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn engine_config(&self) -> EngineConfig {
        self.engine.clone()
    }

    /// The `fund` table with its addresses parsed.
    pub fn fund_entries(&self) -> Result<Vec<(Address, Usdc)>, String> {
        self.fund
            .iter()
            .map(|(a, amount)| {
                let addr: Address = a.parse().map_err(|_| format!("fund: {a:?} is not an address"))?;
                if amount.is_negative() {
                    return Err(format!("fund: amount for {a} is negative"));
                }
                Ok((addr, *amount))
            })
            .collect()
    }

    /// Builds the configured market source, starting at `now_ms`.
    pub fn build_source(&self, now_ms: i64) -> Result<Box<dyn MarketSource>, String> {
        match &self.source {
            SourceConfig::Synthetic(cfg) => {
                let mut cfg = (**cfg).clone();
                cfg.seed = self.seed;
                let source = SyntheticMarkets::new(cfg, now_ms).map_err(|e| e.to_string())?;
                Ok(Box::new(source))
            }
            SourceConfig::Replay { dir, speed } => {
                if !(speed.is_finite() && *speed > 0.0) {
                    return Err(format!("replay speed must be a positive number, not {speed}"));
                }
                let opts = ReplayOptions { pace: ReplayPace::RealTime { speed: *speed }, ..ReplayOptions::new(now_ms) };
                ReplaySource::open(dir, opts).map(|s| Box::new(s) as Box<dyn MarketSource>).map_err(|e| e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let cfg: SimConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, SimConfig::default());
        let cfg: SimConfig = toml::from_str(
            "seed = 7\nheartbeat_timeout = \"3s\"\nno_new_assets_every = \"0s\"\n[engine]\napprove_on_fund = false\n[fund]\n\"0x00000000000000000000000000000000000000aa\" = \"25.5\"\n",
        )
        .unwrap();
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.heartbeat_timeout, Duration::from_secs(3));
        assert_eq!(cfg.no_new_assets_every, Duration::ZERO);
        assert!(!cfg.engine.approve_on_fund);
        assert_eq!(cfg.fund_entries().unwrap()[0].1, Usdc::parse("25.5").unwrap());
        let err = toml::from_str::<SimConfig>("sed = 7").unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
        let bad = SimConfig { fund: [("0xzz".to_owned(), Usdc::ZERO)].into(), ..SimConfig::default() };
        assert!(bad.fund_entries().is_err());
    }

    #[test]
    fn replay_speed_is_checked() {
        let cfg = SimConfig {
            source: SourceConfig::Replay { dir: "/nonexistent".into(), speed: 0.0 },
            ..SimConfig::default()
        };
        assert!(cfg.build_source(0).is_err());
    }
}
