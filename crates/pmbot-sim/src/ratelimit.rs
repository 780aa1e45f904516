//! Rate limits as the CLOB's Cloudflare front applies them.
//!
//! Invariant: a request is admitted only if every window that applies to it
//! stays within its limit after charging it, and then it is charged to all of
//! them; a refused request is charged to none (all or nothing, as batches are
//! on the real exchange). The windows that apply are its endpoint class's own
//! (charged `cost`: one per order in a batch) and the general CLOB window
//! (charged one per request, as Cloudflare counts requests).
//!
//! Each window is Cloudflare's *sliding window counter*: counts in fixed
//! windows aligned to the epoch, and the estimate at time `t` in the current
//! window is `previous × (W − elapsed) / W + current`. It needs two counters
//! per window instead of a log of every request, and is what Cloudflare's
//! "sliding 10 s windows" are. All arithmetic is integer, so decisions are
//! exact and reproducible. The default limits are the published ones
//! (docs.polymarket.com rate limits; see `research/polymarket-protocol.md`
//! §1.3); [`RateLimitConfig`] scales or overrides them so tests can hit them.
//!
//! Memory is bounded: state exists only for (key, class) pairs seen in the
//! last two spans of their longest window; older state is swept away, at
//! most once per shortest window.
//!
//! Pure policy: time comes in as `now_ms` (unix milliseconds); the server
//! turns a [`RateDecision`] into headers and a 429 (or a wait, see
//! [`OverLimit`]).

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use serde::{Deserialize, Serialize};

/// Seconds to wait before retrying, on a 429 (integer seconds, rounded up).
pub const HEADER_RETRY_AFTER: &str = "Retry-After";
/// What is left of the tightest window that applies, after this request.
pub const HEADER_RATE_LIMIT_REMAINING: &str = "Poly-RateLimit-Remaining";
/// Unix seconds (rounded up) when that window rolls over, or on a 429 when a
/// retry will be admitted. NautilusTrader reads it as a unix timestamp.
pub const HEADER_RATE_LIMIT_RESET: &str = "Poly-RateLimit-Reset";

const TEN_SECONDS: u64 = 10_000;
const TEN_MINUTES: u64 = 600_000;

/// A group of endpoints sharing one set of limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointClass {
    /// Any CLOB endpoint without a class of its own; every request also
    /// counts here.
    General,
    /// `/ok`
    Health,
    /// `/book`
    Book,
    /// `/books`
    Books,
    /// `/price`
    Price,
    /// `/prices`
    Prices,
    /// `/midpoint`
    Midpoint,
    /// `/midpoints`
    Midpoints,
    /// `/prices-history`
    PricesHistory,
    /// `/tick-size`, `/tick-size/{token}`
    TickSize,
    /// `GET /balance-allowance`
    BalanceAllowance,
    /// `/balance-allowance/update`
    BalanceAllowanceUpdate,
    /// Single-order and legacy ledger reads: `GET /data/order/{id}`,
    /// `GET /order`, `GET /orders`, `GET /trades`.
    Ledger,
    /// `/data/orders`
    DataOrders,
    /// `/data/trades`
    DataTrades,
    /// `/notifications`
    Notifications,
    /// `/auth/api-key`, `/auth/api-keys`, `/auth/derive-api-key`
    ApiKeys,
    /// `POST /order`
    PostOrder,
    /// `DELETE /order`
    DeleteOrder,
    /// `POST /orders` (cost: orders in the batch)
    PostOrders,
    /// `DELETE /orders` (cost: ids in the body)
    DeleteOrders,
    /// `DELETE /cancel-all`
    CancelAll,
    /// `DELETE /cancel-market-orders`
    CancelMarketOrders,
}

impl EndpointClass {
    pub const ALL: [EndpointClass; 23] = [
        EndpointClass::General,
        EndpointClass::Health,
        EndpointClass::Book,
        EndpointClass::Books,
        EndpointClass::Price,
        EndpointClass::Prices,
        EndpointClass::Midpoint,
        EndpointClass::Midpoints,
        EndpointClass::PricesHistory,
        EndpointClass::TickSize,
        EndpointClass::BalanceAllowance,
        EndpointClass::BalanceAllowanceUpdate,
        EndpointClass::Ledger,
        EndpointClass::DataOrders,
        EndpointClass::DataTrades,
        EndpointClass::Notifications,
        EndpointClass::ApiKeys,
        EndpointClass::PostOrder,
        EndpointClass::DeleteOrder,
        EndpointClass::PostOrders,
        EndpointClass::DeleteOrders,
        EndpointClass::CancelAll,
        EndpointClass::CancelMarketOrders,
    ];

