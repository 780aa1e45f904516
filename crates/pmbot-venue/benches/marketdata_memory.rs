//! Heap memory per subscribed token (target <= 100 KB per token with 500
//! tokens at typical depth).
//!
//! Run: `cargo bench -p pmbot-venue --bench marketdata_memory`.
//!
//! A counting global allocator records the live heap bytes (the sizes asked
//! for; the allocator's own overhead per block is not included). The figure
//! is the heap that subscribing costs: 500 token ids (250 binary markets,
//! 20-40 levels a side, a fifth of them on a 0.001 tick) registered with the
//! parser's interner, one pmbot-core `OrderBook` each in a store keyed by
//! token, every book built from its `book` snapshot frame, the events
//! dropped. It is measured again after 200,000 more frames of deltas, trades
//! and re-snapshots, to show the books do not grow at steady depth.

#![allow(unsafe_code, reason = "a counting global allocator measures the heap; it only forwards to System")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use pmbot_core::{MarketEvent, TokenId};
use pmbot_venue::marketdata::{FrameParser, TokenInterner};

mod common;

use common::{Books, received};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const MARKETS: usize = 250;

fn main() {
    let rec = common::recording(MARKETS, 200_000, 11);
    let tokens = rec.tokens.len();
    let levels: usize = rec.frames[..rec.initial].iter().map(|f| f.matches("\"price\"").count()).sum();

    let before = live();
    // The ids as subscribing creates them (one shared allocation each).
    let ids: Vec<TokenId> = rec.tokens.iter().map(|t| TokenId::parse(t.as_str()).unwrap()).collect();
    let interner: TokenInterner = ids.iter().cloned().collect();
    let mut parser = FrameParser::with_interner(interner);
    let after_interner = live();
    let mut books = Books::new(&ids);
    drop(ids);
    let after_store = live();
    let mut out: Vec<MarketEvent> = Vec::new();
    for (i, frame) in rec.frames[..rec.initial].iter().enumerate() {
        out.clear();
        assert!(parser.parse(frame, received(i), &mut out).is_clean());
        out.iter().for_each(|e| books.apply(e));
    }
    out = Vec::new();
    let synced = live();
    for (i, frame) in rec.frames[rec.initial..].iter().enumerate() {
        out.clear();
        assert!(parser.parse(frame, received(i), &mut out).is_clean());
        out.iter().for_each(|e| books.apply(e));
    }
    drop(out);
    let streamed = live();
    assert_eq!(books.refused, 0);
    assert!(books.books.iter().all(|b| b.has_snapshot()));

    let kb = |bytes: isize| bytes as f64 / 1024.0;
    let per_token = |bytes: isize| bytes as f64 / tokens as f64;
    println!(
        "{tokens} tokens, {} levels in their snapshots ({:.1} a side on average)",
        levels,
        levels as f64 / tokens as f64 / 2.0
    );
    println!(
        "token ids + interner:          {:>9.1} KB  {:>7.0} B/token",
        kb(after_interner - before),
        per_token(after_interner - before)
    );
    println!(
        "book store (empty books):      {:>9.1} KB  {:>7.0} B/token",
        kb(after_store - after_interner),
        per_token(after_store - after_interner)
    );
    println!(
        "after the snapshots:           {:>9.1} KB  {:>7.0} B/token",
        kb(synced - before),
        per_token(synced - before)
    );
    println!(
        "after {} more frames:     {:>9.1} KB  {:>7.0} B/token",
        rec.frames.len() - rec.initial,
        kb(streamed - before),
        per_token(streamed - before)
    );
    std::hint::black_box((&parser, &books));
}
