//! Every refusal: the right variant, the real API's text, and no change at all.

use pmbot_core::{Side, TokenId, Usdc};

use super::*;
use crate::engine::{Allowance, NewOrder, OrderType, Reject, Spender};

/// Submits `order` to a populated book and checks it is refused with
/// `expected`, leaving the state and the event queue untouched.
fn refused(fx: &mut Fx, order: NewOrder, now_ms: i64, expected: Reject) {
    fx.ex.drain_events();
    let before = state(&fx.ex);
    let got = fx.ex.submit(order, now_ms);
    assert_eq!(got, Err(expected));
    assert_eq!(state(&fx.ex), before, "a refused order changed the engine state");
    assert!(fx.ex.drain_events().is_empty());
}

/// Market 1 with a resting ask (bob: SELL 10 Yes at 0.60) and a resting bid
/// (carol: BUY 10 Yes at 0.40), plus carol's own Yes shares.
fn populated() -> Fx {
    let mut fx = Fx::new();
    fx.split(bob(), "100");
    let yes = fx.yes.clone();
    fx.place(bob(), &yes, Side::Sell, "0.60", "10");
    fx.place(carol(), &yes, Side::Buy, "0.40", "10");
    fx.ex.drain_events();
    fx
}

#[test]
fn unknown_token() {
    let mut fx = populated();
    let o = fx.order(alice(), &TokenId::parse("999").unwrap(), Side::Buy, "0.5", "10");
    refused(&mut fx, o, T0, Reject::UnknownToken);
}

#[test]
fn market_closed_at_end_time() {
    let mut s = spec(2);
    s.end_ms = Some(T0 + 60_000);
    let mut fx = Fx::with(EngineConfig::default(), s);
    let yes = fx.yes.clone();
    let o = fx.order(alice(), &yes, Side::Buy, "0.5", "10");
    // Before tick notices, the submit itself sees end_ms has passed.
    refused(&mut fx, o.clone(), T0 + 60_000, Reject::MarketClosed);
    assert!(fx.ex.submit(o, T0 + 59_999).is_ok());
}

#[test]
fn price_outside_tick_range_and_off_tick() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    let o = fx.order(alice(), &yes, Side::Buy, "0.995", "10");
    refused(&mut fx, o, T0, Reject::PriceOutOfRange { price: p("0.995"), min: p("0.01"), max: p("0.99") });
    let o = fx.order(alice(), &yes, Side::Buy, "0.005", "10");
    refused(&mut fx, o, T0, Reject::PriceOutOfRange { price: p("0.005"), min: p("0.01"), max: p("0.99") });
    let o = fx.order(alice(), &yes, Side::Buy, "0.555", "10");
    let id = o.id;
    refused(&mut fx, o, T0, Reject::OffTick { order: id, price: p("0.555"), tick: TickSize::Hundredth });
    let msg = Reject::OffTick { order: id, price: p("0.555"), tick: TickSize::Hundredth }.message();
    assert_eq!(msg, format!("order {id} is invalid. Price (0.555) breaks minimum tick size rule: 0.01"));
}

#[test]
fn below_min_size_for_resting_orders_only() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    let o = fx.order(alice(), &yes, Side::Buy, "0.5", "4.99");
    let id = o.id;
    refused(&mut fx, o, T0, Reject::BelowMinSize { order: id, size: sz("4.99"), min: sz("5") });
    assert_eq!(
        Reject::BelowMinSize { order: id, size: sz("4.99"), min: sz("5") }.message(),
        format!("order {id} is invalid. Size (4.99) lower than the minimum: 5")
    );
    // A FAK of 2 shares at 0.60 ($1.20) has no share minimum.
    let o = fx.typed(alice(), &yes, Side::Buy, "0.60", "2", OrderType::Fak);
    assert!(fx.ex.submit(o, T0).is_ok());
}

#[test]
fn below_min_notional_for_marketable_orders() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    let o = fx.typed(alice(), &yes, Side::Buy, "0.60", "1.5", OrderType::Fok);
    let expected = Reject::BelowMinNotional { side: Side::Buy, notional: usd("0.9"), min: usd("1") };
    assert_eq!(expected.message(), "invalid amount for a marketable BUY order ($0.9), min size: $1");
    refused(&mut fx, o, T0, expected);
    // A GTC that crosses on arrival is marketable too: 5 shares at 0.15 sell into the 0.40 bid.
    fx.split(alice(), "10");
    let o = fx.order(alice(), &yes, Side::Sell, "0.15", "5");
    refused(&mut fx, o, T0, Reject::BelowMinNotional { side: Side::Sell, notional: usd("0.75"), min: usd("1") });
    // The same GTC that does not cross is fine.
    let o = fx.order(alice(), &yes, Side::Sell, "0.70", "5");
    assert!(fx.ex.submit(o, T0).is_ok());
}

