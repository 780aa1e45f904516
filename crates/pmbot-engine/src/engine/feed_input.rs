//! What a real-time run's driver was fed, as recording frames: a paper run
//! on live data records these (`pmbot paper --record DIR`), and a backtest
//! of that recording feeds the driver the same inputs in the same order, so
//! it makes the same decisions, orders and fills.
//!
//! Why not the raw market-channel frames (`pmbot record`): the engine's
//! books follow the market-data service's, which also applies REST resyncs
//! and stops trusting a book on a lost or malformed frame or a disconnect;
//! and a real-time run samples on a clock tick as well as on events.
//! Neither is in the socket's frames. Each input is one JSON object with a
//! `pmbot_feed` key, which no market-channel message has.

use pmbot_core::{MarketEvent, TimestampMs, TokenId};
use serde::{Deserialize, Serialize};

use super::MarketInfo;

/// The key that marks a feed frame.
const KEY: &str = "pmbot_feed";

/// One input to the driver, at the frame's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum FeedInput {
    /// A market the run trades, as the engine was given it (its fee read
    /// from the exchange).
    Market { info: MarketInfo },
    /// A market event the engine took (a socket message, a REST resync as
    /// a `book`, a resolution).
    Event { event: MarketEvent },
    /// The market-data service stopped trusting this book.
    Distrusted { token: TokenId },
    /// The clock moved (the real-time loop's tick).
    Tick,
    /// The run ended (a backtest of the recording ends there too).
    End,
}

/// The frame: the input and the time the driver was given with it (which
/// may be earlier than the frame's own stamp: a market event waits in the
/// feed's queue while the clock ticks on).
#[derive(Serialize)]
struct Wrapped<'a> {
    pmbot_feed: &'a FeedInput,
    at: TimestampMs,
}

#[derive(Deserialize)]
struct Unwrapped {
    pmbot_feed: FeedInput,
    at: TimestampMs,
}

/// A frame that says it is a feed input and is not one.
#[derive(Debug, thiserror::Error)]
#[error("a malformed feed input: {0}")]
pub struct FeedInputError(#[from] serde_json::Error);

impl FeedInput {
    /// The input given at `at`, as one recording frame.
    pub fn to_frame(&self, at: TimestampMs) -> String {
        serde_json::to_string(&Wrapped { pmbot_feed: self, at }).expect("feed inputs serialize")
    }

    /// `None` for a frame that is not a feed input (a market-channel
    /// message); an error for one that claims to be and is malformed.
    pub fn from_frame(text: &str) -> Option<Result<(FeedInput, TimestampMs), FeedInputError>> {
        let head = text.trim_start().strip_prefix('{')?.trim_start();
        if !head.starts_with(&format!("\"{KEY}\"")) {
            return None;
        }
        Some(serde_json::from_str::<Unwrapped>(text).map(|u| (u.pmbot_feed, u.at)).map_err(FeedInputError::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmbot_core::{FeeModel, Size, TickSize, TimestampMs};

    #[test]
    fn inputs_round_trip_and_market_frames_are_not_inputs() {
        let info = MarketInfo {
            market: pmbot_core::Hash32([7; 32]),
            up: TokenId::parse("11").unwrap(),
            down: TokenId::parse("22").unwrap(),
            end: Some(TimestampMs::from_millis(5)),
            fee: FeeModel::crypto(),
            min_order_size: Size::from_micros(5_000_000),
            tick: TickSize::Hundredth,
        };
        for input in [
            FeedInput::Market { info },
            FeedInput::Distrusted { token: TokenId::parse("11").unwrap() },
            FeedInput::Tick,
            FeedInput::End,
        ] {
            let frame = input.to_frame(TimestampMs::from_millis(42));
            assert_eq!(
                FeedInput::from_frame(&frame).unwrap().unwrap(),
                (input, TimestampMs::from_millis(42)),
                "{frame}"
            );
        }
        assert!(FeedInput::from_frame(r#"[{"event_type":"book","asset_id":"11"}]"#).is_none());
        assert!(FeedInput::from_frame(r#"{"event_type":"price_change","pmbot_feed":1}"#).is_none());
        let err = FeedInput::from_frame(r#"{"pmbot_feed":{"input":"nonsense"},"at":1}"#).unwrap().unwrap_err();
        assert!(err.to_string().starts_with("a malformed feed input"), "{err}");
    }
}
