//! The trading strategy: model predictions and books in, order intents out.
//!
//! Invariant: pure and deterministic. Time, books, capital and the model's
//! numbers come in with each sample; nothing reads a clock or does I/O, so the
//! same sequence of samples, fills and order updates always yields the same
//! intents with the same client order ids. Prices and sizes are exact; the
//! model's `f64` probability is converted to a decimal once, at the edge.
//!
//! At most one position per market exists at any time, from the moment its
//! entry intent is emitted (pending) until its shares are sold or the market
//! resolves. Every intent passes the risk gate afterwards; the strategy does
//! not know about the gate's limits.

mod config;
mod taker;

#[cfg(test)]
mod tests;

pub use config::{StrategyConfig, StrategyConfigError, TakerOrderType};
pub use taker::{ConfidenceTaker, ExitReason, PassReason, PositionView, Strategy, StrategyAction, StrategyInput};
