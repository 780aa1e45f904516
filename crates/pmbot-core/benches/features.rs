//! Feature update per market event, on books shaped like the real data
//! (`../shared/data/resolvedkit-btc15m`: 20 levels a side, tick 0.01, about
//! one snapshot a second, sizes of tens to thousands of shares, the mid
//! wandering a tick at a time), and on deltas between snapshots.
//!
//! Run: `cargo bench -p pmbot-core --bench features`. Prints p50, p99 and
//! p99.9 of single events timed one by one (the timer's own cost, about
//! 20-30 ns, is included), for:
//! - `on_book + snapshot`: what the live loop does per book event before
//!   asking the model (the target is feature update + inference <= 2 us p99);
//! - `apply_snapshot + on_book + snapshot`: the same with replacing a 20x20 book;
//! - `apply_delta + on_book + snapshot`: a one-level delta every 100 ms;
//! - `on_trade`: a trade.

use std::hint::black_box;
use std::time::Instant;

use pmbot_core::{
    EventTime, FeatureSpec, FeatureState, LastTrade, Level, OrderBook, Price, Side, Size, TickSize, TimestampMs,
    TokenId,
};

/// xorshift64*: the same stream on every machine.
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
}

const EVENTS: usize = 200_000;
const LEVELS: u32 = 20;
const T0: i64 = 1_790_585_112_649;

/// Snapshots a second apart: best bid wandering in 0.20..0.79, spread 1-2 ticks.
fn snapshots(rng: &mut Rng) -> Vec<(Vec<Level>, Vec<Level>)> {
    let mut best_bid: u32 = 49;
    (0..EVENTS)
        .map(|_| {
            match rng.below(10) {
                0 if best_bid > 20 => best_bid -= 1,
                1 if best_bid < 79 => best_bid += 1,
                _ => {}
            }
            let spread = 1 + rng.below(4).min(1) as u32;
            let side = |first: u32, dir: i64, rng: &mut Rng| -> Vec<Level> {
                (0..LEVELS)
                    .filter_map(|i| {
                        let ticks = u32::try_from(i64::from(first) + dir * i64::from(i)).ok()?;
                        let p = Price::from_ticks(ticks, TickSize::Hundredth)?;
                        Some(Level::new(
                            p,
                            Size::from_micros((5 + rng.below(2_000)) * 1_000_000 + rng.below(100) * 10_000),
                        ))
                    })
                    .collect()
            };
            (side(best_bid, -1, rng), side(best_bid + spread, 1, rng))
        })
        .collect()
}

fn report(name: &str, mut ns: Vec<u64>) {
    ns.sort_unstable();
    let q = |p: f64| pmbot_core::quantile::quantile(&ns, p).expect("samples");
    println!(
        "{name:<40} n={:>7}  p50 {:>5} ns  p99 {:>5} ns  p99.9 {:>6} ns  max {:>7} ns",
        ns.len(),
        q(0.50),
        q(0.99),
        q(0.999),
        ns[ns.len() - 1]
    );
}

fn main() {
    let token =
        TokenId::parse("63536445502096927982500040255948240477464059278064870281312253804213617439453").unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let books = snapshots(&mut rng);
    let spec = FeatureSpec::default();

    // Books prepared ahead, so only the feature work is timed.
    let mut prepared: Vec<OrderBook> = Vec::with_capacity(4_096);
    for (bids, asks) in books.iter().take(4_096) {
        let mut b = OrderBook::new(token.clone(), TickSize::Hundredth);
        b.apply_snapshot(bids, asks, TimestampMs(0)).unwrap();
        prepared.push(b);
    }
    let mut state = FeatureState::new(spec, token.clone(), Some(TimestampMs(T0 + 10_000_000_000))).unwrap();
    let mut times = Vec::with_capacity(EVENTS);
    let mut some = 0usize;
    for i in 0..EVENTS {
        let at = TimestampMs(T0 + i as i64 * 1_000);
        let book = &prepared[i % prepared.len()];
        let start = Instant::now();
        state.on_book(book, at);
        let v = black_box(state.snapshot(at));
        times.push(start.elapsed().as_nanos() as u64);
        some += usize::from(v.is_some());
    }
    assert!(some > EVENTS - 100, "warm after a minute");
    report("on_book + snapshot", times);

    let mut book = OrderBook::new(token.clone(), TickSize::Hundredth);
    let mut state = FeatureState::new(spec, token.clone(), None).unwrap();
    let mut times = Vec::with_capacity(EVENTS);
    for (i, (bids, asks)) in books.iter().enumerate() {
        let at = TimestampMs(T0 + i as i64 * 1_000);
        let start = Instant::now();
        book.apply_snapshot(bids, asks, at).unwrap();
        state.on_book(&book, at);
        black_box(state.snapshot(at));
        times.push(start.elapsed().as_nanos() as u64);
    }
    report("apply_snapshot + on_book + snapshot", times);

    // Deltas: size changes near the touch every 100 ms, a snapshot every 10 s.
    let mut state = FeatureState::new(spec, token.clone(), None).unwrap();
    let mut times = Vec::with_capacity(EVENTS);
    let mut t = T0;
    for i in 0..EVENTS {
        t += 100;
        if i % 100 == 0 {
            let (bids, asks) = &books[i / 100];
            book.apply_snapshot(bids, asks, TimestampMs(t)).unwrap();
        }
        let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
        let Some(best) = book.best(side) else { continue };
        let price = match side {
            Side::Buy => best.price.down(rng.below(3) as u32, TickSize::Hundredth),
            Side::Sell => best.price.up(rng.below(3) as u32, TickSize::Hundredth),
        };
        let Some(price) = price else { continue };
        let size = Size::from_shares(1 + rng.below(1_000));
        let at = TimestampMs(t);
        let start = Instant::now();
        book.apply_delta(side, price, size, at).unwrap();
        state.on_book(&book, at);
        black_box(state.snapshot(at));
        times.push(start.elapsed().as_nanos() as u64);
    }
    report("apply_delta + on_book + snapshot", times);

    let mut times = Vec::with_capacity(EVENTS);
    let market = pmbot_core::ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap();
    for i in 0..EVENTS {
        t += 50;
        let trade = LastTrade {
            token: token.clone(),
            market,
            price: Price::from_pips(5_000).unwrap(),
            side: if i % 3 == 0 { Side::Sell } else { Side::Buy },
            size: Size::from_shares(1 + rng.below(100)),
            fee_rate_bps: 0,
            time: EventTime { received: TimestampMs(t), exchange: TimestampMs(t) },
        };
        let start = Instant::now();
        state.on_trade(&trade);
        times.push(start.elapsed().as_nanos() as u64);
    }
    report("on_trade", times);
}
