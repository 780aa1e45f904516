//! The order gateway: approved intents in, orders on the exchange, never two
//! for one intent.
//!
//! Invariants:
//! - **Journal first.** An order is written to the [`OrderLog`] before a byte
//!   of it is sent; if the write fails it is not sent.
//! - **One order per intent.** An intent's signed bytes are fixed once; they
//!   are re-sent only when the exchange certainly did not take them
//!   (connection refused, 429) or after look-ups found nothing, and then only
//!   as the identical bytes. The exchange refuses a second copy of a hash, so
//!   a re-post can never make a second order. The one exception, a price off
//!   a changed tick grid, is rebuilt once after the exchange *refused* it.
//! - **Checked per order, in order:** kill switch file (not cached), halt
//!   (after a fatal answer), heartbeat health, balance, rate limit.
//! - **Ambiguity is resolved, not guessed:** a post that timed out or got a
//!   5xx/425 is looked up by its hash; an order whose fate stays unknown is
//!   kept as `UnknownPendingReconcile` and looked up again until known.
//!
//! Parts: [`config`] (settings), [`secrets`] (the key), [`log`] (the journal
//! seam), [`balance`] (the pre-check seam), [`exchange_balance`] (a
//! simulated exchange's ledger as the pre-check), [`order`] (SDK build, sign,
//! hash), [`transport`] (L2-signed REST), [`classify`] (what a reply means),
//! [`limits`] (rate limits), [`wire`] (exchange records), `place`,
//! `cancel`, `heartbeat`, `user` (the user channel), `reconcile`.

pub mod alert;
pub mod balance;
mod cancel;
pub mod classify;
pub mod config;
pub mod exchange_balance;
pub mod execution;
mod heartbeat;
pub mod limits;
pub mod log;
pub mod order;
mod place;
mod reconcile;
pub mod secrets;
mod settle;
mod tracker;
pub mod transport;
mod user;
pub mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alloy_signer_local::Secp256k1Signer;
use pmbot_core::backoff::{self, Jitter};
use pmbot_core::events::OrderIntent;
use pmbot_core::{ClientOrderId, Clock, ConditionId, FeeModel, OrderId, Size, TickSize, TimestampMs, TokenId};
use polymarket_client_sdk_v2::clob::types::SignatureType;
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::sync::{Notify, mpsc, watch};

pub use alert::GatewayAlert;
pub use balance::{BalanceCheck, BalanceQuery, BalanceRefusal, BalanceRefusalKind};
pub use cancel::CancelReport;
pub use classify::{PostOutcome, RefusalKind};
pub use config::{GatewayConfig, RateConfig, RetryConfig, SignatureKind, UserChannelConfig};
pub use exchange_balance::{ExchangeBalance, ExchangeBalanceError};
pub use execution::{Forwarding, Learning, LiveExecution};
pub use heartbeat::HeartbeatHealth;
pub use log::{LoggedOrder, MemoryLogState, MemoryOrderLog, OrderLog, OrderLogError, PreparedOrder};
pub use order::SdkClient;
pub use reconcile::{ReconcileReport, UnmappedOrder};
pub use secrets::{KeySource, PRIVATE_KEY_ENV, PrivateKey, SecretError};
pub use tracker::OrderView;
pub use user::UserChannelHealth;

use self::limits::Limiter;
use self::tracker::Tracker;
use self::transport::Transport;

/// An order the gateway placed (or may have placed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub client_order_id: ClientOrderId,
    /// The EIP-712 hash: the exchange's orderID.
    pub order_id: OrderId,
    /// `UnknownPendingReconcile` if every look-up and re-post left its fate
    /// open; it is looked up again in the background.
    pub status: pmbot_core::OrderStatus,
    /// The fills seen when the post was answered. For a FAK or FOK the
    /// reply comes before its trades (a `matched` order reads `Cancelled`
    /// with nothing filled until they arrive): [`Gateway::settled`] waits
    /// for the exchange's record.
    pub filled: Size,
    /// How many times the (identical) order was posted.
    pub posts: u32,
    /// Set when the exchange refused the first build for its tick and the
    /// order was rebuilt on this tick.
    pub rebuilt_on_tick: Option<TickSize>,
}

