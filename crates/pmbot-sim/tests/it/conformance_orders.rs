//! Conformance: the order rules the real CLOB enforces, checked over HTTP
//! against the simulator with orders the official Rust SDK builds and signs.
//! Each test names the public record the rule comes from; the simulator's
//! implementation of each is in `auth::order::precision` and `engine::fees`.

use crate::common;

use common::*;
use pmbot_core::Side::Buy;
use pmbot_core::TickSize;
use pmbot_sim::SourceConfig;
use polymarket_client_sdk_v2::clob::types::{Amount, OrderType, Side as SdkSide};
use polymarket_client_sdk_v2::types::dec;
use serde_json::Value;

const MARKET_BUY: &str = "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals";
const LIMIT_BUY: &str = "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals, taker amount a max of 2 decimals";
const SELL: &str = "invalid amounts, the sell orders maker amount supports a max accuracy of 2 decimals, taker amount a max of 4 decimals";

/// Quiet markets listed with `tick`.
fn quiet_with_tick(tick: TickSize) -> pmbot_sim::SimConfig {
    let mut cfg = quiet_config(1);
    let SourceConfig::Synthetic(s) = &mut cfg.source else { unreachable!("quiet_config is synthetic") };
    s.tick = tick;
    cfg
}

/// `makerAmount` and `takerAmount` of a signed order's JSON.
fn amounts(order: &Value) -> (&str, &str) {
    (order["order"]["makerAmount"].as_str().unwrap(), order["order"]["takerAmount"].as_str().unwrap())
}

/// The account's pUSD, in micro-pUSD, from the simulator's ledger.
fn cash(sim: &pmbot_sim::SimHandle, who: pmbot_sim::engine::Address) -> u64 {
    sim.state.lock().exchange.collateral(who).total.micros()
}

/// A FAK BUY carrying limit-style amounts (the SDK's limit builder: pUSD =
/// size x price with tick decimals + 2, here 18.87 x 0.53 = 10.0011) is
/// refused 400 with the exchange's text; the SDK's market builder ($10.00
/// for 18.8679 shares) is accepted and fills.
/// Sources: rs-clob-client #114 and #261, rs-clob-client-v2 #59 (a 6-decimal
/// maker), py-clob-client-v2 #99 (the text, HTTP 400); issue 13 item 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_buy_has_a_two_decimal_maker_and_a_four_decimal_taker() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa1);
        house_order(&sim, h, &m.no, Buy, "0.47", 100); // Yes ask 0.53 x 100
        let alice = account(&sim, 0).await;

        let body = alice.signed_limit_as(m.yes_u256(), SdkSide::Buy, dec!(0.53), dec!(18.87), OrderType::FAK).await;
        assert_eq!(amounts(&body), ("10001100", "18870000"));
        assert_eq!(error_of(alice.post_json(&sim, &body).await).await, (400, MARKET_BUY.to_owned()));
        assert_eq!(cash(&sim, alice.address), 1_000_000_000, "a refused order changes nothing");

        let ten = Amount::usdc(dec!(10)).unwrap();
        let body = alice.signed_market(m.yes_u256(), SdkSide::Buy, ten, dec!(0.53), OrderType::FAK).await;
        assert_eq!(amounts(&body), ("10000000", "18867900"));
        let reply: Value = alice.post_json(&sim, &body).await.json().await.unwrap();
        assert_eq!((reply["success"].as_bool(), reply["status"].as_str()), (Some(true), Some("matched")), "{reply}");
        sim.shutdown().await;
    })
    .await;
}

/// A resting (GTC) BUY has at most 4 decimals of pUSD and 2 of shares: the
/// market builder's 4-decimal share amount posted as GTC is refused with the
/// limit text, and the limit builder's 4-decimal pUSD amount is fine as GTC
/// (the FAK refused above).
/// Sources: py-clob-client #305 (the text), 0xNetuser/Polymarket-golang #1
/// (a market-built order posted as GTC, refused with this text), py-clob-client
/// #121 ("if I turn it into a GTC order, it works").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_buy_has_a_four_decimal_maker_and_a_two_decimal_taker() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;

        let ten = Amount::usdc(dec!(10)).unwrap();
        let body = alice.signed_market(m.yes_u256(), SdkSide::Buy, ten, dec!(0.53), OrderType::GTC).await;
        assert_eq!(amounts(&body), ("10000000", "18867900"));
        assert_eq!(error_of(alice.post_json(&sim, &body).await).await, (400, LIMIT_BUY.to_owned()));

        let body = alice.signed_limit_as(m.yes_u256(), SdkSide::Buy, dec!(0.53), dec!(18.87), OrderType::GTC).await;
        assert_eq!(amounts(&body), ("10001100", "18870000"));
        let reply: Value = alice.post_json(&sim, &body).await.json().await.unwrap();
        assert_eq!(reply["status"], "live", "{reply}");
        sim.shutdown().await;
    })
    .await;
}

