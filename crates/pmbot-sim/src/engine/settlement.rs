//! What moves when a taker fills `x` shares against one maker order.
//!
//! Invariant: every fill moves collateral and shares so that the sum of all
//! collateral plus the collateral locked behind minted pairs never changes,
//! and each token's share count equals the number of pairs outstanding.
//! Both orders always trade the same `x` shares, each of its own token:
//!
//! | taker      | maker             | settlement | collateral                    |
//! |------------|-------------------|------------|-------------------------------|
//! | BUY  t     | SELL t            | transfer   | buyer pays seller             |
//! | SELL t     | BUY  t            | transfer   | buyer pays seller             |
//! | BUY  t     | BUY  other token  | mint       | both pay, together exactly x  |
//! | SELL t     | SELL other token  | merge      | both receive, together x      |
//!
//! Rounding (amounts are micro-units, prices pips of 0.0001, so `x * p` can
//! fall between two micros): the maker's side is computed from its cumulative
//! fills, `ceil(filled * p)` paid by a buyer and `floor(filled * p)` received
//! by a seller, so a resting BUY pays exactly the `ceil(size * p)` it reserved
//! over its life, never a micro more. The taker takes the complement (the same
//! amount for a transfer, `x` minus it for a mint or merge), which keeps the
//! sum exact. The taker's total can therefore differ from `x * p` by under a
//! micro per fill; its balance check uses the exact planned amounts.

use pmbot_core::Side;

use super::book::Outcome;

/// How a fill settles on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Shares move from seller to buyer, collateral the other way.
    Transfer,
    /// Two buyers of opposite tokens fund a new pair (1 pUSD per pair).
    Mint,
    /// Two sellers of opposite tokens redeem pairs for 1 pUSD each.
    Merge,
}

pub(crate) fn kind(taker_outcome: Outcome, taker_side: Side, maker_outcome: Outcome, maker_side: Side) -> Kind {
    match (taker_outcome == maker_outcome, taker_side, maker_side) {
        (true, a, b) if a != b => Kind::Transfer,
        (false, Side::Buy, Side::Buy) => Kind::Mint,
        (false, Side::Sell, Side::Sell) => Kind::Merge,
        _ => unreachable!("orders on the same side of the primary book never cross"),
    }
}

/// `size * pips / 10^4` rounded up: what a buyer of `size` micro-shares at
/// `pips` owes, in micro-pUSD.
pub(crate) fn cost_ceil(size: u64, pips: u16) -> u64 {
    (u128::from(size) * u128::from(pips)).div_ceil(10_000) as u64
}

/// `size * pips / 10^4` rounded down: what a seller is owed.
pub(crate) fn cost_floor(size: u64, pips: u16) -> u64 {
    (u128::from(size) * u128::from(pips) / 10_000) as u64
}

/// Collateral a resting order pays (BUY) or receives (SELL) for `x` more
/// shares, given the `filled` shares it already traded while resting.
pub(crate) fn maker_collateral(side: Side, pips: u16, filled: u64, x: u64) -> u64 {
    match side {
        Side::Buy => cost_ceil(filled + x, pips) - cost_ceil(filled, pips),
        Side::Sell => cost_floor(filled + x, pips) - cost_floor(filled, pips),
    }
}

/// Collateral the taker pays (BUY) or receives (SELL), before fees.
pub(crate) fn taker_collateral(kind: Kind, x: u64, maker_collateral: u64) -> u64 {
    match kind {
        Kind::Transfer => maker_collateral,
        Kind::Mint | Kind::Merge => x - maker_collateral,
    }
}

/// Collateral a resting BUY of `size` at `pips` holds back.
pub(crate) fn buy_reservation(size: u64, pips: u16) -> u64 {
    cost_ceil(size, pips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlement_kinds() {
        assert_eq!(kind(0, Side::Buy, 0, Side::Sell), Kind::Transfer);
        assert_eq!(kind(1, Side::Sell, 1, Side::Buy), Kind::Transfer);
        assert_eq!(kind(0, Side::Buy, 1, Side::Buy), Kind::Mint);
        assert_eq!(kind(1, Side::Sell, 0, Side::Sell), Kind::Merge);
    }

    #[test]
    fn maker_pays_exactly_its_reservation_over_many_odd_fills() {
        // 10.000003 shares at 0.3333: each piece rounds, the sum does not drift.
        let size = 10_000_003;
        let pips = 3333;
        let mut filled = 0;
        let mut paid = 0;
        for x in [1, 7, 333_333, 2_000_001, 5, 7_666_656] {
            paid += maker_collateral(Side::Buy, pips, filled, x);
            filled += x;
        }
        assert_eq!(filled, size);
        assert_eq!(paid, buy_reservation(size, pips));
        assert_eq!(paid, 3_333_001); // ceil(10.000003 x 0.3333 = 3.3330009999)
    }

    #[test]
    fn mint_and_merge_split_exactly_x() {
        let x = 1_234_567;
        let maker_pays = maker_collateral(Side::Buy, 4500, 0, x);
        let taker_pays = taker_collateral(Kind::Mint, x, maker_pays);
        assert_eq!(maker_pays + taker_pays, x);
        assert_eq!(maker_pays, 555_556); // ceil(555_555.15)
        let maker_gets = maker_collateral(Side::Sell, 4500, 0, x);
        assert_eq!(maker_gets, 555_555);
        assert_eq!(taker_collateral(Kind::Merge, x, maker_gets), 679_012);
    }
}
