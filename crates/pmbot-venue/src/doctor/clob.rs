//! The CLOB: reachable, and its clock.

use std::time::{Duration, Instant};

use pmbot_core::Clock;

use super::Check;
use crate::SystemClock;

/// The exchange's clock against ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClobTime {
    pub round_trip_ms: u64,
    /// Exchange minus local, ms (the exchange answers whole seconds, so
    /// this is within ±500 ms plus half the round trip).
    pub skew_ms: i64,
}

/// `GET /time` on the CLOB: its round trip and its clock against ours.
pub async fn clob_time(clob_url: &str, timeout: Duration) -> Result<ClobTime, String> {
    let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
    let url = format!("{}/time", clob_url.trim_end_matches('/'));
    let clock = SystemClock;
    let sent_ms = clock.now_ms();
    let started = Instant::now();
    let resp = http.get(&url).send().await.map_err(|e| describe_reqwest(&e))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| describe_reqwest(&e))?;
    let round_trip_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !status.is_success() {
        return Err(format!("GET /time answered {status}"));
    }
    let seconds: i64 = body.trim().trim_matches('"').parse().map_err(|_| {
        let shown: String = body.chars().take(60).collect();
        format!("GET /time answered {shown:?}, not unix seconds")
    })?;
    let local_mid_ms = sent_ms + i64::try_from(round_trip_ms / 2).unwrap_or(0);
    Ok(ClobTime { round_trip_ms, skew_ms: seconds * 1000 + 500 - local_mid_ms })
}

/// A reqwest error without its URL (which may carry a query).
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut root = None;
    while let Some(s) = source {
        root = Some(s.to_string());
        source = s.source();
    }
    match root {
        Some(r) => format!("{kind} ({r})"),
        None => kind.to_owned(),
    }
}

/// The clock difference `skew_ms` against the limit `max`.
pub fn clock_check(skew_ms: i64, max: Duration) -> Check {
    let max_ms = i64::try_from(max.as_millis()).unwrap_or(i64::MAX);
    let shown = format!("{:+.1} s", skew_ms as f64 / 1000.0);
    if skew_ms.abs() <= max_ms {
        Check::pass("clock", format!("{shown} from the exchange's (±0.5 s resolution; limit {max:?})"))
    } else {
        Check::fail(
            "clock",
            format!("{shown} from the exchange's, more than {max:?}: order expiries and signatures go wrong"),
            "synchronise the system clock (e.g. `timedatectl set-ntp true`, or chrony)",
        )
    }
}
