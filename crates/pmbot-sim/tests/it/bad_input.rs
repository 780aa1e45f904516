//! Bad input gets the real API's error (status and `{"error": ...}` text, see
//! `research/polymarket-protocol.md` §1 and `engine/reject.rs`) and changes no
//! state: after each refusal the open orders, balances, books and API keys
//! are exactly what they were.
//!
//! Orders are built and signed by the official SDK wherever it can make them,
//! serialized to the JSON it would post, tampered with as each case needs,
//! and posted raw with L2 headers from the simulator's own signing helpers.

use crate::common;

use common::*;
use pmbot_sim::engine::{Address, BookView, Holding, OrderRecord, Query};
use polymarket_client_sdk_v2::clob::types::{
    OrderPayload, OrderType as SdkOrderType, OrderV1, Side as SdkSide, SignableOrder, TickSize as SdkTick,
};
use polymarket_client_sdk_v2::types::{U256, dec};
use serde_json::{Value, json};

/// A market with a resting bid from Alice (BUY Yes 0.40 x 10) and an ask
/// from Bob (BUY No 0.50 x 10, an ask on Yes at 0.50), so there is state to
/// disturb.
struct Fixture {
    sim: pmbot_sim::SimHandle,
    m: MarketIds,
    alice: Account,
    bob: Account,
}

/// Everything a refused request must leave alone.
#[derive(Debug, PartialEq)]
struct Snapshot {
    orders: Vec<Vec<OrderRecord>>,
    collateral: Vec<Holding>,
    shares: Vec<Holding>,
    books: Vec<BookView>,
    api_keys: usize,
    orders_accepted: u64,
}

async fn fixture() -> Fixture {
    let sim = start(quiet_config(1)).await;
    let m = markets(&sim)[0].clone();
    let alice = account(&sim, 0).await;
    let bob = account(&sim, 1).await;
    for (who, token, price) in [(&alice, m.yes_u256(), dec!(0.40)), (&bob, m.no_u256(), dec!(0.50))] {
        let order = who.signed_limit(token, SdkSide::Buy, price, dec!(10)).await;
        assert_eq!(who.post_json(&sim, &order).await.status(), 200);
    }
    Fixture { sim, m, alice, bob }
}