    /// The class of a request. `method` in any case; `path` may carry a
    /// query string or a trailing slash.
    pub fn classify(method: &str, path: &str) -> EndpointClass {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        let is = |m: &str| method.eq_ignore_ascii_case(m);
        match path {
            "/ok" => EndpointClass::Health,
            "/book" => EndpointClass::Book,
            "/books" => EndpointClass::Books,
            "/price" => EndpointClass::Price,
            "/prices" => EndpointClass::Prices,
            "/midpoint" => EndpointClass::Midpoint,
            "/midpoints" => EndpointClass::Midpoints,
            "/prices-history" => EndpointClass::PricesHistory,
            "/balance-allowance" => EndpointClass::BalanceAllowance,
            "/balance-allowance/update" => EndpointClass::BalanceAllowanceUpdate,
            "/data/orders" => EndpointClass::DataOrders,
            "/data/trades" => EndpointClass::DataTrades,
            "/notifications" => EndpointClass::Notifications,
            "/auth/api-key" | "/auth/api-keys" | "/auth/derive-api-key" => EndpointClass::ApiKeys,
            "/cancel-all" if is("DELETE") => EndpointClass::CancelAll,
            "/cancel-market-orders" if is("DELETE") => EndpointClass::CancelMarketOrders,
            "/order" if is("POST") => EndpointClass::PostOrder,
            "/order" if is("DELETE") => EndpointClass::DeleteOrder,
            "/orders" if is("POST") => EndpointClass::PostOrders,
            "/orders" if is("DELETE") => EndpointClass::DeleteOrders,
            "/order" | "/orders" | "/trades" if is("GET") => EndpointClass::Ledger,
            _ if path == "/tick-size" || path.starts_with("/tick-size/") => EndpointClass::TickSize,
            _ if path.starts_with("/data/order/") && is("GET") => EndpointClass::Ledger,
            _ => EndpointClass::General,
        }
    }

    /// The published limits: one 10 s window, and for the trading endpoints
    /// a 10 s burst window plus a 10 min sustained one.
    pub fn default_windows(self) -> Vec<WindowLimit> {
        let ten_s = |limit| WindowLimit::new(limit, TEN_SECONDS);
        let burst_and_sustained = |burst, sustained| vec![ten_s(burst), WindowLimit::new(sustained, TEN_MINUTES)];
        match self {
            EndpointClass::General => vec![ten_s(9_000)],
            EndpointClass::Health => vec![ten_s(100)],
            EndpointClass::Book => vec![ten_s(1_500)],
            EndpointClass::Books => vec![ten_s(500)],
            EndpointClass::Price => vec![ten_s(1_500)],
            EndpointClass::Prices => vec![ten_s(500)],
            EndpointClass::Midpoint => vec![ten_s(1_500)],
            EndpointClass::Midpoints => vec![ten_s(500)],
            EndpointClass::PricesHistory => vec![ten_s(1_000)],
            EndpointClass::TickSize => vec![ten_s(200)],
            EndpointClass::BalanceAllowance => vec![ten_s(200)],
            EndpointClass::BalanceAllowanceUpdate => vec![ten_s(50)],
            EndpointClass::Ledger => vec![ten_s(900)],
            EndpointClass::DataOrders => vec![ten_s(500)],
            EndpointClass::DataTrades => vec![ten_s(500)],
            EndpointClass::Notifications => vec![ten_s(125)],
            EndpointClass::ApiKeys => vec![ten_s(100)],
            EndpointClass::PostOrder => burst_and_sustained(3_500, 36_000),
            EndpointClass::DeleteOrder => burst_and_sustained(3_000, 30_000),
            EndpointClass::PostOrders => burst_and_sustained(1_000, 15_000),
            EndpointClass::DeleteOrders => burst_and_sustained(1_000, 15_000),
            EndpointClass::CancelAll => burst_and_sustained(250, 6_000),
            EndpointClass::CancelMarketOrders => burst_and_sustained(1_000, 1_500),
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// At most `limit` units per sliding `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowLimit {
    pub limit: u64,
    pub window_ms: u64,
}

impl WindowLimit {
    pub const fn new(limit: u64, window_ms: u64) -> WindowLimit {
        WindowLimit { limit, window_ms }
    }
}

/// How the server answers a [`RateDecision::Limited`] request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverLimit {
    /// 429 `{"error":"Too Many Requests"}` with `Retry-After`: what clients
    /// must handle, and what the per-signer limits do under enforcement.
    #[default]
    Reject,
    /// Hold the request for `retry_after_ms` and check again, as Cloudflare's
    /// documented throttling does.
    Throttle,
}

/// Rate-limit settings. `scale` multiplies every default limit (rounded
/// down, at least 1); an entry in `overrides` replaces a class's windows
/// outright (not scaled), and an empty list makes that class unlimited.
///
/// ```toml
/// [rate_limits]
/// scale = 0.01
/// overrides = { post_order = [{ limit = 3, window_ms = 1000 }] }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub scale: f64,
    pub overrides: BTreeMap<EndpointClass, Vec<WindowLimit>>,
    pub over_limit: OverLimit,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig { enabled: true, scale: 1.0, overrides: BTreeMap::new(), over_limit: OverLimit::Reject }
    }
}

