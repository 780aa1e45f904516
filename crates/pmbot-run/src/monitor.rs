//! The ops side of a trading run: metrics, health, dashboard and alerts fed
//! from the journal, and the server that shows them.
//!
//! The drivers (paper, live) call [`Monitor::report`] with plain health
//! figures about every half second; everything else arrives through the
//! journal observer, so what is shown is what was journaled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pmbot_core::{Clock, TimestampMs};
use pmbot_engine::engine::{Engine, SharedJournal, lock};
use pmbot_engine::summary;
use pmbot_ops::alerts::{Alert, AlertKind, Alerter, Severity};
pub use pmbot_ops::health::GatewayFigures;
use pmbot_ops::health::{BalanceFigures, HealthInputs, JournalFigures, MarketDataFigures};
use pmbot_ops::observe::OpsObserver;
use pmbot_ops::raise::Raiser;
use pmbot_ops::server::OpsServer;
use pmbot_ops::state::AlertCounts;
use pmbot_ops::state::OpsState;
use pmbot_venue::SystemClock;
use pmbot_venue::gateway::HeartbeatHealth;
use pmbot_venue::gateway::{Gateway, GatewayAlert};
use pmbot_venue::marketdata::{ConnectionState, StreamHealth};

use crate::config::FileConfig;
use crate::error::{Context, Result};
use crate::offline::Exchange;
use crate::shutdown::Shutdown;

/// How often the drivers report.
pub const REPORT_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct Monitor {
    pub state: Arc<OpsState>,
    server: Option<OpsServer>,
    journal: SharedJournal,
    journal_file: String,
    last_report: Option<Instant>,
    alerter: Alerter,
    /// Alerts the journal observer raised, to journal and send.
    raised: std::sync::mpsc::Receiver<Alert>,
    /// Since when the market data has been down (wall clock).
    md_down_since: Option<Instant>,
    md_alerted: bool,
    stale_after: Duration,
    what: String,
    /// `[ops] summary_at`, minutes after midnight UTC.
    summary_minute: u32,
    /// Engine time at which the next daily summary is due (set at the first step).
    next_summary: Option<i64>,
    /// The balance as last judged: an alert goes out when this changes.
    balance_state: BalanceState,
}

impl Monitor {
    /// Installs the observer on `journal` and starts the server (a server
    /// that cannot listen is a warning: trading goes on without it). On a
    /// simulated exchange alerts go to loopback webhooks only (a printed
    /// line names those left alone).
    pub async fn start(
        file: &FileConfig,
        journal: &SharedJournal,
        http: Option<&str>,
        what: &str,
        exchange: Exchange,
    ) -> Result<Monitor> {
        let mut alerts = file.alerts.clone().with_env(|k| std::env::var(k).ok());
        if exchange.is_simulated() {
            let (kept, notice) = crate::offline::loopback_alerts(alerts);
            if let Some(line) = notice {
                println!("{line}");
            }
            alerts = kept;
        }
        let alerter = Alerter::try_start(&alerts).context("invalid [alerts] table")?;
        Self::start_with(file, journal, http, what, Some(alerter)).await
    }

    /// For a backtest: metrics, logs and the server as for a live run, but
    /// nothing is sent to a person (the events are history, not news) and no
    /// daily summary is written.
    pub async fn start_replay(file: &FileConfig, journal: &SharedJournal, http: Option<&str>) -> Result<Monitor> {
        let mut m = Self::start_with(file, journal, http, "backtest", None).await?;
        m.next_summary = Some(i64::MAX);
        Ok(m)
    }