/// On a 0.001-tick market the SDKs' market builders sign amounts with tick
/// decimals + 2 = 5: a $9.98 FAK BUY at 0.985 asks for 10.13197 shares and a
/// SELL of 10.01 shares at 0.981 for 9.81981 pUSD; both are refused, each with
/// its text, whatever the tick. Whole-cent amounts on the same market pass.
/// Sources: py-clob-client-v2 #99 (these BUY numbers, "every market buy (FAK)
/// came back" 400 on 0.001 ticks); rs-clob-client PR #164 ("SELL:
/// maker=shares(2 dec), taker=USDC(4 dec)") and py-clob-client #121 (the
/// `sell orders` text).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fine_tick_markets_refuse_five_decimal_amounts_on_both_sides() {
    bounded(60, async {
        let sim = start(quiet_with_tick(TickSize::Thousandth)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa1);
        house_order(&sim, h, &m.no, Buy, "0.015", 100); // Yes ask 0.985
        house_order(&sim, h, &m.yes, Buy, "0.981", 100); // Yes bid 0.981
        let alice = account(&sim, 0).await;
        let shares = pmbot_core::Size::from_shares(20);
        sim.state.with_exchange(|ex, _| ex.split(alice.address, &m.cid, shares)).expect("split");

        let yes = m.yes_u256();
        let buy = alice
            .signed_market(yes, SdkSide::Buy, Amount::usdc(dec!(9.98)).unwrap(), dec!(0.985), OrderType::FAK)
            .await;
        assert_eq!(amounts(&buy), ("9980000", "10131970"));
        assert_eq!(error_of(alice.post_json(&sim, &buy).await).await, (400, MARKET_BUY.to_owned()));

        let odd = Amount::shares(dec!(10.01)).unwrap();
        let sell = alice.signed_market(yes, SdkSide::Sell, odd, dec!(0.981), OrderType::FAK).await;
        assert_eq!(amounts(&sell), ("10010000", "9819810"));
        assert_eq!(error_of(alice.post_json(&sim, &sell).await).await, (400, SELL.to_owned()));

        let even = Amount::shares(dec!(10)).unwrap();
        let sell = alice.signed_market(yes, SdkSide::Sell, even, dec!(0.981), OrderType::FAK).await;
        assert_eq!(amounts(&sell), ("10000000", "9810000"));
        let reply: Value = alice.post_json(&sim, &sell).await.json().await.unwrap();
        assert_eq!(reply["status"], "matched", "{reply}");
        sim.shutdown().await;
    })
    .await;
}

/// CLOB V2 taker fees, fee = C x rate x p(1-p), in pUSD on both sides: a
/// taker BUY of 10 at 0.50 on a crypto market (rate 0.07) pays 5 + 0.175 and
/// receives all 10 shares; its SELL of 10 at 0.40 receives 4 - 0.168; the
/// maker pays nothing.
/// Sources: polymarket-protocol.md corrections 2 and section 6; the official
/// Rust SDK `clob/utilities.rs` `adjust_market_buy_amount` (a market BUY
/// costs `amount + amount / p x fee rate`); NautilusTrader
/// `chain_order_filled_taker_fees.json` (real V2 fills: 5 pUSD bought
/// 7.575758 shares at 0.66, fee 0.085 charged besides).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taker_fees_are_paid_in_pusd_on_both_sides() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa1);
        house_order(&sim, h, &m.no, Buy, "0.50", 100); // Yes ask 0.50
        let alice = account(&sim, 0).await;
        let house_before = cash(&sim, h);

        let buy = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.50), dec!(10)).await;
        let reply: Value = alice.post_json(&sim, &buy).await.json().await.unwrap();
        assert_eq!(reply["status"], "matched", "{reply}");
        assert_eq!(cash(&sim, alice.address), 1_000_000_000 - 5_000_000 - 175_000);
        assert_eq!(sim.state.lock().exchange.shares(alice.address, &m.yes).total.micros(), 10_000_000);
        assert_eq!(cash(&sim, h), house_before - 5_000_000, "the maker pays its price and no fee");

        house_order(&sim, h, &m.yes, Buy, "0.40", 100); // Yes bid 0.40
        let sell = alice.signed_limit(m.yes_u256(), SdkSide::Sell, dec!(0.40), dec!(10)).await;
        let reply: Value = alice.post_json(&sim, &sell).await.json().await.unwrap();
        assert_eq!(reply["status"], "matched", "{reply}");
        assert_eq!(cash(&sim, alice.address), 1_000_000_000 - 5_175_000 + 4_000_000 - 168_000);
        assert_eq!(sim.state.lock().exchange.shares(alice.address, &m.yes).total.micros(), 0);
        let trades: Value = alice.raw(&sim, "GET", "/data/trades", b"").await.json().await.unwrap();
        assert!(trades["data"].as_array().unwrap().iter().all(|t| t["fee_rate_bps"] == "700"), "{trades}");
        sim.shutdown().await;
    })
    .await;
}