/// Why an intent was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("kill switch {0} is present")]
    KillSwitch(PathBuf),
    #[error("trading is halted: {0}")]
    Halted(String),
    #[error("the order-safety heartbeat is failing while orders rest: {0}")]
    HeartbeatFailing(String),
    #[error("balance check: {0}")]
    Balance(BalanceRefusal),
    #[error("invalid order: {0}")]
    Invalid(String),
    #[error("an order was already placed for intent {0}")]
    DuplicateIntent(ClientOrderId),
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("refused before sending: {0}")]
    Refused(Refusal),
    #[error("the exchange refused {client_order_id} ({kind:?}): {message}")]
    ExchangeRefused { client_order_id: ClientOrderId, kind: RefusalKind, message: String },
    #[error("{client_order_id} was not taken after {posts} posts: {detail}")]
    NotTaken { client_order_id: ClientOrderId, posts: u32, detail: String },
    #[error("fatal answer from the exchange, trading halted: {0}")]
    Fatal(String),
    #[error("journal: {0}")]
    Journal(#[from] OrderLogError),
    #[error("building the order: {0}")]
    Build(#[from] order::BuildError),
    #[error("market information for token {token}: {detail}")]
    Market { token: TokenId, detail: String },
    #[error("{what} failed: {detail}")]
    Call { what: &'static str, detail: String },
}

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("API key creation/derivation (L1) failed: {0}")]
    Auth(String),
    #[error("journal: {0}")]
    Journal(#[from] OrderLogError),
    #[error("reconciliation at start-up: {0}")]
    Reconcile(String),
    #[error(
        "the exchange holds {} open order(s) the journal does not know; refusing to trade on a partial picture: {}",
        .0.len(),
        .0.iter().map(|o| o.to_string()).collect::<Vec<_>>().join("; ")
    )]
    Unmapped(Vec<UnmappedOrder>),
}

/// What the gateway needs from the rest of pmbot.
pub struct GatewayDeps {
    pub log: Box<dyn OrderLog>,
    pub balance: Arc<dyn BalanceCheck>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for GatewayDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayDeps").finish_non_exhaustive()
    }
}

/// A started gateway, its alert stream and what start-up reconciliation found.
#[derive(Debug)]
pub struct Started {
    pub gateway: Gateway,
    pub alerts: mpsc::Receiver<GatewayAlert>,
    pub report: ReconcileReport,
}

/// Per-market facts the orders need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarketMeta {
    pub condition: ConditionId,
    pub neg_risk: bool,
    pub fee: FeeModel,
}

/// Counters for the health page and tests.
#[derive(Debug, Default)]
pub struct GatewayStats {
    pub posts: AtomicU64,
    pub reposts: AtomicU64,
    pub ambiguous: AtomicU64,
    pub lookups: AtomicU64,
    pub rate_limited: AtomicU64,
    pub refused_before_send: AtomicU64,
    pub alerts_dropped: AtomicU64,
    pub user_events: AtomicU64,
    pub user_events_unknown_order: AtomicU64,
    pub user_events_malformed: AtomicU64,
}

/// A snapshot of [`GatewayStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub posts: u64,
    pub reposts: u64,
    pub ambiguous: u64,
    pub lookups: u64,
    pub rate_limited: u64,
    pub refused_before_send: u64,
    pub alerts_dropped: u64,
    pub user_events: u64,
    pub user_events_unknown_order: u64,
    pub user_events_malformed: u64,
}