    async fn start_with(
        file: &FileConfig,
        journal: &SharedJournal,
        http: Option<&str>,
        what: &str,
        alerter: Option<Alerter>,
    ) -> Result<Monitor> {
        // A replay raises nothing: its journal stays the same run after run.
        let raising = alerter.is_some();
        let alerter = alerter.unwrap_or_else(Alerter::disabled);
        let state = Arc::new(OpsState::new(file.ops.health()));
        let (tx, raised) = std::sync::mpsc::channel();
        let mut raiser = Raiser::default();
        let observer = OpsObserver::new(state.clone());
        let observer = if raising {
            observer.with_alerts(move |r| {
                if let Some(alert) = raiser.alert_for(r) {
                    let _ = tx.send(alert);
                }
            })
        } else {
            observer
        };
        lock(journal).set_observer(Box::new(observer));
        let addr = http.unwrap_or(&file.ops.http);
        let server = if addr.is_empty() {
            None
        } else {
            match OpsServer::start(addr, state.clone()).await {
                Ok(s) => {
                    println!("ops: dashboard http://{0}/ (health /health, metrics /metrics)", s.addr());
                    Some(s)
                }
                Err(e) => {
                    eprintln!("WARNING: no dashboard, health or metrics endpoint: {e}");
                    tracing::warn!(error = %e, "ops server not started");
                    None
                }
            }
        };
        let journal_file =
            lock(journal).path().file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if raising {
            alerter.send(Alert::new(
                AlertKind::ProcessStart,
                Severity::Info,
                format!("pmbot {what} started"),
                format!("journal {journal_file}"),
                SystemClock.now().millis(),
            ));
        }
        Ok(Monitor {
            state,
            server,
            journal: journal.clone(),
            journal_file,
            last_report: None,
            alerter,
            raised,
            md_down_since: None,
            md_alerted: false,
            stale_after: file.ops.stale_after,
            what: what.to_owned(),
            summary_minute: file.ops.summary_minute().context("invalid [ops] summary_at")?,
            next_summary: None,
            balance_state: BalanceState::Fine,
        })
    }

    /// Journals `alert` (a note of kind `alert`) and hands it to the alerter.
    pub fn raise(&self, alert: Alert) {
        let note = serde_json::json!({
            "kind": alert.kind.as_str(), "severity": alert.severity.as_str(), "title": alert.title,
        });
        if let Err(e) = lock(&self.journal).record_note("alert", &note, TimestampMs::from_millis(alert.at_ms)) {
            tracing::warn!(error = %e, "cannot journal an alert");
        }
        // Critical ones reach the terminal too; all are in the file log.
        if alert.severity == Severity::Critical {
            tracing::warn!(target: "pmbot::alert", kind = alert.kind.as_str(), severity = alert.severity.as_str(),
                title = %alert.title, "alert");
        } else {
            tracing::info!(target: "pmbot::alert", kind = alert.kind.as_str(), severity = alert.severity.as_str(),
                title = %alert.title, "alert");
        }
        self.alerter.send(alert);
    }

    /// Journals and sends what the observer raised. A deterministic driver
    /// (paper --sim) calls it after every step, so the alert notes land at
    /// the same place in the journal on every run.
    pub fn pass_on_raised(&self) {
        while let Ok(alert) = self.raised.try_recv() {
            self.raise(alert);
        }
    }

    /// After each step of the engine (at engine time `now`): passes on what
    /// was raised, and writes the daily summary when `[ops] summary_at` has
    /// come. Driven by engine time, so a simulated run summarises its
    /// simulated days, at the same place in its journal every time.
    pub fn after_step(&mut self, now: TimestampMs) {
        self.pass_on_raised();
        let due = *self.next_summary.get_or_insert_with(|| next_summary_time(now.millis(), self.summary_minute));
        if now.millis() < due {
            return;
        }
        self.next_summary = Some(next_summary_time(now.millis(), self.summary_minute));
        // The summary time falls in the day after the one summarised.
        if let Some(day) = summary::utc_date(due).and_then(|d| d.pred_opt()) {
            self.daily_summary(day, now);
        }
    }

    /// Writes the summary of `day` beside the journal, journals it and posts it.
    fn daily_summary(&self, day: chrono::NaiveDate, now: TimestampMs) {
        let written = {
            let j = lock(&self.journal);
            summary::compute(&j, day, now.millis()).and_then(|s| {
                let path = summary::write_beside(j.path(), &s)?;
                Ok((s, path))
            })
        };
        match written {
            Ok((s, path)) => {
                let note = serde_json::json!({
                    "date": day.to_string(), "file": path.display().to_string(), "trades": s.trades,
                    "pnl_after_fees": s.pnl_after_fees.to_string(), "fees": s.fees.to_string(),
                });
                if let Err(e) = lock(&self.journal).record_note("daily_summary", &note, now) {
                    tracing::warn!(error = %e, "cannot journal the daily summary");
                }
                tracing::info!(target: "pmbot::summary", date = %day, file = %path.display(), "daily summary written");
                self.alerter.send(Alert::new(
                    AlertKind::DailySummary,
                    Severity::Info,
                    format!("Daily summary {day}"),
                    s.short_text(),
                    now.millis(),
                ));
            }
            Err(e) => self.raise(Alert::new(
                AlertKind::DailySummary,
                Severity::Warning,
                format!("Daily summary {day} not written"),
                e.to_string(),
                now.millis(),
            )),
        }
    }

