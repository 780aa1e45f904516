//! The market sources driven against the real matching engine (not the
//! model's test double), in simulated time: what `pmbot sim` runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pmbot_core::TokenId;
use pmbot_sim::engine::{EngineConfig, EngineEvent, Exchange, TradeStatus};
use pmbot_sim::model::replay::{ReplayOptions, ReplayPace, ReplaySource};
use pmbot_sim::model::synthetic::{SyntheticConfig, SyntheticMarkets};
use pmbot_sim::model::{MarketSource, ModelAction};

/// Counts of what happened while applying a source's actions.
#[derive(Debug, Default)]
struct Tally {
    placed: u64,
    refused: BTreeMap<String, u64>,
    trades: u64,
    resolved: u64,
    listed: u64,
    /// Redemptions that paid something.
    paid_out: u64,
}

fn apply(ex: &mut Exchange, actions: Vec<ModelAction>, now: i64, tally: &mut Tally) {
    for a in actions {
        match a {
            ModelAction::List(spec) => ex.list_market(spec, now).expect("listing a fresh market"),
            ModelAction::Fund { account, amount } => {
                ex.fund(account, amount).expect("funding");
            }
            ModelAction::Place(order) => match ex.submit(order, now) {
                Ok(_) => tally.placed += 1,
                Err(r) => {
                    *tally.refused.entry(format!("{r:?}").split([' ', '{']).next().unwrap().to_owned()).or_default() +=
                        1;
                }
            },
            ModelAction::Cancel { owner, ids } => {
                ex.cancel(owner, &ids, now);
            }
            ModelAction::Resolve { market, winning_token } => {
                ex.resolve(&market, &winning_token, now).expect("resolving");
            }
            ModelAction::Redeem { account, market } => {
                // Sources redeem their house accounts after resolving, as
                // holders must: resolution itself pays nothing.
                let before = ex.collateral(account).total;
                let r = ex.redeem(account, &market).expect("redeeming a resolved market");
                assert_eq!(ex.collateral(account).total.micros(), before.micros() + r.winning_burned.micros());
                if r.payout.micros() > 0 {
                    tally.paid_out += 1;
                }
            }
        }
    }
}

fn count_events(ex: &mut Exchange, tally: &mut Tally) {
    for ev in ex.drain_events() {
        match ev {
            EngineEvent::Trade(t) if t.status == TradeStatus::Matched => tally.trades += 1,
            EngineEvent::MarketResolved { .. } => tally.resolved += 1,
            EngineEvent::MarketListed { .. } => tally.listed += 1,
            _ => {}
        }
    }
}

/// Runs a source against the engine from `start` for `span_ms`, stepping
/// when the source asks (at most every 250 ms of simulated time).
fn run(
    source: &mut dyn MarketSource,
    ex: &mut Exchange,
    start: i64,
    span_ms: i64,
    mut each: impl FnMut(&Exchange, i64),
) -> Tally {
    let mut tally = Tally::default();
    let mut now = start;
    while now < start + span_ms {
        let actions = source.step(now, ex);
        apply(ex, actions, now, &mut tally);
        ex.tick(now);
        ex.prune_resolved(now - 60_000);
        count_events(ex, &mut tally);
        each(ex, now);
        let next = source.next_step_ms();
        if next == i64::MAX {
            break;
        }
        now = next.clamp(now + 1, now + 250);
    }
    ex.audit().expect("engine invariants hold");
    tally
}

