//! Time as data: a millisecond timestamp type and a replaceable clock.
//!
//! Invariant: nothing in `pmbot-core` reads the wall clock. Every time a core
//! type sees was passed in, so replaying the same input gives the same output.
//! The real clock (`SystemTime`) lives at the edges and implements [`Clock`]
//! there; tests and replays use [`ManualClock`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::price::DecimalText;

/// A point in time in unix milliseconds (UTC), as the exchange writes its
/// `timestamp` fields.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TimestampMs(pub i64);

impl TimestampMs {
    /// The unix epoch.
    pub const ZERO: TimestampMs = TimestampMs(0);

    pub const fn from_millis(ms: i64) -> TimestampMs {
        TimestampMs(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn millis_since(self, earlier: TimestampMs) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// This time plus `ms` milliseconds (saturating).
    pub const fn plus_millis(self, ms: i64) -> TimestampMs {
        TimestampMs(self.0.saturating_add(ms))
    }

    /// Parses the exchange's decimal millisecond string ("1757908892351").
    pub fn parse(s: &str) -> Result<TimestampMs, TimestampError> {
        let t = s.trim();
        let digits = t.strip_prefix('-').unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TimestampError(s.to_owned()));
        }
        t.parse().map(TimestampMs).map_err(|_| TimestampError(s.to_owned()))
    }
}

/// A timestamp string that is not a whole number of milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp {0:?} is not an integer number of milliseconds")]
pub struct TimestampError(pub String);

impl fmt::Display for TimestampMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for TimestampMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimestampMs({})", self.0)
    }
}

impl Serialize for TimestampMs {
    /// A JSON integer.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for TimestampMs {
    /// Accepts an integer or the exchange's decimal string; refuses fractions.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        TimestampMs::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Where the current time comes from. Real at the edges, manual in tests and
/// replays; the engine only ever asks this trait.
pub trait Clock: Send + Sync {
    /// The current time in unix milliseconds.
    fn now_ms(&self) -> i64;

    /// The current time as a [`TimestampMs`].
    fn now(&self) -> TimestampMs {
        TimestampMs(self.now_ms())
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

/// A clock that moves only when told to. Shared between threads through an
/// atomic, so a test can hold one handle and advance it while the code under
/// test reads another (`Arc<ManualClock>`).
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub const fn new(start_ms: i64) -> ManualClock {
        ManualClock { now_ms: AtomicI64::new(start_ms) }
    }

    /// Sets the time. Going backwards is allowed on purpose: tests of clock
    /// skew and replays that restart need it.
    pub fn set(&self, ms: i64) {
        self.now_ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by_ms` and returns the new time.
    pub fn advance(&self, by_ms: u32) -> i64 {
        let by = i64::from(by_ms);
        self.now_ms.fetch_add(by, Ordering::SeqCst) + by
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_sets_and_advances() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        assert_eq!(c.advance(250), 1_250);
        assert_eq!(c.now(), TimestampMs(1_250));
        c.set(10);
        assert_eq!(c.now_ms(), 10);
    }

    #[test]
    fn manual_clock_is_shared_across_threads() {
        let c = Arc::new(ManualClock::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for _ in 0..1_000 {
                        c.advance(1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // No advance is lost: fetch_add, not load + store.
        assert_eq!(c.now_ms(), 4_000);
        // Usable as a trait object through the blanket impls.
        let dynamic: Arc<dyn Clock> = c;
        assert_eq!(dynamic.now(), TimestampMs(4_000));
    }

    #[test]
    fn timestamps_parse_strings_and_numbers() {
        assert_eq!(TimestampMs::parse("1757908892351"), Ok(TimestampMs(1_757_908_892_351)));
        for bad in ["", "12.5", "1e3", "abc", "-"] {
            assert!(TimestampMs::parse(bad).is_err(), "{bad}");
        }
        let t: TimestampMs = serde_json::from_str("\"1703875200000\"").unwrap();
        assert_eq!(t.millis(), 1_703_875_200_000);
        let t: TimestampMs = serde_json::from_str("1703875200000").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "1703875200000");
        assert!(serde_json::from_str::<TimestampMs>("1.5").is_err());
        assert_eq!(TimestampMs(100).millis_since(TimestampMs(40)), 60);
        assert_eq!(TimestampMs(100).plus_millis(5), TimestampMs(105));
    }
}
