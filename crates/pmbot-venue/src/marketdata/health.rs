//! Health figures of the market-data stream, as a plain struct the
//! monitoring issue publishes (health endpoint, metrics, alerts).
//!
//! The supervisor updates a [`HealthTracker`] as things happen; a
//! [`StreamHealth`] is a snapshot of it at a given time, with the derived
//! figures (uptime %, message rate, ages) computed for that time.

use std::collections::{BTreeMap, VecDeque};

use pmbot_core::{TimestampMs, TokenId};
use serde::Serialize;

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnectionState {
    /// Opening the socket.
    Connecting,
    /// Open and subscribed since `since`.
    Live { since: TimestampMs },
    /// Waiting to retry after a failure (attempt `attempt`).
    Backoff { attempt: u32, until: TimestampMs },
    /// Stopped on request.
    Stopped,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The socket could not be opened (or the handshake failed).
    ConnectFailed,
    /// The server closed it or the read failed.
    Closed,
    /// No PONG within the timeout after a PING.
    PongTimeout,
    /// PONGs arrive but no market message for longer than the silence limit.
    Silent,
    /// A token's book, checked over REST, had moved on without the feed
    /// telling: the connection is delivering stale data.
    StaleFeed,
    /// Sending a PING or a subscription failed.
    SendFailed,
    /// Asked to stop.
    Stopped,
}

/// Per-token figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TokenHealth {
    pub messages: u64,
    /// Time of the last market message for this token.
    pub last_message: Option<TimestampMs>,
    /// Age of that message at snapshot time, ms.
    pub last_message_age_ms: Option<i64>,
    /// Time of the last full snapshot (WebSocket `book` or REST).
    pub last_snapshot: Option<TimestampMs>,
}

/// A snapshot of the stream's health.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamHealth {
    pub at: TimestampMs,
    pub state: ConnectionState,
    pub started: TimestampMs,
    /// Share of the time since `started` spent connected, 0..=100.
    pub uptime_pct: f64,
    pub connects: u64,
    /// Connections after the first.
    pub reconnects: u64,
    pub disconnects: BTreeMap<DisconnectReason, u64>,
    /// From the last connect until every subscribed token had a fresh
    /// snapshot, ms; `None` while still resyncing (or never connected).
    pub last_resync_ms: Option<i64>,
    pub resyncing: bool,
    pub messages: u64,
    /// Market messages per second over the last minute.
    pub messages_per_s: f64,
    /// Frames or messages refused by the parser, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// REST snapshot fetches made and failed.
    pub rest_fetches: u64,
    pub rest_failures: u64,
    pub subscribed: usize,
    pub tokens: BTreeMap<TokenId, TokenHealth>,
}

/// How long the message-rate window is.
const RATE_WINDOW_MS: i64 = 60_000;

/// Accumulates the figures; owned by the supervisor.
#[derive(Debug)]
pub struct HealthTracker {
    started: TimestampMs,
    state: ConnectionState,
    connected_ms: i64,
    connects: u64,
    disconnects: BTreeMap<DisconnectReason, u64>,
    connected_at: Option<TimestampMs>,
    resync_pending: bool,
    last_resync_ms: Option<i64>,
    messages: u64,
    /// (second, count) buckets for the message rate.
    per_second: VecDeque<(i64, u64)>,
    rejected: BTreeMap<String, u64>,
    rest_fetches: u64,
    rest_failures: u64,
    tokens: BTreeMap<TokenId, TokenHealth>,
}

impl HealthTracker {
    pub fn new(now: TimestampMs) -> HealthTracker {
        HealthTracker {
            started: now,
            state: ConnectionState::Connecting,
            connected_ms: 0,
            connects: 0,
            disconnects: BTreeMap::new(),
            connected_at: None,
            resync_pending: false,
            last_resync_ms: None,
            messages: 0,
            per_second: VecDeque::new(),
            rejected: BTreeMap::new(),
            rest_fetches: 0,
            rest_failures: 0,
            tokens: BTreeMap::new(),
        }
    }

    pub fn connecting(&mut self) {
        self.state = ConnectionState::Connecting;
    }

    pub fn connected(&mut self, now: TimestampMs) {
        self.connects += 1;
        self.connected_at = Some(now);
        self.state = ConnectionState::Live { since: now };
        self.resync_pending = true;
        for t in self.tokens.values_mut() {
            t.last_snapshot = None;
        }
    }

    pub fn disconnected(&mut self, now: TimestampMs, reason: DisconnectReason) {
        if let Some(at) = self.connected_at.take() {
            self.connected_ms += now.millis_since(at).max(0);
        }
        *self.disconnects.entry(reason).or_default() += 1;
        self.resync_pending = false;
    }

    pub fn backing_off(&mut self, attempt: u32, until: TimestampMs) {
        self.state = ConnectionState::Backoff { attempt, until };
    }

    pub fn stopped(&mut self, now: TimestampMs) {
        if let Some(at) = self.connected_at.take() {
            self.connected_ms += now.millis_since(at).max(0);
        }
        self.state = ConnectionState::Stopped;
    }

    pub fn track(&mut self, token: &TokenId) {
        self.tokens.entry(token.clone()).or_default();
    }

    /// Forgets an unsubscribed token (its figures go with it).
    pub fn untrack(&mut self, token: &TokenId) {
        self.tokens.remove(token);
    }

