//! The engine-facing handle and the dispatcher task behind it.
//!
//! Invariant: [`Alerter::send`] does a severity check, a `try_send` and
//! relaxed atomic increments — no await, no lock, no I/O. Everything slow
//! (dedup bookkeeping, HTTP, retries, backoff, 429 waits) runs on the
//! dispatcher task; when it falls behind, the bounded queue fills and further
//! alerts are dropped and counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::dedup::{Deduper, Offer};
use super::sink::{AlertSink, SinkError, backoff};
use super::{Alert, AlertConfig, AlertConfigError, AlertKind, DiscordSink, JsonWebhookSink, Severity};

/// First retry waits about this long (jittered), doubling per attempt up to [`BACKOFF_CAP`].
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(8);

/// Counters by kind. `no_sink`: accepted while no sink was configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindStats {
    pub sent: u64,
    pub suppressed: u64,
    pub dropped: u64,
    pub failed: u64,
    pub no_sink: u64,
}

/// Counters by sink. `retries` counts every attempt after the first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    pub sent: u64,
    pub failed: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

/// A snapshot of the counters; safe to serve on health and metrics (no URLs).
///
/// `queued`: accepted onto the queue. `pending`: on the queue now.
/// `sent`: messages that reached at least one sink (follow-ups included;
/// `followups` counts those). `failed`: messages no sink accepted.
/// `suppressed`: held back by deduplication. `dropped`: queue full or
/// dispatcher stopped. `filtered`: below `min_severity`. `no_sink`: nothing
/// configured to send to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertStats {
    pub queued: u64,
    pub pending: u64,
    pub sent: u64,
    pub followups: u64,
    pub suppressed: u64,
    pub dropped: u64,
    pub failed: u64,
    pub filtered: u64,
    pub no_sink: u64,
    pub by_kind: BTreeMap<&'static str, KindStats>,
    pub sinks: BTreeMap<String, SinkStats>,
}

#[derive(Default)]
struct KindCounters {
    sent: AtomicU64,
    suppressed: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    no_sink: AtomicU64,
}

#[derive(Default)]
struct SinkCounters {
    sent: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    sent: AtomicU64,
    followups: AtomicU64,
    suppressed: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    filtered: AtomicU64,
    no_sink: AtomicU64,
    kinds: [KindCounters; AlertKind::ALL.len()],
}

struct Shared {
    /// `None`: disabled or no sink; alerts are counted only.
    tx: Option<mpsc::Sender<Alert>>,
    min_severity: Severity,
    counters: Counters,
    /// Sink names and counters, in sink order.
    sinks: Vec<(String, SinkCounters)>,
    stop: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Cheap, cloneable handle the engine sends alerts through.
#[derive(Clone)]
pub struct Alerter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.shared.sinks.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Alerter").field("sinks", &names).finish_non_exhaustive()
    }
}

/// Builds the sinks the config names (Discord, then the JSON webhook).
pub fn sinks_from_config(cfg: &AlertConfig) -> Result<Vec<Box<dyn AlertSink>>, AlertConfigError> {
    cfg.validate()?;
    let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
    if let Some(url) = &cfg.discord_webhook {
        let sink =
            DiscordSink::new(url, cfg.timeout).map_err(|_| AlertConfigError::BadUrl { field: "discord_webhook" })?;
        sinks.push(Box::new(sink));
    }
    if let Some(url) = &cfg.json_webhook {
        let sink =
            JsonWebhookSink::new(url, cfg.timeout).map_err(|_| AlertConfigError::BadUrl { field: "json_webhook" })?;
        sinks.push(Box::new(sink));
    }
    Ok(sinks)
}

impl Alerter {
    /// Validates `cfg` and starts with the sinks it names; for a binary that
    /// should refuse to start on a bad `[alerts]` table.
    ///
    /// # Panics
    /// Outside a tokio runtime when a sink is configured.
    pub fn try_start(cfg: &AlertConfig) -> Result<Alerter, AlertConfigError> {
        Ok(Alerter::with_sinks(cfg, sinks_from_config(cfg)?))
    }

    /// Starts with the sinks `cfg` names. A config that does not validate is
    /// logged (without URLs) and runs with no sink: alerts are then counted
    /// as `no_sink`, and the engine runs on.
    ///
    /// # Panics
    /// Outside a tokio runtime when a sink is configured.
    pub fn start(cfg: &AlertConfig) -> Alerter {
        match sinks_from_config(cfg) {
            Ok(sinks) => Alerter::with_sinks(cfg, sinks),
            Err(error) => {
                tracing::error!(%error, "alerts are not configured correctly; no alert will be sent");
                Alerter::with_sinks(cfg, Vec::new())
            }
        }
    }

