//! The exchange's taker fee, written from the exchange's sources rather than
//! shared with the bot, so a misreading on either side shows up as a
//! disagreement instead of cancelling out.
//!
//! Invariant: [`FeeSchedule::taker_fee`] is a pure function of the schedule,
//! the fill price and the shares filled, computed in exact integer
//! arithmetic and rounded once.
//!
//! Formula (docs.polymarket.com/trading/fees; the `fd` object of
//! `GET /clob-markets/{condition_id}`: `{"r": rate, "e": exponent,
//! "to": taker_only}`; the official Rust SDK's `clob::utilities::
//! adjust_market_buy_amount` and py-clob-client-v2's `fees.py` use the same
//! `rate x (p(1-p))^exponent`):
//!
//! ```text
//! fee (pUSD) = C x rate x (p x (1 - p))^exponent
//! ```
//!
//! with `C` the shares filled and `p` the fill price in the taker's own token
//! (the curve is symmetric, so either token of the market gives the same
//! fee). Makers pay nothing when `taker_only` (every V2 market today).
//!
//! Who pays what (CLOB V2; polymarket-protocol.md corrections 2, section 6):
//! the fee is always pUSD. A taker BUY pays it on top of the notional and
//! receives every share it bought (the Rust SDK sizes a market BUY as
//! `amount + amount / p x platform_fee_rate`); a taker SELL pays it out of its
//! proceeds. The V1 rule of taking a BUY's fee in shares is gone.
//!
//! Rounding: down, to 5 decimals (0.00001 pUSD is the smallest fee charged;
//! anything smaller is not charged). Polymarket's docs do not state the rule
//! and NautilusTrader's adapter documents "rounded to 5 decimal places"; the
//! chain decides: the `fee` of 21 real CTF Exchange V2 `OrderFilled` events
//! (Polygon mainnet, 2026-09, NautilusTrader test data
//! `chain_order_filled_taker_fees.json`) is the formula truncated, never
//! rounded up: 7.042251 shares at 0.71, rate 0.05 owe 0.072499974 and paid
//! 0.07249; 7.57 at 0.65 owe 0.08610875 and paid 0.08610. The same events
//! show a BUY receiving every share it paid for (5 pUSD for 7.575758 shares
//! at 0.66, fee 0.085 apart).

use alloy_primitives::U256;
use pmbot_core::{Price, Size, Usdc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

/// Micro-pUSD per unit of fee precision (0.00001 pUSD = 10 micros).
const MICROS_PER_FEE_UNIT: u64 = 10;

/// Largest exponent a schedule may carry: the exact product stays inside 256
/// bits for any share count (live markets use 1; V1's curve used 2).
pub const MAX_EXPONENT: u32 = 4;

/// A market's fee schedule, the `fd` object of `/clob-markets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSchedule {
    /// `r`: the rate, a fraction (0.07 for crypto, 0.03 sports, 0 geopolitics).
    pub rate: Decimal,
    /// `e`: the exponent of `p(1-p)`.
    pub exponent: u32,
    /// `to`: only takers pay.
    pub taker_only: bool,
}

/// Why a fee schedule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeScheduleError {
    #[error("fee rate {0} is outside [0, 1]")]
    Rate(Decimal),
    #[error("fee exponent {0} is outside 1..={MAX_EXPONENT}")]
    Exponent(u32),
}

impl FeeSchedule {
    /// No fee (geopolitics markets, and every market before 2026).
    pub const FREE: FeeSchedule = FeeSchedule { rate: Decimal::ZERO, exponent: 1, taker_only: true };

    /// A taker-only schedule with exponent 1, the shape of every V2 market.
    pub fn taker(rate: Decimal) -> FeeSchedule {
        FeeSchedule { rate, exponent: 1, taker_only: true }
    }

    /// The crypto category: rate 0.07 (docs fee table).
    pub fn crypto() -> FeeSchedule {
        FeeSchedule::taker(Decimal::new(7, 2))
    }

    /// The sports category: rate 0.03 (docs fee table).
    pub fn sports() -> FeeSchedule {
        FeeSchedule::taker(Decimal::new(3, 2))
    }

