//! The two amounts an order is signed with, sized so the CLOB accepts them.
//!
//! Invariant: every [`OrderAmounts`] made here trades exactly at its limit
//! price (pUSD = shares x price, nothing rounded), and each amount has no
//! more decimals than the exchange accepts for the order's kind and side:
//!
//! | kind | side | maker amount | taker amount |
//! | --- | --- | --- | --- |
//! | market (FOK, FAK) | BUY | pUSD, 2 decimals | shares, 4 decimals |
//! | market (FOK, FAK) | SELL | shares, 2 decimals | pUSD, 4 decimals |
//! | limit (GTC, GTD) | BUY | pUSD, tick decimals + 2 | shares, 2 decimals |
//! | limit (GTC, GTD) | SELL | shares, 2 decimals | pUSD, tick decimals + 2 |
//!
//! Sources: the exchange's HTTP 400 `invalid amounts, the market buy orders
//! maker amount supports a max accuracy of 2 decimals, taker amount a max of
//! 4 decimals` (rs-clob-client #114, rs-clob-client-v2 #59, py-clob-client-v2
//! #99: the cap is flat whatever the tick, so every limit-style FAK on a
//! 0.001 tick is refused); the market SELL caps, shares 2 and pUSD 4
//! (rs-clob-client PR #164, py-clob-client #121 `the sell orders maker amount
//! supports a max accuracy of 2 decimals, taker amount a max of 4
//! decimals`); the limit caps, `the buy orders maker amount supports a max
//! accuracy of 4 decimals, taker amount a max of 2 decimals` on a 0.01 tick
//! (py-clob-client #305) and `... of 5 decimals ...` on a 0.001 tick
//! (clob-client #124): the clients' `ROUNDING_CONFIG` amount decimals (tick
//! decimals + 2, for 0.1, 0.01, 0.005, 0.0025, 0.001 and 0.0001).
//!
//! Why exact rather than rounded: the exchange reads an order's price as
//! maker / taker (pUSD per share). Rounding the pUSD amount down to fit a cap
//! puts a BUY's price below its limit, so it no longer crosses an ask at the
//! limit; rounding it up pays more than the limit. py-clob-client #18 and
//! py-clob-client-v2 #59 show the exchange refusing such prices (`breaks
//! minimum tick size rule`). Only an exact pair is both accepted and at the
//! limit. The price of exactness is that sizes come in steps
//! ([`share_step`]): a market BUY at 0.53 buys whole shares (53 and 100
//! share no factor, so 0.53 x shares has 2 decimals only for whole shares),
//! at 0.50 any 0.02 share.
//!
//! pmbot sizes every order in lots of 0.01 share, although a market BUY may
//! carry 4 decimals of shares: the SDK's order builder truncates sizes to
//! lots, and shares bought finer than a lot could not all be sold again (a
//! SELL's shares have 2 decimals).

use crate::amount::{Size, Usdc};
use crate::events::OrderType;
use crate::price::{PIPS_PER_UNIT, Price, TickSize};
use crate::side::Side;

/// Polymarket's share lot: 0.01 share, in micro-shares.
pub const LOT_MICROS: u64 = 10_000;

/// Decimals of the chain's 6-decimal units (pUSD and outcome tokens).
const UNIT_DECIMALS: u32 = 6;

/// Which of the exchange's two amount rules an order falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderKind {
    /// FOK or FAK: executes at once, never rests.
    Market,
    /// GTC or GTD: may rest on the book.
    Limit,
}

impl OrderKind {
    /// The exchange judges an order's amounts by its time in force.
    pub fn of(order_type: OrderType) -> OrderKind {
        if order_type.rests() { OrderKind::Limit } else { OrderKind::Market }
    }
}

/// The most decimals the exchange accepts for an order's two amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Precision {
    pub maker_decimals: u32,
    pub taker_decimals: u32,
}

