//! The supervised market-channel connection.
//!
//! One task owns the WebSocket. It connects, subscribes every token, reads
//! frames, sends `PING` on an interval and treats a missing `PONG` as a dead
//! connection, recycles a connection that keeps answering `PONG` but carries
//! no market message for too long, and reconnects with full-jitter backoff
//! forever unless stopped. After every (re)connect it resubscribes every
//! token; books resync from the `book` snapshots the subscription triggers,
//! and a token whose snapshot does not come in time is fetched over REST.
//!
//! It owns no books. It turns frames into [`StreamEvent`]s for a consumer
//! (which owns a [`super::books::BookStore`]) and takes [`Control`]s back:
//! subscribe, unsubscribe, resync over REST, recycle, stop.
//!
//! Why pmbot's own client and not the official SDK's WebSocket client
//! (0.9.0): the recorder needs every frame's raw text, which the SDK does not
//! expose; the SDK's heartbeat loop can end without recycling the connection
//! (rs-clob-client-v2 issue 60); it has no per-token staleness watchdog; and it
//! sends a subscription before creating the stream's receiver, so on a loaded
//! machine the initial `book` dump can be lost (seen in this project's
//! simulator tests). The wire format here is written from the protocol notes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pmbot_core::events::MarketEvent;
use pmbot_core::{Clock, TimestampMs, TokenId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;

use super::backoff::{Backoff, BackoffConfig, ConnectionOutcome};
use super::books::RestBook;
use super::health::{DisconnectReason, HealthTracker, StreamHealth};
use super::parse::{FrameKind, FrameParser, classify_frame};
use super::rest::{RestClient, RestError};

/// Tokens one connection may carry (the server stops sending past ~500).
pub const MAX_TOKENS_PER_CONNECTION: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    /// WebSocket base URL; `/ws/market` is appended.
    pub ws_url: String,
    /// CLOB REST base URL, for `/book` snapshots.
    pub rest_url: String,
    /// How often to send `PING`.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// A `PING` unanswered for this long means the connection is dead.
    #[serde(with = "humantime_serde")]
    pub pong_timeout: Duration,
    /// No market message at all for this long (while subscribed) means a
    /// silently frozen feed: the connection is recycled. `None` turns it off
    /// (for markets that can legitimately be quiet).
    #[serde(with = "humantime_serde")]
    pub silence_limit: Option<Duration>,
    /// A token with no message for this long has its book checked against a
    /// REST snapshot; if the exchange moved on, the feed is stale.
    #[serde(with = "humantime_serde")]
    pub token_silence: Option<Duration>,
    /// After subscribing, a token without a `book` snapshot by then is
    /// fetched over REST.
    #[serde(with = "humantime_serde")]
    pub snapshot_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Bound on every REST call.
    #[serde(with = "humantime_serde")]
    pub rest_timeout: Duration,
    pub backoff: BackoffConfig,
    /// Ask for `best_bid_ask`, `new_market` and `market_resolved`.
    pub custom_features: bool,
    /// Pass every raw frame on as [`StreamEvent::Frame`] (for the recorder).
    pub raw_frames: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            ws_url: "wss://ws-subscriptions-clob.polymarket.com".into(),
            rest_url: "https://clob.polymarket.com".into(),
            ping_interval: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(10),
            silence_limit: Some(Duration::from_secs(60)),
            token_silence: Some(Duration::from_secs(120)),
            snapshot_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            rest_timeout: Duration::from_secs(5),
            backoff: BackoffConfig::default(),
            custom_features: true,
            raw_frames: false,
        }
    }
}

/// Why a REST snapshot was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestPurpose {
    /// The consumer asked (its book was doubted).
    Resync,
    /// The subscription's `book` snapshot did not arrive in time.
    SnapshotTimeout,
    /// The token was silent: is the feed stale?
    StaleCheck,
}

