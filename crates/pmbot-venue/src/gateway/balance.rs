//! The balance pre-check seam.
//!
//! Invariant: no order is sent unless a [`BalanceCheck`] said the wallet can
//! carry it, and an error from the check refuses the order (fail closed). The
//! on-chain reader (`pmbot_venue::balance`) implements the trait; the gateway
//! only says what the order needs and what is already committed.

use futures::future::BoxFuture;
use pmbot_core::events::OrderIntent;
use pmbot_core::{ConditionId, Size, Usdc};

/// What one order needs from the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceQuery {
    pub intent: OrderIntent,
    pub market: ConditionId,
    /// Neg-risk markets also need the Neg Risk Adapter approved.
    pub neg_risk: bool,
    /// pUSD the order commits: `price x size`, rounded up (BUY); zero for a SELL.
    pub cost: Usdc,
    /// The largest taker fee the order could pay, in pUSD (zero for
    /// post-only). A BUY pays it in shares withheld, a SELL out of proceeds.
    pub max_fee: Usdc,
    /// pUSD still committed by our open BUY orders (their unfilled remainders).
    pub open_buy_commitments: Usdc,
    /// Shares of this token still committed by our open SELL orders.
    pub open_sell_shares: Size,
}

/// Why the check refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalanceRefusalKind {
    /// Not enough collateral (or shares for a SELL).
    Insufficient,
    /// An allowance or approval the order needs is missing or too low.
    Allowance,
    /// The balance could not be read (RPC down, garbage): fail closed.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct BalanceRefusal {
    pub kind: BalanceRefusalKind,
    pub detail: String,
}

/// The pre-check every order goes through.
pub trait BalanceCheck: Send + Sync {
    /// `Ok` if the wallet can carry the order.
    fn check<'a>(&'a self, query: &'a BalanceQuery) -> BoxFuture<'a, Result<(), BalanceRefusal>>;
    /// Forget what is cached: after an own fill, or when the exchange refused
    /// an order for balance or allowance.
    fn refresh(&self) -> BoxFuture<'_, ()>;
}