pub(crate) struct Inner {
    cfg: GatewayConfig,
    sdk: SdkClient,
    signer: Secp256k1Signer,
    transport: Transport,
    log: Mutex<Box<dyn OrderLog>>,
    balance: Arc<dyn BalanceCheck>,
    clock: Arc<dyn Clock>,
    tracker: Mutex<Tracker>,
    markets: Mutex<HashMap<TokenId, MarketMeta>>,
    ticks: Mutex<HashMap<TokenId, TickSize>>,
    order_limit: Limiter,
    cancel_limit: Limiter,
    heartbeat: Mutex<HeartbeatHealth>,
    heartbeat_kick: Notify,
    halted: Mutex<Option<String>>,
    alerts: mpsc::Sender<GatewayAlert>,
    user: Mutex<UserChannelHealth>,
    stats: GatewayStats,
    rng: Mutex<SmallRng>,
    shutdown: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded value stays consistent across a panic (maps, small
    // structs replaced whole), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The order gateway. Cheap to clone; background tasks (heartbeat, user
/// channel, pending sweep) end when [`Gateway::shutdown`] is called or the
/// last clone is dropped.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
    _tasks: Arc<TaskGuard>,
}

struct TaskGuard(Vec<tokio::task::AbortHandle>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("clob_url", &self.inner.cfg.clob_url)
            .field("address", &alloy::signers::Signer::address(&self.inner.signer))
            .finish_non_exhaustive()
    }
}

fn sdk_signature_type(k: SignatureKind) -> SignatureType {
    match k {
        SignatureKind::Eoa => SignatureType::Eoa,
        SignatureKind::Proxy => SignatureType::Proxy,
        SignatureKind::Safe => SignatureType::GnosisSafe,
        SignatureKind::Poly1271 => SignatureType::Poly1271,
    }
}

impl Gateway {
    /// Starts with the key from `PMBOT_PRIVATE_KEY` or `cfg.key_file`.
    pub async fn start(cfg: GatewayConfig, deps: GatewayDeps) -> Result<Started, StartError> {
        let key = PrivateKey::load(cfg.key_file.as_deref())?;
        Gateway::start_with_key(cfg, key, deps).await
    }

    /// Derives (or creates) the API key with the SDK (L1), reconciles every
    /// order the journal reports open, and starts the heartbeat, the user
    /// channel and the pending sweep. Fails if the exchange holds open orders
    /// the journal does not know.
    pub async fn start_with_key(cfg: GatewayConfig, key: PrivateKey, deps: GatewayDeps) -> Result<Started, StartError> {
        let (inner, alerts_rx) = Inner::connect(cfg, key, deps).await?;
        let report = inner.recover().await?;
        let mut tasks = vec![
            tokio::spawn(heartbeat::run(Arc::downgrade(&inner), inner.shutdown.subscribe())).abort_handle(),
            tokio::spawn(reconcile::sweep(Arc::downgrade(&inner), inner.shutdown.subscribe())).abort_handle(),
        ];
        if inner.cfg.user_channel.enabled {
            tasks.push(tokio::spawn(user::run(Arc::downgrade(&inner), inner.shutdown.subscribe())).abort_handle());
        }
        let gateway = Gateway { inner, _tasks: Arc::new(TaskGuard(tasks)) };
        Ok(Started { gateway, alerts: alerts_rx, report })
    }

    /// Authenticates without reconciling and without background tasks, for
    /// looking at the account and cancelling (`pmbot orders`): it works even
    /// when the exchange holds orders the journal does not know, which is
    /// when an operator most needs it. It never places an order: it starts
    /// halted.
    pub async fn inspect(cfg: GatewayConfig, key: PrivateKey, deps: GatewayDeps) -> Result<Gateway, StartError> {
        let (inner, _alerts) = Inner::connect(cfg, key, deps).await?;
        *lock(&inner.halted) = Some("opened for inspection only: this handle never places orders".into());
        Ok(Gateway { inner, _tasks: Arc::new(TaskGuard(Vec::new())) })
    }

    /// The account's open orders as the exchange reports them (every page).
    pub async fn open_on_exchange(&self) -> Result<Vec<wire::VenueOrder>, GatewayError> {
        self.inner.open_on_exchange().await.map_err(|detail| GatewayError::Call { what: "GET /data/orders", detail })
    }

