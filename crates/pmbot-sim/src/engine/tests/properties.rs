//! Randomised sessions: invariants after every call, identical replays.

use pmbot_core::Side;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::engine::{NewOrder, OrderType, Query, SelfTradePolicy};

/// Runs `steps` random calls (orders of every type on both tokens of two
/// fee-charging markets, cancels, ticks, splits) and audits after each one.
/// Returns every event as JSON, and the number of accepted orders.
fn random_session(seed: u64, steps: usize, policy: SelfTradePolicy) -> (Vec<String>, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cfg = EngineConfig { self_trade: policy, max_trades_per_account: 50, ..EngineConfig::default() };
    let mut ex = Exchange::new(cfg);
    let markets: Vec<MarketSpec> = (1..=2)
        .map(|n| {
            let mut s = spec(n);
            s.fee = FeeSchedule::crypto();
            s.min_order_size = Size::from_shares(1);
            s
        })
        .collect();
    for s in &markets {
        ex.list_market(s.clone(), T0).unwrap();
    }
    let people: Vec<Address> = (1..=4).map(addr).collect();
    for &who in &people {
        ex.fund(who, Usdc::from_whole(500)).unwrap();
        for s in &markets {
            ex.split(who, &s.condition_id, sz("50")).unwrap();
        }
    }
    let mut events = json(&ex.drain_events());
    let mut accepted = 0;
    let mut now = T0;
    let mut next_id = 1u64;
    for step in 0..steps {
        now += rng.random_range(0..400);
        let who = people[rng.random_range(0..people.len())];
        let s = &markets[rng.random_range(0..markets.len())];
        match rng.random_range(0..100) {
            0..=79 => {
                let tick = ex.market(&s.condition_id).unwrap().tick;
                let ticks = 10_000 / u32::from(tick.pips());
                // Prices cluster around 0.5 so orders cross often.
                let mid = ticks / 2;
                let spread = (ticks / 5).max(2);
                let t = rng.random_range(mid - spread / 2..mid + spread / 2).clamp(1, ticks - 1);
                let price = Price::from_ticks(t, tick).unwrap();
                // Odd micro sizes on purpose: rounding must stay exact.
                let size = Size::from_micros(rng.random_range(1_000_000..30_000_000));
                let order_type = match rng.random_range(0..10) {
                    0..=5 => OrderType::Gtc,
                    6 => OrderType::Gtd,
                    7 => OrderType::Fok,
                    _ => OrderType::Fak,
                };
                let expiration_s =
                    if order_type == OrderType::Gtd { (now / 1000) as u64 + rng.random_range(61..120) } else { 0 };
                let o = NewOrder {
                    id: oid(next_id),
                    maker: who,
                    owner: who,
                    api_key: format!("{who}"),
                    token: s.tokens[rng.random_range(0..2)].token_id.clone(),
                    side: if rng.random_bool(0.5) { Side::Buy } else { Side::Sell },
                    price,
                    size,
                    order_type,
                    post_only: matches!(order_type, OrderType::Gtc | OrderType::Gtd) && rng.random_bool(0.1),
                    expiration_s,
                };
                next_id += 1;
                // Snapshots are costly; compare on every fourth order.
                let before = (step % 4 == 0).then(|| state(&ex));
                match ex.submit(o, now) {
                    Ok(_) => accepted += 1,
                    Err(_) => {
                        if let Some(before) = before {
                            assert_eq!(state(&ex), before, "step {step}: a refusal changed state");
                        }
                    }
                }
            }
            80..=89 => {
                let open = ex.open_orders(who, &Query::default());
                if !open.is_empty() {
                    let id = open[rng.random_range(0..open.len())].id;
                    assert_eq!(ex.cancel(who, &[id], now).canceled, vec![id]);
                }
            }
            90..=96 => ex.tick(now),
            _ => {
                let _ = ex.split(who, &s.condition_id, sz("5"));
            }
        }
        if let Err(e) = ex.audit() {
            panic!("seed {seed} step {step}: {e}");
        }
        events.extend(json(&ex.drain_events()));
    }
    // Resolution pays nothing; redeeming every holder leaves only collateral.
    for s in &markets {
        ex.resolve(&s.condition_id, &s.tokens[0].token_id, now + 1).unwrap();
        ex.audit().unwrap();
        for &who in people.iter().chain([&collector()]) {
            ex.redeem(who, &s.condition_id).unwrap();
        }
    }
    ex.audit().unwrap();
    let total: u64 = people.iter().chain([&collector()]).map(|&a| ex.collateral(a).total.micros()).sum();
    assert_eq!(total, 2_000_000_000, "all 4 x 500 pUSD still exist");
    events.extend(json(&ex.drain_events()));
    (events, accepted)
}

#[test]
fn invariants_hold_through_random_sessions() {
    for seed in 0..6 {
        for policy in [SelfTradePolicy::CancelResting, SelfTradePolicy::CancelTaker, SelfTradePolicy::Allow] {
            let (events, accepted) = random_session(seed, 400, policy);
            assert!(accepted > 150, "seed {seed}: only {accepted} orders accepted");
            assert!(events.iter().filter(|e| e.contains("\"Trade\"")).count() > 30, "seed {seed}: too few trades");
        }
    }
}

#[test]
fn replaying_a_session_gives_identical_events() {
    let (a, _) = random_session(42, 500, SelfTradePolicy::default());
    let (b, _) = random_session(42, 500, SelfTradePolicy::default());
    assert_eq!(a.len(), b.len());
    assert!(a == b, "same inputs, different events");
    let (c, _) = random_session(43, 500, SelfTradePolicy::default());
    assert_ne!(a, c);
}
