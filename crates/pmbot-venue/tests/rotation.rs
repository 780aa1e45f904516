//! A rotating universe: short-lived markets (like the 15-minute crypto
//! series) are subscribed as they list and unsubscribed as they end, for the
//! equivalent of a simulated day (96 markets through), and the process's
//! live heap stays flat.

#![allow(unsafe_code, reason = "a counting global allocator measures the heap; it only forwards to System")]

#[path = "it/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use common::*;
use pmbot_core::TokenId;
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SourceConfig};

/// Counts live heap bytes (the whole test process: pmbot and simulator).
struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotating_universe_keeps_memory_flat() {
    bounded(300, async {
        let s = SyntheticConfig {
            markets: 16,
            market_duration_ms: 10_000,
            resolve_delay_ms: 500,
            ..SyntheticConfig::default()
        };
        let mut cfg = SimConfig {
            source: SourceConfig::Synthetic(Box::new(s)),
            keep_resolved: Duration::from_secs(1),
            ..SimConfig::default()
        };
        cfg.engine.max_trades_per_account = 50;
        let sim = start_sim(cfg).await;
        let md = start_md(stream_cfg(&sim), Vec::new());

        let mut subscribed: BTreeSet<TokenId> = BTreeSet::new();
        let mut seen_markets = BTreeSet::new();
        let mut samples: Vec<(usize, i64)> = Vec::new();
        let mut max_books = 0;
        while seen_markets.len() < 96 + 16 {
            let (open, all): (BTreeSet<TokenId>, usize) = {
                let st = sim.state.lock();
                let ms = st.exchange.markets();
                for m in &ms {
                    seen_markets.insert(m.spec.condition_id);
                }
                let open = ms
                    .iter()
                    .filter(|m| m.accepting_orders)
                    .flat_map(|m| m.spec.tokens.iter().map(|t| t.token_id.clone()))
                    .collect();
                (open, ms.len())
            };
            let _ = all;
            let new: Vec<TokenId> = open.difference(&subscribed).cloned().collect();
            let ended: Vec<TokenId> = subscribed.difference(&open).cloned().collect();
            if !new.is_empty() {
                md.subscribe(new.clone()).unwrap();
                subscribed.extend(new);
            }
            if !ended.is_empty() {
                md.unsubscribe(ended.clone()).unwrap();
                for t in &ended {
                    subscribed.remove(t);
                }
            }
            max_books = max_books.max(md.state().books.len());
            samples.push((seen_markets.len(), LIVE.load(Ordering::Relaxed)));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let h = md.health();
        eprintln!(
            "rotation: {} markets, max {} books, health tokens {}, {} messages",
            seen_markets.len(),
            max_books,
            h.tokens.len(),
            h.messages
        );
        assert!(h.messages > 1_000, "the markets were busy");
        assert!(max_books <= 2 * 16 + 4, "books are freed as markets end: max {max_books}");
        assert!(h.tokens.len() <= 2 * 16 + 4);
        // Heap after warm-up (a third of the day) against the rest of the day.
        let warm: Vec<i64> = samples.iter().filter(|(n, _)| (40..56).contains(n)).map(|(_, b)| *b).collect();
        let late: Vec<i64> = samples.iter().filter(|(n, _)| *n >= 96).map(|(_, b)| *b).collect();
        let warm_peak = *warm.iter().max().expect("warm samples");
        let late_peak = *late.iter().max().expect("late samples");
        eprintln!("live heap: warm peak {warm_peak} B, late peak {late_peak} B");
        assert!(
            late_peak < warm_peak + warm_peak / 4 + 512 * 1024,
            "heap grew with the markets rotated through: {warm_peak} -> {late_peak}"
        );
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}
