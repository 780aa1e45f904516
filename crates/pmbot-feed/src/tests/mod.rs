//! Tests of the market-channel parser, through its public API.
//!
//! Every frame a test parses goes through both readers (the fast one first,
//! and the general serde one alone) and the test checks they agree, so each
//! case here is also a case of the readers' equivalence.

mod fixtures;
mod malformed;
mod props;
mod render;
mod shapes;

use pmbot_core::{ConditionId, MarketEvent, Price, Size, TimestampMs, TokenId};

use super::{FrameOutcome, FrameParser, ParseStats, Reader};

/// The receive time every test frame gets.
pub(super) const RECEIVED: TimestampMs = TimestampMs(1_800_000_000_000);

pub(super) fn price(s: &str) -> Price {
    Price::parse(s).unwrap()
}

pub(super) fn size(s: &str) -> Size {
    Size::parse(s).unwrap()
}

pub(super) fn token(s: &str) -> TokenId {
    TokenId::parse(s).unwrap()
}

pub(super) fn market(s: &str) -> ConditionId {
    ConditionId::parse(s).unwrap()
}

/// What parsing one frame gave.
#[derive(Debug)]
pub(super) struct Parsed {
    pub outcome: FrameOutcome,
    pub events: Vec<MarketEvent>,
    pub stats: ParseStats,
}

/// Parses `frame` with a fresh parser through both readers, checks they agree
/// (events, outcome and counters, apart from the count of frames the general
/// reader read), and returns the result.
pub(super) fn parse(frame: &str) -> Parsed {
    parse_with(FrameParser::new(), frame)
}

pub(super) fn parse_with(parser: FrameParser, frame: &str) -> Parsed {
    let mut fast = parser.clone();
    let mut general = parser;
    let (mut fast_events, mut general_events) = (Vec::new(), Vec::new());
    let fast_outcome = fast.parse_with(frame, RECEIVED, &mut fast_events, Reader::FastFirst);
    let general_outcome = general.parse_with(frame, RECEIVED, &mut general_events, Reader::GeneralOnly);
    assert_eq!(fast_outcome, general_outcome, "readers disagree on the outcome of {frame}");
    assert_eq!(fast_events, general_events, "readers disagree on the events of {frame}");
    let mut fast_stats = fast.take_stats();
    let general_stats = general.take_stats();
    assert_eq!(general_stats.general_reader_frames, general_stats.frames);
    fast_stats.general_reader_frames = general_stats.general_reader_frames;
    assert_eq!(fast_stats, general_stats, "readers disagree on the counts of {frame}");
    // Every object is accounted for exactly once.
    let refused_objects = fast_outcome.rejects.iter().filter(|r| r.index.is_some()).count();
    let accounted = fast_outcome.events + fast_outcome.unknown + fast_outcome.non_events + refused_objects;
    assert_eq!(accounted as u64, general_stats.objects, "{frame}");
    assert_eq!(fast_outcome.events, fast_events.len());
    Parsed { outcome: fast_outcome, events: fast_events, stats: general_stats }
}

/// The one event of a frame that must parse cleanly into exactly one.
pub(super) fn one_event(frame: &str) -> MarketEvent {
    let parsed = parse(frame);
    assert!(parsed.outcome.is_clean(), "{frame}: {:?}", parsed.outcome.rejects);
    assert_eq!(parsed.events.len(), 1, "{frame}");
    parsed.events.into_iter().next().unwrap()
}
