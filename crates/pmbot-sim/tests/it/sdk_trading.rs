//! The official Polymarket Rust SDK, unchanged, trading against the simulator
//! over loopback: books over REST and the market channel, API keys by L1
//! auth, a resting order, a crossing order that fills it, both fills on the
//! user channel, balances after fees, and a cancel.

use crate::common;

use std::time::Duration;

use common::*;
use futures::StreamExt as _;
use polymarket_client_sdk_v2::clob::types::request::{
    BalanceAllowanceRequest, OrderBookSummaryRequest, OrdersRequest, TradesRequest,
};
use polymarket_client_sdk_v2::clob::types::{AssetType, OrderStatusType, Side, TraderSide};
use polymarket_client_sdk_v2::clob::ws::{Client as WsClient, WsMessage};
use polymarket_client_sdk_v2::types::{B256, Decimal, dec};
use polymarket_client_sdk_v2::ws::config::Config as WsConfig;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_trades_against_the_simulator() {
    let sim = start(quiet_config(2)).await;
    let public = public_client(&sim);
    assert_eq!(public.ok().await.unwrap(), "OK");
    assert_eq!(public.version().await.unwrap(), 2);
    let server_s = public.server_time().await.unwrap();
    assert!((server_s - chrono_now_s()).abs() < 5, "server time {server_s}");

    // Market data over REST.
    let (cid, yes, no) = first_market(&public).await;
    let book = public.order_book(&OrderBookSummaryRequest::builder().token_id(yes).build()).await.unwrap();
    assert_eq!(book.asset_id, yes);
    assert!(book.bids.is_empty() && book.asks.is_empty(), "quiet markets start empty");
    assert_eq!(book.min_order_size, dec!(5));
    let info = public.clob_market_info(&cid).await.unwrap();
    let fees = info.fee_details.expect("fee schedule");
    assert_eq!((fees.rate, fees.exponent, fees.taker_only), (dec!(0.07), 1, true));
    assert_eq!(public.market_by_token(no).await.unwrap().secondary_token_id, no);

    // The market channel. (The initial `book` dump is checked frame by frame
    // in `ws_protocol.rs`: SDK 0.9.0 sends the subscription before it creates
    // the stream's receiver, so on a loaded machine a reply over loopback can
    // beat the receiver and the dump is lost to this stream. pmbot's own
    // client must not copy that ordering.)
    let ws = WsClient::new(&sim.ws_url(), WsConfig::default()).unwrap();
    let mut books = Box::pin(ws.subscribe_orderbook(vec![yes]).unwrap());
    let mut prices = Box::pin(ws.subscribe_prices(vec![yes]).unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Drain the dump if it did arrive, so the next book is the post-trade one.
    while let Ok(Some(Ok(b))) = timeout(Duration::from_millis(200), books.next()).await {
        assert_eq!(b.asset_id, yes);
        assert!(b.hash.is_some());
    }

    // Two accounts sign in with L1 auth; each starts with 1,000 pUSD.
    let (alice_w, bob_w) = (wallet(0), wallet(1));
    let alice = authed(&sim, &alice_w).await;
    let bob = authed(&sim, &bob_w).await;
    let collateral = BalanceAllowanceRequest::builder().asset_type(AssetType::Collateral).build();
    let bal = alice.balance_allowance(collateral.clone()).await.unwrap();
    assert_eq!(bal.balance, dec!(1000000000), "6-decimal integer units");
    assert_eq!(bal.allowances.len(), 3, "the three V2 contracts");
    assert!(bal.allowances.values().all(|a| a == &polymarket_client_sdk_v2::types::U256::MAX.to_string()), "{bal:?}");
    // Signing in again derives the same key.
    let again = authed(&sim, &alice_w).await;
    assert_eq!(again.credentials().key(), alice.credentials().key());

    // Both listen on the user channel for this market.
    let market_id: B256 = cid.parse().unwrap();
    let alice_ws = WsClient::new(&sim.ws_url(), WsConfig::default())
        .unwrap()
        .authenticate(alice.credentials().clone(), alice_w.address())
        .unwrap();
    let bob_ws = WsClient::new(&sim.ws_url(), WsConfig::default())
        .unwrap()
        .authenticate(bob.credentials().clone(), bob_w.address())
        .unwrap();
    let mut alice_events = Box::pin(alice_ws.subscribe_user_events(vec![market_id]).unwrap());
    let mut bob_events = Box::pin(bob_ws.subscribe_user_events(vec![market_id]).unwrap());
    // Let both subscriptions reach the server before anything happens.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Alice rests a bid: BUY 10 Yes at 0.40.
    let order =
        alice.limit_order().token_id(yes).price(dec!(0.40)).size(dec!(10)).side(Side::Buy).build().await.unwrap();
    let resting = alice.post_order(alice.sign(&alice_w, order).await.unwrap()).await.unwrap();
    assert!(resting.success, "{resting:?}");
    assert_eq!(resting.status, OrderStatusType::Live);
    // The feed reports the new level as a price change (size = the level's new total).
    let change = timeout(WAIT, prices.next()).await.expect("price change after the bid").unwrap().unwrap();
    let entry = change.price_changes.iter().find(|e| e.asset_id == yes).expect("an entry for Yes");
    assert_eq!((entry.price, entry.size, entry.side), (dec!(0.4), Some(dec!(10)), Side::Buy));
    assert_eq!(entry.best_bid, Some(dec!(0.4)));
    let open = alice.orders(&OrdersRequest::builder().build(), None).await.unwrap();
    assert_eq!(open.data.len(), 1);
    assert_eq!(open.data[0].id, resting.order_id);

    // Bob crosses it from the other outcome: BUY 10 No at 0.60 mints the pair.
    let order = bob.limit_order().token_id(no).price(dec!(0.60)).size(dec!(10)).side(Side::Buy).build().await.unwrap();
    let taken = bob.post_order(bob.sign(&bob_w, order).await.unwrap()).await.unwrap();
    assert!(taken.success, "{taken:?}");
    assert_eq!(taken.status, OrderStatusType::Matched);
    assert_eq!(taken.trade_ids.len(), 1);
    assert_eq!(taken.transaction_hashes.len(), 1, "the SDK waited for the trade to be mined");
    // After a trade the exchange sends the full book again: the bid is gone.
    let after = timeout(WAIT, books.next()).await.expect("book after the trade").unwrap().unwrap();
    assert!(after.bids.is_empty(), "{after:?}");

    // Both see the fill on the user channel.
    let alice_trade = next_trade(&mut alice_events).await;
    assert_eq!(alice_trade.id, taken.trade_ids[0]);
    assert_eq!(alice_trade.size, dec!(10));
    let bob_trade = next_trade(&mut bob_events).await;
    assert_eq!(bob_trade.id, taken.trade_ids[0]);
    assert_eq!(bob_trade.price, dec!(0.6));
    assert_eq!(bob_trade.asset_id, no);

    // And in their trade history, each on their own side.
    let a_trades = alice.trades(&TradesRequest::builder().build(), None).await.unwrap();
    assert_eq!(a_trades.data.len(), 1);
    assert_eq!(a_trades.data[0].trader_side, TraderSide::Maker);
    let b_trades = bob.trades(&TradesRequest::builder().build(), None).await.unwrap();
    assert_eq!(b_trades.data[0].trader_side, TraderSide::Taker);
    assert_eq!(b_trades.data[0].fee_rate_bps, dec!(700));

    // Balances: Alice (the maker, no fee) paid 4.00 and holds 10 Yes; Bob
    // paid 6.00 plus the taker fee in pUSD, 10 x 0.07 x 0.6 x 0.4 = 0.168,
    // and holds all 10 No (CLOB V2: a BUY's fee is not taken in shares).
    let a = alice.balance_allowance(collateral.clone()).await.unwrap();
    assert_eq!(a.balance, dec!(996000000));
    let b = bob.balance_allowance(collateral.clone()).await.unwrap();
    assert_eq!(b.balance, dec!(993832000));
    let yes_shares = BalanceAllowanceRequest::builder().asset_type(AssetType::Conditional).token_id(yes).build();
    assert_eq!(alice.balance_allowance(yes_shares).await.unwrap().balance, dec!(10000000));
    let no_shares = BalanceAllowanceRequest::builder().asset_type(AssetType::Conditional).token_id(no).build();
    assert_eq!(bob.balance_allowance(no_shares).await.unwrap().balance, dec!(10000000));

    // A resting order can be cancelled, and then it is gone.
    let order =
        alice.limit_order().token_id(yes).price(dec!(0.30)).size(dec!(5)).side(Side::Buy).build().await.unwrap();
    let placed = alice.post_order(alice.sign(&alice_w, order).await.unwrap()).await.unwrap();
    let cancelled = alice.cancel_order(&placed.order_id).await.unwrap();
    assert_eq!(cancelled.canceled, vec![placed.order_id.clone()]);
    assert!(alice.orders(&OrdersRequest::builder().build(), None).await.unwrap().data.is_empty());
    // Cancelling it again is refused with a reason.
    let again = alice.cancel_order(&placed.order_id).await.unwrap();
    assert!(again.canceled.is_empty());
    assert!(again.not_canceled.contains_key(&placed.order_id));
    let gone = alice.order(&placed.order_id).await;
    assert!(gone.is_err() || gone.unwrap().status == OrderStatusType::Canceled);

    sim.shutdown().await;
}

fn chrono_now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn next_trade<S>(events: &mut S) -> polymarket_client_sdk_v2::clob::ws::TradeMessage
where
    S: futures::Stream<Item = polymarket_client_sdk_v2::Result<WsMessage>> + Unpin,
{
    loop {
        let msg = timeout(WAIT, events.next()).await.expect("a user event in time").expect("stream open").unwrap();
        if let WsMessage::Trade(t) = msg {
            return t;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_buy_in_usdc_and_partial_fills() {
    let sim = start(quiet_config(1)).await;
    let public = public_client(&sim);
    let (_, yes, no) = first_market(&public).await;
    let (maker_w, taker_w) = (wallet(0), wallet(1));
    let maker = authed(&sim, &maker_w).await;
    let taker = authed(&sim, &taker_w).await;

    // Two asks on Yes, quoted as bids on No: 20 at 0.55 and 20 at 0.56.
    for (p, s) in [(dec!(0.45), dec!(20)), (dec!(0.44), dec!(20))] {
        let o = maker.limit_order().token_id(no).price(p).size(s).side(Side::Buy).build().await.unwrap();
        assert!(maker.post_order(maker.sign(&maker_w, o).await.unwrap()).await.unwrap().success);
    }
    let book = public.order_book(&OrderBookSummaryRequest::builder().token_id(yes).build()).await.unwrap();
    let best_ask = book.asks.last().expect("REST lists asks best last");
    assert_eq!(best_ask.price, dec!(0.55));

    // A market BUY of $15 (FAK) walks the asks: 20 x 0.55 = 11, then 4/0.56.
    use polymarket_client_sdk_v2::clob::types::{Amount, OrderType};
    let o = taker
        .market_order()
        .token_id(yes)
        .amount(Amount::usdc(dec!(15)).unwrap())
        .side(Side::Buy)
        .order_type(OrderType::FAK)
        .build()
        .await
        .unwrap();
    let r = taker.post_order(taker.sign(&taker_w, o).await.unwrap()).await.unwrap();
    assert!(r.success, "{r:?}");
    assert_eq!(r.trade_ids.len(), 2, "one trade per price level");
    // The SDK priced the order at the worst level it needed (0.56) and asked
    // for 15 / 0.56 = 26.7857 shares. The simulator fills that share count
    // and hands the price improvement back as a lower cost: 20 x 0.55 +
    // 6.7857 x 0.56 = 14.799992 pUSD, plus the taker fee in pUSD level by
    // level: 20 x 0.07 x 0.55 x 0.45 = 0.3465 and 6.7857 x 0.07 x 0.56 x 0.44
    // = 0.1170397..., rounded down to 0.11703.
    let collateral = BalanceAllowanceRequest::builder().asset_type(AssetType::Collateral).build();
    let left = taker.balance_allowance(collateral).await.unwrap().balance / dec!(1000000);
    assert_eq!(Decimal::from(1000) - left, dec!(14.799992) + dec!(0.3465) + dec!(0.11703));
    let yes_shares = BalanceAllowanceRequest::builder().asset_type(AssetType::Conditional).token_id(yes).build();
    let got = taker.balance_allowance(yes_shares).await.unwrap().balance / dec!(1000000);
    assert_eq!(got, dec!(26.7857), "every share bought, none taken as fee");

    // The maker's second order is partly filled and still rests.
    let open = maker.orders(&OrdersRequest::builder().build(), None).await.unwrap();
    assert_eq!(open.data.len(), 1);
    assert!(open.data[0].size_matched > Decimal::ZERO && open.data[0].size_matched < dec!(20));
    sim.shutdown().await;
}
