//! Matching throughput: a deterministic stream of orders against a populated
//! book, with the engine's events drained after every call (as the server
//! does), reported as orders per second.
//!
//! `cargo bench -p pmbot-sim --bench matching`
//!
//! Setup (untimed, per sample): one crypto-fee market, 64 funded accounts
//! holding both tokens, and 2,000 resting orders on 20 levels either side of
//! 0.50. The timed stream of 10,000 orders is drawn from a seeded ChaCha8 RNG:
//! both tokens, both sides; 60 % GTC inside the spread range (mostly resting),
//! 20 % GTC crossing a few levels, 10 % FAK, 5 % FOK, 5 % GTD.

use alloy_primitives::Address;
use divan::counter::ItemsCount;
use pmbot_core::{Hash32, Price, Side, Size, TickSize, TokenId, Usdc};
use pmbot_sim::engine::{
    EngineConfig, Exchange, ExchangeKind, FeeSchedule, MarketSpec, NewOrder, OrderType, TokenSpec,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const NOW: i64 = 1_767_225_600_000;
const STREAM: usize = 10_000;
const ACCOUNTS: u8 = 64;

fn main() {
    divan::main();
}

fn spec() -> MarketSpec {
    MarketSpec {
        condition_id: Hash32([1; 32]),
        question_id: Hash32([2; 32]),
        question: "Bench?".into(),
        slug: "bench".into(),
        description: String::new(),
        tokens: [
            TokenSpec { token_id: TokenId::parse("1001").unwrap(), outcome: "Up".into() },
            TokenSpec { token_id: TokenId::parse("1002").unwrap(), outcome: "Down".into() },
        ],
        tick: TickSize::Hundredth,
        min_order_size: Size::from_shares(5),
        fee: FeeSchedule::crypto(),
        neg_risk: false,
        exchange: ExchangeKind::CtfV2,
        end_ms: None,
        category: "crypto".into(),
    }
}

fn account(i: u64) -> Address {
    let mut a = [0u8; 20];
    a[0] = 0xac;
    a[19] = (i % u64::from(ACCOUNTS)) as u8;
    Address::from(a)
}

fn order_id(n: u64) -> Hash32 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&n.to_le_bytes());
    b[31] = 0x5e;
    Hash32(b)
}

struct Gen {
    rng: ChaCha8Rng,
    next: u64,
    tokens: [TokenId; 2],
}

impl Gen {
    fn order(&mut self, token: usize, side: Side, cents: u32, size_cents: u64, order_type: OrderType) -> NewOrder {
        let n = self.next;
        self.next += 1;
        let who = account(self.rng.random_range(0..u64::from(ACCOUNTS)));
        NewOrder {
            id: order_id(n),
            maker: who,
            owner: who,
            api_key: "bench-key".into(),
            token: self.tokens[token].clone(),
            side,
            price: Price::from_ticks(cents, TickSize::Hundredth).unwrap(),
            size: Size::from_micros(size_cents * 10_000),
            order_type,
            post_only: false,
            expiration_s: if order_type == OrderType::Gtd { (NOW / 1000) as u64 + 3_600 } else { 0 },
        }
    }

    /// One order of the timed stream. Prices are in the order's own token:
    /// the primary book's mid is 0.50, so both tokens quote around 0.50.
    fn next_order(&mut self) -> NewOrder {
        let token = self.rng.random_range(0..2);
        let side = if self.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        let size = self.rng.random_range(500..5_000); // 5 to 50 shares
        let roll = self.rng.random_range(0..100);
        let (order_type, cents) = match roll {
            0..=59 => (OrderType::Gtc, self.passive(side)),
            60..=79 => (OrderType::Gtc, self.aggressive(side)),
            80..=89 => (OrderType::Fak, self.aggressive(side)),
            90..=94 => (OrderType::Fok, self.aggressive(side)),
            _ => (OrderType::Gtd, self.passive(side)),
        };
        self.order(token, side, cents, size, order_type)
    }

    /// A price that usually rests: bids 0.30-0.49, asks 0.51-0.70.
    fn passive(&mut self, side: Side) -> u32 {
        match side {
            Side::Buy => self.rng.random_range(30..50),
            Side::Sell => self.rng.random_range(51..71),
        }
    }

