//! REST endpoints, the authentication they share, and the middleware that
//! applies rate limits and injected faults before a handler runs.

pub mod account;
pub mod admin;
pub mod auth;
pub mod market;
pub mod orders;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{SimState, count_request};
use crate::auth::{
    L1Headers, L1Identity, L2Headers, L2Identity, L2Request, POLY_ADDRESS, POLY_API_KEY, TimeWindow, l1, l2,
};
use crate::faults::{FaultBody, RestFault};
use crate::ratelimit::{EndpointClass, OverLimit, RateDecision};

/// Largest request body the simulator reads (a full batch of orders is ~15 KB).
const MAX_BODY: usize = 1 << 20;

pub async fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn window(state: &SimState) -> TimeWindow {
    TimeWindow::new(state.now_ms().div_euclid(1000), state.config.auth_max_skew.as_secs())
}

/// Verifies L1 (wallet signature) headers.
pub(crate) fn l1_auth(state: &SimState, headers: &HeaderMap) -> Result<L1Identity, ApiError> {
    let h = L1Headers::from_lookup(|n| header(headers, n)).map_err(|_| ApiError::invalid_l1())?;
    l1::verify(&h, state.config.chain_id, window(state)).map_err(|_| ApiError::invalid_l1())
}

/// Verifies L2 (API key HMAC) headers of a request to `path` with `body`.
pub(crate) fn l2_auth(
    state: &SimState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<L2Identity, ApiError> {
    let h = L2Headers::from_lookup(|n| header(headers, n)).map_err(|_| ApiError::unauthorized())?;
    let req = L2Request { method: method.as_str(), path, body };
    let sim = state.lock();
    l2::verify(&h, &req, &sim.keys, window(state)).map_err(|e| ApiError::new(status(e.http_status()), e.message()))
}

pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Who a request counts against for rate limiting: its API key, else its
/// wallet address (L1 endpoints), else its peer address.
fn limit_key(headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if let Some(k) = header(headers, POLY_API_KEY) {
        return format!("key:{}", k.trim());
    }
    if let Some(a) = header(headers, POLY_ADDRESS) {
        return format!("addr:{}", a.trim().to_ascii_lowercase());
    }
    format!("ip:{}", peer.map(|p| p.ip().to_string()).unwrap_or_default())
}

/// Orders in a batch body (the rate-limit cost of `POST /orders`).
fn batch_len(body: &[u8]) -> u32 {
    serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(body).map(|v| v.len().max(1) as u32).unwrap_or(1)
}

fn is_order_post(method: &Method, path: &str) -> bool {
    method == Method::POST && (path == "/order" || path == "/orders")
}

/// An injected fault's reply. The injector hands over the complete body (a
/// `{"error": ...}` document or an HTML page), so it is sent as it is.
fn fault_response(status_code: u16, body: FaultBody, retry_after_s: Option<u32>) -> Response {
    let content_type = HeaderValue::from_static(body.content_type());
    let text = match body {
        FaultBody::Json(doc) => doc,
        FaultBody::Html(page) => page,
    };
    let mut resp = (status(status_code), text).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, content_type);
    if let Some(s) = retry_after_s {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp.headers_mut().insert("x-sim-fault", HeaderValue::from_static("1"));
    resp
}

fn add_headers(resp: &mut Response, pairs: &[(&'static str, String)]) {
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(*name), HeaderValue::from_str(value)) {
            resp.headers_mut().insert(n, v);
        }
    }
}

/// Rate limits, then injected faults, then the handler. `/_sim/` admin
/// endpoints and WebSocket upgrades are exempt from both.
pub async fn faults_and_limits(
    State(state): State<Arc<SimState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    count_request(&state);
    let path = req.uri().path().to_owned();
    if path.starts_with("/_sim/") || path.starts_with("/ws/") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::bad_request("Payload exceeds the limit").into_response(),
    };

    let class = EndpointClass::classify(method.as_str(), &path);
    let cost = if method == Method::POST && path == "/orders" { batch_len(&bytes) } else { 1 };
    let key = limit_key(&parts.headers, Some(peer));
    let limit_headers = loop {
        let decision = state.limiter().check(key.as_str(), class, state.now_ms(), cost);
        match decision {
            RateDecision::Limited { retry_after_ms, .. }
                if state.config.rate_limits.over_limit == OverLimit::Throttle =>
            {
                // Cloudflare queues over-limit requests rather than refusing them.
                tokio::time::sleep(Duration::from_millis(retry_after_ms.max(1))).await;
            }
            d @ (RateDecision::Limited { .. } | RateDecision::Oversized { .. }) => {
                let mut resp = ApiError::too_many_requests(1).into_response();
                add_headers(&mut resp, &d.headers());
                return resp;
            }
            d => break d.headers(),
        }
    };

    let mut hold_after = None;
    match state.faults.rest_fault(method.as_str(), &path) {
        RestFault::None => {}
        RestFault::Status(f) => return fault_response(f.status, f.body, f.retry_after_s),
        RestFault::Delay { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
        RestFault::AcceptThenHold { ms } => {
            if is_order_post(&method, &path) {
                hold_after = Some(ms);
            }
        }
    }

    let req = Request::from_parts(parts, Body::from(bytes));
    let mut resp = next.run(req).await;
    add_headers(&mut resp, &limit_headers);
    if let Some(ms) = hold_after {
        // The order is in the book; the reply arrives after the client gave up.
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    resp
}
