//! Injected faults, one test per kind, each showing the fault happens exactly
//! as its spec says (`src/faults/mod.rs` has the grammar), plus real rate
//! limiting. Faults are set either in `SimConfig::faults` at start or through
//! `POST /_sim/faults`, and `GET /_sim/faults` counts what was injected.
//!
//! WebSocket frames are produced on demand by house orders placed straight on
//! the engine: a client subscribed to one token gets exactly one
//! `price_change` per order, and the order's price tells the frames apart.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use pmbot_core::Side::Buy;
use pmbot_sim::SimConfig;
use pmbot_sim::engine::Query;
use pmbot_sim::ratelimit::{EndpointClass, WindowLimit};
use polymarket_client_sdk_v2::clob::types::Side as SdkSide;
use polymarket_client_sdk_v2::types::{Decimal, dec};
use serde_json::Value;

/// One quiet market with `spec` in force from the start.
fn faulty(spec: &str) -> SimConfig {
    SimConfig { faults: spec.parse().expect("fault spec"), ..quiet_config(1) }
}

/// The price of the Yes entry of a `price_change` frame.
fn change_price(frame: &str, m: &MarketIds) -> Decimal {
    let v: Value = serde_json::from_str(frame).unwrap_or_else(|_| panic!("not JSON: {frame}"));
    assert_eq!(event_type(&v), "price_change", "{v}");
    let e = v["price_changes"].as_array().unwrap().iter().find(|e| e["asset_id"] == m.yes.as_str()).expect("Yes entry");
    dec_of(&e["price"])
}

/// Subscribes to Yes and returns once the subscription has taken effect.
async fn subscribed(sim: &pmbot_sim::SimHandle, m: &MarketIds) -> WsConn {
    let mut ws = WsConn::market(sim).await;
    ws.send_json(&market_sub(&[&m.yes], false)).await;
    ws
}

/// `ws-drop-every=3`: the server closes each connection right after the
/// third frame it sent; the fourth never arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_drop_every_closes_after_exactly_n_frames() {
    bounded(60, async {
        let sim = start(faulty("ws-drop-every=3")).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xb1);
        let mut ws = subscribed(&sim, m).await;
        assert!(ws.recv().await.starts_with('['), "frame 1: the book dump");
        house_order(&sim, h, &m.yes, Buy, "0.30", 10);
        assert_eq!(change_price(&ws.recv().await, m), dec!(0.3), "frame 2");
        house_order(&sim, h, &m.yes, Buy, "0.31", 10);
        assert_eq!(change_price(&ws.recv().await, m), dec!(0.31), "frame 3");
        house_order(&sim, h, &m.yes, Buy, "0.32", 10);
        ws.expect_closed().await;
        assert_eq!(fault_count(&sim, "ws-drop-every").await, 1);

        // The count is per connection: a new one gets its three frames too.
        let mut again = subscribed(&sim, m).await;
        assert!(again.recv().await.starts_with('['));
        house_order(&sim, h, &m.yes, Buy, "0.33", 10);
        house_order(&sim, h, &m.yes, Buy, "0.34", 10);
        assert_eq!(change_price(&again.recv().await, m), dec!(0.33));
        assert_eq!(change_price(&again.recv().await, m), dec!(0.34));
        again.expect_closed().await;
        assert_eq!(fault_count(&sim, "ws-drop-every").await, 2);
        sim.shutdown().await;
    })
    .await;
}

/// `ws-drop=1`: the first frame the server would send closes the connection
/// instead (`PONG` is not a feed frame and still comes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_drop_closes_at_the_first_frame() {
    bounded(60, async {
        let sim = start(faulty("ws-drop=1")).await;
        let m = &markets(&sim)[0];
        let mut ws = WsConn::market(&sim).await;
        ws.send("PING").await;
        assert_eq!(ws.recv().await, "PONG");
        ws.send_json(&market_sub(&[&m.yes], false)).await;
        ws.expect_closed().await;
        assert_eq!(fault_count(&sim, "ws-drop").await, 1);
        sim.shutdown().await;
    })
    .await;
}

