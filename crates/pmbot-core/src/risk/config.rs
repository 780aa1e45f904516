//! The limits the risk gate enforces, as read from the config file.
//!
//! Invariant: a [`RiskConfig`] that passed [`RiskConfig::validate`] has every
//! limit set (no zero that would silently disable or block a rule) and no two
//! limits that contradict each other, so the gate never has to guess.

use serde::{Deserialize, Serialize};

use crate::amount::Usdc;
use crate::price::Price;

/// The risk limits. Every field has a documented default; a config file may
/// set any subset (unknown fields are refused, so a misspelt limit is an error
/// rather than a silently ignored one). Durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Most collateral committed at once: open positions at cost plus resting
    /// buy orders at their limit. Default 300 pUSD (the design's cap; use 50
    /// for first live runs).
    pub capital_cap: Usdc,
    /// Most one buy order may cost (limit price x size, rounded up). Default 30.
    pub max_per_trade: Usdc,
    /// Most tokens held or being bought at once. Default 5.
    pub max_open_positions: u32,
    /// Most collateral committed in one market (all its tokens). Default 60.
    pub max_exposure_per_market: Usdc,
    /// Realised loss in one UTC day at which new entries stop until the next
    /// UTC day. Default 30.
    pub daily_loss_limit: Usdc,
    /// Losing position closes in a row that start a pause. Default 3.
    pub loss_streak_limit: u32,
    /// Length of that pause, from the last losing close. Default 3,600,000 (1 h).
    pub loss_streak_cooldown_ms: i64,
    /// No new entry in a market for this long after a losing close there.
    /// Default 1,800,000 (30 min).
    pub market_loss_cooldown_ms: i64,
    /// No new entry in a market that ends sooner than this. Default 120,000
    /// (2 min: twice the strategy's default holding time, so an entry can
    /// exit on its own rules before the market closes).
    pub min_time_to_end_ms: i64,
    /// Lowest limit price a buy may have (inclusive). Default 0.05.
    pub min_price: Price,
    /// Highest limit price a buy may have (inclusive). Default 0.95.
    pub max_price: Price,
    /// Oldest book (time since its last update) an order may be based on
    /// (inclusive). Default 5,000 (5 s).
    pub max_book_age_ms: i64,
    /// Refuse orders on a book the market-data layer does not trust (hash
    /// mismatch, resync pending, crossed). Default true.
    pub require_trusted_book: bool,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            capital_cap: Usdc::from_whole(300),
            max_per_trade: Usdc::from_whole(30),
            max_open_positions: 5,
            max_exposure_per_market: Usdc::from_whole(60),
            daily_loss_limit: Usdc::from_whole(30),
            loss_streak_limit: 3,
            loss_streak_cooldown_ms: 3_600_000,
            market_loss_cooldown_ms: 1_800_000,
            min_time_to_end_ms: 120_000,
            min_price: Price::from_pips(500).expect("0.05 is a price"),
            max_price: Price::from_pips(9_500).expect("0.95 is a price"),
            max_book_age_ms: 5_000,
            require_trusted_book: true,
        }
    }
}

/// Why a risk config was refused. Each names the field (as spelt in the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskConfigError {
    #[error("risk config: `{field}` must be greater than zero (got {value})")]
    NotPositive { field: &'static str, value: String },
    #[error("risk config: `{field}` ({value}) is above `{limit_field}` ({limit}), which contradicts it")]
    AboveLimit { field: &'static str, value: Usdc, limit_field: &'static str, limit: Usdc },
    #[error("risk config: `min_price` ({min}) must be below `max_price` ({max})")]
    PriceBand { min: Price, max: Price },
}

impl RiskConfig {
    /// Refuses a zero or negative limit and limits that contradict each other.
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        let money = [
            ("capital_cap", self.capital_cap),
            ("max_per_trade", self.max_per_trade),
            ("max_exposure_per_market", self.max_exposure_per_market),
            ("daily_loss_limit", self.daily_loss_limit),
        ];
        for (field, value) in money {
            if value <= Usdc::ZERO {
                return Err(RiskConfigError::NotPositive { field, value: value.to_string() });
            }
        }
        let counts = [("max_open_positions", self.max_open_positions), ("loss_streak_limit", self.loss_streak_limit)];
        for (field, value) in counts {
            if value == 0 {
                return Err(RiskConfigError::NotPositive { field, value: value.to_string() });
            }
        }
        let durations = [
            ("loss_streak_cooldown_ms", self.loss_streak_cooldown_ms),
            ("market_loss_cooldown_ms", self.market_loss_cooldown_ms),
            ("min_time_to_end_ms", self.min_time_to_end_ms),
            ("max_book_age_ms", self.max_book_age_ms),
        ];
        for (field, value) in durations {
            if value <= 0 {
                return Err(RiskConfigError::NotPositive { field, value: value.to_string() });
            }
        }
        // A trade bigger than the market's exposure limit could never be placed,
        // and a limit above the capital cap could never bind: both are mistakes.
        let ordered = [
            ("max_per_trade", self.max_per_trade, "capital_cap", self.capital_cap),
            ("max_exposure_per_market", self.max_exposure_per_market, "capital_cap", self.capital_cap),
            ("daily_loss_limit", self.daily_loss_limit, "capital_cap", self.capital_cap),
            ("max_per_trade", self.max_per_trade, "max_exposure_per_market", self.max_exposure_per_market),
        ];
        for (field, value, limit_field, limit) in ordered {
            if value > limit {
                return Err(RiskConfigError::AboveLimit { field, value, limit_field, limit });
            }
        }
        if self.min_price >= self.max_price {
            return Err(RiskConfigError::PriceBand { min: self.min_price, max: self.max_price });
        }
        Ok(())
    }
}
