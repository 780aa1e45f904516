//! Client-side rate limits, and the exchange's own when it states them.
//!
//! Invariant: a request of a class waits until both the client's budget
//! (a GCRA limiter below the exchange's published limits) and any pause the
//! exchange asked for (`Retry-After`, or `Poly-RateLimit-Remaining: 0` until
//! `Poly-RateLimit-Reset`) allow it. A pause only ever extends.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use super::transport::Reply;

pub struct Limiter {
    gcra: DefaultDirectRateLimiter,
    burst: u32,
    paused_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("burst", &self.burst).finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(quota: Quota) -> Limiter {
        Limiter { burst: quota.burst_size().get(), gcra: RateLimiter::direct(quota), paused_until: Mutex::new(None) }
    }

    /// Waits until `cost` requests' worth may be sent.
    pub async fn acquire(&self, cost: u32) {
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        let n = NonZeroU32::new(cost.clamp(1, self.burst)).unwrap_or(NonZeroU32::MIN);
        // `cost` is clamped to the burst, so capacity is never insufficient.
        let _ = self.gcra.until_n_ready(n).await;
    }

    /// Holds every request of this class for `d`.
    pub fn pause_for(&self, d: Duration) {
        let t = Instant::now() + d;
        let mut g = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none_or(|u| u < t) {
            *g = Some(t);
        }
    }

    /// Honours what a reply says about the exchange's budget: `Retry-After`
    /// on a 429 (or `fallback` if it gave none), and an exhausted window
    /// (`Poly-RateLimit-Remaining: 0`) until its reset. Returns the pause.
    pub fn observe(&self, reply: &Reply, now_unix_s: i64, fallback: Duration, cap: Duration) -> Option<Duration> {
        let pause = if reply.status == 429 {
            Some(reply.retry_after.unwrap_or(fallback))
        } else if reply.remaining == Some(0) {
            reply.reset_unix_s.map(|r| Duration::from_secs(u64::try_from(r as i64 - now_unix_s).unwrap_or(0)))
        } else {
            None
        };
        let pause = pause.filter(|d| !d.is_zero())?.min(cap);
        self.pause_for(pause);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, retry_after: Option<u64>, remaining: Option<u64>, reset: Option<u64>) -> Reply {
        Reply {
            status,
            body: String::new(),
            json: true,
            retry_after: retry_after.map(Duration::from_secs),
            remaining,
            reset_unix_s: reset,
        }
    }

    #[tokio::test]
    async fn retry_after_holds_the_class() {
        let l = Limiter::new(Quota::per_second(NonZeroU32::new(1000).unwrap()));
        let cap = Duration::from_secs(30);
        // No Retry-After: the fallback, and the next request waits it out.
        assert_eq!(
            l.observe(&reply(429, None, None, None), 0, Duration::from_millis(300), cap),
            Some(Duration::from_millis(300))
        );
        let t0 = Instant::now();
        l.acquire(1).await;
        assert!(t0.elapsed() >= Duration::from_millis(290), "{:?}", t0.elapsed());
        // Retry-After as stated, capped; an exhausted window until its reset.
        let fresh = Limiter::new(Quota::per_second(NonZeroU32::new(1000).unwrap()));
        assert_eq!(
            fresh.observe(&reply(429, Some(2), None, None), 0, Duration::ZERO, cap),
            Some(Duration::from_secs(2))
        );
        assert_eq!(fresh.observe(&reply(429, Some(600), None, None), 0, Duration::ZERO, cap), Some(cap));
        assert_eq!(
            fresh.observe(&reply(200, None, Some(0), Some(105)), 100, Duration::ZERO, cap),
            Some(Duration::from_secs(5))
        );
        assert_eq!(fresh.observe(&reply(200, None, Some(3), Some(105)), 100, Duration::ZERO, cap), None);
    }

    #[tokio::test]
    async fn the_client_budget_spaces_requests() {
        // governor keeps real time, so this one runs on the real clock.
        let quota = Quota::per_second(NonZeroU32::new(100).unwrap()).allow_burst(NonZeroU32::new(2).unwrap());
        let l = Limiter::new(quota);
        let t0 = std::time::Instant::now();
        for _ in 0..12 {
            l.acquire(1).await;
        }
        // 2 at once, then 10 more at 100/s.
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(90), "{took:?}");
    }
}
