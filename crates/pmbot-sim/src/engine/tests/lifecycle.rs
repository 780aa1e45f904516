//! Cancels, GTD expiry, trade statuses, market close, resolution, pruning.

use pmbot_core::Side;

use super::*;
use crate::engine::{
    CancelCause, CancelOutcome, EngineEvent, NewOrder, OrderEventKind, OrderStatus, OrderType, Query, Reject,
    TradeStatus,
};

#[test]
fn cancel_own_order_releases_its_reservation() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    let id = fx.place(alice(), &yes, Side::Buy, "0.40", "10");
    fx.ex.drain_events();
    let out = fx.ex.cancel(alice(), &[id], T0 + 5);
    assert_eq!(out.canceled, vec![id]);
    assert!(out.not_canceled.is_empty());
    assert_eq!(fx.ex.collateral(alice()).reserved, Size::ZERO);
    assert_eq!(fx.ex.order(&id).unwrap().status, OrderStatus::Canceled);
    assert!(fx.ex.book(&yes).unwrap().bids.is_empty());
    let events = fx.ex.drain_events();
    assert!(matches!(&events[0], EngineEvent::Order { kind: OrderEventKind::Cancellation, order } if order.id == id));
    assert!(events.iter().any(|e| matches!(e, EngineEvent::LevelChanged { size, .. } if size.is_zero())));
    // Cancelling again reports the real reason.
    let again = fx.ex.cancel(alice(), &[id], T0 + 6);
    assert!(again.canceled.is_empty());
    assert_eq!(again.not_canceled[&id.to_string()], "order can't be found - already canceled or matched");
    fx.audit();
}

#[test]
fn cancelling_someone_elses_order_is_refused_and_changes_nothing() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    let id = fx.place(alice(), &yes, Side::Buy, "0.40", "10");
    fx.ex.drain_events();
    let before = state(&fx.ex);
    let out = fx.ex.cancel(bob(), &[id], T0);
    assert!(out.canceled.is_empty());
    assert_eq!(out.not_canceled.len(), 1);
    assert_eq!(state(&fx.ex), before);
    assert!(fx.ex.drain_events().is_empty());
    assert_eq!(fx.ex.cancel_all(bob(), T0), CancelOutcome::default());
    assert_eq!(fx.ex.order(&id).unwrap().status, OrderStatus::Live);
    assert_eq!(Reject::NotOwner.message(), "order can't be found - already canceled or matched");
}

#[test]
fn cancel_all_and_cancel_by_market_or_token() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    let mut s2 = spec(2);
    s2.min_order_size = Size::from_shares(1);
    fx.ex.list_market(s2, T0).unwrap();
    let other = token(2, 0);
    let a = fx.place(alice(), &yes, Side::Buy, "0.40", "10");
    let b = fx.place(alice(), &no, Side::Buy, "0.40", "10");
    let c = fx.place(alice(), &other, Side::Buy, "0.40", "10");
    let out = fx.ex.cancel_market(alice(), None, Some(&no), T0);
    assert_eq!(out.canceled, vec![b]);
    let m1 = fx.market();
    let out = fx.ex.cancel_market(alice(), Some(&m1), None, T0);
    assert_eq!(out.canceled, vec![a]);
    let d = fx.place(alice(), &yes, Side::Buy, "0.30", "10");
    let out = fx.ex.cancel_all(alice(), T0);
    assert_eq!(out.canceled, vec![c, d], "oldest first");
    assert_eq!(fx.ex.collateral(alice()).reserved, Size::ZERO);
    fx.audit();
}

#[test]
fn gtd_expires_at_expiration_minus_the_threshold() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    let now_s = (T0 / 1000) as u64;
    let o = NewOrder { expiration_s: now_s + 90, ..fx.typed(alice(), &yes, Side::Buy, "0.40", "10", OrderType::Gtd) };
    fx.ex.submit(o.clone(), T0).unwrap();
    fx.ex.drain_events();
    fx.ex.tick(T0 + 29_999);
    assert_eq!(fx.ex.order(&o.id).unwrap().status, OrderStatus::Live);
    assert!(fx.ex.drain_events().is_empty());
    fx.ex.tick(T0 + 30_000);
    assert_eq!(fx.ex.order(&o.id).unwrap().status, OrderStatus::Canceled);
    assert_eq!(fx.ex.collateral(alice()).reserved, Size::ZERO);
    let events = fx.ex.drain_events();
    assert!(matches!(&events[0], EngineEvent::Order { kind: OrderEventKind::Cancellation, .. }));
    fx.audit();
}

