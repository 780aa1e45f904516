//! Shared set-up for the order gateway's tests: a quiet simulator on
//! loopback, a gateway signed in to it, a budget-based balance check, a TCP
//! proxy that refuses or drops connections, and ways to read the
//! simulator's own view of our orders.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use pmbot_core::events::{DecisionContext, OrderIntent, OrderType};
use pmbot_core::{ClientOrderId, OrderId, OrderStatus, Price, Side, Size, TokenId, Usdc};
use pmbot_sim::engine::{Address, NewOrder, OrderType as SimOrderType, Query};
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_venue::SystemClock;
use pmbot_venue::gateway::{
    BalanceCheck, BalanceQuery, BalanceRefusal, BalanceRefusalKind, GatewayConfig, GatewayDeps, MemoryOrderLog,
    PrivateKey, RateConfig, RetryConfig, StartError, Started, UserChannelConfig,
};
use pmbot_venue::marketdata::backoff::BackoffConfig;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Anvil's development keys (never hold real funds with these).
pub const KEYS: [&str; 2] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
];

/// Runs `f` with a deadline, so a hung test fails instead of hanging CI.
pub async fn bounded<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("test finished within its deadline")
}

/// Synthetic markets with no house participants: books stay empty unless a
/// test trades, so every order and fill is one the test made.
pub fn quiet_sim(markets: u32) -> SimConfig {
    let mut s = SyntheticConfig { markets, market_duration_ms: 60 * 60_000, ..SyntheticConfig::default() };
    s.makers.count = 0;
    s.noise.arrivals_per_min = 0.0;
    s.informed.enabled = false;
    SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() }
}

pub async fn start_sim(cfg: SimConfig) -> SimHandle {
    pmbot_sim::start(cfg).await.expect("simulator starts")
}

/// A directory of its own for one test (kill switch files).
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-gw-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A gateway configuration aimed at `rest` / `ws`, with fast timers.
pub fn gateway_cfg(rest: &str, ws: &str, dir: &std::path::Path) -> GatewayConfig {
    GatewayConfig {
        clob_url: rest.to_owned(),
        ws_url: ws.to_owned(),
        request_timeout: Duration::from_secs(1),
        retry: RetryConfig {
            attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(3),
        },
        order_rate: RateConfig { per_second: 1_000, burst: 1_000 },
        cancel_rate: RateConfig { per_second: 1_000, burst: 1_000 },
        kill_switch: dir.join(".kill_switch"),
        heartbeat_interval: Duration::from_millis(300),
        lookup_tries: 3,
        lookup_interval: Duration::from_millis(50),
        pending_sweep: Duration::from_millis(500),
        user_channel: UserChannelConfig {
            enabled: true,
            ping_interval: Duration::from_millis(500),
            pong_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            backoff: BackoffConfig {
                initial: Duration::from_millis(50),
                cap: Duration::from_millis(300),
                reset_after: Duration::from_secs(60),
            },
        },
        ..GatewayConfig::default()
    }
}

pub fn sim_cfg(sim: &SimHandle, dir: &std::path::Path) -> GatewayConfig {
    gateway_cfg(&sim.rest_url(), &sim.ws_url(), dir)
}

/// A balance check with a pUSD budget: refuses an order whose cost plus open
/// commitments exceeds it. Counts checks and refreshes, and keeps the
/// queries it was asked.
#[derive(Debug, Default)]
pub struct Budget {
    pub limit: Mutex<Option<Usdc>>,
    pub queries: Mutex<Vec<BalanceQuery>>,
    pub checks: AtomicU64,
    pub refreshes: AtomicU64,
    pub unavailable: AtomicBool,
}

impl Budget {
    pub fn unlimited() -> Arc<Budget> {
        Arc::new(Budget::default())
    }

    pub fn of(limit: Usdc) -> Arc<Budget> {
        Arc::new(Budget { limit: Mutex::new(Some(limit)), ..Budget::default() })
    }
}

impl BalanceCheck for Budget {
    fn check<'a>(&'a self, q: &'a BalanceQuery) -> BoxFuture<'a, Result<(), BalanceRefusal>> {
        Box::pin(async move {
            self.checks.fetch_add(1, Ordering::SeqCst);
            self.queries.lock().unwrap().push(q.clone());
            if self.unavailable.load(Ordering::SeqCst) {
                return Err(BalanceRefusal { kind: BalanceRefusalKind::Unavailable, detail: "RPC down".into() });
            }
            let limit = *self.limit.lock().unwrap();
            match limit {
                Some(l) if q.cost + q.open_buy_commitments > l => Err(BalanceRefusal {
                    kind: BalanceRefusalKind::Insufficient,
                    detail: format!("need {} + {} committed, have {l}", q.cost, q.open_buy_commitments),
                }),
                _ => Ok(()),
            }
        })
    }

    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
        })
    }
}

