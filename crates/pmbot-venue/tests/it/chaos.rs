//! The chaos run: busy simulated markets, a simulator that drops the
//! connection at random, stalls without answering PING, and sends malformed
//! and out-of-order frames. Over at least 20,000 market messages, whenever
//! the market is frozen and pmbot has resynced, every book pmbot holds equals
//! the simulator's; the stream never stops; reconnects are counted as the
//! simulator saw them.

use crate::common;

use std::time::Duration;

use common::*;
use pmbot_venue::marketdata::DisconnectReason;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_match_the_exchange_after_every_resync_under_faults() {
    bounded(600, async {
        let mut cfg = busy_sim(12, 31);
        cfg.faults = "ws-drop=0.0003,ws-stall=7s/2s,ws-malformed=0.001,ws-out-of-order=0.001".parse().unwrap();
        let sim = start_sim(cfg).await;
        let tokens = all_tokens(&sim);
        assert_eq!(tokens.len(), 24);
        let md = start_md(stream_cfg(&sim), tokens.clone());

        let mut checks = 0;
        let mut last_messages;
        loop {
            // Let the market run, then freeze it and compare.
            tokio::time::sleep(Duration::from_secs(3)).await;
            sim.state.pause_source(true);
            let bad = converge(&md, &sim, &tokens, 30).await;
            assert!(bad.is_empty(), "after check {checks}, books differ: {bad:#?}");
            checks += 1;
            let h = md.health();
            last_messages = h.messages;
            sim.state.pause_source(false);
            if h.messages >= 20_000 && checks >= 5 {
                break;
            }
        }

        let health = md.health();
        let stats = md.state().books.stats().clone();
        let faults = sim.state.faults.counts();
        let sim_connections = sim.state.stats.ws_connections.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!(
            "chaos: {checks} checks, {last_messages} messages, health {health:#?}, books {stats:#?}, faults {faults:?}"
        );

        // The faults happened, and pmbot saw them.
        assert!(faults.total() > 0, "faults were injected");
        assert!(health.reconnects >= 1, "the simulator dropped or stalled the connection");
        assert!(stats.deltas_held > 0, "deltas arrived for unknown books and were held, not applied");
        assert!(health.rejected.values().sum::<u64>() > 0, "malformed frames were counted");
        // Reconnects counted as the simulator saw connections (each connect is one).
        assert_eq!(health.connects, sim_connections, "connects vs the simulator's count");
        assert!(health.uptime_pct > 50.0 && health.uptime_pct <= 100.0, "uptime {}", health.uptime_pct);
        // Every connection but the live one ended with a counted reason.
        let ended: u64 = health
            .disconnects
            .iter()
            .filter(|(r, _)| !matches!(r, DisconnectReason::Stopped | DisconnectReason::ConnectFailed))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(ended, health.reconnects, "every reconnect follows a counted disconnect");

        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}
