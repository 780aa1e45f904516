//! The Prometheus metrics behind `GET /metrics`.
//!
//! Invariant: counters only grow, and the journal-derived ones move only when
//! the journal commits (they are fed by the journal observer), so over a run
//! they equal counts of the journal's rows. Figures that other parts keep as
//! running totals (the stream's message count, the alerter's sends) are
//! carried over as increments, so a total that restarts never makes a
//! counter go down.
//!
//! Money is reported in pUSD as a float: these are display figures, derived
//! from the exact amounts, never fed back into anything that trades.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabel {
    pub kind: String,
    pub outcome: String,
}

/// Every metric pmbot exports.
pub struct Metrics {
    registry: Registry,
    pub uptime_seconds: FloatGauge,
    // Market data.
    pub market_messages: Counter,
    pub market_messages_per_second: FloatGauge,
    pub market_reconnects: Counter,
    pub market_data_uptime_ratio: FloatGauge,
    pub market_message_age_seconds: FloatGauge,
    pub book_resync_seconds: Histogram,
    // Orders.
    pub orders_submitted: Counter,
    pub order_resends: Counter,
    pub orders: Family<StateLabel, Gauge>,
    pub order_updates: Family<StateLabel, Counter>,
    pub fills: Counter,
    pub order_ack_latency_seconds: Histogram,
    pub order_fill_latency_seconds: Histogram,
    pub gateway_refusals: Counter,
    // The engine.
    pub decisions: Family<ActionLabel, Counter>,
    pub risk_refusals: Family<ReasonLabel, Counter>,
    pub trades: Family<OutcomeLabel, Counter>,
    pub equity_usd: FloatGauge,
    pub cash_usd: FloatGauge,
    pub exposure_usd: FloatGauge,
    pub realised_pnl_usd: FloatGauge,
    pub fees_usd: FloatGauge,
    pub open_positions: Gauge,
    pub journal_commits: Counter,
    // Alerts.
    pub alerts: Family<AlertLabel, Counter>,
    /// Last totals seen of figures kept elsewhere, for their increments.
    carried: Mutex<Carried>,
}

#[derive(Default)]
struct Carried {
    messages: u64,
    reconnects: u64,
    last_resync_ms: Option<i64>,
    alerts: std::collections::BTreeMap<(String, String), u64>,
}

