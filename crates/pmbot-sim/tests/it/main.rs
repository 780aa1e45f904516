//! pmbot-sim's integration tests, one module per former test file, in one
//! binary: one build and link instead of 11 (issue 14).

mod common;

mod bad_input;
mod conformance_account;
mod conformance_channels;
mod conformance_orders;
mod faults;
mod heartbeats;
mod python_client;
mod rest_wire;
mod sdk_trading;
mod sources_on_engine;
mod ws_protocol;