    /// Starts the dispatcher over `sinks`; with none, no task is spawned.
    /// Zero sizes in `cfg` are raised to the smallest working value.
    ///
    /// # Panics
    /// Outside a tokio runtime when `sinks` is not empty.
    pub fn with_sinks(cfg: &AlertConfig, sinks: Vec<Box<dyn AlertSink>>) -> Alerter {
        let names = sinks.iter().map(|s| (s.name().to_owned(), SinkCounters::default())).collect();
        if sinks.is_empty() {
            return Alerter::idle(cfg.min_severity, names);
        }
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let shared = Arc::new(Shared {
            tx: Some(tx),
            min_severity: cfg.min_severity,
            counters: Counters::default(),
            sinks: names,
            stop: Notify::new(),
            task: Mutex::new(None),
        });
        let dispatcher = Dispatcher {
            shared: Arc::clone(&shared),
            sinks,
            dedup: Deduper::new(cfg.window),
            max_attempts: cfg.max_attempts.max(1),
            timeout: if cfg.timeout.is_zero() { AlertConfig::default().timeout } else { cfg.timeout },
        };
        let task = tokio::spawn(dispatcher.run(rx));
        *shared.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Alerter { shared }
    }

    /// No task, no sink: `send` only counts (tests, replays, `--no-alerts`).
    pub fn disabled() -> Alerter {
        Alerter::idle(Severity::Info, Vec::new())
    }

    fn idle(min_severity: Severity, sinks: Vec<(String, SinkCounters)>) -> Alerter {
        let shared = Shared {
            tx: None,
            min_severity,
            counters: Counters::default(),
            sinks,
            stop: Notify::new(),
            task: Mutex::new(None),
        };
        Alerter { shared: Arc::new(shared) }
    }

    /// Hands `alert` to the dispatcher. Never awaits, never blocks: a full
    /// queue (or a stopped dispatcher) drops the alert and counts it.
    pub fn send(&self, alert: Alert) {
        let c = &self.shared.counters;
        let kind = &c.kinds[alert.kind.index()];
        if alert.severity < self.shared.min_severity {
            c.filtered.fetch_add(1, Relaxed);
            return;
        }
        let Some(tx) = &self.shared.tx else {
            c.no_sink.fetch_add(1, Relaxed);
            kind.no_sink.fetch_add(1, Relaxed);
            return;
        };
        match tx.try_send(alert) {
            Ok(()) => {
                c.queued.fetch_add(1, Relaxed);
            }
            Err(_) => {
                c.dropped.fetch_add(1, Relaxed);
                kind.dropped.fetch_add(1, Relaxed);
            }
        }
    }

    pub fn stats(&self) -> AlertStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Relaxed);
        let by_kind = AlertKind::ALL
            .iter()
            .map(|k| {
                let kc = &c.kinds[k.index()];
                let stats = KindStats {
                    sent: get(&kc.sent),
                    suppressed: get(&kc.suppressed),
                    dropped: get(&kc.dropped),
                    failed: get(&kc.failed),
                    no_sink: get(&kc.no_sink),
                };
                (k.as_str(), stats)
            })
            .collect();
        let sinks = self
            .shared
            .sinks
            .iter()
            .map(|(name, sc)| {
                let stats = SinkStats {
                    sent: get(&sc.sent),
                    failed: get(&sc.failed),
                    retries: get(&sc.retries),
                    rate_limited: get(&sc.rate_limited),
                };
                (name.clone(), stats)
            })
            .collect();
        let pending = self.shared.tx.as_ref().map_or(0, |tx| (tx.max_capacity() - tx.capacity()) as u64);
        AlertStats {
            queued: get(&c.queued),
            pending,
            sent: get(&c.sent),
            followups: get(&c.followups),
            suppressed: get(&c.suppressed),
            dropped: get(&c.dropped),
            failed: get(&c.failed),
            filtered: get(&c.filtered),
            no_sink: get(&c.no_sink),
            by_kind,
            sinks,
        }
    }

    /// Stops the dispatcher: what is queued (e.g. the process-stop alert) and
    /// the suppressed counts not yet told are delivered within `grace`; then
    /// the task is aborted. Alerts sent afterwards through other handles are
    /// counted as dropped.
    pub async fn shutdown(self, grace: Duration) {
        self.shared.stop.notify_one();
        let task = self.shared.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut task) = task else { return };
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
            let pending = self.stats().pending;
            tracing::warn!(pending, ?grace, "alert dispatcher stopped before delivering everything");
        }
    }
}