    /// Refuses a schedule the formula cannot be computed exactly for.
    pub fn validate(&self) -> Result<(), FeeScheduleError> {
        if self.rate.is_sign_negative() || self.rate > Decimal::ONE {
            return Err(FeeScheduleError::Rate(self.rate));
        }
        if !(1..=MAX_EXPONENT).contains(&self.exponent) {
            return Err(FeeScheduleError::Exponent(self.exponent));
        }
        Ok(())
    }

    /// The rate in basis points, as trade records carry it (`fee_rate_bps`).
    pub fn rate_bps(&self) -> u32 {
        (self.rate * Decimal::from(10_000)).round().to_u32().unwrap_or(u32::MAX)
    }

    /// Fee per share at `price`, unrounded: `rate x (p(1-p))^exponent` pUSD.
    /// For participants' decisions, not for charging.
    pub fn per_share(&self, price: Price) -> Decimal {
        let p = Decimal::new(i64::from(price.pips()), 4);
        let base = p * (Decimal::ONE - p);
        (0..self.exponent).fold(self.rate, |f, _| f * base)
    }

    /// The taker's fee for `shares` filled at `price`, in pUSD, rounded down
    /// to 0.00001 (see the module docs).
    pub fn taker_fee(&self, price: Price, shares: Size) -> Usdc {
        let units = self.fee_units(price.pips(), shares.micros());
        Usdc::from_micros(i64::try_from(units * MICROS_PER_FEE_UNIT).expect("a fee is below the shares' notional"))
    }

    /// A maker's fee: nothing under a taker-only schedule.
    pub fn maker_fee(&self, price: Price, shares: Size) -> Usdc {
        if self.taker_only { Usdc::ZERO } else { self.taker_fee(price, shares) }
    }

    /// The fee in units of 0.00001 pUSD, exactly: with `p = pips / 10^4` and
    /// `C = micros / 10^6`, `fee x 10^5 = micros x rate x (pips(10^4 - pips))^e
    /// / (10 x 10^(8e))`, the rate being `mantissa / 10^scale`.
    fn fee_units(&self, pips: u16, micros: u64) -> u64 {
        if self.rate.is_zero() || micros == 0 {
            return 0;
        }
        let q = U256::from(u32::from(pips) * (10_000 - u32::from(pips)));
        let mut num = U256::from(micros) * U256::from(self.rate.mantissa().unsigned_abs());
        let mut den = U256::from(10u8) * U256::from(10u8).pow(U256::from(self.rate.scale()));
        for _ in 0..self.exponent.min(MAX_EXPONENT) {
            num *= q;
            den *= U256::from(100_000_000u32);
        }
        u64::try_from(num / den).expect("a fee in 0.00001 pUSD fits in 64 bits")
    }
}

