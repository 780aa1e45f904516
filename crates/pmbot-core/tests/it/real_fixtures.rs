//! Real exchange-shaped books (../shared/data/ws-fixtures, from NautilusTrader's
//! test resources) through the raw parser and the order book. Skips with a
//! notice when the data folder is absent, so a fresh clone still passes.

use std::path::PathBuf;

use pmbot_core::{BookHealth, OrderBook, Price, RawBookSummary, Side, TickSize, TimestampMs, TokenId, parse_levels};

fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ws-fixtures");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} absent; skipping real-fixture book tests", dir.display());
        None
    }
}

#[test]
fn real_books_parse_sort_and_sync() {
    let Some(dir) = fixtures() else { return };
    // (file, tick, best bid, best ask, bid levels, ask levels)
    let cases = [
        // REST order: bids ascending, asks descending (best last).
        ("py_resources/http_responses/book.json", TickSize::Hundredth, "0.1", "0.14", 5, 7),
        // A deep WS book on a 0.001 tick, asks listed from the worst.
        ("py_resources/ws_messages/book.json", TickSize::Thousandth, "0.511", "0.514", 76, 86),
        ("crates_test_data/ws_book_snapshot.json", TickSize::Hundredth, "0.5", "0.51", 3, 3),
        ("crates_test_data/clob_book_response.json", TickSize::Hundredth, "0.5", "0.51", 3, 3),
        // WS order seen here: best first on both sides.
        ("crates_test_data/ws_market_book_msg.json", TickSize::Hundredth, "0.5", "0.51", 2, 2),
    ];
    for (file, tick, bid, ask, n_bids, n_asks) in cases {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let raw: RawBookSummary<'_> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let bids = parse_levels(&raw.bids).unwrap();
        let asks = parse_levels(&raw.asks).unwrap();
        let mut book = OrderBook::new(TokenId::parse(&raw.asset_id).unwrap(), tick);
        let at = TimestampMs::parse(&raw.timestamp).unwrap();
        book.apply_snapshot(&bids, &asks, at).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(book.health(at, 1_000), BookHealth::Synced, "{file}");
        assert_eq!(book.best_bid().unwrap().price, Price::parse(bid).unwrap(), "{file}");
        assert_eq!(book.best_ask().unwrap().price, Price::parse(ask).unwrap(), "{file}");
        assert_eq!((book.level_count(Side::Buy), book.level_count(Side::Sell)), (n_bids, n_asks), "{file}");
        // Nothing lost: the book holds the same total size as the file.
        let total = |levels: &[pmbot_core::Level]| levels.iter().map(|l| l.size).sum::<pmbot_core::Size>();
        assert_eq!(book.size_within(Side::Buy, usize::MAX), total(&bids), "{file}");
        assert_eq!(book.size_within(Side::Sell, usize::MAX), total(&asks), "{file}");
    }
}
