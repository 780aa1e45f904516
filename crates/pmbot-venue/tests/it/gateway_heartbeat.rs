//! The order-safety heartbeat against the simulator's dead-man switch:
//! resting orders survive while the gateway beats; while heartbeats fail new
//! orders are refused (and the exchange cancels what rests); once nothing
//! rests, or beats succeed again, orders go through.

use crate::gateway_support;

use std::time::Duration;

use gateway_support::*;
use pmbot_core::{OrderStatus, Side, TokenId};
use pmbot_sim::SimConfig;
use pmbot_sim::faults::FaultSpec;
use pmbot_venue::gateway::{GatewayAlert, GatewayError, HeartbeatHealth, MemoryOrderLog, Refusal, Started};

/// A quiet simulator whose heartbeat deadline is 1.5 s, a gateway signed in
/// to it, and the first market's Yes token.
async fn with_deadline(name: &str) -> (pmbot_sim::SimHandle, MemoryOrderLog, Started, TokenId) {
    let sim = start_sim(SimConfig { heartbeat_timeout: Duration::from_millis(1_500), ..quiet_sim(1) }).await;
    let log = MemoryOrderLog::new();
    let started = start_gateway(sim_cfg(&sim, &temp_dir(name)), 0, &log, Budget::unlimited()).await.unwrap();
    let (yes, _) = tokens(&sim)[0].clone();
    (sim, log, started, yes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_survive_while_beating_and_new_ones_wait_while_beats_fail() {
    bounded(60, async {
        let (sim, log, mut started, yes) = with_deadline("heartbeat").await;
        let gw = started.gateway.clone();
        assert_eq!(gw.heartbeat(), HeartbeatHealth::Idle, "nothing rests: no heartbeat");

        let resting = gw.place(intent("hb-1", &yes, Side::Buy, "0.30", 10)).await.unwrap();
        assert!(eventually(5, || matches!(gw.heartbeat(), HeartbeatHealth::Healthy { .. })).await);
        // Well past the exchange's 1.5 s timeout, the order still rests.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(sim_open(&sim, gw.address()).contains(&resting.order_id), "kept alive by the heartbeat");
        assert_eq!(sim_stats(&sim).await["heartbeat_cancels"], 0);

        // Every REST call now fails: heartbeats fail, and the gateway refuses
        // new orders before sending anything.
        sim.state.set_faults("rest-5xx=1".parse::<FaultSpec>().unwrap());
        assert!(eventually(5, || gw.heartbeat().failing().is_some()).await, "{:?}", gw.heartbeat());
        let before = accepted(&sim);
        let posts = gw.stats().posts;
        let err = gw.place(intent("hb-2", &yes, Side::Buy, "0.31", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::HeartbeatFailing(_))), "{err:?}");
        assert_eq!((accepted(&sim), gw.stats().posts), (before, posts), "nothing was sent");
        let alert = loop {
            match started.alerts.recv().await.unwrap() {
                a @ GatewayAlert::HeartbeatFailing { .. } => break a,
                _ => continue,
            }
        };
        assert!(matches!(alert, GatewayAlert::HeartbeatFailing { failures: 1, .. }));
        assert!(log.snapshot().refusals.iter().any(|(c, r)| c.as_str() == "hb-2" && r.contains("heartbeat")));

        // The exchange's switch cancels the resting order; the user channel
        // (a WebSocket, unaffected by the REST faults) tells the gateway.
        let cid = resting.client_order_id.clone();
        assert!(
            eventually(10, || gw.order(&cid).is_some_and(|o| o.status == OrderStatus::Cancelled)).await,
            "{:?}",
            gw.order(&cid)
        );
        assert!(sim_open(&sim, gw.address()).is_empty());

        // Faults gone and nothing resting: idle again, and orders go through.
        sim.state.set_faults(FaultSpec::none());
        assert!(eventually(5, || gw.heartbeat() == HeartbeatHealth::Idle).await, "{:?}", gw.heartbeat());
        let again = gw.place(intent("hb-3", &yes, Side::Buy, "0.32", 10)).await.expect("placed");
        assert_eq!(again.status, OrderStatus::Acknowledged);
        assert!(eventually(5, || matches!(gw.heartbeat(), HeartbeatHealth::Healthy { .. })).await);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

/// Beats once on the gateway's own API key (the SDK derives the same key
/// from the same wallet), so the id the gateway holds goes stale: a `null`
/// beat is refused naming the expected id, which is then sent.
async fn beat_on_the_gateways_key(sim: &pmbot_sim::SimHandle) {
    use polymarket_client_sdk_v2::POLYGON;
    use polymarket_client_sdk_v2::auth::{Signer as _, Uuid};
    use polymarket_client_sdk_v2::error::Status;
    use std::str::FromStr as _;

    let wallet = alloy_signer_local::Secp256k1Signer::from_str(KEYS[0]).unwrap().with_chain_id(Some(POLYGON));
    let sdk = polymarket_client_sdk_v2::clob::Client::new(&sim.rest_url(), Default::default()).unwrap();
    let mut client = sdk.authentication_builder(&wallet).authenticate().await.unwrap();
    // Only the beats below: the SDK's own background task would race them.
    client.stop_heartbeats().await.unwrap();
    for _ in 0..20 {
        let err = client.post_heartbeat(None).await.expect_err("the gateway's registration expects its id");
        let status = err.downcast_ref::<Status>().expect("an HTTP status");
        let body: serde_json::Value = serde_json::from_str(&status.message).unwrap();
        let expected = Uuid::parse_str(body["heartbeat_id"].as_str().unwrap()).unwrap();
        // The gateway may beat in between and rotate the id again; retry.
        if client.post_heartbeat(Some(expected)).await.is_ok() {
            return;
        }
    }
    panic!("could not beat on the gateway's key");
}

/// A heartbeat carrying a stale id is answered 400 `{"error_msg":"Invalid
/// Heartbeat ID","heartbeat_id":"<expected id>"}`; the gateway adopts that id
/// and stays healthy, so the exchange never cancels its resting orders.
/// Restarting with `null` (what pmbot did) is refused again while the
/// registration runs, and the deadline then cancels every open order.
/// Sources: polymarket-protocol.md corrections 3; Polymarket/py-sdk transport
/// test `test_order_heartbeat_rejection_preserves_id_without_retry` (the
/// body); the official TypeScript SDK's `sendOrderHeartbeat` ("retry with its
/// heartbeatId"); issue 13 item 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_heartbeat_id_is_replaced_by_the_one_the_exchange_names() {
    bounded(60, async {
        let (sim, _log, mut started, yes) = with_deadline("heartbeat-stale").await;
        let gw = started.gateway.clone();
        let resting = gw.place(intent("hb-stale", &yes, Side::Buy, "0.30", 10)).await.unwrap();
        assert!(eventually(5, || matches!(gw.heartbeat(), HeartbeatHealth::Healthy { .. })).await);

        beat_on_the_gateways_key(&sim).await;
        // Well past the exchange's 1.5 s deadline: never failing, nothing cancelled.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(matches!(gw.heartbeat(), HeartbeatHealth::Healthy { .. }), "{:?}", gw.heartbeat());
        while let Ok(alert) = started.alerts.try_recv() {
            assert!(!matches!(alert, GatewayAlert::HeartbeatFailing { .. }), "{alert:?}");
        }
        assert_eq!(sim_stats(&sim).await["heartbeat_cancels"], 0);
        assert!(sim_open(&sim, gw.address()).contains(&resting.order_id), "kept alive by the heartbeat");
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}
