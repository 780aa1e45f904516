//! Price-time priority, partial fills, mirror books, order types, self-trades.

use pmbot_core::Side;

use super::*;
use crate::engine::{Level, NewOrder, OrderStatus, OrderType, Query, SelfTradePolicy};

fn levels(ls: &[Level]) -> Vec<(String, String)> {
    ls.iter().map(|l| (l.price.to_string(), l.size.to_string())).collect()
}

fn lv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn price_then_time_priority() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    for who in [alice(), bob(), carol()] {
        fx.split(who, "100");
    }
    let late_best = {
        fx.place(alice(), &yes, Side::Sell, "0.55", "10");
        fx.place(bob(), &yes, Side::Sell, "0.55", "10");
        fx.place(carol(), &yes, Side::Sell, "0.54", "10")
    };
    let dave = addr(0xd0);
    fx.ex.fund(dave, Usdc::from_whole(100)).unwrap();
    let o = fx.order(dave, &yes, Side::Buy, "0.55", "25");
    let out = fx.ex.submit(o, T0).unwrap();
    assert_eq!(out.status, OrderStatus::Matched);
    // Best price first (carol, though last to arrive), then alice before bob.
    assert_eq!(fx.ex.order(&late_best).unwrap().status, OrderStatus::Matched);
    assert_eq!(fx.held(alice(), &yes), sz("90"));
    assert_eq!(fx.held(bob(), &yes), sz("95"));
    assert_eq!(fx.held(dave, &yes), sz("25"));
    // 10 x 0.54 + 15 x 0.55 = 13.65, each at the maker's price.
    assert_eq!(out.making_amount, sz("13.65"));
    assert_eq!(out.taking_amount, sz("25"));
    assert_eq!(out.trade_ids.len(), 2, "one trade per price level");
    let book = fx.ex.book(&yes).unwrap();
    assert_eq!(levels(&book.asks), lv(&[("0.55", "5")]));
    fx.audit();
}

#[test]
fn partial_fill_rests_the_remainder() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(bob(), "100");
    let maker = fx.place(bob(), &yes, Side::Sell, "0.50", "10");
    let o = fx.order(alice(), &yes, Side::Buy, "0.52", "30");
    let out = fx.ex.submit(o.clone(), T0).unwrap();
    assert_eq!(out.status, OrderStatus::Live);
    assert_eq!(out.making_amount, sz("5"));
    let rec = fx.ex.order(&o.id).unwrap();
    assert_eq!((rec.size_matched, rec.status), (sz("10"), OrderStatus::Live));
    assert_eq!(fx.ex.order(&maker).unwrap().status, OrderStatus::Matched);
    let book = fx.ex.book(&yes).unwrap();
    assert_eq!(levels(&book.bids), lv(&[("0.52", "20")]));
    assert!(book.asks.is_empty());
    // Paid 5 for the fill, 20 x 0.52 = 10.4 reserved for the rest.
    let c = fx.ex.collateral(alice());
    assert_eq!((c.total, c.reserved), (sz("995"), sz("10.4")));
    // A maker partially filled keeps its place and the rest of its reservation.
    fx.split(carol(), "10");
    let sell = fx_sell(&mut fx, carol(), "0.40", "5");
    let out = fx.ex.submit(sell, T0).unwrap();
    assert_eq!(out.status, OrderStatus::Matched);
    let rec = fx.ex.order(&o.id).unwrap();
    assert_eq!(rec.size_matched, sz("15"));
    assert_eq!(fx.ex.collateral(alice()).reserved, sz("7.8"));
    let open = fx.ex.open_orders(alice(), &Query::default());
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, o.id);
    fx.audit();
}

fn fx_sell(fx: &mut Fx, who: Address, price: &str, size: &str) -> NewOrder {
    let yes = fx.yes.clone();
    fx.order(who, &yes, Side::Sell, price, size)
}

