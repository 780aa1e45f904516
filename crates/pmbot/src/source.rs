//! Where market data comes from: Polymarket itself (the default), given
//! URLs, or an embedded simulator (`--sim`); and which tokens to follow.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use pmbot_core::TokenId;
use pmbot_sim::engine::MarketInfo as SimMarket;
use pmbot_sim::{SimConfig, SimHandle};
use pmbot_venue::discovery::{MarketRef, market_by_slug};
use pmbot_venue::marketdata::StreamConfig;

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Use an embedded simulated exchange (configured by the [sim] table).
    #[arg(long, conflicts_with_all = ["clob_url", "ws_url", "gamma_url"])]
    pub sim: bool,
    /// CLOB REST base URL (default: Polymarket's).
    #[arg(long, value_name = "URL")]
    pub clob_url: Option<String>,
    /// WebSocket base URL (default: Polymarket's); /ws/market is appended.
    #[arg(long, value_name = "URL")]
    pub ws_url: Option<String>,
    /// Gamma API base URL, for --market (default: Polymarket's).
    #[arg(long, value_name = "URL")]
    pub gamma_url: Option<String>,
    /// Token ids to follow.
    #[arg(long, num_args = 1.., value_name = "ID")]
    pub tokens: Vec<String>,
    /// Market slugs to follow (every outcome token of each).
    #[arg(long = "market", num_args = 1.., value_name = "SLUG")]
    pub markets: Vec<String>,
}

/// Polymarket's Gamma API.
pub const GAMMA_URL: &str = "https://gamma-api.polymarket.com";

/// The resolved source: stream settings, the markets and tokens to follow,
/// and the embedded simulator if one was started (kept alive by the caller).
pub struct Source {
    pub stream: StreamConfig,
    pub tokens: Vec<TokenId>,
    pub markets: Vec<MarketRef>,
    pub sim: Option<SimHandle>,
    pub description: String,
}

impl Source {
    /// The markets a recording lists: those named with `--market`, then the
    /// embedded simulator's markets whose tokens are all followed (the ones
    /// it chose when none were named). Without them a recording made with
    /// `--sim` lists no market, and a backtest refuses it.
    pub fn recorded_markets(&self) -> Vec<MarketRef> {
        let mut out = self.markets.clone();
        if let Some(sim) = &self.sim {
            let followed: BTreeSet<&TokenId> = self.tokens.iter().collect();
            let listed = sim.state.lock().exchange.markets();
            for m in &listed {
                let named = out.iter().any(|r| r.condition_id == m.spec.condition_id);
                if !named && m.spec.tokens.iter().all(|t| followed.contains(&t.token_id)) {
                    out.push(sim_market_ref(m));
                }
            }
        }
        out
    }
}

/// A simulator market as a Gamma lookup of its slug would describe it.
fn sim_market_ref(m: &SimMarket) -> MarketRef {
    MarketRef {
        condition_id: m.spec.condition_id,
        slug: m.spec.slug.clone(),
        question: m.spec.question.clone(),
        tokens: m.spec.tokens.iter().map(|t| t.token_id.clone()).collect(),
        outcomes: m.spec.tokens.iter().map(|t| t.outcome.clone()).collect(),
        end_date: m
            .spec
            .end_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        closed: m.closed,
    }
}

impl SourceArgs {
    pub async fn resolve(&self, mut stream: StreamConfig, sim_cfg: SimConfig) -> Result<Source> {
        let mut sim = None;
        let gamma = if self.sim {
            let handle = pmbot_sim::start(sim_cfg).await.context("cannot start the embedded simulator")?;
            stream.ws_url = handle.ws_url();
            stream.rest_url = handle.rest_url();
            let gamma = format!("{}gamma", handle.rest_url());
            sim = Some(handle);
            gamma
        } else {
            if let Some(u) = &self.clob_url {
                stream.rest_url = u.clone();
            }
            if let Some(u) = &self.ws_url {
                stream.ws_url = u.clone();
            }
            self.gamma_url.clone().unwrap_or_else(|| GAMMA_URL.to_owned())
        };
        let mut tokens: Vec<TokenId> = Vec::new();
        for t in &self.tokens {
            tokens.push(TokenId::parse(t).with_context(|| format!("--tokens {t:?}"))?);
        }
        let mut markets = Vec::new();
        for slug in &self.markets {
            let m = market_by_slug(&gamma, slug, Duration::from_secs(10))
                .await
                .with_context(|| format!("--market {slug}"))?;
            tokens.extend(m.tokens.iter().cloned());
            markets.push(m);
        }
        if tokens.is_empty() {
            match &sim {
                // The simulator's own markets, when none were named.
                Some(h) => {
                    tokens = h
                        .state
                        .lock()
                        .exchange
                        .markets()
                        .iter()
                        .flat_map(|m| m.spec.tokens.iter().map(|t| t.token_id.clone()))
                        .collect()
                }
                None => bail!("name what to follow: --tokens ID... or --market SLUG..."),
            }
        }
        tokens.dedup();
        let description = match &sim {
            Some(h) => format!("embedded simulator at {}", h.rest_url()),
            None => stream.ws_url.clone(),
        };
        Ok(Source { stream, tokens, markets, sim, description })
    }
}