    /// A price crossing up to a few levels into the other side.
    fn aggressive(&mut self, side: Side) -> u32 {
        match side {
            Side::Buy => self.rng.random_range(51..56),
            Side::Sell => self.rng.random_range(45..50),
        }
    }
}

/// A populated exchange and the stream to run through it.
fn setup(seed: u64, per_level: usize, stream: impl Fn(&mut Gen) -> NewOrder) -> (Exchange, Vec<NewOrder>) {
    let s = spec();
    let tokens = [s.tokens[0].token_id.clone(), s.tokens[1].token_id.clone()];
    let market = s.condition_id;
    let mut ex = Exchange::new(EngineConfig::default());
    ex.list_market(s, NOW).unwrap();
    for i in 0..u64::from(ACCOUNTS) {
        ex.fund(account(i), Usdc::from_whole(10_000_000)).unwrap();
        ex.split(account(i), &market, Size::from_shares(1_000_000)).unwrap();
    }
    let mut g = Gen { rng: ChaCha8Rng::seed_from_u64(seed), next: 0, tokens };
    // `per_level` orders on each of 20 levels per side, Up bids 0.30-0.49 and
    // asks 0.51-0.70, so the book starts uncrossed.
    for level in 0..20u32 {
        for _ in 0..per_level {
            let size = g.rng.random_range(500..5_000);
            let token = g.rng.random_range(0..2);
            // Token 1 quotes mirror token 0: a Down ask at 1 - p is an Up bid at p.
            let (bid_side, ask_side) = if token == 0 { (Side::Buy, Side::Sell) } else { (Side::Sell, Side::Buy) };
            let bid = g.order(token, bid_side, if token == 0 { 49 - level } else { 51 + level }, size, OrderType::Gtc);
            ex.submit(bid, NOW).unwrap();
            let ask = g.order(token, ask_side, if token == 0 { 51 + level } else { 49 - level }, size, OrderType::Gtc);
            ex.submit(ask, NOW).unwrap();
        }
    }
    ex.drain_events();
    let orders = (0..STREAM).map(|_| stream(&mut g)).collect();
    (ex, orders)
}

/// Submits the stream, draining events after each call; checks that most
/// orders were accepted, so the figure is not one of refusals.
fn run(mut ex: Exchange, orders: Vec<NewOrder>, min_accepted_pct: usize) -> Exchange {
    let mut accepted = 0;
    for o in orders {
        if ex.submit(o, NOW).is_ok() {
            accepted += 1;
        }
        divan::black_box(ex.drain_events());
    }
    assert!(accepted * 100 >= STREAM * min_accepted_pct, "only {accepted} of {STREAM} accepted");
    // Returned so divan drops it after the timed section.
    ex
}

/// The mixed stream described in the file docs.
#[divan::bench(sample_count = 30)]
fn mixed_stream(b: divan::Bencher) {
    b.counter(ItemsCount::new(STREAM))
        .with_inputs(|| setup(7, 50, Gen::next_order))
        .bench_local_values(|(ex, orders)| run(ex, orders, 85));
}

/// Only orders that rest without matching.
#[divan::bench(sample_count = 30)]
fn resting_only(b: divan::Bencher) {
    let resting = |g: &mut Gen| {
        let token = g.rng.random_range(0..2);
        let side = if g.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        let cents = g.passive(side);
        let size = g.rng.random_range(500..5_000);
        g.order(token, side, cents, size, OrderType::Gtc)
    };
    b.counter(ItemsCount::new(STREAM))
        .with_inputs(|| setup(8, 50, resting))
        .bench_local_values(|(ex, orders)| run(ex, orders, 100));
}

/// Only FAK orders crossing into a deep book (each one trades).
#[divan::bench(sample_count = 30)]
fn crossing_only(b: divan::Bencher) {
    let crossing = |g: &mut Gen| {
        let token = g.rng.random_range(0..2);
        let side = if g.rng.random_bool(0.5) { Side::Buy } else { Side::Sell };
        // Limits deep enough to reach every level, so the touch running out
        // does not turn the stream into refusals.
        let cents = if side == Side::Buy { 70 } else { 30 };
        let size = g.rng.random_range(500..1_000);
        g.order(token, side, cents, size, OrderType::Fak)
    };
    b.counter(ItemsCount::new(STREAM))
        .with_inputs(|| setup(9, 400, crossing))
        .bench_local_values(|(ex, orders)| run(ex, orders, 100));
}
