//! How many decimals the exchange accepts in an order's signed amounts.
//!
//! Invariant: a pure check of the two amounts (6-decimal integers) against
//! the rule for the order's side and type; it never looks at the tick, the
//! price or the book. The real CLOB refuses violations with HTTP 400 and the
//! texts below, whatever the market's tick (which is why every limit-style
//! FAK on a 0.001-tick market is refused: its pUSD amount has 5 decimals).
//!
//! | order                     | maker (pays) | taker (gets) | error text (`invalid amounts, the ...`) |
//! |---------------------------|--------------|--------------|------------------------------------------|
//! | market (FOK/FAK) BUY      | pUSD, 2      | shares, 4    | `market buy orders ... 2 ... 4`          |
//! | limit (GTC/GTD) BUY       | pUSD, 4      | shares, 2    | `buy orders ... 4 ... 2`                 |
//! | SELL, any type            | shares, 2    | pUSD, 4      | `sell orders ... 2 ... 4`                |
//!
//! Sources:
//! - market BUY: rs-clob-client #114 and #261, rs-clob-client-v2 #59 (a 6-decimal
//!   maker from `adjust_market_buy_amount`), py-clob-client-v2 #99 (every FAK on a
//!   0.001 tick: a 5-decimal taker), all with the verbatim text;
//! - limit BUY: py-clob-client #305 (a limit BUY at 0.962, a 0.001-tick market,
//!   still "max accuracy of 4 decimals"), 0xNetuser/Polymarket-golang #1 (a
//!   market-built order posted as GTC);
//! - SELL: rs-clob-client PR #164 ("BUY: maker=USDC(2 dec), taker=shares(4 dec);
//!   SELL: maker=shares(2 dec), taker=USDC(4 dec)", the backend's limits for
//!   market orders) and py-clob-client #121 (a FOK answered with the verbatim
//!   `sell orders` text; it was a BUY: in 2025 the server labelled its
//!   market-order rule "sell orders", since 2026 market BUYs get their own
//!   text). Inferred, not observed: that a limit SELL has the same limits and
//!   text as a market SELL (pUSD at most 4 decimals and shares at most 2, like
//!   the limit BUY's, which the clients' `ROUNDING_CONFIG` produces on 0.01
//!   ticks: shares `size` 2 decimals, pUSD `amount` 4).

use alloy::primitives::U256;
use pmbot_core::Side;

use crate::engine::OrderType;

/// Decimal places of a 6-decimal on-chain amount.
const TOKEN_DECIMALS: u32 = 6;

/// Which precision rule an order falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmountRule {
    /// FOK or FAK BUY: pUSD to spend exact to the cent, shares to 4 decimals.
    MarketBuy,
    /// GTC or GTD BUY: shares in lots of 0.01, pUSD to 4 decimals.
    LimitBuy,
    /// Any SELL: shares in lots of 0.01, pUSD to 4 decimals.
    Sell,
}

impl AmountRule {
    pub fn of(side: Side, order_type: OrderType) -> AmountRule {
        match (side, order_type) {
            (Side::Buy, OrderType::Fok | OrderType::Fak) => AmountRule::MarketBuy,
            (Side::Buy, OrderType::Gtc | OrderType::Gtd) => AmountRule::LimitBuy,
            (Side::Sell, _) => AmountRule::Sell,
        }
    }

    /// Most decimals of (maker amount, taker amount).
    pub const fn max_decimals(self) -> (u32, u32) {
        match self {
            AmountRule::MarketBuy | AmountRule::Sell => (2, 4),
            AmountRule::LimitBuy => (4, 2),
        }
    }

    /// The exchange's error text.
    pub const fn message(self) -> &'static str {
        match self {
            AmountRule::MarketBuy => {
                "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
            }
            AmountRule::LimitBuy => {
                "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals, taker amount a max of 2 decimals"
            }
            AmountRule::Sell => {
                "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
            }
        }
    }
}

/// An order whose amounts carry more decimals than its rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} (maker has {maker_decimals}, taker {taker_decimals})", .rule.message())]
pub struct PrecisionError {
    pub rule: AmountRule,
    pub maker_decimals: u32,
    pub taker_decimals: u32,
}

impl PrecisionError {
    /// The HTTP status the real API answers with.
    pub const fn http_status(&self) -> u16 {
        400
    }

    /// The `{"error": ...}` text, verbatim.
    pub const fn message(&self) -> &'static str {
        self.rule.message()
    }
}

