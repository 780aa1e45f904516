//! What an account has allowed the exchange's contracts to move: the pUSD
//! allowance of each spender (ERC-20 `approve`) and the outcome-token
//! approval of each operator (ERC-1155 `setApprovalForAll`).
//!
//! Invariant: an account has no allowance and no approval until something
//! sets them (`approve`, or its first funding when
//! [`super::EngineConfig::approve_on_fund`] is on); once set, only another
//! `approve` changes them. An order is refused with "not enough balance /
//! allowance" unless every contract its market settles through covers it.
//!
//! Sources: polymarket-protocol.md section 7 and polymarket-sdk-notes.md
//! section 7 (approvals from the funder to CTF Exchange V2, Neg Risk CTF
//! Exchange V2 and the Neg Risk Adapter; the CLOB checks all three for
//! neg-risk orders, else "not enough balance / allowance"; Exchange V3 for
//! position-id markets); `GET /balance-allowance` answers
//! `{"balance": .., "allowances": {"<spender>": "<int>"}}` (V2 replaced V1's
//! single `allowance`).
//!
//! Simplification, on purpose: a limited allowance is checked against what
//! the account's orders promise but not drawn down as fills spend. Wallets
//! approve the maximum (Polymarket's UI, the SDKs' approval helpers), which
//! ERC-20 transfers never decrease, so the difference only matters to a test
//! that sets a small allowance, and then the check is the stricter one.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, U256, address};
use serde::Serialize;

use super::types::ExchangeKind;

/// CTF Exchange V2 on Polygon.
pub const CTF_EXCHANGE_V2: Address = address!("0xE111180000d2663C0091e4f400237545B87B996B");
/// Neg Risk CTF Exchange V2 on Polygon.
pub const NEG_RISK_EXCHANGE_V2: Address = address!("0xe2222d279d744050d28e00520010520000310F59");
/// The Neg Risk Adapter on Polygon.
pub const NEG_RISK_ADAPTER: Address = address!("0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296");
/// Exchange V3 (position-id markets) on Polygon.
pub const EXCHANGE_V3: Address = address!("0xe3333700cA9d93003F00f0F71f8515005F6c00Aa");

/// A contract that moves an account's pUSD or tokens when its orders settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Spender {
    CtfExchangeV2,
    NegRiskExchangeV2,
    NegRiskAdapter,
    ExchangeV3,
}

impl Spender {
    pub const ALL: [Spender; 4] =
        [Spender::CtfExchangeV2, Spender::NegRiskExchangeV2, Spender::NegRiskAdapter, Spender::ExchangeV3];

    /// The three `/balance-allowance` lists for every account: the V2
    /// exchanges and the adapter (polymarket-sdk-notes.md section 7).
    pub const LISTED: [Spender; 3] = [Spender::CtfExchangeV2, Spender::NegRiskExchangeV2, Spender::NegRiskAdapter];

    pub const fn address(self) -> Address {
        match self {
            Spender::CtfExchangeV2 => CTF_EXCHANGE_V2,
            Spender::NegRiskExchangeV2 => NEG_RISK_EXCHANGE_V2,
            Spender::NegRiskAdapter => NEG_RISK_ADAPTER,
            Spender::ExchangeV3 => EXCHANGE_V3,
        }
    }

    pub fn from_address(a: Address) -> Option<Spender> {
        Spender::ALL.into_iter().find(|s| s.address() == a)
    }

    /// The contracts an order on such a market settles through, all of which
    /// must cover it.
    pub fn for_market(kind: ExchangeKind, neg_risk: bool) -> &'static [Spender] {
        match (kind, neg_risk) {
            (ExchangeKind::CtfV2, false) => &[Spender::CtfExchangeV2],
            (ExchangeKind::CtfV2, true) => {
                &[Spender::CtfExchangeV2, Spender::NegRiskExchangeV2, Spender::NegRiskAdapter]
            }
            (ExchangeKind::V3, _) => &[Spender::ExchangeV3],
        }
    }
}

/// The pUSD a spender may move (ERC-20 `allowance`), in micro-pUSD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Allowance {
    Limited(u64),
    /// `approve(spender, 2^256 - 1)`, what wallets do.
    Unlimited,
}

impl Allowance {
    pub const NONE: Allowance = Allowance::Limited(0);

