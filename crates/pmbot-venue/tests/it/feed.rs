//! The engine's feed (`FeedEvent`s) against the simulator: a copy of each
//! book kept from the feed alone, the way the trading engine keeps its own,
//! is never trusted when the venue's book is not. A malformed frame and a
//! dropped connection reach it as distrust, and the REST resync and the new
//! connection's snapshots reach it as books, after which it equals the
//! exchange's book again. Issue 14, the live path's trust bug: `live` used
//! to re-parse raw frames and drop what the venue had learnt.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use pmbot_core::{MarketEvent, OrderBook, Price, Side, Size, TickSize, TokenId};
use pmbot_sim::engine::{Address, NewOrder, OrderType};
use pmbot_venue::SystemClock;
use pmbot_venue::marketdata::{
    BookStoreConfig, DisconnectReason, DistrustReason, FeedEvent, MarketData, MarketDataConfig, Outputs,
};
use tokio::sync::mpsc;

/// A book kept from the feed, as the engine keeps it.
struct Copy {
    book: OrderBook,
    trusted: bool,
}

/// What the consumer saw, shared with the test.
#[derive(Default)]
struct Seen {
    books: BTreeMap<TokenId, Copy>,
    /// Every event, in order: ("book" | "delta" | distrust reason, token).
    log: Vec<(String, TokenId)>,
}

fn start(sim: &pmbot_sim::SimHandle, tokens: &[TokenId]) -> (MarketData, Arc<Mutex<Seen>>) {
    let (tx, mut rx) = mpsc::channel::<FeedEvent>(1024);
    let cfg = MarketDataConfig { stream: stream_cfg(sim), books: BookStoreConfig::strict() };
    let outputs = Outputs { frames: None, feed: Some(tx) };
    let md = MarketData::start_with(cfg, tokens.to_vec(), Arc::new(SystemClock), outputs).expect("stream starts");
    let seen = Arc::new(Mutex::new(Seen::default()));
    for t in tokens {
        let copy = Copy { book: OrderBook::new(t.clone(), TickSize::Hundredth), trusted: false };
        seen.lock().unwrap().books.insert(t.clone(), copy);
    }
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            let mut s = shared.lock().unwrap();
            match ev {
                FeedEvent::Market { event: MarketEvent::Book(b), .. } => {
                    if let Some(c) = s.books.get_mut(&b.token) {
                        c.trusted = c.book.apply_book(&b).is_ok();
                    }
                    s.log.push(("book".into(), b.token.clone()));
                }
                FeedEvent::Market { at, event: MarketEvent::PriceChanges(batch) } => {
                    for ch in &batch.changes {
                        if let Some(c) = s.books.get_mut(&ch.token)
                            && c.book.apply_price_change(ch, at).is_err()
                        {
                            c.trusted = false;
                        }
                        s.log.push(("delta".into(), ch.token.clone()));
                    }
                }
                FeedEvent::Market { .. } => {}
                FeedEvent::Distrusted { token, reason, .. } => {
                    if let Some(c) = s.books.get_mut(&token) {
                        c.trusted = false;
                    }
                    s.log.push((format!("{reason:?}"), token));
                }
            }
        }
    });
    (md, seen)
}

/// The copy of `token`'s book: (bids, asks) best first, and its trust.
fn copy_of(seen: &Mutex<Seen>, token: &TokenId) -> (Levels, Levels, bool) {
    let s = seen.lock().unwrap();
    let c = &s.books[token];
    let side = |side| c.book.levels(side).map(|l| (l.price.to_string(), l.size.to_string())).collect();
    (side(Side::Buy), side(Side::Sell), c.trusted)
}

