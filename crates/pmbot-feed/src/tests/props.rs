//! Property tests: no input panics the parser, the two readers always agree,
//! and a cut-off frame gives nothing.
//!
//! `parse` (tests/mod.rs) runs every frame through both readers and checks
//! events, outcome, counters and the one-fate-per-object accounting, so each
//! generated frame here tests all of that.

use proptest::prelude::*;
use proptest::sample::select;

use super::parse;
use super::shapes::{M, NO, YES};
use crate::RejectReason;

/// Valid frames of every kind, compact and pretty.
fn valid_frames() -> Vec<String> {
    let batch = format!(
        r#"{{"event_type":"price_change","market":"{M}","timestamp":"1757908892352","price_changes":[{{"asset_id":"{YES}","price":"0.5","size":"200","side":"BUY","hash":"56621a12","best_bid":"0.5","best_ask":"0.52"}},{{"asset_id":"{NO}","price":"0.5","size":"0","side":"SELL","hash":"1895759e","best_bid":"0.48","best_ask":"1"}}]}}"#
    );
    let book = format!(
        r#"{{"event_type":"book","asset_id":"{YES}","market":"{M}","bids":[{{"price":"0.48","size":"30"}}],"asks":[{{"price":"0.52","size":"25"}}],"timestamp":"1757908892351","hash":"0458ea57","tick_size":"0.01","last_trade_price":""}}"#
    );
    let trade = format!(
        r#"{{"event_type":"last_trade_price","asset_id":"{YES}","market":"{M}","price":"0.456","side":"BUY","size":"219.217767","fee_rate_bps":"0","timestamp":"1"}}"#
    );
    let legacy = format!(
        r#"{{"asset_id":"{NO}","changes":[{{"price":"0.5","side":"BUY","size":"10"}}],"event_type":"price_change","market":"{M}","timestamp":"2","hash":"ab"}}"#
    );
    let resolved = format!(
        r#"{{"event_type":"market_resolved","id":"1","market":"{M}","assets_ids":["{YES}","{NO}"],"winning_asset_id":"{YES}","winning_outcome":"Yes","event_message":{{"id":"2"}},"timestamp":"3"}}"#
    );
    let pretty = batch.replace(",", ",\n  ").replace(":", " : ");
    let array = format!("[{book},{trade},{legacy}]");
    vec![batch, book, trade, legacy, resolved, pretty, array]
}

#[test]
fn every_cut_of_a_frame_gives_nothing() {
    for frame in valid_frames() {
        assert!(parse(&frame).outcome.is_clean(), "{frame}");
        let cuts = frame.char_indices().map(|(i, _)| i).skip(1);
        for cut in cuts {
            let parsed = parse(&frame[..cut]);
            assert!(parsed.events.is_empty(), "{}", &frame[..cut]);
            let [r] = parsed.outcome.rejects.as_slice() else { panic!("{}", &frame[..cut]) };
            assert_eq!((r.reason, r.index), (RejectReason::InvalidJson, None), "{}", &frame[..cut]);
        }
    }
}

