//! Shared set-up for the market-data tests: a simulator on loopback and
//! helpers to compare pmbot's books with the simulator's.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pmbot_core::{Side, TokenId};
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_venue::SystemClock;
use pmbot_venue::marketdata::{BookStoreConfig, MarketData, MarketDataConfig, StreamConfig};

/// Runs `f` with a deadline, so a hung test fails instead of hanging CI.
pub async fn bounded<F: std::future::Future<Output = ()>>(secs: u64, f: F) {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("test finished within its deadline");
}

pub fn quiet_sim(markets: u32) -> SimConfig {
    let mut s = SyntheticConfig { markets, market_duration_ms: 60 * 60_000, ..SyntheticConfig::default() };
    s.makers.count = 0;
    s.noise.arrivals_per_min = 0.0;
    s.informed.enabled = false;
    SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() }
}

/// Many busy markets stepped often: hundreds of market messages a second.
pub fn busy_sim(markets: u32, seed: u64) -> SimConfig {
    let mut s = SyntheticConfig {
        markets,
        market_duration_ms: 30 * 60_000,
        step_interval_ms: 20,
        ..SyntheticConfig::default()
    };
    s.makers.refresh_ms = 100;
    s.noise.arrivals_per_min = 120.0;
    SimConfig { seed, source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() }
}

pub async fn start_sim(cfg: SimConfig) -> SimHandle {
    pmbot_sim::start(cfg).await.expect("simulator starts")
}

/// A stream configuration aimed at `sim`, with fast timers for tests.
pub fn stream_cfg(sim: &SimHandle) -> StreamConfig {
    StreamConfig {
        ws_url: sim.ws_url(),
        rest_url: sim.rest_url(),
        ping_interval: Duration::from_millis(500),
        pong_timeout: Duration::from_millis(1_500),
        silence_limit: None,
        token_silence: None,
        snapshot_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(5),
        rest_timeout: Duration::from_secs(5),
        backoff: pmbot_venue::marketdata::backoff::BackoffConfig {
            initial: Duration::from_millis(50),
            cap: Duration::from_millis(500),
            reset_after: Duration::from_secs(60),
        },
        ..StreamConfig::default()
    }
}

pub fn start_md(stream: StreamConfig, tokens: Vec<TokenId>) -> MarketData {
    let cfg = MarketDataConfig { stream, books: BookStoreConfig::strict() };
    MarketData::start(cfg, tokens, Arc::new(SystemClock), None).expect("stream starts")
}

/// Every token of every listed market.
pub fn all_tokens(sim: &SimHandle) -> Vec<TokenId> {
    sim.state.lock().exchange.markets().iter().flat_map(|m| m.spec.tokens.iter().map(|t| t.token_id.clone())).collect()
}

pub type Levels = Vec<(String, String)>;

/// The simulator's book of `token` (best first), as strings.
pub fn sim_book(sim: &SimHandle, token: &TokenId) -> Option<(Levels, Levels)> {
    let view = sim.state.lock().exchange.book(token)?;
    let side = |ls: &[pmbot_sim::engine::Level]| ls.iter().map(|l| (l.price.to_string(), l.size.to_string())).collect();
    Some((side(&view.bids), side(&view.asks)))
}

/// pmbot's book of `token` (best first) and whether it is trusted.
pub fn our_book(md: &MarketData, token: &TokenId) -> Option<(Levels, Levels, bool)> {
    let st = md.state();
    let book = st.books.book(token)?;
    let side = |s| book.levels(s).map(|l| (l.price.to_string(), l.size.to_string())).collect();
    Some((side(Side::Buy), side(Side::Sell), st.books.trust(token)?.is_trusted()))
}

/// Waits until every token's book is trusted and equal to the simulator's
/// (the caller has frozen the market). Returns the tokens still differing
/// at the deadline.
pub async fn converge(md: &MarketData, sim: &SimHandle, tokens: &[TokenId], secs: u64) -> BTreeMap<TokenId, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let mut bad = BTreeMap::new();
        for t in tokens {
            let ours = our_book(md, t);
            let theirs = sim_book(sim, t);
            match (ours, theirs) {
                (Some((b, a, true)), Some((sb, sa))) if b == sb && a == sa => {}
                (Some((b, a, trusted)), Some((sb, sa))) => {
                    bad.insert(t.clone(), format!("trusted={trusted} ours={b:?}/{a:?} sim={sb:?}/{sa:?}"));
                }
                (o, s) => {
                    bad.insert(t.clone(), format!("ours={o:?} sim={s:?}"));
                }
            }
        }
        if bad.is_empty() || tokio::time::Instant::now() >= deadline {
            return bad;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
