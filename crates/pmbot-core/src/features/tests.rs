use proptest::prelude::*;

use super::*;
use crate::amount::Size;
use crate::events::EventTime;
use crate::ids::ConditionId;
use crate::level::Level;
use crate::price::{Price, TickSize};

fn token() -> TokenId {
    TokenId::parse("1234").unwrap()
}

fn lv(price: &str, size: &str) -> Level {
    Level::new(Price::parse(price).unwrap(), Size::parse(size).unwrap())
}

fn book_of(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> OrderBook {
    let mut b = OrderBook::new(token(), TickSize::Hundredth);
    let bids: Vec<Level> = bids.iter().map(|&(p, s)| lv(p, s)).collect();
    let asks: Vec<Level> = asks.iter().map(|&(p, s)| lv(p, s)).collect();
    b.apply_snapshot(&bids, &asks, TimestampMs(0)).unwrap();
    b
}

/// A thin book with the given best bid and ask, 100 shares each.
fn touch(bid: &str, ask: &str) -> OrderBook {
    book_of(&[(bid, "100")], &[(ask, "100")])
}

fn state(end: Option<i64>) -> FeatureState {
    FeatureState::new(FeatureSpec::default(), token(), end.map(TimestampMs)).unwrap()
}

fn trade(side: Side, size: &str, at: i64) -> LastTrade {
    LastTrade {
        token: token(),
        market: ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap(),
        price: Price::parse("0.5").unwrap(),
        side,
        size: Size::parse(size).unwrap(),
        fee_rate_bps: 0,
        time: EventTime { received: TimestampMs(at), exchange: TimestampMs(at) },
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn names_are_stable_and_unique() {
    assert_eq!(FEATURE_NAMES.len(), FEATURE_COUNT);
    assert_eq!(FEATURE_NAMES[0], "imbalance_l1");
    assert_eq!(FEATURE_NAMES[FEATURE_COUNT - 1], "end_known");
    for (i, f) in Feature::ALL.iter().enumerate() {
        assert_eq!(f.index(), i);
    }
    let mut sorted = FEATURE_NAMES.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), FEATURE_COUNT);
}

#[test]
fn book_features_are_exact() {
    // Bids 0.48x30, 0.47x50, 0.45x100, 0.44x10, 0.43x10, 0.42x999 (sixth level ignored);
    // asks 0.50x20, 0.51x30, 0.55x100.
    let book = book_of(
        &[("0.48", "30"), ("0.47", "50"), ("0.45", "100"), ("0.44", "10"), ("0.43", "10"), ("0.42", "999")],
        &[("0.50", "20"), ("0.51", "30"), ("0.55", "100")],
    );
    let mut s = state(None);
    assert_eq!(s.on_book(&book, TimestampMs(1_000)), FeatureUpdate::Applied);
    let v = s.snapshot(TimestampMs(61_000)).expect("warm after 60 s");
    assert!(close(v[Feature::ImbalanceL1], 10.0 / 50.0));
    assert!(close(v[Feature::ImbalanceL3], 30.0 / 330.0));
    assert!(close(v[Feature::ImbalanceL5], 50.0 / 350.0));
    assert!(close(v[Feature::SpreadTicks], 2.0));
    // Microprice (0.48 x 20 + 0.50 x 30) / 50 = 0.492; mid 0.49: 0.002 = 0.2 ticks.
    assert!(close(v[Feature::MicropriceMinusMidTicks], 0.2));
    assert!(close(v[Feature::LogDepthBidL5], 201f64.ln()));
    assert!(close(v[Feature::LogDepthAskL5], 151f64.ln()));
    assert!(close(v[Feature::Mid], 0.49));
    for f in [
        Feature::MidChangeShortTicks,
        Feature::MidChangeMediumTicks,
        Feature::MidChangeLongTicks,
        Feature::TradeFlowImbalance,
        Feature::TradesSeen,
        Feature::VolatilityTicks,
        Feature::MinutesToEnd,
        Feature::EndKnown,
    ] {
        assert_eq!(v[f], 0.0, "{}", f.name());
    }
}

#[test]
fn warm_up_lasts_the_longest_window() {
    let mut s = state(None);
    assert_eq!(s.snapshot(TimestampMs(0)), None, "nothing fed yet");
    s.on_book(&touch("0.48", "0.50"), TimestampMs(1_000));
    assert_eq!(s.spec().warmup_ms(), 60_000);
    assert_eq!(s.snapshot(TimestampMs(60_999)), None);
    assert!(s.snapshot(TimestampMs(61_000)).is_some());
    // A first book between slot instants: slot 1 (1 s) is the first to hold it.
    let mut s = state(None);
    s.on_book(&touch("0.48", "0.50"), TimestampMs(500));
    assert_eq!(s.snapshot(TimestampMs(60_999)), None);
    assert!(s.snapshot(TimestampMs(61_000)).is_some());
}

#[test]
fn mid_changes_and_volatility_read_the_past_only() {
    let mut s = state(None);
    s.on_book(&touch("0.48", "0.50"), TimestampMs(0)); // mid 0.49
    s.on_book(&touch("0.49", "0.51"), TimestampMs(10_000)); // 0.50: +1 tick
    s.on_book(&touch("0.51", "0.53"), TimestampMs(50_000)); // 0.52: +2 ticks
    let v = s.snapshot(TimestampMs(70_000)).unwrap();
    assert_eq!(v[Feature::MidChangeShortTicks], 0.0);
    assert_eq!(v[Feature::MidChangeMediumTicks], 0.0);
    // At the instant 10 s the move to 0.50 had happened.
    assert_eq!(v[Feature::MidChangeLongTicks], 2.0);
    // Window (10 s, 70 s]: one change of 2 ticks over 60 slots.
    assert!(close(v[Feature::VolatilityTicks], (4.0f64 / 60.0).sqrt()));
    let v = s.snapshot(TimestampMs(69_999)).unwrap();
    assert_eq!(v[Feature::MidChangeLongTicks], 3.0);
    assert!(close(v[Feature::VolatilityTicks], (5.0f64 / 60.0).sqrt()));
    // 5 s after a move the short look-back lands exactly on it.
    let mut s = state(None);
    s.on_book(&touch("0.48", "0.50"), TimestampMs(0));
    s.on_book(&touch("0.50", "0.52"), TimestampMs(100_000));
    let v = s.snapshot(TimestampMs(105_000)).unwrap();
    assert_eq!(v[Feature::MidChangeShortTicks], 0.0);
    let v = s.snapshot(TimestampMs(104_999)).unwrap();
    assert_eq!(v[Feature::MidChangeShortTicks], 2.0);
    assert_eq!(v[Feature::MidChangeMediumTicks], 2.0);
}

#[test]
fn a_later_event_hides_nothing_and_an_earlier_query_is_refused() {
    let mut s = state(None);
    s.on_book(&touch("0.48", "0.50"), TimestampMs(0));
    s.on_book(&touch("0.49", "0.51"), TimestampMs(70_000));
    assert_eq!(s.snapshot(TimestampMs(69_999)), None, "asks about a time before the last event");
    assert!(s.snapshot(TimestampMs(70_000)).is_some());
    // An event stamped earlier than the last counts at the last one's time.
    s.on_book(&touch("0.50", "0.52"), TimestampMs(60_000));
    assert_eq!(s.last_event(), Some(TimestampMs(70_000)));
    let v = s.snapshot(TimestampMs(70_000)).unwrap();
    assert_eq!(v[Feature::MidChangeShortTicks], 2.0);
}

#[test]
fn trade_flow_over_its_window() {
    let mut s = state(None);
    s.on_book(&touch("0.48", "0.50"), TimestampMs(0));
    let v = s.snapshot(TimestampMs(60_000)).unwrap();
    assert_eq!((v[Feature::TradeFlowImbalance], v[Feature::TradesSeen]), (0.0, 0.0));
    assert_eq!(s.on_trade(&trade(Side::Buy, "10", 20_000)), FeatureUpdate::Applied);
    assert_eq!(s.on_trade(&trade(Side::Sell, "30", 65_500)), FeatureUpdate::Applied);
    let v = s.snapshot(TimestampMs(70_000)).unwrap();
    assert_eq!((v[Feature::TradeFlowImbalance], v[Feature::TradesSeen]), (-0.5, 1.0));
    // The buy at 20 s leaves the window (20 s, 80 s].
    let v = s.snapshot(TimestampMs(80_500)).unwrap();
    assert_eq!((v[Feature::TradeFlowImbalance], v[Feature::TradesSeen]), (-1.0, 1.0));
    // A trade at exactly the query time counts (it is known then).
    s.on_trade(&trade(Side::Buy, "70", 81_000));
    let v = s.snapshot(TimestampMs(81_000)).unwrap();
    assert!(close(v[Feature::TradeFlowImbalance], 40.0 / 100.0));
    // Everything gone two minutes later.
    let v = s.snapshot(TimestampMs(200_000)).unwrap();
    assert_eq!((v[Feature::TradeFlowImbalance], v[Feature::TradesSeen]), (0.0, 0.0));
}

#[test]
fn one_sided_crossed_and_foreign_books() {
    let mut s = state(None);
    s.on_book(&touch("0.48", "0.50"), TimestampMs(0));
    assert_eq!(s.on_book(&book_of(&[("0.48", "5")], &[]), TimestampMs(1_000)), FeatureUpdate::NotTwoSided);
    assert_eq!(s.snapshot(TimestampMs(61_000)), None);
    // The mid history kept 0.49 through the one-sided spell.
    s.on_book(&touch("0.49", "0.51"), TimestampMs(62_000));
    let v = s.snapshot(TimestampMs(62_000)).unwrap();
    assert_eq!(v[Feature::MidChangeLongTicks], 1.0);
    let mut crossed = OrderBook::new(token(), TickSize::Hundredth);
    crossed.apply_snapshot(&[lv("0.52", "1")], &[lv("0.51", "1")], TimestampMs(0)).unwrap();
    assert_eq!(s.on_book(&crossed, TimestampMs(63_000)), FeatureUpdate::NotTwoSided);
    assert_eq!(s.snapshot(TimestampMs(63_000)), None);
    let other = OrderBook::new(TokenId::parse("99").unwrap(), TickSize::Hundredth);
    assert_eq!(s.on_book(&other, TimestampMs(64_000)), FeatureUpdate::WrongToken);
    assert_eq!(s.last_event(), Some(TimestampMs(63_000)), "a foreign book changes nothing");
}

#[test]
fn time_to_end() {
    let mut s = state(Some(900_000));
    s.on_book(&touch("0.48", "0.50"), TimestampMs(0));
    let v = s.snapshot(TimestampMs(840_000)).unwrap();
    assert_eq!((v[Feature::MinutesToEnd], v[Feature::EndKnown]), (1.0, 1.0));
    let v = s.snapshot(TimestampMs(950_000)).unwrap();
    assert_eq!((v[Feature::MinutesToEnd], v[Feature::EndKnown]), (0.0, 1.0));
}

#[test]
fn a_long_gap_keeps_the_last_mid() {
    let mut s = state(None);
    s.on_book(&touch("0.48", "0.50"), TimestampMs(0));
    s.on_trade(&trade(Side::Buy, "10", 500));
    s.on_book(&touch("0.58", "0.60"), TimestampMs(10_000_000));
    let v = s.snapshot(TimestampMs(10_000_000)).unwrap();
    assert_eq!(v[Feature::MidChangeLongTicks], 10.0);
    assert!(close(v[Feature::VolatilityTicks], (100.0f64 / 60.0).sqrt()));
    assert_eq!(v[Feature::TradesSeen], 0.0);
}

#[test]
fn finer_ticks_scale_the_tick_features() {
    let mut b = OrderBook::new(token(), TickSize::Thousandth);
    b.apply_snapshot(&[lv("0.481", "10")], &[lv("0.484", "30")], TimestampMs(0)).unwrap();
    let mut s = state(None);
    s.on_book(&b, TimestampMs(0));
    let v = s.snapshot(TimestampMs(60_000)).unwrap();
    assert_eq!(v[Feature::SpreadTicks], 3.0);
    assert!(close(v[Feature::MicropriceMinusMidTicks], 3.0 * -0.5 / 2.0));
    assert!(close(v[Feature::Mid], 0.4825));
}

#[test]
fn bad_specs_are_refused() {
    let bad = |f: fn(&mut FeatureSpec)| {
        let mut spec = FeatureSpec::default();
        f(&mut spec);
        FeatureState::new(spec, token(), None).unwrap_err()
    };
    assert_eq!(bad(|s| s.step_ms = 0), FeatureSpecError::Step(0));
    assert!(matches!(bad(|s| s.lookbacks_ms[1] = 15_500), FeatureSpecError::NotWholeSteps { .. }));
    assert!(matches!(bad(|s| s.trade_window_ms = 0), FeatureSpecError::NotWholeSteps { .. }));
    assert_eq!(
        bad(|s| s.lookbacks_ms = [5_000, 5_000, 60_000]),
        FeatureSpecError::LookbacksOrder([5_000, 5_000, 60_000])
    );
    assert!(matches!(bad(|s| s.volatility_window_ms = 10_000_000_000), FeatureSpecError::TooLong { .. }));
    let json = r#"{"step_ms":500,"lookbacks_ms":[1000,2000,3000]}"#;
    let spec: FeatureSpec = serde_json::from_str(json).unwrap();
    assert_eq!(spec.volatility_window_ms, 60_000);
    assert!(serde_json::from_str::<FeatureSpec>(r#"{"levels":3}"#).is_err());
}

// ---- no look-ahead: the incremental state against a from-scratch reference ----

#[derive(Debug, Clone)]
enum Ev {
    /// Best bid tick (1..=97), spread in ticks (0 = locked), bid and ask sizes
    /// (0 = side empty), at a time.
    Book {
        t: i64,
        bid: u16,
        spread: u16,
        bid_sz: [u32; 6],
        ask_sz: [u32; 6],
    },
    Trade {
        t: i64,
        buy: bool,
        size: u32,
    },
}

impl Ev {
    fn t(&self) -> i64 {
        match self {
            Ev::Book { t, .. } | Ev::Trade { t, .. } => *t,
        }
    }
}

fn ev_book(bid: u16, spread: u16, bid_sz: [u32; 6], ask_sz: [u32; 6]) -> OrderBook {
    let mut b = OrderBook::new(token(), TickSize::Hundredth);
    let side = |best: u16, dir: i32, sizes: [u32; 6]| -> Vec<Level> {
        sizes
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 0)
            .filter_map(|(i, &s)| {
                let tick = i32::from(best) + dir * i as i32;
                let p = Price::from_ticks(u32::try_from(tick).ok()?, TickSize::Hundredth)?;
                Some(Level::new(p, Size::from_shares(u64::from(s))))
            })
            .collect()
    };
    let bids = side(bid, -1, bid_sz);
    let asks = side(bid + spread, 1, ask_sz);
    b.apply_snapshot(&bids, &asks, TimestampMs(0)).unwrap();
    b
}

fn feed(s: &mut FeatureState, ev: &Ev) {
    match *ev {
        Ev::Book { t, bid, spread, bid_sz, ask_sz } => {
            s.on_book(&ev_book(bid, spread, bid_sz, ask_sz), TimestampMs(t));
        }
        Ev::Trade { t, buy, size } => {
            let side = if buy { Side::Buy } else { Side::Sell };
            s.on_trade(&trade(side, &size.to_string(), t));
        }
    }
}

/// Features at `g` recomputed from scratch from the events up to `g`.
fn reference(events: &[Ev], g: i64, spec: &FeatureSpec) -> Option<[f64; FEATURE_COUNT]> {
    let known: Vec<&Ev> = events.iter().filter(|e| e.t() <= g).collect();
    let books = |until: i64| known.iter().filter(move |e| e.t() <= until && matches!(e, Ev::Book { .. }));
    let two_sided = |e: &&&Ev| match e {
        Ev::Book { bid, spread, bid_sz, ask_sz, .. } => {
            let b = ev_book(*bid, *spread, *bid_sz, *ask_sz);
            matches!((b.best_bid(), b.best_ask()), (Some(x), Some(y)) if x.price < y.price)
        }
        Ev::Trade { .. } => false,
    };
    let last_book = books(g).next_back()?;
    if !two_sided(&last_book) {
        return None;
    }
    let book_of_ev = |e: &Ev| match *e {
        Ev::Book { bid, spread, bid_sz, ask_sz, .. } => ev_book(bid, spread, bid_sz, ask_sz),
        Ev::Trade { .. } => unreachable!(),
    };
    let b = book_of_ev(last_book);
    let mid2 = |until: i64| -> Option<i64> {
        let b = book_of_ev(books(until).rfind(two_sided)?);
        Some(i64::from(b.best_bid()?.price.pips()) + i64::from(b.best_ask()?.price.pips()))
    };
    let step = spec.step_ms;
    let now = g.div_euclid(step);
    let cur = mid2(g)?;
    let mut v = [0.0; FEATURE_COUNT];
    for (i, lb) in spec.lookbacks_ms.iter().enumerate() {
        v[Feature::MidChangeShortTicks.index() + i] = (cur - mid2((now - lb / step) * step)?) as f64 / 200.0;
    }
    let n = spec.volatility_window_ms / step;
    let mut sum = 0i64;
    for k in now - n + 1..=now {
        let d = mid2(k * step)? - mid2((k - 1) * step)?;
        sum += d * d;
    }
    v[Feature::VolatilityTicks.index()] = (sum as f64 / n as f64).sqrt() / 200.0;
    let m = spec.trade_window_ms / step;
    let (lo, hi) = ((now - m) * step, now * step);
    let (mut buy, mut sell) = (0f64, 0f64);
    for e in &known {
        if let Ev::Trade { t, buy: is_buy, size } = **e
            && t > lo
            && t <= hi
        {
            *(if is_buy { &mut buy } else { &mut sell }) += f64::from(size);
        }
    }
    if buy + sell > 0.0 {
        v[Feature::TradeFlowImbalance.index()] = (buy - sell) / (buy + sell);
        v[Feature::TradesSeen.index()] = 1.0;
    }
    let size = |side: Side, n: usize| -> f64 { b.levels(side).take(n).map(|l| l.size.micros() as f64).sum() };
    for (i, n) in [1, 3, 5].into_iter().enumerate() {
        let (x, y) = (size(Side::Buy, n), size(Side::Sell, n));
        v[Feature::ImbalanceL1.index() + i] = (x - y) / (x + y);
    }
    let spread = f64::from(b.spread_pips()?) / 100.0;
    v[Feature::SpreadTicks.index()] = spread;
    v[Feature::MicropriceMinusMidTicks.index()] = spread * v[0] / 2.0;
    v[Feature::LogDepthBidL5.index()] = (size(Side::Buy, 5) / 1e6).ln_1p();
    v[Feature::LogDepthAskL5.index()] = (size(Side::Sell, 5) / 1e6).ln_1p();
    v[Feature::Mid.index()] = cur as f64 / 20_000.0;
    Some(v)
}

/// Feeds `events` in order and takes a snapshot at every grid time, each
/// after all events up to it and before any later one (as the data set
/// builder does), up to `until`.
fn grid_run(events: &[Ev], spec: FeatureSpec, grid_step: i64, until: i64) -> Vec<(i64, Option<FeatureVector>)> {
    let mut s = FeatureState::new(spec, token(), None).unwrap();
    let mut out = Vec::new();
    let mut g = 0;
    for e in events {
        while g < e.t() && g <= until {
            out.push((g, s.snapshot(TimestampMs(g))));
            g += grid_step;
        }
        feed(&mut s, e);
    }
    while g <= until {
        out.push((g, s.snapshot(TimestampMs(g))));
        g += grid_step;
    }
    out
}

fn events_strategy() -> impl Strategy<Value = Vec<Ev>> {
    let sizes = proptest::array::uniform6(prop_oneof![1 => Just(0u32), 4 => 1u32..500]);
    let book = (1u16..=90, 0u16..4, sizes.clone(), sizes).prop_map(|(bid, spread, bid_sz, ask_sz)| Ev::Book {
        t: 0,
        bid,
        spread,
        bid_sz,
        ask_sz,
    });
    let trade = (any::<bool>(), 1u32..100).prop_map(|(buy, size)| Ev::Trade { t: 0, buy, size });
    let ev = prop_oneof![3 => book, 1 => trade];
    // Gaps between events: mostly sub-second, sometimes several seconds, rarely long.
    let gap = prop_oneof![6 => 0i64..1_500, 2 => 1_500i64..8_000, 1 => 8_000i64..90_000];
    proptest::collection::vec((gap, ev), 1..90).prop_map(|raw| {
        let mut t = 0;
        raw.into_iter()
            .map(|(gap, mut e)| {
                t += gap;
                match &mut e {
                    Ev::Book { t: et, .. } | Ev::Trade { t: et, .. } => *et = t,
                }
                e
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Each grid snapshot equals the from-scratch reference over the events
    /// up to its time, and appending later events does not change it.
    #[test]
    fn snapshots_use_only_the_past(events in events_strategy(), cut in 0usize..120, grid_step in 1i64..7) {
        let spec = FeatureSpec {
            step_ms: 1_000,
            lookbacks_ms: [2_000, 5_000, 20_000],
            volatility_window_ms: 10_000,
            trade_window_ms: 15_000,
        };
        let grid_step = grid_step * 700;
        let until = events.last().unwrap().t() + 30_000;
        let full = grid_run(&events, spec, grid_step, until);
        for (g, v) in &full {
            let expect = reference(&events, *g, &spec);
            match (v, expect) {
                (None, None) => {}
                (Some(v), Some(e)) => {
                    for i in 0..FEATURE_COUNT {
                        prop_assert!((v.values[i] - e[i]).abs() < 1e-9, "t={} {}: {} vs {}", g, FEATURE_NAMES[i], v.values[i], e[i]);
                    }
                }
                (v, e) => prop_assert!(false, "t={}: state {:?} reference {:?}", g, v.is_some(), e.is_some()),
            }
        }
        let cut = cut.min(events.len());
        let prefix = &events[..cut];
        // Grid times before the first event left out.
        let next_t = events.get(cut).map_or(i64::MAX, |e| e.t());
        let part = grid_run(prefix, spec, grid_step, next_t.saturating_sub(1).min(until));
        for (g, v) in &part {
            if *g < next_t {
                let same = full.iter().find(|(fg, _)| fg == g).map(|(_, fv)| fv);
                prop_assert_eq!(Some(v), same, "t={}", g);
            }
        }
    }
}
