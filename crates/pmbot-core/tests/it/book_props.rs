//! Property tests: the order book against a plain `BTreeMap` model.
//!
//! Any sequence of snapshots, deltas and resets (valid or not) must leave the
//! book sorted, with positive sizes and no duplicate prices, equal to the
//! model; refused updates must change nothing; walking the book for a size must
//! agree with a direct computation on the model.

use std::collections::BTreeMap;

use pmbot_core::{
    BookHealth, DeltaOutcome, FillExtent, Level, OrderBook, Price, Side, Size, TickSize, TimestampMs, TokenId, Usdc,
};
use proptest::prelude::*;

const TICK: TickSize = TickSize::Hundredth;

/// The reference: one map per side, plus whether a snapshot was accepted.
#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    synced: bool,
    bids: BTreeMap<Price, Size>,
    asks: BTreeMap<Price, Size>,
}

impl Model {
    fn side(&mut self, side: Side) -> &mut BTreeMap<Price, Size> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The snapshot rules stated independently: zero sizes are ignored; an
    /// off-tick or repeated price among the rest refuses the whole snapshot.
    fn snapshot(&mut self, bids: &[Level], asks: &[Level]) -> bool {
        let build = |levels: &[Level]| -> Option<BTreeMap<Price, Size>> {
            let mut m = BTreeMap::new();
            for l in levels.iter().filter(|l| !l.size.is_zero()) {
                if !l.price.is_on_tick(TICK) || m.insert(l.price, l.size).is_some() {
                    return None;
                }
            }
            Some(m)
        };
        match (build(bids), build(asks)) {
            (Some(b), Some(a)) => {
                *self = Model { synced: true, bids: b, asks: a };
                true
            }
            _ => false,
        }
    }

    /// Returns the outcome, or `None` for a refused (off-tick) insert.
    fn delta(&mut self, side: Side, price: Price, size: Size) -> Option<DeltaOutcome> {
        if !self.synced {
            return Some(DeltaOutcome::NoSnapshot);
        }
        let levels = self.side(side);
        let existed = levels.contains_key(&price);
        Some(match (existed, size.is_zero()) {
            (true, true) => {
                levels.remove(&price);
                DeltaOutcome::Removed
            }
            (true, false) => {
                levels.insert(price, size);
                DeltaOutcome::Updated
            }
            (false, true) => DeltaOutcome::RemovedAbsent,
            (false, false) if !price.is_on_tick(TICK) => return None,
            (false, false) => {
                levels.insert(price, size);
                DeltaOutcome::Inserted
            }
        })
    }