/// The exchange's caps for `kind` and `side` on a market whose tick is `tick`
/// (the table in the module docs).
pub fn precision(kind: OrderKind, side: Side, tick: TickSize) -> Precision {
    let (maker_decimals, taker_decimals) = match (kind, side) {
        (OrderKind::Market, Side::Buy) => (2, 4),
        (OrderKind::Market, Side::Sell) => (2, 4),
        (OrderKind::Limit, Side::Buy) => (tick.decimals() + 2, 2),
        (OrderKind::Limit, Side::Sell) => (2, tick.decimals() + 2),
    };
    Precision { maker_decimals, taker_decimals }
}

/// An order's signed amounts: `shares` at exactly `price`, for exactly
/// `collateral` pUSD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAmounts {
    pub side: Side,
    pub price: Price,
    pub shares: Size,
    pub collateral: Usdc,
}

impl OrderAmounts {
    /// `makerAmount` in micro-units: what the order gives (pUSD for a BUY,
    /// shares for a SELL).
    pub fn maker(&self) -> u64 {
        match self.side {
            Side::Buy => self.collateral_micros(),
            Side::Sell => self.shares.micros(),
        }
    }

    /// `takerAmount` in micro-units: what the order gets.
    pub fn taker(&self) -> u64 {
        match self.side {
            Side::Buy => self.shares.micros(),
            Side::Sell => self.collateral_micros(),
        }
    }

    fn collateral_micros(&self) -> u64 {
        u64::try_from(self.collateral.micros()).expect("collateral of an order is not negative")
    }
}

/// How an order of the asked size can be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizing {
    /// The asked size gives exact amounts.
    Exact(OrderAmounts),
    /// The asked size does not; these are the largest exact amounts below it.
    Reduced { amounts: OrderAmounts, asked: Size },
    /// No exact size above zero fits in the asked one: the smallest is `step`.
    TooSmall { asked: Size, step: Size },
}

/// The share step of exact amounts: every whole number of steps (and only
/// those) gives amounts within the exchange's caps at exactly `price`,
/// counted in pmbot's lots. At most 100 shares (a market order at a
/// 0.0001-tick price such as 0.9853).
pub fn share_step(kind: OrderKind, side: Side, price: Price, tick: TickSize) -> Size {
    let caps = precision(kind, side, tick);
    let pusd_decimals = match side {
        Side::Buy => caps.maker_decimals,
        Side::Sell => caps.taker_decimals,
    };
    // pUSD micros = share micros x pips / 10^4, which must be a whole number
    // of 10^(6 - pusd_decimals) micros: share micros x pips a multiple of n.
    let n = u64::from(PIPS_PER_UNIT) * 10u64.pow(UNIT_DECIMALS - pusd_decimals);
    let exact = n / gcd(u64::from(price.pips()), n);
    Size::from_micros(lcm(LOT_MICROS, exact))
}

/// The largest exact amounts for at most `asked` shares at `price`.
pub fn size_order(kind: OrderKind, side: Side, price: Price, tick: TickSize, asked: Size) -> Sizing {
    let step = share_step(kind, side, price, tick);
    let shares = asked.round_down_to(step.micros());
    if shares.is_zero() {
        return Sizing::TooSmall { asked, step };
    }
    let exact = shares.notional_exact(price);
    debug_assert!(exact.is_multiple_of(u128::from(PIPS_PER_UNIT)), "a whole number of steps is exact");
    let collateral = Usdc::from_micros(
        i64::try_from(exact / u128::from(PIPS_PER_UNIT)).expect("an order's pUSD fits in i64 micros"),
    );
    let amounts = OrderAmounts { side, price, shares, collateral };
    if shares == asked { Sizing::Exact(amounts) } else { Sizing::Reduced { amounts, asked } }
}