    /// Also alerts on market data
    /// down for longer than `[ops] stale_after`.
    fn pass_on_alerts(&mut self, md: &MarketDataFigures, now_ms: i64) {
        self.pass_on_raised();
        // Disconnected, resyncing, or connected with nothing new for longer
        // than `stale_after`: all are market data a person should know is gone.
        let stale_ms = i64::try_from(self.stale_after.as_millis()).unwrap_or(i64::MAX);
        let down = !md.connected || md.resyncing || md.message_age_ms.is_some_and(|a| a > stale_ms);
        match (down, self.md_down_since) {
            (true, None) => self.md_down_since = Some(Instant::now()),
            (true, Some(since)) if !self.md_alerted && since.elapsed() >= self.stale_after => {
                self.md_alerted = true;
                self.raise(Alert::new(
                    AlertKind::MarketDataStale,
                    Severity::Warning,
                    "Market data down",
                    format!("the stream has been {} for {:.0} s", md.state, since.elapsed().as_secs_f64()),
                    now_ms,
                ));
            }
            (false, Some(_)) => {
                if self.md_alerted {
                    self.raise(Alert::new(AlertKind::MarketDataStale, Severity::Info, "Market data back", "", now_ms));
                }
                self.md_down_since = None;
                self.md_alerted = false;
            }
            _ => {}
        }
        let stats = self.alerter.stats();
        let mut totals = Vec::new();
        for (kind, k) in &stats.by_kind {
            for (outcome, n) in [
                ("sent", k.sent),
                ("suppressed", k.suppressed),
                ("dropped", k.dropped),
                ("failed", k.failed),
                ("no_sink", k.no_sink),
            ] {
                if n > 0 {
                    totals.push(((*kind).to_owned(), outcome.to_owned(), n));
                }
            }
        }
        self.state.set_alert_counts(AlertCounts { totals });
    }

    /// Whether a report is due (drivers that step fast ask before building one).
    pub fn due(&self) -> bool {
        self.last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY)
    }

    /// The driver's figures: the engine's, and those of the parts it runs.
    pub fn report(&mut self, engine: &Engine, market_data: MarketDataFigures, gateway: Option<GatewayFigures>) {
        self.last_report = Some(Instant::now());
        let mut inputs = HealthInputs::default();
        // The observer keeps what it learnt from the journal.
        self.state.update_inputs(|i| inputs = i.clone());
        self.pass_on_alerts(&market_data, engine.now().millis());
        inputs.market_data = Some(market_data);
        inputs.gateway = gateway;
        inputs.engine_now_ms = engine.now().millis();
        inputs.markets = engine.market_count();
        inputs.journal = JournalFigures { file: self.journal_file.clone(), ..inputs.journal };
        self.state.report(inputs);
        self.state.set_positions(engine.positions());
    }

    /// The run ended: health says so from now on.
    pub fn run_ended(&self) {
        self.state.update_inputs(|i| i.finished = true);
    }

    /// Sends the stop alert, then stops the server after `[ops] linger`
    /// (time to read the final figures of a run that ended), cut short by a
    /// stop signal (none when the run itself was stopped by one).
    pub async fn stop(self, linger: Duration, why: &str, signals: &Shutdown) {
        self.pass_on_raised();
        // The journal has the run's end; this one is only sent.
        self.alerter.send(Alert::new(
            AlertKind::ProcessStop,
            Severity::Info,
            format!("pmbot {} stopped", self.what),
            format!("stopped: {why}"),
            SystemClock.now().millis(),
        ));
        self.alerter.clone().shutdown(Duration::from_secs(5)).await;
        let Some(server) = self.server else { return };
        if !linger.is_zero() && signals.requested().is_none() {
            println!("ops: the server stays up for {}", humantime::format_duration(linger));
            tokio::select! {
                _ = tokio::time::sleep(linger) => {}
                _ = signals.wait() => {}
            }
        }
        server.stop().await;
    }
}

