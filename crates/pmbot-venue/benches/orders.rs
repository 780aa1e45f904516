//! Order build + sign throughput (target >= 20,000 orders/s on one core),
//! through the official SDK's order builder and `sign`, as the gateway does.
//!
//! Run: `cargo bench -p pmbot-venue --bench orders`. The SDK's builder needs
//! the market's tick size, neg-risk flag and the protocol version once; a
//! simulator on loopback answers those, then every timed build is served
//! from the SDK's caches (no network in the timed part).
//!
//! With `PMBOT_PYTHON` pointing at a Python that has `py-clob-client-v2`,
//! the official Python client's rate is measured in the same run and printed
//! beside (scripts/interop/python_sign_rate.py).

use std::hint::black_box;
use std::str::FromStr as _;
use std::sync::LazyLock;

use alloy::primitives::B256;
use alloy::signers::{Signer as _, SignerSync as _};
use divan::Bencher;
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::auth::Normal;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::clob::types::Side;
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::{U256, dec};

const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"; // Anvil #0, public

struct Setup {
    rt: tokio::runtime::Runtime,
    fast: Client<Authenticated<Normal>>,
    fast_signer: alloy_signer_local::Secp256k1Signer,
    k256_signer: alloy_signer_local::PrivateKeySigner,
    token: U256,
    sim: SimHandle,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (sim, fast, fast_signer, token) = rt.block_on(async {
        let mut s = SyntheticConfig { markets: 1, market_duration_ms: 3_600_000, ..SyntheticConfig::default() };
        s.makers.count = 0;
        s.noise.arrivals_per_min = 0.0;
        s.informed.enabled = false;
        let sim = pmbot_sim::start(SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() })
            .await
            .unwrap();
        let signer = alloy_signer_local::Secp256k1Signer::from_str(KEY).unwrap().with_chain_id(Some(POLYGON));
        let client = Client::new(&sim.rest_url(), Config::default())
            .unwrap()
            .authentication_builder(&signer)
            .authenticate()
            .await
            .unwrap();
        let token = client.markets(None).await.unwrap().data[0].tokens[0].token_id;
        // Warm the SDK's caches (tick size, neg-risk, protocol version).
        let o = client
            .limit_order()
            .token_id(token)
            .price(dec!(0.42))
            .size(dec!(10))
            .side(Side::Buy)
            .build()
            .await
            .unwrap();
        client.sign(&signer, o).await.unwrap();
        (sim, client, signer, token)
    });
    let k256_signer = alloy_signer_local::PrivateKeySigner::from_str(KEY).unwrap().with_chain_id(Some(POLYGON));
    Setup { rt, fast, fast_signer, k256_signer, token, sim }
});

fn main() {
    let setup = &*SETUP;
    if let Ok(python) = std::env::var("PMBOT_PYTHON") {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/interop/python_sign_rate.py");
        let out = std::process::Command::new(python)
            .args([script, &setup.sim.rest_url(), &setup.token.to_string(), "500"])
            .output();
        match out {
            Ok(o) if o.status.success() => println!("{}", String::from_utf8_lossy(&o.stdout).trim()),
            Ok(o) => println!("py-clob-client-v2 rate not measured: {}", String::from_utf8_lossy(&o.stderr).trim()),
            Err(e) => println!("py-clob-client-v2 rate not measured: {e}"),
        }
    } else {
        println!("py-clob-client-v2 rate not measured: set PMBOT_PYTHON to a Python with py-clob-client-v2");
    }
    divan::main();
}

/// A limit order built by the SDK and signed with libsecp256k1 (the gateway's path).
#[divan::bench]
fn build_and_sign(bencher: Bencher) {
    let s = &*SETUP;
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        let size = polymarket_client_sdk_v2::types::Decimal::from(10 + n % 50);
        s.rt.block_on(async {
            let o = s
                .fast
                .limit_order()
                .token_id(s.token)
                .price(dec!(0.42))
                .size(size)
                .side(Side::Buy)
                .build()
                .await
                .unwrap();
            black_box(s.fast.sign(&s.fast_signer, o).await.unwrap())
        })
    });
}

/// The same order signed with alloy's default k256 signer, for comparison.
#[divan::bench]
fn build_and_sign_k256(bencher: Bencher) {
    let s = &*SETUP;
    let mut n = 0u64;
    bencher.bench_local(|| {
        n += 1;
        let size = polymarket_client_sdk_v2::types::Decimal::from(10 + n % 50);
        s.rt.block_on(async {
            let o = s
                .fast
                .limit_order()
                .token_id(s.token)
                .price(dec!(0.42))
                .size(size)
                .side(Side::Buy)
                .build()
                .await
                .unwrap();
            black_box(s.fast.sign(&s.k256_signer, o).await.unwrap())
        })
    });
}

/// The ECDSA signature alone, both backends.
#[divan::bench(args = ["secp256k1", "k256"])]
fn sign_hash(bencher: Bencher, backend: &str) {
    let s = &*SETUP;
    let h = B256::repeat_byte(7);
    bencher.bench_local(|| match backend {
        "secp256k1" => black_box(s.fast_signer.sign_hash_sync(&h).unwrap()),
        _ => black_box(s.k256_signer.sign_hash_sync(&h).unwrap()),
    });
}
