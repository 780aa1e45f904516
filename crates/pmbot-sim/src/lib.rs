//! The simulated Polymarket exchange.
//!
//! A local server that speaks the CLOB REST and WebSocket protocol closely
//! enough that the official SDK works against it unchanged. It shares no
//! protocol code with pmbot's own client: it writes the wire format from the
//! protocol notes, so a misreading on one side is caught by the other.

pub mod auth;
pub mod config;
pub mod engine;
pub mod faults;
pub mod generate;
pub mod model;
pub mod ratelimit;
pub mod server;

pub use config::{SimConfig, SourceConfig};
pub use server::{SimHandle, SimState, StartError, start, start_with_clock};
