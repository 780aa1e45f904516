//! What to do about one resolved market, from what the chain says: a pure
//! function of the readings, table-tested by named case.
//!
//! Invariant: a redemption is planned only for a binary condition the
//! oracle has reported (`payoutDenominator > 0`) and only when the holder
//! still has shares of it; the payout it expects is exactly what
//! ConditionalTokens' `redeemPositions` pays for those shares: for each
//! outcome, `balance x numerator / denominator` rounded down, summed
//! (conditional-tokens-contracts 1.0.3, `ConditionalTokens.sol`). Losing
//! shares are redeemed too (they pay 0 and are burned), so nothing resolved
//! is left on the books.

use alloy::primitives::U256;
use pmbot_core::Usdc;
use serde::Serialize;

/// Which contract a market's shares are redeemed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionKind {
    /// ConditionalTokens `redeemPositions` with pUSD as collateral.
    Standard,
    /// The Neg Risk Adapter's `redeemPositions(conditionId, amounts)`: the
    /// shares are positions on the adapter's wrapped collateral.
    NegRisk,
}

/// The holder's shares of a condition's two outcomes under one collateral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub kind: PositionKind,
    /// ERC-1155 ids of outcome 0 and outcome 1 (index sets 1 and 2).
    pub position_ids: [U256; 2],
    pub balances: [U256; 2],
}

impl Holding {
    fn is_empty(&self) -> bool {
        self.balances.iter().all(|b| b.is_zero())
    }
}

/// What the chain says of one condition and the holder's shares of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainView {
    /// `getOutcomeSlotCount`: 0 when the condition was never prepared.
    pub outcome_slots: U256,
    /// `payoutDenominator`: 0 until the oracle reported.
    pub denominator: U256,
    /// `payoutNumerators(condition, i)` for outcomes 0 and 1.
    pub numerators: [U256; 2],
    pub standard: Holding,
    /// `None` when the chain has no Neg Risk Adapter at the configured address.
    pub neg_risk: Option<Holding>,
}

/// A redemption to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedeemPlan {
    pub kind: PositionKind,
    pub position_ids: [U256; 2],
    /// The shares to burn (all the holder has).
    pub balances: [U256; 2],
    /// What the contract will pay for them.
    pub expected_payout: Usdc,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No such condition on this chain (never prepared).
    NotPrepared,
    /// Not a two-outcome condition: pmbot only trades binary markets.
    NotBinary {
        slots: U256,
    },
    /// The oracle has not reported yet: wait.
    NotResolved,
    /// Resolved, and the holder has no shares of it (never had, or redeemed).
    NothingHeld,
    /// The payout the contract would pay does not fit an amount of pUSD.
    Overflow,
    Redeem(RedeemPlan),
}

/// The plan for `view`. Standard positions first; the neg-risk ones only
/// when the standard ones are empty (a market is one or the other).
pub fn plan(view: &ChainView) -> Plan {
    if view.outcome_slots.is_zero() {
        return Plan::NotPrepared;
    }
    if view.outcome_slots != U256::from(2u8) {
        return Plan::NotBinary { slots: view.outcome_slots };
    }
    if view.denominator.is_zero() {
        return Plan::NotResolved;
    }
    let holding = match (&view.standard, &view.neg_risk) {
        (s, _) if !s.is_empty() => s,
        (_, Some(n)) if !n.is_empty() => n,
        _ => return Plan::NothingHeld,
    };
    match payout(&holding.balances, &view.numerators, view.denominator) {
        Some(expected_payout) => Plan::Redeem(RedeemPlan {
            kind: holding.kind,
            position_ids: holding.position_ids,
            balances: holding.balances,
            expected_payout,
        }),
        None => Plan::Overflow,
    }
}

/// `sum(balance_i x numerator_i / denominator)`, each term rounded down as
/// the contract does; `None` on overflow or a zero denominator.
pub fn payout(balances: &[U256; 2], numerators: &[U256; 2], denominator: U256) -> Option<Usdc> {
    if denominator.is_zero() {
        return None;
    }
    let mut total = U256::ZERO;
    for (b, n) in balances.iter().zip(numerators) {
        total = total.checked_add(b.checked_mul(*n)? / denominator)?;
    }
    i64::try_from(total).ok().map(Usdc::from_micros)
}

