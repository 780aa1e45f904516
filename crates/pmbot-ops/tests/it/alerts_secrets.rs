//! No part of a webhook URL's secret (the id and token in its path) appears
//! in the config's Debug, in any sink error, in stats, or in anything logged
//! while alerts fail in every way (connection refused, 4xx, 429, timeout).
//! One test in its own binary: it installs the process-wide subscriber
//! (which also takes the `log` records of reqwest), at TRACE.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Receiver, Reply, alert, eventually};
use pmbot_ops::alerts::{
    AlertConfig, AlertKind, AlertSink, Alerter, DiscordSink, JsonWebhookSink, Severity, SinkError,
};
use secrecy::SecretString;
use tracing_subscriber::util::SubscriberInitExt as _;

const ID: &str = "987654321098";
const TOKEN: &str = "tok_SECRET_Zx9-qQ";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for piece in [ID, TOKEN, "/api/webhooks"] {
        assert!(!text.contains(piece), "{what} contains {piece:?}: {text}");
    }
}

#[tokio::test]
async fn no_part_of_the_secret_url_is_shown_anywhere() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish()
        .try_init()
        .expect("the only subscriber in this binary");

    let path = format!("/api/webhooks/{ID}/{TOKEN}");
    // A port nobody listens on: bind, read the port, close.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let not_found = Receiver::start(&[], Reply::Status(404)).await;
    let limited = Receiver::start(&[], Reply::RateLimited(0.05)).await;
    let hanging = Receiver::start(&[], Reply::Hang).await;
    let server_error = Receiver::start(&[], Reply::Status(502)).await;
    let urls = [
        format!("http://{closed}{path}"),
        not_found.url(&path),
        limited.url(&path),
        hanging.url(&path),
        server_error.url(&path),
    ];
    let timeout = Duration::from_millis(300);
    let probe = alert(AlertKind::BalanceCheckFailing, Severity::Critical, "Balance check failing", "rpc error");

    // Every error a sink returns, directly.
    let mut errors: Vec<SinkError> = Vec::new();
    for url in &urls {
        let secret = SecretString::from(url.clone());
        let discord = DiscordSink::new(&secret, timeout).expect("valid url");
        let json = JsonWebhookSink::new(&secret, timeout).expect("valid url");
        assert_no_secret("sink Debug", &format!("{discord:?} {json:?}"));
        let to_discord = tokio::time::timeout(Duration::from_secs(5), discord.send(&probe, 2)).await;
        let to_json = tokio::time::timeout(Duration::from_secs(5), json.send(&probe, 2)).await;
        errors.push(to_discord.expect("bounded by the sink's timeout").expect_err("fails"));
        errors.push(to_json.expect("bounded by the sink's timeout").expect_err("fails"));
    }
    // Each way of failing was met, so each message was looked at.
    assert!(errors.iter().any(|e| *e == SinkError::Transient("could not connect".into())), "{errors:?}");
    assert!(errors.iter().any(|e| *e == SinkError::Transient("request timed out".into())), "{errors:?}");
    assert!(errors.iter().any(|e| *e == SinkError::Permanent("HTTP 404".into())));
    assert!(errors.iter().any(|e| *e == SinkError::Transient("HTTP 502".into())));
    assert!(errors.iter().any(|e| *e == SinkError::RateLimited { retry_after: Duration::from_millis(50) }));
    for e in &errors {
        assert_no_secret("SinkError", &format!("{e} {e:?}"));
    }

    // The whole path, logging at TRACE: one alerter per failing receiver.
    for url in &urls {
        let cfg = AlertConfig {
            discord_webhook: Some(SecretString::from(url.clone())),
            json_webhook: Some(SecretString::from(url.clone())),
            max_attempts: 2,
            timeout,
            ..AlertConfig::default()
        };
        assert_no_secret("config Debug", &format!("{cfg:?}"));
        let alerter = Alerter::try_start(&cfg).expect("valid");
        assert_no_secret("Alerter Debug", &format!("{alerter:?}"));
        alerter.send(probe.clone());
        assert!(eventually(Duration::from_secs(10), || alerter.stats().failed == 1).await, "{:?}", alerter.stats());
        let stats = alerter.stats();
        assert_no_secret("stats", &serde_json::to_string(&stats).unwrap());
        assert_no_secret("stats Debug", &format!("{stats:?}"));
        tokio::time::timeout(Duration::from_secs(5), alerter.shutdown(Duration::from_secs(1))).await.expect("bounded");
    }
    // A config that does not parse is reported by field name only.
    let bad =
        AlertConfig { discord_webhook: Some(SecretString::from(format!("ftp://x{path}"))), ..AlertConfig::default() };
    let refused = Alerter::try_start(&bad).expect_err("not http");
    assert_no_secret("config error", &format!("{refused} {refused:?}"));
    let _ = Alerter::start(&bad); // logs the refusal

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // The capture works: the failures were logged, with the transport's own lines.
    assert!(logged.contains("alert not delivered"), "{logged}");
    assert!(logged.contains("retrying"), "{logged}");
    assert!(logged.contains("alerts are not configured correctly"), "{logged}");
    eprintln!("{} bytes of TRACE output checked", logged.len());
    assert_no_secret("logs", &logged);
}
