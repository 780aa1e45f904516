//! The simulator's network face: an axum server on loopback speaking the CLOB
//! REST API and the market/user WebSocket channels.
//!
//! One mutex guards the whole exchange (engine, market source, API keys,
//! heartbeats, fault plan, rate limiter). Every request and every driver step
//! takes it briefly, mutates, drains the engine's events and publishes the
//! resulting frames on two broadcast channels before letting go, so frames
//! leave in the order the changes happened. Nothing awaits while holding it.

mod driver;
mod error;
mod publish;
mod rest;
mod tape;
pub mod wire;
mod ws;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::{delete, get, post};
use pmbot_core::{Clock, TokenId, Usdc};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub(crate) use driver::apply_actions;
pub use error::{ApiError, ErrorBody};
pub(crate) use publish::render as render_frames;
pub use publish::{MarketFrame, UserFrame};

use crate::auth::{ApiKeyStore, ServerSeed};
use crate::config::SimConfig;
use crate::engine::{Address, Exchange};
use crate::faults::{FaultInjector, FaultSpec, WsConnFaults};
use crate::model::MarketSource;
use crate::ratelimit::RateLimiter;

/// Wall-clock time for a live simulator; tests of timing logic use the
/// engine directly with explicit times instead.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("system clock is after 1970");
        i64::try_from(d.as_millis()).expect("time fits in i64 ms")
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("refusing to bind {0}: the simulator only listens on loopback addresses")]
    NotLoopback(std::net::IpAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("bad simulator configuration: {0}")]
    Config(String),
    #[error("market source: {0}")]
    Source(String),
}

/// Counters exposed on `GET /_sim/stats` and to tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub ws_connections: AtomicU64,
    pub rest_requests: AtomicU64,
    pub orders_accepted: AtomicU64,
    pub orders_rejected: AtomicU64,
    pub source_rejects: AtomicU64,
    pub heartbeat_cancels: AtomicU64,
}

/// Everything behind the simulator's lock.
pub struct Sim {
    pub exchange: Exchange,
    pub source: Box<dyn MarketSource>,
    pub keys: ApiKeyStore,
    pub heartbeats: driver::Heartbeats,
    pub tape: tape::Tape,
    /// Addresses already given their starting balance.
    pub funded: std::collections::BTreeSet<Address>,
}

/// Shared state of a running simulator.
pub struct SimState {
    sim: Mutex<Sim>,
    pub(crate) market_tx: broadcast::Sender<Arc<MarketFrame>>,
    pub(crate) user_tx: broadcast::Sender<Arc<UserFrame>>,
    clock: Arc<dyn Clock>,
    pub config: SimConfig,
    pub stats: Stats,
    /// The fault plan; shared by every connection and request (it keeps its
    /// own counters and seeded random streams).
    pub faults: FaultInjector,
    limiter: Mutex<RateLimiter>,
    /// While set, the market source is not stepped (its markets freeze;
    /// timers, clients and the heartbeat watchdog carry on). Tests use it to
    /// compare books at a quiet moment.
    source_paused: std::sync::atomic::AtomicBool,
}

impl SimState {
    pub(crate) fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Locks the simulator. A panic while holding the lock is a bug; the
    /// state is still consistent enough to keep serving, so poisoning is
    /// ignored rather than taking the whole exchange down.
    pub fn lock(&self) -> MutexGuard<'_, Sim> {
        self.sim.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drains the engine's events and publishes them; call with the lock held,
    /// after every mutation.
    pub(crate) fn publish(&self, sim: &mut Sim) {
        let events = sim.exchange.drain_events();
        if events.is_empty() {
            return;
        }
        sim.tape.record(&events);
        let frames = publish::render(events, &sim.exchange, self.now_ms());
        for f in frames.market {
            // No receivers is fine: nobody is subscribed yet.
            let _ = self.market_tx.send(Arc::new(f));
        }
        for f in frames.user {
            let _ = self.user_tx.send(Arc::new(f));
        }
    }

    pub(crate) fn ws_faults(&self) -> WsConnFaults {
        self.faults.ws_connection(self.now_ms())
    }

