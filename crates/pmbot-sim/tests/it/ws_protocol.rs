//! The market and user WebSocket channels, seen frame by frame through a raw
//! client (tokio-tungstenite), so every byte the simulator sends is checked
//! against the protocol notes rather than through an SDK's forgiving parser.
//!
//! Ordering rule used throughout: the server handles one connection's
//! messages in order and publishes engine changes in order, so a test waits
//! for a reply (the initial `book` dump, or `PONG` after `PING`) before it
//! changes the exchange, and proves that a frame did *not* come by showing
//! that a later one came first.

use crate::common;

use std::collections::BTreeSet;

use common::*;
use pmbot_core::Side::Buy;
use pmbot_core::{Hash32, TokenId};
use polymarket_client_sdk_v2::clob::types::{Side as SdkSide, TickSize as SdkTick};
use polymarket_client_sdk_v2::types::dec;
use serde_json::{Value, json};

/// Subscribing to both tokens of a market answers with one array frame
/// holding a `book` snapshot per token: string timestamps, the tick size,
/// and the same hash the REST `/book` reports for that book.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_dumps_both_books_in_one_array_frame() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa1);
        house_order(&sim, h, &m.yes, Buy, "0.40", 10);

        let mut ws = WsConn::market(&sim).await;
        ws.send_json(&market_sub(&[&m.yes, &m.no], false)).await;
        let text = ws.recv().await;
        assert!(is_valid_market_frame(&text), "{text}");
        let frame: Value = serde_json::from_str(&text).unwrap();
        let books = frame.as_array().expect("the dump is one array frame");
        assert_eq!(books.len(), 2, "{frame}");

        let now_ms = now_s() * 1000;
        for (token, bids, asks) in [(&m.yes, vec![("0.4", "10")], vec![]), (&m.no, vec![], vec![("0.6", "10")])] {
            let b = books.iter().find(|b| b["asset_id"] == token.as_str()).expect("a book per token");
            assert_eq!(b["event_type"], "book");
            assert_eq!(b["market"], m.cid_hex());
            assert_eq!(b["tick_size"], "0.01");
            let ts: i64 = b["timestamp"].as_str().expect("timestamp is a string").parse().expect("ms digits");
            assert!((ts - now_ms).abs() < 60_000, "timestamp {ts} is unix ms");
            let hash = b["hash"].as_str().expect("hash is a string");
            assert!(hash.len() == 40 && hash.bytes().all(|c| c.is_ascii_hexdigit()), "{hash}");
            let levels = |side: &str| -> Vec<(String, String)> {
                b[side]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| (dec_of(&l["price"]).to_string(), dec_of(&l["size"]).to_string()))
                    .collect()
            };
            let want =
                |ls: Vec<(&str, &str)>| ls.into_iter().map(|(p, s)| (p.to_owned(), s.to_owned())).collect::<Vec<_>>();
            assert_eq!(levels("bids"), want(bids));
            assert_eq!(levels("asks"), want(asks));
            // Same book, same hash over REST.
            let rest: Value = get(&sim, &format!("/book?token_id={}", token.as_str())).await.json().await.unwrap();
            assert_eq!(rest["hash"], b["hash"], "REST and WS hash the same book alike");
        }
        sim.shutdown().await;
    })
    .await;
}

/// `PING` is answered `PONG`; a message that is not JSON, names an unknown
/// operation or the wrong channel gets `INVALID OPERATION`, and the
/// connection stays usable for a subscription afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_pong_and_invalid_operations_keep_the_connection() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let mut ws = WsConn::market(&sim).await;

        ws.send("PING").await;
        assert_eq!(ws.recv().await, "PONG");
        for bad in [
            "{not json".to_owned(),
            json!({"operation": "frobnicate", "assets_ids": [m.yes.as_str()]}).to_string(),
            json!({"type": "user", "assets_ids": [m.yes.as_str()]}).to_string(),
        ] {
            ws.send(&bad).await;
            assert_eq!(ws.recv().await, "INVALID OPERATION", "reply to {bad}");
        }
        ws.send("PING").await;
        assert_eq!(ws.recv().await, "PONG");

        ws.send_json(&market_sub(&[&m.yes], false)).await;
        let dump = ws.recv_json().await;
        assert_eq!(dump[0]["event_type"], "book");
        assert_eq!(dump[0]["asset_id"], m.yes.as_str());
        sim.shutdown().await;
    })
    .await;
}

