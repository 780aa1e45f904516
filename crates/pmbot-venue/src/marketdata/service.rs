//! Market data as one service: the supervised stream feeding a
//! [`BookStore`], which decides whether each book can be trusted.
//!
//! Invariant: a consumer of the [`FeedEvent`]s (the trading engine, live or
//! paper on live data) sees every market event in the order the venue's
//! books took it, every REST snapshot they applied (a resync), and every
//! moment they stopped trusting a book (a lost or malformed frame, a
//! disconnect, a crossed book, a hash mismatch, a stale feed), so its copy
//! of a book is never trusted when the venue's is not. Before this, `live`
//! re-parsed the raw frames into the engine's books and dropped the
//! parser's refusals: a lost delta, a resync or a disconnect never reached
//! the engine, which went on trading on a book the venue knew was wrong.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pmbot_core::events::MarketEvent;
use pmbot_core::{Clock, TickSize, TimestampMs, TokenId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::books::{BookAction, BookStore, BookStoreConfig, DistrustReason};
use super::health::{DisconnectReason, StreamHealth};
use super::stream::{self, RestPurpose, StreamConfig, StreamError, StreamEvent, StreamHandle};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MarketDataConfig {
    pub stream: StreamConfig,
    pub books: BookStoreConfig,
}

/// How long ago a change the feed did not deliver must have happened for
/// the feed to count as stale (rather than the change being in flight).
const STALE_MARGIN_MS: i64 = 2_000;

/// A raw frame for a recorder.
pub type RawFrame = (TimestampMs, Arc<str>);

/// What a trading engine takes from the feed (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// A market message received at `at`, or a REST snapshot the venue's
    /// books applied, as a `book`.
    Market { at: TimestampMs, event: MarketEvent },
    /// The venue stopped trusting `token`'s book: a copy of it is untrusted
    /// until its next snapshot.
    Distrusted { at: TimestampMs, token: TokenId, reason: DistrustReason },
}

/// Where the service sends what it takes in, besides its own books.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Every raw frame (the recorder).
    pub frames: Option<mpsc::Sender<RawFrame>>,
    /// The engine's feed.
    pub feed: Option<mpsc::Sender<FeedEvent>>,
}

/// What the service keeps, readable at any time.
#[derive(Debug)]
pub struct MarketState {
    pub books: BookStore,
    /// Every book action, for tests and diagnostics (bounded).
    pub actions: Vec<(TimestampMs, BookAction)>,
    /// Times the feed was found stale and recycled.
    pub stale_recycles: u64,
    pub rest_failures: u64,
}

const MAX_ACTIONS_KEPT: usize = 100_000;

pub struct MarketData {
    handle: StreamHandle,
    state: Arc<Mutex<MarketState>>,
    clock: Arc<dyn Clock>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MarketData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketData").field("handle", &self.handle).finish_non_exhaustive()
    }
}

impl MarketData {
    /// Starts streaming `tokens`. With `frames`, every raw frame is also sent
    /// there (the recorder); a full recorder channel slows the stream rather
    /// than dropping frames.
    pub fn start(
        cfg: MarketDataConfig,
        tokens: Vec<TokenId>,
        clock: Arc<dyn Clock>,
        frames: Option<mpsc::Sender<RawFrame>>,
    ) -> Result<MarketData, StreamError> {
        MarketData::start_with(cfg, tokens, clock, Outputs { frames, feed: None })
    }

    /// Starts streaming `tokens` into `outputs` (see [`Outputs`]); a full
    /// channel slows the stream rather than dropping anything.
    pub fn start_with(
        cfg: MarketDataConfig,
        tokens: Vec<TokenId>,
        clock: Arc<dyn Clock>,
        outputs: Outputs,
    ) -> Result<MarketData, StreamError> {
        let mut stream_cfg = cfg.stream.clone();
        stream_cfg.raw_frames = outputs.frames.is_some();
        let (handle, events) = stream::spawn(stream_cfg, tokens.clone(), clock.clone())?;
        let mut books = BookStore::new(cfg.books);
        let now = clock.now();
        for t in &tokens {
            books.track(t, TickSize::Hundredth, now);
        }
        let state =
            Arc::new(Mutex::new(MarketState { books, actions: Vec::new(), stale_recycles: 0, rest_failures: 0 }));
        let task = tokio::spawn(consume(events, handle.clone(), state.clone(), clock.clone(), outputs));
        Ok(MarketData { handle, state, clock, task })
    }

    pub fn subscribe(&self, tokens: Vec<TokenId>) -> Result<(), StreamError> {
        {
            let mut st = self.state();
            let now = self.clock.now();
            for t in &tokens {
                st.books.track(t, TickSize::Hundredth, now);
            }
        }
        self.handle.subscribe(tokens)
    }