/// Decimal places `amount` (in 10^-6 units) has once trailing zeros go:
/// 1_500_000 (1.5) has 1, 1_000_000 has 0, 1 has 6.
pub fn decimals(amount: U256) -> u32 {
    let mut frac = u64::try_from(amount % U256::from(10u64.pow(TOKEN_DECIMALS))).expect("below 10^6");
    if frac == 0 {
        return 0;
    }
    let mut d = TOKEN_DECIMALS;
    while frac % 10 == 0 {
        frac /= 10;
        d -= 1;
    }
    d
}

/// Checks an order's signed amounts against the exchange's rule for its
/// side and type.
pub fn check_amounts(side: Side, order_type: OrderType, maker: U256, taker: U256) -> Result<(), PrecisionError> {
    let rule = AmountRule::of(side, order_type);
    let (max_maker, max_taker) = rule.max_decimals();
    let (maker_decimals, taker_decimals) = (decimals(maker), decimals(taker));
    if maker_decimals > max_maker || taker_decimals > max_taker {
        return Err(PrecisionError { rule, maker_decimals, taker_decimals });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u64) -> U256 {
        U256::from(n)
    }

    #[test]
    fn decimals_of_six_decimal_amounts() {
        assert_eq!(decimals(u(0)), 0);
        assert_eq!(decimals(u(15_000_000)), 0);
        assert_eq!(decimals(u(10_500_000)), 1);
        assert_eq!(decimals(u(10_001_100)), 4);
        assert_eq!(decimals(u(1)), 6);
        assert_eq!(decimals(U256::MAX), 6, "2^256 - 1 ends in ...639935");
    }

    /// Each row: side, type, maker, taker, accepted. Amounts are the ones the
    /// sources report (or what the official builders make).
    #[test]
    fn the_rules_table() {
        use OrderType::{Fak, Fok, Gtc, Gtd};
        let cases: &[(Side, OrderType, u64, u64, bool)] = &[
            // rs-clob-client-v2 #59: maker 1.999422 refused.
            (Side::Buy, Fok, 1_999_422, 2_019_600, false),
            // py-clob-client-v2 #99: $9.98 at 0.985 on a 0.001 tick, taker 10.13197.
            (Side::Buy, Fak, 9_980_000, 10_131_970, false),
            // The same on a 0.01 tick: taker 10.1836, accepted.
            (Side::Buy, Fak, 9_980_000, 10_183_600, true),
            // The limit builder's FAK: 18.87 x 0.53 = 10.0011 (issue 13).
            (Side::Buy, Fak, 10_001_100, 18_870_000, false),
            (Side::Buy, Gtc, 10_001_100, 18_870_000, true),
            // py-clob-client #253: a market-built order (taker 3.4827) as GTC.
            (Side::Buy, Gtc, 2_020_000, 3_482_700, false),
            // 0.001 tick limit BUY 1.03 x 0.962 = 0.99086: refused (py-clob-client #305).
            (Side::Buy, Gtd, 990_860, 1_030_000, false),
            // SELL 85.71 at 0.5 (rs market sell vector): 42.855 pUSD.
            (Side::Sell, Fok, 85_710_000, 42_855_000, true),
            (Side::Sell, Gtc, 85_710_000, 42_855_000, true),
            // A SELL of 85.714286 shares: maker over 2 decimals.
            (Side::Sell, Fak, 85_714_286, 42_857_143, false),
            // A SELL on a 0.001 tick: 21.04 x 0.056 = 1.17824 pUSD, 5 decimals.
            (Side::Sell, Gtc, 21_040_000, 1_178_240, false),
        ];
        for &(side, ty, maker, taker, ok) in cases {
            let got = check_amounts(side, ty, u(maker), u(taker));
            assert_eq!(got.is_ok(), ok, "{side:?} {ty:?} {maker}/{taker}: {got:?}");
        }
    }

    #[test]
    fn each_rule_has_its_own_text() {
        let e = check_amounts(Side::Buy, OrderType::Fak, u(10_001_100), u(18_870_000)).unwrap_err();
        assert_eq!(
            e.message(),
            "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals"
        );
        assert_eq!((e.maker_decimals, e.taker_decimals, e.http_status()), (4, 2, 400));
        let e = check_amounts(Side::Buy, OrderType::Gtc, u(2_020_000), u(3_482_700)).unwrap_err();
        assert!(e.message().starts_with("invalid amounts, the buy orders maker amount supports a max accuracy of 4"));
        let e = check_amounts(Side::Sell, OrderType::Gtc, u(21_040_000), u(1_178_240)).unwrap_err();
        assert!(e.message().starts_with("invalid amounts, the sell orders maker amount supports a max accuracy of 2"));
    }
}
