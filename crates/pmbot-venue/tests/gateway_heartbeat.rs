//! The order-safety heartbeat against the simulator's dead-man switch:
//! resting orders survive while the gateway beats; while heartbeats fail new
//! orders are refused (and the exchange cancels what rests); once nothing
//! rests, or beats succeed again, orders go through.

mod gateway_support;

use std::time::Duration;

use gateway_support::*;
use pmbot_core::{OrderStatus, Side};
use pmbot_sim::SimConfig;
use pmbot_sim::faults::FaultSpec;
use pmbot_venue::gateway::{GatewayAlert, GatewayError, HeartbeatHealth, MemoryOrderLog, Refusal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_survive_while_beating_and_new_ones_wait_while_beats_fail() {
    bounded(60, async {
        let sim = start_sim(SimConfig { heartbeat_timeout: Duration::from_millis(1_500), ..quiet_sim(1) }).await;
        let dir = temp_dir("heartbeat");
        let log = MemoryOrderLog::new();
        let mut started = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap();
        let gw = started.gateway.clone();
        let (yes, _) = tokens(&sim)[0].clone();
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
