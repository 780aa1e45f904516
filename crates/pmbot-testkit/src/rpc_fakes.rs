//! Loopback JSON-RPC servers for tests: a counting proxy in front of a real
//! node, and a fake that answers whatever the test says.
//!
//! Invariant: both run as tasks on the test's tokio runtime, listen on a port
//! the OS chose, and stop when their handle drops.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A URL on loopback where nothing listens (the port was free a moment ago):
/// connecting to it is refused at once.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

async fn serve(router: Router) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("local addr").port());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, task)
}

/// The `method` of each request in a JSON-RPC body (single or batch).
fn methods_of(body: &[u8]) -> Vec<String> {
    let method = |v: &Value| v.get("method").and_then(Value::as_str).unwrap_or("<none>").to_owned();
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items.iter().map(method).collect(),
        Ok(v) => vec![method(&v)],
        Err(_) => vec!["<unparseable>".to_owned()],
    }
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    log: Arc<Mutex<ProxyLog>>,
}

#[derive(Debug, Default, Clone)]
struct ProxyLog {
    posts: usize,
    methods: Vec<String>,
}

impl ProxyLog {
    /// One POST arrived with this body.
    fn record(log: &Mutex<ProxyLog>, body: &[u8]) {
        let mut log = log.lock().expect("rpc log");
        log.posts += 1;
        log.methods.extend(methods_of(body));
    }
}

/// A loopback server task, its URL and the log of what it was asked;
/// stopped on drop. Every server here is one of these.
struct Served {
    url: String,
    log: Arc<Mutex<ProxyLog>>,
    task: JoinHandle<()>,
}

