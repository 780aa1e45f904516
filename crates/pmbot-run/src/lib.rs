//! pmbot's trading runs: the one driver (`pmbot_engine::engine::driver`)
//! joined to real time, the exchange, the embedded simulator and ops.
//!
//! - [`paper`] trades on paper: stepped on the simulator's market model
//!   (`--sim`, an accelerated clock), or on live market data in real time.
//! - [`live`] trades real money through the gateway, after the go-live gate.
//! - [`record`] records the market channel (and, for `paper --record`, the
//!   driver's inputs).
//! - [`redeem`] redeems resolved markets' winning shares on chain; [`drill`]
//!   streams deterministic intents through the real gateway (loopback
//!   only) for crash-recovery drills.
//! - [`realtime`] is the loop `live` and `paper` on live data share;
//!   [`monitor`] joins a run to alerts, health, metrics and the dashboard.
//! - [`config`] is `pmbot.toml` as types; [`settings`] turns it and a model
//!   file into the engine's settings; [`account`] reads keys, balances and
//!   starts the gateway; [`offline`] is the rule that a simulated exchange
//!   never reaches the internet; [`shutdown`] handles SIGTERM and SIGINT.
//!
//! The binary parses arguments, loads the config and calls a run.

pub mod account;
pub mod config;
pub mod drill;
pub mod error;
pub mod live;
pub mod monitor;
pub mod offline;
pub mod paper;
mod paper_live;
pub mod realtime;
pub mod record;
pub mod redeem;
pub mod report_out;
pub mod settings;
pub mod shutdown;
pub mod source;

pub use error::{Context, Result, RunError};
