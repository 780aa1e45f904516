//! What the ops server shows, shared between the driver, the journal
//! observer and the HTTP handlers.
//!
//! Invariant: every field is a plain value replaced or appended under a
//! short lock; nothing here waits on I/O, so the engine side never waits on
//! a page being served, and the lists are bounded, so a run of weeks keeps a
//! fixed footprint.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pmbot_rows::OpenPosition;
use serde::Serialize;

use crate::health::{self, HealthConfig, HealthInputs, HealthReport};
use crate::metrics::Metrics;

/// Most recent decisions (entries, exits, refusals) kept for the dashboard.
pub const RECENT_DECISIONS: usize = 40;
/// Most points of the equity curve kept; older ones are thinned, never the newest.
pub const EQUITY_POINTS: usize = 720;

/// A decision as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionView {
    pub at_ms: i64,
    pub market: String,
    pub action: &'static str,
    pub reason: String,
    pub confidence: Option<String>,
    pub p_up: Option<String>,
    pub client_order_id: Option<String>,
}

/// One point of the equity curve (display figure in pUSD).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EquityPoint {
    pub at_ms: i64,
    pub equity: f64,
}

/// The last P&L mark, exact amounts as decimal text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MarkView {
    pub at_ms: i64,
    pub cash: String,
    pub positions: String,
    pub equity: String,
    pub realised: String,
    pub fees: String,
    pub open_positions: u32,
}

/// What the dashboard page draws.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dashboard {
    pub positions: Vec<OpenPosition>,
    pub decisions: VecDeque<DecisionView>,
    pub refusals: VecDeque<DecisionView>,
    pub equity: Vec<EquityPoint>,
    /// Keep every `equity_stride`-th mark (doubles when the curve is thinned).
    #[serde(skip)]
    equity_stride: u64,
    #[serde(skip)]
    marks_seen: u64,
    pub mark: Option<MarkView>,
    pub trades: u64,
    pub trades_won: u64,
}

impl Dashboard {
    pub(crate) fn push_decision(&mut self, d: DecisionView) {
        let list = if d.action == "refused" { &mut self.refusals } else { &mut self.decisions };
        if list.len() == RECENT_DECISIONS {
            list.pop_front();
        }
        list.push_back(d);
    }

    pub(crate) fn push_equity(&mut self, p: EquityPoint) {
        self.equity_stride = self.equity_stride.max(1);
        self.marks_seen += 1;
        if !(self.marks_seen - 1).is_multiple_of(self.equity_stride) {
            return;
        }
        if self.equity.len() == EQUITY_POINTS {
            // Keep every other point; the curve keeps its shape and span.
            let mut n = 0;
            self.equity.retain(|_| {
                n += 1;
                n % 2 == 1
            });
            self.equity_stride *= 2;
        }
        self.equity.push(p);
    }
}

/// The alert sender's counts, for metrics and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertCounts {
    /// (kind, outcome) -> total.
    pub totals: Vec<(String, String, u64)>,
}

/// Everything the ops server reads.
pub struct OpsState {
    pub metrics: Metrics,
    pub health_config: HealthConfig,
    started: Instant,
    inputs: Mutex<(HealthInputs, Instant)>,
    dashboard: Mutex<Dashboard>,
    alerts: Mutex<AlertCounts>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain values replaced whole: still consistent after a panic elsewhere.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl OpsState {
    pub fn new(health_config: HealthConfig) -> OpsState {
        let now = Instant::now();
        OpsState {
            metrics: Metrics::new(),
            health_config,
            started: now,
            inputs: Mutex::new((HealthInputs::default(), now)),
            dashboard: Mutex::new(Dashboard::default()),
            alerts: Mutex::new(AlertCounts::default()),
        }
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The driver's latest figures (also carried into the metrics).
    pub fn report(&self, inputs: HealthInputs) {
        if let Some(md) = &inputs.market_data {
            let m = &self.metrics;
            m.set_market_totals(md.messages, md.reconnects, md.last_resync_ms);
            m.market_messages_per_second.set(md.messages_per_s);
            m.market_data_uptime_ratio.set(md.uptime_pct / 100.0);
            m.market_message_age_seconds.set(md.message_age_ms.map_or(0.0, |a| a as f64 / 1000.0));
        }
        *lock(&self.inputs) = (inputs, Instant::now());
    }

    /// Changes the figures last reported in place (the observer's part).
    pub fn update_inputs(&self, f: impl FnOnce(&mut HealthInputs)) {
        f(&mut lock(&self.inputs).0);
    }

    pub fn set_positions(&self, positions: Vec<OpenPosition>) {
        lock(&self.dashboard).positions = positions;
    }

    pub fn set_alert_counts(&self, counts: AlertCounts) {
        for (kind, outcome, total) in &counts.totals {
            self.metrics.set_alert_total(kind, outcome, *total);
        }
        *lock(&self.alerts) = counts;
    }

    pub(crate) fn dashboard_mut(&self) -> MutexGuard<'_, Dashboard> {
        lock(&self.dashboard)
    }

    pub fn health(&self) -> HealthReport {
        let (inputs, at) = lock(&self.inputs).clone();
        health::evaluate(&inputs, at.elapsed(), self.uptime(), &self.health_config)
    }

    pub fn metrics_text(&self) -> String {
        self.metrics.uptime_seconds.set(self.uptime().as_secs_f64());
        self.metrics.encode()
    }

    /// The dashboard's data: health, positions, decisions, equity, alerts.
    pub fn dashboard_json(&self) -> serde_json::Value {
        let health = self.health();
        let d = lock(&self.dashboard).clone();
        let alerts = lock(&self.alerts).clone();
        serde_json::json!({"health": health, "dashboard": d, "alerts": alerts})
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for OpsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsState").finish_non_exhaustive()
    }
}