/// `ws-stall=4s/2s`: in each 4 s since the connection opened, the last 2 s
/// are silent. A `PING` then gets no `PONG` and a feed frame is discarded
/// (not delayed), while the socket stays open; afterwards `PONG`s and frames
/// flow again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_stall_silences_the_connection_without_closing_it() {
    bounded(60, async {
        let sim = start(faulty("ws-stall=4s/2s")).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xb2);
        let t0 = Instant::now();
        let mut ws = subscribed(&sim, m).await;
        let t1 = Instant::now();
        // The server opened the connection somewhere in [t0, t1]; its stall is
        // [open + 2 s, open + 4 s). The windows below hold for any such open.
        assert!(t1 - t0 < Duration::from_millis(1_500), "connecting took {:?}", t1 - t0);
        assert!(ws.recv().await.starts_with('['), "the dump, before the stall");
        assert!(ws.sync().await.is_empty(), "PONG before the stall");

        tokio::time::sleep_until((t1 + Duration::from_millis(2_200)).into()).await;
        ws.send("PING").await;
        house_order(&sim, h, &m.yes, Buy, "0.30", 10);
        let stall_end = t0 + Duration::from_millis(3_800);
        ws.expect_silence(stall_end.saturating_duration_since(Instant::now())).await;

        tokio::time::sleep_until((t1 + Duration::from_millis(4_200)).into()).await;
        ws.send("PING").await;
        assert_eq!(ws.recv().await, "PONG", "the stalled PING was never answered; this one is");
        house_order(&sim, h, &m.yes, Buy, "0.31", 10);
        assert_eq!(change_price(&ws.recv().await, m), dec!(0.31), "the frame from the stall was dropped, not queued");
        assert_eq!(fault_count(&sim, "ws-stall").await, 2, "one PING and one frame");
        sim.shutdown().await;
    })
    .await;
}

/// `ws-malformed=1`: every frame is corrupted (truncated, garbage, or one
/// value of the wrong type) so none parses as a valid message; clearing the
/// plan makes the same connection's next frame valid again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_malformed_corrupts_every_frame() {
    bounded(60, async {
        let sim = start(faulty("ws-malformed=1")).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xb3);
        let mut ws = subscribed(&sim, m).await;
        let mut bad = vec![ws.recv().await];
        for price in ["0.30", "0.31", "0.32", "0.33", "0.34"] {
            house_order(&sim, h, &m.yes, Buy, price, 10);
            bad.push(ws.recv().await);
        }
        for frame in &bad {
            assert!(!is_valid_market_frame(frame), "not corrupted: {frame}");
        }
        assert_eq!(fault_count(&sim, "ws-malformed").await, 6);

        set_faults(&sim, "").await;
        house_order(&sim, h, &m.yes, Buy, "0.35", 10);
        let good = ws.recv().await;
        assert!(is_valid_market_frame(&good), "{good}");
        assert_eq!(change_price(&good, m), dec!(0.35));
        sim.shutdown().await;
    })
    .await;
}

/// `ws-out-of-order=1`: a frame is held and sent right after the next one,
/// so each pair arrives swapped: the change before the book dump it
/// follows, and 0.32 before 0.31.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_out_of_order_swaps_frames() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        set_faults(&sim, "ws-out-of-order=1").await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xb4);
        let mut ws = subscribed(&sim, m).await;
        assert!(ws.sync().await.is_empty(), "the dump is held back");

        house_order(&sim, h, &m.yes, Buy, "0.30", 10);
        assert_eq!(change_price(&ws.recv().await, m), dec!(0.3));
        let dump = ws.recv_json().await;
        assert_eq!(dump[0]["event_type"], "book", "the held dump follows: {dump}");
        assert_eq!(dump[0]["bids"], serde_json::json!([]), "the book from before the change");

        house_order(&sim, h, &m.yes, Buy, "0.31", 10);
        house_order(&sim, h, &m.yes, Buy, "0.32", 10);
        assert_eq!(change_price(&ws.recv().await, m), dec!(0.32));
        assert_eq!(change_price(&ws.recv().await, m), dec!(0.31));
        assert_eq!(fault_count(&sim, "ws-out-of-order").await, 2);
        sim.shutdown().await;
    })
    .await;
}

/// Whether the engine holds any open order of `who`.
fn has_open_orders(sim: &pmbot_sim::SimHandle, who: &Account) -> bool {
    !sim.state.lock().exchange.open_orders(who.address, &Query::default()).is_empty()
}

/// `rest-5xx=1`: every request is answered 500, 502 or 503 with
/// `{"error": ...}` and not handled (an order post places nothing); admin
/// endpoints are never faulted, which is how the plan is cleared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_5xx_answers_server_errors_without_handling() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        set_faults(&sim, "rest-5xx=1").await;

        let mut codes = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let resp = get(&sim, &format!("/book?token_id={}", m.yes.as_str())).await;
            assert_eq!(resp.headers()["x-sim-fault"], "1");
            let (status, msg) = error_of(resp).await;
            let expected = match status {
                500 => "internal server error",
                502 => "bad gateway",
                503 => "service unavailable",
                other => panic!("status {other}"),
            };
            assert_eq!(msg, expected);
            codes.insert(status);
        }
        assert!(codes.len() >= 2, "codes are drawn from 500/502/503: {codes:?}");
        let (status, _) = error_of(alice.post_json(&sim, &order).await).await;
        assert!([500, 502, 503].contains(&status));
        assert!(!has_open_orders(&sim, &alice), "a faulted order post is not handled");
        assert_eq!(fault_count(&sim, "rest-5xx").await, 21);

        set_faults(&sim, "").await;
        assert_eq!(get(&sim, &format!("/book?token_id={}", m.yes.as_str())).await.status(), 200);
        sim.shutdown().await;
    })
    .await;
}

