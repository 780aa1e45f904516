//! pmbot's integration tests, one module per former test file, in one
//! binary: one build and link instead of 18 (issue 14).

mod account_cli;
mod backtest_live_cli;
mod cli;
mod crash_recovery;
mod dashboard;
mod doctor_cli;
mod gate_cli;
mod live_sim;
mod livetest_cli;
mod model_cli;
mod no_rpc_cli;
mod offline;
mod ops_cli;
mod paper;
mod redeem;
mod report_cli;
mod signals;
mod summary_cli;