    /// The shares of `token` the exchange credits the account with
    /// (`/balance-allowance`, asset type CONDITIONAL), for start-up position
    /// reconciliation.
    pub async fn venue_shares(&self, token: &TokenId) -> Result<Size, GatewayError> {
        let sig = sdk_signature_type(self.inner.cfg.signature_type) as u8;
        let query = format!("?asset_type=CONDITIONAL&token_id={token}&signature_type={sig}");
        let reply = self.inner.call(reqwest::Method::GET, "/balance-allowance", &query, None, None).await?;
        let bad = |detail: String| GatewayError::Call { what: "GET /balance-allowance", detail };
        if !reply.is_success() {
            return Err(bad(format!("HTTP {}: {}", reply.status, reply.error_message())));
        }
        let balance = wire::balance_allowance(&reply.body).map_err(|e| bad(e.to_string()))?.balance;
        u64::try_from(balance).map(Size::from_micros).map_err(|_| bad(format!("balance {balance} is out of range")))
    }

    /// Writes a finding to the journal (start-up checks done outside the
    /// gateway, such as position reconciliation).
    pub fn note(&self, kind: &str, detail: &serde_json::Value) {
        self.inner.journal_note(kind, detail);
    }

    /// Places an intent. See the module docs for the order of checks and
    /// what each answer leads to.
    pub async fn place(&self, intent: OrderIntent) -> Result<Placed, GatewayError> {
        self.inner.place(intent).await
    }

    /// Cancels one order (safe to repeat).
    pub async fn cancel(&self, order_id: OrderId) -> Result<CancelReport, GatewayError> {
        self.inner.cancel_many(&[order_id]).await
    }

    pub async fn cancel_many(&self, order_ids: &[OrderId]) -> Result<CancelReport, GatewayError> {
        self.inner.cancel_many(order_ids).await
    }

    /// Cancels every order of ours that may rest on the book (a run's stop):
    /// only orders this gateway placed or reconciled, never another of the
    /// account's (a hand-placed order is the user's business). Returns the
    /// report and the client ids of orders that may rest but whose exchange
    /// id is not known yet (their fate is settled by reconciliation).
    pub async fn cancel_own_resting(&self) -> Result<(CancelReport, Vec<ClientOrderId>), GatewayError> {
        let (ids, unknown) = {
            let tracker = lock(&self.inner.tracker);
            let mut ids = Vec::new();
            let mut unknown = Vec::new();
            for t in tracker.open().into_iter().filter(|t| t.state.may_rest()) {
                match t.state.order_id() {
                    Some(id) => ids.push(id),
                    None => unknown.push(t.intent.client_order_id.clone()),
                }
            }
            (ids, unknown)
        };
        Ok((self.inner.cancel_many(&ids).await?, unknown))
    }

    /// Cancels every open order of the account.
    pub async fn cancel_all(&self) -> Result<CancelReport, GatewayError> {
        self.inner.cancel_all().await
    }

    /// Cancels the open orders of a market and/or a token.
    pub async fn cancel_market(
        &self,
        market: Option<ConditionId>,
        token: Option<TokenId>,
    ) -> Result<CancelReport, GatewayError> {
        self.inner.cancel_market(market, token).await
    }

    /// Reads a token's market (condition id, neg-risk, fees, tick) ahead of
    /// its first order, so that order does not wait for it.
    pub async fn prepare_market(&self, token: &TokenId) -> Result<(), GatewayError> {
        self.inner.market_meta(token).await.map(|_| ())
    }

    /// The fee schedule of `token`'s market as the exchange states it (`fd`
    /// in `/clob-markets/{condition_id}`; a market without `fd` charges
    /// nothing, as the official SDK reads it: `clob/client.rs`
    /// `clob_market_info`, `FeeInfo::default()`). Its fills pay by it, so the
    /// engine must size and price its decisions by it too. Read once per
    /// market, with the rest of its facts.
    pub async fn market_fee(&self, token: &TokenId) -> Result<FeeModel, GatewayError> {
        self.inner.market_meta(token).await.map(|m| m.fee)
    }

    /// Takes a tick size from the market stream (`tick_size_change`): orders
    /// for `token` are built on it from now on.
    pub fn set_tick_size(&self, token: &TokenId, tick: TickSize) {
        self.inner.set_tick(token, tick);
    }

    /// Looks up every order not in a final state (and the account's open
    /// orders and trades) on the exchange and brings the journal up to date.
    pub async fn reconcile(&self) -> Result<ReconcileReport, GatewayError> {
        self.inner.reconcile_open(false).await
    }

