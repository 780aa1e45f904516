//! Alerts over real HTTP on loopback: content, deduplication, retries, 429
//! waits, and a receiver that hangs (which must not slow `send`).

use crate::common;

use std::time::{Duration, Instant};

use common::{Receiver, Reply, alert, eventually};
use pmbot_ops::alerts::{AlertConfig, AlertKind, Alerter, Severity};
use secrecy::SecretString;

const LIMIT: Duration = Duration::from_secs(10);

fn config(url: String) -> AlertConfig {
    AlertConfig { discord_webhook: Some(SecretString::from(url)), ..AlertConfig::default() }
}

#[tokio::test]
async fn an_alert_arrives_with_title_body_severity_colour_and_time() {
    let rx = Receiver::start(&[], Reply::Ok).await;
    let alerter = Alerter::try_start(&config(rx.url("/api/webhooks/1/tok"))).expect("config is valid");
    alerter.send(alert(AlertKind::KillSwitch, Severity::Critical, "Kill switch engaged", "loss 51.20 > 50.00 USDC"));
    let hits = rx.wait_for_hits(1, LIMIT).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "/api/webhooks/1/tok");
    let body = &hits[0].body;
    assert_eq!(body["content"], "[CRITICAL] Kill switch engaged");
    assert_eq!(body["embeds"][0]["title"], "Kill switch engaged");
    assert_eq!(body["embeds"][0]["description"], "loss 51.20 > 50.00 USDC");
    assert_eq!(body["embeds"][0]["color"], 0xE74C3C);
    assert_eq!(body["embeds"][0]["timestamp"], "2023-11-14T22:13:20.000Z");
    assert!(eventually(LIMIT, || alerter.stats().sent == 1).await);
    let stats = alerter.stats();
    assert_eq!(stats.by_kind["kill_switch"].sent, 1);
    assert_eq!(stats.sinks["discord"].sent, 1);
    assert_eq!((stats.failed, stats.dropped, stats.suppressed), (0, 0, 0));
    tokio::time::timeout(LIMIT, alerter.shutdown(Duration::from_secs(1))).await.expect("shutdown is bounded");
}

#[tokio::test]
async fn duplicates_are_suppressed_counted_and_told_when_the_window_ends() {
    let rx = Receiver::start(&[], Reply::Ok).await;
    let window = Duration::from_millis(400);
    let cfg = AlertConfig { window, ..config(rx.url("/hook")) };
    let alerter = Alerter::try_start(&cfg).expect("valid");
    let started = Instant::now();
    for i in 0..5 {
        alerter.send(alert(
            AlertKind::MarketDataStale,
            Severity::Warning,
            &format!("Market data stale {i}"),
            "no book for 30 s",
        ));
    }
    // Another kind is not held back by the first one's window.
    alerter.send(alert(AlertKind::KillSwitch, Severity::Critical, "Kill switch engaged", "stale data"));

    let hits = rx.wait_for_hits(3, LIMIT).await;
    assert_eq!(hits.len(), 3, "first stale, kill switch, follow-up: {hits:#?}");
    assert_eq!(hits[0].body["content"], "[WARNING] Market data stale 0");
    assert_eq!(hits[1].body["content"], "[CRITICAL] Kill switch engaged");
    let follow_up = &hits[2].body;
    assert_eq!(follow_up["content"], "[WARNING] Market data stale 4 (4 similar suppressed)");
    let description = follow_up["embeds"][0]["description"].as_str().unwrap();
    assert!(description.starts_with("Follow-up: 4 market_data_stale alerts held back"), "{description}");
    assert!(hits[2].at.duration_since(started) >= window, "the follow-up waits for the window's end");

    assert!(eventually(LIMIT, || alerter.stats().followups == 1).await);
    let stats = alerter.stats();
    assert_eq!((stats.queued, stats.sent, stats.suppressed, stats.followups), (6, 3, 4, 1));
    assert_eq!(stats.by_kind["market_data_stale"].suppressed, 4);
    assert_eq!(stats.by_kind["market_data_stale"].sent, 2);
    assert_eq!(stats.by_kind["kill_switch"].sent, 1);
    // Nothing more was held: no second follow-up.
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    assert_eq!(rx.hits().len(), 3);
    tokio::time::timeout(LIMIT, alerter.shutdown(Duration::from_secs(1))).await.expect("bounded");
}

