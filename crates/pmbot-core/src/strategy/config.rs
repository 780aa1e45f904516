//! The strategy's parameters, as read from the config file.
//!
//! Invariant: a [`StrategyConfig`] that passed [`StrategyConfig::validate`] has
//! every threshold in its range, so the strategy never has to guess what a
//! zero or an out-of-range fraction meant.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::amount::Usdc;
use crate::events::OrderType;
use crate::price::Price;

/// How an entry takes liquidity: both are immediate, neither rests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TakerOrderType {
    /// Fill and kill: take what the book has up to the limit, drop the rest.
    Fak,
    /// Fill or kill: all of the size or nothing.
    Fok,
}

impl From<TakerOrderType> for OrderType {
    fn from(t: TakerOrderType) -> OrderType {
        match t {
            TakerOrderType::Fak => OrderType::Fak,
            TakerOrderType::Fok => OrderType::Fok,
        }
    }
}

/// The strategy's parameters. Every field has a documented default; a file
/// may set any subset, and an unknown (misspelt) field is an error.
/// Probabilities and fractions are decimals written as strings ("0.4").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrategyConfig {
    /// Lowest model confidence `|2p - 1|` at which the strategy enters
    /// (inclusive). Default 0.4, the level the model is validated at.
    pub confidence_threshold: Decimal,
    /// How far the trade's win probability must exceed the break-even
    /// probability after the taker fee, at the worst price paid (strictly
    /// more than `break_even + min_edge`). Default 0.02.
    pub min_edge: Decimal,
    /// Fraction of the available capital one entry may commit (limit price x
    /// size plus the taker fee at the limit, paid in pUSD). Default 0.05.
    pub capital_fraction: Decimal,
    /// Most one entry may commit (its limit price x size plus its taker fee
    /// at the limit: the amount the risk gate counts), in pUSD. Default 10.
    pub max_notional: Usdc,
    /// FAK or FOK for entries (exits are always FAK). Default FAK.
    pub entry_order_type: TakerOrderType,
    /// Exit when the token's best bid is at least this many ticks above the
    /// average entry price. Default 3.
    pub take_profit_ticks: u32,
    /// Exit when the token's best bid is at least this many ticks below the
    /// average entry price. Default 3.
    pub stop_loss_ticks: u32,
    /// Exit once this long has passed since the entry decision (inclusive).
    /// Default 60,000 (the model's label horizon, 60 s).
    pub max_hold_ms: i64,
    /// Exit (and do not enter) once the market ends within this long
    /// (inclusive). Default 30,000 (30 s).
    pub exit_before_end_ms: i64,
    /// Never sell below this price: an exit waits while the best bid is lower.
    /// Default 0.01.
    pub exit_price_floor: Price,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            confidence_threshold: Decimal::new(4, 1),
            min_edge: Decimal::new(2, 2),
            capital_fraction: Decimal::new(5, 2),
            max_notional: Usdc::from_whole(10),
            entry_order_type: TakerOrderType::Fak,
            take_profit_ticks: 3,
            stop_loss_ticks: 3,
            max_hold_ms: 60_000,
            exit_before_end_ms: 30_000,
            exit_price_floor: Price::from_pips(100).expect("0.01 is a price"),
        }
    }
}

/// Why a strategy config was refused. Each names the field (as spelt in the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyConfigError {
    #[error("strategy config: `{field}` must be greater than zero (got {value})")]
    NotPositive { field: &'static str, value: String },
    #[error("strategy config: `{field}` must be in {range} (got {value})")]
    OutOfRange { field: &'static str, value: String, range: &'static str },
}

impl StrategyConfig {
    /// Refuses zero limits that would disable a rule and fractions outside their range.
    pub fn validate(&self) -> Result<(), StrategyConfigError> {
        let unit = [
            ("confidence_threshold", self.confidence_threshold, "(0, 1]"),
            ("capital_fraction", self.capital_fraction, "(0, 1]"),
        ];
        for (field, value, range) in unit {
            if value <= Decimal::ZERO || value > Decimal::ONE {
                return Err(StrategyConfigError::OutOfRange { field, value: value.to_string(), range });
            }
        }
        // A negative margin would knowingly take trades that lose after fees.
        if self.min_edge < Decimal::ZERO || self.min_edge >= Decimal::ONE {
            return Err(StrategyConfigError::OutOfRange {
                field: "min_edge",
                value: self.min_edge.to_string(),
                range: "[0, 1)",
            });
        }
        if self.max_notional <= Usdc::ZERO {
            return Err(StrategyConfigError::NotPositive {
                field: "max_notional",
                value: self.max_notional.to_string(),
            });
        }
        let counts = [("take_profit_ticks", self.take_profit_ticks), ("stop_loss_ticks", self.stop_loss_ticks)];
        for (field, value) in counts {
            if value == 0 {
                return Err(StrategyConfigError::NotPositive { field, value: value.to_string() });
            }
        }
        let durations = [("max_hold_ms", self.max_hold_ms), ("exit_before_end_ms", self.exit_before_end_ms)];
        for (field, value) in durations {
            if value <= 0 {
                return Err(StrategyConfigError::NotPositive { field, value: value.to_string() });
            }
        }
        Ok(())
    }
}
