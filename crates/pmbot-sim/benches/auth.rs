//! Cost of admitting one request: L2 HMAC check, order parse, order
//! signature check (ECDSA recovery dominates) and price read-out.
//!
//! Run: `cargo bench -p pmbot-sim --bench auth`

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use divan::black_box;
use pmbot_core::{Side, TickSize};
use pmbot_sim::auth::l2::{self, L2Request};
use pmbot_sim::auth::order::{
    ExchangeContracts, ExchangeKind, OrderType, PostOrder, SignatureType, SignedOrder, parse_post_order,
    terms_from_amounts,
};
use pmbot_sim::auth::{ApiKeyStore, ServerSeed, TimeWindow};

fn main() {
    divan::main();
}

const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn signed_body() -> (Vec<u8>, PrivateKeySigner) {
    let signer: PrivateKeySigner = KEY.parse().unwrap();
    let domain = ExchangeContracts::default().domain(ExchangeKind::CtfV2, false);
    let order = SignedOrder {
        salt: U256::from(479_249_096_354u64),
        maker: signer.address(),
        signer: signer.address(),
        token_id: U256::from(1234),
        maker_amount: U256::from(5_600_000),
        taker_amount: U256::from(10_000_000),
        side: Side::Buy,
        signature_type: SignatureType::Eoa,
        timestamp_ms: U256::from(1_710_000_000_000u64),
        metadata: B256::ZERO,
        builder: B256::ZERO,
        expiration_s: 0,
        signature: Bytes::new(),
    }
    .signed_with(&signer, &domain)
    .unwrap();
    let body =
        PostOrder { order, owner: uuid_nil(), order_type: OrderType::Gtc, post_only: Some(false), defer_exec: None };
    (serde_json::to_vec(&body).unwrap(), signer)
}

fn uuid_nil() -> uuid::Uuid {
    uuid::Uuid::nil()
}

#[divan::bench]
fn l2_verify_post_order(bencher: divan::Bencher) {
    let (body, signer) = signed_body();
    let address: Address = signer.address();
    let mut keys = ApiKeyStore::new(ServerSeed::from_u64(1));
    let creds = keys.create(address, U256::ZERO).unwrap();
    let request = L2Request { method: "POST", path: "/order", body: &body };
    let headers = l2::sign_headers(&creds, address, 1_000, &request).unwrap();
    let window = TimeWindow::new(1_000, 30);
    bencher.bench(|| l2::verify(black_box(&headers.as_headers()), &request, &keys, window).unwrap());
}

#[divan::bench]
fn parse_order_body(bencher: divan::Bencher) {
    let (body, _) = signed_body();
    bencher.bench(|| parse_post_order(black_box(&body)).unwrap());
}

#[divan::bench]
fn verify_order_signature(bencher: divan::Bencher) {
    let (body, _) = signed_body();
    let order = parse_post_order(&body).unwrap();
    let domain = ExchangeContracts::default().domain(ExchangeKind::CtfV2, false);
    bencher.bench(|| black_box(&order).verify(&domain).unwrap());
}

#[divan::bench]
fn price_from_amounts(bencher: divan::Bencher) {
    bencher.bench(|| {
        terms_from_amounts(
            Side::Buy,
            black_box(U256::from(100_000_000)),
            black_box(U256::from(178_571_400)),
            TickSize::Hundredth,
        )
        .unwrap()
    });
}
