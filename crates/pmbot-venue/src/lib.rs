//! pmbot's Polymarket adapter: the edges that talk to the exchange.
//!
//! Today: the market-data stream (supervised WebSocket, book resync, health)
//! in [`marketdata`]. The order gateway and the on-chain balance reader come
//! with their issues.

pub mod discovery;
pub mod marketdata;

/// The wall clock, for live use. Everything that must replay takes a
/// `pmbot_core::Clock` instead of reading this directly.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl pmbot_core::Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}
