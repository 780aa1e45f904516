//! Polymarket's fee schedule and what it costs a trade.
//!
//! CLOB V2 charges takers only: for `C` shares filled at price `p`,
//! `fee = C x rate x (p(1-p))^exponent` in pUSD (today exponent 1; the rate is
//! per market category, read from `/clob-markets/{condition_id}` field `fd`:
//! crypto 0.07, sports 0.03, geopolitics 0). Makers pay nothing.
//!
//! Invariant: the fee is pUSD on both sides. A taker BUY receives every share
//! it matched and pays `C x p + fee`; a taker SELL receives `C x p - fee`.
//! Sources: the official Rust SDK's `adjust_market_buy_amount`
//! (`clob/utilities.rs`: a market BUY's total cost is `amount + amount / p x
//! rate x (p(1-p))^e`), py-clob-client-v2 `fees.py`, and NautilusTrader's
//! recorded V2 fills (1,000,000 pUSD bought 2,083,334 shares at 0.48 with a
//! 36,400 micro-pUSD fee, `C x 0.07 x 0.48 x 0.52`). Taking the BUY fee in
//! shares was CLOB V1's rule.
//!
//! Rounding: down to 0.00001 pUSD (a smaller fee is not charged). The chain
//! decides, not the docs: every taker leg of 21 real CTF Exchange V2
//! `OrderFilled` events (Polygon, 2026-09; NautilusTrader
//! `crates/adapters/polymarket/test_data/chain_order_filled_taker_fees.json`)
//! paid the formula truncated to 5 decimals, e.g. 7.042251 shares at 0.71,
//! rate 0.05, owe 0.072499974 and paid 0.07249. pmbot rounded half-up before,
//! a few micro-pUSD per fill more than the exchange takes.
//!
//! [`break_even_probability`] answers the question every decision must ask:
//! how often must this trade win for its expected value to be zero after fees?

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::amount::{Size, Usdc};
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

    /// The taker's fee for `size` shares at `price`, in pUSD, rounded down to
    /// 0.00001 (as the chain charges it: see the module docs).
    pub fn taker_fee(&self, price: Price, size: Size) -> Usdc {
        let exact = self.fee_per_share(price) * size.to_decimal();
        let rounded = exact.round_dp_with_strategy(FEE_DECIMALS, RoundingStrategy::ToZero);
        Usdc::try_from_decimal(rounded).expect("a fee rounded to 5 decimals fits in micro-USDC")
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

    /// The most a BUY of `size` shares limited at `limit` can take from the
    /// wallet: `limit x size` rounded up, plus, if it may take liquidity, the
    /// taker fee at the limit. Fills at better prices never cost more: the
    /// cost of a share, `p + fee_per_share(p)`, rises with `p` for every
    /// schedule Polymarket publishes (its derivative is `1 + r e (p(1-p))^(e-1)
    /// (1 - 2p)`, positive for a rate under 1 at exponent 1, under 2 at 2).
    /// Each fill rounds its own cost and fee, so fills at the limit itself
    /// can add a few micro-pUSD; price improvement of one pip covers that.
    pub fn max_buy_cost(&self, limit: Price, size: Size, may_take: bool) -> Usdc {
        let fee = if may_take { self.taker_fee(limit, size) } else { Usdc::ZERO };
        Usdc::from_price_size_ceil(limit, size) + fee
    }
}