/// What the stream tells its consumer, in order.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// A connection opened and every token was (re)subscribed.
    Connected {
        at: TimestampMs,
        connection: u64,
    },
    /// The connection ended; every book must be treated as unknown.
    Disconnected {
        at: TimestampMs,
        reason: DisconnectReason,
    },
    /// A frame exactly as received (only with `raw_frames`).
    Frame {
        received: TimestampMs,
        text: Arc<str>,
    },
    Market(MarketEvent),
    /// A frame or one of its messages could not be used: a delta may be
    /// lost for `tokens` (`None`: for any token).
    FrameLost {
        at: TimestampMs,
        reason: String,
        tokens: Option<Vec<TokenId>>,
    },
    /// A REST snapshot (hash checked).
    Rest {
        book: RestBook,
        purpose: RestPurpose,
    },
    RestFailed {
        token: TokenId,
        error: RestError,
    },
}

/// What the consumer can ask of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Subscribe(Vec<TokenId>),
    Unsubscribe(Vec<TokenId>),
    /// Fetch REST snapshots of these tokens.
    Resync(Vec<TokenId>),
    /// Close the connection and reconnect (e.g. the feed was found stale).
    Recycle(DisconnectReason),
    Stop,
}

/// Why a request to the stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("the stream has stopped")]
    Stopped,
    #[error("{wanted} tokens exceed the {max} one connection carries")]
    TooManyTokens { wanted: usize, max: usize },
}

/// The consumer's side of a running stream.
#[derive(Clone)]
pub struct StreamHandle {
    control: mpsc::UnboundedSender<Control>,
    health: Arc<Mutex<HealthTracker>>,
    clock: Arc<dyn Clock>,
    subscribed: Arc<Mutex<BTreeSet<TokenId>>>,
}

impl std::fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHandle").field("subscribed", &self.subscribed).finish_non_exhaustive()
    }
}

impl StreamHandle {
    pub fn subscribe(&self, tokens: Vec<TokenId>) -> Result<(), StreamError> {
        let mut subs = self.subscribed.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = subs.len() + tokens.iter().filter(|t| !subs.contains(*t)).count();
        if wanted > MAX_TOKENS_PER_CONNECTION {
            return Err(StreamError::TooManyTokens { wanted, max: MAX_TOKENS_PER_CONNECTION });
        }
        subs.extend(tokens.iter().cloned());
        self.control.send(Control::Subscribe(tokens)).map_err(|_| StreamError::Stopped)
    }

    pub fn unsubscribe(&self, tokens: Vec<TokenId>) -> Result<(), StreamError> {
        let mut subs = self.subscribed.lock().unwrap_or_else(|e| e.into_inner());
        for t in &tokens {
            subs.remove(t);
        }
        self.control.send(Control::Unsubscribe(tokens)).map_err(|_| StreamError::Stopped)
    }

    pub fn resync(&self, tokens: Vec<TokenId>) -> Result<(), StreamError> {
        self.control.send(Control::Resync(tokens)).map_err(|_| StreamError::Stopped)
    }

    pub fn recycle(&self, reason: DisconnectReason) -> Result<(), StreamError> {
        self.control.send(Control::Recycle(reason)).map_err(|_| StreamError::Stopped)
    }

    pub fn stop(&self) {
        let _ = self.control.send(Control::Stop);
    }

    /// The stream's health now.
    pub fn health(&self) -> StreamHealth {
        let now = self.clock.now();
        self.health.lock().unwrap_or_else(|e| e.into_inner()).snapshot_at(now)
    }
}

