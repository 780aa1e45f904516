//! The shapes a valid frame may take: arrays, numbers for strings, the
//! legacy `price_change` schema, blanks for empty sides, unknown and untagged
//! objects, whitespace, escapes, and the plain-text control frames.

use pmbot_core::{Level, MarketEvent, PriceChange, Side, TickSize, TimestampMs};

use super::{RECEIVED, market, one_event, parse, parse_with, price, size, token};
use crate::MAX_UNKNOWN_TYPE_NAMES;
use crate::{FrameKind, FrameParser, MessageType, TokenInterner, classify_frame};

pub(super) const M: &str = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917";
pub(super) const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
pub(super) const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

fn book_frame() -> String {
    format!(
        r#"{{"event_type":"book","asset_id":"{YES}","market":"{M}","bids":[{{"price":"0.48","size":"30"}},{{"price":"0.49","size":"12.5"}}],"asks":[{{"price":"0.52","size":"25"}}],"timestamp":"1757908892351","hash":"0458ea5755c9f73d64a14636fa5c36ed460ec394","tick_size":"0.01","last_trade_price":"0.5"}}"#
    )
}

fn price_change_frame() -> String {
    format!(
        r#"{{"event_type":"price_change","market":"{M}","timestamp":"1757908892352","price_changes":[{{"asset_id":"{YES}","price":"0.5","size":"200","side":"BUY","hash":"56621a12","best_bid":"0.5","best_ask":"0.52"}},{{"asset_id":"{NO}","price":"0.5","size":"0","side":"SELL","hash":"1895759e","best_bid":"0.48","best_ask":"0.5"}}]}}"#
    )
}

#[test]
fn book_fields() {
    let MarketEvent::Book(b) = one_event(&book_frame()) else { panic!("not a book") };
    assert_eq!((b.token, b.market), (token(YES), market(M)));
    assert_eq!(b.bids, vec![Level::new(price("0.48"), size("30")), Level::new(price("0.49"), size("12.5"))]);
    assert_eq!(b.asks, vec![Level::new(price("0.52"), size("25"))]);
    assert_eq!((b.tick_size, b.last_trade_price), (Some(TickSize::Hundredth), Some(price("0.5"))));
    assert_eq!(b.hash.as_deref(), Some("0458ea5755c9f73d64a14636fa5c36ed460ec394"));
    assert_eq!((b.time.received, b.time.exchange), (RECEIVED, TimestampMs(1_757_908_892_351)));
}

#[test]
fn a_batch_keeps_its_entries_in_order() {
    let MarketEvent::PriceChanges(batch) = one_event(&price_change_frame()) else { panic!("not a batch") };
    assert_eq!(batch.market, market(M));
    assert_eq!(
        batch.changes,
        vec![
            PriceChange {
                token: token(YES),
                side: Side::Buy,
                price: price("0.5"),
                size: size("200"),
                best_bid: Some(price("0.5")),
                best_ask: Some(price("0.52")),
                hash: Some("56621a12".into()),
            },
            PriceChange {
                token: token(NO),
                side: Side::Sell,
                price: price("0.5"),
                size: size("0"),
                best_bid: Some(price("0.48")),
                best_ask: Some(price("0.5")),
                hash: Some("1895759e".into()),
            },
        ]
    );
}

