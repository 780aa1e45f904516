//! Moving collateral in and out, the CTF's split and merge, and approvals.
//!
//! Invariant: collateral enters or leaves only through `fund` and
//! `set_collateral` (counted in the ledger's `funded` total, for the
//! conservation audit); `split` and `merge` convert between collateral and
//! pairs of tokens at exactly 1 pUSD per pair, as the CTF contract does. None
//! of them may take a balance below what resting orders have reserved.
//! Funding approves an account's contracts only the first time, and only when
//! `approve_on_fund` is on (see `approvals`).

use alloy_primitives::Address;
use pmbot_core::{ConditionId, Size, TokenId, Usdc};

use super::Exchange;
use super::approvals::{Allowance, Approvals, Spender};
use super::types::{Holding, Reject};

impl Exchange {
    /// Adds collateral (or removes it, for a negative amount). Refused with
    /// `InsufficientBalance` if it would leave less than the reserved part.
    pub fn fund(&mut self, account: Address, amount: Usdc) -> Result<Holding, Reject> {
        let balance = self.ledger.get(&account);
        let new_total = i128::from(balance.total) + i128::from(amount.micros());
        self.set_total(account, new_total)
    }

    /// Sets an account's collateral to `amount`. Refused with
    /// `InsufficientBalance` if that is below the reserved part.
    pub fn set_collateral(&mut self, account: Address, amount: Usdc) -> Result<Holding, Reject> {
        self.set_total(account, i128::from(amount.micros()))
    }

    fn set_total(&mut self, account: Address, new_total: i128) -> Result<Holding, Reject> {
        let balance = self.ledger.get(&account);
        let new_total = u64::try_from(new_total).map_err(|_| Reject::InsufficientBalance)?;
        if new_total < balance.reserved {
            return Err(Reject::InsufficientBalance);
        }
        self.ledger.funded += i128::from(new_total) - i128::from(balance.total);
        if self.cfg.approve_on_fund && !self.ledger.approvals.contains_key(&account) {
            self.ledger.approvals.insert(account, Approvals::everything());
        }
        let entry = self.ledger.entry(account);
        entry.total = new_total;
        Ok(entry.holding())
    }

    /// `account`'s allowances and approvals (nothing, if it never had any).
    pub fn approvals(&self, account: Address) -> Approvals {
        self.ledger.approvals(&account)
    }

    /// Sets `account`'s pUSD allowance (`collateral`) and/or token approval
    /// (`tokens`) for `spenders`, as its own `approve` / `setApprovalForAll`
    /// transactions would. Resting orders stay: the exchange checks approvals
    /// when an order arrives.
    pub fn approve(
        &mut self,
        account: Address,
        spenders: &[Spender],
        collateral: Option<Allowance>,
        tokens: Option<bool>,
    ) -> Approvals {
        let approvals = self.ledger.approvals.entry(account).or_default();
        for &s in spenders {
            if let Some(a) = collateral {
                approvals.set_allowance(s, a);
            }
            if let Some(t) = tokens {
                approvals.set_operator(s, t);
            }
        }
        approvals.clone()
    }

    pub fn collateral(&self, account: Address) -> Holding {
        self.ledger.get(&account).holding()
    }

    /// `account`'s shares of `token` (zero if it holds none or the token is
    /// unknown), resolved and not yet redeemed ones included.
    pub fn shares(&self, account: Address, token: &TokenId) -> Holding {
        match self.by_token.get(token) {
            Some((idx, outcome)) => {
                self.markets[idx].positions.get(&account).map(|p| p[*outcome]).unwrap_or_default().holding()
            }
            // A pruned market's tokens stay held until redeemed.
            None => Holding {
                total: Size::from_micros(self.settled.shares(&account, token).unwrap_or(0)),
                reserved: Size::ZERO,
            },
        }
    }

    /// Turns `amount` collateral into `amount` shares of each token of
    /// `market` (the CTF's `splitPosition`), so an account can sell without
    /// buying first.
    pub fn split(&mut self, account: Address, market: &ConditionId, amount: Size) -> Result<(), Reject> {
        let idx = self.open_market(market)?;
        let collateral = self.ledger.get(&account);
        if collateral.available() < amount.micros() {
            return Err(Reject::InsufficientBalance);
        }
        self.ledger.entry(account).total -= amount.micros();
        let m = self.markets.get_mut(&idx).expect("checked above");
        for balance in m.position(account) {
            balance.credit(amount.micros());
        }
        m.pairs += amount.micros();
        Ok(())
    }

    /// Turns `amount` shares of each token of `market` back into collateral
    /// (the CTF's `mergePositions`).
    pub fn merge(&mut self, account: Address, market: &ConditionId, amount: Size) -> Result<(), Reject> {
        let idx = self.open_market(market)?;
        let m = self.markets.get_mut(&idx).expect("checked above");
        let held = m.positions.get(&account).map_or(0, |p| p[0].available().min(p[1].available()));
        if held < amount.micros() {
            return Err(Reject::InsufficientBalance);
        }
        for balance in m.position(account) {
            balance.total -= amount.micros();
        }
        m.pairs -= amount.micros();
        self.ledger.entry(account).credit(amount.micros());
        Ok(())
    }

    fn open_market(&self, market: &ConditionId) -> Result<u32, Reject> {
        let &idx = self.by_condition.get(market).ok_or(Reject::UnknownMarket)?;
        if self.markets[&idx].winner.is_some() {
            return Err(Reject::AlreadyResolved);
        }
        Ok(idx)
    }
}