    pub fn message(&mut self, now: TimestampMs, token: Option<&TokenId>) {
        self.messages += 1;
        let sec = now.millis().div_euclid(1000);
        match self.per_second.back_mut() {
            Some((s, n)) if *s == sec => *n += 1,
            _ => self.per_second.push_back((sec, 1)),
        }
        while self.per_second.front().is_some_and(|(s, _)| (sec - s) * 1000 >= RATE_WINDOW_MS) {
            self.per_second.pop_front();
        }
        if let Some(t) = token.and_then(|t| self.tokens.get_mut(t)) {
            t.messages += 1;
            t.last_message = Some(now);
        }
    }

    /// A full snapshot of `token` arrived; when every tracked token has one
    /// since the last connect, the resync is over. Returns whether this
    /// snapshot completed it.
    pub fn snapshot(&mut self, now: TimestampMs, token: &TokenId) -> bool {
        if let Some(t) = self.tokens.get_mut(token) {
            t.last_snapshot = Some(now);
        }
        if self.resync_pending && self.tokens.values().all(|t| t.last_snapshot.is_some()) {
            self.resync_pending = false;
            self.last_resync_ms = self.connected_at.map(|at| now.millis_since(at));
            return true;
        }
        false
    }

    pub fn rejected(&mut self, reason: &str) {
        *self.rejected.entry(reason.to_owned()).or_default() += 1;
    }

    pub fn rest_fetch(&mut self, ok: bool) {
        self.rest_fetches += 1;
        if !ok {
            self.rest_failures += 1;
        }
    }

    /// Last market-message time of each token, for staleness checks.
    pub fn last_messages(&self) -> impl Iterator<Item = (&TokenId, Option<TimestampMs>)> {
        self.tokens.iter().map(|(k, v)| (k, v.last_message))
    }

    pub fn snapshot_at(&self, now: TimestampMs) -> StreamHealth {
        let live = self.connected_at.map(|at| now.millis_since(at).max(0)).unwrap_or(0);
        let span = now.millis_since(self.started).max(1);
        let sec = now.millis().div_euclid(1000);
        let recent: u64 =
            self.per_second.iter().filter(|(s, _)| (sec - s) * 1000 < RATE_WINDOW_MS).map(|(_, n)| n).sum();
        let window_s = (span.min(RATE_WINDOW_MS) as f64 / 1000.0).max(1.0);
        let tokens = self
            .tokens
            .iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                v.last_message_age_ms = v.last_message.map(|t| now.millis_since(t));
                (k.clone(), v)
            })
            .collect();
        StreamHealth {
            at: now,
            state: self.state,
            started: self.started,
            uptime_pct: ((self.connected_ms + live) as f64 * 100.0 / span as f64).min(100.0),
            connects: self.connects,
            reconnects: self.connects.saturating_sub(1),
            disconnects: self.disconnects.clone(),
            last_resync_ms: if self.resync_pending { None } else { self.last_resync_ms },
            resyncing: self.resync_pending,
            messages: self.messages,
            messages_per_s: recent as f64 / window_s,
            rejected: self.rejected.clone(),
            rest_fetches: self.rest_fetches,
            rest_failures: self.rest_failures,
            subscribed: self.tokens.len(),
            tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> TimestampMs {
        TimestampMs(ms)
    }

    #[test]
    fn uptime_reconnects_and_resync_time() {
        let a = TokenId::parse("1").unwrap();
        let b = TokenId::parse("2").unwrap();
        let mut h = HealthTracker::new(t(0));
        h.track(&a);
        h.track(&b);
        h.connecting();
        h.connected(t(1_000));
        assert!(!h.snapshot(t(1_200), &a));
        assert!(h.snapshot_at(t(1_300)).resyncing);
        assert!(h.snapshot(t(1_500), &b), "the last missing snapshot completes the resync");
        assert!(!h.snapshot(t(1_600), &b), "it completes once per connection");
        let s = h.snapshot_at(t(2_000));
        assert_eq!(s.last_resync_ms, Some(500));
        h.disconnected(t(6_000), DisconnectReason::PongTimeout);
        h.connected(t(8_000));
        let s = h.snapshot_at(t(10_000));
        // Connected 1-6 s and 8-10 s out of 10 s.
        assert!((s.uptime_pct - 70.0).abs() < 1e-9, "{}", s.uptime_pct);
        assert_eq!((s.connects, s.reconnects), (2, 1));
        assert_eq!(s.disconnects[&DisconnectReason::PongTimeout], 1);
        assert!(s.resyncing, "a new connection resyncs again");
        assert_eq!(s.last_resync_ms, None);
    }

    #[test]
    fn message_rate_and_ages() {
        let a = TokenId::parse("1").unwrap();
        let mut h = HealthTracker::new(t(0));
        h.track(&a);
        for i in 0..120 {
            h.message(t(i * 500), Some(&a));
        }
        let s = h.snapshot_at(t(60_000));
        assert!((s.messages_per_s - 2.0).abs() < 0.1, "{}", s.messages_per_s);
        assert_eq!(s.tokens[&a].last_message_age_ms, Some(500));
        assert_eq!(s.tokens[&a].messages, 120);
        h.untrack(&a);
        assert!(h.snapshot_at(t(60_000)).tokens.is_empty());
    }
}
