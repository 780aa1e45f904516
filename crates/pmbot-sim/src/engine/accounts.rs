//! Balances: collateral per account, and per market the shares each account
//! holds of the two tokens.
//!
//! Invariant: for every balance `reserved <= total`, and `reserved` is exactly
//! what the account's resting orders have promised (collateral for BUYs,
//! shares for SELLs), so a fill can always be paid from the reservation.
//! Money is conserved: collateral only moves between accounts, except that a
//! mint locks 1 pUSD per pair of tokens created and a merge or a winning
//! share at resolution releases it (see [`super::settlement`]).

use alloy_primitives::Address;
use pmbot_core::Size;

use super::approvals::Approvals;
use super::fasthash::FastMap;
use super::types::Holding;

/// An amount of collateral or shares (micro-units) with the part promised to
/// resting orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Balance {
    pub(crate) total: u64,
    pub(crate) reserved: u64,
}

impl Balance {
    pub(crate) fn available(&self) -> u64 {
        self.total - self.reserved
    }

    pub(crate) fn holding(&self) -> Holding {
        Holding { total: Size::from_micros(self.total), reserved: Size::from_micros(self.reserved) }
    }

    /// Promises `amount` of the available balance to an order.
    pub(crate) fn reserve(&mut self, amount: u64) {
        assert!(amount <= self.available(), "reservation checked before it is made");
        self.reserved += amount;
    }

    /// Gives back an unused promise.
    pub(crate) fn release(&mut self, amount: u64) {
        self.reserved = self.reserved.checked_sub(amount).expect("released no more than reserved");
    }

    /// Pays out of a reservation (a resting order's fill).
    pub(crate) fn spend_reserved(&mut self, amount: u64) {
        self.release(amount);
        self.total -= amount;
    }

    /// Pays out of the available balance (a taker's fill).
    pub(crate) fn spend(&mut self, amount: u64) {
        assert!(amount <= self.available(), "taker payment checked before matching");
        self.total -= amount;
    }

    pub(crate) fn credit(&mut self, amount: u64) {
        self.total = self.total.checked_add(amount).expect("balance overflow");
    }
}

/// Shares of a market's two tokens held by one account.
pub(crate) type Position = [Balance; 2];

/// Collateral balances of every account that ever held any.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) collateral: FastMap<Address, Balance>,
    /// Net collateral added from outside (`fund`, `set_collateral`), for the
    /// conservation audit.
    pub(crate) funded: i128,
    /// Allowances and approvals of every account that has any record (see
    /// `approvals`); an account without one has approved nothing.
    pub(crate) approvals: FastMap<Address, Approvals>,
}

impl Ledger {
    pub(crate) fn get(&self, account: &Address) -> Balance {
        self.collateral.get(account).copied().unwrap_or_default()
    }

    pub(crate) fn entry(&mut self, account: Address) -> &mut Balance {
        self.collateral.entry(account).or_default()
    }

    pub(crate) fn approvals(&self, account: &Address) -> Approvals {
        self.approvals.get(account).cloned().unwrap_or_default()
    }
}