impl Served {
    async fn start(router: Router, log: Arc<Mutex<ProxyLog>>) -> Served {
        let (url, task) = serve(router).await;
        Served { url, log, task }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, ProxyLog> {
        self.log.lock().expect("rpc log")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards JSON-RPC POSTs to `upstream` and records each method, so a test
/// can count what reached the node (a batch is one POST, several methods).
pub struct CountingProxy {
    served: Served,
}

impl CountingProxy {
    /// Starts the proxy on a free loopback port, in front of `upstream`.
    pub async fn start(upstream: &str) -> CountingProxy {
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let state = ProxyState { upstream: upstream.to_owned(), http: reqwest::Client::new(), log: Arc::clone(&log) };
        let router = Router::new().route("/", post(forward)).with_state(state);
        CountingProxy { served: Served::start(router, log).await }
    }

    /// The proxy's URL, to give the code under test instead of the node's.
    pub fn url(&self) -> &str {
        &self.served.url
    }

    /// Every method forwarded so far, in order.
    pub fn methods(&self) -> Vec<String> {
        self.served.log().methods.clone()
    }

    /// How many requests of `method` were forwarded.
    pub fn count(&self, method: &str) -> usize {
        self.served.log().methods.iter().filter(|m| *m == method).count()
    }

    /// How many JSON-RPC requests (batch members counted one by one).
    pub fn total(&self) -> usize {
        self.served.log().methods.len()
    }

    /// How many HTTP POSTs (a batch counts once).
    pub fn posts(&self) -> usize {
        self.served.log().posts
    }
}

async fn forward(State(state): State<ProxyState>, body: Bytes) -> Response {
    ProxyLog::record(&state.log, &body);
    let sent =
        state.http.post(&state.upstream).header("content-type", "application/json").body(body.to_vec()).send().await;
    match sent {
        Ok(resp) => {
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let bytes = resp.bytes().await.unwrap_or_default();
            (status, [("content-type", "application/json")], bytes.to_vec()).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    }
}

/// An RPC outage at the worst moment: forwards JSON-RPC POSTs to `upstream`
/// until one carrying `method` arrives; that one still reaches the node (a
/// transaction broadcast is taken and mined), but its answer is replaced by
/// HTTP 503, and so is every one of the next `outage` POSTs, unforwarded.
/// Then it forwards again. Records every method it was asked.
pub struct OutageProxy {
    served: Served,
}

#[derive(Clone)]
struct OutageState {
    forward: ProxyState,
    method: String,
    outage: usize,
    /// `None` until `method` is seen; then the POSTs still to fail.
    left: Arc<Mutex<Option<usize>>>,
}

impl OutageProxy {
    pub async fn start(upstream: &str, method: &str, outage: usize) -> OutageProxy {
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let forward = ProxyState { upstream: upstream.to_owned(), http: reqwest::Client::new(), log: Arc::clone(&log) };
        let state = OutageState { forward, method: method.to_owned(), outage, left: Arc::new(Mutex::new(None)) };
        let router = Router::new().route("/", post(outage_forward)).with_state(state);
        OutageProxy { served: Served::start(router, log).await }
    }

    pub fn url(&self) -> &str {
        &self.served.url
    }

    /// Every method asked so far (failed ones too), in order.
    pub fn methods(&self) -> Vec<String> {
        self.served.log().methods.clone()
    }
}

async fn outage_forward(State(state): State<OutageState>, body: Bytes) -> Response {
    let unavailable = || (StatusCode::SERVICE_UNAVAILABLE, "outage").into_response();
    let during = {
        let mut left = state.left.lock().expect("outage state");
        match left.as_mut() {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    if during {
        ProxyLog::record(&state.forward.log, &body);
        return unavailable();
    }
    let trigger = methods_of(&body).contains(&state.method);
    let answer = forward(State(state.forward.clone()), body).await;
    let mut left = state.left.lock().expect("outage state");
    if trigger && left.is_none() {
        *left = Some(state.outage);
        return unavailable();
    }
    answer
}

/// What [`FakeRpc`] answers to one JSON-RPC request.
#[derive(Debug, Clone)]
pub enum FakeAnswer {
    /// `{"jsonrpc":"2.0","id":<request id>,"result":<value>}`.
    Result(Value),
    /// `{"jsonrpc":"2.0","id":<request id>,"error":{"code":..,"message":..}}`.
    Error { code: i64, message: String },
    /// A response with another id than the request's.
    WrongId(Value),
    /// This exact HTTP response replaces the whole reply (batch or not).
    Raw { status: u16, body: String },
    /// No answer, ever (the connection stays open): for timeouts.
    Hang,
}

type Responder = Arc<dyn Fn(&str) -> FakeAnswer + Send + Sync>;

/// A loopback JSON-RPC server whose answers come from a closure of the
/// method name; records the methods it was asked.
pub struct FakeRpc {
    served: Served,
}

#[derive(Clone)]
struct FakeState {
    respond: Responder,
    log: Arc<Mutex<ProxyLog>>,
}

impl FakeRpc {
    /// Starts the server on a free loopback port.
    pub async fn start(respond: impl Fn(&str) -> FakeAnswer + Send + Sync + 'static) -> FakeRpc {
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let state = FakeState { respond: Arc::new(respond), log: Arc::clone(&log) };
        let router = Router::new().route("/", post(answer)).with_state(state);
        FakeRpc { served: Served::start(router, log).await }
    }

    /// A server that answers every POST with this HTTP status and body.
    pub async fn raw(status: u16, body: &str) -> FakeRpc {
        let body = body.to_owned();
        FakeRpc::start(move |_| FakeAnswer::Raw { status, body: body.clone() }).await
    }

    pub fn url(&self) -> &str {
        &self.served.url
    }

    /// Every method asked so far, in order.
    pub fn methods(&self) -> Vec<String> {
        self.served.log().methods.clone()
    }
}

async fn answer(State(state): State<FakeState>, body: Bytes) -> Response {
    ProxyLog::record(&state.log, &body);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (items, batch) = match parsed {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    let mut replies = Vec::with_capacity(items.len());
    for item in &items {
        let id = item.get("id").cloned().unwrap_or(Value::Null);
        let method = item.get("method").and_then(Value::as_str).unwrap_or("");
        let reply = match (state.respond)(method) {
            FakeAnswer::Result(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            FakeAnswer::Error { code, message } => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            }
            FakeAnswer::WrongId(result) => json!({"jsonrpc": "2.0", "id": 987_654_321, "result": result}),
            FakeAnswer::Raw { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return (status, body).into_response();
            }
            FakeAnswer::Hang => std::future::pending().await,
        };
        replies.push(reply);
    }
    let body = if batch { Value::Array(replies) } else { replies.pop().unwrap_or(Value::Null) };
    (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response()
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for OutageProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutageProxy").finish_non_exhaustive()
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for FakeRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRpc").finish_non_exhaustive()
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for CountingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingProxy").finish_non_exhaustive()
    }
}