#[test]
fn duplicate_order_id() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    let o = fx.order(alice(), &yes, Side::Buy, "0.30", "10");
    fx.ex.submit(o.clone(), T0).unwrap();
    refused(&mut fx, o.clone(), T0, Reject::Duplicate { order: o.id });
    assert_eq!(Reject::Duplicate { order: o.id }.message(), format!("order {} is invalid. Duplicated.", o.id));
}

#[test]
fn insufficient_balance_buy_and_sell() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    // alice has 1000 pUSD: 2000 shares at 0.51 cost 1020.
    let o = fx.order(alice(), &yes, Side::Buy, "0.51", "2000");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    // Reserved collateral is not available: after resting 1000 x 0.5 = 500, 1001 x 0.5 is too much.
    fx.place(alice(), &yes, Side::Buy, "0.50", "1000");
    let o = fx.order(alice(), &yes, Side::Buy, "0.50", "1001");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    // alice holds no shares to sell.
    let o = fx.order(alice(), &yes, Side::Sell, "0.70", "10");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    assert_eq!(Reject::InsufficientBalance.message(), "not enough balance / allowance");
}

/// Every contract the market settles through must cover the order: a BUY
/// needs the pUSD allowance for all it then promises, a SELL the operator's
/// token approval. Refused like a short balance.
#[test]
fn allowances_and_approvals_are_checked() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    fx.ex.approve(alice(), &Spender::ALL, Some(Allowance::NONE), None);
    let o = fx.order(alice(), &yes, Side::Buy, "0.50", "10");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    // 5 pUSD allowed: a 10-share bid at 0.50 fits, 5 more shares do not.
    fx.ex.approve(alice(), &[Spender::CtfExchangeV2], Some(Allowance::Limited(5_000_000)), None);
    fx.place(alice(), &yes, Side::Buy, "0.50", "10");
    let o = fx.order(alice(), &yes, Side::Buy, "0.50", "5");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    // bob holds shares but revoked the exchange's token approval.
    fx.ex.approve(bob(), &[Spender::CtfExchangeV2], None, Some(false));
    let o = fx.order(bob(), &yes, Side::Sell, "0.70", "10");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    // Approvals on another contract do not help on this market.
    fx.ex.approve(bob(), &[Spender::NegRiskExchangeV2, Spender::ExchangeV3], None, Some(true));
    let o = fx.order(bob(), &yes, Side::Sell, "0.70", "10");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    fx.ex.approve(bob(), &[Spender::CtfExchangeV2], None, Some(true));
    fx.place(bob(), &yes, Side::Sell, "0.70", "10");
    fx.audit();
}

/// With `approve_on_fund` off, funding approves nothing: the account must
/// approve before its first order, and funding later never overrides that.
#[test]
fn without_approve_on_fund_accounts_start_unapproved() {
    let cfg = EngineConfig { approve_on_fund: false, ..EngineConfig::default() };
    let mut fx = Fx::with(cfg, spec(1));
    let yes = fx.yes.clone();
    assert_eq!(fx.ex.approvals(alice()).allowance(Spender::CtfExchangeV2), Allowance::NONE);
    let o = fx.order(alice(), &yes, Side::Buy, "0.40", "10");
    refused(&mut fx, o, T0, Reject::InsufficientBalance);
    fx.ex.approve(alice(), &Spender::ALL, Some(Allowance::Unlimited), Some(true));
    fx.place(alice(), &yes, Side::Buy, "0.40", "10");

    let mut on = Fx::new();
    on.ex.approve(carol(), &Spender::ALL, Some(Allowance::NONE), Some(false));
    on.ex.fund(carol(), Usdc::from_whole(5)).unwrap();
    assert_eq!(
        on.ex.approvals(carol()).allowance(Spender::CtfExchangeV2),
        Allowance::NONE,
        "funding kept the revocation"
    );
}

