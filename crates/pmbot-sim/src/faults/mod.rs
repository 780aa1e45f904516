//! Fault injection: when and how the simulated exchange misbehaves.
//!
//! Invariant: every decision is a function of the spec, the seed, the order of
//! calls and the `now_ms` passed in. Nothing here reads a clock or global
//! randomness, so the same seed and the same calls inject the same faults.
//! Each WebSocket connection draws from its own ChaCha stream (numbered in the
//! order connections open), so one connection's faults do not depend on how
//! its frames interleave with another's; REST requests share one stream.
//!
//! This module is pure policy: it never sleeps, closes sockets or writes
//! responses. The server asks it what to do ([`FaultInjector::rest_fault`],
//! [`WsConnFaults::on_send`], [`WsConnFaults::answers_ping`]) and does it.
//!
//! # Spec grammar
//!
//! ```text
//! spec     = "" | "none" | item *("," item)
//! item     = kind "=" value                 ; whitespace around items and "=" ignored
//! P        = decimal in [0, 1]              ; 0, 1, 0.05, .5 (no sign, exponent, inf, NaN)
//! N        = whole number >= 1
//! D        = whole number + unit            ; 500ms, 6s, 2m, 1h; positive
//! ```
//!
//! Each kind may appear once. Order does not matter; `Display` prints kinds in
//! the order below, omitting `@D` when it is the default.
//!
//! | item | effect |
//! |---|---|
//! | `ws-drop-every=N` | close each WebSocket connection right after the N-th frame sent on it |
//! | `ws-drop=P` | per frame, with probability P, close the connection instead of sending it (the frame is lost) |
//! | `ws-stall=EVERY/FOR` | in each EVERY period since the connection opened, the last FOR is silent: frames are discarded and `PING` gets no `PONG`; the socket stays open. FOR < EVERY |
//! | `ws-malformed=P` | per frame, with probability P, send a corrupted frame instead: truncated JSON, valid JSON with one value of the wrong type, or garbage |
//! | `ws-out-of-order=P` | per frame (when none is held), with probability P, hold it and send it right after the next frame |
//! | `rest-5xx=P` | answer 500, 502 or 503 (uniformly) with `{"error":...}`; the request is not handled |
//! | `rest-425=P` | answer 425 `{"error":"service not ready"}`; not handled |
//! | `rest-429=P[@D]` | answer 429 `{"error":"Too Many Requests"}` with `Retry-After: D` (whole seconds, default 1s); not handled |
//! | `rest-403-html=P` | order posts only (`POST /order`, `POST /orders`): answer 403 with an HTML page like Cloudflare's region block; not handled |
//! | `rest-accept-timeout=P[@D]` | order posts only: handle the order at once, then hold the reply for D (default 6s, past the clients' 5 s timeout), so the order exists though the client saw a timeout |
//! | `rest-delay=D@P` | any request: hold it for D *before* handling it, so an order can land after the client gave up |
//! | `rest-cancel-fail-first=N` | cancels only (`DELETE /order`, `/orders`, `/cancel-all`, `/cancel-market-orders`): answer the first N after the spec took effect with 500 `{"error":"internal server error"}`; not handled. Counted, not rolled: it draws nothing from the random stream |
//!
//! Example: `ws-drop-every=500,ws-stall=30s/5s,ws-malformed=0.001,rest-5xx=0.05,rest-429=0.02,rest-delay=6s@0.01`.
//!
//! `rest-cancel-fail-first` is decided first, by count: while it fires, no
//! other kind is rolled for that request. The other REST kinds are rolled independently in the table's order (403-html, 5xx,
//! 425, 429, accept-timeout, delay) and the first that fires wins, so with
//! several kinds configured a later one fires with probability
//! `p × Π(1 − p_earlier)`. Paths under `/_sim` (the admin endpoints) are
//! never faulted.
//!
//! # JSON
//!
//! [`FaultSpec`] serializes as its text. It deserializes from the text or from
//! the object described on [`FaultSpec::to_json_object`] (keys are the kind
//! names above). [`FaultReport`] is what `GET /_sim/faults` can return:
//! `{"spec": "<text>", "faults": {<object>}, "counts": {"<kind>": n, ...}}`.
//!
//! # Counters
//!
//! Every injected fault is counted by kind ([`FaultCounts`]): a close for the
//! drop kinds; each discarded frame and each unanswered `PING` for
//! `ws-stall`; each corrupted frame; each held frame for `ws-out-of-order`;
//! each faulted REST response.