struct Dispatcher {
    shared: Arc<Shared>,
    sinks: Vec<Box<dyn AlertSink>>,
    dedup: Deduper,
    max_attempts: u32,
    timeout: Duration,
}

impl Dispatcher {
    async fn run(mut self, mut rx: mpsc::Receiver<Alert>) {
        loop {
            let flush_at = self.dedup.next_flush();
            tokio::select! {
                biased;
                () = self.shared.stop.notified() => break,
                alert = rx.recv() => match alert {
                    Some(alert) => self.offer(alert).await,
                    // Every handle dropped without shutdown.
                    None => break,
                },
                () = sleep_until(flush_at), if flush_at.is_some() => {
                    for (follow_up, held) in self.dedup.due(Instant::now()) {
                        self.deliver(&follow_up, held, true).await;
                    }
                }
            }
        }
        // Shutdown: refuse new alerts, deliver what is queued, then tell the
        // suppressed counts that would otherwise be lost.
        rx.close();
        while let Some(alert) = rx.recv().await {
            self.offer(alert).await;
        }
        for (follow_up, held) in self.dedup.drain(Instant::now()) {
            self.deliver(&follow_up, held, true).await;
        }
    }

    async fn offer(&mut self, alert: Alert) {
        match self.dedup.offer(&alert, Instant::now()) {
            Offer::Send { suppressed } => self.deliver(&alert, suppressed, false).await,
            Offer::Suppress => {
                let c = &self.shared.counters;
                c.suppressed.fetch_add(1, Relaxed);
                c.kinds[alert.kind.index()].suppressed.fetch_add(1, Relaxed);
            }
        }
    }

    /// Sends to every sink at once (a slow sink does not hold another back).
    async fn deliver(&self, alert: &Alert, suppressed: u64, follow_up: bool) {
        let attempts =
            self.sinks.iter().enumerate().map(|(i, sink)| self.deliver_to(i, sink.as_ref(), alert, suppressed));
        let delivered = futures::future::join_all(attempts).await.into_iter().filter(|ok| *ok).count();
        let c = &self.shared.counters;
        let kind = &c.kinds[alert.kind.index()];
        if delivered > 0 {
            c.sent.fetch_add(1, Relaxed);
            kind.sent.fetch_add(1, Relaxed);
            if follow_up {
                c.followups.fetch_add(1, Relaxed);
            }
        } else {
            c.failed.fetch_add(1, Relaxed);
            kind.failed.fetch_add(1, Relaxed);
        }
    }

    /// Attempts until delivered, a permanent failure, or `max_attempts`.
    /// A 429 waits exactly what the receiver asked; other transient failures
    /// back off exponentially with jitter.
    async fn deliver_to(&self, index: usize, sink: &dyn AlertSink, alert: &Alert, suppressed: u64) -> bool {
        let counters = &self.shared.sinks[index].1;
        let mut attempt = 1;
        loop {
            // The sinks bound their own requests too; this covers any sink.
            let result = match tokio::time::timeout(self.timeout, sink.send(alert, suppressed)).await {
                Ok(result) => result,
                Err(_) => Err(SinkError::Transient("no answer within the timeout".to_owned())),
            };
            let error = match result {
                Ok(()) => {
                    counters.sent.fetch_add(1, Relaxed);
                    return true;
                }
                Err(error) => error,
            };
            let wait = match &error {
                SinkError::RateLimited { retry_after } => {
                    counters.rate_limited.fetch_add(1, Relaxed);
                    Some(*retry_after)
                }
                SinkError::Transient(_) => Some(backoff(attempt, BACKOFF_BASE, BACKOFF_CAP)),
                SinkError::Permanent(_) => None,
            };
            match wait {
                Some(wait) if attempt < self.max_attempts => {
                    tracing::debug!(sink = sink.name(), kind = alert.kind.as_str(), attempt, %error, ?wait, "alert attempt failed; retrying");
                    tokio::time::sleep(wait).await;
                    counters.retries.fetch_add(1, Relaxed);
                    attempt += 1;
                }
                _ => {
                    counters.failed.fetch_add(1, Relaxed);
                    tracing::warn!(sink = sink.name(), kind = alert.kind.as_str(), attempt, %error, "alert not delivered");
                    return false;
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