/// `operation: subscribe` adds assets (with their `book` dump unless
/// `initial_dump` is false) and `operation: unsubscribe` removes them: after
/// unsubscribing market A's token, a change on A sends nothing, while a
/// later change on B arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_subscribe_and_unsubscribe() {
    bounded(60, async {
        let sim = start(quiet_config(2)).await;
        let ms = markets(&sim);
        let (a, b) = (&ms[0], &ms[1]);
        let h = house(&sim, 0xa2);
        let mut ws = WsConn::market(&sim).await;

        ws.send_json(&market_sub(&[&a.yes], false)).await;
        assert_eq!(ws.recv_json().await[0]["asset_id"], a.yes.as_str());
        ws.send_json(&json!({"operation": "subscribe", "assets_ids": [b.yes.as_str()]})).await;
        let dump = ws.recv_json().await;
        assert_eq!(dump.as_array().map(Vec::len), Some(1), "only the newly added book: {dump}");
        assert_eq!(dump[0]["asset_id"], b.yes.as_str());

        // `initial_dump: false` subscribes without the snapshot.
        ws.send_json(&json!({"operation": "subscribe", "assets_ids": [b.no.as_str()], "initial_dump": false})).await;
        assert!(ws.sync().await.is_empty(), "no dump asked for");

        ws.send_json(&json!({"operation": "unsubscribe", "assets_ids": [a.yes.as_str()]})).await;
        assert!(ws.sync().await.is_empty());
        house_order(&sim, h, &a.yes, Buy, "0.40", 10);
        house_order(&sim, h, &b.yes, Buy, "0.30", 10);
        let next = ws.recv_json().await;
        assert_eq!(event_type(&next), "price_change");
        assert_eq!(next["market"], b.cid_hex(), "the change on A was not sent: {next}");

        // Subscribing again sends A's book as it is now.
        ws.send_json(&json!({"operation": "subscribe", "assets_ids": [a.yes.as_str()]})).await;
        let dump = ws.recv_json().await;
        assert_eq!(dump[0]["asset_id"], a.yes.as_str());
        assert_eq!(dec_of(&dump[0]["bids"][0]["price"]), dec!(0.4));
        sim.shutdown().await;
    })
    .await;
}

/// A resting order shows up as a `price_change` whose `price_changes`
/// entries (one per token) carry side, price, the level's new total size,
/// the token's best bid and ask, and the hash of the book after the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_change_entries_carry_level_totals_best_prices_and_hash() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa3);
        let mut ws = WsConn::market(&sim).await;
        ws.send_json(&market_sub(&[&m.yes, &m.no], false)).await;
        ws.recv_json().await;

        let first = house_order(&sim, h, &m.yes, Buy, "0.40", 10);
        let text = ws.recv().await;
        assert!(is_valid_market_frame(&text), "{text}");
        let pc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event_type(&pc), "price_change");
        assert_eq!(pc["market"], m.cid_hex());
        assert!(pc["timestamp"].as_str().is_some_and(|t| t.parse::<i64>().is_ok()));
        let yes = entry(&pc, &m.yes);
        assert_eq!(
            (yes["side"].as_str(), dec_of(&yes["price"]), dec_of(&yes["size"])),
            (Some("BUY"), dec!(0.4), dec!(10))
        );
        assert_eq!((dec_of(&yes["best_bid"]), dec_of(&yes["best_ask"])), (dec!(0.4), dec!(1)));
        // The bid for Yes is an ask for No at the complement.
        let no = entry(&pc, &m.no);
        assert_eq!(
            (no["side"].as_str(), dec_of(&no["price"]), dec_of(&no["size"])),
            (Some("SELL"), dec!(0.6), dec!(10))
        );
        assert_eq!((dec_of(&no["best_bid"]), dec_of(&no["best_ask"])), (dec!(0), dec!(0.6)));
        for (e, token) in [(&yes, &m.yes), (&no, &m.no)] {
            let rest: Value = get(&sim, &format!("/book?token_id={}", token.as_str())).await.json().await.unwrap();
            assert_eq!(e["hash"], rest["hash"], "entry hash is the book's hash after the change");
        }

        // Sizes are level totals, not deltas.
        house_order(&sim, h, &m.yes, Buy, "0.40", 5);
        assert_eq!(dec_of(&entry(&ws.recv_json().await, &m.yes)["size"]), dec!(15));
        house_cancel(&sim, h, &[first]);
        assert_eq!(dec_of(&entry(&ws.recv_json().await, &m.yes)["size"]), dec!(5));
        sim.shutdown().await;
    })
    .await;
}

