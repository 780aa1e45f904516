//! pmbot's engine side: the loop, the paper driver, the journal and what is
//! read from it. The recorder and the replayers live in `pmbot-record` (below
//! the adapters, so the simulator can use them); [`record`] and [`replay`]
//! are that crate's modules, re-exported.
//!
//! - [`journal`]: the SQLite journal, pmbot's record of what it did (orders
//!   written before they are sent, their events and fills, refusals, notes,
//!   and the engine's runs, decisions, trades and P&L marks).
//! - [`engine`]: the trading loop's state machine (books, features, model,
//!   strategy, risk gate) and the paper driver that runs it on the paper venue.
//! - [`performance`]: the figures a run record adds up to (P&L, win rate,
//!   drawdown, daily returns, hit rate, coverage), from the journal alone.
//! - [`gate`]: the go-live checklist over the live-market-data runs.
//! - [`report`]: the performance report (markdown, one self-contained HTML
//!   page, PNG plots) from a journal's figures.
//! - [`summary`]: the daily summary (one UTC day's figures, as Markdown beside
//!   the journal and as a short chat text).

pub mod backtest;
pub mod engine;
pub mod gate;
pub mod journal;
pub mod performance;
pub use pmbot_record::{record, replay};
pub mod report;
pub mod summary;
