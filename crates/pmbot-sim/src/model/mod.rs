//! Market sources: where the simulated exchange's books come from.
//!
//! Invariant: a market source is pure and deterministic. It never reads a
//! clock and does no I/O after it is opened (a replay reads its recording
//! files lazily, but what it reads depends only on the call times), so the
//! same configuration, the same call times and the same exchange state give
//! the same actions, byte for byte.
//!
//! The server calls [`MarketSource::step`] at (or after) the time
//! [`MarketSource::next_step_ms`] asks for, with a read-only view of the
//! exchange, and applies the returned actions in order before the next call.
//! Sources see the effect of their earlier actions only through that view.
//!
//! Every participant a source runs is a *house account* ([`HouseAccount`]),
//! funded by [`ModelAction::Fund`] before it places anything, and it only
//! ever BUYs (either outcome token), so it needs collateral and nothing else:
//! a BUY of the second token at `q` shows on the primary book as an ask at
//! `1 - q`.
//!
//! - [`synthetic`]: several rotating binary markets with a hidden true
//!   probability, makers and takers (the default for `pmbot sim`).
//! - [`replay`]: real recorded book snapshots replayed onto the engine.

mod ids;
pub mod replay;
pub mod synthetic;
#[cfg(test)]
pub(crate) mod testkit;

use pmbot_core::{ConditionId, OrderId, TokenId, Usdc};
use serde::Serialize;

use crate::engine::{Address, BookView, MarketSpec, NewOrder, OrderRecord};

pub use ids::HouseAccount;

/// What a market source may read of the exchange: the books and the state of
/// orders (its own, in practice). The engine's `Exchange` implements it.
pub trait ExchangeView {
    /// The aggregated book of `token` (in that token's own terms), or `None`
    /// if no listed market has this token.
    fn book(&self, token: &TokenId) -> Option<BookView>;
    /// An order by id, whatever its status, or `None` if the exchange never
    /// accepted it.
    fn order(&self, id: &OrderId) -> Option<OrderRecord>;
}

/// One change a market source asks the exchange to make. The server applies
/// a step's actions in order; a refused `Place` or `Cancel` is not an error
/// of the source (a taker's order may find nothing, an order may fill before
/// its cancel arrives).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ModelAction {
    /// List a new market (its books start empty).
    List(MarketSpec),
    /// Add collateral to an account, creating it if needed.
    Fund { account: Address, amount: Usdc },
    /// Submit an order: fully formed, with a deterministic id, and
    /// `maker == owner ==` a house account.
    Place(NewOrder),
    /// Cancel orders of `owner`.
    Cancel { owner: Address, ids: Vec<OrderId> },
    /// Resolve a market: `winning_token` will pay 1, the other 0; resting
    /// orders are cancelled. Nothing is paid until holders redeem.
    Resolve { market: ConditionId, winning_token: TokenId },
    /// Redeem `account`'s tokens of a resolved market (the CTF's
    /// `redeemPositions`): what a house account does once its market
    /// resolved, so its collateral comes back and the market's holdings
    /// clear.
    Redeem { account: Address, market: ConditionId },
}

/// A deterministic generator of exchange actions over time.
pub trait MarketSource: Send {
    /// Advances the source to `now_ms` (unix ms) and returns what the exchange
    /// should do, in order. A `now_ms` earlier than a previous call's is
    /// treated as that earlier call's time (sources never go back in time).
    fn step(&mut self, now_ms: i64, view: &dyn ExchangeView) -> Vec<ModelAction>;
    /// When the source wants to be called next (unix ms). `i64::MAX` means
    /// never: the source has nothing more to do.
    fn next_step_ms(&self) -> i64;
    /// One line for logs, e.g. `synthetic: 4 markets, seed 7`.
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::replay::{ReplayOptions, ReplaySource};
    use super::synthetic::{SyntheticConfig, SyntheticMarkets};
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn sources_are_send_and_usable_as_trait_objects() {
        assert_send::<SyntheticMarkets>();
        assert_send::<ReplaySource>();
        let mut source: Box<dyn MarketSource> = Box::new(SyntheticMarkets::new(SyntheticConfig::default(), 0).unwrap());
        let view = testkit::FakeExchange::default();
        let actions = source.step(0, &view);
        assert!(matches!(actions.first(), Some(ModelAction::Fund { .. })));
        let _ = ReplayOptions::new(0);
    }
}
