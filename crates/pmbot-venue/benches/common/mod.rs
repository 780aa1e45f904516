//! A deterministic in-memory recording of market-channel frames, and the book
//! store the benchmarks apply it to.
//!
//! The recording is shaped like the real feed (polymarket-protocol.md §5):
//! binary markets of two tokens; it opens with a `book` snapshot of every
//! token (the initial dump), then mostly `price_change` frames with one or two
//! entries (two: one per token of the market), some `last_trade_price`, and
//! now and then a fresh `book` (the exchange re-sends books after trades).
//! Deltas are generated against books that evolve with them: about 75 % size
//! changes at the best five levels, the rest inserts and removals, each side
//! kept between 20 and 40 levels. Every string is written the way the exchange
//! writes it (decimal strings, millisecond timestamps as strings, 40-hex
//! hashes, 77-digit token ids).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use pmbot_core::{MarketEvent, OrderBook, TickSize, TimestampMs, TokenId};
use pmbot_feed::TokenIdBuildHasher;

/// xorshift64*: no dependency, the same stream on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn digits(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        s.push(char::from(b'1' + self.below(9) as u8));
        while s.len() < n {
            s.push(char::from(b'0' + self.below(10) as u8));
        }
        s
    }

    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            write!(s, "{:x}", self.below(16)).unwrap();
        }
        s
    }
}

/// One outcome token and the book the generator keeps for it.
struct TokenState {
    id: String,
    market: String,
    tick: u16,
    /// pips -> size in hundredths of a share.
    bids: BTreeMap<u16, u64>,
    asks: BTreeMap<u16, u64>,
}

