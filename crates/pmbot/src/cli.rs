//! Command-line grammar (clap) and dispatch.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::backtest_cmd::{self, BacktestArgs};
use crate::balance_cmd::{self, BalanceArgs};
use crate::config;
use crate::doctor_cmd::{self, DoctorArgs};
use crate::gate_cmd::{self, GateArgs};
use crate::kill_cmd::{self, KillArgs};
use crate::livetest_cmd::{self, LivetestArgs};
use crate::model_cmd::{self, TrainArgs, ValidateArgs};
use crate::orders_cmd::{self, OrdersArgs};
use crate::report_cmd::{self, ReportArgs};
use crate::sim_cmd::{self, SimArgs};
use crate::summary_cmd::{self, SummaryArgs};
use crate::watch_cmd::{self, WatchArgs};
use pmbot_run::drill::{self, DrillArgs};
use pmbot_run::live::{self, LiveArgs};
use pmbot_run::paper::{self, PaperArgs};
use pmbot_run::record::{self, RecordArgs};
use pmbot_run::redeem::{self, RedeemArgs};
use pmbot_run::shutdown::Shutdown;

/// pmbot trades Polymarket's order books under hard risk limits, on paper
/// first. This build provides the simulated exchange that every other mode
/// and test runs against, the market-data stream (watch, record), the
/// account tools of the order path (balance, orders, kill, unkill), and the
/// go-live checklist (gate).
#[derive(Debug, Parser)]
#[command(name = "pmbot", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./pmbot.toml if it exists.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the simulated Polymarket exchange (CLOB REST + WebSocket) on loopback.
    ///
    /// Prints the REST and WebSocket addresses, then serves until stopped
    /// (SIGTERM or SIGINT) or until --duration has passed.
    Sim(SimArgs),
    /// Show the top of each followed book and the stream's health, live.
    ///
    /// Follows Polymarket by default; --sim runs against an embedded
    /// simulated exchange, --clob-url/--ws-url against any other.
    Watch(WatchArgs),
    /// Record every market-channel frame received, raw, into hourly zstd
    /// JSON-lines files (a crash loses at most the last second).
    Record(RecordArgs),
    /// Show the funder's pUSD balance, the exchange allowances and the
    /// outcome-token holdings, read on chain, beside the journal's positions.
    Balance(BalanceArgs),
    /// List the account's open orders on the exchange (marked known or
    /// unknown to the journal); --cancel-all cancels every one.
    Orders(OrdersArgs),
    /// Redeem resolved markets' shares on chain (Polymarket pays only on
    /// redemption): every market the journal holds shares of, or those
    /// named; prints what it did, one line a market.
    Redeem(RedeemArgs),
    /// Train the direction model on recorded data (walk-forward validated
    /// first; the validation is saved in the model file).
    Train(TrainArgs),
    /// Validate the model walk-forward on recorded data and write report.md
    /// with plots; --model also scores a saved model after its training span.
    Validate(ValidateArgs),
    /// Paper trading: the whole engine with simulated fills and money, on
    /// live market data (or, with --sim, the embedded simulator at an
    /// accelerated clock), ending with the performance report.
    Paper(PaperArgs),
    /// Real orders through the gateway, after the go-live gate passes on the
    /// journal's paper record; --sim runs the live path against the
    /// embedded simulator (no real money, no gate).
    Live(LiveArgs),
    /// Replay recorded market data through the whole engine and the paper
    /// venue, then write the performance report.
    Backtest(BacktestArgs),
    /// Write the performance report of a journal: report.md, a
    /// self-contained report.html and PNG plots (equity, drawdown, P&L per
    /// trade, fees, daily P&L).
    Report(ReportArgs),
    /// The daily summary: one UTC day's trades, win rate, P&L after fees,
    /// fees, exposure, refusals, uptime, reconnects and alerts, printed as
    /// Markdown and written beside the journal (default: today, so far).
    Summary(SummaryArgs),
    /// Set the kill switch: no order is sent while its file exists.
    Kill(KillArgs),
    /// Remove the kill switch.
    Unkill(KillArgs),
    /// The go-live checklist: the journal's paper record on live market data
    /// against the [gate] thresholds. Exits 0 when every item passes, 1 if not.
    Gate(GateArgs),
    /// Preflight before going live: config, key file, RPC and chain,
    /// collateral and allowances, API key, CLOB and clock skew, a book over
    /// the WebSocket, kill switch, gate. One PASS/FAIL/SKIP line per check,
    /// with the fix for each failure; exits 0 only when none failed.
    Doctor(DoctorArgs),
    /// Live test of the order path: one minimum-size post-only BUY far from
    /// the touch, acknowledged on the user channel, cancelled, confirmed;
    /// ends by proving no order of ours is left open.
    Livetest(LivetestArgs),
    /// Crash-recovery drill (loopback only): place a seeded sequence of
    /// intents through the gateway and journal, continuing where an earlier,
    /// killed run stopped.
    #[command(hide = true)]
    Drill(DrillArgs),
}