/// Base units (6 decimals) as a signed micro amount, if it fits.
pub fn usdc_of(units: U256) -> Option<Usdc> {
    i64::try_from(units).ok().map(Usdc::from_micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u64) -> U256 {
        U256::from(n)
    }

    fn holding(kind: PositionKind, a: u64, b: u64) -> Holding {
        Holding { kind, position_ids: [u(11), u(22)], balances: [u(a), u(b)] }
    }

    fn view() -> ChainView {
        ChainView {
            outcome_slots: u(2),
            denominator: u(1),
            numerators: [u(1), u(0)],
            standard: holding(PositionKind::Standard, 7_000_000, 3_000_000),
            neg_risk: None,
        }
    }

    #[test]
    fn named_cases() {
        let with = |f: &dyn Fn(&mut ChainView)| {
            let mut v = view();
            f(&mut v);
            plan(&v)
        };
        assert_eq!(with(&|v| v.outcome_slots = U256::ZERO), Plan::NotPrepared, "never prepared");
        assert_eq!(with(&|v| v.outcome_slots = u(3)), Plan::NotBinary { slots: u(3) }, "three outcomes");
        assert_eq!(with(&|v| v.denominator = U256::ZERO), Plan::NotResolved, "oracle silent");
        assert_eq!(
            with(&|v| v.standard.balances = [U256::ZERO; 2]),
            Plan::NothingHeld,
            "redeemed already, no neg-risk adapter"
        );
        // The winner pays 1 a share; the loser's shares are burned for 0.
        let Plan::Redeem(p) = with(&|_| {}) else { panic!("a plan") };
        assert_eq!((p.kind, p.expected_payout), (PositionKind::Standard, Usdc::from_micros(7_000_000)));
        assert_eq!(p.balances, [u(7_000_000), u(3_000_000)], "both outcomes burned");
        // Only losing shares: still redeemed (to clear them), for nothing.
        let Plan::Redeem(p) = with(&|v| v.standard.balances = [U256::ZERO, u(5)]) else { panic!("a plan") };
        assert_eq!(p.expected_payout, Usdc::ZERO);
        // Neg-risk shares when the standard positions are empty.
        let Plan::Redeem(p) = with(&|v| {
            v.standard.balances = [U256::ZERO; 2];
            v.neg_risk = Some(holding(PositionKind::NegRisk, 0, 4_000_000));
            v.numerators = [u(0), u(1)];
        }) else {
            panic!("a plan")
        };
        assert_eq!((p.kind, p.expected_payout), (PositionKind::NegRisk, Usdc::from_micros(4_000_000)));
        assert_eq!(
            with(&|v| {
                v.standard.balances = [U256::ZERO; 2];
                v.neg_risk = Some(holding(PositionKind::NegRisk, 0, 0));
            }),
            Plan::NothingHeld
        );
        assert_eq!(with(&|v| v.standard.balances = [U256::MAX, u(0)]), Plan::Overflow, "never a wrapped amount");
    }

    #[test]
    fn payouts_round_down_per_outcome_like_the_contract() {
        // A 50-50 resolution (numerators 1/1, denominator 2): 3 units each
        // pay 1 (1.5 rounded down), so 2 in all, not 3.
        assert_eq!(payout(&[u(3), u(3)], &[u(1), u(1)], u(2)), Some(Usdc::from_micros(2)));
        assert_eq!(payout(&[u(10), u(0)], &[u(1), u(0)], u(1)), Some(Usdc::from_micros(10)));
        assert_eq!(payout(&[u(10), u(0)], &[u(1), u(0)], U256::ZERO), None);
        assert_eq!(payout(&[U256::MAX, u(0)], &[u(2), u(0)], u(1)), None, "multiplication overflow");
        assert_eq!(usdc_of(u(5)), Some(Usdc::from_micros(5)));
        assert_eq!(usdc_of(U256::MAX), None);
    }
}
