//! Where market data comes from: Polymarket itself (the default), given
//! URLs, or an embedded simulator (`--sim`); and which tokens to follow.
//!
//! A simulated exchange ([`crate::offline`]: `--sim`, or URLs on loopback)
//! is asked for its markets too (`<clob-url>/gamma` unless `--gamma-url`
//! says otherwise), and a simulated source naming an address off this
//! machine is refused before anything is contacted.

use std::collections::BTreeSet;
use std::time::Duration;

use clap::Args;
use pmbot_core::TokenId;
use pmbot_sim::engine::MarketInfo as SimMarket;
use pmbot_sim::{SimConfig, SimHandle};
use pmbot_venue::discovery::{MarketRef, market_by_slug};
use pmbot_venue::marketdata::StreamConfig;

use crate::error::refuse;
use crate::error::{Context, Result};
use crate::offline::{self, Exchange};

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
#[derive(Debug)]
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

/// The simulator's Gamma-compatible market look-up under its REST base.
fn sim_gamma(rest_url: &str) -> String {
    format!("{}/gamma", rest_url.trim_end_matches('/'))
}

impl SourceArgs {
    /// `stream` with the flags' URLs over the configured ones.
    fn stream(&self, mut stream: StreamConfig) -> StreamConfig {
        if let Some(u) = &self.clob_url {
            stream.rest_url = u.clone();
        }
        if let Some(u) = &self.ws_url {
            stream.ws_url = u.clone();
        }
        stream
    }

    /// What the exchange is, decided before anything is contacted
    /// ([`Exchange::of`]); `declared` is `--simulated-exchange`. A simulated
    /// exchange named by URLs must be all on loopback, Gamma included.
    pub fn exchange(&self, stream: &StreamConfig, declared: bool) -> Result<Exchange> {
        if self.sim {
            return Ok(Exchange::Simulated);
        }
        let stream = self.stream(stream.clone());
        let exchange = Exchange::of(false, &[&stream.rest_url, &stream.ws_url]);
        if declared || exchange.is_simulated() {
            let mut named = vec![
                ("--clob-url / [market_data.stream] rest_url", stream.rest_url.as_str()),
                ("--ws-url / [market_data.stream] ws_url", stream.ws_url.as_str()),
            ];
            if let Some(gamma) = &self.gamma_url {
                named.push(("--gamma-url", gamma));
            }
            offline::require_loopback(&named)?;
        }
        Ok(if declared { Exchange::Simulated } else { exchange })
    }

    pub async fn resolve(&self, stream: StreamConfig, sim_cfg: SimConfig) -> Result<Source> {
        let exchange = self.exchange(&stream, false)?;
        let mut stream = self.stream(stream);
        let mut sim = None;
        let gamma = if self.sim {
            let handle = pmbot_sim::start(sim_cfg).await.context("cannot start the embedded simulator")?;
            stream.ws_url = handle.ws_url();
            stream.rest_url = handle.rest_url();
            let gamma = sim_gamma(&handle.rest_url());
            sim = Some(handle);
            gamma
        } else {
            let default = if exchange.is_simulated() { sim_gamma(&stream.rest_url) } else { GAMMA_URL.to_owned() };
            self.gamma_url.clone().unwrap_or(default)
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
                        .collect();
                }
                None => refuse!("name what to follow: --tokens ID... or --market SLUG..."),
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