#[tokio::test]
async fn a_429_retry_after_is_waited_before_the_retry() {
    let rx = Receiver::start(&[Reply::RateLimited(0.3)], Reply::Ok).await;
    let alerter = Alerter::try_start(&config(rx.url("/hook"))).expect("valid");
    alerter.send(alert(AlertKind::OrderRejected, Severity::Warning, "Order rejected", "not enough balance"));
    let hits = rx.wait_for_hits(2, LIMIT).await;
    assert_eq!(hits.len(), 2);
    let gap = hits[1].at.duration_since(hits[0].at);
    eprintln!("retry after a 429 with retry_after 0.3 s came {gap:?} later");
    assert!(gap >= Duration::from_millis(300), "retried too early: {gap:?}");
    // The header said 5 s; the body's 0.3 s is the figure used.
    assert!(gap < Duration::from_secs(3), "waited the header's figure instead: {gap:?}");
    assert_eq!(hits[0].body, hits[1].body, "the same message is retried");
    assert!(eventually(LIMIT, || alerter.stats().sent == 1).await);
    let discord = alerter.stats().sinks["discord"];
    assert_eq!((discord.sent, discord.rate_limited, discord.retries, discord.failed), (1, 1, 1, 0));
    tokio::time::timeout(LIMIT, alerter.shutdown(Duration::from_secs(1))).await.expect("bounded");
}