impl Fixture {
    fn snapshot(&self) -> Snapshot {
        let sim = self.sim.state.lock();
        let ex = &sim.exchange;
        let who = [self.alice.address, self.bob.address, wallet_address(2)];
        let tokens = [&self.m.yes, &self.m.no];
        Snapshot {
            orders: who.iter().map(|a| ex.open_orders(*a, &Query::default())).collect(),
            collateral: who.iter().map(|a| ex.collateral(*a)).collect(),
            shares: who.iter().flat_map(|a| tokens.map(|t| ex.shares(*a, t))).collect(),
            books: tokens.iter().map(|t| ex.book(t).expect("book")).collect(),
            api_keys: who.iter().map(|a| sim.keys.keys_of(*a).len()).sum(),
            orders_accepted: self.sim.state.stats.orders_accepted.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Alice's SDK-signed BUY Yes 0.45 x 10, as JSON.
    async fn alice_order(&self) -> Value {
        self.alice.signed_limit(self.m.yes_u256(), SdkSide::Buy, dec!(0.45), dec!(10)).await
    }

    async fn post(&self, order: &Value) -> (u16, String) {
        error_of(self.alice.post_json(&self.sim, order).await).await
    }
}

fn wallet_address(i: usize) -> Address {
    address_of(&wallet(i))
}

/// A body that is not an order (not JSON, truncated, or missing fields) is
/// 400 `Invalid payload`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_order_json_is_an_invalid_payload() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        let mut truncated = fx.alice_order().await.to_string();
        truncated.truncate(truncated.len() / 2);
        for body in [truncated.as_str(), "not json", "{}", r#"{"order": {"salt": 1}}"#, "[]"] {
            let resp = fx.alice.raw(&fx.sim, "POST", "/order", body.as_bytes()).await;
            assert_eq!(error_of(resp).await, (400, "Invalid payload".to_owned()), "body {body}");
        }
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// A token the exchange does not list: `GET /book` is 404 `No orderbook
/// exists for the requested token id`, a token id that is not a number is
/// 400 `Invalid token id`, and an order for an unknown token is refused 400
/// `Invalid token id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tokens_are_refused() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        let resp = get(&fx.sim, "/book?token_id=12345").await;
        assert_eq!(error_of(resp).await, (404, "No orderbook exists for the requested token id".to_owned()));
        for bad in ["abc", "-1", "0x10", ""] {
            let resp = get(&fx.sim, &format!("/book?token_id={bad}")).await;
            assert_eq!(error_of(resp).await, (400, "Invalid token id".to_owned()), "token_id={bad}");
        }

        // The SDK builds an order for any token it has market data for.
        let unknown = U256::from(12_345u64);
        fx.alice.client.set_tick_size(unknown, SdkTick::Hundredth);
        fx.alice.client.set_neg_risk(unknown, false);
        let order = fx.alice.signed_limit(unknown, SdkSide::Buy, dec!(0.45), dec!(10)).await;
        assert_eq!(fx.post(&order).await, (400, "Invalid token id".to_owned()));
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// A GTC BUY of Yes by Alice with the given amounts, signed with the
/// simulator's own EIP-712 helper (the SDK will not build odd orders), as the
/// JSON body of `POST /order`.
fn hand_signed_buy(fx: &Fixture, salt: u64, maker: u64, taker: u64) -> serde_json::Value {
    use pmbot_sim::auth::order::{ExchangeContracts, OrderType, PostOrder, SignatureType, SignedOrder};
    let info = fx.sim.state.lock().exchange.market(&fx.m.cid).unwrap();
    let domain = ExchangeContracts::POLYGON.domain(info.spec.exchange, info.spec.neg_risk);
    let order = SignedOrder {
        salt: U256::from(salt),
        maker: fx.alice.address,
        signer: fx.alice.address,
        token_id: fx.m.yes_u256(),
        maker_amount: U256::from(maker),
        taker_amount: U256::from(taker),
        side: pmbot_core::Side::Buy,
        signature_type: SignatureType::Eoa,
        timestamp_ms: U256::from(now_s() as u64 * 1000),
        metadata: Default::default(),
        builder: Default::default(),
        expiration_s: 0,
        signature: Default::default(),
    }
    .signed_with(&fx.alice.wallet, &domain)
    .unwrap();
    let post = PostOrder {
        order,
        owner: fx.alice.creds.api_key,
        order_type: OrderType::Gtc,
        post_only: None,
        defer_exec: None,
    };
    serde_json::to_value(&post).unwrap()
}

/// An order whose amounts are zero, validly signed, is refused 400
/// `invalid amounts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_amounts_are_refused() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        for (maker, taker) in [(0u64, 10_000_000u64), (4_000_000, 0), (0, 0)] {
            let body = hand_signed_buy(&fx, 7, maker, taker);
            assert_eq!(fx.post(&body).await, (400, "invalid amounts".to_owned()), "maker {maker} taker {taker}");
        }
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// Shares of a limit BUY have at most 2 decimals: 10.005 shares (signed,
/// on tick at 0.40) is refused with the exchange's `invalid amounts` text
/// (py-clob-client #305) and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_off_the_share_lot_are_refused() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        // 10.005 shares at 0.40 = 4.002 pUSD: exact price, odd lot.
        let (status, msg) = fx.post(&hand_signed_buy(&fx, 9, 4_002_000, 10_005_000)).await;
        assert_eq!(status, 400);
        assert_eq!(
            msg,
            "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals, taker amount a max of 2 decimals"
        );
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// A negative amount is not a uint256: 400 `Invalid payload`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_amount_is_an_invalid_payload() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        for field in ["makerAmount", "takerAmount"] {
            let mut order = fx.alice_order().await;
            order["order"][field] = json!("-4500000");
            assert_eq!(fx.post(&order).await, (400, "Invalid payload".to_owned()), "{field}");
        }
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// An order whose signed amounts imply 0.565 on a 0.01 market (an SDK that
/// believes the tick is 0.001 builds it) is refused with the tick error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_off_the_tick_is_refused() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        fx.alice.client.set_tick_size(fx.m.yes_u256(), SdkTick::Thousandth);
        let order = fx.alice.signed_limit(fx.m.yes_u256(), SdkSide::Buy, dec!(0.565), dec!(10)).await;
        assert_eq!(order["order"]["makerAmount"], "5650000", "the amounts imply 0.565");
        let (status, msg) = fx.post(&order).await;
        assert_eq!(status, 400);
        assert!(msg.contains("Price (0.565) breaks minimum tick size rule: 0.01"), "{msg}");
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// Changing a signed field after signing (here `makerAmount`, which would
/// still be a price on the tick) breaks the signature: 400
/// `invalid signature`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_order_has_an_invalid_signature() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        let mut order = fx.alice_order().await;
        assert_eq!(order["order"]["makerAmount"], "4500000");
        order["order"]["makerAmount"] = json!("4400000");
        assert_eq!(fx.post(&order).await, (400, "invalid signature".to_owned()));
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// The same signed order posted twice: the first is placed, the replay is
/// refused as a duplicate and changes nothing further.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_order_is_refused_as_duplicated() {
    bounded(60, async {
        let fx = fixture().await;
        let order = fx.alice_order().await;
        let first: Value = fx.alice.post_json(&fx.sim, &order).await.json().await.unwrap();
        assert_eq!(first["success"], true, "{first}");
        let before = fx.snapshot();
        let (status, msg) = fx.post(&order).await;
        assert_eq!(status, 400);
        assert!(msg.contains("Duplicated"), "{msg}");
        assert!(msg.contains(first["orderID"].as_str().unwrap()), "names the order: {msg}");
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// A V1-shaped order (signed by the SDK for the V1 exchange: `taker`,
/// `nonce`, `feeRateBps`, no `timestamp`/`metadata`/`builder`) is 400
/// `order_version_mismatch`, the answer that makes clients re-read `/version`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_order_is_a_version_mismatch() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        let mut v1 = OrderV1::default();
        v1.salt = U256::from(42u64);
        v1.maker = fx.alice.address;
        v1.signer = fx.alice.address;
        v1.tokenId = fx.m.yes_u256();
        v1.makerAmount = U256::from(4_500_000u64);
        v1.takerAmount = U256::from(10_000_000u64);
        let signable = SignableOrder::builder().payload(OrderPayload::new_v1(v1)).order_type(SdkOrderType::GTC).build();
        let signed = fx.alice.client.sign(&fx.alice.wallet, signable).await.unwrap();
        let body = serde_json::to_value(&signed).unwrap();
        assert!(body["order"]["feeRateBps"].is_string() && body["order"].get("timestamp").is_none(), "{body}");
        assert_eq!(fx.post(&body).await, (400, "order_version_mismatch".to_owned()));
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// L2 headers signed with the wrong secret, or with a timestamp far from the
/// server's clock, are 401 `Unauthorized/Invalid api key`, on order posts and
/// reads alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_l2_headers_are_unauthorized() {
    bounded(60, async {
        use pmbot_sim::auth::ApiCredentials;
        let fx = fixture().await;
        let before = fx.snapshot();
        let order = serde_json::to_vec(&fx.alice_order().await).unwrap();
        let a = &fx.alice;
        let wrong_secret = ApiCredentials::new(
            a.creds.api_key,
            "c2VjcmV0LXRoYXQtaXMtbm90LWFsaWNlcy0xMjM0NTY=".into(),
            a.creds.passphrase().into(),
        )
        .unwrap();
        let wrong_passphrase =
            ApiCredentials::new(a.creds.api_key, a.creds.secret().into(), "not-the-passphrase".into()).unwrap();
        let cases = [
            ("wrong secret", &wrong_secret, now_s()),
            ("wrong passphrase", &wrong_passphrase, now_s()),
            ("stale timestamp", &a.creds, now_s() - 3_600),
            ("future timestamp", &a.creds, now_s() + 3_600),
        ];
        for (what, creds, ts) in cases {
            for (method, path, body) in [("POST", "/order", order.as_slice()), ("GET", "/data/orders", &[][..])] {
                let headers = a.l2_headers_with(creds, ts, method, path, body);
                let resp = send_raw(&fx.sim, method, path, headers, body).await;
                assert_eq!(
                    error_of(resp).await,
                    (401, "Unauthorized/Invalid api key".to_owned()),
                    "{what}: {method} {path}"
                );
            }
        }
        // The right headers for another body do not carry over.
        let headers = a.l2_headers_with(&a.creds, now_s(), "POST", "/order", b"{}");
        let resp = send_raw(&fx.sim, "POST", "/order", headers, &order).await;
        assert_eq!(error_of(resp).await.0, 401);
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// Bad L1 headers (signed by another wallet, stale, malformed, missing) are
/// 401 `Invalid L1 Request headers`: no API key is created and the account
/// is not opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_l1_headers_are_refused() {
    bounded(60, async {
        use pmbot_sim::auth::l1;
        let fx = fixture().await;
        let before = fx.snapshot();
        let carol = wallet_address(2);
        let nonce = U256::ZERO;
        let signed = |key: &Wallet, ts: i64| l1::sign(key, carol, 137, ts, nonce).unwrap();
        let by_alice = signed(&wallet(0), now_s());
        let stale = signed(&wallet(2), now_s() - 3_600);
        let good = signed(&wallet(2), now_s());
        let cases: [(&str, Vec<(&str, String)>); 5] = [
            ("signed by another wallet", l1_headers(&by_alice)),
            ("stale timestamp", l1_headers(&stale)),
            ("malformed signature", {
                let mut h = l1_headers(&good);
                h[1].1 = "0x1234".into();
                h
            }),
            ("missing signature", l1_headers(&good).into_iter().filter(|(n, _)| *n != "POLY_SIGNATURE").collect()),
            ("other chain", l1_headers(&l1::sign(&wallet(2), carol, 80_002, now_s(), nonce).unwrap())),
        ];
        for (what, headers) in cases {
            for (method, path) in [("POST", "/auth/api-key"), ("GET", "/auth/derive-api-key")] {
                let mut req = http().request(method.parse().unwrap(), format!("http://{}{path}", fx.sim.addr));
                for (n, v) in &headers {
                    req = req.header(*n, v);
                }
                let resp = req.send().await.unwrap();
                assert_eq!(
                    error_of(resp).await,
                    (401, "Invalid L1 Request headers".to_owned()),
                    "{what}: {method} {path}"
                );
            }
        }
        assert_eq!(fx.snapshot(), before, "no key issued, no account opened for Carol");
    })
    .await;
}

fn l1_headers(h: &pmbot_sim::auth::l1::SignedL1Headers) -> Vec<(&'static str, String)> {
    vec![
        ("POLY_ADDRESS", h.address.clone()),
        ("POLY_SIGNATURE", h.signature.clone()),
        ("POLY_TIMESTAMP", h.timestamp.clone()),
        ("POLY_NONCE", h.nonce.clone()),
    ]
}

/// An order signed by Bob's wallet, posted with Alice's API key (and her key
/// as `owner`), is refused: the signer must be the API key's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_signed_by_another_wallet_is_refused() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        let mut order = fx.bob.signed_limit(fx.m.yes_u256(), SdkSide::Buy, dec!(0.45), dec!(10)).await;
        order["owner"] = json!(fx.alice.api_key());
        assert_eq!(
            fx.post(&order).await,
            (400, "the order signer address has to be the address of the API KEY".to_owned())
        );
        // And Alice's own order claiming Bob's key as owner is refused too.
        let mut order = fx.alice_order().await;
        order["owner"] = json!(fx.bob.api_key());
        assert_eq!(fx.post(&order).await, (400, "the order owner has to be the owner of the API KEY".to_owned()));
        assert_eq!(fx.snapshot(), before);
    })
    .await;
}

