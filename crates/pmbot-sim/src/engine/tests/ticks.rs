//! The tick turns finer near 0 and 1 and comes back, with hysteresis.

use pmbot_core::Side;

use super::*;
use crate::engine::{EngineEvent, Reject};

fn tick_changes(events: &[EngineEvent]) -> Vec<(TokenId, TickSize, TickSize)> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::TickSizeChanged { token, old, new, .. } => Some((token.clone(), *old, *new)),
            _ => None,
        })
        .collect()
}

#[test]
fn finer_tick_near_one_then_back_with_refusal_of_off_grid_orders() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    // 0.975 is off the listed 0.01 grid.
    let o = fx.order(alice(), &yes, Side::Buy, "0.975", "10");
    let id = o.id;
    assert_eq!(fx.ex.submit(o, T0), Err(Reject::OffTick { order: id, price: p("0.975"), tick: TickSize::Hundredth }));
    // A bid above 0.96 makes the tick finer, for both tokens.
    let bid = fx.place(alice(), &yes, Side::Buy, "0.97", "10");
    let (h, t) = (TickSize::Hundredth, TickSize::Thousandth);
    assert_eq!(tick_changes(&fx.ex.drain_events()), vec![(yes.clone(), h, t), (no.clone(), h, t)]);
    assert_eq!(fx.ex.market_of_token(&yes).unwrap().tick, t);
    assert_eq!(fx.ex.book(&no).unwrap().tick, t);
    let fine = fx.place(bob(), &yes, Side::Buy, "0.975", "10");
    // Still in the fine zone after the best bid leaves: 0.975 remains.
    fx.ex.cancel(bob(), &[fine], T0);
    fx.ex.drain_events();
    // Book back inside: the listed tick returns and 0.975 is refused again.
    fx.ex.cancel(alice(), &[bid], T0);
    assert_eq!(tick_changes(&fx.ex.drain_events()), vec![(yes.clone(), t, h), (no.clone(), t, h)]);
    let o = fx.order(alice(), &yes, Side::Buy, "0.975", "10");
    assert!(matches!(fx.ex.submit(o, T0), Err(Reject::OffTick { .. })));
    fx.audit();
}

#[test]
fn hysteresis_keeps_the_fine_tick_until_well_inside() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    let first = fx.place(alice(), &yes, Side::Buy, "0.97", "10");
    let second = fx.place(alice(), &yes, Side::Buy, "0.955", "10");
    fx.ex.drain_events();
    // Best bid 0.955: below the 0.96 entry but above the 0.95 exit: stays fine.
    fx.ex.cancel(alice(), &[first], T0);
    assert!(tick_changes(&fx.ex.drain_events()).is_empty());
    assert_eq!(fx.ex.market_of_token(&yes).unwrap().tick, TickSize::Thousandth);
    fx.place(alice(), &yes, Side::Buy, "0.95", "10");
    fx.ex.cancel(alice(), &[second], T0);
    assert_eq!(tick_changes(&fx.ex.drain_events()).len(), 2);
    assert_eq!(fx.ex.market_of_token(&yes).unwrap().tick, TickSize::Hundredth);
}

#[test]
fn the_mirror_token_near_zero_triggers_it_too() {
    let mut fx = Fx::new();
    let no = fx.no.clone();
    // BUY No at 0.97 is a Yes ask at 0.03 < 0.04.
    fx.place(alice(), &no, Side::Buy, "0.97", "10");
    assert_eq!(tick_changes(&fx.ex.drain_events()).len(), 2);
    assert_eq!(fx.ex.market_of_token(&no).unwrap().tick, TickSize::Thousandth);
    // A trade that removes the extreme quote brings the tick back.
    fx.split(bob(), "10");
    let o = fx.order(bob(), &no, Side::Sell, "0.97", "10");
    fx.ex.submit(o, T0).unwrap();
    assert_eq!(fx.ex.market_of_token(&no).unwrap().tick, TickSize::Hundredth);
}

#[test]
fn markets_listed_at_the_fine_tick_never_change() {
    let mut s = spec(1);
    s.tick = TickSize::Thousandth;
    let mut fx = Fx::with(EngineConfig::default(), s);
    let yes = fx.yes.clone();
    fx.place(alice(), &yes, Side::Buy, "0.985", "10");
    assert!(tick_changes(&fx.ex.drain_events()).is_empty());
}