impl RateLimitConfig {
    /// No limits at all.
    pub fn disabled() -> RateLimitConfig {
        RateLimitConfig { enabled: false, ..RateLimitConfig::default() }
    }

    /// The windows in force for `class`.
    fn windows(&self, class: EndpointClass) -> Vec<WindowLimit> {
        if let Some(windows) = self.overrides.get(&class) {
            return windows.clone();
        }
        class
            .default_windows()
            .into_iter()
            .map(|w| {
                // Limits are at most 36 000, far inside f64's exact integers.
                let scaled = (w.limit as f64 * self.scale).floor() as u64;
                WindowLimit::new(scaled.max(1), w.window_ms)
            })
            .collect()
    }
}

/// Why a [`RateLimitConfig`] was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateLimitConfigError {
    #[error("rate limit scale {0} must be a positive finite number")]
    BadScale(f64),
    #[error("rate limit override for {0:?} has a zero limit (use an empty list for no limit)")]
    ZeroLimit(EndpointClass),
    #[error("rate limit override for {0:?} has a zero window")]
    ZeroWindow(EndpointClass),
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Admitted and charged. `remaining` is what is left of the tightest
    /// window that applies; `reset_ms` (unix ms) is when that window rolls
    /// over.
    Allowed { remaining: u64, reset_ms: i64 },
    /// Refused, nothing charged. A retry at `retry_at_ms` (= now +
    /// `retry_after_ms`, at least 1 ms later) with the same cost is admitted
    /// if nothing else is charged meanwhile. `limit`/`window_ms` name the
    /// window that needs the longest wait.
    Limited { retry_after_ms: u64, retry_at_ms: i64, limit: u64, window_ms: u64 },
    /// The cost alone exceeds a window's limit: this request can never be
    /// admitted (split the batch). Nothing charged.
    Oversized { cost: u32, limit: u64, window_ms: u64 },
    /// Limits are disabled, or none apply to this class.
    Unlimited,
}

impl RateDecision {
    /// Whether the request may proceed.
    pub fn is_admitted(&self) -> bool {
        matches!(self, RateDecision::Allowed { .. } | RateDecision::Unlimited)
    }

    /// Headers the server adds to the response: `Poly-RateLimit-Remaining`
    /// and `Poly-RateLimit-Reset` when admitted; those plus `Retry-After`
    /// when limited; none otherwise.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match *self {
            RateDecision::Allowed { remaining, reset_ms } => vec![
                (HEADER_RATE_LIMIT_REMAINING, remaining.to_string()),
                (HEADER_RATE_LIMIT_RESET, ceil_seconds(reset_ms).to_string()),
            ],
            RateDecision::Limited { retry_after_ms, retry_at_ms, .. } => vec![
                (HEADER_RETRY_AFTER, retry_after_ms.div_ceil(1_000).max(1).to_string()),
                (HEADER_RATE_LIMIT_REMAINING, "0".to_string()),
                (HEADER_RATE_LIMIT_RESET, ceil_seconds(retry_at_ms).to_string()),
            ],
            RateDecision::Oversized { .. } | RateDecision::Unlimited => Vec::new(),
        }
    }
}

fn ceil_seconds(ms: i64) -> i64 {
    ms.div_euclid(1_000) + i64::from(ms.rem_euclid(1_000) != 0)
}

/// Counts in one sliding window: the current fixed window (aligned to the
/// epoch) and the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WindowCounter {
    start_ms: i64,
    previous: u64,
    current: u64,
}

impl WindowCounter {
    fn new(now_ms: i64, window_ms: u64) -> WindowCounter {
        WindowCounter { start_ms: align(now_ms, window_ms), previous: 0, current: 0 }
    }

    /// Rolls the counts forward to the window holding `now_ms`. A clock that
    /// steps back leaves the counts alone (the estimate then uses elapsed 0,
    /// the most conservative reading).
    fn advance(&mut self, now_ms: i64, window_ms: u64) {
        let aligned = align(now_ms, window_ms);
        let w = window_ms as i64;
        if aligned <= self.start_ms {
            return;
        }
        self.previous = if aligned == self.start_ms + w { self.current } else { 0 };
        self.current = 0;
        self.start_ms = aligned;
    }

    fn elapsed(&self, now_ms: i64, window_ms: u64) -> u64 {
        u64::try_from(now_ms - self.start_ms).map_or(0, |e| e.min(window_ms - 1))
    }

    /// The estimate times `W`, so it stays an integer.
    fn used_scaled(&self, now_ms: i64, window_ms: u64) -> u128 {
        let w = u128::from(window_ms);
        let e = u128::from(self.elapsed(now_ms, window_ms));
        u128::from(self.previous) * (w - e) + u128::from(self.current) * w
    }

    fn admits(&self, now_ms: i64, limit: WindowLimit, cost: u64) -> bool {
        let w = u128::from(limit.window_ms);
        self.used_scaled(now_ms, limit.window_ms) + u128::from(cost) * w <= u128::from(limit.limit) * w
    }