#[test]
fn post_only_rules() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    let o = NewOrder { post_only: true, ..fx.order(alice(), &yes, Side::Buy, "0.60", "10") };
    refused(&mut fx, o, T0, Reject::PostOnlyCrosses);
    let o = NewOrder { post_only: true, ..fx.typed(alice(), &yes, Side::Buy, "0.60", "10", OrderType::Fak) };
    refused(&mut fx, o, T0, Reject::PostOnlyNotAllowed);
    assert_eq!(Reject::PostOnlyCrosses.message(), "invalid post-only order: order crosses book");
    // Crossing through the mirror counts: BUY No at 0.61 rests as a Yes ask at
    // 0.39, under carol's Yes bid at 0.40; at 0.59 (a Yes ask at 0.41) it does not.
    let no = fx.no.clone();
    let o = NewOrder { post_only: true, ..fx.order(alice(), &no, Side::Buy, "0.61", "10") };
    refused(&mut fx, o, T0, Reject::PostOnlyCrosses);
    let o = NewOrder { post_only: true, ..fx.order(alice(), &no, Side::Buy, "0.59", "10") };
    assert!(fx.ex.submit(o, T0).is_ok());
}

#[test]
fn invalid_expiration() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    let now_s = (T0 / 1000) as u64;
    // GTD inside the one-minute threshold: no effective life left.
    let o = NewOrder { expiration_s: now_s + 60, ..fx.typed(alice(), &yes, Side::Buy, "0.3", "10", OrderType::Gtd) };
    refused(&mut fx, o, T0, Reject::InvalidExpiration);
    let o = NewOrder { expiration_s: 0, ..fx.typed(alice(), &yes, Side::Buy, "0.3", "10", OrderType::Gtd) };
    refused(&mut fx, o, T0, Reject::InvalidExpiration);
    // Only GTD may carry an expiration.
    let o = NewOrder { expiration_s: now_s + 3600, ..fx.order(alice(), &yes, Side::Buy, "0.3", "10") };
    refused(&mut fx, o, T0, Reject::InvalidExpiration);
    let o = NewOrder { expiration_s: now_s + 61, ..fx.typed(alice(), &yes, Side::Buy, "0.3", "10", OrderType::Gtd) };
    assert!(fx.ex.submit(o, T0).is_ok());
}

#[test]
fn fok_not_fully_fillable_and_fak_without_match() {
    let mut fx = populated();
    let yes = fx.yes.clone();
    let o = fx.typed(alice(), &yes, Side::Buy, "0.60", "10.01", OrderType::Fok);
    refused(&mut fx, o, T0, Reject::FokNotFilled);
    let o = fx.typed(alice(), &yes, Side::Buy, "0.59", "10", OrderType::Fak);
    refused(&mut fx, o, T0, Reject::FakNoMatch);
    assert_eq!(
        Reject::FakNoMatch.message(),
        "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
    );
    assert_eq!(Reject::FokNotFilled.http_status(), 400);
}

#[test]
fn refusals_of_operator_calls_change_nothing() {
    let mut fx = populated();
    let before = state(&fx.ex);
    assert_eq!(fx.ex.list_market(spec(1), T0), Err(Reject::DuplicateMarket));
    let mut same = spec(9);
    same.tokens[1].token_id = same.tokens[0].token_id.clone();
    assert!(matches!(fx.ex.list_market(same, T0), Err(Reject::InvalidMarket { .. })));
    assert_eq!(fx.ex.resolve(&Hash32([7; 32]), &fx.yes.clone(), T0), Err(Reject::UnknownMarket));
    let m = fx.market();
    assert_eq!(fx.ex.resolve(&m, &TokenId::parse("5").unwrap(), T0), Err(Reject::UnknownToken));
    // carol has 1000 - 4 reserved: withdrawing 997 would dig into the reservation.
    assert_eq!(fx.ex.fund(carol(), Usdc::from_whole(-997)), Err(Reject::InsufficientBalance));
    assert_eq!(fx.ex.set_collateral(carol(), usd("3.99")), Err(Reject::InsufficientBalance));
    assert_eq!(fx.ex.split(alice(), &m, sz("1000.01")), Err(Reject::InsufficientBalance));
    assert_eq!(fx.ex.merge(alice(), &m, sz("1")), Err(Reject::InsufficientBalance));
    assert_eq!(state(&fx.ex), before);
    assert!(fx.ex.drain_events().is_empty());
    assert_eq!(fx.ex.fund(carol(), Usdc::from_whole(-996)).unwrap().total, sz("4"));
}
