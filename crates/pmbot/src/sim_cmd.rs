//! `pmbot sim`: the simulated exchange as a long-running process.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use pmbot_core::Usdc;
use pmbot_sim::{SimConfig, SourceConfig};

use pmbot_run::shutdown::Shutdown;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Seed for markets, keys and faults (same seed, same run).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of synthetic markets to list.
    #[arg(long)]
    pub markets: Option<u32>,
    /// Loopback port to listen on (0 = any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Fault injection, e.g. "ws-drop-every=500,rest-5xx=0.05,rest-delay=6s@0.01".
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Replay recorded books from DIR instead of synthetic markets.
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
    /// Replay speed factor (with --replay).
    #[arg(long, requires = "replay")]
    pub speed: Option<f64>,
    /// Give ADDRESS a collateral balance of AMOUNT pUSD; repeatable.
    #[arg(long, value_name = "ADDRESS=AMOUNT")]
    pub fund: Vec<String>,
    /// Stop after this long (e.g. 90s, 15m, 2h); default: until SIGTERM or SIGINT (Ctrl-C).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
}

/// Applies the command-line flags over the file's `[sim]` table.
pub fn apply_flags(mut cfg: SimConfig, args: &SimArgs) -> Result<SimConfig> {
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    if let Some(port) = args.port {
        cfg.port = port;
    }
    if let Some(spec) = &args.faults {
        cfg.faults = spec.parse().with_context(|| format!("--faults {spec:?}"))?;
    }
    if let Some(dir) = &args.replay {
        cfg.source = SourceConfig::Replay { dir: dir.clone(), speed: args.speed.unwrap_or(1.0) };
    }
    if let Some(n) = args.markets {
        match &mut cfg.source {
            SourceConfig::Synthetic(s) => s.markets = n,
            SourceConfig::Replay { .. } => bail!("--markets applies to synthetic markets, not to --replay"),
        }
    }
    for entry in &args.fund {
        let (addr, amount) =
            entry.split_once('=').with_context(|| format!("--fund {entry:?}: expected ADDRESS=AMOUNT"))?;
        let amount = Usdc::parse_non_negative(amount).with_context(|| format!("--fund {entry:?}"))?;
        cfg.fund.insert(addr.to_owned(), amount);
    }
    Ok(cfg)
}

pub async fn run(file_cfg: SimConfig, args: SimArgs, stop: Shutdown) -> Result<()> {
    let cfg = apply_flags(file_cfg, &args)?;
    let handle = pmbot_sim::start(cfg).await.context("cannot start the simulator")?;
    println!("listening on {}", handle.rest_url().trim_end_matches('/'));
    println!("websocket {} (market: /ws/market, user: /ws/user)", handle.ws_url());
    println!("source: {}", handle.state.lock().source.describe());
    let why = tokio::select! {
        _ = pmbot_run::shutdown::sleep_or_forever(args.duration) => "duration",
        s = stop.wait() => s.name(),
    };
    handle.shutdown().await;
    println!("simulator stopped ({why})");
    Ok(())
}
