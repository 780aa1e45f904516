//! Polymarket's fee schedule and what it costs a trade.
//!
//! CLOB V2 charges takers only: for `C` shares filled at price `p`,
//! `fee = C x rate x (p(1-p))^exponent` in pUSD (today exponent 1; the rate is
//! per market category, read from `/clob-markets/{condition_id}` field `fd`:
//! crypto 0.07, sports 0.03, geopolitics 0). Makers pay nothing.
//!
//! The fee is charged where the taker has the value: a BUY receives fewer
//! shares (`fee / p` of them), a SELL receives less pUSD. Amounts are rounded
//! half-up to 0.00001 pUSD, the exchange's fee precision, and the share form to
//! a micro-share.
//!
//! [`break_even_probability`] answers the question every decision must ask:
//! how often must this trade win for its expected value to be zero after fees?

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::amount::{MICROS_PER_UNIT, Size, Usdc};
use crate::price::Price;
use crate::side::Side;

/// Decimal places of a fee in pUSD.
pub const FEE_DECIMALS: u32 = 5;

/// A market's fee schedule (`fd` in `/clob-markets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeModel {
    /// `r`: the rate, a fraction (0.07 for crypto).
    pub rate: Decimal,
    /// `e`: the exponent of `p(1-p)`.
    pub exponent: u32,
    /// `to`: fees are charged to takers only (makers pay zero).
    pub taker_only: bool,
}

impl FeeModel {
    /// A market without fees (geopolitics, and every market before 2026).
    pub const FREE: FeeModel = FeeModel { rate: Decimal::ZERO, exponent: 1, taker_only: true };

    /// A taker-only schedule with exponent 1, the CLOB V2 shape.
    pub fn taker(rate: Decimal) -> FeeModel {
        FeeModel { rate, exponent: 1, taker_only: true }
    }

    /// The crypto category's rate, 0.07.
    pub fn crypto() -> FeeModel {
        FeeModel::taker(Decimal::new(7, 2))
    }

    /// Fee per share filled at `price`, in pUSD, unrounded: `rate x (p(1-p))^e`.
    pub fn fee_per_share(&self, price: Price) -> Decimal {
        let p = price.to_decimal();
        let base = p * (Decimal::ONE - p);
        let mut f = self.rate;
        for _ in 0..self.exponent {
            f *= base;
        }
        f
    }

    /// The taker's fee for `size` shares at `price`, in pUSD, rounded half-up to
    /// 0.00001.
    pub fn taker_fee(&self, price: Price, size: Size) -> Usdc {
        let exact = self.fee_per_share(price) * size.to_decimal();
        let rounded = exact.round_dp_with_strategy(FEE_DECIMALS, RoundingStrategy::MidpointAwayFromZero);
        Usdc::try_from_decimal(rounded).expect("a fee rounded to 5 decimals fits in micro-USDC")
    }

    /// The taker's fee when buying: the pUSD fee converted to shares at `price`
    /// (`fee / p`), rounded half-up to a micro-share. The buyer receives
    /// `size - taker_fee_shares` shares.
    pub fn taker_fee_shares(&self, price: Price, size: Size) -> Size {
        let fee = self.taker_fee(price, size).to_decimal();
        let shares = (fee / price.to_decimal()) * Decimal::from(MICROS_PER_UNIT);
        let micros = shares.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        Size::from_micros(u64::try_from(micros).expect("fee shares are non-negative and small"))
    }

    /// The maker's fee: zero on CLOB V2 (makers earn rebates instead, paid
    /// daily and not modelled per fill).
    pub fn maker_fee(&self, price: Price, size: Size) -> Usdc {
        if self.taker_only { Usdc::ZERO } else { self.taker_fee(price, size) }
    }

    /// Fee as a fraction of the notional a taker trades at `price`: `fee_per_share / p`.
    pub fn fee_fraction_of_notional(&self, price: Price) -> Decimal {
        self.fee_per_share(price) / price.to_decimal()
    }
}

