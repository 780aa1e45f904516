//! What the engine reports, in what order, and that it is reproducible.

use pmbot_core::Side;

use super::*;
use crate::engine::{EngineEvent, OrderEventKind, OrderStatus};

#[test]
fn level_changes_for_both_tokens_with_best_prices() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.place(alice(), &yes, Side::Buy, "0.40", "10");
    let events = fx.ex.drain_events();
    let levels: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::LevelChanged { token, side, price, size, best_bid, best_ask, .. } => {
                Some((token.clone(), *side, *price, *size, *best_bid, *best_ask))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        levels,
        vec![
            (yes, Side::Buy, p("0.40"), sz("10"), Some(p("0.40")), None),
            (no, Side::Sell, p("0.60"), sz("10"), None, Some(p("0.60"))),
        ]
    );
    assert!(
        matches!(&events[0], EngineEvent::Order { kind: OrderEventKind::Placement, order } if order.status == OrderStatus::Live)
    );
}

#[test]
fn one_trade_per_level_listing_every_maker_then_updates() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.split(bob(), "100");
    let m1 = fx.place(bob(), &yes, Side::Sell, "0.55", "10");
    let m2 = fx.place(carol(), &no, Side::Buy, "0.45", "10"); // Yes ask at 0.55 too
    let m3 = fx.place(bob(), &yes, Side::Sell, "0.56", "10");
    fx.ex.drain_events();
    let o = fx.order(alice(), &yes, Side::Buy, "0.56", "25");
    let taker = o.id;
    fx.ex.submit(o, T0).unwrap();
    let events = fx.ex.drain_events();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            EngineEvent::Trade(t) => format!("trade {} x{}", t.price, t.makers.len()),
            EngineEvent::Order { order, kind } => {
                format!("{kind:?} {}", if order.id == taker { "taker".into() } else { order.id.to_string() })
            }
            EngineEvent::LevelChanged { token, price, size, .. } => {
                format!("level {} {price} {size}", if *token == yes { "yes" } else { "no" })
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "trade 0.55 x2".to_string(),
            format!("Update {m1}"),
            format!("Update {m2}"),
            "trade 0.56 x1".to_string(),
            format!("Update {m3}"),
            "Update taker".to_string(),
            "level yes 0.55 0".to_string(),
            "level no 0.45 0".to_string(),
            "level yes 0.56 5".to_string(),
            "level no 0.44 5".to_string(),
        ]
    );
    let EngineEvent::Trade(first) = &events[0] else { unreachable!() };
    let makers: Vec<_> = first.makers.iter().map(|m| (m.order_id, m.token.clone(), m.side, m.price)).collect();
    assert_eq!(makers, vec![(m1, yes.clone(), Side::Sell, p("0.55")), (m2, no, Side::Buy, p("0.45"))]);
    assert_eq!(first.size, sz("20"));
    assert_eq!(first.makers[1].api_key, format!("key-{}", carol()));
    fx.audit();
}

/// A scripted session touching every kind of event.
fn session() -> Vec<String> {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.split(bob(), "50");
    fx.place(bob(), &yes, Side::Sell, "0.55", "10");
    fx.place(carol(), &no, Side::Buy, "0.40", "20");
    let o = fx.order(alice(), &yes, Side::Buy, "0.60", "15");
    fx.ex.submit(o, T0 + 1).unwrap();
    fx.place(alice(), &yes, Side::Buy, "0.97", "5");
    fx.ex.tick(T0 + 5_000);
    let m = fx.market();
    fx.ex.resolve(&m, &no, T0 + 6_000).unwrap();
    json(&fx.ex.drain_events())
}

#[test]
fn same_inputs_same_events() {
    let a = session();
    assert!(a.len() > 20, "the session exercises the engine: {} events", a.len());
    assert_eq!(a, session());
    // Trade ids are uuid v5 of a counter, so stable across runs and processes.
    assert!(a.iter().any(|e| e.contains("\"status\":\"CONFIRMED\"")));
}
