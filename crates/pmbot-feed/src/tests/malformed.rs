//! Bad frames and bad objects: each kind is refused with its reason, named
//! field and scope, produces nothing, is counted, and leaves the rest of an
//! array frame alone.

use pmbot_core::MarketEvent;

use super::shapes::{M, NO, YES};
use super::{market, parse, token};
use crate::{MessageType, RejectReason, Rejection};

/// A current-schema batch of two entries, the second with `entry` spliced
/// over its default fields.
fn batch_with_second(entry: &str) -> String {
    format!(
        r#"{{"event_type":"price_change","market":"{M}","timestamp":"1","price_changes":[{{"asset_id":"{YES}","price":"0.5","size":"1","side":"BUY"}},{{"asset_id":"{NO}","price":"0.5","size":"1","side":"SELL",{entry}}}]}}"#
    )
}

fn last_trade_with(fields: &str) -> String {
    format!(
        r#"{{"event_type":"last_trade_price","asset_id":"{YES}","market":"{M}","price":"0.5","side":"BUY","size":"1","fee_rate_bps":"0","timestamp":"1",{fields}}}"#
    )
}

fn book_with(fields: &str) -> String {
    format!(
        r#"{{"event_type":"book","asset_id":"{YES}","market":"{M}","bids":[{{"price":"0.48","size":"30"}}],"asks":[],"timestamp":"1",{fields}}}"#
    )
}

/// The one refusal of a frame that must give nothing else.
fn refused(frame: &str) -> Rejection {
    let parsed = parse(frame);
    assert!(parsed.events.is_empty(), "{frame} gave {:?}", parsed.events);
    assert_eq!(parsed.outcome.rejects.len(), 1, "{frame}: {:?}", parsed.outcome.rejects);
    let r = parsed.outcome.rejects.into_iter().next().unwrap();
    assert_eq!(parsed.stats.rejects_for(r.reason), 1);
    assert_eq!(parsed.stats.rejects_total(), 1);
    if let Some(m) = r.message {
        assert_eq!(parsed.stats.rejected_by_type[m.index()], 1);
    }
    r
}

#[test]
fn frames_that_are_not_json_are_refused_whole() {
    let cases = [
        "",
        "   ",
        "{",
        r#"{"event_type":"book""#,
        r#"{"event_type":"book",}"#,
        r#"[{"event_type":"book"},"#,
        "}]:#@~<garbage",
        r#"{"a":1} trailing"#,
        r#"{"a":1}{"b":2}"#,
        r#"{'single':'quotes'}"#,
        r#"{"a":tru}"#,
        r#"{"a":01}"#,
        "{\"a\":\"raw\u{1}control\"}",
        r#"{"a":"bad \q escape"}"#,
        // Out of f64 range where pmbot reads a number (serde_json refuses it).
        r#"{"price":1e999}"#,
        "PONG",
    ];
    for frame in cases {
        let r = refused(frame);
        assert_eq!((r.reason, r.index, r.message), (RejectReason::InvalidJson, None, None), "{frame:?}");
        assert!(r.tokens.is_empty() && r.market.is_none());
    }
}