/// Waits until every copy is trusted and equal to the simulator's book.
async fn copies_converge(seen: &Mutex<Seen>, sim: &pmbot_sim::SimHandle, tokens: &[TokenId], secs: u64) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let bad: Vec<String> = tokens
            .iter()
            .filter_map(|t| {
                let (b, a, trusted) = copy_of(seen, t);
                let (sb, sa) = sim_book(sim, t)?;
                (!(trusted && b == sb && a == sa))
                    .then(|| format!("{t}: trusted={trusted} {b:?}/{a:?} vs {sb:?}/{sa:?}"))
            })
            .collect();
        if bad.is_empty() || tokio::time::Instant::now() >= deadline {
            return bad;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The copies trusted while the venue's book is not (the invariant says
/// none). Only meaningful on a quiet feed: a distrust in flight to the
/// consumer is a lag, not a lie.
fn never_trusted_beyond_the_venue(md: &MarketData, seen: &Mutex<Seen>, tokens: &[TokenId]) -> Vec<TokenId> {
    // Lock order: the venue's state, then the copies; the consumer holds
    // only the copies, so a copy may lag (untrusted) but never lead.
    let st = md.state();
    let s = seen.lock().unwrap();
    tokens
        .iter()
        .filter(|t| s.books[*t].trusted && !st.books.trust(t).is_some_and(|tr| tr.is_trusted()))
        .cloned()
        .collect()
}

fn house_bid(sim: &pmbot_sim::SimHandle, token: &TokenId, price: &str, size: u64, n: u8) {
    let owner = Address::repeat_byte(0x5d);
    let order = NewOrder {
        id: pmbot_core::Hash32([n; 32]),
        maker: owner,
        owner,
        api_key: "house".into(),
        token: token.clone(),
        side: Side::Buy,
        price: Price::parse(price).unwrap(),
        size: Size::from_shares(size),
        order_type: OrderType::Gtc,
        post_only: false,
        expiration_s: 0,
    };
    sim.state.with_exchange(|ex, now| {
        ex.fund(owner, pmbot_core::Usdc::from_whole(1_000_000)).unwrap();
        ex.submit(order, now).expect("order accepted")
    });
}

/// A malformed frame: the copy stops being trusted when the venue's book
/// does, and the REST resync (the only way back: the WebSocket does not
/// resend a book) reaches it as a book equal to the exchange's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_frame_reaches_the_engine_as_distrust_and_the_rest_resync_as_a_book() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let tokens = all_tokens(&sim);
        let (md, seen) = start(&sim, &tokens);
        assert!(copies_converge(&seen, &sim, &tokens, 10).await.is_empty());
        let before = seen.lock().unwrap().log.len();

        sim.state.set_faults("ws-malformed=1".parse().unwrap());
        house_bid(&sim, &tokens[0], "0.44", 10, 1);
        let frame_lost = format!("{:?}", DistrustReason::FrameLost);
        let lost = async {
            while !seen.lock().unwrap().log[before..].iter().any(|(what, _)| what == &frame_lost) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), lost).await.expect("the lost frame reached the feed");
        sim.state.set_faults(pmbot_sim::faults::FaultSpec::none());

        let bad = copies_converge(&seen, &sim, &tokens, 15).await;
        assert!(bad.is_empty(), "the REST resync reached the copy: {bad:#?}");
        {
            let s = seen.lock().unwrap();
            let after = &s.log[before..];
            let distrusted_at = after.iter().position(|(w, _)| w == &frame_lost).unwrap();
            let (_, token) = &after[distrusted_at];
            assert!(
                after[distrusted_at..].iter().any(|(w, t)| w == "book" && t == token),
                "a book for {token} after its distrust: {after:?}"
            );
        }
        assert!(md.health().rest_fetches > 0, "by REST");
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}

/// A dropped connection: every copy is distrusted, and the new connection's
/// snapshots restore them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_distrusts_every_copy_until_the_resync() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(2)).await;
        let tokens = all_tokens(&sim);
        let (md, seen) = start(&sim, &tokens);
        assert!(copies_converge(&seen, &sim, &tokens, 10).await.is_empty());
        let before = seen.lock().unwrap().log.len();

        md.handle().recycle(DisconnectReason::Closed).unwrap();
        house_bid(&sim, &tokens[1], "0.37", 25, 2);
        let bad = copies_converge(&seen, &sim, &tokens, 15).await;
        assert!(bad.is_empty(), "{bad:#?}");
        {
            let s = seen.lock().unwrap();
            let lost = format!("{:?}", DistrustReason::ConnectionLost);
            for t in &tokens {
                let distrusted = s.log[before..].iter().position(|(w, x)| w == &lost && x == t);
                let distrusted = distrusted.unwrap_or_else(|| panic!("{t} distrusted on the disconnect: {:?}", s.log));
                assert!(
                    s.log[before + distrusted..].iter().any(|(w, x)| w == "book" && x == t),
                    "{t}: a snapshot after the distrust"
                );
            }
        }
        assert!(never_trusted_beyond_the_venue(&md, &seen, &tokens).is_empty());
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}