/// Starts the stream task; returns its handle and its event receiver.
pub fn spawn(
    cfg: StreamConfig,
    tokens: Vec<TokenId>,
    clock: Arc<dyn Clock>,
) -> Result<(StreamHandle, mpsc::Receiver<StreamEvent>), StreamError> {
    if tokens.len() > MAX_TOKENS_PER_CONNECTION {
        return Err(StreamError::TooManyTokens { wanted: tokens.len(), max: MAX_TOKENS_PER_CONNECTION });
    }
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::channel(1 << 14);
    let mut tracker = HealthTracker::new(clock.now());
    for t in &tokens {
        tracker.track(t);
    }
    let health = Arc::new(Mutex::new(tracker));
    let subscribed = Arc::new(Mutex::new(tokens.iter().cloned().collect()));
    let handle = StreamHandle { control: control_tx, health: health.clone(), clock: clock.clone(), subscribed };
    let rest = RestClient::new(&cfg.rest_url, cfg.rest_timeout).map_err(|_| StreamError::Stopped)?;
    let sup = Supervisor {
        cfg,
        clock,
        health,
        events: events_tx,
        control: control_rx,
        tokens: tokens.into_iter().collect(),
        rest,
        fetches: JoinSet::new(),
        connection: 0,
        delivered: false,
    };
    tokio::spawn(sup.run());
    Ok((handle, events_rx))
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Logs each kind of refusal at most once a minute: a feed sending garbage
/// must not flood the log (every one is still counted in the health figures).
#[derive(Debug, Default)]
struct LogLimit {
    last: BTreeMap<&'static str, TimestampMs>,
}

impl LogLimit {
    fn allow(&mut self, kind: &'static str, now: TimestampMs) -> bool {
        match self.last.get(kind) {
            Some(at) if now.millis_since(*at) < 60_000 => false,
            _ => {
                self.last.insert(kind, now);
                true
            }
        }
    }
}

/// How a connection's read loop ended.
enum Ended {
    Reconnect,
    Stop,
}

struct Supervisor {
    cfg: StreamConfig,
    clock: Arc<dyn Clock>,
    health: Arc<Mutex<HealthTracker>>,
    events: mpsc::Sender<StreamEvent>,
    control: mpsc::UnboundedReceiver<Control>,
    tokens: BTreeSet<TokenId>,
    rest: RestClient,
    fetches: JoinSet<(TokenId, RestPurpose, Result<RestBook, RestError>)>,
    connection: u64,
    /// The current connection delivered market data or completed its book
    /// resync: it worked, so the backoff starts again when it ends.
    delivered: bool,
}

impl Supervisor {
    fn now(&self) -> TimestampMs {
        self.clock.now()
    }

    fn health(&self) -> std::sync::MutexGuard<'_, HealthTracker> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends an event; `false` when the consumer has gone (the stream stops).
    async fn emit(&self, ev: StreamEvent) -> bool {
        self.events.send(ev).await.is_ok()
    }

    async fn run(mut self) {
        let seed = self.now().millis() as u64;
        let mut backoff = Backoff::new(self.cfg.backoff, seed);
        loop {
            self.health().connecting();
            let url = format!("{}/ws/market", self.cfg.ws_url.trim_end_matches('/'));
            let connected =
                tokio::time::timeout(self.cfg.connect_timeout, tokio_tungstenite::connect_async(&url)).await;
            let ended = match connected {
                Ok(Ok((ws, _))) => {
                    let start = self.now();
                    self.delivered = false;
                    let ended = self.serve(ws).await;
                    let open_for = Duration::from_millis(self.now().millis_since(start).max(0) as u64);
                    backoff.connection_ended(ConnectionOutcome::Closed { open_for, delivered: self.delivered });
                    ended
                }
                Ok(Err(_)) | Err(_) => {
                    let now = self.now();
                    self.health().disconnected(now, DisconnectReason::ConnectFailed);
                    backoff.connection_ended(ConnectionOutcome::ConnectFailed);
                    Ended::Reconnect
                }
            };
            if matches!(ended, Ended::Stop) {
                break;
            }
            let delay = backoff.next_delay();
            let until = self.now().plus_millis(delay.as_millis() as i64);
            self.health().backing_off(backoff.attempt(), until);
            // Keep taking requests while waiting, so a stop is prompt and
            // subscriptions made meanwhile are sent on the next connection.
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    c = self.control.recv() => match c {
                        None | Some(Control::Stop) => {
                            let now = self.now();
                            self.health().stopped(now);
                            return;
                        }
                        Some(c) => self.note_offline(c),
                    },
                    Some(done) = self.fetches.join_next(), if !self.fetches.is_empty() => {
                        if !self.fetched(done).await { return; }
                    }
                }
            }
        }
        let now = self.now();
        self.health().stopped(now);
    }

    /// Applies a request that needs no socket.
    fn note_offline(&mut self, c: Control) {
        match c {
            Control::Subscribe(ts) => {
                for t in ts {
                    self.health().track(&t);
                    self.tokens.insert(t);
                }
            }
            Control::Unsubscribe(ts) => {
                for t in ts {
                    self.health().untrack(&t);
                    self.tokens.remove(&t);
                }
            }
            Control::Resync(ts) => {
                for t in ts {
                    self.fetch(t, RestPurpose::Resync);
                }
            }
            Control::Recycle(_) | Control::Stop => {}
        }
    }

    fn fetch(&mut self, token: TokenId, purpose: RestPurpose) {
        let rest = self.rest.clone();
        let clock = self.clock.clone();
        self.fetches.spawn(async move {
            let r = rest.book(&token, || clock.now()).await;
            (token, purpose, r)
        });
    }

    /// Reports a finished REST fetch; `false` if the consumer has gone.
    async fn fetched(
        &mut self,
        done: Result<(TokenId, RestPurpose, Result<RestBook, RestError>), tokio::task::JoinError>,
    ) -> bool {
        let Ok((token, purpose, result)) = done else { return true };
        if !self.tokens.contains(&token) {
            return true; // unsubscribed meanwhile
        }
        match result {
            Ok(book) => {
                let now = self.now();
                self.health().rest_fetch(true);
                // A REST snapshot that completes the resync makes the
                // connection count as working even if its own snapshots were
                // late.
                let resynced = self.health().snapshot(now, &token);
                self.delivered |= resynced;
                self.emit(StreamEvent::Rest { book, purpose }).await
            }
            Err(error) => {
                self.health().rest_fetch(false);
                self.emit(StreamEvent::RestFailed { token, error }).await
            }
        }
    }

    fn subscription(&self, tokens: &[&TokenId], initial: bool) -> String {
        let ids: Vec<&str> = tokens.iter().map(|t| t.as_str()).collect();
        let mut msg = if initial {
            json!({"assets_ids": ids, "type": "market", "initial_dump": true})
        } else {
            json!({"operation": "subscribe", "assets_ids": ids, "initial_dump": true})
        };
        if self.cfg.custom_features {
            msg["custom_feature_enabled"] = json!(true);
        }
        msg.to_string()
    }

    /// Runs one connection until it must be replaced or the stream stops.
    async fn serve(&mut self, ws: Ws) -> Ended {
        let (mut sink, mut read) = ws.split();
        self.connection += 1;
        let now = self.now();
        tracing::info!(connection = self.connection, tokens = self.tokens.len(), "market stream connected");
        self.health().connected(now);
        let mut initial_sent = false;
        if !self.tokens.is_empty() {
            let all: Vec<&TokenId> = self.tokens.iter().collect();
            let text = self.subscription(&all, true);
            if sink.send(Message::Text(text.into())).await.is_err() {
                return self.end(DisconnectReason::SendFailed).await;
            }
            initial_sent = true;
        }
        if !self.emit(StreamEvent::Connected { at: now, connection: self.connection }).await {
            return Ended::Stop;
        }
        // Known token ids resolve to the ids already held instead of
        // allocating one per message.
        let mut log_limit = LogLimit::default();
        let mut parser = FrameParser::new();
        for t in &self.tokens {
            parser.interner_mut().insert(t.clone());
        }
        let mut events: Vec<MarketEvent> = Vec::with_capacity(8);
        // Tokens still waiting for their first snapshot on this connection.
        let mut awaiting: BTreeMap<TokenId, TimestampMs> = self.tokens.iter().map(|t| (t.clone(), now)).collect();
        let mut last_market = now;
        let mut ping_sent: Option<TimestampMs> = None;
        let mut checked: BTreeMap<TokenId, TimestampMs> = BTreeMap::new();
        let mut ping = tokio::time::interval(self.cfg.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watchdog = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                frame = read.next() => {
                    let text = match frame {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return self.end(DisconnectReason::Closed).await,
                        Some(Ok(_)) => continue,
                    };
                    let received = self.now();
                    match classify_frame(&text) {
                        FrameKind::Pong => { ping_sent = None; continue; }
                        // A control frame, not market data: nothing was lost
                        // and nothing needs a resync (see `FrameKind`).
                        FrameKind::NoNewAssets => continue,
                        FrameKind::InvalidOperation => { self.health().rejected("server: INVALID OPERATION"); continue; }
                        FrameKind::InvalidAuth => { self.health().rejected("server: INVALID AUTH"); continue; }
                        FrameKind::Data => {}
                    }
                    if self.cfg.raw_frames {
                        let raw: Arc<str> = Arc::from(text.as_str());
                        if !self.emit(StreamEvent::Frame { received, text: raw }).await { return Ended::Stop; }
                    }
                    events.clear();
                    let outcome = parser.parse(&text, received, &mut events);
                    if !outcome.rejects.is_empty() {
                        // Which books may have missed a delta: the tokens the
                        // refused objects named, or all if one named none.
                        let mut tokens: Option<Vec<TokenId>> = Some(Vec::new());
                        for r in &outcome.rejects {
                            self.health().rejected(&r.reason.to_string());
                            if log_limit.allow(r.reason.as_str(), received) {
                                tracing::warn!(reason = r.reason.as_str(), detail = %r, "market frame refused (further refusals of this kind are counted, not logged, for a minute)");
                            }
                            match (&mut tokens, r.tokens.is_empty()) {
                                (_, true) => tokens = None,
                                (Some(ts), false) => ts.extend(r.tokens.iter().cloned()),
                                (None, false) => {}
                            }
                        }
                        let reason = outcome.rejects[0].to_string();
                        if !self.emit(StreamEvent::FrameLost { at: received, reason, tokens }).await { return Ended::Stop; }
                    }
                    for ev in events.drain(..) {
                        last_market = received;
                        self.delivered = true;
                        {
                            let mut h = self.health();
                            match &ev {
                                MarketEvent::Book(b) => {
                                    h.message(received, Some(&b.token));
                                    h.snapshot(received, &b.token);
                                    awaiting.remove(&b.token);
                                }
                                MarketEvent::PriceChanges(batch) => {
                                    let mut seen: Vec<&TokenId> = Vec::with_capacity(2);
                                    for c in &batch.changes {
                                        if !seen.contains(&&c.token) {
                                            seen.push(&c.token);
                                        }
                                    }
                                    if seen.is_empty() { h.message(received, None); }
                                    for t in seen { h.message(received, Some(t)); }
                                }
                                MarketEvent::LastTrade(e) => h.message(received, Some(&e.token)),
                                MarketEvent::TickSizeChange(e) => h.message(received, Some(&e.token)),
                                MarketEvent::BestBidAsk(e) => h.message(received, Some(&e.token)),
                                MarketEvent::NewMarket(_) | MarketEvent::MarketResolved(_) => h.message(received, None),
                            }
                        }
                        if !self.emit(StreamEvent::Market(ev)).await { return Ended::Stop; }
                    }
                }
                _ = ping.tick() => {
                    let now = self.now();
                    if ping_sent.is_none() {
                        if sink.send(Message::Text("PING".into())).await.is_err() {
                            return self.end(DisconnectReason::SendFailed).await;
                        }
                        ping_sent = Some(now);
                    }
                }
                _ = watchdog.tick() => {
                    let now = self.now();
                    if let Some(sent) = ping_sent
                        && now.millis_since(sent) > self.cfg.pong_timeout.as_millis() as i64
                    {
                        return self.end(DisconnectReason::PongTimeout).await;
                    }
                    if let Some(limit) = self.cfg.silence_limit
                        && !self.tokens.is_empty()
                        && now.millis_since(last_market) > limit.as_millis() as i64
                    {
                        return self.end(DisconnectReason::Silent).await;
                    }
                    // Snapshots that did not come: fetch them.
                    let late: Vec<TokenId> = awaiting
                        .iter()
                        .filter(|(_, since)| now.millis_since(**since) > self.cfg.snapshot_timeout.as_millis() as i64)
                        .map(|(t, _)| t.clone())
                        .collect();
                    for t in late {
                        awaiting.insert(t.clone(), now);
                        self.fetch(t, RestPurpose::SnapshotTimeout);
                    }
                    // Silent tokens: is the exchange's book still what we hold?
                    if let Some(quiet) = self.cfg.token_silence {
                        let quiet_ms = quiet.as_millis() as i64;
                        let due: Vec<TokenId> = self
                            .health()
                            .last_messages()
                            .filter(|(_, last)| last.is_none_or(|l| now.millis_since(l) > quiet_ms))
                            .map(|(t, _)| t.clone())
                            .collect();
                        for t in due {
                            if checked.get(&t).is_none_or(|at| now.millis_since(*at) > quiet_ms) {
                                checked.insert(t.clone(), now);
                                self.fetch(t, RestPurpose::StaleCheck);
                            }
                        }
                    }
                }
                c = self.control.recv() => {
                    match c {
                        None | Some(Control::Stop) => {
                            let _ = sink.send(Message::Close(None)).await;
                            let now = self.now();
                            self.health().disconnected(now, DisconnectReason::Stopped);
                            let _ = self.emit(StreamEvent::Disconnected { at: now, reason: DisconnectReason::Stopped }).await;
                            return Ended::Stop;
                        }
                        Some(Control::Recycle(reason)) => return self.end(reason).await,
                        Some(Control::Subscribe(ts)) => {
                            let fresh: Vec<TokenId> = ts.into_iter().filter(|t| !self.tokens.contains(t)).collect();
                            if fresh.is_empty() { continue; }
                            let now = self.now();
                            for t in &fresh {
                                parser.interner_mut().insert(t.clone());
                                self.health().track(t);
                                self.tokens.insert(t.clone());
                                awaiting.insert(t.clone(), now);
                            }
                            let refs: Vec<&TokenId> = fresh.iter().collect();
                            let text = self.subscription(&refs, !initial_sent);
                            initial_sent = true;
                            if sink.send(Message::Text(text.into())).await.is_err() {
                                return self.end(DisconnectReason::SendFailed).await;
                            }
                        }
                        Some(Control::Unsubscribe(ts)) => {
                            let gone: Vec<TokenId> = ts.into_iter().filter(|t| self.tokens.remove(t)).collect();
                            if gone.is_empty() { continue; }
                            for t in &gone {
                                parser.interner_mut().remove(t.as_str());
                                self.health().untrack(t);
                                awaiting.remove(t);
                                checked.remove(t);
                            }
                            let ids: Vec<&str> = gone.iter().map(|t| t.as_str()).collect();
                            let text = json!({"operation": "unsubscribe", "assets_ids": ids}).to_string();
                            if sink.send(Message::Text(text.into())).await.is_err() {
                                return self.end(DisconnectReason::SendFailed).await;
                            }
                        }
                        Some(Control::Resync(ts)) => {
                            for t in ts {
                                if self.tokens.contains(&t) {
                                    self.fetch(t, RestPurpose::Resync);
                                }
                            }
                        }
                    }
                }
                Some(done) = self.fetches.join_next(), if !self.fetches.is_empty() => {
                    if !self.fetched(done).await { return Ended::Stop; }
                }
            }
        }
    }

    /// Ends the connection for `reason` and tells the consumer.
    async fn end(&mut self, reason: DisconnectReason) -> Ended {
        let now = self.now();
        tracing::warn!(?reason, connection = self.connection, "market stream connection ended; reconnecting");
        self.health().disconnected(now, reason);
        if self.emit(StreamEvent::Disconnected { at: now, reason }).await { Ended::Reconnect } else { Ended::Stop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_logged_once_a_minute_per_kind() {
        let mut l = LogLimit::default();
        assert!(l.allow("bad_price", TimestampMs(0)));
        assert!(!l.allow("bad_price", TimestampMs(59_999)));
        assert!(l.allow("bad_size", TimestampMs(1)));
        assert!(l.allow("bad_price", TimestampMs(60_000)));
    }

    #[test]
    fn subscription_messages_are_initial_then_dynamic() {
        let (tx, _rx) = mpsc::channel(1);
        let (_ctx, crx) = mpsc::unbounded_channel();
        let sup = Supervisor {
            cfg: StreamConfig::default(),
            clock: Arc::new(pmbot_core::ManualClock::new(0)),
            health: Arc::new(Mutex::new(HealthTracker::new(TimestampMs(0)))),
            events: tx,
            control: crx,
            tokens: BTreeSet::new(),
            rest: RestClient::new("http://127.0.0.1:9", Duration::from_secs(1)).unwrap(),
            fetches: JoinSet::new(),
            connection: 0,
            delivered: false,
        };
        let t = TokenId::parse("42").unwrap();
        let first: serde_json::Value = serde_json::from_str(&sup.subscription(&[&t], true)).unwrap();
        assert_eq!(
            first,
            json!({"assets_ids": ["42"], "type": "market", "initial_dump": true, "custom_feature_enabled": true})
        );
        let later: serde_json::Value = serde_json::from_str(&sup.subscription(&[&t], false)).unwrap();
        assert_eq!(later["operation"], "subscribe");
        assert!(later.get("type").is_none(), "a second initial message is refused by the server");
    }
}
