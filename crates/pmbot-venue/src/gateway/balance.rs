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

/// The on-chain reader is the pre-check pmbot trades with: a BUY needs pUSD
/// for cost + the largest fee + open buy commitments and the allowances of
/// every contract the order goes through; a SELL needs the shares (size +
/// open sells) and the operator approvals.
impl BalanceCheck for crate::balance::BalanceReader {
    fn check<'a>(&'a self, query: &'a BalanceQuery) -> BoxFuture<'a, Result<(), BalanceRefusal>> {
        use crate::balance::{BuyRequest, MarketKind, SellRequest, Verdict};
        Box::pin(async move {
            let market = MarketKind::from_neg_risk(query.neg_risk);
            let verdict = match query.intent.side {
                pmbot_core::Side::Buy => {
                    let req = BuyRequest::new(market, query.cost, query.max_fee, query.open_buy_commitments)
                        .map_err(|e| BalanceRefusal { kind: BalanceRefusalKind::Insufficient, detail: e.to_string() })?;
                    self.check_buy(&req).await
                }
                pmbot_core::Side::Sell => {
                    let req = SellRequest::new(
                        market,
                        query.intent.token.clone(),
                        query.intent.size,
                        query.open_sell_shares,
                    )
                    .map_err(|e| BalanceRefusal { kind: BalanceRefusalKind::Insufficient, detail: e.to_string() })?;
                    self.check_sell(&req).await
                }
            };
            match verdict {
                Verdict::Allowed(_) => Ok(()),
                Verdict::Refused(r) => Err(refusal_of(&r)),
            }
        })
    }

    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.invalidate() })
    }
}

/// The reader's refusal in the gateway's terms, its text kept whole.
fn refusal_of(r: &crate::balance::Refusal) -> BalanceRefusal {
    use crate::balance::Refusal as R;
    let kind = match r {
        R::InsufficientBalance { .. } | R::InsufficientShares { .. } => BalanceRefusalKind::Insufficient,
        R::InsufficientAllowance { .. } | R::NotApproved { .. } => BalanceRefusalKind::Allowance,
        R::Unavailable { .. } => BalanceRefusalKind::Unavailable,
    };
    BalanceRefusal { kind, detail: r.to_string() }
}
