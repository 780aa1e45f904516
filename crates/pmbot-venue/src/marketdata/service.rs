//! Market data as one service: the supervised stream feeding a
//! [`BookStore`], for the commands that only watch or record (`pmbot watch`,
//! `pmbot record`) and for tests. The trading engine will own its own
//! `BookStore` and consume the stream's events itself, so that a replay
//! drives exactly the same code.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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

/// What the service keeps, readable at any time.
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
        let mut stream_cfg = cfg.stream.clone();
        stream_cfg.raw_frames = frames.is_some();
        let (handle, events) = stream::spawn(stream_cfg, tokens.clone(), clock.clone())?;
        let mut books = BookStore::new(cfg.books);
        let now = clock.now();
        for t in &tokens {
            books.track(t, TickSize::Hundredth, now);
        }
        let state =
            Arc::new(Mutex::new(MarketState { books, actions: Vec::new(), stale_recycles: 0, rest_failures: 0 }));
        let task = tokio::spawn(consume(events, handle.clone(), state.clone(), clock.clone(), frames));
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
    frames: Option<mpsc::Sender<RawFrame>>,
) {
    let mut actions = Vec::new();
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
                    st.books.connection_lost(now, &mut actions)
                }
                StreamEvent::Frame { .. } => {}
                StreamEvent::Market(e) => st.books.apply(&e, now, &mut actions),
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
                StreamEvent::Rest { book, .. } => st.books.apply_rest(&book, now, &mut actions),
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
            if st.actions.len() + actions.len() > MAX_ACTIONS_KEPT {
                st.actions.clear();
            }
            st.actions.extend(actions.drain(..).map(|a| (now, a)));
            drop(st);
            if !resync.is_empty() {
                let _ = handle.resync(resync);
            }
        }
        if let Some(reason) = recycle {
            let _ = handle.recycle(reason);
        }
    }
}
