//! Order book throughput: deltas applied per second, snapshot replacement and
//! cost walks, on deterministic books shaped like Polymarket's.
//!
//! Run: `cargo bench -p pmbot-core --bench book`. Deltas/s = items/s of the
//! `apply_deltas` rows (divan prints it as "item/s" from the counter).
//!
//! The delta streams are generated once from a fixed seed against a book that
//! evolves with them, so every iteration replays exactly the same stream from
//! the same snapshot. Measured mix of the 100,000-delta streams: about 78 %
//! size changes, 11 % inserts and 11 % removals, about 80 % of them at the best
//! five levels; a side starting with N levels stays between N/2 and N. A
//! `BTreeMap` book applying the same stream is measured beside the
//! real one, to show why the book is a sorted `Vec`.

use std::collections::BTreeMap;
use std::hint::black_box;

use divan::Bencher;
use divan::counter::ItemsCount;
use pmbot_core::{Level, OrderBook, Price, Side, Size, TickSize, TimestampMs, TokenId};

fn main() {
    divan::main();
}

/// Deltas per iteration of the throughput benchmarks.
const STREAM_LEN: usize = 100_000;

/// A small deterministic generator (xorshift64*): no dependency, same stream
/// on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A size between 5 and 5000 shares with two decimals, like real levels.
    fn size(&mut self) -> Size {
        Size::from_micros((500 + self.below(500_000)) * 10_000)
    }
}

#[derive(Clone, Copy)]
struct Delta {
    side: Side,
    price: Price,
    size: Size,
}

struct Scenario {
    bids: Vec<Level>,
    asks: Vec<Level>,
    tick: TickSize,
    deltas: Vec<Delta>,
}

fn token() -> TokenId {
    TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563").unwrap()
}

/// A book of `levels` levels a side around 0.50 on `tick`, and a stream of
/// deltas against it that keeps each side between `levels / 2` and
/// `levels * 3 / 2` levels.
fn scenario(levels: u32, tick: TickSize, seed: u64) -> Scenario {
    let mut rng = Rng(seed);
    let centre = 5_000 / u32::from(tick.pips()); // 0.50 in ticks
    let bids: Vec<Level> =
        (1..=levels).map(|i| Level::new(Price::from_ticks(centre - i, tick).unwrap(), rng.size())).collect();
    let asks: Vec<Level> =
        (1..=levels).map(|i| Level::new(Price::from_ticks(centre + i, tick).unwrap(), rng.size())).collect();
    let mut book = OrderBook::new(token(), tick);
    book.apply_snapshot(&bids, &asks, TimestampMs(0)).unwrap();

    let (min_levels, max_levels) = ((levels / 2) as usize, (levels * 3 / 2) as usize);
    let mut deltas = Vec::with_capacity(STREAM_LEN);
    while deltas.len() < STREAM_LEN {
        let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
        let count = book.level_count(side);
        let kind = rng.below(100);
        let delta = if (kind < 12 || count >= max_levels) && count > min_levels {
            // Remove one of the best three levels (a level traded or cancelled away).
            let l = book.levels(side).nth(rng.below(3.min(count as u64)) as usize).unwrap();
            Delta { side, price: l.price, size: Size::ZERO }
        } else if kind < 25 || count <= min_levels {
            // A new level near the touch: up to 3 ticks either side of the best,
            // never crossing the other side. A touch more than 5 ticks from 0.50
            // only moves back towards it, so the book stays centred.
            let best = book.best(side).map(|l| l.price.ticks(tick).unwrap()).unwrap_or(centre);
            let other = book.best(side.opposite()).map(|l| l.price.ticks(tick).unwrap());
            let offset = i64::from(centre) - i64::from(best);
            let step =
                if offset.abs() > 5 { offset.signum() * (1 + rng.below(3) as i64) } else { rng.below(7) as i64 - 3 };
            let t = (i64::from(best) + step) as u32;
            let crosses = match (side, other) {
                (Side::Buy, Some(o)) => t >= o,
                (Side::Sell, Some(o)) => t <= o,
                _ => false,
            };
            match Price::from_ticks(t, tick) {
                Some(price) if !crosses => Delta { side, price, size: rng.size() },
                _ => continue,
            }
        } else if kind < 90 {
            // Size change at one of the best five levels: the bulk of real traffic.
            let l = book.levels(side).nth(rng.below(5.min(count as u64)) as usize).unwrap();
            Delta { side, price: l.price, size: rng.size() }
        } else {
            // Size change anywhere in the book.
            let l = book.levels(side).nth(rng.below(count as u64) as usize).unwrap();
            Delta { side, price: l.price, size: rng.size() }
        };
        book.apply_delta(delta.side, delta.price, delta.size, TimestampMs(deltas.len() as i64)).unwrap();
        deltas.push(delta);
    }
    Scenario { bids, asks, tick, deltas }
}