/// The first time after `now_ms` that is `minute` minutes past a UTC midnight.
fn next_summary_time(now_ms: i64, minute: u32) -> i64 {
    const DAY: i64 = 86_400_000;
    let at = now_ms.div_euclid(DAY) * DAY + i64::from(minute) * 60_000;
    if at > now_ms { at } else { at + DAY }
}

/// The stream's health as the ops side shows it.
pub fn stream_figures(h: &StreamHealth) -> MarketDataFigures {
    let (state, connected) = match h.state {
        ConnectionState::Live { .. } => ("live", true),
        ConnectionState::Connecting => ("connecting", false),
        ConnectionState::Backoff { .. } => ("backoff", false),
        ConnectionState::Stopped => ("stopped", false),
    };
    MarketDataFigures {
        state: state.to_owned(),
        connected,
        resyncing: h.resyncing,
        // The newest message of any token.
        message_age_ms: h.tokens.values().filter_map(|t| t.last_message_age_ms).min(),
        uptime_pct: h.uptime_pct,
        uptime_s: (h.at.millis() - h.started.millis()).max(0) as f64 / 1000.0,
        reconnects: h.reconnects,
        messages: h.messages,
        messages_per_s: h.messages_per_s,
        last_resync_ms: h.last_resync_ms,
    }
}

/// The gateway's health as the ops side shows it.
pub fn gateway_figures(g: &Gateway) -> GatewayFigures {
    let stats = g.stats();
    GatewayFigures {
        halted: g.halted(),
        heartbeat_ok: !matches!(g.heartbeat(), HeartbeatHealth::Failing { .. }),
        user_channel_connected: g.user_channel().connected,
        posts: stats.posts,
        ambiguous: stats.ambiguous,
        rate_limited: stats.rate_limited,
    }
}

/// A gateway alert as a person reads it.
pub fn gateway_alert(a: &GatewayAlert, at: TimestampMs) -> Alert {
    let (kind, severity, title, body) = match a {
        GatewayAlert::KillSwitch { path, client_order_id, cancelled, cancel_error } => (
            AlertKind::KillSwitch,
            Severity::Critical,
            "Kill switch engaged: order refused".to_owned(),
            format!(
                "{} exists; refused {client_order_id}; open orders cancelled: {}",
                path.display(),
                match (cancelled, cancel_error) {
                    (Some(n), _) => n.to_string(),
                    (None, Some(e)) => format!("cancel failed ({e})"),
                    (None, None) => "not configured".to_owned(),
                }
            ),
        ),
        GatewayAlert::Halted { reason, .. } => {
            (AlertKind::Gateway, Severity::Critical, "Trading halted until restart".to_owned(), reason.clone())
        }
        GatewayAlert::HeartbeatFailing { error, failures } => (
            AlertKind::Gateway,
            Severity::Warning,
            "Order-safety heartbeat failing: new orders refused".to_owned(),
            format!("{failures} failures; last: {error}"),
        ),
        GatewayAlert::HeartbeatRecovered => {
            (AlertKind::Gateway, Severity::Info, "Order-safety heartbeat recovered".to_owned(), String::new())
        }
        GatewayAlert::OrderUnknown { client_order_id, order_id } => (
            AlertKind::OrderAmbiguous,
            Severity::Critical,
            "Order fate unknown after every look-up".to_owned(),
            format!("{client_order_id} ({order_id}): check `pmbot orders`"),
        ),
        GatewayAlert::OrderIdMismatch { client_order_id, computed, reported } => (
            AlertKind::Gateway,
            Severity::Critical,
            "Exchange order id differs from the signed hash".to_owned(),
            format!("{client_order_id}: computed {computed}, reported {reported}"),
        ),
        GatewayAlert::JournalFailed { detail } => {
            (AlertKind::Gateway, Severity::Critical, "Journal write failed after sending".to_owned(), detail.clone())
        }
        GatewayAlert::BalanceCheck { client_order_id, kind, detail } => (
            AlertKind::BalanceCheckFailing,
            Severity::Critical,
            "Balance check refused an order".to_owned(),
            format!("{client_order_id}: {kind:?}: {detail}"),
        ),
        GatewayAlert::UserChannelReconnected { connection } => (
            AlertKind::Gateway,
            Severity::Info,
            "User channel reconnected; orders reconciled".to_owned(),
            format!("connection {connection}"),
        ),
    };
    Alert::new(kind, severity, title, body, at.millis())
}

