//! Market-channel frames into pmbot-core [`MarketEvent`]s.
//!
//! Invariant: every JSON object in a frame ends in exactly one of three ways,
//! and the [`FrameOutcome`] (per frame) and [`ParseStats`] (running) say which:
//! it becomes one checked [`MarketEvent`]; it is *skipped* (an `event_type`
//! pmbot does not use, or no `event_type` at all); or it is *refused* with a
//! [`RejectReason`] and produces nothing. No input makes the parser panic.
//!
//! # What a frame may hold
//! A frame is one JSON object or a JSON array of objects, each tagged by
//! `event_type`: `book`, `price_change` (the current `price_changes` batch, and
//! both legacy shapes: a `changes` list under one `asset_id`, or a single flat
//! `price`/`side`/`size`), `last_trade_price`, `tick_size_change`,
//! `best_bid_ask`, `new_market`, `market_resolved`. Keys may come in any order.
//! Prices, sizes, tick sizes, fee rates and timestamps are read from JSON
//! strings or JSON numbers alike; ids, sides and hashes must be strings. A
//! `null` counts as absent. The non-JSON control frames (`PONG`,
//! `NO NEW ASSETS`, `INVALID OPERATION`, `INVALID AUTH`) are recognised by [`classify_frame`]
//! and must not be given to the parser (it would refuse them as bad JSON).
//!
//! # Refusal policy (what keeps books safest)
//! - **An object is atomic.** If any part of it is bad (one entry of a
//!   `price_changes` batch, one level of a `book`, a missing timestamp) the
//!   whole object is refused. Applying the good half of a batch would leave a
//!   book silently different from the exchange's.
//! - **Objects of an array frame are independent.** A bad element is refused
//!   alone; the other elements still produce their events, in order. Each of
//!   them is a complete, fully checked message, and withholding them would only
//!   widen what has to be repaired. The [`Rejection`] names the element's
//!   index, its message type, and the market and tokens it named (as far as
//!   they could be read): resync those books, or every book when `tokens` is
//!   empty. Handle a frame's `rejects` *before* applying its events (reset the
//!   named books), so a later delta in the same frame meets an unsynced book
//!   and is refused by the book rather than applied over a gap.
//! - **A frame that is not JSON is refused whole** (truncated, garbage, empty):
//!   where one element ends and the next begins cannot be trusted.
//!
//! Optional fields are read as the exchange writes "nothing": an empty `hash`
//! is `None`; `best_bid` "0" and `best_ask` "1" are an empty side
//! ([`pmbot_core::parse_touch_price`]); a book's `last_trade_price` "" (no trade
//! yet; what the simulator sends), "0" or "1" is `None`; a book without `bids`
//! or `asks` (or with `null`) has that side empty, as in the official SDK.
//!
//! A JSON number too large for an `f64` under a key pmbot reads makes the
//! whole frame "not JSON" (serde_json refuses it); no real value is that large.
//!
//! # Two readers, one meaning
//! Syntax is read by one of two readers; everything after syntax (which key
//! goes where, conversions, faults, the refusal rules above) is shared code,
//! so the readers cannot differ in meaning. The *fast reader* handles the
//! shapes the exchange sends all the time (one object, plain strings, lists
//! of flat objects) in a single pass over the bytes; anything else (arrays,
//! JSON numbers, escapes, nested values, anything malformed) goes to the
//! *general reader*, serde_json with hand-written visitors, which also decides
//! what is not JSON. Property tests check that the two give identical results
//! on every frame the fast one accepts. [`ParseStats::general_reader_frames`]
//! counts the frames the general reader took.
//!
//! # Speed
//! Strings are borrowed from the frame, numbers parsed without allocating,
//! levels and batch entries converted as they are read (no
//! `serde_json::Value`, no intermediate vectors), the common spellings of
//! prices, sizes, timestamps and market ids parsed by fast paths that
//! pmbot-core's parsers back up. Token ids held by the [`TokenInterner`]
//! reuse their `Arc` instead of being validated and allocated again. The
//! allocations left are the ones the events own: the batch vector, each
//! entry's `hash` string, a snapshot's level vectors. `benches/marketdata.rs`
//! measures it.