#[test]
fn mirror_books_show_the_other_token_at_the_complement() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    // BUY No at 0.45 is a Yes ask at 0.55; SELL No at 0.70 (needs No shares) a Yes bid at 0.30.
    fx.place(alice(), &no, Side::Buy, "0.45", "10");
    fx.split(bob(), "20");
    fx.place(bob(), &no, Side::Sell, "0.70", "20");
    let y = fx.ex.book(&yes).unwrap();
    assert_eq!(levels(&y.asks), lv(&[("0.55", "10")]));
    assert_eq!(levels(&y.bids), lv(&[("0.3", "20")]));
    let n = fx.ex.book(&no).unwrap();
    assert_eq!(levels(&n.bids), lv(&[("0.45", "10")]));
    assert_eq!(levels(&n.asks), lv(&[("0.7", "20")]));
    // A Yes buyer at 0.55 meets the No buyer: a mint.
    let o = fx.order(carol(), &yes, Side::Buy, "0.55", "10");
    fx.ex.submit(o, T0).unwrap();
    assert_eq!(fx.held(carol(), &yes), sz("10"));
    assert_eq!(fx.held(alice(), &no), sz("10"));
    assert!(fx.ex.book(&no).unwrap().bids.is_empty());
    assert_eq!(fx.ex.book(&no).unwrap().last_trade_price, Some(p("0.45")));
    assert_eq!(fx.ex.book(&yes).unwrap().last_trade_price, Some(p("0.55")));
    assert_eq!(fx.ex.market_of_token(&no).unwrap().last_price, Some(p("0.55")), "in Yes terms");
    fx.audit();
}

#[test]
fn fok_is_all_or_nothing() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(bob(), "100");
    fx.place(bob(), &yes, Side::Sell, "0.50", "10");
    fx.place(bob(), &yes, Side::Sell, "0.51", "10");
    let o = fx.typed(alice(), &yes, Side::Buy, "0.51", "20", OrderType::Fok);
    let out = fx.ex.submit(o.clone(), T0).unwrap();
    assert_eq!(out.status, OrderStatus::Matched);
    assert_eq!(out.taking_amount, sz("20"));
    assert_eq!(fx.ex.order(&o.id).unwrap().status, OrderStatus::Matched);
    assert!(fx.ex.book(&yes).unwrap().asks.is_empty());
    assert!(fx.ex.open_orders(alice(), &Query::default()).is_empty());
    fx.audit();
}

#[test]
fn fak_fills_what_it_can_and_kills_the_rest() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(bob(), "100");
    fx.place(bob(), &yes, Side::Sell, "0.50", "10");
    fx.place(bob(), &yes, Side::Sell, "0.60", "10");
    let o = fx.typed(alice(), &yes, Side::Buy, "0.55", "30", OrderType::Fak);
    let out = fx.ex.submit(o.clone(), T0).unwrap();
    assert_eq!(out.status, OrderStatus::Unmatched);
    assert_eq!((out.making_amount, out.taking_amount), (sz("5"), sz("10")));
    let rec = fx.ex.order(&o.id).unwrap();
    assert_eq!((rec.status, rec.size_matched), (OrderStatus::Unmatched, sz("10")));
    let book = fx.ex.book(&yes).unwrap();
    assert!(book.bids.is_empty(), "the FAK remainder does not rest");
    assert_eq!(levels(&book.asks), lv(&[("0.6", "10")]));
    assert_eq!(fx.ex.collateral(alice()).reserved, Size::ZERO);
    fx.audit();
}

#[test]
fn post_only_rests_when_it_does_not_cross() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(bob(), "100");
    fx.place(bob(), &yes, Side::Sell, "0.50", "10");
    let o = NewOrder { post_only: true, ..fx.order(alice(), &yes, Side::Buy, "0.49", "10") };
    assert_eq!(fx.ex.submit(o, T0).unwrap().status, OrderStatus::Live);
    assert_eq!(levels(&fx.ex.book(&yes).unwrap().bids), lv(&[("0.49", "10")]));
}