/// A BUY that would cost more than the free collateral (1,000 pUSD less the
/// 4 held by the resting bid: 0.45 x 2214 = 996.30) is refused `not enough balance / allowance`;
/// so is a SELL of shares the account does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_beyond_the_balance_is_refused() {
    bounded(60, async {
        let fx = fixture().await;
        let before = fx.snapshot();
        let order = fx.alice.signed_limit(fx.m.yes_u256(), SdkSide::Buy, dec!(0.45), dec!(2214)).await;
        assert_eq!(fx.post(&order).await, (400, "not enough balance / allowance".to_owned()));
        let order = fx.alice.signed_limit(fx.m.yes_u256(), SdkSide::Sell, dec!(0.60), dec!(10)).await;
        assert_eq!(fx.post(&order).await, (400, "not enough balance / allowance".to_owned()));
        assert_eq!(fx.snapshot(), before);
        // Just inside the balance is fine: 0.45 x 2213 = 995.85.
        let order = fx.alice.signed_limit(fx.m.yes_u256(), SdkSide::Buy, dec!(0.45), dec!(2213)).await;
        let placed: Value = fx.alice.post_json(&fx.sim, &order).await.json().await.unwrap();
        assert_eq!(placed["success"], true, "{placed}");
        assert_ne!(fx.snapshot(), before, "the snapshot does see a placed order");
    })
    .await;
}
