//! pmbot-ops's integration tests, one module per former test file, in one
//! binary: one build and link instead of 2 (issue 14).

mod common;

mod alerts_http;
mod alerts_secrets;