/// Starts a gateway for `KEYS[key]` with a memory journal and `balance`.
pub async fn start_gateway(
    cfg: GatewayConfig,
    key: usize,
    log: &MemoryOrderLog,
    balance: Arc<Budget>,
) -> Result<Started, StartError> {
    let deps = GatewayDeps { log: Box::new(log.clone()), balance, clock: Arc::new(SystemClock) };
    let key = PrivateKey::given(SecretString::from(KEYS[key].to_owned()));
    pmbot_venue::gateway::Gateway::start_with_key(cfg, key, deps).await
}

/// The tokens of the listed markets: (yes, no) pairs.
pub fn tokens(sim: &SimHandle) -> Vec<(TokenId, TokenId)> {
    sim.state
        .lock()
        .exchange
        .markets()
        .into_iter()
        .filter(|m| m.accepting_orders)
        .map(|m| (m.spec.tokens[0].token_id.clone(), m.spec.tokens[1].token_id.clone()))
        .collect()
}

pub fn intent(cid: &str, token: &TokenId, side: Side, price: &str, shares: u64) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(cid).unwrap(),
        token: token.clone(),
        side,
        limit_price: Price::parse(price).unwrap(),
        size: Size::from_shares(shares),
        order_type: OrderType::Gtc,
        post_only: false,
        expires_at: None,
        decision: DecisionContext::default(),
    }
}

/// The simulator's counters.
pub async fn sim_stats(sim: &SimHandle) -> serde_json::Value {
    reqwest::get(format!("{}_sim/stats", sim.rest_url())).await.unwrap().json().await.unwrap()
}

pub fn accepted(sim: &SimHandle) -> u64 {
    sim.state.stats.orders_accepted.load(Ordering::SeqCst)
}

/// The simulator's record of an order: (status, size_matched).
pub fn sim_order(sim: &SimHandle, id: &OrderId) -> Option<(pmbot_sim::engine::OrderStatus, Size)> {
    sim.state.lock().exchange.order(id).map(|o| (o.status, o.size_matched))
}

pub fn sim_open(sim: &SimHandle, owner: Address) -> Vec<OrderId> {
    sim.state.lock().exchange.open_orders(owner, &Query::default()).into_iter().map(|o| o.id).collect()
}

/// What pmbot's status should be for the simulator's record.
pub fn expected_status(sim_status: pmbot_sim::engine::OrderStatus, matched: Size, size: Size) -> OrderStatus {
    use pmbot_sim::engine::OrderStatus as S;
    match sim_status {
        _ if matched == size => OrderStatus::Filled,
        S::Live if matched.is_zero() => OrderStatus::Acknowledged,
        S::Live => OrderStatus::PartiallyFilled,
        S::Matched => OrderStatus::Filled,
        S::Canceled | S::Unmatched => OrderStatus::Cancelled,
    }
}

/// Waits up to `secs` for `f` to hold.
pub async fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

static HOUSE_ORDERS: AtomicU64 = AtomicU64::new(1);

/// Rests (or matches) a GTC order for a house account straight on the engine.
pub fn house_order(sim: &SimHandle, owner: Address, token: &TokenId, side: Side, price: &str, shares: u64) -> OrderId {
    let n = HOUSE_ORDERS.fetch_add(1, Ordering::Relaxed);
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
        price: Price::parse(price).unwrap(),
        size: Size::from_shares(shares),
        order_type: SimOrderType::Gtc,
        post_only: false,
        expiration_s: 0,
    };
    sim.state.with_exchange(|ex, now| ex.submit(order, now)).expect("house order accepted");
    id
}

