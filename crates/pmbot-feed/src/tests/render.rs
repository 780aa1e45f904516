//! Round trip: events rendered the way the simulator renders them parse back
//! to the same events.
//!
//! The renderer is written here from the protocol notes
//! (polymarket-protocol.md §5, polymarket-sdk-notes.md §4.3), not taken from
//! pmbot-sim: decimal strings, millisecond timestamps as strings, REST level
//! order (bids ascending, asks descending: best last), "0" / "1" for an empty
//! side, "" for a book without a last trade, the custom-feature messages with
//! their `description` and nested `event_message`. A second rendering writes
//! prices, sizes and times as JSON numbers.

use pmbot_core::{
    BestBidAsk, BookSnapshot, ConditionId, EventTime, Hash32, LastTrade, Level, MarketEvent, MarketResolved, NewMarket,
    Price, PriceChange, PriceChangeBatch, Side, Size, TickChangeOutcome, TickSize, TickSizeChange, TimestampMs,
    TokenId,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;

use super::{RECEIVED, parse};

/// How numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbers {
    /// As the exchange writes them: decimal strings.
    Strings,
    /// As JSON numbers.
    Json,
}

fn num(n: Numbers, text: String) -> String {
    match n {
        Numbers::Strings => format!("\"{text}\""),
        Numbers::Json => text,
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn levels(n: Numbers, levels: &[Level]) -> String {
    let items: Vec<_> = levels
        .iter()
        .map(|l| format!(r#"{{"price":{},"size":{}}}"#, num(n, l.price.to_string()), num(n, l.size.to_string())))
        .collect();
    format!("[{}]", items.join(","))
}

fn touch(p: Option<Price>, empty: &str) -> String {
    format!("\"{}\"", p.map_or_else(|| empty.to_string(), |p| p.to_string()))
}

fn time(n: Numbers, t: EventTime) -> String {
    num(n, t.exchange.to_string())
}

/// One event as the exchange (and the simulator) would send it.
fn render(event: &MarketEvent, n: Numbers) -> String {
    match event {
        MarketEvent::Book(b) => format!(
            r#"{{"event_type":"book","asset_id":"{}","market":"{}","bids":{},"asks":{},"timestamp":{},"hash":{},"tick_size":{},"last_trade_price":{}}}"#,
            b.token,
            b.market,
            levels(n, &b.bids),
            levels(n, &b.asks),
            time(n, b.time),
            json_str(b.hash.as_deref().unwrap_or("")),
            b.tick_size.map_or_else(|| "\"\"".to_string(), |t| num(n, t.to_string())),
            b.last_trade_price.map_or_else(|| "\"\"".to_string(), |p| num(n, p.to_string())),
        ),
        MarketEvent::PriceChanges(batch) => {
            let entries: Vec<_> = batch
                .changes
                .iter()
                .map(|c| {
                    format!(
                        r#"{{"asset_id":"{}","price":{},"size":{},"side":"{}","hash":{},"best_bid":{},"best_ask":{}}}"#,
                        c.token,
                        num(n, c.price.to_string()),
                        num(n, c.size.to_string()),
                        c.side,
                        json_str(c.hash.as_deref().unwrap_or("")),
                        touch(c.best_bid, "0"),
                        touch(c.best_ask, "1"),
                    )
                })
                .collect();
            format!(
                r#"{{"event_type":"price_change","market":"{}","price_changes":[{}],"timestamp":{}}}"#,
                batch.market,
                entries.join(","),
                time(n, batch.time)
            )
        }
        MarketEvent::LastTrade(t) => format!(
            r#"{{"event_type":"last_trade_price","asset_id":"{}","market":"{}","price":{},"side":"{}","size":{},"fee_rate_bps":{},"timestamp":{}}}"#,
            t.token,
            t.market,
            num(n, t.price.to_string()),
            t.side,
            num(n, t.size.to_string()),
            num(n, t.fee_rate_bps.to_string()),
            time(n, t.time)
        ),
        MarketEvent::TickSizeChange(t) => format!(
            r#"{{"event_type":"tick_size_change","asset_id":"{}","market":"{}","old_tick_size":{},"new_tick_size":{},"timestamp":{}}}"#,
            t.token,
            t.market,
            num(n, t.old.to_string()),
            num(n, t.new.to_string()),
            time(n, t.time)
        ),
        MarketEvent::BestBidAsk(b) => {
            let bid = b.best_bid.map_or(0, Price::pips);
            let ask = b.best_ask.map_or(10_000, Price::pips);
            let spread = Price::from_pips(ask.abs_diff(bid)).map_or_else(|| "1".to_string(), |p| p.to_string());
            format!(
                r#"{{"event_type":"best_bid_ask","market":"{}","asset_id":"{}","best_bid":{},"best_ask":{},"spread":"{spread}","timestamp":{}}}"#,
                b.market,
                b.token,
                touch(b.best_bid, "0"),
                touch(b.best_ask, "1"),
                time(n, b.time)
            )
        }
        MarketEvent::NewMarket(m) => format!(
            r#"{{"event_type":"new_market","id":{},"question":{},"market":"{}","slug":{},"description":"About it.","assets_ids":{},"outcomes":{},"event_message":{{"id":"9","ticker":{},"slug":{},"title":{},"description":"About it."}},"timestamp":{}}}"#,
            json_str(&m.id),
            json_str(&m.question),
            m.market,
            json_str(&m.slug),
            serde_json::to_string(&m.tokens).unwrap(),
            serde_json::to_string(&m.outcomes).unwrap(),
            json_str(&m.slug),
            json_str(&m.slug),
            json_str(&m.question),
            time(n, m.time)
        ),
        MarketEvent::MarketResolved(r) => format!(
            r#"{{"event_type":"market_resolved","id":"9","question":"?","market":"{}","slug":"s","description":"d","assets_ids":{},"outcomes":["Yes","No"],"winning_asset_id":"{}","winning_outcome":{},"event_message":{{"id":"9"}},"timestamp":{}}}"#,
            r.market,
            serde_json::to_string(&r.tokens).unwrap(),
            r.winning_token,
            json_str(&r.winning_outcome),
            time(n, r.time)
        ),
    }
}

// ---- generated events ------------------------------------------------------------

fn token_id() -> impl Strategy<Value = TokenId> {
    "[1-9][0-9]{20,76}".prop_map(|s| TokenId::parse(&s).unwrap())
}

fn market_id() -> impl Strategy<Value = ConditionId> {
    any::<[u8; 32]>().prop_map(Hash32)
}

fn tick() -> impl Strategy<Value = TickSize> {
    select(TickSize::ALL.to_vec())
}

fn price_on(tick: TickSize) -> impl Strategy<Value = Price> {
    let ticks = 10_000 / u32::from(tick.pips());
    (1..ticks).prop_map(move |n| Price::from_ticks(n, tick).unwrap())
}

fn any_price() -> impl Strategy<Value = Price> {
    (1u16..10_000).prop_map(|p| Price::from_pips(p).unwrap())
}

/// Below 10^9 shares with 6 decimals: 15 significant digits at most, which
/// a JSON number (an f64) carries exactly.
fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        (0u64..1_000_000_000).prop_map(Size::from_shares),
        (0u64..1_000_000_000_000_000).prop_map(Size::from_micros)
    ]
}

fn side() -> impl Strategy<Value = Side> {
    select(vec![Side::Buy, Side::Sell])
}

fn event_time() -> impl Strategy<Value = EventTime> {
    (0i64..4_000_000_000_000).prop_map(|ms| EventTime { received: RECEIVED, exchange: TimestampMs(ms) })
}

fn hash() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[0-9a-f]{40}|0x[0-9a-f]{8}")
}

/// Distinct prices on `tick`, as bids ascending and asks descending.
fn book() -> impl Strategy<Value = BookSnapshot> {
    (tick(), token_id(), market_id(), event_time(), hash(), any::<bool>(), any::<bool>()).prop_flat_map(
        |(tick, token, market, time, hash, with_tick, with_ltp)| {
            let side =
                || prop::collection::btree_map(price_on(tick), size().prop_filter("non-zero", |s| !s.is_zero()), 0..30);
            (side(), side(), prop::option::of(price_on(tick))).prop_map(move |(bids, asks, ltp)| BookSnapshot {
                token: token.clone(),
                market,
                bids: bids.into_iter().map(|(p, s)| Level::new(p, s)).collect(),
                asks: asks.into_iter().rev().map(|(p, s)| Level::new(p, s)).collect(),
                tick_size: with_tick.then_some(tick),
                last_trade_price: if with_ltp { ltp } else { None },
                hash: hash.clone(),
                time,
            })
        },
    )
}

fn price_change() -> impl Strategy<Value = PriceChange> {
    (token_id(), side(), any_price(), size(), prop::option::of(any_price()), prop::option::of(any_price()), hash())
        .prop_map(|(token, side, price, size, best_bid, best_ask, hash)| PriceChange {
            token,
            side,
            price,
            size,
            best_bid,
            best_ask,
            hash,
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9 ?$%-]{1,40}", "\\PC{1,20}"]
}

fn event() -> impl Strategy<Value = MarketEvent> {
    prop_oneof![
        book().prop_map(MarketEvent::Book),
        (market_id(), prop::collection::vec(price_change(), 0..5), event_time())
            .prop_map(|(market, changes, time)| MarketEvent::PriceChanges(PriceChangeBatch { market, changes, time })),
        (token_id(), market_id(), any_price(), side(), size(), any::<u32>(), event_time()).prop_map(
            |(token, market, price, side, size, fee_rate_bps, time)| {
                MarketEvent::LastTrade(LastTrade { token, market, price, side, size, fee_rate_bps, time })
            }
        ),
        (token_id(), market_id(), tick(), tick(), event_time()).prop_map(|(token, market, old, new, time)| {
            MarketEvent::TickSizeChange(TickSizeChange { token, market, old, new, time })
        }),
        (token_id(), market_id(), prop::option::of(any_price()), prop::option::of(any_price()), event_time()).prop_map(
            |(token, market, best_bid, best_ask, time)| {
                MarketEvent::BestBidAsk(BestBidAsk { token, market, best_bid, best_ask, time })
            }
        ),
        (
            market_id(),
            "[0-9]{1,8}",
            text(),
            "[a-z0-9-]{1,30}",
            prop::collection::vec((token_id(), text()), 0..4),
            event_time()
        )
            .prop_map(|(market, id, question, slug, outcomes, time)| {
                let (tokens, outcomes) = outcomes.into_iter().unzip();
                MarketEvent::NewMarket(NewMarket { market, id, question, slug, tokens, outcomes, time })
            }),
        (market_id(), prop::collection::vec(token_id(), 1..4), any::<prop::sample::Index>(), text(), event_time())
            .prop_map(|(market, tokens, winner, winning_outcome, time)| {
                let winning_token = tokens[winner.index(tokens.len())].clone();
                MarketEvent::MarketResolved(MarketResolved { market, tokens, winning_token, winning_outcome, time })
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn rendered_events_parse_back(event in event(), numbers in select(vec![Numbers::Strings, Numbers::Json])) {
        let frame = render(&event, numbers);
        let parsed = parse(&frame);
        prop_assert!(parsed.outcome.is_clean(), "{}: {:?}", frame, parsed.outcome.rejects);
        prop_assert_eq!(parsed.events, vec![event], "{}", frame);
    }

    /// The initial dump: every book of a subscription in one array frame.
    #[test]
    fn a_dump_parses_back_in_order(events in prop::collection::vec(event(), 0..6)) {
        let frames: Vec<_> = events.iter().map(|e| render(e, Numbers::Strings)).collect();
        let parsed = parse(&format!("[{}]", frames.join(",")));
        prop_assert!(parsed.outcome.is_clean());
        prop_assert_eq!(parsed.events, events);
    }
}

/// A rendered book applies to pmbot-core's order book as it was built.
#[test]
fn rendered_books_apply_to_an_order_book() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..200 {
        let book = book().new_tree(&mut runner).unwrap().current();
        let MarketEvent::Book(parsed) = super::one_event(&render(&MarketEvent::Book(book.clone()), Numbers::Strings))
        else {
            panic!("not a book")
        };
        let tick = book.tick_size.unwrap_or(TickSize::TenThousandth);
        let mut ob = pmbot_core::OrderBook::new(book.token.clone(), tick);
        ob.apply_book(&parsed).unwrap();
        assert_eq!(ob.best_bid(), book.bids.last().copied());
        assert_eq!(ob.best_ask(), book.asks.last().copied());
        assert_eq!(ob.set_tick_size(tick), TickChangeOutcome::Clean);
    }
}
