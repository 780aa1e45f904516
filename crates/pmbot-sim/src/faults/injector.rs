//! The fault injector: one per server, shared by every request handler and
//! WebSocket connection.
//!
//! Invariant: the spec in force is swapped atomically ([`FaultInjector::set_spec`])
//! and every connection sees the new spec from its next frame on; the
//! counters only grow. The count behind `rest-cancel-fail-first` starts
//! again at every `set_spec`, so "the first N cancels" means after the spec
//! took effect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::spec::{FaultSpec, Probability};
use super::ws::WsConnFaults;
use super::{FaultCounters, FaultCounts, FaultKind};

/// The ChaCha stream REST decisions draw from; connection `n` (0-based) uses
/// stream `n + 1`.
const REST_STREAM: u64 = 0;

/// Body of the injected 429, as the real CLOB sends it.
pub const TOO_MANY_REQUESTS_JSON: &str = r#"{"error":"Too Many Requests"}"#;

/// What the server should do with one REST request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestFault {
    /// Handle it normally.
    None,
    /// Do not handle it: answer with this response instead.
    Status(FaultResponse),
    /// Hold the request for this long, then handle it normally.
    Delay { ms: u64 },
    /// Handle it at once (the order is placed), then hold the reply this long.
    AcceptThenHold { ms: u64 },
}

/// An error response to send instead of handling the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultResponse {
    pub status: u16,
    pub body: FaultBody,
    /// Send as a `Retry-After` header (seconds) when present.
    pub retry_after_s: Option<u32>,
}

/// The body of a [`FaultResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultBody {
    /// `{"error":"..."}`, the CLOB's error shape.
    Json(String),
    /// An HTML page, as Cloudflare sends in front of the CLOB.
    Html(String),
}

impl FaultBody {
    pub fn content_type(&self) -> &'static str {
        match self {
            FaultBody::Json(_) => "application/json",
            FaultBody::Html(_) => "text/html; charset=UTF-8",
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            FaultBody::Json(s) | FaultBody::Html(s) => s,
        }
    }
}

/// What `GET /_sim/faults` reports.
#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    /// The spec in force, as text.
    pub spec: FaultSpec,
    /// The same spec as the JSON object (see [`FaultSpec::to_json_object`]).
    pub faults: serde_json::Value,
    /// Faults injected so far, by kind.
    pub counts: FaultCounts,
}

/// Decides REST faults and hands out per-connection WebSocket fault state.
/// Cheap to clone: clones share the spec, counters and random streams.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(super) struct Shared {
    seed: u64,
    spec: Mutex<Arc<FaultSpec>>,
    /// Bumped on every `set_spec`, so connections re-read the spec only when
    /// it changed instead of locking on every frame.
    generation: AtomicU64,
    pub(super) counters: FaultCounters,
    rest_rng: Mutex<ChaCha8Rng>,
    connections_opened: AtomicU64,
    /// Cancel requests seen since the spec in force was set.
    cancels_seen: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent even if a holder panicked (a spec
    // pointer, an RNG), so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The spec in force and its generation.
    pub(super) fn current_spec(&self) -> (Arc<FaultSpec>, u64) {
        let spec = lock(&self.spec);
        (Arc::clone(&spec), self.generation.load(Ordering::Acquire))
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// A ChaCha8 generator for `stream` of `seed`.
pub(super) fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn roll(rng: &mut impl Rng, p: Option<Probability>) -> bool {
    p.is_some_and(|p| rng.random_bool(p.get()))
}

fn json_error(message: &str) -> FaultBody {
    FaultBody::Json(serde_json::json!({ "error": message }).to_string())
}

/// A region-block page in the shape Cloudflare serves (title, block notice,
/// Ray ID), which clients must classify as fatal, not retryable.
fn cloudflare_block_page(ray_id: u64) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<title>Attention Required! | Cloudflare</title>\n\
         <meta charset=\"UTF-8\" />\n</head>\n<body>\n<div id=\"cf-wrapper\">\n\
         <h1>Sorry, you have been blocked</h1>\n\
         <h2>You are unable to access polymarket.com</h2>\n\
         <p>This website is using a security service to protect itself from online attacks. \
         Access from your region is restricted.</p>\n\
         <p>Cloudflare Ray ID: <strong>{ray_id:016x}</strong></p>\n</div>\n</body>\n</html>\n"
    )
}