/// A JSON value of any kind, with a bias towards what the exchange sends.
fn value() -> impl Strategy<Value = String> {
    let strings = prop_oneof![
        select(vec![
            "0.5",
            "0.48",
            ".48",
            "0.4800",
            "0",
            "1",
            "1.5",
            "0.12345",
            "-0.1",
            "",
            " 0.5",
            "12.5",
            "219.217767",
            "1.0000001",
            "-3",
            "1e3",
            "0x12",
            "BUY",
            "SELL",
            "buy",
            "HOLD",
            "0.01",
            "0.001",
            "0.02",
            "1757908892351",
            "12.5",
            "abc",
            YES,
            NO,
            M,
            "0123",
            "56621a12",
            "book",
            "price_change",
            "trade",
        ])
        .prop_map(|s| format!("\"{s}\"")),
        "[a-z0-9_.]{0,12}".prop_map(|s| format!("\"{s}\"")),
        // Escapes and non-ASCII: the fast reader leaves them to serde.
        select(vec![r#""\u0030.5""#, r#""B\u0055Y""#, r#""\"q\"""#, r#""é0.5""#, r#""tab\tx""#]).prop_map(String::from),
    ];
    let numbers = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        select(vec!["0.5", "0.48", "0", "1", "-0.5", "1e-2", "2.5E3", "0.1234567", "1757908892351", "30.25"])
            .prop_map(String::from),
    ];
    let leaf =
        prop_oneof![4 => strings, 2 => numbers, 1 => select(vec!["null", "true", "false"]).prop_map(String::from)];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|kv| {
                let members: Vec<_> = kv.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// An object of random members from the element keys.
fn entry_like() -> impl Strategy<Value = String> {
    let keys = select(vec!["asset_id", "price", "size", "side", "hash", "best_bid", "best_ask", "other"]);
    let good = select(vec![
        format!(r#""{YES}""#),
        "\"0.5\"".to_string(),
        "\"10\"".to_string(),
        "\"BUY\"".to_string(),
        "\"0\"".to_string(),
    ]);
    prop::collection::vec((keys, prop_oneof![good, value()]), 0..8).prop_map(|kv| {
        let members: Vec<_> = kv.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", members.join(","))
    })
}

/// Keys pmbot reads (all of them) and some it does not.
fn key() -> impl Strategy<Value = &'static str> {
    select(vec![
        "event_type",
        "asset_id",
        "market",
        "timestamp",
        "hash",
        "bids",
        "asks",
        "tick_size",
        "last_trade_price",
        "price_changes",
        "changes",
        "price",
        "side",
        "size",
        "fee_rate_bps",
        "old_tick_size",
        "new_tick_size",
        "best_bid",
        "best_ask",
        "id",
        "question",
        "slug",
        "assets_ids",
        "asset_ids",
        "outcomes",
        "winning_asset_id",
        "winning_outcome",
        "spread",
        "description",
        "other",
    ])
}

/// The members of a valid message of each type, as (key, JSON value).
fn templates() -> Vec<Vec<(&'static str, String)>> {
    let q = |s: &str| format!("\"{s}\"");
    let entry = |t: &str, p: &str| {
        format!(
            r#"{{"asset_id":"{t}","price":"{p}","size":"10","side":"BUY","hash":"ab","best_bid":"0.5","best_ask":"1"}}"#
        )
    };
    vec![
        vec![
            ("event_type", q("book")),
            ("asset_id", q(YES)),
            ("market", q(M)),
            ("bids", r#"[{"price":"0.48","size":"30"},{"price":"0.47","size":"1.5"}]"#.into()),
            ("asks", r#"[{"price":"0.52","size":"25"}]"#.into()),
            ("timestamp", q("1757908892351")),
            ("hash", q("0458ea57")),
            ("tick_size", q("0.01")),
            ("last_trade_price", q("")),
        ],
        vec![
            ("event_type", q("price_change")),
            ("market", q(M)),
            ("timestamp", q("2")),
            ("price_changes", format!("[{},{}]", entry(YES, "0.5"), entry(NO, "0.49"))),
        ],
        vec![
            ("event_type", q("price_change")),
            ("asset_id", q(NO)),
            ("market", q(M)),
            ("changes", r#"[{"price":"0.5","side":"SELL","size":"0"}]"#.into()),
            ("timestamp", q("3")),
            ("hash", q("cd")),
        ],
        vec![
            ("event_type", q("last_trade_price")),
            ("asset_id", q(YES)),
            ("market", q(M)),
            ("price", q("0.456")),
            ("side", q("SELL")),
            ("size", q("219.217767")),
            ("fee_rate_bps", q("1000")),
            ("timestamp", q("4")),
        ],
        vec![
            ("event_type", q("tick_size_change")),
            ("asset_id", q(YES)),
            ("market", q(M)),
            ("old_tick_size", q("0.01")),
            ("new_tick_size", q("0.001")),
            ("timestamp", q("5")),
        ],
        vec![
            ("event_type", q("best_bid_ask")),
            ("asset_id", q(YES)),
            ("market", q(M)),
            ("best_bid", q("0.73")),
            ("best_ask", q("0.77")),
            ("spread", q("0.04")),
            ("timestamp", q("6")),
        ],
        vec![
            ("event_type", q("new_market")),
            ("id", q("1031769")),
            ("question", q("Will it?")),
            ("market", q(M)),
            ("slug", q("will-it")),
            ("assets_ids", format!(r#"["{YES}","{NO}"]"#)),
            ("outcomes", r#"["Yes","No"]"#.into()),
            ("timestamp", q("7")),
        ],
        vec![
            ("event_type", q("market_resolved")),
            ("market", q(M)),
            ("assets_ids", format!(r#"["{YES}","{NO}"]"#)),
            ("winning_asset_id", q(YES)),
            ("winning_outcome", q("Yes")),
            ("timestamp", q("8")),
        ],
    ]
}

/// One change to a message's members.
#[derive(Debug, Clone)]
enum Edit {
    /// Drop the member at this position.
    Drop(prop::sample::Index),
    /// Give the member at this position another value.
    Replace(prop::sample::Index, String),
    /// Add a member (possibly repeating a key).
    Add(&'static str, String),
    /// Move the member at this position to the end.
    MoveLast(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Edit::Drop),
        (any::<prop::sample::Index>(), value()).prop_map(|(i, v)| Edit::Replace(i, v)),
        (key(), value()).prop_map(|(k, v)| Edit::Add(k, v)),
        any::<prop::sample::Index>().prop_map(Edit::MoveLast),
    ]
}

/// A valid message of any type with up to three edits, in any whitespace:
/// many stay valid, many become refusals of every kind.
fn message() -> impl Strategy<Value = String> {
    let ws = select(vec!["", " ", "\n", "\t ", "\r\n"]);
    (select(templates()), prop::collection::vec(edit(), 0..4), ws).prop_map(|(mut members, edits, ws)| {
        for e in edits {
            match e {
                Edit::Drop(i) if !members.is_empty() => {
                    members.remove(i.index(members.len()));
                }
                Edit::Replace(i, v) if !members.is_empty() => {
                    let i = i.index(members.len());
                    members[i].1 = v;
                }
                Edit::Add(k, v) => members.push((k, v)),
                Edit::MoveLast(i) if !members.is_empty() => {
                    let m = members.remove(i.index(members.len()));
                    members.push(m);
                }
                _ => {}
            }
        }
        let members: Vec<_> = members.iter().map(|(k, v)| format!("\"{k}\":{ws}{v}")).collect();
        format!("{{{ws}{}{ws}}}", members.join(&format!(",{ws}")))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The readers agree on message-like objects, alone and in arrays.
    #[test]
    fn readers_agree_on_message_like_frames(msg in message(), other in message()) {
        parse(&msg);
        parse(&format!("[{msg},{other}]"));
    }

    /// Entries and levels of any shape inside otherwise valid messages.
    #[test]
    fn readers_agree_on_odd_list_elements(
        elements in prop::collection::vec(prop_oneof![value(), entry_like()], 0..4),
        list_key in select(vec!["bids", "asks", "price_changes", "changes", "assets_ids", "outcomes"]),
    ) {
        let list = format!("[{}]", elements.join(","));
        for mut members in templates() {
            match members.iter_mut().find(|(k, _)| *k == list_key) {
                Some(member) => member.1 = list.clone(),
                None => members.push((list_key, list.clone())),
            }
            let body: Vec<_> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            parse(&format!("{{{}}}", body.join(",")));
        }
    }

    /// Arbitrary text never panics.
    #[test]
    fn garbage_never_panics(text in "\\PC{0,200}") {
        parse(&text);
    }

    /// Text made of JSON's own characters never panics either.
    #[test]
    fn json_like_garbage_never_panics(text in "[\\[\\]{}\",:0-9a-z_. \\\\-]{0,200}") {
        parse(&text);
    }

    /// One byte replaced, removed or inserted anywhere in a valid frame.
    #[test]
    fn mutated_frames_never_panic(
        which in 0usize..7,
        at in any::<prop::sample::Index>(),
        edit in 0u8..3,
        with in select(vec!['"', '{', '}', '[', ']', ',', ':', '\\', '0', '9', '.', '-', 'e', 'x', ' ', 'é', '\u{1}']),
    ) {
        let frame = &valid_frames()[which];
        let mut chars: Vec<char> = frame.chars().collect();
        let i = at.index(chars.len());
        match edit {
            0 => chars[i] = with,
            1 => { chars.remove(i); }
            _ => chars.insert(i, with),
        }
        parse(&chars.into_iter().collect::<String>());
    }
}

/// How the generators split between valid and refused messages, and between
/// the two readers: the agreement tests mean little if one side is empty.
#[test]
fn the_generators_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut fast, mut events, mut rejects) = (0, 0, 0);
    for _ in 0..2_000 {
        let frame = message().new_tree(&mut runner).unwrap().current();
        let mut parser = crate::FrameParser::new();
        let outcome = parser.parse(&frame, super::RECEIVED, &mut Vec::new());
        fast += u32::from(parser.stats().general_reader_frames == 0);
        events += outcome.events;
        rejects += outcome.rejects.len();
    }
    eprintln!("fast reader {fast}, events {events}, refusals {rejects} of 2000");
    assert!(fast > 400 && events > 400 && rejects > 400, "fast {fast}, events {events}, rejects {rejects}");
}