    /// What is left after the charges so far, rounded down.
    fn remaining(&self, now_ms: i64, limit: WindowLimit) -> u64 {
        let w = u128::from(limit.window_ms);
        let cap = u128::from(limit.limit) * w;
        let left = cap.saturating_sub(self.used_scaled(now_ms, limit.window_ms)) / w;
        u64::try_from(left).unwrap_or(u64::MAX)
    }

    /// The earliest time a charge of `cost` (≤ limit) is admitted, given no
    /// other charges meanwhile. Already advanced to `now_ms`.
    fn earliest_admit_ms(&self, now_ms: i64, limit: WindowLimit, cost: u64) -> i64 {
        let (w, l) = (u128::from(limit.window_ms), u128::from(limit.limit));
        let (previous, current, cost) = (u128::from(self.previous), u128::from(self.current), u128::from(cost));
        let e_now = u128::from(self.elapsed(now_ms, limit.window_ms));
        // Smallest elapsed `e` with `count × (W − e) ≤ room`.
        let first_fit = |count: u128, room: u128| w - (room / count).min(w);
        let offset = if current + cost <= l {
            if previous == 0 { e_now } else { first_fit(previous, (l - current - cost) * w).max(e_now) }
        } else {
            // Not before the next window, where `current` becomes `previous`.
            w + first_fit(current, (l - cost) * w)
        };
        let later = i64::try_from(offset).unwrap_or(i64::MAX);
        self.start_ms.saturating_add(later).max(now_ms)
    }

    /// Whether the counter still affects any estimate at `now_ms`.
    fn is_live(&self, now_ms: i64, window_ms: u64) -> bool {
        now_ms < self.start_ms.saturating_add(2 * window_ms as i64)
    }
}

fn align(now_ms: i64, window_ms: u64) -> i64 {
    let w = window_ms as i64;
    now_ms - now_ms.rem_euclid(w)
}

/// Sliding-window limits per (key, endpoint class). `K` is whatever the
/// server limits by: an API key, an address, a client IP.
#[derive(Debug)]
pub struct RateLimiter<K = String> {
    config: RateLimitConfig,
    windows: Vec<Vec<WindowLimit>>,
    counters: HashMap<K, BTreeMap<EndpointClass, Vec<WindowCounter>>>,
    sweep_every_ms: u64,
    next_sweep_ms: Option<i64>,
}

impl<K: Eq + Hash> RateLimiter<K> {
    pub fn new(config: RateLimitConfig) -> Result<RateLimiter<K>, RateLimitConfigError> {
        if !(config.scale.is_finite() && config.scale > 0.0) {
            return Err(RateLimitConfigError::BadScale(config.scale));
        }
        for (&class, windows) in &config.overrides {
            for w in windows {
                if w.limit == 0 {
                    return Err(RateLimitConfigError::ZeroLimit(class));
                }
                if w.window_ms == 0 || i64::try_from(w.window_ms).is_err() {
                    return Err(RateLimitConfigError::ZeroWindow(class));
                }
            }
        }
        let windows: Vec<Vec<WindowLimit>> = EndpointClass::ALL.iter().map(|&c| config.windows(c)).collect();
        let sweep_every_ms = windows.iter().flatten().map(|w| w.window_ms).min().unwrap_or(TEN_SECONDS);
        Ok(RateLimiter { config, windows, counters: HashMap::new(), sweep_every_ms, next_sweep_ms: None })
    }

    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The windows in force for `class`.
    pub fn windows(&self, class: EndpointClass) -> &[WindowLimit] {
        &self.windows[class.index()]
    }