mod build;
mod convert;
mod fast;
mod fields;
mod intern;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use pmbot_core::{ConditionId, MarketEvent, TimestampMs, TokenId};

pub use intern::{TokenIdBuildHasher, TokenIdHasher, TokenInterner};

use build::Built;
use fields::Fields;
use wire::{Element, Frame};

// ---- control frames --------------------------------------------------------

/// What kind of text frame the market channel delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// The answer to our `PING` text frame.
    Pong,
    /// `NO NEW ASSETS`: sent from time to time to a client that enabled
    /// custom features (new-market discovery). Not JSON and not an error,
    /// and no market message was lost: no book is doubted. Sources:
    /// polymarket-protocol.md corrections 4; NautilusTrader
    /// `crates/adapters/polymarket/src/websocket/handler.rs` `parse_messages`
    /// ("Polymarket's WSS periodically sends the plain-text string NO NEW
    /// ASSETS as a heartbeat/ack").
    NoNewAssets,
    /// The server refused a subscription or operation message we sent.
    InvalidOperation,
    /// The server refused our credentials (user channel).
    InvalidAuth,
    /// Anything else: market data, to be given to [`FrameParser::parse`]
    /// (which refuses it if it is not JSON).
    Data,
}

/// Sorts a text frame before parsing: the server's plain-text control frames
/// are not JSON and must not reach the JSON parser. Surrounding whitespace is
/// ignored; the words must match exactly (the server writes them in capitals).
pub fn classify_frame(text: &str) -> FrameKind {
    match text.trim() {
        "PONG" => FrameKind::Pong,
        "NO NEW ASSETS" => FrameKind::NoNewAssets,
        "INVALID OPERATION" => FrameKind::InvalidOperation,
        "INVALID AUTH" => FrameKind::InvalidAuth,
        _ => FrameKind::Data,
    }
}

// ---- message types and reasons ---------------------------------------------

/// The market-channel message types pmbot reads (`event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageType {
    Book,
    PriceChange,
    LastTradePrice,
    TickSizeChange,
    BestBidAsk,
    NewMarket,
    MarketResolved,
}

impl MessageType {
    pub const COUNT: usize = 7;
    pub const ALL: [MessageType; MessageType::COUNT] = [
        MessageType::Book,
        MessageType::PriceChange,
        MessageType::LastTradePrice,
        MessageType::TickSizeChange,
        MessageType::BestBidAsk,
        MessageType::NewMarket,
        MessageType::MarketResolved,
    ];

    /// The `event_type` spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageType::Book => "book",
            MessageType::PriceChange => "price_change",
            MessageType::LastTradePrice => "last_trade_price",
            MessageType::TickSizeChange => "tick_size_change",
            MessageType::BestBidAsk => "best_bid_ask",
            MessageType::NewMarket => "new_market",
            MessageType::MarketResolved => "market_resolved",
        }
    }

    /// The type an `event_type` names, if pmbot reads it (exact spelling).
    pub fn from_wire(event_type: &str) -> Option<MessageType> {
        MessageType::ALL.into_iter().find(|t| t.as_str() == event_type)
    }

    /// Position in [`MessageType::ALL`] (and in the [`ParseStats`] arrays).
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an object (or a whole frame) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum RejectReason {
    /// The frame is not JSON (truncated, garbage, empty). Refuses the frame.
    #[error("frame is not valid JSON")]
    InvalidJson,
    /// The frame, or an element of an array frame, is JSON but not an object.
    #[error("not a JSON object")]
    NotAnObject,
    /// A field holds the wrong JSON type (an object where a price belongs, a
    /// number where a token id belongs, ...).
    #[error("field has the wrong JSON type")]
    WrongType,
    /// A field the message type needs is absent or `null`.
    #[error("required field is missing")]
    MissingField,
    /// A key appears twice in one object: which one counts is ambiguous.
    #[error("field appears twice")]
    DuplicateField,
    /// A price that is not a plain decimal.
    #[error("price is not a decimal number")]
    BadPrice,
    /// A price outside (0, 1).
    #[error("price is outside (0, 1)")]
    PriceOutOfRange,
    /// A price with more than 4 decimals (finer than the finest tick).
    #[error("price has more than 4 decimals")]
    PriceTooPrecise,
    /// A size that is not a non-negative decimal with at most 6 decimals.
    #[error("size is not a non-negative decimal with at most 6 decimals")]
    BadSize,
    /// A timestamp that is not a whole number of milliseconds.
    #[error("timestamp is not whole milliseconds")]
    BadTimestamp,
    /// A token id that is not a canonical decimal uint256.
    #[error("token id is not a decimal uint256")]
    BadTokenId,
    /// A market (condition) id that is not `0x` + 64 hex digits.
    #[error("market id is not a 0x-prefixed 32-byte hex hash")]
    BadMarketId,
    /// A side other than BUY or SELL.
    #[error("side is neither BUY nor SELL")]
    BadSide,
    /// A tick size Polymarket does not use.
    #[error("tick size is not one Polymarket uses")]
    BadTickSize,
    /// A fee rate that is not a whole number of basis points.
    #[error("fee rate is not whole basis points")]
    BadFeeRate,
    /// Fields that contradict each other: both `price_changes` and a legacy
    /// shape, outcomes and tokens of different lengths, a winning token that
    /// is not among the market's tokens.
    #[error("fields contradict each other")]
    Inconsistent,
}

