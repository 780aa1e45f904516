//! A loopback HTTP receiver standing in for Discord: records every request
//! and answers from a script (then a default), including 429s with
//! `retry_after`, server errors, and never answering at all.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pmbot_ops::alerts::{Alert, AlertKind, Severity};
use serde_json::Value;

/// What the receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// 204 No Content, as Discord does.
    Ok,
    Status(u16),
    /// 429 with Discord's JSON body `{"retry_after": seconds, ...}`.
    RateLimited(f64),
    /// Accepts the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    pub path: String,
    pub body: Value,
}

struct Script {
    replies: VecDeque<Reply>,
    default: Reply,
    hits: Vec<Hit>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves until the test's runtime ends.
    pub async fn start(replies: &[Reply], default: Reply) -> Receiver {
        let script =
            Arc::new(Mutex::new(Script { replies: replies.iter().copied().collect(), default, hits: Vec::new() }));
        let app = Router::new().fallback(answer).with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Receiver { addr, script }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.script.lock().unwrap().hits.clone()
    }

    /// Waits (bounded) until at least `n` requests arrived; the hits so far.
    pub async fn wait_for_hits(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits();
            if hits.len() >= n || Instant::now() >= deadline {
                return hits;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn answer(State(script): State<Arc<Mutex<Script>>>, uri: Uri, body: Bytes) -> Response {
    let reply = {
        let mut s = script.lock().unwrap();
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        s.hits.push(Hit { at: Instant::now(), path: uri.path().to_owned(), body });
        s.replies.pop_front().unwrap_or(s.default)
    };
    match reply {
        Reply::Ok => StatusCode::NO_CONTENT.into_response(),
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::RateLimited(seconds) => {
            let body = serde_json::json!({
                "message": "You are being rate limited.",
                "retry_after": seconds,
                "global": false,
            });
            // Discord's header is the same wait in whole seconds; this one
            // says far longer, so a test can tell that the body's figure won.
            let header = (seconds.ceil() + 4.0).to_string();
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", header)], axum::Json(body)).into_response()
        }
        Reply::Hang => std::future::pending().await,
    }
}

pub fn alert(kind: AlertKind, severity: Severity, title: &str, body: &str) -> Alert {
    Alert::new(kind, severity, title, body, 1_700_000_000_000)
}

/// Polls `cond` every 5 ms for at most `within`.
pub async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}