    pub(crate) fn book_dump(&self, ids: &[TokenId]) -> Vec<Value> {
        ws::dump_books(&self.lock().exchange, ids)
    }

    /// The account behind user-channel credentials, if they are right.
    pub(crate) fn ws_user_auth(&self, api_key: &str, secret: &str, passphrase: &str) -> Option<Address> {
        let key: uuid::Uuid = api_key.trim().parse().ok()?;
        let sim = self.lock();
        let record = sim.keys.get(&key)?;
        let creds = record.credentials();
        let same = |a: &str, b: &str| bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()));
        (same(creds.secret(), secret) & same(creds.passphrase(), passphrase)).then_some(record.address)
    }

    /// Credits collateral to an account (the admin endpoint and `--fund`).
    pub fn fund(&self, account: Address, amount: Usdc) -> Result<(), crate::engine::Reject> {
        let mut sim = self.lock();
        sim.exchange.fund(account, amount)?;
        self.publish(&mut sim);
        Ok(())
    }

    /// Runs `f` on the engine at the current time and publishes what it
    /// changed: how tests and tools act on the exchange directly (as a house
    /// account would) without going through REST.
    pub fn with_exchange<R>(&self, f: impl FnOnce(&mut Exchange, i64) -> R) -> R {
        let mut sim = self.lock();
        // Read the clock under the lock, so the engine's times never go back.
        let now = self.now_ms();
        let out = f(&mut sim.exchange, now);
        self.publish(&mut sim);
        out
    }

    /// The slugs of the markets accepting orders: what a client names with
    /// `--market`.
    pub fn open_market_slugs(&self) -> Vec<String> {
        self.lock().exchange.markets().iter().filter(|m| m.accepting_orders).map(|m| m.spec.slug.clone()).collect()
    }

    /// Pauses or resumes the market source.
    pub fn pause_source(&self, paused: bool) {
        self.source_paused.store(paused, Ordering::SeqCst);
    }

    pub(crate) fn source_paused(&self) -> bool {
        self.source_paused.load(Ordering::SeqCst)
    }

    /// Replaces the fault plan.
    pub fn set_faults(&self, spec: FaultSpec) {
        self.faults.set_spec(spec);
    }
}

/// A running simulator. Dropping it leaves the server running until the
/// runtime ends; call [`SimHandle::shutdown`] to stop it cleanly.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    driver: JoinHandle<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT/`, the CLOB REST base URL.
    pub fn rest_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `ws://127.0.0.1:PORT`, the WebSocket base; clients append `/ws/market` or `/ws/user`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Stops serving and waits for the tasks to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let _ = self.driver.await;
    }
}

/// Starts a simulator with `config` on a loopback port (0 = any free port).
pub async fn start(config: SimConfig) -> Result<SimHandle, StartError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// As [`start`], with a replaceable clock.
pub async fn start_with_clock(config: SimConfig, clock: Arc<dyn Clock>) -> Result<SimHandle, StartError> {
    if !config.host.is_loopback() {
        return Err(StartError::NotLoopback(config.host));
    }
    let now = clock.now_ms();
    let source = config.build_source(now).map_err(StartError::Source)?;
    let faults = FaultInjector::new(config.faults.clone(), config.seed);
    let mut exchange = Exchange::new(config.engine_config());
    if config.starting_balance.is_negative() {
        return Err(StartError::Config("starting_balance must not be negative".into()));
    }
    for (account, amount) in config.fund_entries().map_err(StartError::Config)? {
        exchange.fund(account, amount).map_err(|e| StartError::Config(format!("fund {account}: {e}")))?;
    }
    let sim = Sim {
        exchange,
        source,
        keys: ApiKeyStore::new(ServerSeed::from_u64(config.seed)),
        heartbeats: driver::Heartbeats::default(),
        tape: tape::Tape::default(),
        funded: Default::default(),
    };
    let limiter = RateLimiter::new(config.rate_limits.clone()).map_err(|e| StartError::Config(e.to_string()))?;
    let (market_tx, _) = broadcast::channel(1 << 16);
    let (user_tx, _) = broadcast::channel(1 << 14);
    let state = Arc::new(SimState {
        sim: Mutex::new(sim),
        market_tx,
        user_tx,
        clock,
        config: config.clone(),
        stats: Stats::default(),
        faults,
        limiter: Mutex::new(limiter),
        source_paused: Default::default(),
    });
    // The first step lists the markets, so clients see books from the start.
    driver::step(&state);

    let addr = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
    let (stop, stop_rx) = watch::channel(false);

    let app = router(state.clone());
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = server_stop.wait_for(|s| *s).await;
        };
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
    });
    let driver = tokio::spawn(driver::run(state.clone(), stop_rx));
    Ok(SimHandle { addr, state, stop, server, driver })
}

