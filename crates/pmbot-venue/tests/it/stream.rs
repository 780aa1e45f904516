//! The supervised stream against the simulator: books follow the exchange,
//! dead and silent connections are replaced and resynced, a feed that stays
//! alive but stops telling is caught, unsubscribing frees state.

use crate::common;

use std::time::Duration;

use common::*;
use pmbot_core::{Price, Side, Size, TokenId};
use pmbot_sim::engine::{Address, NewOrder, OrderType};
use pmbot_venue::marketdata::backoff::BackoffConfig;
use pmbot_venue::marketdata::{ConnectionState, DisconnectReason, StreamConfig, Trust};

/// A resting order from a made-up house account, straight into the engine.
/// With `silently`, the simulator does not publish it: the feed never tells.
fn house_order(sim: &pmbot_sim::SimHandle, token: &TokenId, side: Side, price: &str, size: u64, silently: bool) {
    let owner = Address::repeat_byte(0x5c);
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&rand_id().to_be_bytes());
    let order = NewOrder {
        id: pmbot_core::Hash32(id),
        maker: owner,
        owner,
        api_key: "house".into(),
        token: token.clone(),
        side,
        price: Price::parse(price).unwrap(),
        size: Size::from_shares(size),
        order_type: OrderType::Gtc,
        post_only: false,
        expiration_s: 0,
    };
    if silently {
        let now = sim.state.now_ms();
        let mut s = sim.state.lock();
        s.exchange.fund(owner, pmbot_core::Usdc::from_whole(1_000_000)).unwrap();
        s.exchange.submit(order, now).expect("order accepted");
        s.exchange.drain_events();
    } else {
        sim.state.with_exchange(|ex, now| {
            ex.fund(owner, pmbot_core::Usdc::from_whole(1_000_000)).unwrap();
            ex.submit(order, now).expect("order accepted")
        });
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// Books follow the exchange change by change; trust is reported with its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn books_follow_the_exchange() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(2)).await;
        let tokens = all_tokens(&sim);
        let md = start_md(stream_cfg(&sim), tokens.clone());
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        house_order(&sim, &tokens[0], Side::Buy, "0.40", 10, false);
        house_order(&sim, &tokens[3], Side::Buy, "0.30", 20, false);
        let bad = converge(&md, &sim, &tokens, 10).await;
        assert!(bad.is_empty(), "{bad:#?}");
        let (bids, _, trusted) = our_book(&md, &tokens[0]).unwrap();
        assert!(trusted);
        assert_eq!(bids, [("0.4".to_owned(), "10".to_owned())]);
        // The mirror token shows the bid as an ask at 0.60.
        let (_, asks, _) = our_book(&md, &tokens[1]).unwrap();
        assert_eq!(asks, [("0.6".to_owned(), "10".to_owned())]);
        let h = md.health();
        assert!(matches!(h.state, ConnectionState::Live { .. }));
        assert_eq!((h.connects, h.reconnects), (1, 0));
        assert!(h.last_resync_ms.is_some());
        assert!(matches!(md.state().books.trust(&tokens[0]), Some(Trust::Trusted { .. })));
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}

/// A stall that stops answering PING is detected within the PONG timeout and
/// ends in a fresh connection with resynced books.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_without_pong_is_detected_and_resynced() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let tokens = all_tokens(&sim);
        let md = start_md(stream_cfg(&sim), tokens.clone());
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        sim.state.set_faults("ws-stall=60s/59s".parse().unwrap());
        // Only connections opened from now on stall (the plan is per
        // connection, from its start): force one.
        md.handle().recycle(DisconnectReason::Closed).unwrap();
        let detected =
            wait_for(15, || md.health().disconnects.get(&DisconnectReason::PongTimeout).copied().unwrap_or(0) >= 1)
                .await;
        assert!(detected, "{:#?}", md.health());
        sim.state.set_faults(pmbot_sim::faults::FaultSpec::none());
        house_order(&sim, &tokens[0], Side::Buy, "0.33", 12, false);
        let bad = converge(&md, &sim, &tokens, 15).await;
        assert!(bad.is_empty(), "{bad:#?}");
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}

/// A connection that answers PONG but carries no market message for longer
/// than the silence limit is recycled and the books resynced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_feed_is_recycled() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let tokens = all_tokens(&sim);
        let mut cfg = stream_cfg(&sim);
        cfg.silence_limit = Some(Duration::from_secs(2));
        let md = start_md(cfg, tokens.clone());
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        // Nothing trades: PONGs keep coming, market messages do not.
        let silent =
            wait_for(10, || md.health().disconnects.get(&DisconnectReason::Silent).copied().unwrap_or(0) >= 1).await;
        assert!(silent, "{:#?}", md.health());
        // The disconnect is counted when it happens, the reconnect once the
        // new connection is up: wait for it rather than race it.
        let reconnected = wait_for(10, || md.health().reconnects >= 1).await;
        assert!(reconnected, "{:#?}", md.health());
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}