    /// Keys with live state (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.counters.len()
    }

    /// Decides one request by `key` to `class` at `now_ms` costing `cost`
    /// (1 for single requests; orders or ids in a batch). A cost of 0
    /// charges nothing and reports what is left.
    /// `key` may be borrowed (`&str` for `String` keys).
    pub fn check<Q>(&mut self, key: &Q, class: EndpointClass, now_ms: i64, cost: u32) -> RateDecision
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if !self.config.enabled {
            return RateDecision::Unlimited;
        }
        // The class's own windows are charged `cost`; the general window
        // counts requests. A general request is charged once.
        let general_charge = u64::from(cost.min(1));
        let charges: &[(EndpointClass, u64)] = if class == EndpointClass::General {
            &[(EndpointClass::General, u64::from(cost))]
        } else {
            &[(class, u64::from(cost)), (EndpointClass::General, general_charge)]
        };
        if charges.iter().all(|&(c, _)| self.windows(c).is_empty()) {
            return RateDecision::Unlimited;
        }
        for &(c, charge) in charges {
            if let Some(w) = self.windows(c).iter().find(|w| charge > w.limit) {
                return RateDecision::Oversized { cost, limit: w.limit, window_ms: w.window_ms };
            }
        }
        self.maybe_sweep(now_ms);

        if !self.counters.contains_key(key) {
            self.counters.insert(key.to_owned(), BTreeMap::new());
        }
        let windows = &self.windows;
        let per_key = self.counters.get_mut(key).expect("inserted above");
        for &(c, _) in charges {
            let limits = &windows[c.index()];
            let counters = per_key
                .entry(c)
                .or_insert_with(|| limits.iter().map(|w| WindowCounter::new(now_ms, w.window_ms)).collect());
            for (counter, w) in counters.iter_mut().zip(limits) {
                counter.advance(now_ms, w.window_ms);
            }
        }

        let pairs = move || {
            charges.iter().flat_map(move |&(c, charge)| {
                windows[c.index()].iter().enumerate().map(move |(i, &w)| (c, i, w, charge))
            })
        };
        let admitted = pairs().all(|(c, i, w, charge)| per_key[&c][i].admits(now_ms, w, charge));
        if !admitted {
            let (retry_at_ms, w) = pairs()
                .map(|(c, i, w, charge)| (per_key[&c][i].earliest_admit_ms(now_ms, w, charge), w))
                .max_by_key(|&(at, _)| at)
                .expect("at least one window applies");
            let retry_at_ms = retry_at_ms.max(now_ms + 1);
            return RateDecision::Limited {
                retry_after_ms: (retry_at_ms - now_ms) as u64,
                retry_at_ms,
                limit: w.limit,
                window_ms: w.window_ms,
            };
        }

        let mut tightest: Option<(u64, i64)> = None;
        for (c, i, w, charge) in pairs() {
            let counter = &mut per_key.get_mut(&c).expect("created above")[i];
            counter.current += charge;
            let remaining = counter.remaining(now_ms, w);
            let reset_ms = counter.start_ms + w.window_ms as i64;
            if tightest.is_none_or(|(r, _)| remaining < r) {
                tightest = Some((remaining, reset_ms));
            }
        }
        let (remaining, reset_ms) = tightest.expect("at least one window applies");
        RateDecision::Allowed { remaining, reset_ms }
    }

    /// Drops state that no longer affects any estimate, at most once per
    /// shortest window, so memory follows the keys active recently.
    fn maybe_sweep(&mut self, now_ms: i64) {
        let due = self.next_sweep_ms.is_none_or(|at| now_ms >= at);
        if !due {
            return;
        }
        self.next_sweep_ms = Some(now_ms.saturating_add(self.sweep_every_ms as i64));
        let windows = &self.windows;
        self.counters.retain(|_, per_key| {
            per_key.retain(|class, counters| {
                counters.iter().zip(&windows[class.index()]).any(|(counter, w)| counter.is_live(now_ms, w.window_ms))
            });
            !per_key.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Epoch-aligned start so window arithmetic in the tests is readable.
    const T0: i64 = 1_767_225_600_000;

    fn limiter(config: RateLimitConfig) -> RateLimiter<String> {
        RateLimiter::new(config).unwrap()
    }

    fn tiny(class: EndpointClass, windows: &[(u64, u64)]) -> RateLimitConfig {
        RateLimitConfig {
            overrides: BTreeMap::from([(class, windows.iter().map(|&(l, w)| WindowLimit::new(l, w)).collect())]),
            ..RateLimitConfig::default()
        }
    }

    fn key(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn classifies_the_endpoints() {
        use EndpointClass as C;
        let cases = [
            ("GET", "/ok", C::Health),
            ("GET", "/book?token_id=1", C::Book),
            ("POST", "/books", C::Books),
            ("GET", "/price", C::Price),
            ("POST", "/prices", C::Prices),
            ("GET", "/midpoint", C::Midpoint),
            ("POST", "/midpoints", C::Midpoints),
            ("GET", "/prices-history?market=1", C::PricesHistory),
            ("GET", "/tick-size?token_id=1", C::TickSize),
            ("GET", "/tick-size/123", C::TickSize),
            ("GET", "/balance-allowance?asset_type=COLLATERAL", C::BalanceAllowance),
            ("GET", "/balance-allowance/update", C::BalanceAllowanceUpdate),
            ("GET", "/data/order/0xabc", C::Ledger),
            ("GET", "/data/orders", C::DataOrders),
            ("GET", "/data/trades/", C::DataTrades),
            ("GET", "/notifications", C::Notifications),
            ("POST", "/auth/api-key", C::ApiKeys),
            ("GET", "/auth/derive-api-key", C::ApiKeys),
            ("post", "/order", C::PostOrder),
            ("DELETE", "/order", C::DeleteOrder),
            ("POST", "/orders", C::PostOrders),
            ("DELETE", "/orders", C::DeleteOrders),
            ("DELETE", "/cancel-all", C::CancelAll),
            ("DELETE", "/cancel-market-orders", C::CancelMarketOrders),
            ("GET", "/markets", C::General),
            ("GET", "/time", C::General),
            ("POST", "/v1/heartbeats", C::General),
            ("GET", "/", C::General),
        ];
        for (method, path, class) in cases {
            assert_eq!(EndpointClass::classify(method, path), class, "{method} {path}");
        }
    }

    #[test]
    fn class_index_follows_all() {
        for (i, class) in EndpointClass::ALL.into_iter().enumerate() {
            assert_eq!(class.index(), i, "{class:?}");
        }
    }

    #[test]
    fn borrowed_keys_share_state_with_owned_ones() {
        let mut l = limiter(tiny(EndpointClass::Book, &[(1, 10_000)]));
        assert!(l.check("a", EndpointClass::Book, T0, 1).is_admitted());
        assert!(!l.check(&key("a"), EndpointClass::Book, T0, 1).is_admitted());
    }

    #[test]
    fn default_limits_are_the_published_ones() {
        let l = limiter(RateLimitConfig::default());
        assert_eq!(l.windows(EndpointClass::General), [WindowLimit::new(9_000, 10_000)]);
        assert_eq!(l.windows(EndpointClass::Book), [WindowLimit::new(1_500, 10_000)]);
        assert_eq!(l.windows(EndpointClass::BalanceAllowanceUpdate), [WindowLimit::new(50, 10_000)]);
        assert_eq!(
            l.windows(EndpointClass::PostOrder),
            [WindowLimit::new(3_500, 10_000), WindowLimit::new(36_000, 600_000)]
        );
        assert_eq!(
            l.windows(EndpointClass::CancelMarketOrders),
            [WindowLimit::new(1_000, 10_000), WindowLimit::new(1_500, 600_000)]
        );
        for class in EndpointClass::ALL {
            assert!(!l.windows(class).is_empty(), "{class:?}");
        }
    }

    #[test]
    fn scale_shrinks_defaults_but_not_overrides() {
        let mut config = tiny(EndpointClass::Book, &[(7, 1_000)]);
        config.scale = 0.001;
        let l = limiter(config);
        assert_eq!(l.windows(EndpointClass::Book), [WindowLimit::new(7, 1_000)]);
        assert_eq!(l.windows(EndpointClass::PostOrder), [WindowLimit::new(3, 10_000), WindowLimit::new(36, 600_000)]);
        // Never scaled to zero.
        assert_eq!(l.windows(EndpointClass::BalanceAllowanceUpdate), [WindowLimit::new(1, 10_000)]);
    }

    #[test]
    fn exceeding_a_limit_is_limited_with_a_sane_retry_after() {
        let mut l = limiter(tiny(EndpointClass::Book, &[(5, 10_000)]));
        let k = key("a");
        for i in 0..5u64 {
            let d = l.check(&k, EndpointClass::Book, T0 + 1_000, 1);
            assert_eq!(d, RateDecision::Allowed { remaining: 4 - i, reset_ms: T0 + 10_000 });
        }
        let d = l.check(&k, EndpointClass::Book, T0 + 1_000, 1);
        // All five sit in the current window: the next is admitted once the
        // window rolls and 1/5 of it has elapsed (5 × (1 − e/W) ≤ 4).
        assert_eq!(
            d,
            RateDecision::Limited { retry_after_ms: 11_000, retry_at_ms: T0 + 12_000, limit: 5, window_ms: 10_000 }
        );
        assert_eq!(
            d.headers(),
            vec![
                (HEADER_RETRY_AFTER, "11".to_string()),
                (HEADER_RATE_LIMIT_REMAINING, "0".to_string()),
                (HEADER_RATE_LIMIT_RESET, ((T0 + 12_000) / 1_000).to_string()),
            ]
        );
        // Refused requests are not charged, and the retry time is exact.
        assert!(!l.check(&k, EndpointClass::Book, T0 + 11_999, 1).is_admitted());
        assert!(l.check(&k, EndpointClass::Book, T0 + 12_000, 1).is_admitted());
        assert!(!l.check(&k, EndpointClass::Book, T0 + 12_000, 1).is_admitted());
    }

    #[test]
    fn the_window_slides() {
        let mut l = limiter(tiny(EndpointClass::Price, &[(10, 10_000)]));
        let k = key("a");
        // Ten at the end of one window.
        for _ in 0..10 {
            assert!(l.check(&k, EndpointClass::Price, T0 + 9_000, 1).is_admitted());
        }
        // Early in the next window almost all of them still count...
        assert!(!l.check(&k, EndpointClass::Price, T0 + 10_500, 1).is_admitted());
        // ...and they fade linearly: at 30% in, 10 × 0.7 = 7 count, 3 left.
        for _ in 0..3 {
            assert!(l.check(&k, EndpointClass::Price, T0 + 13_000, 1).is_admitted());
        }
        assert!(!l.check(&k, EndpointClass::Price, T0 + 13_000, 1).is_admitted());
        // Two full windows later nothing counts.
        let d = l.check(&k, EndpointClass::Price, T0 + 30_000, 1);
        assert_eq!(d, RateDecision::Allowed { remaining: 9, reset_ms: T0 + 40_000 });
    }

    #[test]
    fn retry_after_is_honest_for_random_bursts() {
        // Whenever a request is refused, retrying exactly at retry_at is
        // admitted and one millisecond earlier is not.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let config = tiny(EndpointClass::Midpoint, &[(20, 1_000), (50, 5_000)]);
        let mut l = limiter(config);
        let k = key("a");
        let mut now = T0;
        let mut refusals = 0;
        for _ in 0..2_000 {
            now += (next() % 120) as i64;
            let cost = (next() % 5 + 1) as u32;
            if let RateDecision::Limited { retry_at_ms, .. } = l.check(&k, EndpointClass::Midpoint, now, cost) {
                refusals += 1;
                assert!(retry_at_ms > now);
                if retry_at_ms - 1 > now {
                    assert!(!l.check(&k, EndpointClass::Midpoint, retry_at_ms - 1, cost).is_admitted());
                }
                assert!(l.check(&k, EndpointClass::Midpoint, retry_at_ms, cost).is_admitted());
                now = retry_at_ms;
            }
        }
        assert!(refusals > 100, "only {refusals} refusals");
    }

    #[test]
    fn classes_and_keys_are_independent() {
        let mut config = tiny(EndpointClass::Book, &[(2, 10_000)]);
        config.overrides.insert(EndpointClass::Price, vec![WindowLimit::new(2, 10_000)]);
        let mut l = limiter(config);
        let (a, b) = (key("a"), key("b"));
        assert!(l.check(&a, EndpointClass::Book, T0, 1).is_admitted());
        assert!(l.check(&a, EndpointClass::Book, T0, 1).is_admitted());
        assert!(!l.check(&a, EndpointClass::Book, T0, 1).is_admitted());
        // Another class for the same key, and the same class for another key.
        assert!(l.check(&a, EndpointClass::Price, T0, 1).is_admitted());
        assert!(l.check(&b, EndpointClass::Book, T0, 1).is_admitted());
        assert!(l.check(&b, EndpointClass::Book, T0, 1).is_admitted());
        assert!(!l.check(&b, EndpointClass::Book, T0, 1).is_admitted());
    }

    #[test]
    fn every_request_also_counts_against_the_general_window() {
        let mut config = tiny(EndpointClass::General, &[(3, 10_000)]);
        config.overrides.insert(EndpointClass::PostOrders, vec![WindowLimit::new(100, 10_000)]);
        let mut l = limiter(config);
        let k = key("a");
        // A batch of 10 orders is one request for the general window.
        assert_eq!(
            l.check(&k, EndpointClass::PostOrders, T0, 10),
            RateDecision::Allowed { remaining: 2, reset_ms: T0 + 10_000 }
        );
        assert!(l.check(&k, EndpointClass::Book, T0, 1).is_admitted());
        assert!(l.check(&k, EndpointClass::Midpoint, T0, 1).is_admitted());
        let d = l.check(&k, EndpointClass::PostOrders, T0, 1);
        assert!(matches!(d, RateDecision::Limited { limit: 3, .. }), "{d:?}");
    }

    #[test]
    fn batch_cost_counts_per_order_and_is_all_or_nothing() {
        let mut l = limiter(tiny(EndpointClass::PostOrders, &[(15, 10_000)]));
        let k = key("a");
        assert_eq!(
            l.check(&k, EndpointClass::PostOrders, T0, 10),
            RateDecision::Allowed { remaining: 5, reset_ms: T0 + 10_000 }
        );
        // Six do not fit in the five left: refused whole, nothing charged.
        assert!(!l.check(&k, EndpointClass::PostOrders, T0, 6).is_admitted());
        assert_eq!(
            l.check(&k, EndpointClass::PostOrders, T0, 5),
            RateDecision::Allowed { remaining: 0, reset_ms: T0 + 10_000 }
        );
        // A batch bigger than the limit can never pass.
        assert_eq!(
            l.check(&k, EndpointClass::PostOrders, T0 + 60_000, 16),
            RateDecision::Oversized { cost: 16, limit: 15, window_ms: 10_000 }
        );
    }

    #[test]
    fn burst_and_sustained_windows_both_bind() {
        let mut l = limiter(tiny(EndpointClass::DeleteOrder, &[(10, 1_000), (25, 60_000)]));
        let k = key("a");
        let mut admitted = 0;
        // 10 every 2 s (each burst window fresh) for 10 s: the burst window
        // allows it all, the sustained one stops it at 25.
        for s in 0..5 {
            for _ in 0..10 {
                if l.check(&k, EndpointClass::DeleteOrder, T0 + s * 2_000, 1).is_admitted() {
                    admitted += 1;
                }
            }
        }
        assert_eq!(admitted, 25);
        let d = l.check(&k, EndpointClass::DeleteOrder, T0 + 10_000, 1);
        assert!(matches!(d, RateDecision::Limited { window_ms: 60_000, .. }), "{d:?}");
    }

    #[test]
    fn cost_zero_reports_without_charging() {
        let mut l = limiter(tiny(EndpointClass::Book, &[(5, 10_000)]));
        let k = key("a");
        l.check(&k, EndpointClass::Book, T0, 2);
        for _ in 0..3 {
            assert_eq!(
                l.check(&k, EndpointClass::Book, T0, 0),
                RateDecision::Allowed { remaining: 3, reset_ms: T0 + 10_000 }
            );
        }
    }

    #[test]
    fn headers_of_an_admitted_request() {
        let mut l = limiter(tiny(EndpointClass::Book, &[(5, 10_000)]));
        let d = l.check(&key("a"), EndpointClass::Book, T0 + 1, 1);
        assert_eq!(
            d.headers(),
            vec![
                (HEADER_RATE_LIMIT_REMAINING, "4".to_string()),
                (HEADER_RATE_LIMIT_RESET, ((T0 + 10_000) / 1_000).to_string()),
            ]
        );
        assert_eq!(ceil_seconds(1_001), 2);
        assert_eq!(ceil_seconds(1_000), 1);
        assert_eq!(ceil_seconds(-1), 0);
    }

    #[test]
    fn disabled_and_empty_overrides_are_unlimited() {
        let mut l = limiter(RateLimitConfig::disabled());
        assert_eq!(l.check(&key("a"), EndpointClass::PostOrder, T0, 1), RateDecision::Unlimited);
        assert!(RateDecision::Unlimited.headers().is_empty());

        let mut config = tiny(EndpointClass::Book, &[]);
        config.overrides.insert(EndpointClass::General, vec![]);
        let mut l = limiter(config);
        for _ in 0..10_000 {
            assert_eq!(l.check(&key("a"), EndpointClass::Book, T0, 1), RateDecision::Unlimited);
        }
        assert_eq!(l.tracked_keys(), 0);
    }

    #[test]
    fn old_state_is_swept() {
        let mut l = limiter(RateLimitConfig::default());
        for i in 0..1_000 {
            l.check(&format!("k{i}"), EndpointClass::Book, T0, 1);
        }
        assert_eq!(l.tracked_keys(), 1_000);
        // Still within two windows: the counts still matter.
        l.check(&key("x"), EndpointClass::Book, T0 + 15_000, 1);
        assert_eq!(l.tracked_keys(), 1_001);
        // Two 10 s windows on, the first thousand no longer count: x and y stay.
        l.check(&key("y"), EndpointClass::Book, T0 + 25_000, 1);
        assert_eq!(l.tracked_keys(), 2);
        // Trading classes keep state for their 10 min window.
        l.check(&key("z"), EndpointClass::PostOrder, T0 + 25_000, 1);
        l.check(&key("w"), EndpointClass::Book, T0 + 60_000, 1);
        assert_eq!(l.tracked_keys(), 2, "z (10 min window) and w");
        l.check(&key("w"), EndpointClass::Book, T0 + 1_300_000, 1);
        assert_eq!(l.tracked_keys(), 1);
    }

    #[test]
    fn a_clock_stepping_back_is_harmless() {
        let mut l = limiter(tiny(EndpointClass::Book, &[(2, 10_000)]));
        let k = key("a");
        assert!(l.check(&k, EndpointClass::Book, T0 + 25_000, 1).is_admitted());
        assert!(l.check(&k, EndpointClass::Book, T0 + 5_000, 1).is_admitted());
        let d = l.check(&k, EndpointClass::Book, T0 + 5_000, 1);
        assert!(matches!(d, RateDecision::Limited { retry_at_ms, .. } if retry_at_ms > T0 + 5_000));
    }

    #[test]
    fn config_is_strict() {
        let ok: RateLimitConfig = serde_json::from_str(
            r#"{"scale":0.5,"overrides":{"post_order":[{"limit":3,"window_ms":1000}]},"over_limit":"throttle"}"#,
        )
        .unwrap();
        assert_eq!(ok.over_limit, OverLimit::Throttle);
        assert!(ok.enabled);
        assert!(serde_json::from_str::<RateLimitConfig>(r#"{"scael":0.5}"#).is_err());
        assert!(serde_json::from_str::<RateLimitConfig>(r#"{"overrides":{"post_ordr":[]}}"#).is_err());
        assert!(
            serde_json::from_str::<RateLimitConfig>(r#"{"overrides":{"book":[{"limit":1,"window_ms":1,"burst":2}]}}"#)
                .is_err()
        );

        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let config = RateLimitConfig { scale: bad, ..RateLimitConfig::default() };
            assert!(matches!(RateLimiter::<String>::new(config), Err(RateLimitConfigError::BadScale(_))));
        }
        assert_eq!(
            RateLimiter::<String>::new(tiny(EndpointClass::Book, &[(0, 1_000)])).unwrap_err(),
            RateLimitConfigError::ZeroLimit(EndpointClass::Book)
        );
        assert_eq!(
            RateLimiter::<String>::new(tiny(EndpointClass::Book, &[(1, 0)])).unwrap_err(),
            RateLimitConfigError::ZeroWindow(EndpointClass::Book)
        );
    }
}
