//! Command-line grammar (clap) and dispatch.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config;
use crate::sim_cmd::{self, SimArgs};

/// pmbot trades Polymarket's order books under hard risk limits, on paper
/// first. This build provides the simulated exchange that every other mode
/// and test runs against.
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
    /// (Ctrl-C) or until --duration has passed.
    Sim(SimArgs),
}

pub async fn run(cli: Cli) -> Result<()> {
    let file = config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Sim(args) => sim_cmd::run(file.sim, args).await,
    }
}
