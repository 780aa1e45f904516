//! Redeeming resolved markets: winning shares turn into pUSD only when
//! their holder redeems them on chain, and losing shares are burned the
//! same way.
//!
//! Invariant: a market's payout reaches the books once, when the chain (or
//! a simulated exchange) has paid it: the redemption's transaction hash is
//! journaled before the transaction is broadcast, a market with a confirmed
//! redemption is never sent for again, and one with a transaction in flight
//! is looked up by that hash first (see [`procedure`]).
//!
//! Why: Polymarket pays nothing at resolution. The holder calls
//! ConditionalTokens `redeemPositions` (or the Neg Risk Adapter's redeem);
//! until then the pUSD balance does not include the payout (protocol notes,
//! corrections item 5; the official SDK's `ctf` feature).
//!
//! - [`plan`]: what to do from the chain's readings (pure).
//! - [`procedure`]: one market, start to end, safe to repeat; the
//!   [`Redeemer`] seam.
//! - [`chain`]: [`ChainRedeemer`], on Polygon (or anvil).
//! - [`sim`]: [`SimRedeemer`], a simulated exchange's `POST /_sim/redeem`.
//! - [`log`]: the journal seam, [`RedemptionLog`].
//! - [`retry`], [`scheduler`]: when to try again; the background task of a
//!   `live` run.

pub mod chain;
pub mod log;
pub mod plan;
pub mod procedure;
pub mod retry;
pub mod scheduler;
pub mod sim;

pub use chain::{ChainRedeemer, RedeemSetupError};
pub use log::{
    MemoryRedemptionLog, RedemptionLog, RedemptionLogError, RedemptionRow, RedemptionState, RedemptionStatus,
    SharedRedemptionLog, Via,
};
pub use plan::{ChainView, Holding, Plan, PositionKind, RedeemPlan};
pub use procedure::{
    Inspection, JournalFailure, RedeemError, RedeemOutcome, Redeemer, Settlement, Signed, TxStatus, redeem_market,
};
pub use retry::{Next, RedeemConfig};
pub use scheduler::{RedemptionReport, RedemptionScheduler};
pub use sim::SimRedeemer;
