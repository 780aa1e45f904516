//! The ops HTTP server: `GET /` (the dashboard), `GET /api/dashboard` (its
//! data), `GET /health` and `GET /metrics`.
//!
//! Invariants: read-only (only GET routes exist; any other method is 405 and
//! changes nothing), loopback unless configured otherwise, and every handler
//! only reads [`OpsState`], so a busy scraper cannot slow the engine.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::state::OpsState;

/// The dashboard: one self-contained page, no build step.
pub const DASHBOARD_HTML: &str = include_str!("dashboard.html");

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("ops server address {addr:?} is not HOST:PORT")]
    BadAddress { addr: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// A running server; stops when dropped or on [`OpsServer::stop`].
pub struct OpsServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl OpsServer {
    /// Binds `addr` and serves `state` on the current tokio runtime.
    pub async fn start(addr: &str, state: Arc<OpsState>) -> Result<OpsServer, ServerError> {
        let parsed: SocketAddr = addr.parse().map_err(|_| ServerError::BadAddress { addr: addr.to_owned() })?;
        let listener = TcpListener::bind(parsed).await.map_err(|source| ServerError::Bind { addr: parsed, source })?;
        let bound = listener.local_addr().map_err(|source| ServerError::Bind { addr: parsed, source })?;
        if !bound.ip().is_loopback() {
            tracing::warn!(addr = %bound, "the ops server listens beyond this machine: it shows positions and P&L");
        }
        let (stop, mut stopped) = watch::channel(false);
        let app = router(state);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::warn!(error = %e, "the ops server stopped");
            }
        });
        Ok(OpsServer { addr: bound, stop, task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for open requests to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for OpsServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The routes, on `state`.
pub fn router(state: Arc<OpsState>) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/api/dashboard", get(dashboard_data))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD_HTML)
}

async fn dashboard_data(State(state): State<Arc<OpsState>>) -> Response {
    json(StatusCode::OK, &state.dashboard_json())
}

async fn health(State(state): State<Arc<OpsState>>) -> Response {
    let report = state.health();
    let code = StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    json(code, &report)
}

async fn metrics(State(state): State<Arc<OpsState>>) -> Response {
    let body = state.metrics_text();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

fn json(code: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (code, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body)
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode: {e}")).into_response(),
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for OpsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsServer").finish_non_exhaustive()
    }
}