/// The win probability at which a taker trade at `price` has zero expected value
/// after the fee, for a position held to resolution.
///
/// "Win" means the outcome the trade profits from: for a BUY, the token
/// resolving to 1; for a SELL, the token resolving to 0.
///
/// - BUY: paying `p + fee_per_share` for a share worth 1 on a win (the fee is
///   pUSD on top, every share is received): `q* = p + fee_per_share`.
/// - SELL: receiving `p - fee_per_share` now and giving up 1 if the token wins:
///   `q* = (1 - p) + fee_per_share`.
///
/// A maker pays no fee, so its break-even is `p` (BUY) or `1 - p` (SELL); pass
/// [`FeeModel::FREE`] for that.
pub fn break_even_probability(side: Side, price: Price, fee: &FeeModel) -> Decimal {
    let p = price.to_decimal();
    let f = fee.fee_per_share(price);
    match side {
        Side::Buy => p + f,
        Side::Sell => (Decimal::ONE - p) + f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::MICROS_PER_UNIT;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
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

    /// Under V2 the fee is pUSD on top of the price: q* = p + r p (1 - p)
    /// (research/test-vectors.md §7d: 0.053325 / 0.5175 / 0.953325 at 0.07).
    /// The V1 form, p / (1 - r (1 - p)) = 0.518135 at 0.5, held the fee in
    /// shares and asked for a slightly higher win rate.
    #[test]
    fn break_even_buy_worked_examples() {
        let m = FeeModel::crypto();
        assert_eq!(break_even_probability(Side::Buy, p("0.05"), &m), d("0.053325"));
        assert_eq!(break_even_probability(Side::Buy, p("0.50"), &m), d("0.5175"));
        assert_eq!(break_even_probability(Side::Buy, p("0.95"), &m), d("0.953325"));
        // At 0.072 (the py2 test value): 0.05342 / 0.518 / 0.95342.
        let m = FeeModel::taker(d("0.072"));
        assert_eq!(break_even_probability(Side::Buy, p("0.05"), &m), d("0.05342"));
        assert_eq!(break_even_probability(Side::Buy, p("0.5"), &m), d("0.518"));
        assert_eq!(break_even_probability(Side::Buy, p("0.95"), &m), d("0.95342"));
    }

    #[test]
    fn break_even_other_categories_at_half() {
        let at_half = |rate: &str| break_even_probability(Side::Buy, p("0.5"), &FeeModel::taker(d(rate)));
        assert_eq!(at_half("0.03"), d("0.5075"));
        assert_eq!(at_half("0.04"), d("0.51"));
        assert_eq!(at_half("0.05"), d("0.5125"));
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
        // 100 shares at 0.50: 1.75 pUSD, on either side (V1 took 3.5 shares).
        assert_eq!(m.taker_fee(p("0.5"), Size::from_shares(100)), Usdc::parse("1.75").unwrap());
        // NautilusTrader's recorded V2 fill: 2,083,334 micro-shares at 0.48
        // paid 36,400 micro-pUSD (and received every share).
        assert_eq!(m.taker_fee(p("0.48"), Size::from_micros(2_083_334)), Usdc::from_micros(36_400));
        // 1 share at 0.01: 0.07 x 0.0099 = 0.000693 -> 0.00069.
        assert_eq!(m.taker_fee(p("0.01"), Size::from_shares(1)), Usdc::parse("0.00069").unwrap());
        // 0.15 shares at 0.5: 0.002625 -> 0.00262 (down, as the chain does).
        assert_eq!(m.taker_fee(p("0.5"), Size::parse("0.15").unwrap()), Usdc::parse("0.00262").unwrap());
        // 0.0005 share at 0.5 owes 0.00000875: under the smallest fee, none.
        assert_eq!(m.taker_fee(p("0.5"), Size::parse("0.0005").unwrap()), Usdc::ZERO);
        assert_eq!(m.maker_fee(p("0.5"), Size::from_shares(100)), Usdc::ZERO);
        assert_eq!(FeeModel::FREE.taker_fee(p("0.5"), Size::from_shares(100)), Usdc::ZERO);
    }

    /// Every taker leg of 21 real CTF Exchange V2 `OrderFilled` events on
    /// Polygon (`testdata/chain_taker_fees.csv`, from NautilusTrader's
    /// `chain_order_filled_taker_fees.json`). Half-up rounding gets four of
    /// them wrong (e.g. 0.07250 for 0.07249).
    #[test]
    fn matches_the_fees_charged_on_chain() {
        let legs = chain_legs(include_str!("../../../testdata/chain_taker_fees.csv"));
        assert_eq!(legs.len(), 21);
        for (side, shares, price, rate, fee) in legs {
            let got = FeeModel::taker(d(rate)).taker_fee(p(price), Size::from_micros(shares));
            assert_eq!(got, Usdc::from_micros(fee), "{side} {shares} at {price}, rate {rate}");
        }
    }

    /// The rows of `testdata/chain_taker_fees.csv`: side, micro-shares,
    /// price, rate, fee in micro-pUSD.
    fn chain_legs(csv: &str) -> Vec<(&str, u64, &str, &str, i64)> {
        csv.lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("side,"))
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0], f[1].parse().unwrap(), f[2], f[3], f[4].parse().unwrap())
            })
            .collect()
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
    fn a_buy_costs_at_most_its_limit_and_the_fee_there() {
        let m = FeeModel::crypto();
        // 20 at 0.53: 10.6 + 20 x 0.07 x 0.53 x 0.47 = 10.6 + 0.34874.
        assert_eq!(m.max_buy_cost(p("0.53"), Size::from_shares(20), true), Usdc::parse("10.94874").unwrap());
        assert_eq!(m.max_buy_cost(p("0.53"), Size::from_shares(20), false), Usdc::parse("10.6").unwrap());
        // Every fill price under the limit costs less, fee included, for
        // every rate Polymarket uses and the V1 curve (0.25, exponent 2).
        let size = Size::from_shares(1000);
        for m in [
            FeeModel::crypto(),
            FeeModel::taker(d("0.05")),
            FeeModel { rate: d("0.25"), exponent: 2, taker_only: true },
        ] {
            for limit in 1..10_000u16 {
                let limit = Price::from_pips(limit).unwrap();
                let at_limit = m.max_buy_cost(limit, size, true);
                for fill in [1, limit.pips() / 2, limit.pips().saturating_sub(1)] {
                    let Some(fill) = Price::from_pips(fill) else { continue };
                    assert!(m.max_buy_cost(fill, size, true) <= at_limit, "{fill} under {limit}");
                }
            }
        }
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
