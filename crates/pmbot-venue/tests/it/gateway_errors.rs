//! Each error class of an order post, produced by the simulator's faults (or
//! a proxy in front of it), and what the gateway does about it. Every test
//! ends with the same check: the simulator holds at most one order per
//! intent, and it is the one pmbot tracks.

use crate::gateway_support;

use std::time::{Duration, Instant};

use gateway_support::*;
use pmbot_core::{OrderStatus, Side, TickSize};
use pmbot_sim::SimHandle;
use pmbot_sim::faults::{FaultKind, FaultSpec};
use pmbot_venue::gateway::{GatewayAlert, GatewayError, HeartbeatHealth, MemoryOrderLog, Refusal};

fn set_faults(sim: &SimHandle, spec: &str) {
    sim.state.set_faults(spec.parse::<FaultSpec>().expect("fault spec"));
}

/// Clears the faults once a fault of `kind` was injected and `post_hit`
/// says the order post itself met it: background REST reads (the user
/// channel's catch-up after it connects) can take the first fault.
fn clear_once_the_post_is_hit(
    sim: &SimHandle,
    kind: FaultKind,
    post_hit: impl Fn() -> bool + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let state = sim.state.clone();
    tokio::spawn(async move {
        while state.faults.counts().get(kind) == 0 || !post_hit() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        state.set_faults(FaultSpec::none());
    })
}

/// One intent, one order: the journal prepared one hash and the simulator
/// holds exactly that order.
fn one_order_for(log: &MemoryOrderLog, sim: &SimHandle, cid: &str) {
    let hashes = hashes_by_intent(log);
    let mine = &hashes[&pmbot_core::ClientOrderId::new(cid).unwrap()];
    assert_eq!(mine.len(), 1, "{cid}: {mine:?}");
    assert!(sim_order(sim, &mine[0]).is_some(), "{cid}: the simulator holds {}", mine[0]);
}

