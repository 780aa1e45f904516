//! pmbot's Polymarket adapter: everything that speaks the venue's wire format.
//!
//! Invariant: nothing outside this crate sees Polymarket's JSON. What leaves it
//! is pmbot-core's checked types ([`pmbot_core::MarketEvent`] and friends), so
//! a misread frame is refused here, counted, and never reaches a book.
//!
//! The crate shares no protocol code with the simulator (`pmbot-sim`): each
//! side writes the wire format from the protocol notes, so a misreading on one
//! side shows up as a failure on the other instead of cancelling out.

pub mod marketdata;
