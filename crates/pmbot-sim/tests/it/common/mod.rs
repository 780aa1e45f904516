//! Shared set-up for the simulator's integration tests: a simulator on an
//! ephemeral loopback port, wallets, and official-SDK clients signed in to it.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::str::FromStr as _;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use pmbot_core::{ConditionId, OrderId, Price, Size, TokenId, Usdc};
use pmbot_sim::auth::ApiCredentials;
use pmbot_sim::auth::l2::{L2Request, sign_headers};
use pmbot_sim::engine::{Address, NewOrder, OrderType};
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::auth::ExposeSecret as _;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{LocalSigner, Normal, Signer as _};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::types::Decimal;
use polymarket_client_sdk_v2::types::U256;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

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

// ---------------------------------------------------------------------------
// Bounded waiting.

/// How long any single expected reply or frame may take on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs a whole test body under a deadline, so a hang fails instead of
/// blocking the suite.
pub async fn bounded<T>(secs: u64, body: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), body).await.expect("test finished within its deadline")
}

// ---------------------------------------------------------------------------
// The engine, driven directly as a house account would.

/// One listed market's ids, read from the engine.
#[derive(Debug, Clone)]
pub struct MarketIds {
    pub cid: ConditionId,
    pub yes: TokenId,
    pub no: TokenId,
}

impl MarketIds {
    pub fn cid_hex(&self) -> String {
        self.cid.to_string()
    }

    pub fn yes_u256(&self) -> U256 {
        U256::from_str(self.yes.as_str()).expect("token id is a uint256")
    }

    pub fn no_u256(&self) -> U256 {
        U256::from_str(self.no.as_str()).expect("token id is a uint256")
    }
}

/// The markets listed now, in listing order.
pub fn markets(sim: &SimHandle) -> Vec<MarketIds> {
    sim.state
        .lock()
        .exchange
        .markets()
        .into_iter()
        .filter(|m| m.accepting_orders)
        .map(|m| MarketIds {
            cid: m.spec.condition_id,
            yes: m.spec.tokens[0].token_id.clone(),
            no: m.spec.tokens[1].token_id.clone(),
        })
        .collect()
}

/// A made-up house address `0xbbbb..` with plenty of collateral.
pub fn house(sim: &SimHandle, byte: u8) -> Address {
    let a = Address::repeat_byte(byte);
    sim.state.fund(a, Usdc::from_whole(100_000)).expect("fund house");
    a
}

static HOUSE_ORDERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Rests (or matches) a GTC order for a house account straight on the
/// engine; the server publishes what it changed. Returns the order id.
pub fn house_order(
    sim: &SimHandle,
    owner: Address,
    token: &TokenId,
    side: pmbot_core::Side,
    price: &str,
    shares: u64,
) -> OrderId {
    let n = HOUSE_ORDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut id = [0u8; 32];
    id[..20].copy_from_slice(owner.as_slice());
    id[24..].copy_from_slice(&n.to_be_bytes());
    let id = pmbot_core::Hash32(id);
    let order = NewOrder {
        id,
        maker: owner,
        owner,
        api_key: format!("house-{owner:#x}"),
        token: token.clone(),
        side,
        price: Price::parse(price).expect("price"),
        size: Size::from_shares(shares),
        order_type: OrderType::Gtc,
        post_only: false,
        expiration_s: 0,
    };
    sim.state.with_exchange(|ex, now| ex.submit(order, now)).expect("house order accepted");
    id
}

/// Cancels house orders straight on the engine.
pub fn house_cancel(sim: &SimHandle, owner: Address, ids: &[OrderId]) {
    let out = sim.state.with_exchange(|ex, now| ex.cancel(owner, ids, now));
    assert_eq!(out.canceled.len(), ids.len(), "house cancel: {out:?}");
}

// ---------------------------------------------------------------------------
// Raw HTTP, with L2 headers signed by the simulator's own helpers.

/// A plain HTTP client; its timeout is far above any delay a test injects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("http client")
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

/// A signed-in trader: its wallet, an SDK client, and its raw credentials.
pub struct Account {
    pub wallet: Wallet,
    pub client: AuthedClient,
    pub creds: ApiCredentials,
    pub address: Address,
}

