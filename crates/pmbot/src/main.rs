//! `pmbot`: the command-line entry point.
//!
//! Every command takes `--config FILE` (default `pmbot.toml` if present),
//! exits non-zero with a one-line reason on bad input, and never prints a
//! secret.

mod account;
mod balance_cmd;
mod cli;
mod config;
mod drill_cmd;
mod kill_cmd;
mod model_cmd;
mod model_report;
mod orders_cmd;
mod record_cmd;
mod sim_cmd;
mod source;
mod watch_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Logs go to stderr; RUST_LOG sets the level (default: warnings only, so
    // `watch` keeps a clean screen). Structured file logs come with monitoring.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pmbot: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the reason and its causes, no backtrace.
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("pmbot: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