#[test]
fn synthetic_markets_trade_and_rotate_on_the_real_engine() {
    let cfg = SyntheticConfig { markets: 3, market_duration_ms: 5 * 60_000, seed: 21, ..SyntheticConfig::default() };
    let start = 1_795_000_000_000;
    let mut source = SyntheticMarkets::new(cfg, start).unwrap();
    let mut ex = Exchange::new(EngineConfig::default());
    let mut two_sided = 0u64;
    let mut samples = 0u64;
    let mut spreads: Vec<u16> = Vec::new();
    let tally = run(&mut source, &mut ex, start, 20 * 60_000, |ex, _| {
        for m in ex.markets().iter().filter(|m| m.accepting_orders) {
            let token: &TokenId = &m.spec.tokens[0].token_id;
            if let Some(b) = ex.book(token) {
                samples += 1;
                if let (Some(bid), Some(ask)) = (b.bids.first(), b.asks.first()) {
                    two_sided += 1;
                    assert!(bid.price < ask.price, "the engine never rests a crossed book");
                    spreads.push(ask.price.pips() - bid.price.pips());
                }
            }
        }
    });
    assert!(tally.listed >= 3 + 9, "markets rotate: {tally:?}");
    assert!(tally.resolved >= 9, "{tally:?}");
    assert!(tally.paid_out >= tally.resolved, "every resolution pays some house account on redemption: {tally:?}");
    assert!(tally.trades > 500, "takers trade: {tally:?}");
    // The model only sends orders it believes valid; the engine may still
    // refuse a few (a FAK that finds nothing, a quote racing a tick change).
    let refused: u64 = tally.refused.values().sum();
    assert!(refused * 50 < tally.placed, "refusals {:?} vs {} placed", tally.refused, tally.placed);
    assert!(two_sided * 10 >= samples * 9, "books two-sided {two_sided}/{samples}");
    spreads.sort_unstable();
    let median = spreads[spreads.len() / 2];
    assert!(median <= 300, "median spread {median} pips");
}

#[test]
fn synthetic_runs_are_reproducible_on_the_engine() {
    let go = || {
        let cfg = SyntheticConfig { markets: 2, market_duration_ms: 60_000, seed: 4, ..SyntheticConfig::default() };
        let mut source = SyntheticMarkets::new(cfg, 0).unwrap();
        let mut ex = Exchange::new(EngineConfig::default());
        let mut log = Vec::new();
        let mut now = 0;
        while now < 3 * 60_000 {
            let actions = source.step(now, &ex);
            let mut t = Tally::default();
            apply(&mut ex, actions, now, &mut t);
            ex.tick(now);
            log.push(serde_json::to_string(&ex.drain_events()).unwrap());
            now = source.next_step_ms().min(now + 250);
        }
        log
    };
    assert_eq!(go(), go());
}

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("NOTICE: skipping: real data not found at {}", dir.display());
        None
    }
}

#[test]
fn replayed_real_books_resolve_every_market_on_the_engine() {
    let Some(dir) = data_dir() else { return };
    let start = 1_795_000_000_000;
    let opts = ReplayOptions { pace: ReplayPace::AsFastAsCalled, ..ReplayOptions::new(start) };
    let mut source = ReplaySource::open(&dir, opts).unwrap();
    let mut ex = Exchange::new(EngineConfig::default());
    let mut tally = Tally::default();
    let mut now = start;
    let mut best_bids: u64 = 0;
    while !source.is_finished() {
        let actions = source.step(now, &ex);
        apply(&mut ex, actions, now, &mut tally);
        ex.tick(now);
        count_events(&mut ex, &mut tally);
        for m in ex.markets().iter().filter(|m| m.accepting_orders) {
            if ex.book(&m.spec.tokens[0].token_id).is_some_and(|b| !b.bids.is_empty()) {
                best_bids += 1;
            }
        }
        now += 1;
    }
    ex.audit().unwrap();
    assert_eq!(tally.resolved, 13, "{tally:?}");
    assert!(best_bids > 10_000, "books follow the snapshots ({best_bids})");
    // Near 0 and 1 the recording moves between the 0.01 and 0.001 grids and
    // the engine switches tick as the book crosses 0.96/0.04, so a few of the
    // replay maker's orders land on the grid being left; the next snapshot
    // re-places them on the new one.
    let refused: u64 = tally.refused.values().sum();
    assert!(refused * 100 < tally.placed, "refused {:?} of {} placed", tally.refused, tally.placed);
}
