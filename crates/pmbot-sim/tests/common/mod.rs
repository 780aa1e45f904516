//! Shared set-up for the simulator's integration tests: a simulator on an
//! ephemeral loopback port, wallets, and official-SDK clients signed in to it.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::str::FromStr as _;
use std::time::Duration;

use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{LocalSigner, Normal, Signer as _};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::U256;

pub type Wallet = LocalSigner<alloy::signers::k256::ecdsa::SigningKey>;
pub type AuthedClient = Client<Authenticated<Normal>>;

/// Anvil's well-known development keys (never hold real funds with these).
pub const KEYS: [&str; 3] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103b1f1616deba0d0a8d2f3cab0f3d0db3dc4e4c08",
];

pub fn wallet(i: usize) -> Wallet {
    LocalSigner::from_str(KEYS[i]).expect("valid key").with_chain_id(Some(POLYGON))
}

/// Synthetic markets with no house participants: books stay empty unless a
/// test trades, so every fill in a test is one the test made.
pub fn quiet_config(markets: u32) -> SimConfig {
    let mut s = SyntheticConfig { markets, market_duration_ms: 60 * 60_000, ..SyntheticConfig::default() };
    s.makers.count = 0;
    s.noise.arrivals_per_min = 0.0;
    s.informed.enabled = false;
    SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() }
}

/// The default, busy synthetic markets.
pub fn busy_config(markets: u32) -> SimConfig {
    let s = SyntheticConfig { markets, ..SyntheticConfig::default() };
    SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() }
}

pub async fn start(cfg: SimConfig) -> SimHandle {
    pmbot_sim::start(cfg).await.expect("simulator starts")
}

pub fn public_client(sim: &SimHandle) -> Client {
    Client::new(&sim.rest_url(), Config::default()).expect("client")
}

/// Signs in with L1 auth (create, or derive if it exists), as the bot will.
pub async fn authed(sim: &SimHandle, w: &Wallet) -> AuthedClient {
    public_client(sim).authentication_builder(w).authenticate().await.expect("authenticate")
}

/// The two token ids of the first listed market, and its condition id.
pub async fn first_market(client: &Client) -> (String, U256, U256) {
    let page = client.markets(None).await.expect("markets");
    let m = page.data.first().expect("a market is listed");
    let cid = m.condition_id.expect("condition id").to_string();
    (cid, m.tokens[0].token_id, m.tokens[1].token_id)
}

/// Waits up to `secs` for `f` to return `Some`.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn address_of(w: &Wallet) -> alloy_primitives::Address {
    w.address()
}