/// A house account's fill-and-kill BUY straight on the engine: takes what
/// it can at `price` or better, rests nothing. `false` if nothing matched.
pub fn house_take(sim: &SimHandle, owner: Address, token: &TokenId, price: &str, shares: u64) -> bool {
    let n = HOUSE_ORDERS.fetch_add(1, Ordering::Relaxed);
    let mut id = [0u8; 32];
    id[..20].copy_from_slice(owner.as_slice());
    id[24..].copy_from_slice(&n.to_be_bytes());
    let order = NewOrder {
        id: pmbot_core::Hash32(id),
        maker: owner,
        owner,
        api_key: format!("house-{owner:#x}"),
        token: token.clone(),
        side: Side::Buy,
        price: Price::parse(price).unwrap(),
        size: Size::from_shares(shares),
        order_type: SimOrderType::Fak,
        post_only: false,
        expiration_s: 0,
    };
    sim.state.with_exchange(|ex, now| ex.submit(order, now)).is_ok()
}

pub fn house(sim: &SimHandle, byte: u8) -> Address {
    let a = Address::repeat_byte(byte);
    sim.state.fund(a, Usdc::from_whole(100_000)).expect("fund house");
    a
}

// ---------------------------------------------------------------------------
// A TCP proxy in front of the simulator's REST port.

/// Forwards bytes both ways. It can refuse connections (nothing listening),
/// and drop a connection at a chunk with a probability: a request chunk is
/// then never forwarded (the exchange does not get it), a reply chunk never
/// delivered (the exchange did handle it).
pub struct Proxy {
    pub port: u16,
    upstream: std::net::SocketAddr,
    state: Arc<ProxyState>,
    accept: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Default)]
struct ProxyState {
    /// Drop probability per chunk, in parts per million.
    drop_ppm: AtomicU64,
    generation: AtomicU64,
    pub drops: AtomicU64,
    seed: AtomicU64,
}

impl ProxyState {
    fn roll(&self) -> bool {
        let ppm = self.drop_ppm.load(Ordering::Relaxed);
        if ppm == 0 {
            return false;
        }
        // splitmix64 over a shared counter: deterministic enough, no locks.
        let mut z = self.seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z % 1_000_000 < ppm
    }
}

impl Proxy {
    pub async fn start(upstream: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let p = Proxy { port, upstream, state: Arc::new(ProxyState::default()), accept: Mutex::new(None) };
        p.serve(listener);
        p
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn serve(&self, listener: TcpListener) {
        let state = self.state.clone();
        let upstream = self.upstream;
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let state = state.clone();
                tokio::spawn(pump(client, upstream, state));
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    pub fn set_drop_probability(&self, p: f64) {
        self.state.drop_ppm.store((p * 1_000_000.0) as u64, Ordering::Relaxed);
    }

    pub fn drops(&self) -> u64 {
        self.state.drops.load(Ordering::Relaxed)
    }

    /// Stops listening (connections are refused) and cuts every live
    /// connection; or listens again on the same port.
    pub async fn set_refusing(&self, refusing: bool) {
        if refusing {
            let task = self.accept.lock().unwrap().take();
            if let Some(t) = task {
                t.abort();
                let _ = t.await;
            }
            self.state.generation.fetch_add(1, Ordering::SeqCst);
        } else {
            let listener = TcpListener::bind(("127.0.0.1", self.port)).await.expect("rebind the proxy port");
            self.serve(listener);
        }
    }
}

async fn pump(mut client: TcpStream, upstream: std::net::SocketAddr, state: Arc<ProxyState>) {
    let generation = state.generation.load(Ordering::SeqCst);
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let mut a = vec![0u8; 64 * 1024];
    let mut b = vec![0u8; 64 * 1024];
    loop {
        if state.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        tokio::select! {
            n = client.read(&mut a) => {
                let Ok(n) = n else { return };
                if n == 0 || state.roll() {
                    if n > 0 { state.drops.fetch_add(1, Ordering::Relaxed); }
                    return;
                }
                if server.write_all(&a[..n]).await.is_err() { return; }
            }
            n = server.read(&mut b) => {
                let Ok(n) = n else { return };
                if n == 0 || state.roll() {
                    if n > 0 { state.drops.fetch_add(1, Ordering::Relaxed); }
                    return;
                }
                if client.write_all(&b[..n]).await.is_err() { return; }
            }
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// Journal sends by client id: how many distinct hashes each intent had.
pub fn hashes_by_intent(log: &MemoryOrderLog) -> BTreeMap<ClientOrderId, Vec<OrderId>> {
    let mut m: BTreeMap<ClientOrderId, Vec<OrderId>> = BTreeMap::new();
    for p in log.snapshot().sends {
        let v = m.entry(p.client_order_id.clone()).or_default();
        if !v.contains(&p.order_hash) {
            v.push(p.order_hash);
        }
    }
    m
}
