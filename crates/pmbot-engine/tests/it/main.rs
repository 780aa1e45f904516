//! pmbot-engine's integration tests, one module per former test file, in one
//! binary: one build and link instead of 6 (issue 14).

mod common;

mod bad_input;
mod gate;
mod performance;
mod real_data;
mod record_replay;
mod risk_rules;
