//! pmbot-venue's integration tests, one module per former test file, in one
//! binary: one build and link instead of 15 (issue 14).

mod common;
mod gateway_support;

mod balance;
mod chaos;
mod feed;
mod gateway_amounts;
mod gateway_chain;
mod gateway_errors;
mod gateway_faults;
mod gateway_heartbeat;
mod gateway_place;
mod gateway_recovery;
mod redeem;
mod replay;
mod resolution;
mod stream;
mod uptime;
