use pmbot_core::book_hash::book_hash;
use pmbot_core::events::EventTime;
use pmbot_core::{Side, Size};

use super::*;

fn tok(s: &str) -> TokenId {
    TokenId::parse(s).unwrap()
}

fn cid() -> ConditionId {
    ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap()
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

fn lvl(price: &str, size: u64) -> Level {
    Level { price: p(price), size: Size::from_shares(size) }
}

fn t(ms: i64) -> TimestampMs {
    TimestampMs(ms)
}

fn at(exchange: i64) -> EventTime {
    EventTime { received: t(exchange + 5), exchange: t(exchange) }
}

fn snapshot(token: &TokenId, bids: Vec<Level>, asks: Vec<Level>, exchange: i64) -> MarketEvent {
    MarketEvent::Book(BookSnapshot {
        token: token.clone(),
        market: cid(),
        bids,
        asks,
        tick_size: Some(TickSize::Hundredth),
        last_trade_price: None,
        hash: None,
        time: at(exchange),
    })
}

fn change(token: &TokenId, side: Side, price: &str, size: u64) -> PriceChange {
    PriceChange {
        token: token.clone(),
        side,
        price: p(price),
        size: Size::from_shares(size),
        best_bid: None,
        best_ask: None,
        hash: None,
    }
}

fn batch(changes: Vec<PriceChange>, exchange: i64) -> MarketEvent {
    MarketEvent::PriceChanges(PriceChangeBatch { market: cid(), changes, time: at(exchange) })
}

fn store(cfg: BookStoreConfig, tokens: &[&TokenId]) -> BookStore {
    let mut s = BookStore::new(cfg);
    for tk in tokens {
        s.track(tk, TickSize::Hundredth, t(0));
    }
    s
}

fn levels(s: &BookStore, token: &TokenId, side: Side) -> Vec<(String, String)> {
    s.book(token).unwrap().levels(side).map(|l| (l.price.to_string(), l.size.to_string())).collect()
}

#[test]
fn deltas_wait_for_a_snapshot_and_replay_only_newer_ones() {
    let a = tok("1");
    let mut s = store(BookStoreConfig::default(), &[&a]);
    let mut out = Vec::new();
    // Before any snapshot: held, not applied.
    s.apply(&batch(vec![change(&a, Side::Buy, "0.40", 7)], 900), t(905), &mut out);
    s.apply(&batch(vec![change(&a, Side::Buy, "0.41", 3)], 1_100), t(1_105), &mut out);
    assert!(s.book(&a).unwrap().best_bid().is_none());
    assert_eq!(s.stats().deltas_held, 2);
    assert!(!s.trust(&a).unwrap().is_trusted());
    // The snapshot at 1,000 already contains the first change; the second is newer.
    s.apply(&snapshot(&a, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_000), t(1_200), &mut out);
    assert_eq!(levels(&s, &a, Side::Buy), [("0.41".into(), "3".into()), ("0.4".into(), "7".into())]);
    assert_eq!((s.stats().deltas_replayed, s.stats().deltas_discarded), (1, 1));
    assert_eq!(s.trust(&a), Some(Trust::Trusted { since: t(1_200) }));
    assert!(out.contains(&BookAction::Trusted { token: a.clone() }));
}

#[test]
fn a_lost_connection_makes_every_book_unknown_until_its_snapshot() {
    let (a, b) = (tok("1"), tok("2"));
    let mut s = store(BookStoreConfig::default(), &[&a, &b]);
    let mut out = Vec::new();
    for tk in [&a, &b] {
        s.apply(&snapshot(tk, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_000), t(1_000), &mut out);
    }
    out.clear();
    s.connection_lost(t(2_000), &mut out);
    assert_eq!(out.len(), 2, "both distrusted: {out:?}");
    assert!(out.iter().all(|a| !matches!(a, BookAction::Resync { .. })), "the reconnect resends books");
    assert_eq!(s.trust(&a), Some(Trust::Unknown { since: t(2_000), reason: DistrustReason::ConnectionLost }));
    // A delta now must not touch the old book.
    s.apply(&batch(vec![change(&a, Side::Buy, "0.40", 0)], 2_100), t(2_100), &mut out);
    assert_eq!(levels(&s, &a, Side::Buy), [("0.4".into(), "7".into())]);
    s.apply(&snapshot(&a, vec![lvl("0.45", 1)], vec![lvl("0.60", 5)], 2_200), t(2_300), &mut out);
    assert_eq!(levels(&s, &a, Side::Buy), [("0.45".into(), "1".into())], "the held delta predates the snapshot");
    assert!(s.trust(&a).unwrap().is_trusted());
    assert!(!s.trust(&b).unwrap().is_trusted());
}

#[test]
fn lost_frames_crossed_books_and_reordered_deltas_ask_for_rest() {
    let (a, b) = (tok("1"), tok("2"));
    let mut s = store(BookStoreConfig::default(), &[&a, &b]);
    let mut out = Vec::new();
    for tk in [&a, &b] {
        s.apply(&snapshot(tk, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_000), t(1_000), &mut out);
    }
    out.clear();
    s.frame_lost(None, t(1_500), &mut out);
    let resyncs = out.iter().filter(|x| matches!(x, BookAction::Resync { .. })).count();
    assert_eq!(resyncs, 2);
    // A lost frame that named its token doubts only that book.
    let mut s2 = store(BookStoreConfig::default(), &[&a, &b]);
    for tk in [&a, &b] {
        s2.apply(&snapshot(tk, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_000), t(1_000), &mut out);
    }
    out.clear();
    s2.frame_lost(Some(std::slice::from_ref(&b)), t(1_500), &mut out);
    assert_eq!(
        out,
        [
            BookAction::Distrusted { token: b.clone(), reason: DistrustReason::FrameLost },
            BookAction::Resync { token: b.clone(), reason: DistrustReason::FrameLost },
        ]
    );
    assert!(s2.trust(&a).unwrap().is_trusted());

    let mut s = store(BookStoreConfig::default(), &[&a]);
    s.apply(&snapshot(&a, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_000), t(1_000), &mut out);
    out.clear();
    s.apply(&batch(vec![change(&a, Side::Buy, "0.65", 1)], 1_100), t(1_100), &mut out);
    assert!(out.contains(&BookAction::Resync { token: a.clone(), reason: DistrustReason::Crossed }));

    let mut s = store(BookStoreConfig::default(), &[&a]);
    s.apply(&snapshot(&a, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_000), t(1_000), &mut out);
    s.apply(&batch(vec![change(&a, Side::Buy, "0.41", 1)], 1_200), t(1_200), &mut out);
    out.clear();
    s.apply(&batch(vec![change(&a, Side::Buy, "0.41", 9)], 1_100), t(1_210), &mut out);
    assert!(out.contains(&BookAction::Resync { token: a.clone(), reason: DistrustReason::OutOfOrder }));
    assert_eq!(levels(&s, &a, Side::Buy)[0], ("0.41".into(), "1".into()), "the older delta was not applied");
}

/// With `Resync` policy, a `price_change` whose hash disagrees with ours
/// doubts the book; one that agrees keeps it.
#[test]
fn delta_hashes_are_checked_when_asked() {
    let a = tok("123");
    let mut s = store(BookStoreConfig::strict(), &[&a]);
    let mut out = Vec::new();
    let rest = RestBook {
        snapshot: BookSnapshot {
            token: a.clone(),
            market: cid(),
            bids: vec![lvl("0.40", 7)],
            asks: vec![lvl("0.60", 5)],
            tick_size: Some(TickSize::Hundredth),
            last_trade_price: None,
            hash: None,
            time: at(1_000),
        },
        min_order_size: "5".into(),
        neg_risk: false,
    };
    s.apply_rest(&rest, t(1_000), &mut out);
    assert!(s.trust(&a).unwrap().is_trusted());
    // The exchange's hash of the book after adding a 0.41 x 2 bid at 1,100.
    let market = cid().to_string();
    let bids = [RawLevel::new("0.4", "7"), RawLevel::new("0.41", "2")];
    let asks = [RawLevel::new("0.6", "5")];
    let good = book_hash(&BookHashInput {
        market: &market,
        asset_id: "123",
        timestamp: "1100",
        bids: &bids,
        asks: &asks,
        min_order_size: Some("5"),
        tick_size: Some("0.01"),
        neg_risk: Some(false),
        last_trade_price: Some(""),
    });
    let mut c = change(&a, Side::Buy, "0.41", 2);
    c.hash = Some(good);
    out.clear();
    s.apply(&batch(vec![c], 1_100), t(1_100), &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!((s.stats().hashes_checked, s.stats().delta_hash_mismatches), (1, 0));
    let mut c = change(&a, Side::Buy, "0.42", 1);
    c.hash = Some("0".repeat(40));
    s.apply(&batch(vec![c], 1_200), t(1_200), &mut out);
    assert!(out.contains(&BookAction::Resync { token: a.clone(), reason: DistrustReason::HashMismatch }));
}

#[test]
fn rest_snapshots_older_than_a_trusted_book_are_ignored_and_staleness_is_seen() {
    let a = tok("1");
    let mut s = store(BookStoreConfig::default(), &[&a]);
    let mut out = Vec::new();
    s.apply(&snapshot(&a, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_000), t(1_000), &mut out);
    s.apply(&batch(vec![change(&a, Side::Buy, "0.41", 1)], 1_500), t(1_500), &mut out);
    let old = RestBook {
        snapshot: match snapshot(&a, vec![lvl("0.40", 7)], vec![lvl("0.60", 5)], 1_200) {
            MarketEvent::Book(b) => b,
            _ => unreachable!(),
        },
        min_order_size: "5".into(),
        neg_risk: false,
    };
    s.apply_rest(&old, t(1_600), &mut out);
    assert_eq!(s.stats().stale_snapshots_ignored, 1);
    assert_eq!(levels(&s, &a, Side::Buy).len(), 2);
    assert!(!s.is_behind(&old, t(20_000), 2_000), "older than our book");
    let mut newer = old.clone();
    newer.snapshot.time = at(9_000);
    assert!(s.is_behind(&newer, t(20_000), 2_000), "newer, long enough ago, and different");
    assert!(!s.is_behind(&newer, t(10_000), 2_000), "newer but recent: it may still be on its way");
    newer.snapshot.bids = vec![lvl("0.41", 1), lvl("0.40", 7)];
    assert!(!s.is_behind(&newer, t(20_000), 2_000), "the same book: the market is just quiet");
}

#[test]
fn untracking_frees_the_book_and_held_deltas_overflow_into_a_resync() {
    let a = tok("1");
    let cfg = BookStoreConfig { max_held: 3, ..BookStoreConfig::default() };
    let mut s = store(cfg, &[&a]);
    let mut out = Vec::new();
    for i in 0..4 {
        s.apply(&batch(vec![change(&a, Side::Buy, "0.40", i + 1)], 100 + i as i64), t(100), &mut out);
    }
    assert!(out.contains(&BookAction::Resync { token: a.clone(), reason: DistrustReason::Overflow }));
    s.untrack(&a);
    assert!(s.book(&a).is_none() && s.is_empty());
    // Events for untracked tokens are ignored.
    s.apply(&batch(vec![change(&a, Side::Buy, "0.40", 1)], 200), t(200), &mut out);
    assert!(s.book(&a).is_none());
}
