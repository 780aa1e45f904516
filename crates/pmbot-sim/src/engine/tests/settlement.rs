//! Exact amounts of transfers, mints, merges and fees.

use pmbot_core::Side;

use super::*;
use crate::engine::{EngineEvent, OrderType, Query, Reject};

fn pairs_outstanding(fx: &Fx) -> Size {
    // Every account's Yes shares (the audit proves No matches).
    [alice(), bob(), carol(), collector()].iter().map(|&a| fx.held(a, &fx.yes)).sum()
}

#[test]
fn transfer_moves_shares_one_way_and_collateral_the_other() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.split(bob(), "100");
    fx.place(bob(), &yes, Side::Sell, "0.60", "10");
    assert_eq!(fx.ex.shares(bob(), &yes).reserved, sz("10"));
    let o = fx.order(alice(), &yes, Side::Buy, "0.60", "10");
    fx.ex.submit(o, T0).unwrap();
    assert_eq!((fx.cash(alice()), fx.held(alice(), &yes)), (usd("994"), sz("10")));
    assert_eq!((fx.cash(bob()), fx.held(bob(), &yes)), (usd("906"), sz("90")));
    assert_eq!(fx.ex.shares(bob(), &yes).reserved, Size::ZERO);
    assert_eq!(pairs_outstanding(&fx), sz("100"));
    fx.audit();
}

#[test]
fn transfer_of_the_second_token() {
    let mut fx = Fx::new();
    let no = fx.no.clone();
    fx.split(bob(), "100");
    fx.place(bob(), &no, Side::Sell, "0.30", "10");
    let o = fx.order(alice(), &no, Side::Buy, "0.30", "10");
    fx.ex.submit(o, T0).unwrap();
    assert_eq!((fx.cash(alice()), fx.held(alice(), &no)), (usd("997"), sz("10")));
    assert_eq!((fx.cash(bob()), fx.held(bob(), &no)), (usd("903"), sz("90")));
    fx.audit();
}

#[test]
fn mint_when_both_sides_buy() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.place(alice(), &no, Side::Buy, "0.45", "10");
    assert_eq!(fx.ex.collateral(alice()).reserved, sz("4.5"));
    let o = fx.order(carol(), &yes, Side::Buy, "0.55", "10");
    fx.ex.submit(o, T0).unwrap();
    assert_eq!((fx.cash(alice()), fx.held(alice(), &no)), (usd("995.5"), sz("10")));
    assert_eq!((fx.cash(carol()), fx.held(carol(), &yes)), (usd("994.5"), sz("10")));
    assert_eq!(fx.ex.collateral(alice()).reserved, Size::ZERO);
    assert_eq!(pairs_outstanding(&fx), sz("10"));
    // A better taker price still fills at the maker's: BUY Yes at 0.60 vs BUY No at 0.45.
    fx.place(alice(), &no, Side::Buy, "0.45", "10");
    let o = fx.order(bob(), &yes, Side::Buy, "0.60", "10");
    let out = fx.ex.submit(o, T0).unwrap();
    assert_eq!(out.making_amount, sz("5.5"));
    assert_eq!(fx.cash(bob()), usd("994.5"));
    fx.audit();
}

#[test]
fn merge_when_both_sides_sell() {
    let mut fx = Fx::new();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.split(alice(), "10");
    fx.split(carol(), "10");
    fx.place(alice(), &yes, Side::Sell, "0.60", "10");
    let o = fx.order(carol(), &no, Side::Sell, "0.40", "10");
    let out = fx.ex.submit(o, T0).unwrap();
    assert_eq!((out.making_amount, out.taking_amount), (sz("10"), sz("4")));
    assert_eq!((fx.cash(alice()), fx.held(alice(), &yes), fx.held(alice(), &no)), (usd("996"), Size::ZERO, sz("10")));
    assert_eq!((fx.cash(carol()), fx.held(carol(), &yes), fx.held(carol(), &no)), (usd("994"), sz("10"), Size::ZERO));
    assert_eq!(pairs_outstanding(&fx), sz("10"));
    fx.audit();
}

#[test]
fn odd_sizes_settle_exactly_against_the_makers_reservation() {
    let mut fx = Fx::new();
    let yes = fx.yes.clone();
    fx.place(carol(), &yes, Side::Buy, "0.33", "13.000003");
    // ceil(13.000003 x 0.33 = 4.29000099) = 4.290001.
    assert_eq!(fx.ex.collateral(carol()).reserved, sz("4.290001"));
    fx.split(alice(), "20");
    let mut received = Size::ZERO;
    for size in ["3.100001", "4.9", "5.000002"] {
        let o = fx.typed(alice(), &yes, Side::Sell, "0.33", size, OrderType::Fak);
        received += fx.ex.submit(o, T0).unwrap().taking_amount;
        fx.audit();
    }
    assert_eq!(received, sz("4.290001"));
    assert_eq!(fx.cash(carol()), usd("995.709999"));
    assert_eq!(fx.ex.collateral(carol()).reserved, Size::ZERO);
    assert_eq!(fx.held(carol(), &yes), sz("13.000003"));
}

