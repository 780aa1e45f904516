//! The ops side of a trading run: metrics, health, dashboard and alerts fed
//! from the journal, and the server that shows them.
//!
//! The drivers (paper, live) call [`Monitor::report`] with plain health
//! figures about every half second; everything else arrives through the
//! journal observer, so what is shown is what was journaled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use pmbot_engine::engine::{Engine, SharedJournal, lock};
use pmbot_ops::health::{GatewayFigures, HealthInputs, JournalFigures, MarketDataFigures};
use pmbot_ops::observe::OpsObserver;
use pmbot_ops::server::OpsServer;
use pmbot_ops::state::OpsState;
use pmbot_venue::gateway::Gateway;
use pmbot_venue::gateway::HeartbeatHealth;
use pmbot_venue::marketdata::{ConnectionState, StreamHealth};

use crate::config::FileConfig;

/// How often the drivers report.
pub const REPORT_EVERY: Duration = Duration::from_millis(500);

pub struct Monitor {
    pub state: Arc<OpsState>,
    server: Option<OpsServer>,
    journal_file: String,
    last_report: Option<Instant>,
}

impl Monitor {
    /// Installs the observer on `journal` and starts the server (a server
    /// that cannot listen is a warning: trading goes on without it).
    pub async fn start(file: &FileConfig, journal: &SharedJournal, http: Option<&str>) -> Result<Monitor> {
        let state = Arc::new(OpsState::new(file.ops.health()));
        lock(journal).set_observer(Box::new(OpsObserver::new(state.clone())));
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
        Ok(Monitor { state, server, journal_file, last_report: None })
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

    /// Stops the server, after `[ops] linger` (time to read the final
    /// figures of a run that ended).
    pub async fn stop(self, linger: Duration) {
        let Some(server) = self.server else { return };
        if !linger.is_zero() {
            println!("ops: the server stays up for {}", humantime::format_duration(linger));
            tokio::time::sleep(linger).await;
        }
        server.stop().await;
    }
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