    /// Every order this gateway tracks.
    pub fn orders(&self) -> Vec<OrderView> {
        lock(&self.inner.tracker).views()
    }

    pub fn order(&self, client_order_id: &ClientOrderId) -> Option<OrderView> {
        lock(&self.inner.tracker).view(client_order_id)
    }

    /// The order once the exchange has said its last word on it: for an
    /// order that does not rest (FAK, FOK), whose post reply is not its
    /// fills, the exchange's record and the trades behind it (see
    /// `settle.rs`); at most `timeout`, then the order as it stands.
    /// `None` for an order this gateway does not track.
    pub async fn settled(&self, client_order_id: &ClientOrderId, timeout: Duration) -> Option<OrderView> {
        self.inner.settled(client_order_id, timeout).await
    }

    pub fn heartbeat(&self) -> HeartbeatHealth {
        lock(&self.inner.heartbeat).clone()
    }

    pub fn user_channel(&self) -> UserChannelHealth {
        lock(&self.inner.user).clone()
    }

    /// The reason trading is halted, if it is.
    pub fn halted(&self) -> Option<String> {
        lock(&self.inner.halted).clone()
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.inner.stats;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            posts: g(&s.posts),
            reposts: g(&s.reposts),
            ambiguous: g(&s.ambiguous),
            lookups: g(&s.lookups),
            rate_limited: g(&s.rate_limited),
            refused_before_send: g(&s.refused_before_send),
            alerts_dropped: g(&s.alerts_dropped),
            user_events: g(&s.user_events),
            user_events_unknown_order: g(&s.user_events_unknown_order),
            user_events_malformed: g(&s.user_events_malformed),
        }
    }

    /// The API key's public id (the `owner` of our orders).
    pub fn api_key(&self) -> String {
        self.inner.transport.api_key()
    }

    /// The signer's address.
    pub fn address(&self) -> alloy_primitives::Address {
        alloy::signers::Signer::address(&self.inner.signer)
    }

    /// Stops the background tasks.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
    }
}

impl Inner {
    /// Validates the config, authenticates (L1) and builds the shared state.
    async fn connect(
        cfg: GatewayConfig,
        key: PrivateKey,
        deps: GatewayDeps,
    ) -> Result<(Arc<Inner>, mpsc::Receiver<GatewayAlert>), StartError> {
        let funder = cfg.validate()?;
        let signer = key.signer(cfg.chain_id)?;
        drop(key);
        let sdk = authenticate(&cfg, &signer, funder).await?;
        let address = alloy::signers::Signer::address(&signer);
        let transport = Transport::new(&cfg.clob_url, address, sdk.credentials().clone(), cfg.request_timeout)
            .map_err(StartError::Auth)?;
        let (alerts, alerts_rx) = mpsc::channel(1024);
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            order_limit: Limiter::new(cfg.order_quota()),
            cancel_limit: Limiter::new(cfg.cancel_quota()),
            cfg,
            sdk,
            signer,
            transport,
            log: Mutex::new(deps.log),
            balance: deps.balance,
            clock: deps.clock,
            tracker: Mutex::new(Tracker::default()),
            markets: Mutex::new(HashMap::new()),
            ticks: Mutex::new(HashMap::new()),
            heartbeat: Mutex::new(HeartbeatHealth::Idle),
            heartbeat_kick: Notify::new(),
            halted: Mutex::new(None),
            alerts,
            user: Mutex::new(UserChannelHealth::default()),
            stats: GatewayStats::default(),
            rng: Mutex::new(SmallRng::from_os_rng()),
            shutdown,
        });
        Ok((inner, alerts_rx))
    }
}