impl Default for FeeSchedule {
    fn default() -> Self {
        FeeSchedule::FREE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn sh(s: &str) -> Size {
        Size::parse(s).unwrap()
    }

    fn usd(s: &str) -> Usdc {
        Usdc::parse(s).unwrap()
    }

    /// Worked numbers of the research notes (crypto 0.07): 0.0175 per share
    /// at 0.50, 0.003325 at 0.05 and 0.95.
    #[test]
    fn crypto_fees_per_share_and_per_fill() {
        let f = FeeSchedule::crypto();
        assert_eq!(f.per_share(p("0.5")), Decimal::new(175, 4));
        assert_eq!(f.per_share(p("0.05")), Decimal::new(3325, 6));
        assert_eq!(f.taker_fee(p("0.5"), sh("100")), usd("1.75"));
        assert_eq!(f.taker_fee(p("0.95"), sh("100")), usd("0.3325"));
        // 10 x 0.07 x 0.65 x 0.35 = 0.15925 (a published worked example).
        assert_eq!(f.taker_fee(p("0.65"), sh("10")), usd("0.15925"));
        assert_eq!(f.rate_bps(), 700);
    }

    /// py-clob-client-v2 tests/test_fee_calculations.py, fee = C x rate x
    /// (p(1-p))^e: rate 0.25, exponent 2, 100 contracts at 0.5 / 0.3 / 0.1.
    #[test]
    fn exponent_two_matches_the_python_clients_vectors() {
        let f = FeeSchedule { rate: Decimal::new(25, 2), exponent: 2, taker_only: true };
        assert_eq!(f.taker_fee(p("0.5"), sh("100")), usd("1.5625"));
        assert_eq!(f.taker_fee(p("0.3"), sh("100")), usd("1.1025"));
        assert_eq!(f.taker_fee(p("0.1"), sh("100")), usd("0.2025"));
        // 0.05: 0.05640625, down to 0.05640 at five decimals.
        assert_eq!(f.taker_fee(p("0.05"), sh("100")), usd("0.0564"));
    }

    /// Every taker leg of NautilusTrader's `chain_order_filled_taker_fees.json`
    /// (real Polygon `OrderFilled` events), as `testdata/chain_taker_fees.csv`
    /// lists them: side, micro-shares, price, rate, the fee charged.
    #[test]
    fn matches_the_fees_charged_on_chain() {
        let csv = include_str!("../../../../testdata/chain_taker_fees.csv");
        let rows: Vec<Vec<&str>> = csv
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("side,"))
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), 21);
        for row in rows {
            let [side, shares, price, rate, fee] = row[..] else { panic!("a row of five fields: {row:?}") };
            let f = FeeSchedule::taker(rate.parse().unwrap());
            let got = f.taker_fee(p(price), Size::from_micros(shares.parse().unwrap()));
            assert_eq!(got, Usdc::from_micros(fee.parse().unwrap()), "{side} {shares} at {price}, rate {rate}");
        }
    }

    #[test]
    fn rounding_is_down_to_five_decimals() {
        let f = FeeSchedule::sports();
        // 1 x 0.03 x 0.15 x 0.85 = 0.003825 -> 0.00382.
        assert_eq!(f.taker_fee(p("0.15"), sh("1")), usd("0.00382"));
        // 3 x 0.03 x 0.15 x 0.85 = 0.011475 -> 0.01147.
        assert_eq!(f.taker_fee(p("0.15"), sh("3")), usd("0.01147"));
        // Crypto at 0.5 is 0.0175 per share: 0.0005 share owes 0.00000875
        // (nothing charged), 0.0009 share 0.00001575 (the smallest fee).
        let crypto = FeeSchedule::crypto();
        assert_eq!(crypto.taker_fee(p("0.5"), sh("0.0005")), Usdc::ZERO);
        assert_eq!(crypto.taker_fee(p("0.5"), sh("0.0009")), usd("0.00001"));
        assert_eq!(crypto.taker_fee(p("0.5"), Size::from_micros(1)), Usdc::ZERO);
    }

    #[test]
    fn free_and_maker_fees_are_zero() {
        assert_eq!(FeeSchedule::FREE.taker_fee(p("0.5"), sh("1000")), Usdc::ZERO);
        assert_eq!(FeeSchedule::crypto().maker_fee(p("0.5"), sh("1000")), Usdc::ZERO);
        let both = FeeSchedule { taker_only: false, ..FeeSchedule::crypto() };
        assert_eq!(both.maker_fee(p("0.5"), sh("100")), usd("1.75"));
    }

    #[test]
    fn symmetric_in_the_price() {
        let f = FeeSchedule { rate: Decimal::new(72, 3), exponent: 1, taker_only: true };
        for pips in (1..10_000u16).step_by(37) {
            let (a, b) = (Price::from_pips(pips).unwrap(), Price::from_pips(10_000 - pips).unwrap());
            assert_eq!(f.taker_fee(a, sh("123.45")), f.taker_fee(b, sh("123.45")), "{pips}");
        }
    }

    #[test]
    fn validation() {
        assert!(FeeSchedule::crypto().validate().is_ok());
        assert_eq!(FeeSchedule { exponent: 0, ..FeeSchedule::crypto() }.validate(), Err(FeeScheduleError::Exponent(0)));
        assert_eq!(FeeSchedule { exponent: 5, ..FeeSchedule::crypto() }.validate(), Err(FeeScheduleError::Exponent(5)));
        let neg = FeeSchedule::taker(Decimal::new(-1, 2));
        assert_eq!(neg.validate(), Err(FeeScheduleError::Rate(Decimal::new(-1, 2))));
        // The largest exponent and share count still compute exactly.
        let f = FeeSchedule { rate: Decimal::ONE, exponent: MAX_EXPONENT, taker_only: true };
        assert!(f.taker_fee(p("0.5"), Size::from_micros(u64::MAX / 4)).micros() > 0);
    }
}