/// A trade is announced as `last_trade_price` and followed by fresh `book`
/// snapshots of both tokens (the matched level gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trade_sends_last_trade_price_then_fresh_books() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let (maker, taker) = (house(&sim, 0xa4), house(&sim, 0xa5));
        let mut ws = WsConn::market(&sim).await;
        ws.send_json(&market_sub(&[&m.yes, &m.no], false)).await;
        ws.recv_json().await;
        house_order(&sim, maker, &m.yes, Buy, "0.40", 10);
        assert_eq!(event_type(&ws.recv_json().await), "price_change");

        // BUY 10 No at 0.60 crosses the Yes bid at 0.40.
        house_order(&sim, taker, &m.no, Buy, "0.60", 10);
        let mut seen_books = BTreeSet::new();
        let frames = ws
            .recv_until(|v| {
                if event_type(v) == "book" {
                    seen_books.insert(v["asset_id"].as_str().unwrap_or("").to_owned());
                }
                seen_books.len() == 2
            })
            .await;
        let ltp_at = frames.iter().position(|f| event_type(f) == "last_trade_price").expect("last_trade_price sent");
        let first_book = frames.iter().position(|f| event_type(f) == "book").unwrap();
        assert!(ltp_at < first_book, "trade print before the fresh books: {frames:?}");
        let ltp = &frames[ltp_at];
        assert_eq!(ltp["market"], m.cid_hex());
        // Printed in either token's terms, at that token's price.
        let price = if ltp["asset_id"] == m.no.as_str() { dec!(0.6) } else { dec!(0.4) };
        assert!(ltp["asset_id"] == m.no.as_str() || ltp["asset_id"] == m.yes.as_str(), "{ltp}");
        assert_eq!((dec_of(&ltp["price"]), dec_of(&ltp["size"])), (price, dec!(10)));
        assert!(matches!(ltp["side"].as_str(), Some("BUY" | "SELL")), "{ltp}");
        assert!(ltp["fee_rate_bps"].is_string() && ltp["timestamp"].is_string());
        for book in frames.iter().filter(|f| event_type(f) == "book") {
            assert!(is_valid_market_frame(&book.to_string()), "{book}");
            assert_eq!(book["bids"], json!([]), "{book}");
            assert_eq!(book["asks"], json!([]), "{book}");
            let expect = if book["asset_id"] == m.yes.as_str() { dec!(0.4) } else { dec!(0.6) };
            assert_eq!(dec_of(&book["last_trade_price"]), expect);
        }
        sim.shutdown().await;
    })
    .await;
}