/// The field failure: the feed stays up and answers PONG, but one token's
/// book moves on the exchange without a word. The per-token check against
/// REST notices, recycles the connection and resyncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_stops_telling_is_caught_by_the_rest_check() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let tokens = all_tokens(&sim);
        let mut cfg = stream_cfg(&sim);
        cfg.token_silence = Some(Duration::from_secs(3));
        let md = start_md(cfg, tokens.clone());
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        house_order(&sim, &tokens[0], Side::Buy, "0.25", 40, true);
        let caught =
            wait_for(20, || md.health().disconnects.get(&DisconnectReason::StaleFeed).copied().unwrap_or(0) >= 1).await;
        assert!(caught, "{:#?}", md.health());
        let bad = converge(&md, &sim, &tokens, 15).await;
        assert!(bad.is_empty(), "{bad:#?}");
        assert!(md.state().stale_recycles >= 1);
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}

/// Subscribing while running delivers the new books; unsubscribing frees the
/// token's book and health entry and stops its messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_and_unsubscribe_while_running() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(2)).await;
        let tokens = all_tokens(&sim);
        let md = start_md(stream_cfg(&sim), tokens[..2].to_vec());
        assert!(converge(&md, &sim, &tokens[..2], 10).await.is_empty());
        md.subscribe(tokens[2..].to_vec()).unwrap();
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        md.unsubscribe(tokens[..2].to_vec()).unwrap();
        assert!(md.state().books.book(&tokens[0]).is_none());
        assert!(wait_for(5, || !md.health().tokens.contains_key(&tokens[0])).await);
        assert_eq!(md.health().subscribed, 2);
        let before = md.health().tokens[&tokens[2]].messages;
        house_order(&sim, &tokens[0], Side::Buy, "0.31", 10, false);
        house_order(&sim, &tokens[2], Side::Buy, "0.31", 10, false);
        assert!(converge(&md, &sim, &tokens[2..], 10).await.is_empty());
        assert!(md.health().tokens[&tokens[2]].messages > before);
        assert!(md.state().books.book(&tokens[0]).is_none(), "no state comes back for an unsubscribed token");
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}

/// Malformed frames are counted, never applied, and the books they might
/// have touched are resynced over REST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_counted_and_books_resynced() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let tokens = all_tokens(&sim);
        let md = start_md(stream_cfg(&sim), tokens.clone());
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        sim.state.set_faults("ws-malformed=1".parse().unwrap());
        house_order(&sim, &tokens[0], Side::Buy, "0.44", 10, false);
        assert!(wait_for(10, || md.health().rejected.values().sum::<u64>() > 0).await, "{:#?}", md.health());
        sim.state.set_faults(pmbot_sim::faults::FaultSpec::none());
        let bad = converge(&md, &sim, &tokens, 15).await;
        assert!(bad.is_empty(), "the REST resync repaired what the lost frame carried: {bad:#?}");
        assert!(md.health().rest_fetches > 0);
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}

/// A server that completes the WebSocket handshake and closes the connection
/// before any data, again and again: each such connection is a failure, so
/// the delays keep growing instead of reconnecting in a tight loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_dropped_before_any_data_keep_the_backoff_growing() {
    bounded(30, async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await {
                    let _ = ws.close(None).await;
                }
            }
        });
        let cfg = StreamConfig {
            ws_url: format!("ws://{addr}"),
            rest_url: format!("http://{addr}"),
            backoff: BackoffConfig {
                initial: Duration::from_millis(10),
                cap: Duration::from_millis(100),
                reset_after: Duration::from_secs(60),
            },
            ..StreamConfig::default()
        };
        let md = start_md(cfg, vec![TokenId::parse("1").unwrap()]);
        let grown =
            wait_for(20, || matches!(md.health().state, ConnectionState::Backoff { attempt, .. } if attempt >= 5))
                .await;
        let health = md.health();
        assert!(grown, "{health:#?}");
        assert!(health.connects >= 5, "the handshakes succeeded: {health:#?}");
        assert_eq!(health.messages, 0);
        md.stop().await;
        server.abort();
    })
    .await;
}

/// A client that enables custom features (new-market discovery) gets the
/// plain-text frame `NO NEW ASSETS` from time to time: a control frame, not
/// a lost market message, so no book is doubted and nothing is fetched over
/// REST, however often it comes.
/// Sources: polymarket-protocol.md corrections 4; NautilusTrader
/// `crates/adapters/polymarket/src/websocket/handler.rs` `parse_messages`
/// ("Polymarket's WSS periodically sends the plain-text string NO NEW
/// ASSETS"); issue 13 item 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_new_assets_frames_are_control_not_lost_data() {
    bounded(60, async {
        let sim =
            start_sim(pmbot_sim::SimConfig { no_new_assets_every: Duration::from_millis(100), ..quiet_sim(1) }).await;
        let tokens = all_tokens(&sim);
        let md = start_md(StreamConfig { custom_features: true, ..stream_cfg(&sim) }, tokens.clone());
        assert!(converge(&md, &sim, &tokens, 10).await.is_empty());
        let (fetches, distrusted) = (md.health().rest_fetches, md.state().books.stats().distrusted);
        // About 15 frames.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let h = md.health();
        assert!(h.rejected.is_empty(), "{:?}", h.rejected);
        assert_eq!((h.rest_fetches, md.state().books.stats().distrusted), (fetches, distrusted));
        assert!(matches!(md.state().books.trust(&tokens[0]), Some(Trust::Trusted { .. })));
        assert_eq!((h.connects, h.reconnects), (1, 0));
        md.stop().await;
        sim.shutdown().await;
    })
    .await;
}
