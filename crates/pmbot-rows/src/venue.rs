//! The seam between the trading engine's driver and whatever executes its
//! orders: the paper venue (in the driver's thread, answering at once) and
//! the exchange's order gateway (on its own tasks, answering later).
//!
//! Invariant: a venue journals what it sends and learns itself, before it
//! hands it back (the paper venue through the journal, the gateway through
//! its [`OrderLog`](crate::OrderLog), which must write an order before it is
//! sent); the driver only passes [`VenueEvent`]s on to the engine. So an
//! event the engine acts on is always one the journal already holds.

use pmbot_core::{Command, ConditionId, FeeModel, Fill, Funds, MarketEvent, OrderUpdate, TimestampMs, TokenId};

/// What a venue learnt about the engine's orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueEvent {
    Update(OrderUpdate),
    Fill(Fill),
}

/// A place where the engine's commands are carried out.
pub trait ExecutionVenue {
    /// A journal (or other storage) failure: the run cannot go on safely.
    type Error: std::error::Error + Send + Sync + 'static;

    /// A market the engine trades from now on, with the fee schedule its
    /// fills pay.
    fn list_market(&mut self, market: ConditionId, tokens: [&TokenId; 2], fee: FeeModel);

    /// Carries out one command decided at `at`. Answers (an update, a fill,
    /// a refusal as a rejection) arrive through [`Self::take_events`]: at
    /// once from a simulated venue, later from a real one. `funds` is what
    /// the run's account holds as its one owner, the engine's ledger, says
    /// (its cash, and its shares of a placed order's token): a simulated
    /// venue checks an order against them, as the exchange checks the
    /// wallet; a real one has the wallet.
    fn execute(&mut self, command: Command, at: TimestampMs, funds: Funds) -> Result<(), Self::Error>;

    /// A market event, as the engine will see it next (a simulated venue
    /// matches its resting orders against it; a real one follows tick-size
    /// changes).
    fn on_market_event(&mut self, event: &MarketEvent, at: TimestampMs) -> Result<(), Self::Error>;

    /// Moves a simulated venue's time to `at` (its arrivals, cancels and
    /// expiries due by then); a real venue keeps its own time.
    fn advance_to(&mut self, at: TimestampMs) -> Result<(), Self::Error>;

    /// The venue's own time when it keeps one (a simulated venue); `None`
    /// for a real one.
    fn clock(&self) -> Option<TimestampMs>;

    /// Moves what the venue has learnt since the last call into `into`.
    fn take_events(&mut self, into: &mut Vec<VenueEvent>);

    /// Placements sent and not yet answered (a stop waits for them, so no
    /// order is left resting that the run never heard of).
    fn in_flight(&self) -> usize;
}
