use std::collections::{BTreeMap, HashSet};

use pmbot_core::{Side, TickSize, TokenId};

use super::*;
use crate::model::testkit::FakeExchange;

const START: i64 = 1_790_586_000_000;

/// Runs the model against the fake exchange for `minutes`, calling it when it
/// asks, and returns every step's time and actions.
fn run(cfg: SyntheticConfig, minutes: i64) -> (SyntheticMarkets, FakeExchange, Vec<(i64, Vec<ModelAction>)>) {
    let mut model = SyntheticMarkets::new(cfg, START).unwrap();
    let mut fake = FakeExchange::default();
    let mut steps = Vec::new();
    while model.next_step_ms() < START + minutes * 60_000 {
        let now = model.next_step_ms();
        let actions = model.step(now, &fake);
        fake.apply(now, &actions);
        steps.push((now, actions));
    }
    (model, fake, steps)
}

#[test]
fn same_seed_and_call_times_give_identical_actions() {
    let json = |seed| {
        let cfg = SyntheticConfig { seed, ..SyntheticConfig::default() };
        let (_, _, steps) = run(cfg, 8);
        serde_json::to_string(&steps).unwrap()
    };
    let a = json(7);
    assert_eq!(a, json(7));
    assert_ne!(a, json(8));
    assert!(a.len() > 100_000, "a run of 8 minutes should say a lot ({} bytes)", a.len());
}

#[test]
fn every_order_is_valid_and_from_a_funded_house_account() {
    let (model, fake, steps) = run(SyntheticConfig::default(), 20);
    assert_eq!(fake.problems, Vec::<String>::new());
    let house: HashSet<_> = model.house_accounts().iter().map(|a| a.address).collect();
    let mut funded = HashSet::new();
    let mut n = 0;
    for (_, actions) in &steps {
        for a in actions {
            match a {
                ModelAction::Fund { account, amount } => {
                    assert!(*amount > pmbot_core::Usdc::ZERO);
                    funded.insert(*account);
                }
                ModelAction::Place(o) => {
                    n += 1;
                    assert!(funded.contains(&o.maker), "placed before funding");
                    assert!(house.contains(&o.maker) && o.maker == o.owner);
                    assert_eq!(o.side, Side::Buy);
                    assert!(o.size >= Size::from_shares(5) && o.size.micros() % 1_000_000 == 0, "size {}", o.size);
                    // The fake checks the market's tick at the time; the
                    // coarsest possible tick bounds the range from both sides.
                    assert!(o.price.is_on_tick(TickSize::Thousandth));
                    assert!(o.price >= TickSize::Thousandth.min_price() && o.price <= TickSize::Thousandth.max_price());
                    assert!(matches!(o.order_type, OrderType::Gtc | OrderType::Fak));
                }
                _ => {}
            }
        }
    }
    assert!(n > 1000, "only {n} orders in 20 minutes");
}

#[test]
fn markets_rotate_and_resolve_keeping_the_count() {
    let cfg = SyntheticConfig::default();
    let (delay, duration) = (cfg.resolve_delay_ms, cfg.market_duration_ms);
    let mut model = SyntheticMarkets::new(cfg, START).unwrap();
    let mut fake = FakeExchange::default();
    let mut listed: BTreeMap<ConditionId, MarketSpec> = BTreeMap::new();
    let mut resolved = 0;
    while model.next_step_ms() < START + 40 * 60_000 {
        let now = model.next_step_ms();
        let actions = model.step(now, &fake);
        for a in &actions {
            match a {
                ModelAction::List(spec) => {
                    assert!(listed.insert(spec.condition_id, spec.clone()).is_none(), "listed twice");
                    let end = spec.end_ms.unwrap();
                    assert!(end > now && end - now <= duration, "a new market's window is ahead");
                    assert!(spec.slug.starts_with("sim-") && spec.question.contains("Up or Down"));
                    for t in &spec.tokens {
                        assert!((77..=78).contains(&t.token_id.as_str().len()));
                    }
                }
                ModelAction::Resolve { market, winning_token } => {
                    let spec = &listed[market];
                    assert!(now >= spec.end_ms.unwrap() + delay, "resolved early");
                    assert!(spec.tokens.iter().any(|t| t.token_id == *winning_token));
                    resolved += 1;
                }
                _ => {}
            }
        }
        fake.apply(now, &actions);
        assert_eq!(fake.open_markets(), 4, "at {now}");
    }
    // Staggered windows: the first ends after 3.75 min, then one every 3.75 min.
    assert!((9..=10).contains(&resolved), "{resolved} resolutions in 40 minutes");
    assert_eq!(fake.resolutions.len(), resolved);
    assert_eq!(fake.problems, Vec::<String>::new());
}