#[test]
fn self_trade_cancels_the_resting_order_by_default() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(alice(), "50");
    fx.split(bob(), "50");
    let own = fx.place(alice(), &yes, Side::Sell, "0.50", "10");
    fx.place(bob(), &yes, Side::Sell, "0.51", "10");
    let o = fx.order(alice(), &yes, Side::Buy, "0.51", "10");
    let out = fx.ex.submit(o, T0).unwrap();
    assert_eq!(out.status, OrderStatus::Matched);
    assert_eq!(fx.ex.order(&own).unwrap().status, OrderStatus::Canceled);
    // alice bought bob's 10 at 0.51 and never traded with herself.
    assert_eq!(fx.held(bob(), &yes), sz("40"));
    assert_eq!(fx.held(alice(), &yes), sz("60"));
    assert!(fx.ex.trades(alice(), &Query::default()).iter().all(|t| t.makers.iter().all(|m| m.maker != alice())));
    fx.audit();
}

#[test]
fn self_trade_policy_cancel_taker() {
    let cfg = EngineConfig { self_trade: SelfTradePolicy::CancelTaker, ..EngineConfig::default() };
    let mut fx = Fx::with(cfg, spec(1));
    let yes = fx.yes.clone();
    fx.split(alice(), "50");
    fx.split(bob(), "50");
    fx.place(bob(), &yes, Side::Sell, "0.50", "5");
    let own = fx.place(alice(), &yes, Side::Sell, "0.51", "10");
    fx.place(bob(), &yes, Side::Sell, "0.52", "10");
    let o = fx.order(alice(), &yes, Side::Buy, "0.52", "20");
    let out = fx.ex.submit(o.clone(), T0).unwrap();
    // Fills bob's 5, stops at its own ask; the rest is cancelled, not rested.
    assert_eq!(out.status, OrderStatus::Canceled);
    assert_eq!(fx.ex.order(&o.id).unwrap().size_matched, sz("5"));
    assert_eq!(fx.ex.order(&own).unwrap().status, OrderStatus::Live);
    assert!(fx.ex.book(&yes).unwrap().bids.is_empty());
    // A FOK that could only fill past its own order is refused.
    let o = fx.typed(alice(), &yes, Side::Buy, "0.52", "11", OrderType::Fok);
    assert_eq!(fx.ex.submit(o, T0), Err(crate::engine::Reject::FokNotFilled));
    fx.audit();
}

#[test]
fn self_trade_policy_allow() {
    let cfg = EngineConfig { self_trade: SelfTradePolicy::Allow, ..EngineConfig::default() };
    let mut fx = Fx::with(cfg, spec(1));
    let yes = fx.yes.clone();
    fx.split(alice(), "50");
    fx.place(alice(), &yes, Side::Sell, "0.50", "10");
    let o = fx.order(alice(), &yes, Side::Buy, "0.50", "10");
    assert_eq!(fx.ex.submit(o, T0).unwrap().status, OrderStatus::Matched);
    assert_eq!(fx.held(alice(), &yes), sz("50"));
    assert_eq!(fx.cash(alice()), usd("950"));
    assert_eq!(fx.ex.trades(alice(), &Query::default()).len(), 1, "listed once though taker and maker");
    fx.audit();
}

#[test]
fn expired_gtd_orders_do_not_match_and_are_removed_on_submit() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(bob(), "10");
    let now_s = (T0 / 1000) as u64;
    let gtd = NewOrder { expiration_s: now_s + 90, ..fx.typed(bob(), &yes, Side::Sell, "0.50", "10", OrderType::Gtd) };
    fx.ex.submit(gtd.clone(), T0).unwrap();
    // 30 s of effective life; at +30 s it is gone even before any tick.
    let o = fx.typed(alice(), &yes, Side::Buy, "0.50", "10", OrderType::Fak);
    assert_eq!(fx.ex.submit(o.clone(), T0 + 30_000), Err(crate::engine::Reject::FakNoMatch));
    let o = fx.order(alice(), &yes, Side::Buy, "0.50", "10");
    assert_eq!(fx.ex.submit(o, T0 + 30_000).unwrap().status, OrderStatus::Live);
    assert_eq!(fx.ex.order(&gtd.id).unwrap().status, OrderStatus::Canceled);
    assert_eq!(fx.ex.shares(bob(), &yes).reserved, Size::ZERO);
    fx.audit();
}
