//! Start-up reconciliation: every order the journal left open is looked up
//! by its hash and its trades; what changed while pmbot was down (fills,
//! orders that landed although pmbot never heard back, orders that never
//! landed) reaches the journal; an open order the journal does not know stops
//! start-up.

use crate::gateway_support;

use gateway_support::*;
use pmbot_core::{OrderStatus, Side, Size};
use pmbot_venue::gateway::{LoggedOrder, MemoryOrderLog, StartError};

/// A copy of `log` as a journal would read it back after a crash in which
/// the replies to `forget` were lost: those orders are `Sent`, not yet known.
fn crashed_copy(log: &MemoryOrderLog, forget: &[&str]) -> MemoryOrderLog {
    let copy = MemoryOrderLog::new();
    for (cid, o) in log.snapshot().orders {
        let mut o: LoggedOrder = o;
        if forget.contains(&cid.as_str()) {
            o.status = OrderStatus::Sent;
            o.filled = Size::ZERO;
        }
        copy.seed(o);
    }
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_finds_what_happened_while_down() {
    bounded(90, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("recover");
        let log = MemoryOrderLog::new();
        let (yes, no) = tokens(&sim)[0].clone();
        let first = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        // Three orders rest: one will fill while pmbot is down, one will be
        // cancelled, one stays.
        let filled = first.place(intent("r-fill", &yes, Side::Buy, "0.40", 10)).await.unwrap();
        let cancelled = first.place(intent("r-cancel", &yes, Side::Buy, "0.30", 10)).await.unwrap();
        let stays = first.place(intent("r-stay", &yes, Side::Buy, "0.20", 10)).await.unwrap();
        let owner = first.address();
        first.shutdown();
        drop(first);

        // While down: a house account fills the first; the second is cancelled
        // (as the exchange's heartbeat switch would).
        let h = house(&sim, 0xdd);
        house_order(&sim, h, &no, Side::Buy, "0.60", 10);
        let out = sim.state.with_exchange(|ex, now| ex.cancel(owner, &[cancelled.order_id], now));
        assert_eq!(out.canceled.len(), 1);

        // The journal as read back: the replies of two posts were lost, and
        // one order was journaled but never sent (a crash between the two).
        let journal = crashed_copy(&log, &["r-fill", "r-stay"]);
        let mut ghost = journal.snapshot().orders[&stays.client_order_id].clone();
        ghost.prepared.client_order_id = pmbot_core::ClientOrderId::new("r-ghost").unwrap();
        ghost.prepared.intent.client_order_id = ghost.prepared.client_order_id.clone();
        ghost.prepared.order_hash = pmbot_core::Hash32([0x42; 32]);
        ghost.status = OrderStatus::New;
        journal.seed(ghost);

        let started = start_gateway(sim_cfg(&sim, &dir), 0, &journal, Budget::unlimited()).await.expect("starts");
        let gw = started.gateway;
        let r = started.report;
        assert_eq!(r.checked, 4, "{r:?}");
        assert_eq!((r.open, r.closed, r.not_on_exchange, r.new_fills), (1, 2, 1, 1), "{r:?}");
        assert!(r.unmapped.is_empty());
        let snap = journal.snapshot();
        let status = |cid: &str| snap.orders[&pmbot_core::ClientOrderId::new(cid).unwrap()].status;
        assert_eq!(status("r-fill"), OrderStatus::Filled);
        assert_eq!(status("r-cancel"), OrderStatus::Cancelled);
        assert_eq!(status("r-stay"), OrderStatus::Acknowledged);
        assert_eq!(status("r-ghost"), OrderStatus::Rejected);
        assert_eq!(snap.fills.len(), 1);
        assert_eq!((snap.fills[0].order_id, snap.fills[0].size), (filled.order_id, Size::from_shares(10)));
        assert!(snap.notes.iter().any(|(k, _)| k == "reconciliation"), "{:?}", snap.notes);
        assert_eq!(gw.order(&stays.client_order_id).unwrap().status, OrderStatus::Acknowledged);
        gw.shutdown();

        // An empty journal while the exchange holds an open order: refuse.
        let empty = MemoryOrderLog::new();
        let err = start_gateway(sim_cfg(&sim, &dir), 0, &empty, Budget::unlimited()).await.expect_err("refused");
        match &err {
            StartError::Unmapped(list) => {
                assert_eq!(list.len(), 1);
                assert_eq!(list[0].order_id, stays.order_id.to_string());
            }
            other => panic!("{other}"),
        }
        let text = err.to_string();
        assert!(text.contains(&stays.order_id.to_string()) && text.contains("journal does not know"), "{text}");
        sim.shutdown().await;
    })
    .await;
}

/// A kill between the journal's two writes for one trade (the order's new
/// status, then the fill), or between the look-up and the trades of a
/// reconciliation, leaves an order final in the journal with its fill never
/// written. Start-up still finds that fill: a final order whose fills fall
/// short of its filled size is reconciled too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_order_missing_its_fill_gets_it_at_start_up() {
    bounded(90, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("owed-fill");
        let log = MemoryOrderLog::new();
        let (yes, no) = tokens(&sim)[0].clone();
        let first = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let placed = first.place(intent("o-fill", &yes, Side::Buy, "0.40", 10)).await.unwrap();
        let h = house(&sim, 0xdc);
        house_order(&sim, h, &no, Side::Buy, "0.60", 10);
        assert!(eventually(10, || log.snapshot().fills.len() == 1).await, "the fill arrives over the user channel");
        first.shutdown();
        drop(first);

        // The journal as read back after the crash: the order final and
        // filled, its fill not written.
        let journal = MemoryOrderLog::new();
        for (_, o) in log.snapshot().orders {
            assert_eq!((o.status, o.filled), (OrderStatus::Filled, Size::from_shares(10)));
            journal.seed(o);
        }
        assert!(journal.snapshot().fills.is_empty());

        let started = start_gateway(sim_cfg(&sim, &dir), 0, &journal, Budget::unlimited()).await.expect("starts");
        let snap = journal.snapshot();
        assert_eq!(snap.fills.len(), 1, "the missing fill is found at start-up: {:?}", started.report);
        assert_eq!((snap.fills[0].order_id, snap.fills[0].size), (placed.order_id, Size::from_shares(10)));
        assert_eq!(snap.orders[&placed.client_order_id].status, OrderStatus::Filled);
        assert_eq!(started.report.new_fills, 1, "{:?}", started.report);
        started.gateway.shutdown();

        // Once the fills add up, a final order is left alone.
        let again = start_gateway(sim_cfg(&sim, &dir), 0, &journal, Budget::unlimited()).await.expect("starts");
        assert_eq!((again.report.checked, again.report.new_fills), (0, 0), "{:?}", again.report);
        assert_eq!(journal.snapshot().fills.len(), 1);
        again.gateway.shutdown();
        sim.shutdown().await;
    })
    .await;
}
