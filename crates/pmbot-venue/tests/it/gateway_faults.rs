//! The fault run: over two thousand order attempts against the simulator
//! with 5xx, 429 (Retry-After), replies held past the client's timeout,
//! delayed requests, connections dropped mid-request by a proxy, and a user
//! channel cut every few hundred frames, while a house account takes part of
//! the resting bids (partial and full fills). Afterwards, and after one
//! reconciliation:
//! - every intent was prepared with exactly one hash, and the simulator holds
//!   at most that one order for it;
//! - every order the simulator accepted is one pmbot tracks (the count of
//!   accepted orders equals the tracked orders the simulator holds), and
//!   every open order on the simulator is tracked;
//! - pmbot's status and filled size of every order equal the simulator's,
//!   and orders the simulator never got are rejected, none left unknown;
//! - the journal agrees with the tracker, and its fills of every order add
//!   up to what the simulator matched: no fill lost, none counted twice.

use crate::gateway_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gateway_support::*;
use pmbot_core::{OrderStatus, Side};
use pmbot_sim::faults::{FaultKind, FaultSpec};
use pmbot_venue::gateway::{GatewayError, MemoryOrderLog, Refusal};

const INTENTS: usize = 2_200;

/// [`house_take`] with only the simulator's state at hand.
fn house_take_state(
    state: &pmbot_sim::SimState,
    owner: pmbot_sim::engine::Address,
    token: &pmbot_core::TokenId,
    price: &str,
    shares: u64,
) -> bool {
    use pmbot_sim::engine::{NewOrder, OrderType};
    static N: AtomicUsize = AtomicUsize::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed) as u64;
    let mut id = [0u8; 32];
    id[..20].copy_from_slice(owner.as_slice());
    id[24..].copy_from_slice(&n.to_be_bytes());
    let order = NewOrder {
        id: pmbot_core::Hash32(id),
        maker: owner,
        owner,
        api_key: format!("house-{owner:#x}"),
        token: token.clone(),
        side: Side::Buy,
        price: pmbot_core::Price::parse(price).unwrap(),
        size: pmbot_core::Size::from_shares(shares),
        order_type: OrderType::Fak,
        post_only: false,
        expiration_s: 0,
    };
    state.with_exchange(|ex, now| ex.submit(order, now)).is_ok()
}
const WORKERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_orders_under_faults_never_double_and_reconcile_exactly() {
    bounded(240, async {
        let sim = start_sim(quiet_sim(3)).await;
        let proxy = Proxy::start(sim.addr).await;
        let dir = temp_dir("faults");
        let log = MemoryOrderLog::new();
        let mut cfg = gateway_cfg(&proxy.url(), &sim.ws_url(), &dir);
        cfg.heartbeat_interval = Duration::from_secs(1);
        let gw = start_gateway(cfg, 0, &log, Budget::unlimited()).await.expect("start").gateway;
        let toks: Vec<_> = tokens(&sim).into_iter().flat_map(|(y, n)| [y, n]).collect();
        for t in &toks {
            gw.prepare_market(t).await.unwrap();
        }

        sim.state.set_faults(
            "rest-5xx=0.03,rest-429=0.01@1s,rest-accept-timeout=0.02@1500ms,rest-delay=1500ms@0.01,ws-drop-every=300"
                .parse::<FaultSpec>()
                .unwrap(),
        );
        proxy.set_drop_probability(0.002);

        let t0 = Instant::now();
        // A house account sells into our bids now and then: 5 shares, taken
        // from the best bid of a token (half of one of our 10-share orders).
        let filler = {
            let state = sim.state.clone();
            let pairs = tokens(&sim);
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let stop2 = stop.clone();
            let task = tokio::spawn(async move {
                let owner = pmbot_sim::engine::Address::repeat_byte(0xee);
                state.fund(owner, pmbot_core::Usdc::from_whole(100_000)).unwrap();
                let mut takes = 0usize;
                let mut i = 0usize;
                while !stop2.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    let (yes, no) = &pairs[i % pairs.len()];
                    // Buying one outcome at 0.99 matches our bids on the other.
                    let other = if i.is_multiple_of(2) { no } else { yes };
                    i += 1;
                    if house_take_state(&state, owner, other, "0.99", 5) {
                        takes += 1;
                    }
                }
                takes
            });
            (stop, task)
        };
        let next = Arc::new(AtomicUsize::new(0));
        let outcomes = Arc::new(std::sync::Mutex::new(BTreeMap::<String, usize>::new()));
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (gw, next, outcomes, toks) = (gw.clone(), next.clone(), outcomes.clone(), toks.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= INTENTS {
                        return;
                    }
                    let token = &toks[(i * 7 + w) % toks.len()];
                    let price = format!("0.0{}", 1 + i % 5);
                    // While heartbeats fail the gateway refuses; a strategy
                    // waits and tries the same intent again.
                    let mut r = gw.place(intent(&format!("f-{i}"), token, Side::Buy, &price, 10)).await;
                    for _ in 0..100 {
                        if !matches!(r, Err(GatewayError::Refused(Refusal::HeartbeatFailing(_)))) {
                            break;
                        }
                        *outcomes.lock().unwrap().entry("refused:heartbeat (retried)".into()).or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        r = gw.place(intent(&format!("f-{i}"), token, Side::Buy, &price, 10)).await;
                    }
                    let kind = match &r {
                        Ok(p) => format!("placed:{:?}", p.status),
                        Err(GatewayError::Refused(Refusal::HeartbeatFailing(_))) => "refused:heartbeat".into(),
                        Err(GatewayError::Refused(r)) => format!("refused:{r}"),
                        Err(GatewayError::NotTaken { .. }) => "not-taken".into(),
                        Err(e) => format!("error:{e}"),
                    };
                    *outcomes.lock().unwrap().entry(kind).or_default() += 1;
                    // Cancel half of what rests, as a strategy would, so
                    // cancels run under the same faults.
                    if let Ok(p) = r
                        && p.status == OrderStatus::Acknowledged
                        && i.is_multiple_of(2)
                    {
                        let _ = gw.cancel(p.order_id).await;
                    }
                }
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        let placing = t0.elapsed();
        filler.0.store(true, Ordering::Relaxed);
        let takes = filler.1.await.unwrap();

        // Faults off; let held replies and delayed requests run out; reconcile.
        sim.state.set_faults(FaultSpec::none());
        proxy.set_drop_probability(0.0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let report = gw.reconcile().await.expect("reconcile");
        let counts = sim.state.faults.counts();
        let stats = gw.stats();
        let outcomes = outcomes.lock().unwrap().clone();
        eprintln!(
            "fault run: {INTENTS} intents in {placing:?}; outcomes {outcomes:?}; gateway {stats:?}; \
             sim faults 5xx={} 429={} accept-timeout={} delay={} ws-drop-every={}; proxy drops={}; \
             user channel connections={}; house takes={takes}; final reconcile {report:?}",
            counts.get(FaultKind::Rest5xx),
            counts.get(FaultKind::Rest429),
            counts.get(FaultKind::RestAcceptTimeout),
            counts.get(FaultKind::RestDelay),
            counts.get(FaultKind::WsDropEvery),
            proxy.drops(),
            gw.user_channel().connections,
        );

        // The run really was faulty, and large.
        assert!(stats.posts >= 2_000, "{stats:?}");
        for kind in [FaultKind::Rest5xx, FaultKind::Rest429, FaultKind::RestAcceptTimeout, FaultKind::RestDelay] {
            assert!(counts.get(kind) > 0, "{kind} never fired");
        }
        assert!(proxy.drops() > 0 && stats.ambiguous > 0 && stats.reposts > 0, "{stats:?}");
        assert!(gw.user_channel().connections > 1, "the user channel was cut and came back");
        assert!(report.unmapped.is_empty(), "{report:?}");

        // One hash per intent.
        let hashes = hashes_by_intent(&log);
        assert!(hashes.values().all(|h| h.len() == 1), "an intent was prepared twice");

        // Every order the simulator accepted is tracked; every tracked order
        // agrees with the simulator.
        let views = gw.orders();
        assert_eq!(views.len(), hashes.len());
        let mut held = 0u64;
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for v in &views {
            let id = v.order_id.expect("every tracked order has its hash");
            *by_status.entry(format!("{:?}", v.status)).or_default() += 1;
            match sim_order(&sim, &id) {
                Some((st, matched)) => {
                    held += 1;
                    assert_eq!(v.status, expected_status(st, matched, v.size), "{v:?} vs simulator {st:?}");
                    assert_eq!(v.filled, matched, "{v:?}");
                }
                None => assert_eq!(v.status, OrderStatus::Rejected, "{v:?}: the simulator does not have it"),
            }
        }
        assert_eq!(held, accepted(&sim), "the simulator accepted no order pmbot does not track");
        let tracked: BTreeSet<_> = views.iter().filter_map(|v| v.order_id).collect();
        let open = sim_open(&sim, gw.address());
        assert!(open.iter().all(|id| tracked.contains(id)));
        eprintln!("final statuses {by_status:?}; simulator holds {held}, {} open", open.len());

        // The journal says the same as the tracker, and its fills add up.
        let snap = log.snapshot();
        let mut fills: BTreeMap<pmbot_core::OrderId, pmbot_core::Size> = BTreeMap::new();
        for f in &snap.fills {
            *fills.entry(f.order_id).or_default() += f.size;
        }
        let mut partly = 0;
        for v in &views {
            let row = &snap.orders[&v.client_order_id];
            assert_eq!((row.status, row.filled), (v.status, v.filled), "{v:?}");
            let id = v.order_id.unwrap();
            assert_eq!(fills.get(&id).copied().unwrap_or_default(), v.filled, "journal fills of {v:?}");
            if !v.filled.is_zero() && v.filled < v.size {
                partly += 1;
            }
        }
        assert!(takes > 0 && !snap.fills.is_empty() && partly > 0, "fills happened: {takes} takes, {partly} partial");
        eprintln!("fills journaled {}, orders partly filled {partly}", snap.fills.len());
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}