    /// Stops following `tokens` and frees their books.
    pub fn unsubscribe(&self, tokens: Vec<TokenId>) -> Result<(), StreamError> {
        {
            let mut st = self.state();
            for t in &tokens {
                st.books.untrack(t);
            }
        }
        self.handle.unsubscribe(tokens)
    }

    /// The books and their trust, locked for reading.
    pub fn state(&self) -> MutexGuard<'_, MarketState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn health(&self) -> StreamHealth {
        self.handle.health()
    }

    pub fn handle(&self) -> &StreamHandle {
        &self.handle
    }

    /// Stops the stream and waits (briefly) for the consumer to finish.
    pub async fn stop(self) {
        self.handle.stop();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

async fn consume(
    mut events: mpsc::Receiver<StreamEvent>,
    handle: StreamHandle,
    state: Arc<Mutex<MarketState>>,
    clock: Arc<dyn Clock>,
    outputs: Outputs,
) {
    let Outputs { frames, feed } = outputs;
    let mut actions = Vec::new();
    let mut to_feed: Vec<FeedEvent> = Vec::new();
    while let Some(ev) = events.recv().await {
        if let StreamEvent::Frame { received, text } = &ev {
            if let Some(sink) = &frames
                && sink.send((*received, text.clone())).await.is_err()
            {
                // The recorder stopped: keep streaming, stop recording.
            }
            continue;
        }
        let now = clock.now();
        let mut recycle = None;
        {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            match ev {
                // A new connection resends every book; until then none is
                // trusted (a `Connected` without a `Disconnected` before it
                // means the consumer missed nothing but is treated the same).
                StreamEvent::Connected { .. } | StreamEvent::Disconnected { .. } => {
                    st.books.connection_lost(now, &mut actions);
                }
                StreamEvent::Frame { .. } => {}
                StreamEvent::Market(e) => {
                    st.books.apply(&e, now, &mut actions);
                    if feed.is_some() {
                        to_feed.push(FeedEvent::Market { at: e.time().received, event: e });
                    }
                }
                StreamEvent::FrameLost { tokens, .. } => st.books.frame_lost(tokens.as_deref(), now, &mut actions),
                StreamEvent::Rest { book, purpose: RestPurpose::StaleCheck } => {
                    let token = book.snapshot.token.clone();
                    let trusted = st.books.trust(&token).is_some_and(|t| t.is_trusted());
                    if trusted && st.books.is_behind(&book, now, STALE_MARGIN_MS) {
                        st.stale_recycles += 1;
                        st.books.doubt(&token, now, DistrustReason::StaleFeed, &mut actions);
                        recycle = Some(DisconnectReason::StaleFeed);
                    }
                }
                StreamEvent::Rest { book, .. } => {
                    if st.books.apply_rest(&book, now, &mut actions) && feed.is_some() {
                        to_feed.push(FeedEvent::Market { at: now, event: MarketEvent::Book(book.snapshot) });
                    }
                }
                StreamEvent::RestFailed { token, .. } => {
                    st.rest_failures += 1;
                    // Ask again; the stream's fetch already retried with backoff.
                    if st.books.trust(&token).is_some_and(|t| !t.is_trusted()) {
                        actions.push(BookAction::Resync { token, reason: DistrustReason::Rejected });
                    }
                }
            }
            let resync: Vec<TokenId> = actions
                .iter()
                .filter_map(|a| match a {
                    BookAction::Resync { token, .. } => Some(token.clone()),
                    _ => None,
                })
                .collect();
            if feed.is_some() {
                // After the event that caused it: the engine applies the
                // event, then stops trusting the book.
                to_feed.extend(actions.iter().filter_map(|a| match a {
                    BookAction::Distrusted { token, reason } => {
                        Some(FeedEvent::Distrusted { at: now, token: token.clone(), reason: *reason })
                    }
                    _ => None,
                }));
            }
            if st.actions.len() + actions.len() > MAX_ACTIONS_KEPT {
                st.actions.clear();
            }
            st.actions.extend(actions.drain(..).map(|a| (now, a)));
            drop(st);
            if !resync.is_empty() {
                let _ = handle.resync(resync);
            }
        }
        if let Some(sink) = &feed {
            for ev in to_feed.drain(..) {
                if sink.send(ev).await.is_err() {
                    // The engine stopped: keep the books, stop feeding.
                    break;
                }
            }
        }
        if let Some(reason) = recycle {
            let _ = handle.recycle(reason);
        }
    }
}