#[test]
fn deep_nesting_neither_overflows_nor_hides_a_refusal() {
    // Valid JSON, but the one element is not an object.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = refused(&deep);
    assert_eq!((r.reason, r.index), (RejectReason::NotAnObject, Some(0)));
    // Under a key pmbot reads, it is a value of the wrong type.
    let nested = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let r = refused(&book_with(&format!(r#""hash":{nested}"#)));
    assert_eq!((r.reason, r.field), (RejectReason::WrongType, Some("hash")));
    // Under a key it ignores, it changes nothing.
    let parsed = parse(&book_with(&format!(r#""other":{nested}"#)));
    assert!(parsed.outcome.is_clean() && parsed.events.len() == 1);
}

#[test]
fn json_that_is_not_an_object() {
    for frame in ["42", "\"PONG\"", "null", "true", "-1.5"] {
        let r = refused(frame);
        assert_eq!((r.reason, r.index), (RejectReason::NotAnObject, None), "{frame}");
    }
    // In an array, each non-object element is refused on its own.
    let frame = format!(r#"[1,{},[2],null]"#, last_trade_with(r#""x":1"#));
    let parsed = parse(&frame);
    assert_eq!(parsed.events.len(), 1);
    let reasons: Vec<_> = parsed.outcome.rejects.iter().map(|r| (r.reason, r.index)).collect();
    assert_eq!(
        reasons,
        vec![
            (RejectReason::NotAnObject, Some(0)),
            (RejectReason::NotAnObject, Some(2)),
            (RejectReason::NotAnObject, Some(3))
        ]
    );
}

/// (frame, reason, field, message type) for one bad field each.
fn field_cases() -> Vec<(String, RejectReason, &'static str, MessageType)> {
    use MessageType::*;
    use RejectReason::*;
    vec![
        // Wrong JSON types.
        (
            last_trade_with(r#""price":{"v":"0.5"}"#).replace(r#""price":"0.5","#, ""),
            WrongType,
            "price",
            LastTradePrice,
        ),
        (last_trade_with(r#""x":1"#).replace(&format!(r#""{YES}""#), "123"), WrongType, "asset_id", LastTradePrice),
        (last_trade_with(r#""x":1"#).replace(r#""side":"BUY""#, r#""side":true"#), WrongType, "side", LastTradePrice),
        (book_with(r#""x":1"#).replace(r#""asks":[]"#, r#""asks":"none""#), WrongType, "asks", Book),
        (book_with(r#""x":1"#).replace(r#""asks":[]"#, r#""asks":[["0.5","1"]]"#), WrongType, "asks", Book),
        (batch_with_second(r#""hash":7"#), WrongType, "price_changes.hash", PriceChange),
        (r#"{"event_type":7}"#.to_string(), WrongType, "event_type", PriceChange),
        // Missing fields.
        (last_trade_with(r#""x":1"#).replace(r#""timestamp":"1","#, ""), MissingField, "timestamp", LastTradePrice),
        (
            last_trade_with(r#""x":1"#).replace(r#""fee_rate_bps":"0","#, ""),
            MissingField,
            "fee_rate_bps",
            LastTradePrice,
        ),
        (book_with(r#""x":1"#).replace(&format!(r#""market":"{M}","#), ""), MissingField, "market", Book),
        (book_with(r#""x":1"#).replace(r#""price":"0.48","#, ""), MissingField, "bids.price", Book),
        (
            batch_with_second(r#""x":null"#).replace(r#""side":"SELL","#, ""),
            MissingField,
            "price_changes.side",
            PriceChange,
        ),
        (
            format!(r#"{{"event_type":"price_change","market":"{M}","timestamp":"1"}}"#),
            MissingField,
            "price_changes",
            PriceChange,
        ),
        (
            format!(
                r#"{{"event_type":"best_bid_ask","market":"{M}","asset_id":"{YES}","best_ask":"0.5","timestamp":"1"}}"#
            ),
            MissingField,
            "best_bid",
            BestBidAsk,
        ),
        (
            last_trade_with(r#""asset_id":null"#).replace(&format!(r#""asset_id":"{YES}","#), ""),
            MissingField,
            "asset_id",
            LastTradePrice,
        ),
        // Repeated keys.
        (last_trade_with(r#""price":"0.6""#), DuplicateField, "price", LastTradePrice),
        (batch_with_second(r#""size":"2""#), DuplicateField, "price_changes.size", PriceChange),
        // Bad values.
        (
            last_trade_with(r#""x":1"#).replace(r#""price":"0.5""#, r#""price":"abc""#),
            BadPrice,
            "price",
            LastTradePrice,
        ),
        (
            last_trade_with(r#""x":1"#).replace(r#""price":"0.5""#, r#""price":"1.2""#),
            PriceOutOfRange,
            "price",
            LastTradePrice,
        ),
        (
            last_trade_with(r#""x":1"#).replace(r#""price":"0.5""#, r#""price":"0""#),
            PriceOutOfRange,
            "price",
            LastTradePrice,
        ),
        (batch_with_second(r#""best_bid":"-0.1""#), BadPrice, "price_changes.best_bid", PriceChange),
        (batch_with_second(r#""best_ask":"1.01""#), PriceOutOfRange, "price_changes.best_ask", PriceChange),
        (
            book_with(r#""x":1"#).replace(r#""price":"0.48""#, r#""price":"0.48001""#),
            PriceTooPrecise,
            "bids.price",
            Book,
        ),
        (
            batch_with_second(r#""x":1"#).replace(r#""size":"1","side":"SELL""#, r#""size":"-1","side":"SELL""#),
            BadSize,
            "price_changes.size",
            PriceChange,
        ),
        (
            last_trade_with(r#""x":1"#).replace(r#""size":"1""#, r#""size":"1.0000001""#),
            BadSize,
            "size",
            LastTradePrice,
        ),
        (
            last_trade_with(r#""x":1"#).replace(r#""timestamp":"1""#, r#""timestamp":"12.5""#),
            BadTimestamp,
            "timestamp",
            LastTradePrice,
        ),
        (last_trade_with(r#""x":1"#).replace(YES, "0123"), BadTokenId, "asset_id", LastTradePrice),
        (batch_with_second(r#""x":1"#).replace(NO, "12a"), BadTokenId, "price_changes.asset_id", PriceChange),
        (last_trade_with(r#""x":1"#).replace(M, "0x1234"), BadMarketId, "market", LastTradePrice),
        (last_trade_with(r#""x":1"#).replace(r#""side":"BUY""#, r#""side":"HOLD""#), BadSide, "side", LastTradePrice),
        (book_with(r#""tick_size":"0.02""#), BadTickSize, "tick_size", Book),
        (
            last_trade_with(r#""x":1"#).replace(r#""fee_rate_bps":"0""#, r#""fee_rate_bps":"0.5""#),
            BadFeeRate,
            "fee_rate_bps",
            LastTradePrice,
        ),
        // Contradictions.
        (
            batch_with_second(r#""x":1"#).replacen(r#""timestamp":"1","#, r#""timestamp":"1","changes":[],"#, 1),
            Inconsistent,
            "price_changes",
            PriceChange,
        ),
        (
            format!(
                r#"{{"event_type":"new_market","id":"1","question":"q","market":"{M}","slug":"s","assets_ids":["{YES}","{NO}"],"outcomes":["Yes"],"timestamp":"1"}}"#
            ),
            Inconsistent,
            "outcomes",
            NewMarket,
        ),
        (
            format!(
                r#"{{"event_type":"market_resolved","market":"{M}","assets_ids":["{YES}"],"winning_asset_id":"{NO}","winning_outcome":"No","timestamp":"1"}}"#
            ),
            Inconsistent,
            "winning_asset_id",
            MarketResolved,
        ),
    ]
}

#[test]
fn each_bad_field_is_refused_with_its_reason() {
    for (frame, reason, field, message) in field_cases() {
        let r = refused(&frame);
        assert_eq!((r.reason, r.field, r.index), (reason, Some(field), Some(0)), "{frame}");
        if reason != RejectReason::WrongType || field != "event_type" {
            assert_eq!(r.message, Some(message), "{frame}");
        } else {
            assert_eq!(r.message, None);
        }
        // The refusal displays with its reason and field.
        let text = r.to_string();
        assert!(text.contains(&reason.to_string()) && text.contains(field), "{text}");
    }
    // Every reason but the frame-level ones is exercised above.
    let seen: std::collections::HashSet<_> = field_cases().into_iter().map(|c| c.1).collect();
    for reason in RejectReason::ALL {
        assert!(
            seen.contains(&reason) || matches!(reason, RejectReason::InvalidJson | RejectReason::NotAnObject),
            "{reason:?} untested"
        );
    }
}

#[test]
fn a_bad_value_is_kept_for_the_log() {
    let r = refused(&last_trade_with(r#""x":1"#).replace(r#""price":"0.5""#, r#""price":"1.2""#));
    assert_eq!(r.value.as_deref(), Some("1.2"));
    let r = refused(&last_trade_with(r#""x":1"#).replace(r#""price":"0.5""#, r#""price":1e300"#));
    assert_eq!(r.reason, RejectReason::BadPrice);
}

#[test]
fn a_batch_with_one_bad_entry_is_refused_whole_and_names_its_tokens() {
    let r = refused(&batch_with_second(r#""best_bid":"2""#));
    assert_eq!(r.message, Some(MessageType::PriceChange));
    assert_eq!(r.market, Some(market(M)));
    // Both tokens: the good entry's and the bad entry's.
    assert_eq!(r.tokens, vec![token(YES), token(NO)]);
    // Even when the bad entry's own token is what is bad, the other is named.
    let r = refused(&batch_with_second(r#""x":1"#).replace(NO, "x"));
    assert_eq!((r.reason, r.tokens.clone()), (RejectReason::BadTokenId, vec![token(YES)]));
}

#[test]
fn refusals_name_what_they_can_read() {
    let r = refused(&book_with(r#""tick_size":"0.02""#));
    assert_eq!((r.market, r.tokens.clone()), (Some(market(M)), vec![token(YES)]));
    let r = refused(&last_trade_with(r#""x":1"#).replace(M, "0x1234"));
    assert_eq!((r.market, r.tokens), (None, vec![token(YES)]));
    let r = refused(&format!(
        r#"{{"event_type":"market_resolved","market":"{M}","assets_ids":["{YES}"],"winning_asset_id":"{NO}","winning_outcome":"No","timestamp":"1"}}"#
    ));
    assert_eq!(r.tokens, vec![token(NO), token(YES)]);
}

#[test]
fn other_elements_of_an_array_still_parse() {
    let good = last_trade_with(r#""x":1"#);
    let bad = last_trade_with(r#""x":1"#).replace(r#""side":"BUY""#, r#""side":"HOLD""#);
    let frame = format!("[{good},{bad},{good},{{\"event_type\":\"mystery\"}}]");
    let parsed = parse(&frame);
    assert_eq!(parsed.events.len(), 2);
    assert!(parsed.events.iter().all(|e| matches!(e, MarketEvent::LastTrade(_))));
    assert_eq!(parsed.outcome.unknown, 1);
    let [r] = parsed.outcome.rejects.as_slice() else { panic!("{:?}", parsed.outcome.rejects) };
    assert_eq!((r.reason, r.index, r.message), (RejectReason::BadSide, Some(1), Some(MessageType::LastTradePrice)));
    assert_eq!((parsed.stats.objects, parsed.stats.events_total()), (4, 2));
}

#[test]
fn bad_fields_of_other_message_types_do_not_matter() {
    // A `price` that is not a price, in a book (which has no `price`).
    let frame = book_with(r#""price":"not a price","size":{"x":1},"side":7,"best_bid":"9""#);
    let parsed = parse(&frame);
    assert!(parsed.outcome.is_clean(), "{:?}", parsed.outcome.rejects);
    assert_eq!(parsed.events.len(), 1);
    // An unknown type is skipped whatever its fields hold.
    let parsed = parse(r#"{"event_type":"trade","price":"1.5","asset_id":"x","timestamp":[]}"#);
    assert!(parsed.outcome.is_clean() && parsed.outcome.unknown == 1);
}