/// `rest-425=1`: 425 `{"error":"service not ready"}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_425_answers_service_not_ready() {
    bounded(60, async {
        let sim = start(faulty("rest-425=1")).await;
        let m = &markets(&sim)[0];
        let resp = get(&sim, &format!("/book?token_id={}", m.yes.as_str())).await;
        assert_eq!(error_of(resp).await, (425, "service not ready".to_owned()));
        assert_eq!(fault_count(&sim, "rest-425").await, 1);
        sim.shutdown().await;
    })
    .await;
}

/// `rest-429=1@2s`: 429 `{"error":"Too Many Requests"}` with `Retry-After: 2`,
/// for order posts too (nothing placed); `GET /_sim/faults` reports the spec
/// in force and the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_429_answers_too_many_requests_with_retry_after() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        set_faults(&sim, "rest-429=1@2s").await;

        let resp = get(&sim, &format!("/book?token_id={}", m.yes.as_str())).await;
        assert_eq!(resp.headers()["retry-after"], "2");
        assert_eq!(error_of(resp).await, (429, "Too Many Requests".to_owned()));
        let resp = alice.post_json(&sim, &order).await;
        assert_eq!(resp.headers()["retry-after"], "2");
        assert_eq!(resp.status(), 429);
        assert!(!has_open_orders(&sim, &alice));

        let report: Value = get(&sim, "/_sim/faults").await.json().await.unwrap();
        assert_eq!(report["spec"], "rest-429=1@2s");
        assert_eq!(report["counts"]["rest-429"], 2);
        assert_eq!(report["counts"]["rest-5xx"], 0);
        sim.shutdown().await;
    })
    .await;
}

/// `rest-403-html=1`: order posts get Cloudflare's HTML region-block page
/// with 403 (through the SDK too) and nothing is placed; other requests such
/// as `GET /book` are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_403_html_blocks_order_posts_only() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let raw = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        let sdk = alice
            .client
            .limit_order()
            .token_id(m.yes_u256())
            .price(dec!(0.41))
            .size(dec!(10))
            .side(SdkSide::Buy)
            .build()
            .await
            .unwrap();
        let sdk = alice.client.sign(&alice.wallet, sdk).await.unwrap();
        set_faults(&sim, "rest-403-html=1").await;

        let resp = alice.post_json(&sim, &raw).await;
        assert_eq!(resp.status(), 403);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let page = resp.text().await.unwrap();
        assert!(page.contains("Cloudflare") && page.contains("blocked"), "{page}");
        let err = alice.client.post_order(sdk).await.unwrap_err();
        assert_eq!(sdk_status(&err).0, 403);
        assert!(!has_open_orders(&sim, &alice));

        let book = get(&sim, &format!("/book?token_id={}", m.yes.as_str())).await;
        assert_eq!(book.status(), 200);
        assert_eq!(fault_count(&sim, "rest-403-html").await, 2);
        sim.shutdown().await;
    })
    .await;
}

/// `rest-accept-timeout=1@2s`: the order is placed at once (another request
/// sees it in the book while the poster is still waiting) and the reply,
/// which confirms that very order, arrives only after 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_accept_timeout_places_the_order_but_holds_the_reply() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        set_faults(&sim, "rest-accept-timeout=1@2s").await;

        let t0 = Instant::now();
        let post = async {
            let resp = alice.post_json(&sim, &order).await;
            (resp, Instant::now())
        };
        let watch = async {
            eventually(10, || async {
                let book: Value = get(&sim, &format!("/book?token_id={}", m.yes.as_str())).await.json().await.ok()?;
                let bids = book["bids"].as_array()?;
                (bids.len() == 1).then(Instant::now)
            })
            .await
            .expect("the order shows in the book")
        };
        let ((resp, replied_at), seen_at) = tokio::join!(post, watch);
        assert!(seen_at < replied_at, "the order was visible before its reply");
        assert!(replied_at - t0 >= Duration::from_secs(2), "reply after {:?}", replied_at - t0);
        assert_eq!(resp.status(), 200);
        let reply: Value = resp.json().await.unwrap();
        assert_eq!(reply["success"], true, "{reply}");
        let open = sim.state.lock().exchange.open_orders(alice.address, &Query::default());
        assert_eq!(open.len(), 1);
        assert_eq!(reply["orderID"], open[0].id.to_string());
        assert_eq!(fault_count(&sim, "rest-accept-timeout").await, 1);
        sim.shutdown().await;
    })
    .await;
}