    pub fn covers(self, micros: u64) -> bool {
        match self {
            Allowance::Limited(a) => a >= micros,
            Allowance::Unlimited => true,
        }
    }

    pub fn is_zero(self) -> bool {
        self == Allowance::NONE
    }

    /// The on-chain integer, as `/balance-allowance` prints it.
    pub fn to_base_units(self) -> U256 {
        match self {
            Allowance::Limited(a) => U256::from(a),
            Allowance::Unlimited => U256::MAX,
        }
    }
}

/// One account's allowances and operator approvals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Approvals {
    collateral: BTreeMap<Spender, Allowance>,
    operators: BTreeSet<Spender>,
}

impl Approvals {
    /// Every spender unlimited and every operator approved: a wallet set up
    /// through Polymarket's UI or the SDKs' approval helpers.
    pub fn everything() -> Approvals {
        Approvals {
            collateral: Spender::ALL.into_iter().map(|s| (s, Allowance::Unlimited)).collect(),
            operators: Spender::ALL.into_iter().collect(),
        }
    }

    pub fn allowance(&self, s: Spender) -> Allowance {
        self.collateral.get(&s).copied().unwrap_or(Allowance::NONE)
    }

    pub fn operator_approved(&self, s: Spender) -> bool {
        self.operators.contains(&s)
    }

    pub fn set_allowance(&mut self, s: Spender, a: Allowance) {
        self.collateral.insert(s, a);
    }

    pub fn set_operator(&mut self, s: Spender, approved: bool) {
        if approved {
            self.operators.insert(s);
        } else {
            self.operators.remove(&s);
        }
    }

    /// Whether every spender of a market lets an order promise `micros` of
    /// pUSD in all (this order plus what the account's resting BUYs hold).
    pub fn covers_collateral(&self, spenders: &[Spender], micros: u64) -> bool {
        spenders.iter().all(|s| self.allowance(*s).covers(micros))
    }

    /// Whether every operator of a market may move the account's tokens.
    pub fn covers_tokens(&self, spenders: &[Spender]) -> bool {
        spenders.iter().all(|s| self.operator_approved(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_allowed_until_set() {
        let a = Approvals::default();
        assert_eq!(a.allowance(Spender::CtfExchangeV2), Allowance::NONE);
        assert!(!a.covers_collateral(&[Spender::CtfExchangeV2], 1));
        assert!(a.covers_collateral(&[Spender::CtfExchangeV2], 0), "a zero promise needs nothing");
        assert!(!a.covers_tokens(&[Spender::CtfExchangeV2]));
    }

    #[test]
    fn neg_risk_markets_need_all_three_contracts() {
        let mut a = Approvals::default();
        a.set_allowance(Spender::CtfExchangeV2, Allowance::Unlimited);
        let neg = Spender::for_market(ExchangeKind::CtfV2, true);
        assert!(a.covers_collateral(Spender::for_market(ExchangeKind::CtfV2, false), u64::MAX));
        assert!(!a.covers_collateral(neg, 1));
        a.set_allowance(Spender::NegRiskExchangeV2, Allowance::Limited(5_000_000));
        a.set_allowance(Spender::NegRiskAdapter, Allowance::Unlimited);
        assert!(a.covers_collateral(neg, 5_000_000));
        assert!(!a.covers_collateral(neg, 5_000_001), "the smallest allowance decides");
        assert_eq!(Spender::for_market(ExchangeKind::V3, true), &[Spender::ExchangeV3]);
    }

    #[test]
    fn operators_are_switched_on_and_off() {
        let mut a = Approvals::everything();
        assert!(a.covers_tokens(&Spender::ALL));
        a.set_operator(Spender::ExchangeV3, false);
        assert!(!a.covers_tokens(&Spender::ALL));
        assert!(a.covers_tokens(Spender::for_market(ExchangeKind::CtfV2, true)));
    }

    #[test]
    fn addresses_round_trip_and_print_as_integers() {
        for s in Spender::ALL {
            assert_eq!(Spender::from_address(s.address()), Some(s));
        }
        assert_eq!(Spender::from_address(Address::ZERO), None);
        assert_eq!(Allowance::Unlimited.to_base_units(), U256::MAX);
        assert_eq!(Allowance::Limited(25).to_base_units(), U256::from(25u8));
    }
}