impl RejectReason {
    pub const COUNT: usize = 16;
    pub const ALL: [RejectReason; RejectReason::COUNT] = [
        RejectReason::InvalidJson,
        RejectReason::NotAnObject,
        RejectReason::WrongType,
        RejectReason::MissingField,
        RejectReason::DuplicateField,
        RejectReason::BadPrice,
        RejectReason::PriceOutOfRange,
        RejectReason::PriceTooPrecise,
        RejectReason::BadSize,
        RejectReason::BadTimestamp,
        RejectReason::BadTokenId,
        RejectReason::BadMarketId,
        RejectReason::BadSide,
        RejectReason::BadTickSize,
        RejectReason::BadFeeRate,
        RejectReason::Inconsistent,
    ];

    /// A stable snake_case label, for metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::WrongType => "wrong_type",
            RejectReason::MissingField => "missing_field",
            RejectReason::DuplicateField => "duplicate_field",
            RejectReason::BadPrice => "bad_price",
            RejectReason::PriceOutOfRange => "price_out_of_range",
            RejectReason::PriceTooPrecise => "price_too_precise",
            RejectReason::BadSize => "bad_size",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadTokenId => "bad_token_id",
            RejectReason::BadMarketId => "bad_market_id",
            RejectReason::BadSide => "bad_side",
            RejectReason::BadTickSize => "bad_tick_size",
            RejectReason::BadFeeRate => "bad_fee_rate",
            RejectReason::Inconsistent => "inconsistent",
        }
    }

    /// Position in [`RejectReason::ALL`] (and in [`ParseStats::rejects`]).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One refused object, or a refused frame (`index` `None`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct Rejection {
    pub reason: RejectReason,
    /// The field at fault, as a path (`"price_changes.price"`), when one is.
    pub field: Option<&'static str>,
    /// The offending text (at most 64 characters), when there is one.
    pub value: Option<String>,
    /// The object's position in the frame (0 for a single-object frame);
    /// `None` when the whole frame was refused.
    pub index: Option<usize>,
    /// The object's message type, when its `event_type` could be read.
    pub message: Option<MessageType>,
    /// The market the object named, when it could be read.
    pub market: Option<ConditionId>,
    /// The tokens the object named that could be read, without repeats. Empty
    /// means unknown: assume any book may have missed an update.
    pub tokens: Vec<TokenId>,
}

impl Rejection {
    fn frame(reason: RejectReason) -> Rejection {
        Rejection { reason, field: None, value: None, index: None, message: None, market: None, tokens: Vec::new() }
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        match self.index {
            Some(i) => s.push_str(&format!("object {i}")),
            None => s.push_str("frame"),
        }
        if let Some(m) = self.message {
            s.push_str(&format!(" ({m})"));
        }
        s.push_str(&format!(" refused: {}", self.reason));
        if let Some(f) = self.field {
            s.push_str(&format!(" [{f}]"));
        }
        if let Some(v) = &self.value {
            s.push_str(&format!(" {v:?}"));
        }
        s
    }
}