#[tokio::test]
async fn a_server_error_is_retried_with_backoff_and_a_client_error_is_not() {
    let flaky = Receiver::start(&[Reply::Status(500), Reply::Status(503)], Reply::Ok).await;
    let alerter = Alerter::try_start(&config(flaky.url("/hook"))).expect("valid");
    alerter.send(alert(AlertKind::Gateway, Severity::Warning, "Gateway errors", "3 in a row"));
    let hits = flaky.wait_for_hits(3, LIMIT).await;
    assert_eq!(hits.len(), 3);
    // Backoff with equal jitter: attempt 1 waits 250..500 ms, attempt 2 500..1000 ms.
    let first_wait = hits[1].at.duration_since(hits[0].at);
    let second_wait = hits[2].at.duration_since(hits[1].at);
    assert!(first_wait >= Duration::from_millis(250), "{first_wait:?}");
    assert!(second_wait >= Duration::from_millis(500), "{second_wait:?}");
    assert!(eventually(LIMIT, || alerter.stats().sent == 1).await);
    assert_eq!(alerter.stats().sinks["discord"].retries, 2);

    let gone = Receiver::start(&[], Reply::Status(404)).await;
    let alerter = Alerter::try_start(&config(gone.url("/deleted-webhook"))).expect("valid");
    alerter.send(alert(AlertKind::Gateway, Severity::Warning, "Gateway errors", "again"));
    assert!(eventually(LIMIT, || alerter.stats().failed == 1).await);
    // Longer than the longest first backoff: a retry would have arrived.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(gone.hits().len(), 1, "a 404 is not retried");
    let stats = alerter.stats();
    assert_eq!((stats.sent, stats.by_kind["gateway"].failed), (0, 1));
    assert_eq!(stats.sinks["discord"].retries, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_slow_send_and_a_full_queue_drops_and_counts() {
    let rx = Receiver::start(&[], Reply::Hang).await;
    let cfg = AlertConfig { queue: 64, timeout: Duration::from_secs(30), ..config(rx.url("/hook")) };
    let alerter = Alerter::try_start(&cfg).expect("valid");
    alerter.send(alert(AlertKind::ProcessStart, Severity::Info, "pmbot started", ""));
    // The dispatcher is now stuck on a request that gets no answer.
    assert_eq!(rx.wait_for_hits(1, LIMIT).await.len(), 1);

    const SENDS: u32 = 10_000;
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for _ in 0..SENDS {
        let a = alert(AlertKind::OrderRejected, Severity::Warning, "Order rejected", "price moved");
        let t = Instant::now();
        alerter.send(a);
        slowest = slowest.max(t.elapsed());
    }
    let total = started.elapsed();
    eprintln!(
        "{SENDS} send() calls against a hanging receiver: total {total:?} (including building the alerts), \
         mean {:?}, slowest single call {slowest:?}",
        total / SENDS
    );
    // A blocked send would wait on the 30 s request timeout. The bounds
    // (measured: ~150 ns mean, ~2 us slowest) leave room for a descheduled
    // thread on a loaded 2-core machine, and still fail on any wait.
    assert!(slowest < Duration::from_millis(100), "slowest send() took {slowest:?}");
    assert!(total < Duration::from_secs(1), "{SENDS} sends took {total:?}");

    let stats = alerter.stats();
    assert_eq!(stats.queued, 1 + 64, "the stuck one plus a full queue");
    assert_eq!(stats.dropped, u64::from(SENDS) - 64);
    assert_eq!(stats.by_kind["order_rejected"].dropped, u64::from(SENDS) - 64);
    assert_eq!(stats.pending, 64);
    assert_eq!(stats.sent, 0);

    let t = Instant::now();
    tokio::time::timeout(LIMIT, alerter.shutdown(Duration::from_millis(200))).await.expect("bounded");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown exceeded its grace by far: {took:?}");
}

#[tokio::test]
async fn shutdown_delivers_what_is_queued_and_later_sends_are_dropped() {
    let rx = Receiver::start(&[], Reply::Ok).await;
    let cfg = AlertConfig { window: Duration::from_secs(3600), ..config(rx.url("/hook")) };
    let alerter = Alerter::try_start(&cfg).expect("valid");
    let engine_side = alerter.clone();
    alerter.send(alert(AlertKind::ProcessStart, Severity::Info, "pmbot started", "v0.1.0"));
    alerter.send(alert(AlertKind::BalanceLow, Severity::Warning, "Balance low", "12.00 USDC"));
    alerter.send(alert(AlertKind::BalanceLow, Severity::Warning, "Balance low", "11.00 USDC"));
    alerter.send(alert(AlertKind::ProcessStop, Severity::Info, "pmbot stopping", "signal"));
    tokio::time::timeout(LIMIT, alerter.shutdown(Duration::from_secs(5))).await.expect("bounded");

    let contents: Vec<String> = rx.hits().iter().map(|h| h.body["content"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        contents,
        [
            "[INFO] pmbot started",
            "[WARNING] Balance low",
            "[INFO] pmbot stopping",
            // The held-back balance alert is told before the dispatcher stops.
            "[WARNING] Balance low (1 similar suppressed)",
        ]
    );
    engine_side.send(alert(AlertKind::Gateway, Severity::Critical, "late", ""));
    let stats = engine_side.stats();
    assert_eq!((stats.sent, stats.followups, stats.suppressed, stats.dropped), (4, 1, 1, 1));
}

#[tokio::test]
async fn without_a_sink_or_below_min_severity_alerts_are_counted_only() {
    let none = Alerter::start(&AlertConfig::default());
    none.send(alert(AlertKind::Cooldown, Severity::Warning, "Cooldown", "3 losses"));
    let disabled = Alerter::disabled();
    disabled.send(alert(AlertKind::Cooldown, Severity::Warning, "Cooldown", "3 losses"));
    for a in [&none, &disabled] {
        let stats = a.stats();
        assert_eq!((stats.no_sink, stats.queued, stats.by_kind["cooldown"].no_sink), (1, 0, 1));
        assert!(stats.sinks.is_empty());
    }

    let rx = Receiver::start(&[], Reply::Ok).await;
    let cfg = AlertConfig { min_severity: Severity::Warning, ..config(rx.url("/hook")) };
    let alerter = Alerter::try_start(&cfg).expect("valid");
    alerter.send(alert(AlertKind::Cooldown, Severity::Info, "Cooldown ended", ""));
    alerter.send(alert(AlertKind::DailyLossLimit, Severity::Critical, "Daily loss limit hit", ""));
    assert_eq!(rx.wait_for_hits(1, LIMIT).await.len(), 1);
    tokio::time::timeout(LIMIT, alerter.clone().shutdown(Duration::from_secs(1))).await.expect("bounded");
    assert_eq!(rx.hits()[0].body["content"], "[CRITICAL] Daily loss limit hit");
    let stats = alerter.stats();
    assert_eq!((stats.filtered, stats.sent), (1, 1));
    // Every kind is listed (stable metrics labels), even at zero.
    assert_eq!(stats.by_kind.len(), AlertKind::ALL.len());
}

#[tokio::test]
async fn the_json_webhook_gets_the_alert_as_json_beside_discord() {
    let discord = Receiver::start(&[], Reply::Ok).await;
    let hook = Receiver::start(&[], Reply::Ok).await;
    let cfg =
        AlertConfig { json_webhook: Some(SecretString::from(hook.url("/ingest"))), ..config(discord.url("/hook")) };
    let alerter = Alerter::try_start(&cfg).expect("valid");
    alerter.send(alert(AlertKind::GateOverride, Severity::Warning, "Gate override used", "by operator"));
    let hits = hook.wait_for_hits(1, LIMIT).await;
    assert_eq!(
        hits[0].body,
        serde_json::json!({
            "kind": "gate_override", "severity": "warning", "title": "Gate override used",
            "body": "by operator", "at_ms": 1_700_000_000_000_i64, "suppressed": 0,
        })
    );
    assert_eq!(discord.wait_for_hits(1, LIMIT).await.len(), 1);
    assert!(eventually(LIMIT, || alerter.stats().sinks["json_webhook"].sent == 1).await);
    tokio::time::timeout(LIMIT, alerter.shutdown(Duration::from_secs(1))).await.expect("bounded");
}

#[tokio::test]
async fn a_bad_config_is_refused_by_try_start_and_tolerated_by_start() {
    let cfg = config("not a url".to_owned());
    assert!(Alerter::try_start(&cfg).is_err());
    let alerter = Alerter::start(&cfg);
    alerter.send(alert(AlertKind::ProcessStart, Severity::Info, "pmbot started", ""));
    assert_eq!(alerter.stats().no_sink, 1);
}