fn synced_book(s: &Scenario) -> OrderBook {
    let mut book = OrderBook::new(token(), s.tick);
    book.apply_snapshot(&s.bids, &s.asks, TimestampMs(0)).unwrap();
    book
}

/// Deltas applied to the real book: `levels` a side, tick 0.01 (<= 49 levels
/// a side fit) or 0.001 for the deep book.
#[divan::bench(args = [20, 40, 400])]
fn apply_deltas(bencher: Bencher, levels: u32) {
    let tick = if levels <= 40 { TickSize::Hundredth } else { TickSize::Thousandth };
    let s = scenario(levels, tick, 0x5EED_0000 + u64::from(levels));
    let fresh = synced_book(&s);
    bencher.counter(ItemsCount::new(s.deltas.len())).with_inputs(|| fresh.clone()).bench_local_values(|mut book| {
        for (i, d) in s.deltas.iter().enumerate() {
            black_box(book.apply_delta(d.side, d.price, d.size, TimestampMs(i as i64)).unwrap());
        }
        book
    });
}

/// The same stream on a `BTreeMap` per side, for comparison only.
#[divan::bench(args = [20, 40, 400])]
fn apply_deltas_btreemap_baseline(bencher: Bencher, levels: u32) {
    let tick = if levels <= 40 { TickSize::Hundredth } else { TickSize::Thousandth };
    let s = scenario(levels, tick, 0x5EED_0000 + u64::from(levels));
    let side_map = |ls: &[Level]| ls.iter().map(|l| (l.price, l.size)).collect::<BTreeMap<_, _>>();
    let fresh = (side_map(&s.bids), side_map(&s.asks));
    bencher.counter(ItemsCount::new(s.deltas.len())).with_inputs(|| fresh.clone()).bench_local_values(
        |(mut bids, mut asks)| {
            for d in &s.deltas {
                let side = if d.side == Side::Buy { &mut bids } else { &mut asks };
                if d.size.is_zero() {
                    black_box(side.remove(&d.price));
                } else {
                    black_box(side.insert(d.price, d.size));
                }
            }
            (bids, asks)
        },
    );
}

/// Replacing the book with a snapshot in REST wire order (bids ascending,
/// asks descending), `levels` a side.
#[divan::bench(args = [20, 40, 400])]
fn apply_snapshot(bencher: Bencher, levels: u32) {
    let tick = if levels <= 40 { TickSize::Hundredth } else { TickSize::Thousandth };
    let s = scenario(levels, tick, 7);
    let mut wire_bids = s.bids.clone();
    wire_bids.reverse();
    let wire_asks: Vec<Level> = s.asks.iter().rev().copied().collect();
    let mut book = synced_book(&s);
    let mut t = 0;
    bencher.bench_local(|| {
        t += 1;
        black_box(book.apply_snapshot(black_box(&wire_bids), black_box(&wire_asks), TimestampMs(t)).unwrap());
    });
}

/// The cost to buy `shares` by walking the asks of a 40-level book
/// (levels hold 5-5000 shares, so 10 takes one level, 20,000 takes many).
#[divan::bench(args = [10, 1_000, 20_000])]
fn sweep(bencher: Bencher, shares: u64) {
    let s = scenario(40, TickSize::Hundredth, 11);
    let book = synced_book(&s);
    let size = Size::from_shares(shares);
    bencher.bench_local(|| black_box(book.sweep(Side::Buy, black_box(size))));
}

/// Top-of-book queries an engine makes per update.
#[divan::bench]
fn touch_queries(bencher: Bencher) {
    let s = scenario(40, TickSize::Hundredth, 13);
    let book = synced_book(&s);
    bencher.bench_local(|| {
        let b = black_box(&book);
        black_box((b.health(TimestampMs(1), 5_000), b.mid(), b.spread_pips(), b.size_within(Side::Buy, 5)))
    });
}