#[test]
fn array_frames_give_every_element_in_order() {
    let frame = format!(
        r#"[{},{},{{"event_type":"trade","id":"x"}},{{"type":"heartbeat"}},{}]"#,
        book_frame(),
        price_change_frame(),
        book_frame()
    );
    let parsed = parse(&frame);
    assert!(parsed.outcome.is_clean());
    let kinds: Vec<_> = parsed
        .events
        .iter()
        .map(|e| match e {
            MarketEvent::Book(_) => "book",
            MarketEvent::PriceChanges(_) => "price_change",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["book", "price_change", "book"]);
    assert_eq!((parsed.outcome.unknown, parsed.outcome.non_events), (1, 1));
    assert_eq!(parsed.stats.objects, 5);
    assert_eq!(parsed.stats.unknown_types.get("trade"), Some(&1));
    assert_eq!(parsed.stats.events_of(MessageType::Book), 2);
    // An empty array is a frame with nothing in it.
    let parsed = parse("[]");
    assert!(parsed.outcome.is_clean() && parsed.events.is_empty() && parsed.stats.objects == 0);
}

#[test]
fn numbers_read_as_the_strings_they_spell() {
    let as_strings = format!(
        r#"{{"event_type":"last_trade_price","asset_id":"{YES}","market":"{M}","price":"0.456","side":"BUY","size":"219.217767","fee_rate_bps":"1000","timestamp":"1757908892351"}}"#
    );
    let as_numbers = format!(
        r#"{{"event_type":"last_trade_price","asset_id":"{YES}","market":"{M}","price":0.456,"side":"BUY","size":219.217767,"fee_rate_bps":1000,"timestamp":1757908892351}}"#
    );
    assert_eq!(one_event(&as_strings), one_event(&as_numbers));
    let book = format!(
        r#"{{"event_type":"book","asset_id":"{YES}","market":"{M}","bids":[{{"price":0.48,"size":30}}],"asks":[{{"price":0.52,"size":25.5}}],"timestamp":1757908892351,"tick_size":0.01,"last_trade_price":0.5}}"#
    );
    let MarketEvent::Book(b) = one_event(&book) else { panic!("not a book") };
    assert_eq!(b.bids, vec![Level::new(price("0.48"), size("30"))]);
    assert_eq!(b.asks, vec![Level::new(price("0.52"), size("25.5"))]);
    assert_eq!((b.tick_size, b.last_trade_price), (Some(TickSize::Hundredth), Some(price("0.5"))));
    let tick = format!(
        r#"{{"event_type":"tick_size_change","asset_id":"{YES}","market":"{M}","old_tick_size":0.01,"new_tick_size":0.001,"timestamp":1}}"#
    );
    let MarketEvent::TickSizeChange(t) = one_event(&tick) else { panic!("not a tick change") };
    assert_eq!((t.old, t.new), (TickSize::Hundredth, TickSize::Thousandth));
    let batch = format!(
        r#"{{"event_type":"price_change","market":"{M}","timestamp":1,"price_changes":[{{"asset_id":"{YES}","price":0.5,"size":200,"side":"BUY","best_bid":0,"best_ask":1}}]}}"#
    );
    let MarketEvent::PriceChanges(b) = one_event(&batch) else { panic!("not a batch") };
    assert_eq!((b.changes[0].price, b.changes[0].size), (price("0.5"), size("200")));
    // 0 and 1 as numbers are the empty-side markers too.
    assert_eq!((b.changes[0].best_bid, b.changes[0].best_ask, b.changes[0].hash.clone()), (None, None, None));
}

#[test]
fn legacy_changes_list() {
    let frame = format!(
        r#"{{"asset_id":"{YES}","changes":[{{"price":"0.5","side":"BUY","size":"10"}},{{"price":"0.6","side":"SELL","size":"0"}}],"event_type":"price_change","market":"{M}","timestamp":"1726000000000","hash":"abc123"}}"#
    );
    let parsed = parse(&frame);
    assert_eq!(parsed.stats.legacy_price_changes, 1);
    let [MarketEvent::PriceChanges(batch)] = parsed.events.as_slice() else { panic!("{parsed:?}") };
    let change = |side, p: &str, s: &str, hash: Option<&str>| PriceChange {
        token: token(YES),
        side,
        price: price(p),
        size: size(s),
        best_bid: None,
        best_ask: None,
        hash: hash.map(Into::into),
    };
    // The hash is of the book after the whole list: it goes on the last change.
    assert_eq!(
        batch.changes,
        vec![change(Side::Buy, "0.5", "10", None), change(Side::Sell, "0.6", "0", Some("abc123"))]
    );
    assert_eq!(batch.time.exchange, TimestampMs(1_726_000_000_000));
}

#[test]
fn exchange_blanks_mean_absent() {
    // An empty ask side ("1"), no bid ("0"), no hash (""), no trade yet ("").
    let frame = format!(
        r#"{{"event_type":"price_change","market":"{M}","timestamp":"1","price_changes":[{{"asset_id":"{YES}","price":"0.5","size":"1","side":"BUY","hash":"","best_bid":"0","best_ask":"1"}},{{"asset_id":"{NO}","price":"0.5","size":"1","side":"BUY"}}]}}"#
    );
    let MarketEvent::PriceChanges(b) = one_event(&frame) else { panic!("not a batch") };
    for c in &b.changes {
        assert_eq!((c.best_bid, c.best_ask, c.hash.as_deref()), (None, None, None));
    }
    let book = format!(
        r#"{{"event_type":"book","asset_id":"{YES}","market":"{M}","bids":null,"timestamp":"1","hash":"","tick_size":"","last_trade_price":""}}"#
    );
    let MarketEvent::Book(b) = one_event(&book) else { panic!("not a book") };
    assert!(b.bids.is_empty() && b.asks.is_empty());
    assert_eq!((b.hash, b.tick_size, b.last_trade_price), (None, None, None));
    let touch = format!(
        r#"{{"event_type":"best_bid_ask","market":"{M}","asset_id":"{YES}","best_bid":"0","best_ask":"1","spread":"1","timestamp":"1"}}"#
    );
    let MarketEvent::BestBidAsk(t) = one_event(&touch) else { panic!("not a touch") };
    assert_eq!((t.best_bid, t.best_ask), (None, None));
}

#[test]
fn keys_in_any_order_with_any_whitespace() {
    let tidy = one_event(&price_change_frame());
    let messy = format!(
        "\n\t {{ \"timestamp\" : \"1757908892352\" ,\r\n \"price_changes\" : [ {{ \"best_ask\":\"0.52\", \"best_bid\" : \"0.5\", \"hash\":\"56621a12\", \"side\":\"BUY\", \"size\":\"200\", \"price\":\"0.5\", \"asset_id\":\"{YES}\" }} ,\n {{\"asset_id\":\"{NO}\",\"price\":\"0.5\",\"size\":\"0\",\"side\":\"SELL\",\"hash\":\"1895759e\",\"best_bid\":\"0.48\",\"best_ask\":\"0.5\"}} ] , \"market\" : \"{M}\" , \"event_type\" : \"price_change\" }} \n"
    );
    assert_eq!(one_event(&messy), tidy);
}

#[test]
fn escaped_strings_read_like_plain_ones() {
    // The fast reader leaves escapes to the general one; the result is the same.
    let escaped =
        price_change_frame().replace("\"BUY\"", "\"B\\u0055Y\"").replace("\"event_type\"", "\"event\\u005ftype\"");
    assert_ne!(escaped, price_change_frame());
    assert_eq!(one_event(&escaped), one_event(&price_change_frame()));
}

#[test]
fn extra_keys_are_ignored() {
    let frame = price_change_frame().replacen(
        "{\"event_type\"",
        "{\"spread\":\"0.02\",\"extra\":{\"nested\":[1,2,{\"a\":null}]},\"flag\":true,\"n\":-1.5e3,\"event_type\"",
        1,
    );
    assert_eq!(one_event(&frame), one_event(&price_change_frame()));
}

#[test]
fn an_empty_batch_is_an_empty_event() {
    let frame = format!(r#"{{"event_type":"price_change","market":"{M}","timestamp":"1","price_changes":[]}}"#);
    let MarketEvent::PriceChanges(b) = one_event(&frame) else { panic!("not a batch") };
    assert!(b.changes.is_empty());
}

#[test]
fn unknown_and_untagged_objects_are_counted_and_skipped() {
    let mut parser = FrameParser::new();
    let mut out = Vec::new();
    for name in ["trade", "order", "trade", "price_change_v3"] {
        let o = parser.parse(&format!(r#"{{"event_type":"{name}","price":{{"bad":true}}}}"#), RECEIVED, &mut out);
        assert_eq!((o.unknown, o.events, o.is_clean()), (1, 0, true));
    }
    let o = parser.parse(r#"{"type":"MARKET","assets_ids":["1"]}"#, RECEIVED, &mut out);
    assert_eq!(o.non_events, 1);
    // `null` tags count as no tag.
    let o = parser.parse(r#"{"event_type":null}"#, RECEIVED, &mut out);
    assert_eq!(o.non_events, 1);
    assert!(out.is_empty());
    let stats = parser.stats();
    assert_eq!(stats.unknown_types.get("trade"), Some(&2));
    assert_eq!(stats.unknown_types.get("price_change_v3"), Some(&1));
    assert_eq!((stats.unknown_total(), stats.non_events, stats.rejects_total()), (4, 2, 0));
    // Names are kept up to a bound; the rest are summed.
    for i in 0..MAX_UNKNOWN_TYPE_NAMES + 5 {
        let _ = parser.parse(&format!(r#"{{"event_type":"kind{i}"}}"#), RECEIVED, &mut out);
    }
    let stats = parser.take_stats();
    assert_eq!(stats.unknown_types.len(), MAX_UNKNOWN_TYPE_NAMES);
    assert_eq!(stats.unknown_other, 8);
    assert_eq!(stats.unknown_total(), 4 + MAX_UNKNOWN_TYPE_NAMES as u64 + 5);
    assert_eq!(parser.stats().frames, 0);
}

#[test]
fn event_types_are_counted_by_type() {
    let mut parser = FrameParser::new();
    let mut out = Vec::new();
    for frame in [book_frame(), price_change_frame(), price_change_frame(), format!("[{}]", book_frame())] {
        assert!(parser.parse(&frame, RECEIVED, &mut out).is_clean());
    }
    let stats = parser.stats();
    assert_eq!((stats.frames, stats.objects), (4, 4));
    assert_eq!(stats.events_of(MessageType::Book), 2);
    assert_eq!(stats.events_of(MessageType::PriceChange), 2);
    assert_eq!(stats.events_total(), 4);
    // The array frame is outside the fast reader's subset.
    assert_eq!(stats.general_reader_frames, 1);
    assert_eq!(out.len(), 4);
}

#[test]
fn interned_tokens_share_their_allocation() {
    let yes = token(YES);
    let interner: TokenInterner = [yes.clone()].into_iter().collect();
    let parsed = parse_with(FrameParser::with_interner(interner), &price_change_frame());
    let [MarketEvent::PriceChanges(batch)] = parsed.events.as_slice() else { panic!("{parsed:?}") };
    // YES is held: the same `Arc`; NO is not: an equal but separate one.
    assert!(std::ptr::eq(batch.changes[0].token.as_str().as_ptr(), yes.as_str().as_ptr()));
    assert_eq!(batch.changes[1].token, token(NO));
    assert!(!std::ptr::eq(batch.changes[1].token.as_str().as_ptr(), yes.as_str().as_ptr()));
}

#[test]
fn new_market_and_resolution_shapes() {
    let new = format!(
        r#"{{"event_type":"new_market","id":1031769,"question":"Will \"it\" close above $240?","market":"{M}","slug":"nvda","description":"d","asset_ids":["{YES}","{NO}"],"outcomes":["Yes","No"],"timestamp":"5"}}"#
    );
    let MarketEvent::NewMarket(m) = one_event(&new) else { panic!("not a new market") };
    assert_eq!((m.id.as_str(), m.question.as_str()), ("1031769", "Will \"it\" close above $240?"));
    assert_eq!(m.tokens, vec![token(YES), token(NO)]);
    let resolved = format!(
        r#"{{"event_type":"market_resolved","id":"1","market":"{M}","assets_ids":["{YES}","{NO}"],"winning_asset_id":"{NO}","winning_outcome":"No","outcomes":null,"timestamp":"6"}}"#
    );
    let MarketEvent::MarketResolved(r) = one_event(&resolved) else { panic!("not a resolution") };
    assert_eq!((r.winning_token, r.winning_outcome.as_str()), (token(NO), "No"));
}

#[test]
fn control_frames_are_recognised() {
    assert_eq!(classify_frame("PONG"), FrameKind::Pong);
    assert_eq!(classify_frame(" PONG\n"), FrameKind::Pong);
    // The real market channel's plain-text frame for custom-feature clients
    // (polymarket-protocol.md corrections 4): control, not lost data.
    assert_eq!(classify_frame("NO NEW ASSETS"), FrameKind::NoNewAssets);
    assert_eq!(classify_frame("INVALID OPERATION"), FrameKind::InvalidOperation);
    assert_eq!(classify_frame("INVALID AUTH"), FrameKind::InvalidAuth);
    for data in ["pong", "PONGX", "{}", "[]", "", "PING"] {
        assert_eq!(classify_frame(data), FrameKind::Data, "{data:?}");
    }
    // Given to the parser anyway, a control frame is refused as not JSON.
    let parsed = parse("PONG");
    assert_eq!(parsed.outcome.rejects.len(), 1);
    assert_eq!(parsed.outcome.rejects[0].reason, crate::RejectReason::InvalidJson);
}