async fn ambiguous_status_then_repost(spec: &str, kind: FaultKind) {
    let sim = start_sim(quiet_sim(1)).await;
    let dir = temp_dir(&format!("amb-{}", kind.name()));
    let log = MemoryOrderLog::new();
    let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
    let (yes, _) = tokens(&sim)[0].clone();
    gw.prepare_market(&yes).await.unwrap();
    set_faults(&sim, spec);
    let watched = gw.clone();
    let clear = clear_once_the_post_is_hit(&sim, kind, move || watched.stats().ambiguous > 0);
    let placed = gw.place(intent("a-1", &yes, Side::Buy, "0.40", 10)).await.expect("placed in the end");
    clear.await.unwrap();
    assert!(placed.posts >= 2, "the identical order was posted again: {placed:?}");
    assert_eq!(placed.status, OrderStatus::Acknowledged);
    assert!(gw.stats().ambiguous >= 1);
    assert!(gw.stats().lookups >= 1, "looked up before re-posting");
    assert_eq!(accepted(&sim), 1);
    one_order_for(&log, &sim, "a-1");
    gw.shutdown();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_ambiguous_looked_up_then_the_identical_order_is_reposted() {
    bounded(60, ambiguous_status_then_repost("rest-5xx=1", FaultKind::Rest5xx)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_425_is_ambiguous_looked_up_then_the_identical_order_is_reposted() {
    bounded(60, ambiguous_status_then_repost("rest-425=1", FaultKind::Rest425)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_accepted_while_the_reply_timed_out_is_found_not_resent() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("accept-timeout");
        let log = MemoryOrderLog::new();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        gw.prepare_market(&yes).await.unwrap();
        // The exchange takes the order at once and holds the reply 1.5 s,
        // past the gateway's 1 s timeout.
        set_faults(&sim, "rest-accept-timeout=1@1500ms");
        for i in 0..3 {
            let cid = format!("t-{i}");
            let placed = gw.place(intent(&cid, &yes, Side::Buy, "0.40", 10)).await.expect("found by its hash");
            assert_eq!((placed.posts, placed.status), (1, OrderStatus::Acknowledged), "{placed:?}");
            one_order_for(&log, &sim, &cid);
        }
        assert_eq!(accepted(&sim), 3);
        assert_eq!(gw.stats().ambiguous, 3);
        assert_eq!(gw.stats().reposts, 0, "an order the exchange holds is never sent again");
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

/// The same at the production setting: the default 5 s bound on every call,
/// and an exchange that takes the order and holds its reply 6 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_default_5s_timeout_a_reply_held_6s_is_ambiguous_and_found() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("accept-timeout-5s");
        let log = MemoryOrderLog::new();
        let mut cfg = sim_cfg(&sim, &dir);
        cfg.request_timeout = pmbot_venue::gateway::GatewayConfig::default().request_timeout;
        assert_eq!(cfg.request_timeout, std::time::Duration::from_secs(5));
        let gw = start_gateway(cfg, 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        gw.prepare_market(&yes).await.unwrap();
        set_faults(&sim, "rest-accept-timeout=1@6s");
        let started = std::time::Instant::now();
        let placed = gw.place(intent("t5-0", &yes, Side::Buy, "0.40", 10)).await.expect("found by its hash");
        set_faults(&sim, "");
        assert!(started.elapsed() >= std::time::Duration::from_secs(5), "the post waited out its 5 s bound");
        assert_eq!((placed.posts, placed.status), (1, OrderStatus::Acknowledged), "{placed:?}");
        one_order_for(&log, &sim, "t5-0");
        assert_eq!((accepted(&sim), gw.stats().ambiguous, gw.stats().reposts), (1, 1, 0));
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_held_past_every_retry_is_pending_then_reconciled() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("delay");
        let log = MemoryOrderLog::new();
        let mut started = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap();
        let gw = started.gateway.clone();
        let (yes, _) = tokens(&sim)[0].clone();
        gw.prepare_market(&yes).await.unwrap();
        // Every request is held 1.5 s before it is handled: the posts and the
        // look-ups all time out, yet the posts land later.
        set_faults(&sim, "rest-delay=1500ms@1");
        let placed = gw.place(intent("d-1", &yes, Side::Buy, "0.40", 10)).await.expect("pending, not an error");
        assert_eq!(placed.status, OrderStatus::UnknownPendingReconcile);
        assert_eq!(placed.posts, 3);
        let alert = loop {
            match started.alerts.recv().await.unwrap() {
                a @ GatewayAlert::OrderUnknown { .. } => break a,
                _ => continue,
            }
        };
        assert!(matches!(alert, GatewayAlert::OrderUnknown { order_id, .. } if order_id == placed.order_id));
        set_faults(&sim, "none");
        // The background sweep settles it as the exchange has it. (Whether a
        // held post is handled after the client hung up is the server's
        // business: this simulator drops it, a slow real backend may not.)
        let cid = placed.client_order_id.clone();
        assert!(
            eventually(15, || gw.order(&cid).is_some_and(|o| o.status != OrderStatus::UnknownPendingReconcile)).await,
            "{:?}",
            gw.order(&cid)
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let view = gw.order(&cid).unwrap();
        match sim_order(&sim, &placed.order_id) {
            Some(_) => assert_eq!(view.status, OrderStatus::Acknowledged),
            None => assert_eq!(view.status, OrderStatus::Rejected, "{view:?}"),
        }
        assert!(accepted(&sim) <= 1, "three identical posts make one order at most");
        assert_eq!(hashes_by_intent(&log)[&cid].len(), 1);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_honours_retry_after_and_resends_the_same_order() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("429");
        let log = MemoryOrderLog::new();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        gw.prepare_market(&yes).await.unwrap();
        set_faults(&sim, "rest-429=1@1s");
        let watched = gw.clone();
        let clear = clear_once_the_post_is_hit(&sim, FaultKind::Rest429, move || watched.stats().rate_limited > 0);
        let t0 = Instant::now();
        let placed = gw.place(intent("r-1", &yes, Side::Buy, "0.40", 10)).await.expect("placed after the wait");
        clear.await.unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(990), "waited out Retry-After: {:?}", t0.elapsed());
        assert_eq!(placed.posts, 2);
        assert_eq!(gw.stats().ambiguous, 0, "a 429 is not ambiguous: the exchange did not take it");
        assert!(gw.stats().rate_limited >= 1);
        assert_eq!(accepted(&sim), 1);
        one_order_for(&log, &sim, "r-1");
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_block_page_halts_trading() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("403");
        let log = MemoryOrderLog::new();
        let mut started = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap();
        let gw = started.gateway.clone();
        let (yes, _) = tokens(&sim)[0].clone();
        gw.prepare_market(&yes).await.unwrap();
        set_faults(&sim, "rest-403-html=1");
        let err = gw.place(intent("x-1", &yes, Side::Buy, "0.40", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Fatal(ref m) if m.contains("403")), "{err:?}");
        assert!(gw.halted().is_some());
        assert!(matches!(started.alerts.recv().await.unwrap(), GatewayAlert::Halted { .. }));
        // Nothing is retried, and every later order is refused.
        set_faults(&sim, "none");
        let err = gw.place(intent("x-2", &yes, Side::Buy, "0.40", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::Halted(_))), "{err:?}");
        assert_eq!(gw.stats().posts, 1);
        assert_eq!(accepted(&sim), 0);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_answer_halts_trading() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("401");
        let log = MemoryOrderLog::new();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        // The API key is revoked behind the gateway's back.
        let key: uuid::Uuid = gw.api_key().parse().unwrap();
        sim.state.lock().keys.delete(&key).unwrap();
        let err = gw.place(intent("u-1", &yes, Side::Buy, "0.40", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Fatal(ref m) if m.contains("401")), "{err:?}");
        let err = gw.place(intent("u-2", &yes, Side::Buy, "0.40", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::Halted(_))), "{err:?}");
        assert_eq!(gw.stats().posts, 1);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_off_a_changed_tick_is_rebuilt_once_on_the_new_tick() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("tick");
        let log = MemoryOrderLog::new();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        // A bid above 0.96 moves the market to the fine tick (0.001) ...
        let h = house(&sim, 0xcc);
        let high = house_order(&sim, h, &yes, Side::Buy, "0.97", 10);
        let fine = gw.place(intent("tk-1", &yes, Side::Buy, "0.305", 10)).await.expect("on the fine tick");
        assert_eq!(fine.rebuilt_on_tick, None);
        // ... and back to 0.01 once it is gone. The gateway still has 0.001
        // (no stream here tells it), so the next order is off the grid.
        let out = sim.state.with_exchange(|ex, now| ex.cancel(h, &[high], now));
        assert_eq!(out.canceled.len(), 1);
        let placed = gw.place(intent("tk-2", &yes, Side::Buy, "0.305", 10)).await.expect("rebuilt and placed");
        assert_eq!(placed.rebuilt_on_tick, Some(TickSize::Hundredth));
        let view = gw.order(&placed.client_order_id).unwrap();
        assert_eq!(view.price.to_string(), "0.3", "a BUY is rounded down: never above its limit");
        assert_eq!(view.status, OrderStatus::Acknowledged);
        // Two preparations for the intent, the first refused; the simulator
        // holds only the second.
        let hashes = hashes_by_intent(&log);
        let tk2 = &hashes[&placed.client_order_id];
        assert_eq!(tk2.len(), 2);
        assert!(sim_order(&sim, &tk2[0]).is_none());
        assert_eq!(tk2[1], placed.order_id);
        assert!(sim_order(&sim, &placed.order_id).is_some());
        assert_eq!(accepted(&sim), 2);
        // The stream path: a tick from `set_tick_size` is used directly.
        gw.set_tick_size(&yes, TickSize::Hundredth);
        let err = gw.place(intent("tk-3", &yes, Side::Buy, "0.305", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::Invalid(_))), "{err:?}");
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_with_the_same_order() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let proxy = Proxy::start(sim.addr).await;
        let dir = temp_dir("refused");
        let log = MemoryOrderLog::new();
        let mut cfg = gateway_cfg(&proxy.url(), &sim.ws_url(), &dir);
        cfg.retry.attempts = 10;
        cfg.retry.initial_backoff = Duration::from_millis(100);
        cfg.retry.max_backoff = Duration::from_millis(150);
        // Heartbeats go through the same closed door; a failed one would
        // (rightly) refuse the order before it is tried. This test is about
        // the post, so no heartbeat falls inside the closed window.
        cfg.heartbeat_interval = Duration::from_secs(60);
        let gw = start_gateway(cfg, 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        // Warm the market cache, then close the door.
        gw.place(intent("c-0", &yes, Side::Buy, "0.10", 10)).await.unwrap();
        // The resting order's first heartbeat is through before the door closes.
        let beat = gw.clone();
        assert!(eventually(5, move || matches!(beat.heartbeat(), HeartbeatHealth::Healthy { .. })).await);
        proxy.set_refusing(true).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let gw2 = gw.clone();
        let yes2 = yes.clone();
        let placing = tokio::spawn(async move { gw2.place(intent("c-1", &yes2, Side::Buy, "0.40", 10)).await });
        tokio::time::sleep(Duration::from_millis(250)).await;
        proxy.set_refusing(false).await;
        let placed = placing.await.unwrap().expect("placed once the door opens");
        assert!(placed.posts >= 2, "{placed:?}");
        assert_eq!(gw.stats().ambiguous, 0, "a refused connection sent nothing: no look-up needed");
        assert_eq!(accepted(&sim), 2);
        one_order_for(&log, &sim, "c-1");
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}