#[test]
fn trade_status_goes_matched_mined_confirmed() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(bob(), "10");
    fx.place(bob(), &yes, Side::Sell, "0.50", "10");
    let o = fx.order(alice(), &yes, Side::Buy, "0.50", "10");
    let trade_id = fx.ex.submit(o, T0).unwrap().trade_ids[0].clone();
    fx.ex.drain_events();
    let status = |fx: &Fx| fx.ex.trades(alice(), &Query::default())[0].status;
    assert_eq!(status(&fx), TradeStatus::Matched);
    fx.ex.tick(T0 + 999);
    assert!(fx.ex.drain_events().is_empty());
    fx.ex.tick(T0 + 1_000);
    let ev = fx.ex.drain_events();
    let mined = match &ev[..] {
        [EngineEvent::Trade(t)] => t.clone(),
        other => panic!("expected one trade event, got {other:?}"),
    };
    assert_eq!((mined.id.as_str(), mined.status), (trade_id.as_str(), TradeStatus::Mined));
    assert!(mined.transaction_hash.is_some());
    assert_eq!(status(&fx), TradeStatus::Mined);
    fx.ex.tick(T0 + 3_000);
    let ev = fx.ex.drain_events();
    assert!(
        matches!(&ev[..], [EngineEvent::Trade(t)] if t.status == TradeStatus::Confirmed && t.transaction_hash == mined.transaction_hash)
    );
    assert_eq!(fx.ex.trades(bob(), &Query::default())[0].status, TradeStatus::Confirmed);
}

#[test]
fn market_closes_at_end_time_and_orders_stay_cancellable() {
    let mut s = spec(1);
    s.end_ms = Some(T0 + 60_000);
    let mut fx = Fx::with(EngineConfig::default(), s);
    let yes = fx.yes.clone();
    let id = fx.place(alice(), &yes, Side::Buy, "0.40", "10");
    fx.ex.tick(T0 + 60_000);
    let info = fx.ex.market_of_token(&yes).unwrap();
    assert!(!info.accepting_orders && info.closed && info.winner.is_none());
    let o = fx.order(bob(), &yes, Side::Buy, "0.40", "10");
    assert_eq!(fx.ex.submit(o, T0 + 60_001), Err(Reject::MarketClosed));
    assert_eq!(fx.ex.cancel(alice(), &[id], T0 + 60_002).canceled, vec![id]);
}

/// Resolution cancels the resting orders and pays nothing: holders keep
/// their tokens, and the collateral stays locked, until they redeem
/// (polymarket-protocol.md corrections 5).
#[test]
fn resolution_cancels_orders_and_pays_nothing_until_redeemed() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.place(alice(), &no, Side::Buy, "0.40", "10");
    let o = fx.order(bob(), &yes, Side::Buy, "0.60", "10");
    fx.ex.submit(o, T0).unwrap(); // mint: bob 10 Yes, alice 10 No
    let resting = fx.place(carol(), &yes, Side::Buy, "0.30", "10");
    fx.ex.drain_events();
    let m = fx.market();
    assert_eq!(fx.ex.redeem(bob(), &m), Err(Reject::NotResolved));
    fx.ex.resolve(&m, &yes, T0 + 1).unwrap();
    let cancelled = fx.ex.order(&resting).unwrap();
    assert_eq!((cancelled.status, cancelled.cancel_cause), (OrderStatus::Canceled, Some(CancelCause::MarketResolved)));
    assert_eq!(fx.cash(bob()), usd("994"), "paid 6, nothing credited yet");
    assert_eq!(fx.cash(alice()), usd("996"));
    assert_eq!(fx.cash(carol()), usd("1000"));
    assert_eq!(fx.ex.collateral(carol()).reserved, Size::ZERO);
    assert_eq!((fx.held(bob(), &yes), fx.held(alice(), &no)), (sz("10"), sz("10")), "tokens stay");
    let events = fx.ex.drain_events();
    assert!(matches!(events.last(), Some(EngineEvent::MarketResolved { winning_token, .. }) if *winning_token == yes));
    assert!(events.iter().any(|e| matches!(e, EngineEvent::Order { kind: OrderEventKind::Cancellation, .. })));
    let info = fx.ex.market(&m).unwrap();
    assert_eq!(info.winner, Some(yes.clone()));
    assert!(!info.accepting_orders);
    let o = fx.order(bob(), &yes, Side::Buy, "0.40", "10");
    assert_eq!(fx.ex.submit(o, T0 + 2), Err(Reject::MarketClosed));
    assert_eq!(fx.ex.resolve(&m, &yes, T0 + 3), Err(Reject::AlreadyResolved));
    fx.audit();

    let r = fx.ex.redeem(bob(), &m).unwrap();
    assert_eq!((r.payout, r.winning_burned, r.losing_burned), (usd("10"), sz("10"), Size::ZERO));
    assert_eq!((fx.cash(bob()), fx.held(bob(), &yes)), (usd("1004"), Size::ZERO));
    let r = fx.ex.redeem(alice(), &m).unwrap();
    assert_eq!((r.payout, r.losing_burned), (Usdc::ZERO, sz("10")), "losing shares burn for nothing");
    assert_eq!((fx.cash(alice()), fx.held(alice(), &no)), (usd("996"), Size::ZERO));
    let again = fx.ex.redeem(bob(), &m).unwrap();
    assert_eq!(again.payout, Usdc::ZERO, "a second redemption pays nothing");
    assert_eq!(fx.cash(bob()), usd("1004"));
    assert_eq!(fx.ex.redeem(bob(), &Hash32([9; 32])), Err(Reject::UnknownMarket));
    fx.audit();
}

