//! Every market-channel message among the real-shaped fixtures
//! (../shared/data/ws-fixtures, from NautilusTrader's test resources) parses
//! into the right event. Skips with a notice when the data folder is absent,
//! so a fresh clone still passes.

use std::path::PathBuf;

use pmbot_core::{
    BestBidAsk, EventTime, LastTrade, Level, MarketEvent, MarketResolved, OrderBook, PriceChange, PriceChangeBatch,
    Side, TickSize, TickSizeChange,
};

use super::{RECEIVED, market, one_event, parse, price, size, token};
use crate::MessageType;

fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ws-fixtures");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} absent; skipping ws-fixture parser tests", dir.display());
        None
    }
}

fn read(dir: &std::path::Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn time(exchange_ms: i64) -> EventTime {
    EventTime { received: RECEIVED, exchange: pmbot_core::TimestampMs(exchange_ms) }
}

/// The fixture with `"event_type": kind` added as its first key (for the
/// fixtures NautilusTrader keeps without their tag).
fn tagged(text: &str, kind: &str) -> String {
    let open = text.find('{').expect("an object");
    format!("{}{{\"event_type\":\"{kind}\",{}", &text[..open], &text[open + 1..])
}

const NAUTILUS_MARKET: &str = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917";
const NAUTILUS_TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";

#[test]
fn deep_book_snapshot() {
    let Some(dir) = fixtures() else { return };
    let MarketEvent::Book(book) = one_event(&read(&dir, "py_resources/ws_messages/book.json")) else {
        panic!("not a book")
    };
    assert_eq!(book.token, token("48331043336612883890938759509493159234755048973500640148014422747788308965732"));
    assert_eq!(book.market, market(NAUTILUS_MARKET));
    assert_eq!(book.time, time(1_728_799_418_260));
    assert_eq!(book.hash.as_deref(), Some("655a38d4977427b086c25b985993691b753ed166"));
    assert_eq!((book.tick_size, book.last_trade_price), (None, None));
    assert_eq!((book.bids.len(), book.asks.len()), (76, 86));
    // Wire order is kept: bids ascending, asks descending, as sent.
    assert_eq!(book.bids[0], Level::new(price("0.001"), size("9000023.58")));
    assert_eq!(book.asks[0], Level::new(price("0.999"), size("10500100")));
    let mut ob = OrderBook::new(book.token.clone(), TickSize::Thousandth);
    ob.apply_book(&book).unwrap();
    assert_eq!(ob.best_bid().unwrap().price, price("0.511"));
    assert_eq!(ob.best_ask().unwrap().price, price("0.514"));
}

#[test]
fn small_book_snapshot() {
    let Some(dir) = fixtures() else { return };
    let MarketEvent::Book(book) = one_event(&read(&dir, "crates_test_data/ws_market_book_msg.json")) else {
        panic!("not a book")
    };
    assert_eq!((book.token, book.market), (token(NAUTILUS_TOKEN), market(NAUTILUS_MARKET)));
    assert_eq!(book.bids, vec![Level::new(price("0.5"), size("200")), Level::new(price("0.49"), size("350"))]);
    assert_eq!(book.asks, vec![Level::new(price("0.51"), size("150")), Level::new(price("0.52"), size("250"))]);
    assert_eq!((book.hash, book.time), (None, time(1_703_875_200_000)));
}

#[test]
fn last_trade_prices() {
    let Some(dir) = fixtures() else { return };
    let cases = [
        (
            "py_resources/ws_messages/last_trade_price.json",
            LastTrade {
                token: token("21742633143463906290569050155826241533067272736897614950488156847949938836455"),
                market: market(NAUTILUS_MARKET),
                price: price("0.491"),
                side: Side::Sell,
                size: size("85.36"),
                fee_rate_bps: 0,
                time: time(1_724_564_136_087),
            },
        ),
        (
            "crates_test_data/ws_market_last_trade_msg.json",
            LastTrade {
                token: token(NAUTILUS_TOKEN),
                market: market(NAUTILUS_MARKET),
                price: price("0.51"),
                side: Side::Buy,
                size: size("25"),
                fee_rate_bps: 0,
                time: time(1_703_875_202_000),
            },
        ),
    ];
    for (file, expected) in cases {
        assert_eq!(one_event(&read(&dir, file)), MarketEvent::LastTrade(expected), "{file}");
    }
}

#[test]
fn legacy_single_price_change() {
    let Some(dir) = fixtures() else { return };
    let parsed = parse(&read(&dir, "py_resources/ws_messages/price_change.json"));
    assert_eq!(parsed.stats.legacy_price_changes, 1);
    let expected = PriceChangeBatch {
        market: market(NAUTILUS_MARKET),
        changes: vec![PriceChange {
            token: token("48331043336612883890938759509493159234755048973500640148014422747788308965732"),
            side: Side::Sell,
            price: price("0.514"),
            size: size("21574.08"),
            best_bid: None,
            best_ask: None,
            hash: Some("bf32b3746fff40c76c98021b7f3f07261169dd26".into()),
        }],
        time: time(1_723_967_931_411),
    };
    assert_eq!(parsed.events, vec![MarketEvent::PriceChanges(expected)]);
}

#[test]
fn current_price_change_batches() {
    let Some(dir) = fixtures() else { return };
    let entry = |p: &str, s: &str, hash: &str| PriceChange {
        token: token("52114319501245915516055106046884209969926127482827954674443846427813813222426"),
        side: Side::Buy,
        price: price(p),
        size: size(s),
        best_bid: Some(price("0.6")),
        best_ask: Some(price("0.7")),
        hash: Some(hash.into()),
    };
    let parsed = parse(&read(&dir, "py_resources/ws_messages/price_change_v2.json"));
    assert_eq!(parsed.stats.legacy_price_changes, 0);
    let expected = PriceChangeBatch {
        market: market("0x5f65177b394277fd294cd75650044e32ba009a95022d88a0c1d565897d72f8f1"),
        changes: vec![
            entry("0.6", "3300", "bf32b3746fff40c76c98021b7f3f07261169dd26"),
            entry("0.5", "3400", "af32b3746fff40c76c98021b7f3f07261169dd27"),
            entry("0.7", "3400", "cf32b3746fff40c76c98021b7f3f07261169dd28"),
        ],
        time: time(1_729_084_877_448),
    };
    assert_eq!(parsed.events, vec![MarketEvent::PriceChanges(expected)]);

    let MarketEvent::PriceChanges(batch) = one_event(&read(&dir, "crates_test_data/ws_market_price_change_msg.json"))
    else {
        panic!("not a price change")
    };
    assert_eq!(batch.market, market(NAUTILUS_MARKET));
    assert_eq!(
        batch.changes,
        vec![PriceChange {
            token: token(NAUTILUS_TOKEN),
            side: Side::Buy,
            price: price("0.51"),
            size: size("150"),
            best_bid: Some(price("0.51")),
            best_ask: Some(price("0.52")),
            hash: Some("0xhash001".into()),
        }]
    );
    assert_eq!(batch.time, time(1_703_875_201_000));
}

#[test]
fn tick_size_changes() {
    let Some(dir) = fixtures() else { return };
    let cases = [
        (
            "py_resources/ws_messages/tick_size_change.json",
            TickSizeChange {
                token: token("115474063863764126958837769719736461272619491980773624567012766320777398670353"),
                market: market("0xbacdf04bf7f22a670dc4fb408878ec56b76f9934599829455b9371693ba84b8b"),
                old: TickSize::Hundredth,
                new: TickSize::Thousandth,
                time: time(1_739_068_041_853),
            },
        ),
        (
            "crates_test_data/ws_market_tick_size_msg.json",
            TickSizeChange {
                token: token(NAUTILUS_TOKEN),
                market: market(NAUTILUS_MARKET),
                old: TickSize::Tenth,
                new: TickSize::Hundredth,
                time: time(1_703_875_210_000),
            },
        ),
    ];
    for (file, expected) in cases {
        assert_eq!(one_event(&read(&dir, file)), MarketEvent::TickSizeChange(expected), "{file}");
    }
}

#[test]
fn best_bid_ask() {
    let Some(dir) = fixtures() else { return };
    let expected = BestBidAsk {
        token: token("85354956062430465315924116860125388538595433819574542752031640332592237464430"),
        market: market("0x0005c0d312de0be897668695bae9f32b624b4a1ae8b140c49f08447fcc74f442"),
        best_bid: Some(price("0.73")),
        best_ask: Some(price("0.77")),
        time: time(1_766_789_469_958),
    };
    assert_eq!(
        one_event(&read(&dir, "crates_test_data/ws_market_best_bid_ask_msg.json")),
        MarketEvent::BestBidAsk(expected)
    );
}

const NVDA_MARKET: &str = "0x311d0c4b6671ab54af4970c06fcf58662516f5168997bdda209ec3db5aa6b0c1";
const NVDA_YES: &str = "76043073756653678226373981964075571318267289248134717369284518995922789326425";
const NVDA_NO: &str = "31690934263385727664202099278545688007799199447969475608906331829650099442770";

#[test]
fn new_market() {
    let Some(dir) = fixtures() else { return };
    // Nested `event_message` and `tags`: read by the general reader.
    let parsed = parse(&read(&dir, "crates_test_data/ws_market_new_market_msg.json"));
    let [MarketEvent::NewMarket(m)] = parsed.events.as_slice() else { panic!("{parsed:?}") };
    assert_eq!(m.market, market(NVDA_MARKET));
    assert_eq!(m.id, "1031769");
    assert_eq!(m.question, "Will NVIDIA (NVDA) close above $240 end of January?");
    assert_eq!(m.slug, "nvda-above-240-on-january-30-2026");
    assert_eq!(m.tokens, vec![token(NVDA_YES), token(NVDA_NO)]);
    assert_eq!(m.outcomes, vec!["Yes".to_string(), "No".to_string()]);
    assert_eq!(m.time, time(1_766_790_415_550));
}

#[test]
fn market_resolved() {
    let Some(dir) = fixtures() else { return };
    // No `question` or `outcomes` in this one: neither is needed.
    let expected = MarketResolved {
        market: market(NVDA_MARKET),
        tokens: vec![token(NVDA_YES), token(NVDA_NO)],
        winning_token: token(NVDA_YES),
        winning_outcome: "Yes".into(),
        time: time(1_766_790_415_550),
    };
    assert_eq!(
        one_event(&read(&dir, "crates_test_data/ws_market_resolved_msg.json")),
        MarketEvent::MarketResolved(expected)
    );
}

/// NautilusTrader keeps some messages, and the REST books, without their
/// `event_type`: as they are, they are counted and skipped; tagged, they parse.
#[test]
fn untagged_fixtures_are_skipped_and_parse_once_tagged() {
    let Some(dir) = fixtures() else { return };
    let cases = [
        ("crates_test_data/ws_book_snapshot.json", MessageType::Book),
        ("crates_test_data/ws_last_trade.json", MessageType::LastTradePrice),
        ("crates_test_data/ws_quotes.json", MessageType::PriceChange),
        ("crates_test_data/ws_tick_size_change.json", MessageType::TickSizeChange),
        ("crates_test_data/clob_book_response.json", MessageType::Book),
        ("py_resources/http_responses/book.json", MessageType::Book),
    ];
    for (file, kind) in cases {
        let text = read(&dir, file);
        let parsed = parse(&text);
        assert!(parsed.events.is_empty() && parsed.outcome.is_clean(), "{file}");
        assert_eq!((parsed.outcome.non_events, parsed.stats.non_events), (1, 1), "{file}");
        let parsed = parse(&tagged(&text, kind.as_str()));
        assert!(parsed.outcome.is_clean(), "{file}: {:?}", parsed.outcome.rejects);
        assert_eq!(parsed.stats.events_of(kind), 1, "{file}");
    }
    // The two-token batch names both tokens, in order.
    let MarketEvent::PriceChanges(batch) =
        one_event(&tagged(&read(&dir, "crates_test_data/ws_quotes.json"), "price_change"))
    else {
        panic!("not a batch")
    };
    let tokens: Vec<_> = batch.changes.iter().map(|c| (c.token.clone(), c.side)).collect();
    assert_eq!(
        tokens,
        vec![
            (token(NAUTILUS_TOKEN), Side::Buy),
            (token("52114319501245915516055106046884209969926127482827954674443846427813813222426"), Side::Sell)
        ]
    );
    assert_eq!(batch.changes[1].best_ask, Some(price("0.49")));
}

/// Every fixture file, whatever it is, is read without a refusal: the
/// market-channel messages become events, everything else is skipped.
#[test]
fn no_fixture_is_refused() {
    let Some(dir) = fixtures() else { return };
    let mut files = Vec::new();
    for sub in ["crates_test_data", "py_resources/ws_messages", "py_resources/http_responses"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    assert!(files.len() >= 30, "{files:?}");
    let mut events = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = parse(&text);
        assert!(parsed.outcome.is_clean(), "{}: {:?}", path.display(), parsed.outcome.rejects);
        events += parsed.events.len();
    }
    // The 12 tagged market-channel messages: 5 from the Python tests, 7 from the Rust ones.
    assert_eq!(events, 12);
}
