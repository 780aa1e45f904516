//! What `Alerter::send` costs the engine loop: counting only (disabled), onto
//! a queue a dispatcher drains, and onto a full queue behind a receiver that
//! never answers (the drop path). The alert is built outside the timing.

use std::time::Duration;

use pmbot_ops::alerts::{Alert, AlertConfig, AlertKind, AlertSink, Alerter, BoxFuture, Severity, SinkError};

fn main() {
    divan::main();
}

fn alert() -> Alert {
    Alert::new(AlertKind::OrderRejected, Severity::Warning, "Order rejected", "price moved", 0)
}

/// Answers at once, or never.
struct Receiver {
    hangs: bool,
}

impl AlertSink for Receiver {
    fn name(&self) -> &str {
        "bench"
    }
    fn send<'a>(&'a self, _: &'a Alert, _: u64) -> BoxFuture<'a, Result<(), SinkError>> {
        let hangs = self.hangs;
        Box::pin(async move {
            if hangs {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

#[divan::bench]
fn send_disabled(bencher: divan::Bencher) {
    let alerter = Alerter::disabled();
    bencher.with_inputs(alert).bench_local_values(|a| alerter.send(a));
}

#[divan::bench]
fn send_onto_a_draining_queue(bencher: divan::Bencher) {
    let rt = runtime();
    let _in_runtime = rt.enter();
    // A long window: the dispatcher suppresses and drains fast.
    let cfg = AlertConfig { window: Duration::from_secs(3600), queue: 4096, ..AlertConfig::default() };
    let alerter = Alerter::with_sinks(&cfg, vec![Box::new(Receiver { hangs: false })]);
    bencher.with_inputs(alert).bench_local_values(|a| alerter.send(a));
}

#[divan::bench]
fn send_onto_a_full_queue(bencher: divan::Bencher) {
    let rt = runtime();
    let _in_runtime = rt.enter();
    let cfg = AlertConfig { queue: 16, ..AlertConfig::default() };
    let alerter = Alerter::with_sinks(&cfg, vec![Box::new(Receiver { hangs: true })]);
    for _ in 0..64 {
        alerter.send(alert());
    }
    bencher.with_inputs(alert).bench_local_values(|a| alerter.send(a));
}