/// `best_bid_ask`, `new_market` and `market_resolved` go only to clients
/// that set `custom_feature_enabled`; both kinds of client get the ordinary
/// feed. A change on a market both follow is the marker that everything
/// before it was delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_feature_messages_only_for_clients_that_enable_them() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let a = markets(&sim)[0].clone();
        let h = house(&sim, 0xa6);
        // A market listed during the test. `new_market` reaches every custom
        // client; the clients also subscribe to its tokens beforehand so that a
        // change on it can serve as the end-of-test marker.
        let mut spec = sim.state.lock().exchange.markets()[0].spec.clone();
        spec.condition_id = Hash32([0x77; 32]);
        spec.question_id = Hash32([0x78; 32]);
        spec.tokens[0].token_id = TokenId::parse("777000001").unwrap();
        spec.tokens[1].token_id = TokenId::parse("777000002").unwrap();
        spec.slug = "sim-test-new-market".into();
        let winner_outcome = spec.tokens[0].outcome.clone(); // "Up" in synthetic markets
        let (new_cid, new_yes, new_no) =
            (spec.condition_id.to_string(), spec.tokens[0].token_id.clone(), spec.tokens[1].token_id.clone());

        let mut plain = WsConn::market(&sim).await;
        let mut custom = WsConn::market(&sim).await;
        plain.send_json(&market_sub(&[&a.yes, &a.no, &new_yes, &new_no], false)).await;
        custom.send_json(&market_sub(&[&a.yes, &a.no, &new_yes, &new_no], true)).await;
        for ws in [&mut plain, &mut custom] {
            assert_eq!(ws.recv_json().await.as_array().map(Vec::len), Some(2), "books of the listed market only");
        }

        house_order(&sim, h, &a.yes, Buy, "0.40", 10);
        sim.state.with_exchange(|ex, now| ex.list_market(spec, now)).expect("listed");
        let resolved =
            admin_post(&sim, "/_sim/resolve", json!({"market": a.cid_hex(), "winning_token": a.yes.as_str()})).await;
        assert_eq!(resolved["resolved"], a.cid_hex());
        // The marker: a change on the new market.
        house_order(&sim, h, &new_yes, Buy, "0.20", 10);
        let marker = |v: &Value| event_type(v) == "price_change" && v["market"] == new_cid;

        let plain_frames = plain.recv_until(marker).await;
        let kinds: Vec<&str> = plain_frames.iter().map(event_type).collect();
        assert!(kinds.contains(&"price_change"), "{kinds:?}");
        for custom_only in ["best_bid_ask", "new_market", "market_resolved"] {
            assert!(!kinds.contains(&custom_only), "plain client got {custom_only}: {kinds:?}");
        }

        let frames = custom.recv_until(marker).await;
        let find = |kind: &str| {
            frames.iter().find(|f| event_type(f) == kind).unwrap_or_else(|| panic!("no {kind} in {frames:?}"))
        };
        let bba = find("best_bid_ask");
        assert_eq!(bba["asset_id"], a.yes.as_str());
        assert_eq!(
            (dec_of(&bba["best_bid"]), dec_of(&bba["best_ask"]), dec_of(&bba["spread"])),
            (dec!(0.4), dec!(1), dec!(0.6))
        );
        let nm = find("new_market");
        assert_eq!(nm["market"], new_cid);
        assert_eq!(nm["assets_ids"], json!([new_yes.as_str(), new_no.as_str()]));
        assert_eq!(nm["slug"], "sim-test-new-market");
        let mr = find("market_resolved");
        assert_eq!(mr["market"], a.cid_hex());
        assert_eq!(mr["winning_asset_id"], a.yes.as_str());
        assert_eq!(mr["winning_outcome"], winner_outcome.as_str());
        sim.shutdown().await;
    })
    .await;
}

