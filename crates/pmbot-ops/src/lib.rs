//! pmbot's operations side: what tells a person how the bot is doing.
//!
//! Invariant: nothing here slows or blocks the engine loop. The engine side
//! hands over plain values (alerts on a bounded queue, health figures and
//! counters as plain structs); sending, serving and formatting happen on
//! their own tasks, and a slow or failing receiver costs drops that are
//! counted, never waits.

pub mod alerts;
pub mod config;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod observe;
pub mod raise;
pub mod server;
pub mod state;
