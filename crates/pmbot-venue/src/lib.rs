//! pmbot's Polymarket adapter: everything that speaks the venue's wire format.
//!
//! Invariant: nothing outside this crate sees Polymarket's JSON. What leaves it
//! is pmbot-core's checked types ([`pmbot_core::MarketEvent`] and friends), so
//! a misread frame is refused here, counted, and never reaches a book.
//!
//! The crate shares no protocol code with the simulator (`pmbot-sim`): each
//! side writes the wire format from the protocol notes, so a misreading on one
//! side shows up as a failure on the other instead of cancelling out.
//!
//! Today: the market-data stream (supervised WebSocket, book resync, health)
//! in [`marketdata`], market lookup by slug in [`discovery`], a market's fee
//! schedule for runs without a gateway in [`market_fee`], the on-chain
//! balance reader behind the order pre-check in [`balance`], and the order
//! gateway (journal-first placing, error classes, rate limits, kill switch,
//! heartbeat, user channel, reconciliation) in [`gateway`], and redemption
//! of resolved markets on chain in [`redeem`].

pub mod balance;
pub mod discovery;
pub mod doctor;
pub mod gateway;
pub mod livetest;
pub mod market_fee;
pub mod marketdata;
pub mod redeem;

/// The wall clock, for live use. Everything that must replay takes a
/// `pmbot_core::Clock` instead of reading this directly.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl pmbot_core::Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}
