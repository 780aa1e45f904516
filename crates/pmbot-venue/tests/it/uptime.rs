//! Market-data uptime under repeated short drops (issue 12): the simulator
//! closes every connection after its 300th frame, some ten seconds in, and
//! every reconnect succeeds at once. With the production stream settings the
//! stream must be connected at least 99 % of the run. Before the backoff
//! reset after a connection that delivered data, it was not (94 % over this
//! minute, 47 % over a longer run): no connection stayed up the minute that
//! used to reset the delays, so they grew towards the 30 s cap. Figures in
//! RELIABILITY.md.

use crate::common;

use std::time::Duration;

use common::*;
use pmbot_sim::SimConfig;
use pmbot_sim::faults::FaultKind;
use pmbot_venue::marketdata::{DisconnectReason, StreamConfig};

/// How long the stream runs at least: about half a dozen drops, long enough
/// that the old rule's delays reach several seconds.
const RUN: Duration = Duration::from_secs(60);
/// Drops the run must have seen before it is measured. The simulator makes
/// frames at its own pace, which a loaded machine slows: the run goes on
/// (up to `LONGEST`) until this many connections were dropped.
const DROPS: u64 = 6;
const LONGEST: Duration = Duration::from_secs(240);

/// The faults, and why each is in (the simulator's fault draws are seeded,
/// so every run injects the same faults into the same connections):
/// - `ws-drop-every=300`: the drop the issue measured; each connection ends
///   some ten seconds in, after delivering data.
/// - `ws-malformed`, `ws-out-of-order`: refused and reordered frames doubt
///   books and send them to REST for a resync; they must not cost the
///   connection.
/// - `rest-5xx`, `rest-429`: some of those REST fetches fail; REST trouble
///   must not take the stream down.
/// - `ws-stall=4s/250ms`: a short silence, frames discarded and `PING`s
///   unanswered, well inside the pong timeout and the silence limit: the
///   stream must ride it out, not reconnect.
///
/// Left out: `ws-drop` (random drops add nothing to `ws-drop-every` but
/// noise in the figure), the order-only REST kinds (no orders here),
/// `rest-delay` and `rest-accept-timeout` (REST reads have their own
/// timeout and say nothing about the socket), and long stalls (a stall past
/// the pong timeout is a dead connection; stream.rs tests that one).
const FAULTS: &str =
    "ws-drop-every=300,ws-stall=4s/250ms,ws-malformed=0.005,ws-out-of-order=0.005,rest-5xx=0.1,rest-429=0.05";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_data_is_up_99_percent_under_repeated_short_drops() {
    bounded(LONGEST.as_secs() + 60, async {
        // The simulator's default markets, as `pmbot sim --faults ...` runs them.
        let sim = start_sim(SimConfig { faults: FAULTS.parse().unwrap(), ..SimConfig::default() }).await;
        let tokens = all_tokens(&sim);
        // The production stream settings (backoff included), aimed at the simulator.
        let stream = StreamConfig { ws_url: sim.ws_url(), rest_url: sim.rest_url(), ..StreamConfig::default() };
        let md = start_md(stream, tokens);
        let started = std::time::Instant::now();
        while started.elapsed() < RUN
            || (sim.state.faults.counts().get(FaultKind::WsDropEvery) < DROPS && started.elapsed() < LONGEST)
        {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let ran = started.elapsed();
        let health = md.health();
        let faults = sim.state.faults.counts();
        md.stop().await;
        sim.shutdown().await;
        eprintln!(
            "uptime {:.2} % over {} s: {} reconnects, disconnects {:?}, {} messages, rejected {:?}, \
             REST fetches {} ({} failed), faults {}",
            health.uptime_pct,
            ran.as_secs(),
            health.reconnects,
            health.disconnects,
            health.messages,
            health.rejected,
            health.rest_fetches,
            health.rest_failures,
            serde_json::to_string(&faults).unwrap_or_default()
        );

        // The faults happened, the drops again and again: the figure is
        // about recovering from them.
        assert!(faults.get(FaultKind::WsDropEvery) >= DROPS, "drops injected: {faults:?}");
        for kind in [FaultKind::WsMalformed, FaultKind::WsOutOfOrder, FaultKind::WsStall] {
            assert!(faults.get(kind) > 0, "no {kind} injected: {faults:?}");
        }
        assert!(health.reconnects >= 5, "reconnects: {}", health.reconnects);
        // Every connection was ended by the server's drop: the stalls and bad
        // frames cost none.
        assert!(
            health.disconnects.keys().all(|r| *r == DisconnectReason::Closed),
            "disconnects: {:?}",
            health.disconnects
        );
        assert!(health.uptime_pct >= 99.0, "uptime {:.2} % is below 99 %", health.uptime_pct);
    })
    .await;
}
