//! Balance pre-check latency against a local anvil (loopback HTTP), and what
//! the harness itself costs.
//!
//! Run: `cargo bench -p pmbot-venue --bench balance` (needs anvil: `.ci/run`
//! installs it, or set `ANVIL_BIN`; without it the bench prints a NOTICE).
//!
//! Prints, with percentiles over the samples:
//! - anvil start (spawn to `Listening on`), 10 starts;
//! - a cold buy check: invalidate, then one JSON-RPC batch (eth_chainId + the
//!   balance + one allowance; neg-risk: three allowances) and the decision;
//! - a single raw `eth_call` of `balanceOf` over the same loopback;
//! - a cached buy check (no I/O).
//!
//! On Polygon the cold figure is dominated by the RPC provider's round trip
//! (tens to hundreds of ms); this measures pmbot's own share plus loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256, address};
use pmbot_core::{Clock, ManualClock, Usdc};
use pmbot_testkit::{Anvil, polygon};
use pmbot_venue::balance::{BalanceConfig, BalanceReader, BuyRequest, MarketKind};
use serde_json::json;

const FUNDER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut starts = Vec::new();
    for _ in 0..10 {
        let Some(anvil) = Anvil::start() else { return };
        starts.push(anvil.startup());
    }
    report("anvil start (spawn to Listening on)", &mut starts);

    let Some(anvil) = Anvil::start() else { return };
    rt.block_on(async {
        anvil.plant_polymarket().await.expect("plant");
        anvil.deal_erc20(polygon::COLLATERAL, FUNDER, U256::from(1_000_000_000u64)).await.expect("deal");
        for spender in [polygon::EXCHANGE, polygon::NEG_RISK_EXCHANGE, polygon::NEG_RISK_ADAPTER] {
            anvil.set_erc20_allowance(polygon::COLLATERAL, FUNDER, spender, U256::MAX).await.expect("allow");
        }
    });
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(0));
    let config = BalanceConfig { rpc_urls: vec![anvil.url().to_owned()], ..BalanceConfig::default() };
    let reader = BalanceReader::new(config, FUNDER, clock).expect("reader");
    let standard = BuyRequest::new(MarketKind::Standard, Usdc::from_whole(10), Usdc::ZERO, Usdc::ZERO).expect("req");
    let neg_risk = BuyRequest::new(MarketKind::NegRisk, Usdc::from_whole(10), Usdc::ZERO, Usdc::ZERO).expect("req");

    rt.block_on(async {
        // Warm-up: connection pool, anvil's state caches.
        for _ in 0..200 {
            reader.invalidate();
            assert!(reader.check_buy(&standard).await.is_allowed());
        }
        for (name, req) in [("cold buy check, standard (3 calls in 1 batch)", &standard), ("cold buy check, neg-risk (5 calls in 1 batch)", &neg_risk)] {
            let mut samples = Vec::with_capacity(2_000);
            for _ in 0..2_000 {
                reader.invalidate();
                let t = Instant::now();
                let v = reader.check_buy(req).await;
                samples.push(t.elapsed());
                assert!(v.is_allowed());
            }
            report(name, &mut samples);
        }

        let http = reqwest::Client::new();
        let data = format!("0x70a08231{:0>64}", FUNDER.to_string().trim_start_matches("0x").to_lowercase());
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": polygon::COLLATERAL, "data": data}, "latest"]});
        let mut samples = Vec::with_capacity(2_000);
        for _ in 0..2_000 {
            let t = Instant::now();
            let resp = http.post(anvil.url()).json(&body).send().await.expect("post");
            let _ = resp.bytes().await.expect("body");
            samples.push(t.elapsed());
        }
        report("raw eth_call balanceOf (reqwest, loopback)", &mut samples);

        assert!(reader.check_buy(&standard).await.is_allowed());
        let mut samples = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            let t = Instant::now();
            let v = reader.check_buy(&standard).await;
            samples.push(t.elapsed());
            assert!(v.is_allowed());
        }
        report("cached buy check", &mut samples);
    });
    drop(anvil);
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let pick = |q: f64| pmbot_core::quantile::quantile(samples, q).expect("samples");
    println!(
        "{name}: n={} p50={:?} p90={:?} p99={:?} max={:?}",
        samples.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        samples[samples.len() - 1]
    );
}