#[cfg(test)]
mod tests {
    use super::next_summary_time;

    #[test]
    fn the_summary_comes_at_the_next_summary_time() {
        const DAY: i64 = 86_400_000;
        let midnight = 1_767_225_600_000; // 2026-01-01T00:00Z
        assert_eq!(next_summary_time(midnight, 5), midnight + 5 * 60_000);
        assert_eq!(next_summary_time(midnight + 5 * 60_000, 5), midnight + DAY + 5 * 60_000, "strictly after");
        assert_eq!(next_summary_time(midnight + 3_600_000, 0), midnight + DAY);
        assert_eq!(next_summary_time(midnight - 1, 0), midnight);
    }
}

/// Reads the funder's collateral every `every` on its own task (the chain
/// reader caches for 30 s; every source fails closed), for `/health` and the
/// balance-floor alert. The latest reading is in the returned slot.
/// The latest balance reading, shared with the task that takes it.
pub type BalanceSlot = Arc<std::sync::Mutex<Option<BalanceReading>>>;

pub fn watch_balance(
    balances: crate::account::Balances,
    every: Duration,
) -> (BalanceSlot, tokio::task::JoinHandle<()>) {
    let slot = Arc::new(std::sync::Mutex::new(None));
    let out = slot.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let reading = match balances.collateral().await {
                Ok(view) => {
                    BalanceReading::Read { micros: u64::try_from(view.balance).unwrap_or(u64::MAX), at: view.read_at }
                }
                Err(e) => BalanceReading::Failed(e),
            };
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(reading);
        }
    });
    (slot, task)
}

/// How the collateral stands, for alerting on changes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BalanceState {
    Fine,
    Low,
    Unreadable,
}

/// The last collateral reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalanceReading {
    Read { micros: u64, at: TimestampMs },
    Failed(String),
}

impl Monitor {
    /// The balance reading for `/health`, and an alert when it fails or
    /// falls below `[ops] balance_floor` (once each time it happens).
    pub fn balance(&mut self, reading: Option<&BalanceReading>, floor: pmbot_core::Usdc, now: TimestampMs) {
        let Some(reading) = reading else { return };
        let (figures, state) = match reading {
            BalanceReading::Read { micros, at } => {
                let balance = pmbot_core::Usdc::from_micros(i64::try_from(*micros).unwrap_or(i64::MAX));
                let low = floor > pmbot_core::Usdc::ZERO && balance < floor;
                let detail =
                    if low { format!("{balance} pUSD, below the floor of {floor}") } else { format!("{balance} pUSD") };
                let state = if low { BalanceState::Low } else { BalanceState::Fine };
                (BalanceFigures { ok: true, detail, checked_ms: Some(at.millis()) }, state)
            }
            BalanceReading::Failed(why) => (
                BalanceFigures { ok: false, detail: format!("cannot read: {why}"), checked_ms: None },
                BalanceState::Unreadable,
            ),
        };
        if state != self.balance_state {
            match state {
                BalanceState::Low => self.raise(Alert::new(
                    AlertKind::BalanceLow,
                    Severity::Warning,
                    "Collateral below the floor",
                    figures.detail.clone(),
                    now.millis(),
                )),
                BalanceState::Unreadable => self.raise(Alert::new(
                    AlertKind::BalanceCheckFailing,
                    Severity::Critical,
                    "Balance cannot be read: orders are refused",
                    figures.detail.clone(),
                    now.millis(),
                )),
                BalanceState::Fine => {}
            }
            self.balance_state = state;
        }
        self.state.update_inputs(|i| i.balance = Some(figures));
    }
}
