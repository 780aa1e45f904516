//! The order-safety heartbeat (dead-man switch), driven through the official
//! SDK's `post_heartbeat`: once an account has sent a heartbeat it must keep
//! sending them, or all its open orders are cancelled.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use pmbot_sim::SimConfig;
use pmbot_sim::engine::{OrderStatus, Query};
use polymarket_client_sdk_v2::auth::Uuid;
use polymarket_client_sdk_v2::clob::types::Side as SdkSide;
use polymarket_client_sdk_v2::types::dec;
use serde_json::Value;

fn one_second_heartbeat() -> SimConfig {
    SimConfig { heartbeat_timeout: Duration::from_secs(1), ..quiet_config(1) }
}

/// With a 1 s timeout, an account that beats every 250 ms keeps its resting
/// order for well over the timeout; once it stops, the order is cancelled
/// about a second after the last beat (a CANCELLATION on its user channel),
/// while an account that never sent a heartbeat keeps its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_live_while_heartbeats_arrive_and_are_cancelled_when_they_stop() {
    bounded(60, async {
        let sim = start(one_second_heartbeat()).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let bob = account(&sim, 1).await;
        let mut events = WsConn::user(&sim).await;
        events.send_json(&user_sub(&alice.creds, &[])).await;
        assert!(events.sync().await.is_empty());

        let mut id = alice.client.post_heartbeat(None).await.expect("first heartbeat").heartbeat_id;
        let resting = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        let order_id: String = alice.post_json(&sim, &resting).await.json::<Value>().await.unwrap()["orderID"]
            .as_str()
            .unwrap()
            .to_owned();
        let bobs = bob.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.30), dec!(10)).await;
        assert_eq!(bob.post_json(&sim, &bobs).await.status(), 200);

        let beating_until = Instant::now() + Duration::from_millis(2_500);
        let mut last_beat = Instant::now();
        while Instant::now() < beating_until {
            tokio::time::sleep(Duration::from_millis(250)).await;
            // The server stamps the beat no earlier than it was sent.
            last_beat = Instant::now();
            let reply = alice.client.post_heartbeat(Some(id)).await.expect("heartbeat");
            assert!(reply.error.is_none(), "{reply:?}");
            id = reply.heartbeat_id;
        }
        let open = sim.state.lock().exchange.open_orders(alice.address, &Query::default());
        assert_eq!(open.len(), 1, "kept while beating for 2.5x the timeout");
        assert_eq!(open[0].id.to_string(), order_id);

        // Stop beating: the next thing on Alice's channel after her
        // placement is the watchdog's cancellation.
        let cancel = events.recv_until(|v| v["type"] == "CANCELLATION").await.pop().unwrap();
        let after = last_beat.elapsed();
        assert_eq!(cancel["event_type"], "order");
        assert_eq!(cancel["id"], order_id.as_str());
        assert_eq!(cancel["status"], "CANCELED");
        assert!(after >= Duration::from_millis(990), "cancelled {after:?} after the last beat, before the timeout");
        assert!(after < Duration::from_secs(4), "cancelled {after:?} after the last beat");
        assert_eq!(sim.state.lock().exchange.order(&open[0].id).unwrap().status, OrderStatus::Canceled);
        assert!(sim.state.lock().exchange.open_orders(alice.address, &Query::default()).is_empty());
        assert_eq!(
            sim.state.lock().exchange.open_orders(bob.address, &Query::default()).len(),
            1,
            "Bob never opted in"
        );
        let stats: Value = get(&sim, "/_sim/stats").await.json().await.unwrap();
        assert_eq!(stats["heartbeat_cancels"], 1);
        sim.shutdown().await;
    })
    .await;
}

/// The body of a refused heartbeat: `(error_msg, heartbeat_id)`.
fn refusal(err: &polymarket_client_sdk_v2::error::Error) -> (u16, String, String) {
    let s = err
        .downcast_ref::<polymarket_client_sdk_v2::error::Status>()
        .unwrap_or_else(|| panic!("not an HTTP status error: {err:?}"));
    let v: Value = serde_json::from_str(&s.message).unwrap_or_else(|_| panic!("not JSON: {}", s.message));
    (
        s.status_code.as_u16(),
        v["error_msg"].as_str().unwrap().to_owned(),
        v["heartbeat_id"].as_str().unwrap().to_owned(),
    )
}

/// A heartbeat with an id the server did not issue, or an id it issued
/// before the last one, is refused 400 with the id it expects, which the
/// client then adopts (polymarket-protocol.md corrections 3; py-sdk's
/// transport test of `OrderHeartbeatMismatchError`). Every accepted beat
/// returns a fresh id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_heartbeat_id_is_refused_with_the_expected_one() {
    bounded(60, async {
        let sim = start(one_second_heartbeat()).await;
        let alice = account(&sim, 0).await;
        let invalid = "Invalid Heartbeat ID".to_owned();
        // Before any heartbeat, only the empty id is right.
        let err = alice.client.post_heartbeat(Some(Uuid::new_v4())).await.unwrap_err();
        assert_eq!(refusal(&err), (400, invalid.clone(), String::new()));

        let first = alice.client.post_heartbeat(None).await.unwrap().heartbeat_id;
        let err = alice.client.post_heartbeat(Some(Uuid::new_v4())).await.unwrap_err();
        assert_eq!(refusal(&err), (400, invalid.clone(), first.to_string()));
        // Restarting with null does not recover either.
        let err = alice.client.post_heartbeat(None).await.unwrap_err();
        assert_eq!(refusal(&err), (400, invalid.clone(), first.to_string()));
        let second = alice.client.post_heartbeat(Some(first)).await.expect("the issued id works").heartbeat_id;
        assert_ne!(second, first, "each beat returns the next id");
        let err = alice.client.post_heartbeat(Some(first)).await.unwrap_err();
        assert_eq!(refusal(&err), (400, invalid, second.to_string()), "the previous id is stale");
        // Adopting the id the refusal named works.
        let adopted: Uuid = refusal(&err).2.parse().unwrap();
        alice.client.post_heartbeat(Some(adopted)).await.expect("the adopted id works");
        sim.shutdown().await;
    })
    .await;
}