/// L1: create or derive the API key through the SDK, with retries.
async fn authenticate(
    cfg: &GatewayConfig,
    signer: &Secp256k1Signer,
    funder: Option<alloy_primitives::Address>,
) -> Result<SdkClient, StartError> {
    let mut last = String::new();
    for attempt in 0..cfg.retry.attempts {
        if attempt > 0 {
            let ceiling = backoff::ceiling(cfg.retry.initial_backoff, cfg.retry.max_backoff, attempt - 1);
            tokio::time::sleep(backoff::delay(ceiling, Jitter::Full, rand::random())).await;
        }
        let sdk_cfg =
            polymarket_client_sdk_v2::clob::Config::builder().heartbeat_interval(cfg.heartbeat_interval).build();
        let client = polymarket_client_sdk_v2::clob::Client::new(&cfg.clob_url, sdk_cfg)
            .map_err(|e| StartError::Auth(e.to_string()))?;
        let mut b = client.authentication_builder(signer).signature_type(sdk_signature_type(cfg.signature_type));
        if let Some(f) = funder {
            b = b.funder(f);
        }
        match tokio::time::timeout(cfg.request_timeout * 2, b.authenticate()).await {
            Ok(Ok(mut client)) => {
                // The SDK starts its own heartbeat task on authentication and
                // only logs its failures; pmbot runs its own, which refuses
                // orders while heartbeats fail, and beats only while orders rest.
                client.stop_heartbeats().await.map_err(|e| StartError::Auth(e.to_string()))?;
                // The protocol version is read once and cached by the SDK;
                // read it now so no order waits for it.
                match tokio::time::timeout(cfg.request_timeout, client.version()).await {
                    Ok(Ok(2)) => return Ok(client),
                    Ok(Ok(v)) => {
                        return Err(StartError::Auth(format!(
                            "the exchange runs protocol version {v}; pmbot signs V2 orders"
                        )));
                    }
                    Ok(Err(e)) => last = format!("GET /version: {e}"),
                    Err(_) => last = "GET /version timed out".into(),
                }
            }
            Ok(Err(e)) => {
                last = e.to_string();
                if e.kind() == polymarket_client_sdk_v2::error::Kind::Validation {
                    break;
                }
            }
            Err(_) => last = "timed out".into(),
        }
    }
    Err(StartError::Auth(last))
}

impl Inner {
    fn now(&self) -> TimestampMs {
        self.clock.now()
    }

    fn alert(&self, a: GatewayAlert) {
        if self.alerts.try_send(a).is_err() {
            self.stats.alerts_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn halt(&self, reason: String) {
        let mut h = lock(&self.halted);
        if h.is_none() {
            *h = Some(reason.clone());
            drop(h);
            tracing::error!(%reason, "order gateway halted");
            let at = self.now();
            let _ = lock(&self.log).note("gateway_halted", &serde_json::json!({ "reason": reason }), at);
            self.alert(GatewayAlert::Halted { reason, at });
        }
    }

    fn set_tick(&self, token: &TokenId, tick: TickSize) {
        lock(&self.ticks).insert(token.clone(), tick);
        if let Ok(u) = token.as_str().parse::<alloy_primitives::U256>() {
            self.sdk.set_tick_size(u, sdk_tick(tick));
        }
    }

    fn tick(&self, token: &TokenId) -> Option<TickSize> {
        lock(&self.ticks).get(token).copied()
    }

    /// A full-jitter backoff for attempt `n` (from 0).
    fn backoff(&self, n: u32) -> Duration {
        let r = &self.cfg.retry;
        let ceiling = backoff::ceiling(r.initial_backoff, r.max_backoff, n);
        backoff::delay(ceiling, Jitter::Full, lock(&self.rng).random())
    }
}

pub(crate) fn sdk_tick(t: TickSize) -> polymarket_client_sdk_v2::clob::types::TickSize {
    use polymarket_client_sdk_v2::clob::types::TickSize as T;
    match t {
        TickSize::Tenth => T::Tenth,
        TickSize::Hundredth => T::Hundredth,
        TickSize::HalfHundredth => T::HalfCent,
        TickSize::QuarterHundredth => T::QuarterCent,
        TickSize::Thousandth => T::Thousandth,
        TickSize::TenThousandth => T::TenThousandth,
    }
}

pub(crate) fn core_tick(t: polymarket_client_sdk_v2::clob::types::TickSize) -> Option<TickSize> {
    TickSize::ALL.into_iter().find(|c| c.to_decimal() == t.as_decimal())
}
