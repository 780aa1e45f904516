//! The matching engine: markets, books, accounts, matching and settlement.

mod types;

pub use types::*;