/// Latency buckets from 1 ms to about 65 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pmbot");
        let m = Metrics {
            uptime_seconds: FloatGauge::default(),
            market_messages: Counter::default(),
            market_messages_per_second: FloatGauge::default(),
            market_reconnects: Counter::default(),
            market_data_uptime_ratio: FloatGauge::default(),
            market_message_age_seconds: FloatGauge::default(),
            book_resync_seconds: Histogram::new(latency_buckets()),
            orders_submitted: Counter::default(),
            order_resends: Counter::default(),
            orders: Family::default(),
            order_updates: Family::default(),
            fills: Counter::default(),
            order_ack_latency_seconds: Histogram::new(latency_buckets()),
            order_fill_latency_seconds: Histogram::new(latency_buckets()),
            gateway_refusals: Counter::default(),
            decisions: Family::default(),
            risk_refusals: Family::default(),
            trades: Family::default(),
            equity_usd: FloatGauge::default(),
            cash_usd: FloatGauge::default(),
            exposure_usd: FloatGauge::default(),
            realised_pnl_usd: FloatGauge::default(),
            fees_usd: FloatGauge::default(),
            open_positions: Gauge::default(),
            journal_commits: Counter::default(),
            alerts: Family::default(),
            carried: Mutex::new(Carried::default()),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("uptime_seconds", "Seconds since this process started", m.uptime_seconds.clone());
        r.register("market_messages", "Market-data messages received", m.market_messages.clone());
        r.register(
            "market_messages_per_second",
            "Market-data messages per second over the last minute",
            m.market_messages_per_second.clone(),
        );
        r.register("market_reconnects", "Market-data stream reconnects", m.market_reconnects.clone());
        r.register(
            "market_data_uptime_ratio",
            "Share of the time since start the market-data stream was connected",
            m.market_data_uptime_ratio.clone(),
        );
        r.register(
            "market_message_age_seconds",
            "Age of the newest market-data message",
            m.market_message_age_seconds.clone(),
        );
        r.register(
            "book_resync_seconds",
            "Time from a (re)connect until every book had a fresh snapshot",
            m.book_resync_seconds.clone(),
        );
        r.register("orders_submitted", "Orders recorded before sending (first attempts)", m.orders_submitted.clone());
        r.register("order_resends", "Send attempts after the first, of the same signed order", m.order_resends.clone());
        r.register("orders", "Orders by their current state", m.orders.clone());
        r.register("order_updates", "Order state changes journaled, by new state", m.order_updates.clone());
        r.register("fills", "Fills journaled", m.fills.clone());
        r.register(
            "order_ack_latency_seconds",
            "From recording an order to its acknowledgement",
            m.order_ack_latency_seconds.clone(),
        );
        r.register(
            "order_fill_latency_seconds",
            "From recording an order to each of its fills",
            m.order_fill_latency_seconds.clone(),
        );
        r.register("gateway_refusals", "Orders the gateway refused before sending", m.gateway_refusals.clone());
        r.register("decisions", "Engine decisions by action", m.decisions.clone());
        r.register("risk_refusals", "Intents the risk gate refused, by rule", m.risk_refusals.clone());
        r.register("trades", "Closed trades by outcome (won: P&L after fees > 0)", m.trades.clone());
        r.register("equity_usd", "Cash plus positions at the last mark, pUSD", m.equity_usd.clone());
        r.register("cash_usd", "Cash at the last mark, pUSD", m.cash_usd.clone());
        r.register("exposure_usd", "Value of open positions at the last mark, pUSD", m.exposure_usd.clone());
        r.register("realised_pnl_usd", "Realised P&L after fees in this run, pUSD", m.realised_pnl_usd.clone());
        r.register("fees_usd", "Fees paid in this run, pUSD", m.fees_usd.clone());
        r.register("open_positions", "Open positions at the last mark", m.open_positions.clone());
        r.register("journal_commits", "Writes committed to the journal", m.journal_commits.clone());
        r.register("alerts", "Alerts by kind and outcome (sent, suppressed, dropped, failed)", m.alerts.clone());
        Metrics { registry, ..m }
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Carries the stream's running totals over as increments.
    pub fn set_market_totals(&self, messages: u64, reconnects: u64, last_resync_ms: Option<i64>) {
        let mut c = self.carried.lock().unwrap_or_else(|e| e.into_inner());
        self.market_messages.inc_by(messages.saturating_sub(c.messages));
        self.market_reconnects.inc_by(reconnects.saturating_sub(c.reconnects));
        // A total below the last one is a new stream: count on from it.
        c.messages = messages;
        c.reconnects = reconnects;
        if last_resync_ms.is_some() && last_resync_ms != c.last_resync_ms {
            if let Some(ms) = last_resync_ms {
                self.book_resync_seconds.observe(ms as f64 / 1000.0);
            }
            c.last_resync_ms = last_resync_ms;
        }
    }

    /// Carries an alert kind's running totals over as increments.
    pub fn set_alert_total(&self, kind: &str, outcome: &str, total: u64) {
        let mut c = self.carried.lock().unwrap_or_else(|e| e.into_inner());
        let seen = c.alerts.entry((kind.to_owned(), outcome.to_owned())).or_insert(0);
        let step = total.saturating_sub(*seen);
        *seen = total;
        if step > 0 {
            self.alerts.get_or_create(&AlertLabel { kind: kind.to_owned(), outcome: outcome.to_owned() }).inc_by(step);
        }
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}