/// `rest-delay=800ms@1`: every request is held 800 ms *before* it is
/// handled, so an order is not in the book during the delay and is after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_delay_holds_requests_before_handling_them() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        set_faults(&sim, "rest-delay=800ms@1").await;

        let t = Instant::now();
        assert_eq!(get(&sim, "/ok").await.status(), 200);
        assert!(t.elapsed() >= Duration::from_millis(800), "{:?}", t.elapsed());

        let t = Instant::now();
        let post = alice.post_json(&sim, &order);
        let probe = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            has_open_orders(&sim, &alice)
        };
        let (resp, placed_early) = tokio::join!(post, probe);
        assert!(!placed_early, "not handled during the delay");
        assert!(t.elapsed() >= Duration::from_millis(800));
        assert_eq!(resp.status(), 200);
        assert!(has_open_orders(&sim, &alice), "handled after it");
        assert_eq!(fault_count(&sim, "rest-delay").await, 2);
        sim.shutdown().await;
    })
    .await;
}

/// `rest-cancel-fail-first=2`: the first two cancels after the spec was set
/// answer 500 and cancel nothing; order posts and reads pass; the third
/// cancel is handled. Setting the spec again counts from zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_cancel_fail_first_fails_only_the_first_cancels() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        set_faults(&sim, "rest-cancel-fail-first=2").await;
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        let resp = alice.post_json(&sim, &order).await;
        assert_eq!(resp.status(), 200, "order posts are not faulted");
        let reply: Value = resp.json().await.unwrap();
        let id = reply["orderID"].as_str().unwrap().to_owned();
        let body = serde_json::to_vec(&serde_json::json!({ "orderID": id })).unwrap();
        for _ in 0..2 {
            let (status, message) = error_of(alice.raw(&sim, "DELETE", "/order", &body).await).await;
            assert_eq!((status, message.as_str()), (500, "internal server error"));
            assert!(has_open_orders(&sim, &alice), "a failed cancel cancels nothing");
        }
        let resp = alice.raw(&sim, "DELETE", "/order", &body).await;
        assert_eq!(resp.status(), 200);
        let reply: Value = resp.json().await.unwrap();
        assert_eq!(reply["canceled"][0], id.as_str(), "{reply}");
        assert!(!has_open_orders(&sim, &alice));
        assert_eq!(fault_count(&sim, "rest-cancel-fail-first").await, 2);
        set_faults(&sim, "rest-cancel-fail-first=1").await;
        assert_eq!(alice.raw(&sim, "DELETE", "/cancel-all", b"").await.status(), 500);
        assert_eq!(alice.raw(&sim, "DELETE", "/cancel-all", b"").await.status(), 200);
        assert_eq!(fault_count(&sim, "rest-cancel-fail-first").await, 3);
        sim.shutdown().await;
    })
    .await;
}

/// Real rate limiting: with `/book` limited to 3 per 2 s, the fourth request
/// in a window is refused 429 with `Retry-After` and the
/// `Poly-RateLimit-*` headers, other endpoint classes still pass, and after
/// waiting `Retry-After` seconds `/book` admits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_refuses_then_admits_after_retry_after() {
    bounded(60, async {
        let mut cfg = quiet_config(1);
        cfg.rate_limits.overrides.insert(EndpointClass::Book, vec![WindowLimit::new(3, 2_000)]);
        let sim = start(cfg).await;
        let m = &markets(&sim)[0];
        let book = format!("/book?token_id={}", m.yes.as_str());
        // Start at the beginning of a (epoch-aligned) window, so all four
        // requests fall in one window.
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        tokio::time::sleep(Duration::from_millis(2_000 - now_ms % 2_000 + 20)).await;

        for left in ["2", "1", "0"] {
            let resp = get(&sim, &book).await;
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["poly-ratelimit-remaining"], left);
            let reset: i64 = resp.headers()["poly-ratelimit-reset"].to_str().unwrap().parse().unwrap();
            assert!(reset >= now_s(), "reset is a unix time: {reset}");
        }
        let resp = get(&sim, &book).await;
        let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3).contains(&retry_after), "Retry-After {retry_after}");
        assert_eq!(resp.headers()["poly-ratelimit-remaining"], "0");
        assert!(resp.headers().contains_key("poly-ratelimit-reset"));
        assert_eq!(error_of(resp).await, (429, "Too Many Requests".to_owned()));

        let other = get(&sim, &format!("/midpoint?token_id={}", m.yes.as_str())).await;
        assert_eq!(other.status(), 200, "other classes have their own windows");

        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        assert_eq!(get(&sim, &book).await.status(), 200, "admitted after Retry-After");
        sim.shutdown().await;
    })
    .await;
}
