//! The risk gate: every order intent passes it before it is sent.
//!
//! Invariant: pure and deterministic. Time comes in as [`crate::TimestampMs`]
//! (the event's or the engine clock's), never from the wall clock, and money
//! is exact ([`crate::Usdc`], [`crate::Size`], [`crate::Price`]). The config is
//! validated before a gate exists; the gate answers each intent with `Ok` or a
//! [`RiskRefusal`] naming the rule and its numbers, which the engine journals.

mod config;
mod gate;
mod state;

#[cfg(test)]
mod tests;

pub use config::{RiskConfig, RiskConfigError};
pub use gate::{BalanceCheck, BookStatus, RiskContext, RiskGate, RiskRefusal};
pub use state::{CloseOutcome, Position, PositionChange, RiskState, RiskStateError, utc_day};