/// The number of decimals of a micro-unit amount (0 to 6).
pub fn decimals_of(micros: u64) -> u32 {
    let mut d = UNIT_DECIMALS;
    let mut m = micros;
    while d > 0 && m.is_multiple_of(10) {
        m /= 10;
        d -= 1;
    }
    d
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn lcm(a: u64, b: u64) -> u64 {
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn sz(s: &str) -> Size {
        Size::parse(s).unwrap()
    }

    fn amounts(s: Sizing) -> OrderAmounts {
        match s {
            Sizing::Exact(a) | Sizing::Reduced { amounts: a, .. } => a,
            Sizing::TooSmall { .. } => panic!("no amounts: {s:?}"),
        }
    }

    /// The case: a FAK BUY of 18.87 at 0.53 built as a limit order
    /// signs 10.0011 pUSD (4 decimals), which the exchange refuses. Exact
    /// amounts buy 18 shares for 9.54.
    #[test]
    fn a_market_buy_at_053_buys_whole_shares() {
        let tick = TickSize::Hundredth;
        assert_eq!(share_step(OrderKind::Market, Side::Buy, p("0.53"), tick), sz("1"));
        let s = size_order(OrderKind::Market, Side::Buy, p("0.53"), tick, sz("18.87"));
        let a = amounts(s);
        assert_eq!((a.maker(), a.taker()), (9_540_000, 18_000_000));
        assert_eq!(s, Sizing::Reduced { amounts: a, asked: sz("18.87") });
        // As a GTC the same size is exact: 10.0011 has the 4 decimals a limit BUY may carry.
        let s = size_order(OrderKind::Limit, Side::Buy, p("0.53"), tick, sz("18.87"));
        assert_eq!((amounts(s).maker(), amounts(s).taker()), (10_001_100, 18_870_000));
        assert!(matches!(s, Sizing::Exact(_)));
    }

    #[test]
    fn steps_on_each_tick() {
        let step = |kind, side, price: &str, tick| share_step(kind, side, p(price), tick).to_string();
        use OrderKind::{Limit, Market};
        use Side::{Buy, Sell};
        // 0.5 = 1/2: 0.02 share x 0.5 = 0.01.
        assert_eq!(step(Market, Buy, "0.5", TickSize::Tenth), "0.02");
        // 0.55 = 11/20: 0.2 share x 0.55 = 0.11.
        assert_eq!(step(Market, Buy, "0.55", TickSize::Hundredth), "0.2");
        // 0.985 = 197/200: 2 shares x 0.985 = 1.97.
        assert_eq!(step(Market, Buy, "0.985", TickSize::Thousandth), "2");
        assert_eq!(step(Market, Buy, "0.983", TickSize::Thousandth), "10");
        assert_eq!(step(Market, Buy, "0.9853", TickSize::TenThousandth), "100");
        assert_eq!(step(Market, Buy, "0.505", TickSize::HalfHundredth), "2");
        assert_eq!(step(Market, Buy, "0.5025", TickSize::QuarterHundredth), "4");
        // A market SELL's pUSD may have 4 decimals: any lot at a 0.01 price.
        assert_eq!(step(Market, Sell, "0.53", TickSize::Hundredth), "0.01");
        assert_eq!(step(Market, Sell, "0.983", TickSize::Thousandth), "0.1");
        assert_eq!(step(Market, Sell, "0.9853", TickSize::TenThousandth), "1");
        // Limit orders: any lot on the market's grid.
        for tick in TickSize::ALL {
            for price in [tick.min_price(), tick.max_price()] {
                assert_eq!(share_step(Limit, Buy, price, tick), sz("0.01"));
                assert_eq!(share_step(Limit, Sell, price, tick), sz("0.01"));
            }
        }
    }

    /// The clients' own amount vectors (research/test-vectors.md §5, §7a):
    /// on a lot size every limit order is exact and signs what they sign.
    #[test]
    fn limit_amounts_match_the_official_clients() {
        let cases = [
            (Side::Buy, "0.5", "21.04", TickSize::Tenth, 10_520_000, 21_040_000),
            (Side::Buy, "0.56", "21.04", TickSize::Hundredth, 11_782_400, 21_040_000),
            (Side::Buy, "0.055", "21.04", TickSize::HalfHundredth, 1_157_200, 21_040_000),
            (Side::Buy, "0.0525", "21.04", TickSize::QuarterHundredth, 1_104_600, 21_040_000),
            (Side::Buy, "0.056", "21.04", TickSize::Thousandth, 1_178_240, 21_040_000),
            (Side::Buy, "0.0056", "21.04", TickSize::TenThousandth, 117_824, 21_040_000),
            (Side::Sell, "0.43", "19.1", TickSize::Hundredth, 19_100_000, 8_213_000),
            (Side::Sell, "0.0056", "21.04", TickSize::TenThousandth, 21_040_000, 117_824),
        ];
        for (side, price, size, tick, maker, taker) in cases {
            let s = size_order(OrderKind::Limit, side, p(price), tick, sz(size));
            assert!(matches!(s, Sizing::Exact(_)), "{price} x {size}");
            assert_eq!((amounts(s).maker(), amounts(s).taker()), (maker, taker), "{price} x {size}");
        }
    }

    #[test]
    fn under_one_step_is_too_small() {
        let s = size_order(OrderKind::Market, Side::Buy, p("0.983"), TickSize::Thousandth, sz("9.99"));
        assert_eq!(s, Sizing::TooSmall { asked: sz("9.99"), step: sz("10") });
    }

    #[test]
    fn decimals_are_counted_on_micro_units() {
        assert_eq!(decimals_of(10_000_000), 0);
        assert_eq!(decimals_of(10_010_000), 2);
        assert_eq!(decimals_of(10_001_100), 4);
        assert_eq!(decimals_of(1), 6);
        assert_eq!(decimals_of(0), 0);
    }

    fn on_grid() -> impl Strategy<Value = (TickSize, Price)> {
        proptest::sample::select(TickSize::ALL.to_vec()).prop_flat_map(|tick| {
            let last = tick.max_price().pips() / tick.pips();
            (Just(tick), 1..=last).prop_map(|(tick, n)| (tick, Price::from_ticks(u32::from(n), tick).unwrap()))
        })
    }

    proptest! {
        /// Every amount pair made here is within the caps and at exactly the
        /// limit price, and is the largest such pair not above the asked size.
        #[test]
        fn amounts_are_exact_within_the_caps_and_largest(
            (tick, price) in on_grid(),
            market in any::<bool>(),
            buy in any::<bool>(),
            asked in 1u64..500_000_000,
        ) {
            let kind = if market { OrderKind::Market } else { OrderKind::Limit };
            let side = if buy { Side::Buy } else { Side::Sell };
            let asked = Size::from_micros(asked);
            let caps = precision(kind, side, tick);
            let step = share_step(kind, side, price, tick);
            prop_assert!(step.micros().is_multiple_of(LOT_MICROS));
            prop_assert!(step <= Size::from_shares(100));
            match size_order(kind, side, price, tick, asked) {
                Sizing::TooSmall { step: s, .. } => prop_assert!(asked < s && s == step),
                Sizing::Exact(a) | Sizing::Reduced { amounts: a, .. } => {
                    prop_assert!(decimals_of(a.maker()) <= caps.maker_decimals, "maker {}", a.maker());
                    prop_assert!(decimals_of(a.taker()) <= caps.taker_decimals, "taker {}", a.taker());
                    // maker / taker is the price exactly, in both directions.
                    let (usd, shares) = if buy { (a.maker(), a.taker()) } else { (a.taker(), a.maker()) };
                    prop_assert_eq!(u128::from(usd) * u128::from(PIPS_PER_UNIT), u128::from(shares) * u128::from(price.pips()));
                    prop_assert!(a.shares <= asked);
                    prop_assert!(asked.micros() - a.shares.micros() < step.micros());
                    prop_assert!(a.shares.micros().is_multiple_of(LOT_MICROS));
                }
            }
        }
    }
}