/// Signs in `KEYS[i]` through the SDK (which creates the key and opens the
/// account with the starting balance).
pub async fn account(sim: &SimHandle, i: usize) -> Account {
    let w = wallet(i);
    let client = authed(sim, &w).await;
    let c = client.credentials();
    let creds =
        ApiCredentials::new(c.key(), c.secret().expose_secret().to_owned(), c.passphrase().expose_secret().to_owned())
            .expect("credentials");
    Account { address: w.address(), wallet: w, client, creds }
}

impl Account {
    pub fn api_key(&self) -> String {
        self.creds.api_key.to_string()
    }

    /// L2 headers for `method path` with `body`, signed now with `creds`.
    pub fn l2_headers_with(
        &self,
        creds: &ApiCredentials,
        timestamp_s: i64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> reqwest::header::HeaderMap {
        let req = L2Request { method, path, body };
        let h = sign_headers(creds, self.address, timestamp_s, &req).expect("sign L2 headers");
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in [
            ("POLY_ADDRESS", h.address),
            ("POLY_SIGNATURE", h.signature),
            ("POLY_TIMESTAMP", h.timestamp),
            ("POLY_API_KEY", h.api_key),
            ("POLY_PASSPHRASE", h.passphrase),
        ] {
            map.insert(name, value.parse().expect("header value"));
        }
        map
    }

    /// An L2-signed request with a raw body, as the SDK would send it.
    pub async fn raw(&self, sim: &SimHandle, method: &str, path: &str, body: &[u8]) -> reqwest::Response {
        let headers = self.l2_headers_with(&self.creds, now_s(), method, path, body);
        send_raw(sim, method, path, headers, body).await
    }

    /// Posts an SDK-signed order's JSON (possibly tampered with) to `/order`.
    pub async fn post_json(&self, sim: &SimHandle, order: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(order).expect("json");
        self.raw(sim, "POST", "/order", &body).await
    }

    /// Signs an order the SDK built (limit or market builder) and returns the
    /// JSON the SDK would post.
    pub async fn sign_json(&self, order: polymarket_client_sdk_v2::clob::types::SignableOrder) -> Value {
        let signed = self.client.sign(&self.wallet, order).await.expect("sign order");
        serde_json::to_value(&signed).expect("SignedOrder serializes")
    }

    /// A limit-builder order of any type (`size` shares at `price`), signed,
    /// as the JSON the SDK would post.
    pub async fn signed_limit_as(
        &self,
        token: U256,
        side: polymarket_client_sdk_v2::clob::types::Side,
        price: Decimal,
        size: Decimal,
        order_type: polymarket_client_sdk_v2::clob::types::OrderType,
    ) -> Value {
        let b = self.client.limit_order().token_id(token).price(price).size(size).side(side).order_type(order_type);
        self.sign_json(b.build().await.expect("build limit order")).await
    }

    /// A market-builder order (`amount` pUSD for a BUY, shares for a SELL)
    /// priced at `price`, signed, as the JSON the SDK would post.
    pub async fn signed_market(
        &self,
        token: U256,
        side: polymarket_client_sdk_v2::clob::types::Side,
        amount: polymarket_client_sdk_v2::clob::types::Amount,
        price: Decimal,
        order_type: polymarket_client_sdk_v2::clob::types::OrderType,
    ) -> Value {
        let b =
            self.client.market_order().token_id(token).amount(amount).price(price).side(side).order_type(order_type);
        self.sign_json(b.build().await.expect("build market order")).await
    }

    /// A limit order built and signed by the SDK, as the JSON the SDK would post.
    pub async fn signed_limit(
        &self,
        token: U256,
        side: polymarket_client_sdk_v2::clob::types::Side,
        price: Decimal,
        size: Decimal,
    ) -> Value {
        let order = self
            .client
            .limit_order()
            .token_id(token)
            .price(price)
            .size(size)
            .side(side)
            .build()
            .await
            .expect("build order");
        let signed = self.client.sign(&self.wallet, order).await.expect("sign order");
        serde_json::to_value(&signed).expect("SignedOrder serializes")
    }
}

pub async fn send_raw(
    sim: &SimHandle,
    method: &str,
    path: &str,
    headers: reqwest::header::HeaderMap,
    body: &[u8],
) -> reqwest::Response {
    let url = format!("http://{}{path}", sim.addr);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    http()
        .request(method, url)
        .headers(headers)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("request sent")
}

/// An unauthenticated GET.
pub async fn get(sim: &SimHandle, path_and_query: &str) -> reqwest::Response {
    http().get(format!("http://{}{path_and_query}", sim.addr)).send().await.expect("request sent")
}

/// An unauthenticated GET's JSON reply.
pub async fn get_json(sim: &SimHandle, path_and_query: &str) -> Value {
    get(sim, path_and_query).await.json().await.expect("JSON reply")
}

/// An admin POST under `/_sim/`.
pub async fn admin_post(sim: &SimHandle, path: &str, body: Value) -> Value {
    let resp = http().post(format!("http://{}{path}", sim.addr)).json(&body).send().await.expect("request sent");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.expect("json reply")
}

/// Replaces the fault plan through the admin endpoint.
pub async fn set_faults(sim: &SimHandle, spec: &str) {
    admin_post(sim, "/_sim/faults", serde_json::json!({ "spec": spec })).await;
}

/// `GET /_sim/faults`'s count for one fault kind.
pub async fn fault_count(sim: &SimHandle, kind: &str) -> u64 {
    let report: Value = get(sim, "/_sim/faults").await.json().await.expect("fault report");
    report["counts"][kind].as_u64().unwrap_or_else(|| panic!("no count for {kind} in {report}"))
}

/// Status and `error` text of an error reply.
pub async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"));
    let msg = v["error"].as_str().unwrap_or_else(|| panic!("{status}: no error field: {text}")).to_owned();
    (status, msg)
}