fn size_text(hundredths: u64) -> String {
    if hundredths.is_multiple_of(100) {
        format!("{}", hundredths / 100)
    } else {
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

fn price_text(pips: u16) -> String {
    let mut frac = format!("{pips:04}");
    while frac.ends_with('0') {
        frac.pop();
    }
    format!("0.{frac}")
}

fn tick_text(tick: u16) -> &'static str {
    match tick {
        100 => "0.01",
        10 => "0.001",
        _ => unreachable!("the generator uses two ticks"),
    }
}

/// A price with no level on this side, near the touch and not crossing the
/// other side: inside the spread now and then, else up to six ticks behind.
fn free_price(rng: &mut Rng, levels: &BTreeMap<u16, u64>, buy: bool, bid: u16, ask: u16, tick: u16) -> Option<u16> {
    for _ in 0..4 {
        let k = rng.below(7) as i32 - 1; // -1: one tick inside the spread
        let p = if buy { i32::from(bid) - k * i32::from(tick) } else { i32::from(ask) + k * i32::from(tick) };
        let crosses = if buy { p >= i32::from(ask) } else { p <= i32::from(bid) };
        if p > 0 && p < 10_000 && !crosses && !levels.contains_key(&(p as u16)) {
            return Some(p as u16);
        }
    }
    None
}

impl TokenState {
    fn new(rng: &mut Rng, id: String, market: String, tick: u16, mid: u16, depth: (usize, usize)) -> TokenState {
        let mut t = TokenState { id, market, tick, bids: BTreeMap::new(), asks: BTreeMap::new() };
        let best_bid = mid - mid % tick;
        let best_ask = best_bid + tick * (1 + rng.below(2) as u16);
        for i in 0..depth.0 as u16 {
            t.bids.insert(best_bid - i * tick, 500 + rng.below(500_000));
        }
        for i in 0..depth.1 as u16 {
            t.asks.insert(best_ask + i * tick, 500 + rng.below(500_000));
        }
        t
    }

    fn best_bid(&self) -> Option<u16> {
        self.bids.keys().next_back().copied()
    }

    fn best_ask(&self) -> Option<u16> {
        self.asks.keys().next().copied()
    }

    fn touch_texts(&self) -> (String, String) {
        (
            self.best_bid().map_or_else(|| "0".to_string(), price_text),
            self.best_ask().map_or_else(|| "1".to_string(), price_text),
        )
    }

    /// One delta (side, pips, new size in hundredths; 0 removes), applied.
    fn delta(&mut self, rng: &mut Rng) -> (&'static str, u16, u64) {
        let buy = rng.chance(50);
        let (best_bid, best_ask) = (self.best_bid().unwrap(), self.best_ask().unwrap());
        let tick = self.tick;
        let levels = if buy { &mut self.bids } else { &mut self.asks };
        let roll = rng.below(100);
        let insert =
            if roll < 12 && levels.len() < 40 { free_price(rng, levels, buy, best_bid, best_ask, tick) } else { None };
        let (pips, size) = if let Some(pips) = insert {
            (pips, 500 + rng.below(500_000))
        } else if roll < 24 && levels.len() > 20 {
            // Remove one of the best five levels (not the only one).
            let keys: Vec<u16> = if buy {
                levels.keys().rev().take(5).copied().collect()
            } else {
                levels.keys().take(5).copied().collect()
            };
            (keys[rng.below(keys.len() as u64) as usize], 0)
        } else {
            // Change the size of one of the best five levels.
            let keys: Vec<u16> = if buy {
                levels.keys().rev().take(5).copied().collect()
            } else {
                levels.keys().take(5).copied().collect()
            };
            (keys[rng.below(keys.len() as u64) as usize], 500 + rng.below(500_000))
        };
        if size == 0 {
            levels.remove(&pips);
        } else {
            levels.insert(pips, size);
        }
        (if buy { "BUY" } else { "SELL" }, pips, size)
    }

    fn book_frame(&self, rng: &mut Rng, ts: i64) -> String {
        let mut s = String::with_capacity(256 + 40 * (self.bids.len() + self.asks.len()));
        write!(s, r#"{{"event_type":"book","asset_id":"{}","market":"{}","bids":["#, self.id, self.market).unwrap();
        // The WebSocket has been seen both ways; write bids ascending and asks descending (REST order).
        for (i, (p, sz)) in self.bids.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(s, r#"{sep}{{"price":"{}","size":"{}"}}"#, price_text(*p), size_text(*sz)).unwrap();
        }
        s.push_str(r#"],"asks":["#);
        for (i, (p, sz)) in self.asks.iter().rev().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(s, r#"{sep}{{"price":"{}","size":"{}"}}"#, price_text(*p), size_text(*sz)).unwrap();
        }
        let ltp = price_text(self.best_bid().unwrap());
        write!(
            s,
            r#"],"timestamp":"{ts}","hash":"{}","tick_size":"{}","last_trade_price":"{ltp}"}}"#,
            rng.hex(40),
            tick_text(self.tick)
        )
        .unwrap();
        s
    }
}

/// The frame mix, in percent of the frames after the initial dump.
pub const PRICE_CHANGE_PERCENT: u64 = 88;
pub const BOOK_PERCENT: u64 = 2;
// The remaining 10 % are `last_trade_price`.

pub struct Recording {
    /// Initial dump first (one `book` per token), then the stream.
    pub frames: Vec<String>,
    pub tokens: Vec<TokenId>,
    /// Frames of the initial dump at the start of `frames`.
    pub initial: usize,
}

impl Recording {
    pub fn bytes(&self) -> usize {
        self.frames.iter().map(String::len).sum()
    }
}

/// `markets` binary markets (two tokens each), `stream` frames after the
/// initial dump; the same arguments always give the same frames.
pub fn recording(markets: usize, stream: usize, seed: u64) -> Recording {
    let mut rng = Rng::new(seed);
    let mut tokens = Vec::with_capacity(markets * 2);
    for m in 0..markets {
        let market = format!("0x{}", rng.hex(64));
        // Four markets in five on a 0.01 tick, the rest on 0.001.
        let tick = if m % 5 == 4 { 10 } else { 100 };
        // Room for 40 levels a side on either tick.
        let mid = if tick == 100 { 4_200 + rng.below(1_600) as u16 } else { 1_500 + rng.below(7_000) as u16 };
        for outcome in 0..2 {
            let mid = if outcome == 0 { mid } else { 10_000 - mid };
            let depth = (20 + rng.below(21) as usize, 20 + rng.below(21) as usize);
            let id = rng.digits(77);
            tokens.push(TokenState::new(&mut rng, id, market.clone(), tick, mid, depth));
        }
    }
    let mut ts: i64 = 1_757_908_892_351;
    let mut frames = Vec::with_capacity(tokens.len() + stream);
    for t in &tokens {
        frames.push(t.book_frame(&mut rng, ts));
    }
    let initial = frames.len();
    for _ in 0..stream {
        ts += rng.below(3) as i64;
        let m = rng.below(markets as u64) as usize;
        let roll = rng.below(100);
        let frame = if roll < PRICE_CHANGE_PERCENT {
            let two = rng.chance(60);
            let mut s = String::with_capacity(640);
            write!(
                s,
                r#"{{"event_type":"price_change","market":"{}","timestamp":"{ts}","price_changes":["#,
                tokens[2 * m].market
            )
            .unwrap();
            let first = rng.below(2) as usize;
            let which: &[usize] = if two { &[0, 1] } else { std::slice::from_ref(&first) };
            for (i, &o) in which.iter().enumerate() {
                let t = &mut tokens[2 * m + o];
                let (side, pips, size) = t.delta(&mut rng);
                let (bid, ask) = t.touch_texts();
                let sep = if i == 0 { "" } else { "," };
                write!(
                    s,
                    r#"{sep}{{"asset_id":"{}","price":"{}","size":"{}","side":"{side}","hash":"{}","best_bid":"{bid}","best_ask":"{ask}"}}"#,
                    t.id,
                    price_text(pips),
                    size_text(size),
                    rng.hex(40)
                )
                .unwrap();
            }
            s.push_str("]}");
            s
        } else if roll < PRICE_CHANGE_PERCENT + BOOK_PERCENT {
            let t = &tokens[2 * m + rng.below(2) as usize];
            t.book_frame(&mut rng, ts)
        } else {
            let t = &tokens[2 * m + rng.below(2) as usize];
            let side = if rng.chance(50) { "BUY" } else { "SELL" };
            let price = if side == "BUY" { t.best_ask().unwrap() } else { t.best_bid().unwrap() };
            format!(
                r#"{{"event_type":"last_trade_price","asset_id":"{}","market":"{}","price":"{}","side":"{side}","size":"{}","fee_rate_bps":"0","timestamp":"{ts}"}}"#,
                t.id,
                t.market,
                price_text(price),
                size_text(100 + rng.below(100_000))
            )
        };
        frames.push(frame);
    }
    let tokens = tokens.iter().map(|t| TokenId::parse(&t.id).unwrap()).collect();
    Recording { frames, tokens, initial }
}

/// Books keyed by token, applied the way the stream will apply them. The
/// index hashes token ids with the crate's `TokenIdHasher`: SipHash over a
/// 77-digit id costs about as much as applying the delta.
pub struct Books {
    index: HashMap<TokenId, usize, TokenIdBuildHasher>,
    pub books: Vec<OrderBook>,
    /// Updates the books refused or did not apply (should stay zero).
    pub refused: u64,
}

impl Books {
    pub fn new(tokens: &[TokenId]) -> Books {
        let index = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i)).collect();
        let books = tokens.iter().map(|t| OrderBook::new(t.clone(), TickSize::Hundredth)).collect();
        Books { index, books, refused: 0 }
    }

    #[inline]
    pub fn apply(&mut self, event: &MarketEvent) {
        match event {
            MarketEvent::Book(snapshot) => {
                if let Some(&i) = self.index.get(&snapshot.token) {
                    self.refused += u64::from(self.books[i].apply_book(snapshot).is_err());
                }
            }
            MarketEvent::PriceChanges(batch) => {
                for change in &batch.changes {
                    if let Some(&i) = self.index.get(&change.token) {
                        let outcome = self.books[i].apply_price_change(change, batch.time.received);
                        self.refused += u64::from(!matches!(
                            outcome,
                            Ok(pmbot_core::DeltaOutcome::Inserted
                                | pmbot_core::DeltaOutcome::Updated
                                | pmbot_core::DeltaOutcome::Removed)
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// A receive time for frame `i` of a recording.
pub fn received(i: usize) -> TimestampMs {
    TimestampMs(1_757_908_900_000 + i as i64)
}