/// Near the edges the tick gets finer: a bid above 0.96 announces
/// `tick_size_change` 0.01 -> 0.001 for both tokens, and when the book
/// comes back to the middle the tick returns to 0.01, after which an order
/// priced on the finer grid is refused over REST with the tick error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_size_changes_near_the_edges_and_back() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa7);
        let mut ws = WsConn::market(&sim).await;
        ws.send_json(&market_sub(&[&m.yes, &m.no], false)).await;
        ws.recv_json().await;

        let bid = house_order(&sim, h, &m.yes, Buy, "0.97", 10);
        let ask = house_order(&sim, h, &m.no, Buy, "0.02", 10); // Yes ask at 0.98
        assert_eq!(ticks_announced(&mut ws, 2).await, tick_changes(m, "0.01", "0.001"));
        let tick: Value = get(&sim, &format!("/tick-size?token_id={}", m.yes.as_str())).await.json().await.unwrap();
        assert!(tick["minimum_tick_size"].is_number(), "a JSON number, as the real API sends: {tick}");
        assert_eq!(dec_of_any(&tick["minimum_tick_size"]), dec!(0.001));

        house_cancel(&sim, h, &[bid, ask]);
        assert_eq!(ticks_announced(&mut ws, 2).await, tick_changes(m, "0.001", "0.01"));

        // A client that still believes the tick is 0.001 prices at 0.505.
        let alice = account(&sim, 0).await;
        alice.client.set_tick_size(m.yes_u256(), SdkTick::Thousandth);
        let order = alice
            .client
            .limit_order()
            .token_id(m.yes_u256())
            .price(dec!(0.505))
            .size(dec!(10))
            .side(SdkSide::Buy)
            .build()
            .await
            .unwrap();
        let err = alice.client.post_order(alice.client.sign(&alice.wallet, order).await.unwrap()).await.unwrap_err();
        let (status, msg) = sdk_status(&err);
        assert_eq!(status, 400);
        assert!(msg.contains("Price (0.505) breaks minimum tick size rule: 0.01"), "{msg}");
        assert!(sim.state.lock().exchange.book(&m.yes).unwrap().bids.is_empty());
        sim.shutdown().await;
    })
    .await;
}

type TickChange = (TokenId, String, String);

/// The change `old` -> `new` announced for both tokens of `m`.
fn tick_changes(m: &MarketIds, old: &str, new: &str) -> BTreeSet<TickChange> {
    [&m.yes, &m.no].into_iter().map(|t| (t.clone(), old.to_owned(), new.to_owned())).collect()
}

/// The next `n` `tick_size_change` frames as (token, old, new), skipping
/// the `price_change`s around them.
async fn ticks_announced(ws: &mut WsConn, n: usize) -> BTreeSet<TickChange> {
    let mut out = BTreeSet::new();
    while out.len() < n {
        let v = ws.recv_json().await;
        if event_type(&v) == "tick_size_change" {
            assert!(v["timestamp"].is_string(), "{v}");
            let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}")).to_owned();
            out.insert((TokenId::parse(&s("asset_id")).unwrap(), s("old_tick_size"), s("new_tick_size")));
        }
    }
    out
}

/// A decimal from a JSON string or number.
fn dec_of_any(v: &Value) -> polymarket_client_sdk_v2::types::Decimal {
    match v {
        Value::Number(n) => n.to_string().parse().unwrap(),
        other => dec_of(other),
    }
}

/// The `price_changes` entry for `token`.
fn entry(pc: &Value, token: &TokenId) -> Value {
    pc["price_changes"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["asset_id"] == token.as_str()))
        .unwrap_or_else(|| panic!("no entry for {token:?} in {pc}"))
        .clone()
}

/// The user channel refuses a subscription without valid credentials with
/// `INVALID AUTH` and closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_channel_refuses_bad_credentials() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let alice = account(&sim, 0).await;
        let good = user_sub(&alice.creds, &[]);
        let mut wrong_secret = good.clone();
        wrong_secret["auth"]["secret"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        let mut wrong_passphrase = good.clone();
        wrong_passphrase["auth"]["passphrase"] = json!("nope");
        let mut unknown_key = good.clone();
        unknown_key["auth"]["apiKey"] = json!("00000000-0000-4000-8000-000000000000");
        let no_auth = json!({"markets": [], "type": "user"});
        for bad in [wrong_secret, wrong_passphrase, unknown_key, no_auth] {
            let mut ws = WsConn::user(&sim).await;
            ws.send_json(&bad).await;
            assert_eq!(ws.recv().await, "INVALID AUTH", "reply to {bad}");
            ws.expect_closed().await;
        }
        // The right credentials are accepted (the connection stays open).
        let mut ws = WsConn::user(&sim).await;
        ws.send_json(&good).await;
        assert!(ws.sync().await.is_empty());
        sim.shutdown().await;
    })
    .await;
}