/// What one call to [`FrameParser::parse`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct FrameOutcome {
    /// Events appended to the output, in frame order.
    pub events: usize,
    /// Objects with an `event_type` pmbot does not read (skipped, counted).
    pub unknown: usize,
    /// Objects without an `event_type` (skipped, counted).
    pub non_events: usize,
    /// Refused objects, in frame order, or the one refusal of a frame that was
    /// not JSON. Empty (and unallocated) for a clean frame.
    pub rejects: Vec<Rejection>,
}

impl FrameOutcome {
    /// No object was refused.
    pub fn is_clean(&self) -> bool {
        self.rejects.is_empty()
    }

    /// Objects skipped without an event or a refusal.
    pub fn skipped(&self) -> usize {
        self.unknown + self.non_events
    }
}

// ---- counters --------------------------------------------------------------

/// How many distinct unknown `event_type` names [`ParseStats`] keeps by name;
/// beyond this they are summed in `unknown_other`, so a server sending
/// random names cannot grow the map without bound.
pub const MAX_UNKNOWN_TYPE_NAMES: usize = 32;

/// Running counts since the parser was made (or since [`FrameParser::take_stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Frames given to the parser.
    pub frames: u64,
    /// Objects found in those frames (every element of an array frame counts,
    /// objects or not); a frame that is not JSON adds none.
    pub objects: u64,
    /// Events produced, by [`MessageType::index`].
    pub events: [u64; MessageType::COUNT],
    /// `price_change` events read from a legacy schema (also in `events`).
    pub legacy_price_changes: u64,
    /// Objects refused, by [`MessageType::index`], when the type was known.
    pub rejected_by_type: [u64; MessageType::COUNT],
    /// Refusals, by [`RejectReason::index`].
    pub rejects: [u64; RejectReason::COUNT],
    /// Skipped objects by their unknown `event_type` (the first
    /// [`MAX_UNKNOWN_TYPE_NAMES`] names seen).
    pub unknown_types: BTreeMap<String, u64>,
    /// Skipped objects whose unknown type did not fit in `unknown_types`.
    pub unknown_other: u64,
    /// Skipped objects without an `event_type`.
    pub non_events: u64,
    /// Frames outside the fast reader's subset, read by the general (serde)
    /// reader: array frames (the initial dump), JSON numbers, escapes, nested
    /// values, malformed frames. A rise in the share of these means the
    /// feed's shape changed (and parsing got slower), not that data was lost.
    pub general_reader_frames: u64,
}

impl ParseStats {
    /// Events produced of type `t`.
    pub fn events_of(&self, t: MessageType) -> u64 {
        self.events[t.index()]
    }

    /// Refusals for `reason`.
    pub fn rejects_for(&self, reason: RejectReason) -> u64 {
        self.rejects[reason.index()]
    }

    pub fn events_total(&self) -> u64 {
        self.events.iter().sum()
    }

    pub fn rejects_total(&self) -> u64 {
        self.rejects.iter().sum()
    }

    /// Objects skipped for an unknown `event_type`.
    pub fn unknown_total(&self) -> u64 {
        self.unknown_types.values().sum::<u64>() + self.unknown_other
    }

    fn count_unknown(&mut self, name: &str) {
        if let Some(n) = self.unknown_types.get_mut(name) {
            *n += 1;
        } else if self.unknown_types.len() < MAX_UNKNOWN_TYPE_NAMES {
            self.unknown_types.insert(name.to_owned(), 1);
        } else {
            self.unknown_other += 1;
        }
    }

    fn count_reject(&mut self, r: &Rejection) {
        self.rejects[r.reason.index()] += 1;
        if let Some(t) = r.message {
            self.rejected_by_type[t.index()] += 1;
        }
    }
}

// ---- the parser ------------------------------------------------------------

/// Which reader a frame goes through (tests compare the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// The fast reader, and the general one if it gives up.
    FastFirst,
    /// The general (serde) reader alone.
    #[cfg_attr(not(test), allow(dead_code))]
    GeneralOnly,
}

