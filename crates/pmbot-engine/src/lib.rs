//! pmbot's engine side. DESIGN.md puts the loop, the paper venue, the journal,
//! the recorder and the replayer here; built so far:
//!
//! - [`record`]: the market-data recorder (raw WebSocket frames with their
//!   receive times, hourly zstd JSON-lines files, at most a second lost on a
//!   crash).
//! - [`replay`]: recordings, and the real data sets in `../shared/data`, back
//!   as the same frame stream, as fast as possible or paced against a clock.
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

pub mod engine;
pub mod gate;
pub mod journal;
pub mod performance;
pub mod record;
pub mod replay;
pub mod report;
pub mod summary;