mod injector;
mod malform;
mod spec;
mod ws;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

pub use injector::{FaultBody, FaultInjector, FaultReport, FaultResponse, RestFault, TOO_MANY_REQUESTS_JSON};
pub use malform::Corruption;
pub use spec::{
    BadFault, DEFAULT_ACCEPT_HOLD_MS, DEFAULT_RETRY_AFTER_S, FaultSpec, FaultSpecError, Probability, Rest429,
    RestAcceptTimeout, RestDelay, WsStall, format_duration_ms, parse_duration_ms,
};
pub use ws::{WsConnFaults, WsOutput};

/// One kind of fault, named as in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    WsDropEvery,
    WsDrop,
    WsStall,
    WsMalformed,
    WsOutOfOrder,
    Rest5xx,
    Rest425,
    Rest429,
    Rest403Html,
    RestAcceptTimeout,
    RestDelay,
    RestCancelFailFirst,
}

impl FaultKind {
    pub const COUNT: usize = 12;

    /// Every kind, in canonical (display) order.
    pub const ALL: [FaultKind; FaultKind::COUNT] = [
        FaultKind::WsDropEvery,
        FaultKind::WsDrop,
        FaultKind::WsStall,
        FaultKind::WsMalformed,
        FaultKind::WsOutOfOrder,
        FaultKind::Rest5xx,
        FaultKind::Rest425,
        FaultKind::Rest429,
        FaultKind::Rest403Html,
        FaultKind::RestAcceptTimeout,
        FaultKind::RestDelay,
        FaultKind::RestCancelFailFirst,
    ];

    /// The name used in specs, JSON objects and counters.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::WsDropEvery => "ws-drop-every",
            FaultKind::WsDrop => "ws-drop",
            FaultKind::WsStall => "ws-stall",
            FaultKind::WsMalformed => "ws-malformed",
            FaultKind::WsOutOfOrder => "ws-out-of-order",
            FaultKind::Rest5xx => "rest-5xx",
            FaultKind::Rest425 => "rest-425",
            FaultKind::Rest429 => "rest-429",
            FaultKind::Rest403Html => "rest-403-html",
            FaultKind::RestAcceptTimeout => "rest-accept-timeout",
            FaultKind::RestDelay => "rest-delay",
            FaultKind::RestCancelFailFirst => "rest-cancel-fail-first",
        }
    }

    pub fn from_name(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }

    fn names_joined() -> String {
        FaultKind::ALL.map(FaultKind::name).join(", ")
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many faults of each kind were injected (a snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultCounts([u64; FaultKind::COUNT]);

impl FaultCounts {
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.0[kind.index()]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl Serialize for FaultCounts {
    /// `{"ws-drop-every": 0, "ws-drop": 3, ...}`, every kind present.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(FaultKind::COUNT))?;
        for kind in FaultKind::ALL {
            map.serialize_entry(kind.name(), &self.get(kind))?;
        }
        map.end()
    }
}

/// Live counters shared by the injector and its connections.
#[derive(Debug, Default)]
struct FaultCounters([AtomicU64; FaultKind::COUNT]);

impl FaultCounters {
    fn bump(&self, kind: FaultKind) {
        // Counters are statistics read after the fact; no ordering with other
        // memory is needed.
        self.0[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> FaultCounts {
        FaultCounts(std::array::from_fn(|i| self.0[i].load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_index_matches_order() {
        for (i, kind) in FaultKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(FaultKind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(FaultKind::from_name("ws_drop"), None);
    }

    #[test]
    fn counts_serialize_every_kind() {
        let counters = FaultCounters::default();
        counters.bump(FaultKind::Rest429);
        counters.bump(FaultKind::Rest429);
        let counts = counters.snapshot();
        assert_eq!(counts.get(FaultKind::Rest429), 2);
        assert_eq!(counts.total(), 2);
        let json = serde_json::to_value(counts).unwrap();
        assert_eq!(json.as_object().unwrap().len(), FaultKind::COUNT);
        assert_eq!(json["rest-429"], 2);
        assert_eq!(json["ws-drop"], 0);
    }
}