/// Turns market-channel frames into events. Its only state is its counters and
/// its token interner: parsing one frame never depends on an earlier one.
#[derive(Debug, Clone, Default)]
pub struct FrameParser {
    interner: TokenInterner,
    stats: ParseStats,
}

impl FrameParser {
    /// A parser with an empty interner (every token id is validated and
    /// allocated afresh).
    pub fn new() -> FrameParser {
        FrameParser::default()
    }

    /// A parser that reuses the ids held by `interner`.
    pub fn with_interner(interner: TokenInterner) -> FrameParser {
        FrameParser { interner, stats: ParseStats::default() }
    }

    pub fn interner(&self) -> &TokenInterner {
        &self.interner
    }

    /// Register subscribed tokens here (and remove them on unsubscribe).
    pub fn interner_mut(&mut self) -> &mut TokenInterner {
        &mut self.interner
    }

    pub fn stats(&self) -> &ParseStats {
        &self.stats
    }

    /// Returns the counts so far and starts again from zero.
    pub fn take_stats(&mut self) -> ParseStats {
        std::mem::take(&mut self.stats)
    }

    /// Parses one text frame received at `received` (the engine clock),
    /// appending its events to `out` in frame order. `out` is not cleared, so
    /// one buffer can be reused across frames.
    pub fn parse(&mut self, frame: &str, received: TimestampMs, out: &mut Vec<MarketEvent>) -> FrameOutcome {
        self.parse_with(frame, received, out, Reader::FastFirst)
    }

    fn parse_with(
        &mut self,
        frame: &str,
        received: TimestampMs,
        out: &mut Vec<MarketEvent>,
        reader: Reader,
    ) -> FrameOutcome {
        self.stats.frames += 1;
        let mut outcome = FrameOutcome::default();
        let mut fields = Fields::default();
        let fast = match reader {
            Reader::FastFirst => fast::read_object(frame, &self.interner, &mut fields),
            Reader::GeneralOnly => Err(fast::GiveUp),
        };
        let read = match fast {
            Ok(()) => Frame::Object,
            Err(fast::GiveUp) => {
                self.stats.general_reader_frames += 1;
                fields = Fields::default();
                wire::read_frame(frame, &self.interner, &mut fields)
            }
        };
        match read {
            Frame::Object => {
                self.stats.objects += 1;
                let built = build::build(&mut fields, received, &self.interner, out);
                self.settle(built, 0, &mut outcome);
            }
            Frame::Array(elements) => {
                self.stats.objects += elements.len() as u64;
                for (index, element) in elements.into_iter().enumerate() {
                    let built = match element {
                        Element::Object(mut fields) => build::build(&mut fields, received, &self.interner, out),
                        Element::NotObject => Built::Rejected(Rejection::frame(RejectReason::NotAnObject)),
                    };
                    self.settle(built, index, &mut outcome);
                }
            }
            Frame::NotObject => self.refuse_frame(RejectReason::NotAnObject, &mut outcome),
            Frame::InvalidJson => self.refuse_frame(RejectReason::InvalidJson, &mut outcome),
        }
        outcome
    }

    fn settle(&mut self, built: Built<'_>, index: usize, outcome: &mut FrameOutcome) {
        match built {
            Built::Event { message, legacy } => {
                outcome.events += 1;
                self.stats.events[message.index()] += 1;
                self.stats.legacy_price_changes += u64::from(legacy);
            }
            Built::Unknown(name) => {
                outcome.unknown += 1;
                self.stats.count_unknown(&name);
            }
            Built::NonEvent => {
                outcome.non_events += 1;
                self.stats.non_events += 1;
            }
            Built::Rejected(mut rejection) => {
                rejection.index = Some(index);
                self.stats.count_reject(&rejection);
                outcome.rejects.push(rejection);
            }
        }
    }

    fn refuse_frame(&mut self, reason: RejectReason, outcome: &mut FrameOutcome) {
        let rejection = Rejection::frame(reason);
        self.stats.count_reject(&rejection);
        outcome.rejects.push(rejection);
    }
}