/// The user channel delivers an account's own `order` and `trade` events,
/// only for the markets it subscribed to (`markets: []` = all of them), and
/// never another account's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_channel_delivers_only_the_owners_events_for_subscribed_markets() {
    bounded(90, async {
        let sim = start(quiet_config(2)).await;
        let ms = markets(&sim);
        let (a, b) = (&ms[0], &ms[1]);
        let alice = account(&sim, 0).await;
        let bob = account(&sim, 1).await;
        let mut alice_a = WsConn::user(&sim).await;
        let mut alice_all = WsConn::user(&sim).await;
        let mut bob_a = WsConn::user(&sim).await;
        alice_a.send_json(&user_sub(&alice.creds, &[a])).await;
        alice_all.send_json(&user_sub(&alice.creds, &[])).await;
        bob_a.send_json(&user_sub(&bob.creds, &[a])).await;
        for ws in [&mut alice_a, &mut alice_all, &mut bob_a] {
            assert!(ws.sync().await.is_empty());
        }

        let on_b = post(&alice, b.yes_u256(), SdkSide::Buy, dec!(0.30)).await;
        let on_a = post(&alice, a.yes_u256(), SdkSide::Buy, dec!(0.40)).await;
        // Bob takes Alice's bid on A from the other side.
        let taker = post(&bob, a.no_u256(), SdkSide::Buy, dec!(0.60)).await;

        // Alice on all markets: her placement on B, then on A, then her fill.
        let first = alice_all.recv_json().await;
        assert_placement(&first, &on_b, &alice);
        let second = alice_all.recv_json().await;
        assert_placement(&second, &on_a, &alice);
        // Alice on A only: B's placement was not sent.
        assert_placement(&alice_a.recv_json().await, &on_a, &alice);
        let trade = alice_a.recv_until(|v| event_type(v) == "trade").await.pop().unwrap();
        assert_eq!(trade["taker_order_id"], taker);
        assert_eq!(trade["trader_side"], "MAKER");
        assert_eq!(trade["maker_orders"][0]["order_id"], on_a);
        assert_eq!(trade["trade_owner"], alice.api_key());

        // Bob sees his own trade, and none of Alice's placements came first.
        let bobs = bob_a.recv_until(|v| event_type(v) == "trade").await;
        for v in &bobs {
            if event_type(v) == "order" {
                assert_eq!(v["owner"], bob.api_key(), "Bob got someone else's order: {v}");
            }
        }
        let trade = bobs.last().unwrap();
        assert_eq!(trade["taker_order_id"], taker);
        assert_eq!(trade["trader_side"], "TAKER");
        assert_eq!(trade["trade_owner"], bob.api_key());

        // Every order event Alice got is her own.
        for ws in [&mut alice_a, &mut alice_all] {
            for t in ws.sync().await {
                let v: Value = serde_json::from_str(&t).unwrap();
                if event_type(&v) == "order" {
                    assert_eq!(v["owner"], alice.api_key(), "{v}");
                }
            }
        }
        sim.shutdown().await;
    })
    .await;
}

/// Posts a 10-share limit order through the SDK; its order id.
async fn post(
    who: &Account,
    token: polymarket_client_sdk_v2::types::U256,
    side: SdkSide,
    price: polymarket_client_sdk_v2::types::Decimal,
) -> String {
    let order = who.client.limit_order().token_id(token).price(price).size(dec!(10)).side(side).build().await.unwrap();
    let r = who.client.post_order(who.client.sign(&who.wallet, order).await.unwrap()).await.unwrap();
    assert!(r.success, "{r:?}");
    r.order_id
}

fn assert_placement(v: &Value, order_id: &str, owner: &Account) {
    assert_eq!(event_type(v), "order", "{v}");
    assert_eq!(v["type"], "PLACEMENT", "{v}");
    assert_eq!(v["id"], order_id, "{v}");
    assert_eq!(v["owner"], owner.api_key(), "{v}");
    assert_eq!(v["status"], "LIVE", "{v}");
}
