//! `pmbot livetest`: the order path exercised once, for real (the tests
//! themselves are `pmbot_venue::livetest`): the gateway started as `pmbot
//! live` starts it (the journal, reconciliation), on the market or token
//! named or the embedded simulator's. Without an open order of ours left
//! and with every step passing, it exits 0.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use pmbot_core::TokenId;
use pmbot_engine::record::redact_url;
use pmbot_venue::discovery::market_by_slug;
use pmbot_venue::livetest::{self, step};
use pmbot_venue::marketdata::rest::RestClient;

use crate::config::FileConfig;
use pmbot_run::account;
use pmbot_run::source::GAMMA_URL;

#[derive(Debug, Args)]
pub struct LivetestArgs {
    /// The market to test on (its first outcome's token).
    #[arg(long, value_name = "SLUG", conflicts_with = "token")]
    pub market: Option<String>,
    /// The token to test on.
    #[arg(long, value_name = "ID")]
    pub token: Option<String>,
    /// Run against an embedded simulated exchange (no real money).
    #[arg(long)]
    pub sim: bool,
    /// Gamma API base URL, for --market (default: Polymarket's).
    #[arg(long, value_name = "URL")]
    pub gamma_url: Option<String>,
    /// How long each wait (user channel, acknowledgement) may take.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Test the market-order path instead: one minimum-value marketable BUY
    /// and the SELL of what it bought (costs the spread and two fees).
    #[arg(long)]
    pub taker: bool,
    /// Place the --taker orders after printing their cost (without it the
    /// cost is printed and nothing is placed).
    #[arg(long, requires = "taker")]
    pub yes: bool,
}

pub async fn run(mut file: FileConfig, args: LivetestArgs) -> Result<()> {
    let sim = if args.sim {
        let handle = pmbot_sim::start(file.sim.clone()).await.context("cannot start the embedded simulator")?;
        file.gateway.clob_url = handle.rest_url();
        file.gateway.ws_url = handle.ws_url();
        Some(handle)
    } else {
        None
    };
    let token = resolve_token(&file, &args, sim.as_ref()).await?;
    println!(
        "livetest on token {token} at {}{}",
        redact_url(&file.gateway.clob_url),
        if sim.is_some() { " (embedded simulator: no real money)" } else { "" }
    );

    let rest = RestClient::new(&file.gateway.clob_url, file.gateway.request_timeout)?;
    // The resting test reads its price first: nothing starts on a book it
    // cannot use. The taker test reads the touch once the fees are known.
    let resting = if args.taker { None } else { Some(livetest::resting_order(&rest, &token).await?) };

    // The gateway, as `pmbot live` starts it: the journal, reconciliation.
    let t = Instant::now();
    let (started, _balance) = account::start_gateway(&file).await?;
    let gateway = started.gateway;
    step("gateway", t, format!("API key derived; {} journal order(s) reconciled", started.report.checked));

    let result = match resting {
        Some((price, size)) => {
            livetest::exercise(&gateway, &file.gateway.ws_url, token, price, size, args.timeout).await
        }
        None => livetest::taker::run(&gateway, &rest, token, args.yes, args.timeout).await,
    };
    gateway.shutdown();
    if let Some(handle) = sim {
        handle.shutdown().await;
    }
    Ok(result?)
}

/// The market's (or the simulator's) token to test on.
async fn resolve_token(file: &FileConfig, args: &LivetestArgs, sim: Option<&pmbot_sim::SimHandle>) -> Result<TokenId> {
    if let Some(t) = &args.token {
        return TokenId::parse(t).with_context(|| format!("--token {t:?} is not a token id"));
    }
    if let Some(slug) = &args.market {
        let gamma = match (&args.gamma_url, sim) {
            (Some(g), _) => g.clone(),
            (None, Some(h)) => format!("{}gamma", h.rest_url()),
            (None, None) => GAMMA_URL.to_owned(),
        };
        let m = market_by_slug(&gamma, slug, file.gateway.request_timeout.max(Duration::from_secs(5)))
            .await
            .with_context(|| format!("--market {slug}"))?;
        return m.tokens.first().cloned().with_context(|| format!("market {slug} lists no token"));
    }
    match sim {
        Some(h) => {
            let g = h.state.lock();
            g.exchange
                .markets()
                .iter()
                .find(|m| m.accepting_orders)
                .and_then(|m| m.spec.tokens.first().map(|t| t.token_id.clone()))
                .context("the simulator lists no market accepting orders")
        }
        None => bail!("name where to test: --market SLUG or --token ID"),
    }
}