fn router(state: Arc<SimState>) -> Router {
    use rest::{account, admin, auth as keys, market as mkt, orders};
    Router::new()
        .route("/", get(mkt::ok))
        .route("/ok", get(mkt::ok))
        .route("/time", get(mkt::time))
        .route("/version", get(mkt::version))
        .route("/markets", get(mkt::markets))
        .route("/markets/{condition_id}", get(mkt::market))
        .route("/sampling-markets", get(mkt::markets))
        .route("/simplified-markets", get(mkt::simplified_markets))
        .route("/sampling-simplified-markets", get(mkt::simplified_markets))
        .route("/clob-markets/{condition_id}", get(mkt::clob_market))
        .route("/markets-by-token/{token_id}", get(mkt::market_by_token))
        .route("/book", get(mkt::book))
        .route("/books", post(mkt::books))
        .route("/midpoint", get(mkt::midpoint))
        .route("/midpoints", post(mkt::midpoints))
        .route("/price", get(mkt::price))
        .route("/prices", post(mkt::prices))
        .route("/spread", get(mkt::spread))
        .route("/spreads", post(mkt::spreads))
        .route("/last-trade-price", get(mkt::last_trade_price))
        .route("/last-trades-prices", get(mkt::last_trades_prices).post(mkt::last_trades_prices))
        .route("/tick-size", get(mkt::tick_size))
        .route("/neg-risk", get(mkt::neg_risk))
        .route("/fee-rate", get(mkt::fee_rate))
        .route("/prices-history", get(mkt::prices_history))
        .route("/gamma/markets", get(mkt::gamma_markets))
        .route("/auth/api-key", post(keys::create_api_key).delete(keys::delete_api_key))
        .route("/auth/derive-api-key", get(keys::derive_api_key))
        .route("/auth/api-keys", get(keys::api_keys))
        .route("/auth/ban-status/closed-only", get(keys::closed_only))
        .route("/order", post(orders::post_order).delete(orders::cancel_order))
        .route("/orders", post(orders::post_orders).delete(orders::cancel_orders))
        .route("/cancel-all", delete(orders::cancel_all))
        .route("/cancel-market-orders", delete(orders::cancel_market_orders))
        .route("/data/order/{order_id}", get(account::order))
        .route("/data/orders", get(account::orders))
        .route("/data/trades", get(account::trades))
        .route("/balance-allowance", get(account::balance_allowance))
        .route("/balance-allowance/update", get(account::balance_allowance))
        .route("/v1/heartbeats", post(account::heartbeat))
        .route("/heartbeats", post(account::legacy_heartbeat))
        .route("/ws/market", get(ws::market_ws))
        .route("/ws/user", get(ws::user_ws))
        .route("/_sim/faults", get(admin::get_faults).post(admin::set_faults))
        .route("/_sim/fund", post(admin::fund))
        .route("/_sim/resolve", post(admin::resolve))
        .route("/_sim/redeem", post(admin::redeem))
        .route("/_sim/approve", post(admin::approve))
        .route("/_sim/stats", get(admin::stats))
        .fallback(rest::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), rest::faults_and_limits))
        .with_state(state)
}

/// Counts a REST request (used by the fault/limit middleware).
pub(crate) fn count_request(state: &SimState) {
    state.stats.rest_requests.fetch_add(1, Ordering::Relaxed);
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle").finish_non_exhaustive()
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState").finish_non_exhaustive()
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").finish_non_exhaustive()
    }
}