/// `POST /order` or `POST /orders`, the requests that place orders.
fn is_order_post(method: &str, path: &str) -> bool {
    method.eq_ignore_ascii_case("POST") && matches!(path, "/order" | "/orders")
}

/// A request that cancels orders.
fn is_cancel(method: &str, path: &str) -> bool {
    method.eq_ignore_ascii_case("DELETE")
        && matches!(path, "/order" | "/orders" | "/cancel-all" | "/cancel-market-orders")
}

/// The path without query string or trailing slash.
fn normalize_path(path: &str) -> &str {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    }
}

impl FaultInjector {
    pub fn new(spec: FaultSpec, seed: u64) -> FaultInjector {
        FaultInjector {
            shared: Arc::new(Shared {
                seed,
                spec: Mutex::new(Arc::new(spec)),
                generation: AtomicU64::new(0),
                counters: FaultCounters::default(),
                rest_rng: Mutex::new(stream_rng(seed, REST_STREAM)),
                connections_opened: AtomicU64::new(0),
                cancels_seen: AtomicU64::new(0),
            }),
        }
    }

    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// The spec in force.
    pub fn spec(&self) -> FaultSpec {
        FaultSpec::clone(&self.shared.current_spec().0)
    }

    /// Replaces the spec. Takes effect for the next REST request and for
    /// every open connection from its next frame or `PING`; a connection's
    /// stall schedule stays anchored at the time it opened. Counters and
    /// random streams carry on.
    pub fn set_spec(&self, spec: FaultSpec) {
        let mut current = lock(&self.shared.spec);
        *current = Arc::new(spec);
        self.shared.cancels_seen.store(0, Ordering::Release);
        // Bumped under the lock so a reader never pairs a new generation with
        // the old spec.
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Faults injected so far, by kind.
    pub fn counts(&self) -> FaultCounts {
        self.shared.counters.snapshot()
    }

    pub fn report(&self) -> FaultReport {
        let spec = self.spec();
        FaultReport { faults: spec.to_json_object(), spec, counts: self.counts() }
    }

    /// Decides the fault for one REST request. `method` is the HTTP method
    /// (any case); `path` may carry a query string. Paths under `/_sim` are
    /// never faulted.
    pub fn rest_fault(&self, method: &str, path: &str) -> RestFault {
        let path = normalize_path(path);
        if path == "/_sim" || path.starts_with("/_sim/") {
            return RestFault::None;
        }
        let spec = self.shared.current_spec().0;
        if let Some(n) = spec.rest_cancel_fail_first
            && is_cancel(method, path)
            && self.shared.cancels_seen.fetch_add(1, Ordering::AcqRel) < n.get()
        {
            self.shared.counters.bump(FaultKind::RestCancelFailFirst);
            return RestFault::Status(FaultResponse {
                status: 500,
                body: json_error("internal server error"),
                retry_after_s: None,
            });
        }
        let order_post = is_order_post(method, path);
        let mut rng = lock(&self.shared.rest_rng);
        let counters = &self.shared.counters;

        if order_post && roll(&mut *rng, spec.rest_403_html) {
            counters.bump(FaultKind::Rest403Html);
            return RestFault::Status(FaultResponse {
                status: 403,
                body: FaultBody::Html(cloudflare_block_page(rng.random())),
                retry_after_s: None,
            });
        }
        if roll(&mut *rng, spec.rest_5xx) {
            counters.bump(FaultKind::Rest5xx);
            let (status, message) =
                [(500, "internal server error"), (502, "bad gateway"), (503, "service unavailable")]
                    [rng.random_range(0..3)];
            return RestFault::Status(FaultResponse { status, body: json_error(message), retry_after_s: None });
        }
        if roll(&mut *rng, spec.rest_425) {
            counters.bump(FaultKind::Rest425);
            return RestFault::Status(FaultResponse {
                status: 425,
                body: json_error("service not ready"),
                retry_after_s: None,
            });
        }
        if let Some(f) = spec.rest_429
            && roll(&mut *rng, Some(f.p))
        {
            counters.bump(FaultKind::Rest429);
            return RestFault::Status(FaultResponse {
                status: 429,
                body: FaultBody::Json(TOO_MANY_REQUESTS_JSON.to_string()),
                retry_after_s: Some(f.retry_after_s.get()),
            });
        }
        if order_post
            && let Some(f) = spec.rest_accept_timeout
            && roll(&mut *rng, Some(f.p))
        {
            counters.bump(FaultKind::RestAcceptTimeout);
            return RestFault::AcceptThenHold { ms: f.hold_ms.get() };
        }
        if let Some(f) = spec.rest_delay
            && roll(&mut *rng, Some(f.p))
        {
            counters.bump(FaultKind::RestDelay);
            return RestFault::Delay { ms: f.delay_ms.get() };
        }
        RestFault::None
    }

    /// Fault state for a WebSocket connection opened at `now_ms`. Each call
    /// opens a new connection with its own random stream.
    pub fn ws_connection(&self, now_ms: i64) -> WsConnFaults {
        let index = self.shared.connections_opened.fetch_add(1, Ordering::Relaxed);
        let rng = stream_rng(self.shared.seed, REST_STREAM + 1 + index);
        WsConnFaults::new(Arc::clone(&self.shared), index, rng, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIALS: u64 = 10_000;

    fn injector(spec: &str, seed: u64) -> FaultInjector {
        FaultInjector::new(spec.parse().unwrap(), seed)
    }

    /// Runs `TRIALS` requests and returns the faults seen.
    fn run(inj: &FaultInjector, method: &str, path: &str) -> Vec<RestFault> {
        (0..TRIALS).map(|_| inj.rest_fault(method, path)).collect()
    }

    /// Binomial(10 000, p) lands within 5 standard deviations of its mean;
    /// a wrong rate (say p/2 or 2p) falls far outside for the p used here.
    fn assert_rate(hits: u64, p: f64) {
        let n = TRIALS as f64;
        let mean = n * p;
        let sd = (n * p * (1.0 - p)).sqrt();
        let (lo, hi) = (mean - 5.0 * sd, mean + 5.0 * sd);
        assert!((lo..=hi).contains(&(hits as f64)), "{hits} hits, expected {mean} ± {:.0}", 5.0 * sd);
    }

    #[test]
    fn no_spec_no_faults() {
        let inj = FaultInjector::new(FaultSpec::none(), 1);
        assert!(run(&inj, "POST", "/order").iter().all(|f| *f == RestFault::None));
        assert_eq!(inj.counts().total(), 0);
    }

    #[test]
    fn rest_5xx_rate_codes_and_body() {
        for seed in [1, 2, 3] {
            let inj = injector("rest-5xx=0.05", seed);
            let faults = run(&inj, "GET", "/book?token_id=1");
            let mut by_code = [0u64; 3];
            for f in &faults {
                if let RestFault::Status(r) = f {
                    let i = match r.status {
                        500 => 0,
                        502 => 1,
                        503 => 2,
                        other => panic!("unexpected status {other}"),
                    };
                    by_code[i] += 1;
                    let body: serde_json::Value = serde_json::from_str(r.body.as_str()).unwrap();
                    assert!(body["error"].is_string());
                    assert_eq!(r.body.content_type(), "application/json");
                    assert_eq!(r.retry_after_s, None);
                } else {
                    assert_eq!(*f, RestFault::None);
                }
            }
            let hits: u64 = by_code.iter().sum();
            // 0.05 × 10 000 = 500 ± 109.
            assert_rate(hits, 0.05);
            assert!(by_code.iter().all(|&c| c > 100), "codes {by_code:?}");
            assert_eq!(inj.counts().get(FaultKind::Rest5xx), hits);
            assert_eq!(inj.counts().total(), hits);
        }
    }

    #[test]
    fn rest_425_rate_and_body() {
        let inj = injector("rest-425=0.1", 9);
        let faults = run(&inj, "DELETE", "/order");
        let hits = faults
            .iter()
            .filter(|f| {
                matches!(f, RestFault::Status(r) if r.status == 425
                    && r.body == FaultBody::Json(r#"{"error":"service not ready"}"#.into()))
            })
            .count() as u64;
        assert_rate(hits, 0.1);
        assert_eq!(inj.counts().get(FaultKind::Rest425), hits);
    }

    #[test]
    fn rest_429_carries_retry_after() {
        let inj = injector("rest-429=0.02@3s", 4);
        let faults = run(&inj, "GET", "/midpoint");
        let hits: Vec<&FaultResponse> = faults
            .iter()
            .filter_map(|f| match f {
                RestFault::Status(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_rate(hits.len() as u64, 0.02);
        for r in &hits {
            assert_eq!(r.status, 429);
            assert_eq!(r.retry_after_s, Some(3));
            assert_eq!(r.body.as_str(), TOO_MANY_REQUESTS_JSON);
        }
        assert_eq!(inj.counts().get(FaultKind::Rest429), hits.len() as u64);
    }

    #[test]
    fn rest_403_html_only_on_order_posts() {
        let inj = injector("rest-403-html=0.5", 5);
        assert!(run(&inj, "GET", "/book").iter().all(|f| *f == RestFault::None));
        assert!(run(&inj, "DELETE", "/order").iter().all(|f| *f == RestFault::None));
        assert_eq!(inj.counts().total(), 0);

        for path in ["/order", "/orders", "/orders/"] {
            let faults = run(&inj, "post", path);
            let pages: Vec<&FaultResponse> = faults
                .iter()
                .filter_map(|f| match f {
                    RestFault::Status(r) => Some(r),
                    RestFault::None => None,
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            assert_rate(pages.len() as u64, 0.5);
            for r in pages {
                assert_eq!(r.status, 403);
                assert!(matches!(&r.body, FaultBody::Html(html) if html.contains("Cloudflare Ray ID")));
                assert!(r.body.content_type().starts_with("text/html"));
                assert!(serde_json::from_str::<serde_json::Value>(r.body.as_str()).is_err());
            }
        }
    }

    #[test]
    fn rest_accept_timeout_only_on_order_posts() {
        let inj = injector("rest-accept-timeout=0.25", 6);
        assert!(run(&inj, "GET", "/data/orders").iter().all(|f| *f == RestFault::None));
        let faults = run(&inj, "POST", "/order");
        let held = faults.iter().filter(|f| **f == RestFault::AcceptThenHold { ms: 6_000 }).count() as u64;
        assert_eq!(held + faults.iter().filter(|f| **f == RestFault::None).count() as u64, TRIALS);
        assert_rate(held, 0.25);
        assert_eq!(inj.counts().get(FaultKind::RestAcceptTimeout), held);

        let custom = injector("rest-accept-timeout=1@10s", 6);
        assert_eq!(custom.rest_fault("POST", "/orders"), RestFault::AcceptThenHold { ms: 10_000 });
    }

    #[test]
    fn rest_delay_applies_to_any_request() {
        let inj = injector("rest-delay=6s@0.01", 8);
        let mut hits = 0;
        for (method, path) in [("GET", "/book"), ("POST", "/order"), ("DELETE", "/cancel-all")] {
            let faults = run(&inj, method, path);
            let n = faults.iter().filter(|f| **f == RestFault::Delay { ms: 6_000 }).count() as u64;
            // 0.01 × 10 000 = 100 ± 50.
            assert_rate(n, 0.01);
            hits += n;
        }
        assert_eq!(inj.counts().get(FaultKind::RestDelay), hits);
    }

    #[test]
    fn rest_cancel_fail_first_fails_exactly_the_first_cancels() {
        let inj = injector("rest-cancel-fail-first=2", 3);
        let failed = |f: RestFault| {
            matches!(f, RestFault::Status(r) if r.status == 500
                && r.body == FaultBody::Json(r#"{"error":"internal server error"}"#.into()))
        };
        // Other requests pass and do not use up the count.
        for (method, path) in [("POST", "/order"), ("GET", "/data/orders"), ("GET", "/order"), ("DELETE", "/_sim/x")] {
            assert_eq!(inj.rest_fault(method, path), RestFault::None, "{method} {path}");
        }
        assert!(failed(inj.rest_fault("DELETE", "/order")));
        assert!(failed(inj.rest_fault("delete", "/cancel-all?x=1")));
        for path in ["/order", "/orders", "/cancel-all", "/cancel-market-orders"] {
            assert_eq!(inj.rest_fault("DELETE", path), RestFault::None, "{path} after the first two");
        }
        assert_eq!(inj.counts().get(FaultKind::RestCancelFailFirst), 2);
        assert_eq!(inj.counts().total(), 2);
        // A new spec counts again from zero; it draws nothing from the REST
        // stream, so the rolled kinds see the same stream with or without it.
        inj.set_spec("rest-cancel-fail-first=1,rest-5xx=0.5".parse().unwrap());
        assert!(failed(inj.rest_fault("DELETE", "/orders")));
        let plain = injector("rest-5xx=0.5", 3);
        let with: Vec<RestFault> = (0..50).map(|_| inj.rest_fault("DELETE", "/order")).collect();
        let without: Vec<RestFault> = (0..50).map(|_| plain.rest_fault("DELETE", "/order")).collect();
        assert_eq!(with, without);
        assert_eq!(inj.counts().get(FaultKind::RestCancelFailFirst), 3);
    }

    #[test]
    fn admin_paths_are_never_faulted() {
        let inj = injector("rest-5xx=1,rest-delay=1s@1", 1);
        assert_eq!(inj.rest_fault("GET", "/_sim/faults"), RestFault::None);
        assert_eq!(inj.rest_fault("PUT", "/_sim/faults?x=1"), RestFault::None);
        assert!(matches!(inj.rest_fault("GET", "/_simulate"), RestFault::Status(_)));
    }

    #[test]
    fn first_configured_kind_wins_at_certainty() {
        let inj = injector("rest-403-html=1,rest-5xx=1,rest-delay=1s@1", 1);
        assert!(matches!(inj.rest_fault("POST", "/order"), RestFault::Status(r) if r.status == 403));
        assert!(matches!(inj.rest_fault("GET", "/book"), RestFault::Status(r) if r.status >= 500));
        let inj = injector("rest-accept-timeout=1,rest-delay=1s@1", 1);
        assert_eq!(inj.rest_fault("POST", "/order"), RestFault::AcceptThenHold { ms: 6_000 });
        assert_eq!(inj.rest_fault("GET", "/book"), RestFault::Delay { ms: 1_000 });
    }

    #[test]
    fn same_seed_same_faults_and_set_spec_takes_effect() {
        let a = run(&injector("rest-5xx=0.3,rest-429=0.3", 42), "GET", "/price");
        let b = run(&injector("rest-5xx=0.3,rest-429=0.3", 42), "GET", "/price");
        let c = run(&injector("rest-5xx=0.3,rest-429=0.3", 43), "GET", "/price");
        assert_eq!(a, b);
        assert_ne!(a, c);

        let inj = FaultInjector::new(FaultSpec::none(), 1);
        assert_eq!(inj.rest_fault("GET", "/book"), RestFault::None);
        inj.set_spec("rest-425=1".parse().unwrap());
        assert!(matches!(inj.rest_fault("GET", "/book"), RestFault::Status(r) if r.status == 425));
        assert_eq!(inj.spec().to_string(), "rest-425=1");
    }

    #[test]
    fn report_shape() {
        let inj = injector("rest-425=1", 1);
        inj.rest_fault("GET", "/book");
        let json = serde_json::to_value(inj.report()).unwrap();
        assert_eq!(json["spec"], "rest-425=1");
        assert_eq!(json["faults"], serde_json::json!({"rest-425": 1.0}));
        assert_eq!(json["counts"]["rest-425"], 1);
    }
}