/// Holdings nobody redeemed survive pruning in compact form: still listed
/// by `shares` and still redeemable, while the book and orders are freed.
#[test]
fn unredeemed_holdings_outlive_pruning() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.place(alice(), &no, Side::Buy, "0.40", "10");
    let o = fx.order(bob(), &yes, Side::Buy, "0.60", "10");
    fx.ex.submit(o, T0).unwrap();
    let m = fx.market();
    fx.ex.resolve(&m, &yes, T0 + 1).unwrap();
    fx.ex.prune_resolved(T0 + 2);
    assert!(fx.ex.market(&m).is_none() && fx.ex.book(&yes).is_none());
    assert_eq!((fx.held(bob(), &yes), fx.held(alice(), &no)), (sz("10"), sz("10")));
    fx.audit();
    let mut again = spec(1);
    again.slug = "relisted".into();
    assert_eq!(fx.ex.list_market(again, T0 + 3), Err(Reject::DuplicateMarket), "its ids are still taken");
    assert_eq!(fx.ex.redeem(bob(), &m).unwrap().payout, usd("10"));
    assert_eq!(fx.cash(bob()), usd("1004"));
    fx.audit();
    assert_eq!(fx.ex.redeem(alice(), &m).unwrap().losing_burned, sz("10"));
    assert_eq!(fx.held(alice(), &no), Size::ZERO);
    assert!(fx.ex.settled.markets_len() == 0, "fully redeemed: forgotten");
    assert_eq!(fx.ex.redeem(alice(), &m), Err(Reject::UnknownMarket));
    fx.audit();
}

#[test]
fn pruning_frees_resolved_markets() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    let m = fx.market();
    let id = fx.place(alice(), &yes, Side::Buy, "0.40", "10");
    fx.ex.resolve(&m, &yes, T0 + 10).unwrap();
    fx.ex.prune_resolved(T0 + 10);
    assert!(fx.ex.market(&m).is_some(), "resolved at the bound: kept");
    fx.ex.prune_resolved(T0 + 11);
    assert!(fx.ex.market(&m).is_none());
    assert!(fx.ex.book(&yes).is_none());
    assert!(fx.ex.order(&id).is_none());
    assert!(fx.ex.markets().is_empty());
    assert!(fx.ex.orders.records.is_empty() && fx.ex.orders.resting.is_empty());
    fx.audit();
}

#[test]
fn rotating_markets_do_not_grow_memory() {
    let cfg = EngineConfig { max_trades_per_account: 5, ..EngineConfig::default() };
    let mut ex = Exchange::new(cfg);
    ex.fund(alice(), Usdc::from_whole(1_000_000)).unwrap();
    ex.fund(bob(), Usdc::from_whole(1_000_000)).unwrap();
    for round in 0..50u8 {
        let s = spec(round);
        let (yes, no, m) = (s.tokens[0].token_id.clone(), s.tokens[1].token_id.clone(), s.condition_id);
        let now = T0 + i64::from(round) * 900_000;
        ex.list_market(s, now).unwrap();
        for k in 0..4u64 {
            let id = oid(u64::from(round) * 100 + k * 2);
            let o = NewOrder {
                id,
                maker: alice(),
                owner: alice(),
                api_key: "a".into(),
                token: no.clone(),
                side: Side::Buy,
                price: p("0.40"),
                size: sz("10"),
                order_type: OrderType::Gtc,
                post_only: false,
                expiration_s: 0,
            };
            ex.submit(o.clone(), now).unwrap();
            let t = NewOrder {
                id: oid(u64::from(round) * 100 + k * 2 + 1),
                maker: bob(),
                owner: bob(),
                token: yes.clone(),
                price: p("0.60"),
                ..o
            };
            ex.submit(t, now).unwrap();
        }
        ex.tick(now + 5_000);
        ex.resolve(&m, &yes, now + 800_000).unwrap();
        // Both redeem, as the market sources' house accounts do.
        ex.redeem(alice(), &m).unwrap();
        ex.redeem(bob(), &m).unwrap();
        ex.prune_resolved(now + 800_001);
        ex.drain_events();
    }
    assert!(ex.markets.is_empty() && ex.by_token.is_empty() && ex.by_condition.is_empty());
    assert_eq!(ex.settled.markets_len(), 0, "nothing left to redeem, nothing kept");
    assert!(ex.orders.records.is_empty() && ex.orders.seq_of.is_empty());
    assert_eq!(ex.trades(alice(), &Query::default()).len(), 5);
    assert!(ex.trades.stored_len() <= 10, "only the last trades of each account are kept");
    ex.audit().unwrap();
}
