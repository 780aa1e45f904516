//! Conformance: what the real WebSocket channels send, frame by frame through
//! a raw client: the `NO NEW ASSETS` control frame, the user channel's order
//! statuses, and its trade timestamps. Each test names the recorded message
//! or source it follows.

use crate::common;

use std::time::Duration;

use common::*;
use pmbot_core::Side::Buy;
use pmbot_sim::SimConfig;
use polymarket_client_sdk_v2::clob::types::{OrderType, Side as SdkSide};
use polymarket_client_sdk_v2::types::dec;
use serde_json::{Value, json};

/// The market channel sends the plain-text frame `NO NEW ASSETS` from time
/// to time to a client that enabled custom features (new-market discovery);
/// it is not JSON and not an error, and a client without custom features
/// never gets it.
/// Sources: polymarket-protocol.md corrections 4; NautilusTrader
/// `crates/adapters/polymarket/src/websocket/handler.rs` `parse_messages`
/// ("Polymarket's WSS periodically sends the plain-text string NO NEW
/// ASSETS"); issue 13 item 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_feature_clients_get_no_new_assets_frames() {
    bounded(60, async {
        let cfg = SimConfig { no_new_assets_every: Duration::from_millis(200), ..quiet_config(1) };
        let sim = start(cfg).await;
        let m = &markets(&sim)[0];
        let mut custom = WsConn::market(&sim).await;
        custom.send_json(&market_sub(&[&m.yes], true)).await;
        let mut plain = WsConn::market(&sim).await;
        plain.send_json(&market_sub(&[&m.yes], false)).await;
        let mut seen = 0;
        while seen < 2 {
            let t = custom.recv().await;
            if t == "NO NEW ASSETS" {
                seen += 1;
            } else {
                assert!(serde_json::from_str::<Value>(&t).is_ok(), "only JSON besides the control frame: {t}");
            }
        }
        // The plain client's only frames are its book dump and its PONG.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let before_pong = plain.sync().await;
        assert!(before_pong.iter().all(|t| t != "NO NEW ASSETS"), "{before_pong:?}");
        assert!(before_pong.iter().all(|t| serde_json::from_str::<Value>(t).is_ok()), "{before_pong:?}");
        assert_eq!(SimConfig::default().no_new_assets_every, Duration::from_secs(60), "on by default");
        sim.shutdown().await;
    })
    .await;
}