/// The win probability at which a taker trade at `price` has zero expected value
/// after the fee, for a position held to resolution.
///
/// "Win" means the outcome the trade profits from: for a BUY, the token
/// resolving to 1; for a SELL, the token resolving to 0.
///
/// - BUY: paying `p` per share but receiving `1 - fee_per_share / p` shares per
///   share bought, each worth 1 on a win: `q* = p / (1 - fee_per_share / p)`.
/// - SELL: receiving `p - fee_per_share` now and giving up 1 if the token wins:
///   `q* = (1 - p) + fee_per_share`.
///
/// A maker pays no fee, so its break-even is `p` (BUY) or `1 - p` (SELL); pass
/// [`FeeModel::FREE`] for that.
pub fn break_even_probability(side: Side, price: Price, fee: &FeeModel) -> Decimal {
    let p = price.to_decimal();
    let f = fee.fee_per_share(price);
    match side {
        Side::Buy => p / (Decimal::ONE - f / p),
        Side::Sell => (Decimal::ONE - p) + f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn round6(x: Decimal) -> Decimal {
        x.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)
    }

    /// Worked examples from the research notes (crypto, rate 0.07, exponent 1).
    #[test]
    fn crypto_fee_per_share_worked_examples() {
        let m = FeeModel::crypto();
        assert_eq!(m.fee_per_share(p("0.05")), d("0.003325"));
        assert_eq!(m.fee_per_share(p("0.50")), d("0.0175"));
        assert_eq!(m.fee_per_share(p("0.95")), d("0.003325"));
        // As a share of notional: 6.65 %, 3.5 %, 0.35 %.
        assert_eq!(m.fee_fraction_of_notional(p("0.05")), d("0.0665"));
        assert_eq!(m.fee_fraction_of_notional(p("0.5")), d("0.035"));
        assert_eq!(m.fee_fraction_of_notional(p("0.95")), d("0.0035"));
    }

    #[test]
    fn break_even_buy_worked_examples() {
        let m = FeeModel::crypto();
        // 0.05 / (1 - 0.07 x 0.95) = 0.0535619...
        assert_eq!(round6(break_even_probability(Side::Buy, p("0.05"), &m)), d("0.053562"));
        // 0.5 / 0.965 = 0.5181347...
        assert_eq!(round6(break_even_probability(Side::Buy, p("0.50"), &m)), d("0.518135"));
        // 0.95 / (1 - 0.07 x 0.05) = 0.9533366...
        assert_eq!(round6(break_even_probability(Side::Buy, p("0.95"), &m)), d("0.953337"));
        // At 0.072 (the py2 test value) the notes give 0.053671 / 0.518672 / 0.953432.
        let m = FeeModel::taker(d("0.072"));
        assert_eq!(round6(break_even_probability(Side::Buy, p("0.05"), &m)), d("0.053671"));
        assert_eq!(round6(break_even_probability(Side::Buy, p("0.5"), &m)), d("0.518672"));
        assert_eq!(round6(break_even_probability(Side::Buy, p("0.95"), &m)), d("0.953432"));
    }

    #[test]
    fn break_even_other_categories_at_half() {
        let at_half = |rate: &str| round6(break_even_probability(Side::Buy, p("0.5"), &FeeModel::taker(d(rate))));
        assert_eq!(at_half("0.03"), d("0.507614"));
        assert_eq!(at_half("0.04"), d("0.510204"));
        assert_eq!(at_half("0.05"), d("0.512821"));
        assert_eq!(at_half("0"), d("0.5"));
    }

    #[test]
    fn break_even_sell_worked_examples() {
        let m = FeeModel::crypto();
        // Selling at 0.05 wins when the token resolves 0: needs 0.95 + 0.003325.
        assert_eq!(break_even_probability(Side::Sell, p("0.05"), &m), d("0.953325"));
        assert_eq!(break_even_probability(Side::Sell, p("0.50"), &m), d("0.5175"));
        assert_eq!(break_even_probability(Side::Sell, p("0.95"), &m), d("0.053325"));
        // Without a fee, buying at p and selling at p are fair at p and 1 - p.
        assert_eq!(break_even_probability(Side::Sell, p("0.3"), &FeeModel::FREE), d("0.7"));
        assert_eq!(break_even_probability(Side::Buy, p("0.3"), &FeeModel::FREE), d("0.3"));
    }

    #[test]
    fn fee_amounts_and_rounding() {
        let m = FeeModel::crypto();
        // 100 shares at 0.50: 1.75 pUSD, or 3.5 shares when buying.
        assert_eq!(m.taker_fee(p("0.5"), Size::from_shares(100)), Usdc::parse("1.75").unwrap());
        assert_eq!(m.taker_fee_shares(p("0.5"), Size::from_shares(100)), Size::parse("3.5").unwrap());
        // 1 share at 0.01: 0.07 x 0.0099 = 0.000693 -> 0.00069.
        assert_eq!(m.taker_fee(p("0.01"), Size::from_shares(1)), Usdc::parse("0.00069").unwrap());
        // 0.15 shares at 0.5: 0.002625 -> 0.00263 (half-up).
        assert_eq!(m.taker_fee(p("0.5"), Size::parse("0.15").unwrap()), Usdc::parse("0.00263").unwrap());
        assert_eq!(m.maker_fee(p("0.5"), Size::from_shares(100)), Usdc::ZERO);
        assert_eq!(FeeModel::FREE.taker_fee(p("0.5"), Size::from_shares(100)), Usdc::ZERO);
    }

    /// py-clob-client-v2's fee tests (amount $100 means 200 shares at 0.5).
    #[test]
    fn matches_official_client_fee_vectors() {
        let shares = |usd: i64, price: &str| {
            let notional = Decimal::from(usd) / p(price).to_decimal();
            Size::from_micros(u64::try_from(notional * Decimal::from(MICROS_PER_UNIT)).unwrap())
        };
        let sports = FeeModel::taker(d("0.03"));
        assert_eq!(sports.taker_fee(p("0.5"), shares(100, "0.5")), Usdc::parse("1.5").unwrap());
        assert_eq!(sports.taker_fee(p("0.7"), shares(100, "0.7")).to_decimal().round_dp(2), d("0.9"));
        let old = FeeModel { rate: d("0.25"), exponent: 2, taker_only: true };
        assert_eq!(old.taker_fee(p("0.5"), Size::from_shares(100)), Usdc::parse("1.5625").unwrap());
        assert_eq!(old.taker_fee(p("0.3"), Size::from_shares(100)), Usdc::parse("1.1025").unwrap());
    }

    #[test]
    fn symmetric_in_price() {
        let m = FeeModel::crypto();
        for pips in 1..10_000u16 {
            let a = Price::from_pips(pips).unwrap();
            assert_eq!(m.fee_per_share(a), m.fee_per_share(a.complement()));
        }
    }
}
