//! What logging, metrics and alerting cost the backtest: the engine's own
//! backtest benchmark (`crates/pmbot-engine/benches/backtest.rs`, included
//! here unchanged, so its `real_mix` and `simulator_feed` run in this binary
//! as the baseline) against the same runs with the ops side installed as
//! `pmbot` installs it: the journal observer feeding the Prometheus metrics,
//! the dashboard state and a JSON log line per order, fill, refusal and
//! trade (written to a daily file off the calling thread), and raised events
//! becoming alerts queued to a sink. Target: <= 5 % slower.
//!
//! Run: `cargo bench -p pmbot-ops --bench backtest_ops`.

#[allow(dead_code)]
#[path = "../../pmbot-engine/benches/backtest.rs"]
mod engine;

use std::sync::{Arc, LazyLock};

use divan::Bencher;
use divan::counter::ItemsCount;
use engine::{DATA, Item, REAL_MIX, common, frame_count, run_with};
use pmbot_engine::journal::Journal;
use pmbot_ops::alerts::{Alert, AlertConfig, AlertSink, Alerter, BoxFuture, SinkError};
use pmbot_ops::health::HealthConfig;
use pmbot_ops::observe::OpsObserver;
use pmbot_ops::raise::Raiser;
use pmbot_ops::state::OpsState;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap());

fn main() {
    // JSON logs at `info` into a daily file, as `pmbot backtest` writes them.
    let logs = std::env::temp_dir().join(format!("pmbot-bench-ops-logs-{}", std::process::id()));
    let appender = pmbot_ops::logs::file_appender(&logs, 1).unwrap();
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_writer(writer)
        .with_filter(EnvFilter::new("info"));
    tracing_subscriber::registry().with(layer).init();
    // The feeds and the model are built before any timing starts.
    LazyLock::force(&DATA);
    LazyLock::force(&REAL_MIX);
    divan::main();
    drop(guard);
    let lines: usize = std::fs::read_dir(&logs)
        .map(|d| d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).map(|t| t.lines().count()).sum())
        .unwrap_or(0);
    eprintln!("log lines written: {lines}");
    let _ = std::fs::remove_dir_all(&logs);
}

/// Takes every alert at once.
struct Accepting;

impl AlertSink for Accepting {
    fn name(&self) -> &str {
        "bench"
    }
    fn send<'a>(&'a self, _: &'a Alert, _: u64) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The ops side as `pmbot` installs it on the journal.
fn install_ops(state: &Arc<OpsState>, alerter: &Alerter) -> impl FnOnce(&mut Journal) {
    let (state, alerter) = (state.clone(), alerter.clone());
    move |journal: &mut Journal| {
        let mut raiser = Raiser::default();
        let observer = OpsObserver::new(state).with_alerts(move |r| {
            if let Some(alert) = raiser.alert_for(r) {
                alerter.send(alert);
            }
        });
        journal.set_observer(Box::new(observer));
    }
}

fn with_ops(bencher: Bencher, items: &[Item], started: i64) {
    let _rt = RUNTIME.enter();
    let state = Arc::new(OpsState::new(HealthConfig::default()));
    let alerter = Alerter::with_sinks(&AlertConfig::default(), vec![Box::new(Accepting)]);
    bencher
        .counter(ItemsCount::new(frame_count(items)))
        .bench_local(|| run_with(items, started, install_ops(&state, &alerter)));
    // The ops side saw the runs: a check that the bench measured something.
    assert!(state.metrics_text().contains("pmbot_decisions_total"));
}

/// `real_mix` with logging, metrics and alerting.
#[divan::bench(sample_count = 10)]
fn real_mix_with_ops(bencher: Bencher) {
    with_ops(bencher, &REAL_MIX, common::received(0).millis() - 1);
}

/// `simulator_feed` with logging, metrics and alerting.
#[divan::bench(sample_count = 10)]
fn simulator_feed_with_ops(bencher: Bencher) {
    let d = &*DATA;
    with_ops(bencher, &d.frames, d.started);
}