#[test]
fn books_look_like_a_real_market() {
    let cfg = SyntheticConfig::default();
    let mut model = SyntheticMarkets::new(cfg, START).unwrap();
    let mut fake = FakeExchange::default();
    let (mut samples, mut two_sided, mut tight, mut middling, mut deep) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut mids: BTreeMap<ConditionId, HashSet<u16>> = BTreeMap::new();
    let mut finer_tick_orders = 0;
    while model.next_step_ms() < START + 30 * 60_000 {
        let now = model.next_step_ms();
        let actions = model.step(now, &fake);
        finer_tick_orders += actions
            .iter()
            .filter(|a| matches!(a, ModelAction::Place(o) if !o.price.is_on_tick(TickSize::Hundredth)))
            .count();
        fake.apply(now, &actions);
        for spec in model.open_markets() {
            // Judge the book in a market's middle stretch, where a real one is busiest.
            let left = spec.end_ms.unwrap() - now;
            if !(60_000..=600_000).contains(&left) {
                continue;
            }
            let Some(book) = fake.book(&spec.tokens[0].token_id) else {
                continue;
            };
            samples += 1;
            let (Some(bid), Some(ask)) = (book.bids.first(), book.asks.first()) else {
                continue;
            };
            two_sided += 1;
            let spread = (ask.price.pips() - bid.price.pips()) / book.tick.pips();
            if (1..=3).contains(&spread) {
                tight += 1;
            }
            // Near 0 or 1 a ladder runs out of prices; judge depth elsewhere.
            let mid = bid.price.pips() + ask.price.pips();
            if (2000..=18000).contains(&mid) {
                middling += 1;
                if book.bids.len() >= 4 && book.asks.len() >= 4 {
                    deep += 1;
                }
            }
            mids.entry(spec.condition_id).or_default().insert(bid.price.pips() + ask.price.pips());
        }
    }
    let frac = |x: u32| f64::from(x) / f64::from(samples);
    for a in model.house_accounts() {
        eprintln!("{} took {}", a.label, fake.taken_by.get(&a.address).copied().unwrap_or_default());
    }
    eprintln!(
        "samples {samples}, two-sided {:.3}, spread 1-3 ticks {:.3}, trades {}, shares traded {}",
        frac(two_sided),
        frac(tight),
        fake.trades,
        fake.traded
    );
    assert!(samples > 10_000);
    assert!(frac(two_sided) > 0.99, "two-sided {:.3}", frac(two_sided));
    assert!(frac(tight) > 0.85, "spread of 1-3 ticks {:.3}", frac(tight));
    let deep_share = f64::from(deep) / f64::from(middling);
    assert!(deep_share > 0.95, "4+ levels a side {deep_share:.3}");
    assert!(
        mids.values().all(|m| m.len() >= 5),
        "mids should move: {:?}",
        mids.values().map(HashSet::len).collect::<Vec<_>>()
    );
    assert!(fake.trades > 500, "{} trades", fake.trades);
    assert_eq!(fake.problems, Vec::<String>::new());
    assert!(finer_tick_orders > 0, "near 0/1 the makers should use the finer tick the exchange announces");
}

#[test]
fn informed_takers_trade_and_winners_follow_the_final_probability() {
    let cfg = SyntheticConfig {
        markets: 16,
        market_duration_ms: 60_000,
        resolve_delay_ms: 1_000,
        ..SyntheticConfig::default()
    };
    let mut model = SyntheticMarkets::new(cfg, START).unwrap();
    let informed = model.house_accounts().last().unwrap().address;
    let mut fake = FakeExchange::default();
    let (mut informed_orders, mut decided, mut agreed) = (0, 0, 0);
    while model.next_step_ms() < START + 12 * 60_000 {
        let now = model.next_step_ms();
        // After a market's end its hidden probability no longer moves.
        let finals: BTreeMap<ConditionId, (f64, TokenId)> = model
            .open_markets()
            .iter()
            .filter(|s| s.end_ms.unwrap() <= now)
            .map(|s| {
                (s.condition_id, (model.hidden_probability(&s.condition_id).unwrap(), s.tokens[0].token_id.clone()))
            })
            .collect();
        let actions = model.step(now, &fake);
        for a in &actions {
            match a {
                ModelAction::Place(o) if o.maker == informed => informed_orders += 1,
                ModelAction::Resolve { market, winning_token } => {
                    let (p, up) = &finals[market];
                    if !(0.1..=0.9).contains(p) {
                        decided += 1;
                        if (*p > 0.5) == (winning_token == up) {
                            agreed += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        fake.apply(now, &actions);
    }
    assert!(informed_orders > 20, "{informed_orders} informed orders");
    assert!(decided > 80, "{decided} decided markets");
    assert!(f64::from(agreed) / f64::from(decided) > 0.85, "{agreed} of {decided}");
    assert_eq!(fake.problems, Vec::<String>::new());
}

#[test]
fn a_long_stall_is_caught_up_in_one_step() {
    let mut model = SyntheticMarkets::new(SyntheticConfig::default(), START).unwrap();
    let mut fake = FakeExchange::default();
    let first = model.step(START, &fake);
    fake.apply(START, &first);
    let later = START + 3_600_000;
    let actions = model.step(later, &fake);
    let resolves = actions.iter().filter(|a| matches!(a, ModelAction::Resolve { .. })).count();
    let lists = actions.iter().filter(|a| matches!(a, ModelAction::List(_))).count();
    assert_eq!(resolves, lists);
    assert!((15..=17).contains(&resolves), "{resolves}");
    fake.apply(later, &actions);
    assert_eq!(fake.open_markets(), 4);
    assert_eq!(fake.problems, Vec::<String>::new());
    // Time never runs backwards: an earlier call acts at the latest time seen.
    let back = model.step(START, &fake);
    assert!(back.iter().all(|a| !matches!(a, ModelAction::Resolve { .. } | ModelAction::List(_))));
    assert_eq!(model.next_step_ms(), later + 250);
}

#[test]
fn describe_names_the_model() {
    let model = SyntheticMarkets::new(SyntheticConfig::default(), START).unwrap();
    assert_eq!(model.describe(), "synthetic: 4 markets, seed 7, 900 s windows, step 250 ms");
    assert_eq!(model.next_step_ms(), START);
    assert!(SyntheticMarkets::new(SyntheticConfig { markets: 0, ..SyntheticConfig::default() }, START).is_err());
}

#[test]
fn utc_text_formats_civil_time() {
    assert_eq!(utc_text(0), "1970-01-01 00:00:00");
    assert_eq!(utc_text(START), "2026-09-28 09:00:00");
    assert_eq!(utc_text(951_782_400_000), "2000-02-29 00:00:00");
}