/// The user channel's order statuses: an owner's cancel is `CANCELED`; an
/// order the exchange cancels because its market resolved arrives as a
/// CANCELLATION with status `INVALID`, and REST reports it
/// `CANCELED_MARKET_RESOLVED`; a FOK that cannot fill completely is refused
/// and its owner gets a CANCELLATION whose status is `CANCELED_` followed by
/// the reason, with no fills.
/// Sources: NautilusTrader test data `ws_user_order_venue_cancel.json`
/// (`"status":"INVALID","type":"CANCELLATION"`) and `resolve_order_status`
/// ("Venue-initiated cancellations arrive as status=Invalid,
/// event_type=Cancellation (e.g. sport market resolution)"),
/// `ws_user_order_fok_killed.json` (`"status":"CANCELED_order couldn't be
/// fully filled. FOK orders are fully filled or killed."`,
/// `"size_matched":""`), `ws_messages/order_cancel.json` (`CANCELED`), and
/// `PolymarketOrderStatus` (INVALID, LIVE, DELAYED, MATCHED, UNMATCHED,
/// CANCELED, CANCELED_MARKET_RESOLVED); the docs' OpenAPI `OpenOrder.status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_channel_reports_the_real_order_statuses() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let mut events = WsConn::user(&sim).await;
        events.send_json(&user_sub(&alice.creds, &[])).await;
        assert!(events.sync().await.is_empty());

        let order_id = |v: &Value| v["orderID"].as_str().unwrap().to_owned();
        let first = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.30), dec!(10)).await;
        let first = order_id(&alice.post_json(&sim, &first).await.json().await.unwrap());
        assert_eq!(alice.client.cancel_order(&first).await.unwrap().canceled, vec![first.clone()]);
        let cancel = events.recv_until(|v| v["type"] == "CANCELLATION").await.pop().unwrap();
        assert_eq!((cancel["id"].as_str(), cancel["status"].as_str()), (Some(first.as_str()), Some("CANCELED")));

        let fok = alice.signed_limit_as(m.yes_u256(), SdkSide::Buy, dec!(0.50), dec!(10), OrderType::FOK).await;
        let reason = "order couldn't be fully filled. FOK orders are fully filled or killed.";
        assert_eq!(error_of(alice.post_json(&sim, &fok).await).await, (400, reason.to_owned()));
        let killed = events.recv_until(|v| v["type"] == "CANCELLATION").await.pop().unwrap();
        assert_eq!(killed["status"], format!("CANCELED_{reason}"));
        assert_eq!((killed["size_matched"].as_str(), killed["order_type"].as_str()), (Some(""), Some("FOK")));
        assert!(sim.state.lock().exchange.orders_of(alice.address).len() == 1, "the killed FOK left no record");

        let resting = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        let resting = order_id(&alice.post_json(&sim, &resting).await.json().await.unwrap());
        admin_post(&sim, "/_sim/resolve", json!({"market": m.cid_hex(), "winning_token": m.no.as_str()})).await;
        let gone = events.recv_until(|v| v["type"] == "CANCELLATION").await.pop().unwrap();
        assert_eq!((gone["id"].as_str(), gone["status"].as_str()), (Some(resting.as_str()), Some("INVALID")));
        let path = format!("/data/order/{resting}");
        let rest: Value = alice.raw(&sim, "GET", &path, b"").await.json().await.unwrap();
        assert_eq!(rest["status"], "CANCELED_MARKET_RESOLVED");
        sim.shutdown().await;
    })
    .await;
}

/// User-channel `trade` events carry `timestamp` (and `match_time`,
/// `last_update`) in unix seconds as strings, while `order` events keep
/// milliseconds.
/// Sources: NautilusTrader test data `ws_messages/user_trade4.json`, a real
/// message of 2025-11 (`"timestamp":"1762776436"`,
/// `"match_time":"1762776367"`); `ws_messages/order_cancel.json`
/// (`"timestamp":"1725841743272"`); polymarket-protocol.md corrections 7;
/// issue 13 item 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trade_events_carry_seconds_and_order_events_milliseconds() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa1);
        house_order(&sim, h, &m.no, Buy, "0.50", 100);
        let alice = account(&sim, 0).await;
        let mut events = WsConn::user(&sim).await;
        events.send_json(&user_sub(&alice.creds, &[])).await;
        assert!(events.sync().await.is_empty());

        let buy = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.50), dec!(10)).await;
        assert_eq!(alice.post_json(&sim, &buy).await.status(), 200);
        let seen = events.recv_until(|v| v["event_type"] == "trade").await;
        let trade = seen.last().unwrap();
        let now = now_s();
        for field in ["timestamp", "match_time", "last_update"] {
            let text = trade[field].as_str().unwrap_or_else(|| panic!("{field} is a string: {trade}"));
            assert_eq!(text.len(), 10, "{field} = {text}: ten digits of seconds");
            let secs: i64 = text.parse().unwrap();
            assert!((secs - now).abs() <= 5, "{field} = {secs}, now {now}");
        }
        let order = events.recv_until(|v| v["event_type"] == "order").await.pop().unwrap();
        let ms: i64 = order["timestamp"].as_str().unwrap().parse().unwrap();
        assert!((ms - now * 1000).abs() <= 5_000, "order timestamps stay in ms: {ms}");
        sim.shutdown().await;
    })
    .await;
}
