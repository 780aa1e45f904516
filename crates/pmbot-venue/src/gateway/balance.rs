//! The balance pre-check seam.
//!
//! Invariant: no order is sent unless a [`BalanceCheck`] said the wallet can
//! carry it, and an error from the check refuses the order (fail closed). The
//! on-chain reader (`pmbot_venue::balance`) implements the trait, and so does
//! [`super::exchange_balance::ExchangeBalance`] (a simulated exchange's own
//! ledger); both apply the same rules. The gateway only says what the order
//! needs and what is already committed.

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
    /// The largest taker fee a BUY could pay, in pUSD, on top of `cost`
    /// (zero for post-only; CLOB V2 charges a BUY's fee in pUSD, so the
    /// balance must cover both). Zero for a SELL: it pays out of proceeds.
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

/// What a query asks of the wallet, in the pre-check rules' terms
/// ([`crate::balance::check`]), which every [`BalanceCheck`] here applies.
pub(crate) enum Request {
    Buy(crate::balance::BuyRequest),
    Sell(crate::balance::SellRequest),
}

impl Request {
    /// A query the rules cannot evaluate (a caller bug) is refused as
    /// insufficient, with the reason.
    pub(crate) fn of(query: &BalanceQuery) -> Result<Request, BalanceRefusal> {
        use crate::balance::{BuyRequest, MarketKind, SellRequest};
        let market = MarketKind::from_neg_risk(query.neg_risk);
        let invalid = |e: crate::balance::CheckInputError| BalanceRefusal {
            kind: BalanceRefusalKind::Insufficient,
            detail: e.to_string(),
        };
        match query.intent.side {
            pmbot_core::Side::Buy => BuyRequest::new(market, query.cost, query.max_fee, query.open_buy_commitments)
                .map(Request::Buy)
                .map_err(invalid),
            pmbot_core::Side::Sell => {
                SellRequest::new(market, query.intent.token.clone(), query.intent.size, query.open_sell_shares)
                    .map(Request::Sell)
                    .map_err(invalid)
            }
        }
    }
}

/// The on-chain reader is the pre-check pmbot trades with: a BUY needs pUSD
/// for cost + the largest fee + open buy commitments and the allowances of
/// every contract the order goes through; a SELL needs the shares (size +
/// open sells) and the operator approvals.
impl BalanceCheck for crate::balance::BalanceReader {
    fn check<'a>(&'a self, query: &'a BalanceQuery) -> BoxFuture<'a, Result<(), BalanceRefusal>> {
        Box::pin(async move {
            let verdict = match Request::of(query)? {
                Request::Buy(req) => self.check_buy(&req).await,
                Request::Sell(req) => self.check_sell(&req).await,
            };
            verdict_result(verdict)
        })
    }

    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.invalidate() })
    }
}

/// The rules' verdict as the gateway's answer.
pub(crate) fn verdict_result(verdict: crate::balance::Verdict) -> Result<(), BalanceRefusal> {
    match verdict {
        crate::balance::Verdict::Allowed(_) => Ok(()),
        crate::balance::Verdict::Refused(r) => Err(refusal_of(&r)),
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