    /// Levels best first.
    fn best_first(&self, side: Side) -> Vec<Level> {
        match side {
            Side::Buy => self.bids.iter().rev().map(|(p, s)| Level::new(*p, *s)).collect(),
            Side::Sell => self.asks.iter().map(|(p, s)| Level::new(*p, *s)).collect(),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Snapshot(Vec<Level>, Vec<Level>),
    Delta(Side, Price, Size),
    Reset,
}

/// Mostly on the 0.01 grid, sometimes off it (to exercise refusals).
fn price() -> impl Strategy<Value = Price> {
    prop_oneof![
        9 => (1u32..100).prop_map(|t| Price::from_ticks(t, TICK).unwrap()),
        1 => (1u16..10_000).prop_map(|p| Price::from_pips(p).unwrap()),
    ]
}

/// Zero (a removal) a quarter of the time, otherwise up to 50 shares.
fn size() -> impl Strategy<Value = Size> {
    prop_oneof![1 => Just(Size::ZERO), 3 => (1u64..=50_000_000).prop_map(Size::from_micros)]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn levels(max: usize) -> impl Strategy<Value = Vec<Level>> {
    prop::collection::vec((price(), size()).prop_map(|(p, s)| Level::new(p, s)), 0..max)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (levels(12), levels(12)).prop_map(|(b, a)| Op::Snapshot(b, a)),
        16 => (side(), price(), size()).prop_map(|(sd, p, s)| Op::Delta(sd, p, s)),
        1 => Just(Op::Reset),
    ]
}

/// A book known to be synced, built from on-grid unique levels.
fn synced_book() -> impl Strategy<Value = (OrderBook, Model)> {
    let side_levels = prop::collection::btree_map(
        (1u32..100).prop_map(|t| Price::from_ticks(t, TICK).unwrap()),
        (1u64..=50_000_000).prop_map(Size::from_micros),
        0..20,
    );
    (side_levels.clone(), side_levels).prop_map(|(b, a)| {
        let bids: Vec<Level> = b.iter().map(|(p, s)| Level::new(*p, *s)).collect();
        let asks: Vec<Level> = a.iter().map(|(p, s)| Level::new(*p, *s)).collect();
        let mut book = OrderBook::new(token(), TICK);
        book.apply_snapshot(&bids, &asks, TimestampMs(0)).unwrap();
        (book, Model { synced: true, bids: b, asks: a })
    })
}

fn token() -> TokenId {
    TokenId::parse("42").unwrap()
}

fn assert_invariants(book: &OrderBook) -> Result<(), TestCaseError> {
    for side in [Side::Buy, Side::Sell] {
        let levels: Vec<Level> = book.levels(side).collect();
        prop_assert_eq!(levels.len(), book.level_count(side));
        for l in &levels {
            prop_assert!(!l.size.is_zero(), "zero-size level {:?}", l);
        }
        for w in levels.windows(2) {
            // Best first: bids strictly falling, asks strictly rising (so no duplicates).
            match side {
                Side::Buy => {
                    prop_assert!(w[0].price > w[1].price, "bids out of order: {:?}", levels);
                }
                Side::Sell => {
                    prop_assert!(w[0].price < w[1].price, "asks out of order: {:?}", levels);
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_keeps_the_invariants_and_matches_the_model(ops in prop::collection::vec(op(), 0..120)) {
        let mut book = OrderBook::new(token(), TICK);
        let mut model = Model::default();
        for (i, op) in ops.into_iter().enumerate() {
            let at = TimestampMs(i as i64);
            match op {
                Op::Snapshot(bids, asks) => {
                    let accepted = model.snapshot(&bids, &asks);
                    prop_assert_eq!(book.apply_snapshot(&bids, &asks, at).is_ok(), accepted);
                }
                Op::Delta(side, price, size) => {
                    let expected = model.delta(side, price, size);
                    prop_assert_eq!(book.apply_delta(side, price, size, at).ok(), expected);
                }
                Op::Reset => {
                    model = Model::default();
                    book.reset();
                }
            }
            assert_invariants(&book)?;
            prop_assert_eq!(book.has_snapshot(), model.synced);
            for side in [Side::Buy, Side::Sell] {
                prop_assert_eq!(book.levels(side).collect::<Vec<_>>(), model.best_first(side));
            }
            let crossed = matches!(
                (model.bids.keys().next_back(), model.asks.keys().next()),
                (Some(b), Some(a)) if b >= a
            );
            let health = book.health(at, 1_000);
            prop_assert_eq!(matches!(health, BookHealth::Crossed { .. }), model.synced && crossed, "{:?}", health);
        }
    }

    #[test]
    fn snapshot_then_deltas_equals_the_reference(
        (mut book, mut model) in synced_book(),
        deltas in prop::collection::vec((side(), price(), size()), 0..200),
    ) {
        for (i, (side, price, size)) in deltas.into_iter().enumerate() {
            let before = book.levels(side).collect::<Vec<_>>();
            match model.delta(side, price, size) {
                Some(expected) => prop_assert_eq!(book.apply_delta(side, price, size, TimestampMs(i as i64)), Ok(expected)),
                None => {
                    prop_assert!(book.apply_delta(side, price, size, TimestampMs(i as i64)).is_err());
                    prop_assert_eq!(book.levels(side).collect::<Vec<_>>(), before, "a refused delta changed the book");
                }
            }
        }
        assert_invariants(&book)?;
        for side in [Side::Buy, Side::Sell] {
            prop_assert_eq!(book.levels(side).collect::<Vec<_>>(), model.best_first(side));
            let top3: Size = model.best_first(side).iter().take(3).map(|l| l.size).sum();
            prop_assert_eq!(book.size_within(side, 3), top3);
        }
    }

    #[test]
    fn sweep_agrees_with_a_reference_walk(
        (book, model) in synced_book(),
        side in side(),
        want in 0u64..=400_000_000,
        limit in prop::option::of(price()),
    ) {
        let sweep = book.sweep_limited(side, Size::from_micros(want), limit);
        // Reference: walk the opposite side best first, stopping at the limit.
        let mut remaining = want;
        let (mut filled, mut notional, mut worst, mut touched) = (0u64, 0u128, None, 0usize);
        for l in model.best_first(side.opposite()) {
            let beyond = match (side, limit) {
                (Side::Buy, Some(lim)) => l.price > lim,
                (Side::Sell, Some(lim)) => l.price < lim,
                _ => false,
            };
            if remaining == 0 || beyond {
                break;
            }
            let take = remaining.min(l.size.micros());
            remaining -= take;
            filled += take;
            notional += u128::from(take) * u128::from(l.price.pips());
            worst = Some(l.price);
            touched += 1;
        }
        prop_assert_eq!(sweep.filled, Size::from_micros(filled));
        prop_assert_eq!(sweep.notional_exact, notional);
        prop_assert_eq!(sweep.worst_price, worst);
        prop_assert_eq!(sweep.levels_touched, touched);
        let extent = if remaining == 0 { FillExtent::Full } else if filled == 0 { FillExtent::Nothing } else { FillExtent::Partial };
        prop_assert_eq!(sweep.extent, extent);
        // Cost: exact notional (10^-10 pUSD) rounded to micro-pUSD against the trader.
        let micros = match side {
            Side::Buy => notional.div_ceil(10_000),
            Side::Sell => notional / 10_000,
        };
        prop_assert_eq!(sweep.cost(), Usdc::from_micros(micros as i64));
        // The average lies between the first and the worst price touched.
        if let (Some(avg), Some(worst)) = (sweep.average_price(), worst) {
            let first = model.best_first(side.opposite())[0].price;
            let (lo, hi) = if side == Side::Buy { (first, worst) } else { (worst, first) };
            prop_assert!(avg.cmp_price(lo).is_ge() && avg.cmp_price(hi).is_le());
            let dec = avg.to_decimal();
            prop_assert!(dec >= lo.to_decimal() && dec <= hi.to_decimal());
        } else {
            prop_assert_eq!(filled, 0);
        }
    }
}