/// Status and message of an SDK call the server refused: the `error` text
/// when the body (which the SDK keeps verbatim) is `{"error": ...}`, else
/// the whole body.
pub fn sdk_status(err: &polymarket_client_sdk_v2::error::Error) -> (u16, String) {
    let s = err
        .downcast_ref::<polymarket_client_sdk_v2::error::Status>()
        .unwrap_or_else(|| panic!("not an HTTP status error: {err:?}"));
    let message = serde_json::from_str::<Value>(&s.message)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| s.message.clone());
    (s.status_code.as_u16(), message)
}

// ---------------------------------------------------------------------------
// A raw WebSocket client (tokio-tungstenite), to see frames exactly as sent.

type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the next read on a connection gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Text(String),
    /// A close frame, the end of the stream, or a broken connection.
    Closed,
    /// Nothing within the time allowed.
    Silent,
}

pub struct WsConn {
    ws: RawWs,
}

impl WsConn {
    pub async fn connect(sim: &SimHandle, channel: &str) -> WsConn {
        let url = format!("{}/ws/{channel}", sim.ws_url());
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        WsConn { ws }
    }

    pub async fn market(sim: &SimHandle) -> WsConn {
        WsConn::connect(sim, "market").await
    }

    pub async fn user(sim: &SimHandle) -> WsConn {
        WsConn::connect(sim, "user").await
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.expect("send");
    }

    pub async fn send_json(&mut self, v: &Value) {
        self.send(&v.to_string()).await;
    }

