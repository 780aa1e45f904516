//! `pmbot`: the command-line entry point.
//!
//! Every command takes `--config FILE` (default `pmbot.toml` if present),
//! exits non-zero with a one-line reason on bad input, and never prints a
//! secret.

mod backtest_cmd;
mod balance_cmd;
mod cli;
mod config;
mod doctor_cmd;
mod gate_cmd;
mod kill_cmd;
mod livetest_cmd;
mod model_cmd;
mod model_report;
mod orders_cmd;
mod report_cmd;
mod sim_cmd;
mod summary_cmd;
mod watch_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Logging starts in `cli::run`, once the config says where and how much.
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
            match (e.downcast_ref::<gate_cmd::GateFailed>(), e.downcast_ref::<doctor_cmd::DoctorFailed>()) {
                // A verdict, printed as it is.
                (Some(verdict), _) => eprintln!("{verdict}"),
                (_, Some(verdict)) => eprintln!("{verdict}"),
                // One line: the reason and its causes, no backtrace.
                (None, None) => eprintln!("pmbot: {}", one_line(&e)),
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line (`pmbot_run::error::one_line`).
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    pmbot_run::error::one_line(e.as_ref())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_already_printed_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e =
            anyhow::Error::new(io).context("/x/m.json: No such file or directory").context("cannot write the model");
        assert_eq!(super::one_line(&e), "cannot write the model: /x/m.json: No such file or directory");
    }
}