fn crypto_fx() -> Fx {
    let mut s = spec(1);
    s.fee = FeeSchedule::crypto();
    Fx::with(EngineConfig::default(), s)
}

/// CLOB V2: a taker BUY receives every share it bought and pays the fee in
/// pUSD on top (polymarket-protocol.md corrections 2; NautilusTrader's
/// recorded V2 fill: 1,000,000 pUSD for 2,083,334 shares at 0.48, fee 36,400).
#[test]
fn taker_buy_pays_the_fee_in_pusd_on_top() {
    let mut fx = crypto_fx();
    let yes = fx.yes.clone();
    fx.split(bob(), "100");
    fx.place(bob(), &yes, Side::Sell, "0.50", "100");
    fx.ex.drain_events();
    let o = fx.order(alice(), &yes, Side::Buy, "0.50", "100");
    let out = fx.ex.submit(o, T0).unwrap();
    // 100 x 0.07 x 0.5 x 0.5 = 1.75 pUSD, besides the 50 for the shares.
    assert_eq!((out.making_amount, out.taking_amount), (sz("50"), sz("100")));
    assert_eq!(fx.held(alice(), &yes), sz("100"));
    assert_eq!(fx.cash(alice()), usd("948.25"));
    assert_eq!(fx.held(collector(), &yes), Size::ZERO);
    assert_eq!(fx.cash(collector()), usd("1.75"));
    assert_eq!(fx.cash(bob()), usd("950"), "makers pay no fee");
    let trade = fx.ex.drain_events().into_iter().find_map(|e| match e {
        EngineEvent::Trade(t) => Some(t),
        _ => None,
    });
    let trade = trade.unwrap();
    assert_eq!((trade.fee, trade.fee_rate_bps), (usd("1.75"), 700));
    fx.audit();
}

/// The fee is part of what a BUY must afford: 50 for the shares is not
/// enough when the fill also owes 1.75.
#[test]
fn a_taker_buy_needs_the_fee_too() {
    let mut fx = crypto_fx();
    let yes = fx.yes.clone();
    fx.split(bob(), "100");
    fx.place(bob(), &yes, Side::Sell, "0.50", "100");
    let dave = addr(0xd0);
    fx.ex.fund(dave, usd("51.749999")).unwrap();
    let o = fx.order(dave, &yes, Side::Buy, "0.50", "100");
    assert_eq!(fx.ex.submit(o, T0), Err(Reject::InsufficientBalance));
    fx.ex.fund(dave, usd("0.000001")).unwrap();
    let o = fx.order(dave, &yes, Side::Buy, "0.50", "100");
    fx.ex.submit(o, T0).unwrap();
    assert_eq!(fx.cash(dave), Usdc::ZERO);
    fx.audit();
}

#[test]
fn taker_sell_pays_the_fee_in_collateral() {
    let mut fx = crypto_fx();
    let yes = fx.yes.clone();
    fx.place(carol(), &yes, Side::Buy, "0.50", "100");
    fx.split(alice(), "100");
    let o = fx.order(alice(), &yes, Side::Sell, "0.50", "100");
    let out = fx.ex.submit(o, T0).unwrap();
    assert_eq!((out.making_amount, out.taking_amount), (sz("100"), sz("48.25")));
    // alice: 1000 - 100 split + 48.25; the collector gets the 1.75.
    assert_eq!(fx.cash(alice()), usd("948.25"));
    assert_eq!(fx.cash(collector()), usd("1.75"));
    assert_eq!((fx.cash(carol()), fx.held(carol(), &yes)), (usd("950"), sz("100")));
    let t = &fx.ex.trades(alice(), &Query::default())[0];
    assert_eq!(t.fee, usd("1.75"));
    assert_eq!(fx.ex.trades(carol(), &Query::default()).len(), 1, "the maker sees the trade too");
    fx.audit();
}

#[test]
fn fee_uses_the_takers_own_price_on_the_mirror_token() {
    let mut fx = crypto_fx();
    let (yes, no) = (fx.yes.clone(), fx.no.clone());
    fx.place(carol(), &yes, Side::Buy, "0.80", "100");
    // alice buys No at 0.20 against carol's Yes bid at 0.80 (a mint).
    let o = fx.order(alice(), &no, Side::Buy, "0.20", "100");
    let out = fx.ex.submit(o, T0).unwrap();
    // fee = 100 x 0.07 x 0.2 x 0.8 = 1.12 pUSD, on top of the 20.
    assert_eq!(out.taking_amount, sz("100"));
    assert_eq!(fx.cash(collector()), usd("1.12"));
    assert_eq!(fx.cash(alice()), usd("978.88"));
    assert_eq!(out.making_amount, sz("20"));
    fx.audit();
}