    /// The next text frame, a close, or silence after `within`. Control
    /// frames are skipped (tungstenite answers pings itself).
    pub async fn next(&mut self, within: Duration) -> Incoming {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Incoming::Silent,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Incoming::Closed,
                Ok(Some(Ok(Message::Text(t)))) => return Incoming::Text(t.to_string()),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next text frame; panics on silence or a close.
    pub async fn recv(&mut self) -> String {
        match self.next(WAIT).await {
            Incoming::Text(t) => t,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    pub async fn recv_json(&mut self) -> Value {
        let t = self.recv().await;
        serde_json::from_str(&t).unwrap_or_else(|e| panic!("frame is not JSON ({e}): {t}"))
    }

    /// JSON frames up to and including the first one `stop` accepts.
    pub async fn recv_until(&mut self, mut stop: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let v = self.recv_json().await;
            let done = stop(&v);
            seen.push(v);
            if done {
                return seen;
            }
        }
    }

    /// Sends `PING` and waits for its `PONG`, returning the frames that came
    /// before it. The server handles a connection's messages in order, so
    /// once the `PONG` is back every earlier message has taken effect.
    pub async fn sync(&mut self) -> Vec<String> {
        self.send("PING").await;
        let mut before = Vec::new();
        loop {
            let t = self.recv().await;
            if t == "PONG" {
                return before;
            }
            before.push(t);
        }
    }

    /// Asserts the connection is closed by the server without sending
    /// another text frame.
    pub async fn expect_closed(&mut self) {
        match self.next(WAIT).await {
            Incoming::Closed => {}
            other => panic!("expected the server to close the connection, got {other:?}"),
        }
    }

    /// Asserts nothing arrives for `d` and the connection stays open.
    pub async fn expect_silence(&mut self, d: Duration) {
        match self.next(d).await {
            Incoming::Silent => {}
            other => panic!("expected silence for {d:?}, got {other:?}"),
        }
    }
}

/// A market-channel subscription message.
pub fn market_sub(tokens: &[&TokenId], custom: bool) -> Value {
    let ids: Vec<&str> = tokens.iter().map(|t| t.as_str()).collect();
    let mut v = serde_json::json!({"assets_ids": ids, "type": "market"});
    if custom {
        v["custom_feature_enabled"] = Value::Bool(true);
    }
    v
}

/// A user-channel subscription message for `account` (empty `markets` = all).
pub fn user_sub(creds: &ApiCredentials, markets: &[&MarketIds]) -> Value {
    let ids: Vec<String> = markets.iter().map(|m| m.cid_hex()).collect();
    serde_json::json!({
        "auth": {"apiKey": creds.api_key.to_string(), "secret": creds.secret(), "passphrase": creds.passphrase()},
        "markets": ids,
        "type": "user",
    })
}

/// A decimal from a JSON string field ("0.4", "10").
pub fn dec_of(v: &Value) -> Decimal {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    Decimal::from_str(s).unwrap_or_else(|_| panic!("not a decimal: {s}"))
}

pub fn event_type(v: &Value) -> &str {
    v["event_type"].as_str().unwrap_or("")
}

/// Whether `frame` is a well-formed market-channel frame as the simulator
/// sends it: a `book` or `price_change` object (or an array of them) with
/// every field present and of the right type. Every value in these messages
/// is a string, so a truncated frame, garbage, or one value of another type
/// all fail.
pub fn is_valid_market_frame(frame: &str) -> bool {
    fn strings(o: &serde_json::Map<String, Value>, keys: &[&str]) -> bool {
        o.len() == keys.len() && keys.iter().all(|k| o.get(*k).is_some_and(Value::is_string))
    }
    fn levels(v: Option<&Value>) -> bool {
        v.and_then(Value::as_array)
            .is_some_and(|ls| ls.iter().all(|l| l.as_object().is_some_and(|o| strings(o, &["price", "size"]))))
    }
    fn message(v: &Value) -> bool {
        let Some(o) = v.as_object() else { return false };
        match o.get("event_type").and_then(Value::as_str) {
            Some("book") => {
                let mut scalars = o.clone();
                let (bids, asks) = (scalars.remove("bids"), scalars.remove("asks"));
                levels(bids.as_ref())
                    && levels(asks.as_ref())
                    && strings(
                        &scalars,
                        &["event_type", "asset_id", "market", "timestamp", "hash", "tick_size", "last_trade_price"],
                    )
            }
            Some("price_change") => {
                let mut scalars = o.clone();
                let entries = scalars.remove("price_changes");
                strings(&scalars, &["event_type", "market", "timestamp"])
                    && entries.as_ref().and_then(Value::as_array).is_some_and(|es| {
                        !es.is_empty()
                            && es.iter().all(|e| {
                                e.as_object().is_some_and(|o| {
                                    strings(o, &["asset_id", "price", "size", "side", "hash", "best_bid", "best_ask"])
                                })
                            })
                    })
            }
            _ => false,
        }
    }
    match serde_json::from_str::<Value>(frame) {
        Ok(Value::Array(items)) => !items.is_empty() && items.iter().all(message),
        Ok(v) => message(&v),
        Err(_) => false,
    }
}