pub async fn run(cli: Cli) -> Result<()> {
    let file = match config::load(cli.config.as_deref()) {
        Ok(file) => file,
        // The doctor reports a configuration that does not load as its first check.
        Err(e) if matches!(cli.command, Command::Doctor(_)) => return doctor_cmd::bad_config(&e),
        Err(e) => return Err(e),
    };
    file.ops.validate()?;
    // Long-running commands also write JSON logs beside their journal.
    let journal = match &cli.command {
        Command::Paper(a) => Some(a.journal.clone().unwrap_or_else(|| file.journal.path.clone())),
        Command::Backtest(a) => Some(a.journal.clone().unwrap_or_else(|| a.out.join("journal.sqlite"))),
        Command::Live(_) => Some(file.journal.path.clone()),
        _ => None,
    };
    let dir = pmbot_ops::logs::log_dir(&file.logs, journal.as_deref());
    let _logs = pmbot_ops::logs::init(&file.logs, dir.as_deref())?;
    // Long-running commands stop cleanly on SIGTERM and SIGINT; the others
    // keep the signals' default (die at once), having nothing to finish.
    let long_running = matches!(
        cli.command,
        Command::Sim(_)
            | Command::Watch(_)
            | Command::Record(_)
            | Command::Paper(_)
            | Command::Live(_)
            | Command::Backtest(_)
    );
    let stop = if long_running {
        Shutdown::install(&file.shutdown).context("cannot listen for SIGTERM and SIGINT")?
    } else {
        Shutdown::unarmed()
    };
    match cli.command {
        Command::Sim(args) => sim_cmd::run(file.sim, args, stop).await,
        Command::Watch(args) => watch_cmd::run(file, args, stop).await,
        Command::Record(args) => Ok(record::run(file, args, stop).await?),
        Command::Balance(args) => balance_cmd::run(file, args).await,
        Command::Orders(args) => orders_cmd::run(file, args).await,
        Command::Redeem(args) => Ok(redeem::run(file, args).await?),
        Command::Drill(args) => Ok(drill::run(file, args).await?),
        Command::Train(args) => model_cmd::train(args),
        Command::Paper(args) => Ok(paper::run(file, args, stop).await?),
        Command::Live(args) => Ok(live::run(file, args, stop).await?),
        Command::Backtest(args) => tokio::task::block_in_place(|| backtest_cmd::run(file, args, &stop)),
        Command::Validate(args) => model_cmd::validate(args),
        Command::Report(args) => {
            for file in report_cmd::run(&args)? {
                println!("wrote {}", file.display());
            }
            Ok(())
        }
        Command::Summary(args) => summary_cmd::run(file, args),
        Command::Gate(args) => gate_cmd::run(file, args),
        Command::Doctor(args) => doctor_cmd::run(file, args).await,
        Command::Livetest(args) => livetest_cmd::run(file, args).await,
        Command::Kill(args) => {
            let path = args.path.unwrap_or(file.gateway.kill_switch);
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            println!("{}", kill_cmd::kill(&path, now.as_millis() as i64)?);
            Ok(())
        }
        Command::Unkill(args) => {
            let path = args.path.unwrap_or(file.gateway.kill_switch);
            println!("{}", kill_cmd::unkill(&path)?);
            Ok(())
        }
    }
}
