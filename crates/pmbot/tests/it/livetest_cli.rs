//! `pmbot livetest` against the simulator on loopback and a funded wallet on
//! anvil (skipped with a NOTICE when anvil is not installed; `.ci/run`
//! installs it): the order is placed post-only far from the touch,
//! acknowledged on the user channel, cancelled and confirmed, and the
//! simulator holds no open order of ours afterwards — also when the first
//! cancel attempts fail. The kill switch refuses it like any order.

use std::path::{Path, PathBuf};
use std::process::Output;

use alloy_primitives::{Address, U256};
use pmbot_core::{OrderStatus, Usdc};
use pmbot_engine::journal::Journal;
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_testkit::{Anvil, polygon};

/// Anvil's development key #0 and its address (never hold real funds with it).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ME: Address = alloy_primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-livetest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A simulator with makers, so the book has a touch to stay away from.
async fn sim() -> SimHandle {
    let s = SyntheticConfig { markets: 1, market_duration_ms: 60 * 60_000, ..SyntheticConfig::default() };
    let mut cfg = SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() };
    cfg.fund.insert(format!("{ME:#x}"), Usdc::from_whole(500));
    pmbot_sim::start(cfg).await.unwrap()
}

async fn setup(name: &str) -> Option<(Anvil, SimHandle, PathBuf)> {
    let anvil = Anvil::start()?;
    anvil.plant_funded_account(ME, U256::from(250_000_000u64)).await.unwrap();
    let (sim, dir) = setup_with(name, Some(&anvil)).await;
    Some((anvil, sim, dir))
}

/// The simulator and a config in a fresh directory; balances from `chain`
/// (anvil) when given, else from the simulator's own accounts, which also
/// hold the shares its trades settle (a test that sells what it bought).
async fn setup_with(name: &str, chain: Option<&Anvil>) -> (SimHandle, PathBuf) {
    let sim = sim().await;
    let dir = temp_dir(name);
    let balance = chain.map_or_else(String::new, |anvil| {
        format!("[balance]\nrpc_urls = [\"{}\"]\n{}\n", anvil.url(), polygon::contracts_toml())
    });
    let toml = format!(
        r#"[gateway]
clob_url = "{rest}"
ws_url = "{ws}"
request_timeout = "2s"
kill_switch = '{dir}/stop-trading'

[gateway.retry]
attempts = 2
initial_backoff = "50ms"
max_backoff = "200ms"

{balance}
[journal]
path = '{dir}/journal.sqlite'
"#,
        rest = sim.rest_url(),
        ws = sim.ws_url(),
        dir = dir.display(),
    );
    std::fs::write(dir.join("pmbot.toml"), toml).unwrap();
    (sim, dir)
}

async fn livetest(dir: &Path, sim: &SimHandle) -> (Output, String, String) {
    livetest_with(dir, sim, &[]).await
}

/// `pmbot livetest --token T` and `extra` arguments.
async fn livetest_with(dir: &Path, sim: &SimHandle, extra: &[&str]) -> (Output, String, String) {
    let token = sim.state.lock().exchange.markets()[0].spec.tokens[0].token_id.to_string();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.current_dir(dir)
        .arg("--config")
        .arg(dir.join("pmbot.toml"))
        .args(["livetest", "--token", &token])
        .args(extra)
        .env("PMBOT_PRIVATE_KEY", KEY)
        .env_remove("RUST_LOG");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!stdout.contains(&KEY[2..]) && !stderr.contains(&KEY[2..]), "the key leaked");
    (out, stdout, stderr)
}

/// The simulator's records of our orders: (every one, the open ones).
fn ours(sim: &SimHandle) -> (Vec<pmbot_sim::engine::OrderRecord>, usize) {
    let g = sim.state.lock();
    let all = g.exchange.orders_of(ME).iter().filter_map(|id| g.exchange.order(id)).collect();
    (all, g.exchange.open_orders(ME, &Default::default()).len())
}

/// The one order was journaled, and the journal ends with it cancelled.
fn journaled_cancelled(dir: &Path, sim_order: &pmbot_sim::engine::OrderRecord) {
    let j = Journal::open_read_only(dir.join("journal.sqlite")).unwrap();
    let orders = j.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].prepared.order_hash, sim_order.id);
    assert_eq!(orders[0].status, OrderStatus::Cancelled);
    assert!(orders[0].prepared.intent.post_only);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livetest_places_acknowledges_cancels_and_leaves_nothing_open() {
    let Some((_anvil, sim, dir)) = setup("good").await else { return };
    let (out, stdout, stderr) = livetest(&dir, &sim).await;
    eprintln!("pmbot livetest:\n{stdout}{stderr}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in ["book", "gateway", "user channel", "place", "ack", "cancel", "cancel event", "open orders"] {
        let line = stdout.lines().find(|l| l.starts_with(&format!("{step:<14} "))).unwrap_or_else(|| panic!("{step}"));
        assert!(line.contains(" ms  "), "{line}");
    }
    assert!(stdout.contains("acknowledged on the user channel"), "{stdout}");
    assert!(stdout.contains("attempt 1: the exchange confirmed the cancel"), "{stdout}");
    assert!(stdout.contains("cancel seen on the user channel"), "{stdout}");
    assert!(stdout.contains("PASS: order") && stdout.contains("cancelled and confirmed"), "{stdout}");

    let (all, open) = ours(&sim);
    assert_eq!((all.len(), open), (1, 0), "one order placed, none left open");
    let o = &all[0];
    assert_eq!((o.side, o.owner), (pmbot_core::Side::Buy, ME));
    // Far from the touch: the lowest tick, below every bid.
    assert_eq!(o.price, pmbot_core::Price::parse("0.01").unwrap());
    journaled_cancelled(&dir, o);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_first_cancel_is_retried_until_nothing_is_left_open() {
    let Some((_anvil, sim, dir)) = setup("cancel-fails").await else { return };
    // Through the simulator's control API: the next three cancels answer
    // 500. The gateway tries twice per cancel, so livetest's first attempt
    // fails and its second gets through on its second send.
    let http = reqwest::Client::new();
    let set = http
        .post(format!("{}_sim/faults", sim.rest_url()))
        .body(r#"{"spec": "rest-cancel-fail-first=3"}"#)
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());
    let (out, stdout, stderr) = livetest(&dir, &sim).await;
    eprintln!("pmbot livetest (cancels failing):\n{stdout}{stderr}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cancel attempt 1 FAILED") || stdout.contains("attempt 1 FAILED"), "{stdout}");
    assert!(stdout.contains("attempt 2: the exchange confirmed the cancel"), "{stdout}");
    let report: serde_json::Value =
        http.get(format!("{}_sim/faults", sim.rest_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["counts"]["rest-cancel-fail-first"], 3, "{report}");

    let (all, open) = ours(&sim);
    assert_eq!((all.len(), open), (1, 0), "one order placed, none left open");
    journaled_cancelled(&dir, &all[0]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_refuses_it_like_any_order() {
    let Some((_anvil, sim, dir)) = setup("killed").await else { return };
    std::fs::write(dir.join("stop-trading"), "set by a test\n").unwrap();
    let (out, stdout, stderr) = livetest(&dir, &sim).await;
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stderr.contains("refused by the kill switch") && stderr.contains("nothing was sent"), "{stderr}");
    assert!(stderr.contains("stop-trading"), "{stderr}");
    let (all, _) = ours(&sim);
    assert!(all.is_empty(), "no order reached the simulator");
    sim.shutdown().await;
}

/// `--taker` without `--yes`: the plan and its cost are printed, nothing
/// is placed, and the exit says how to go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_taker_test_prints_its_cost_and_places_nothing_without_yes() {
    let (sim, dir) = setup_with("taker-dry", None).await;
    let (out, stdout, stderr) = livetest_with(&dir, &sim, &["--taker"]).await;
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("FAK at up to") && stdout.contains("Expected cost of the round trip"), "{stdout}");
    assert!(stderr.contains("nothing placed: add --yes"), "{stderr}");
    let (all, _) = ours(&sim);
    assert!(all.is_empty(), "no order reached the simulator");
    sim.shutdown().await;
}

/// `--taker --yes` on the simulator: the BUY fills at the ask, the bought
/// shares settle, the SELL fills at the bid, and both orders are journaled
/// and recorded by the simulator as matched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_taker_test_buys_and_sells_with_market_orders() {
    let (sim, dir) = setup_with("taker-yes", None).await;
    let (out, stdout, stderr) = livetest_with(&dir, &sim, &["--taker", "--yes"]).await;
    eprintln!("pmbot livetest --taker --yes:\n{stdout}{stderr}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("PASS: bought"), "{stdout}");
    let (all, open) = ours(&sim);
    assert_eq!((all.len(), open), (2, 0), "a BUY and a SELL, none left open");
    for o in &all {
        assert_eq!(o.size_matched, o.original_size, "{o:?}");
    }
    // The journal holds both orders and a fill for every share the
    // simulator matched, at the simulator's sizes.
    let j = Journal::open_read_only(dir.join("journal.sqlite")).unwrap();
    assert_eq!(j.orders().unwrap().len(), 2);
    for o in &all {
        let filled: u64 = j.fills_of(&o.id).unwrap().iter().map(|f| f.size.micros()).sum();
        assert_eq!(filled, o.size_matched.micros(), "journaled fills of {:?} {}", o.side, o.id);
    }
    sim.shutdown().await;
}

/// The post reply of a FAK is not its fills: with the user channel silent
/// from its first frame (`ws-stall`), no trade reaches the gateway over the
/// WebSocket, and `--taker` still reports the exchange's fills, read from
/// its order record and trades over REST, and journals them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_taker_test_learns_its_fills_over_rest_when_the_user_channel_is_silent() {
    let (sim, dir) = setup_with("taker-silent", None).await;
    let set = reqwest::Client::new()
        .post(format!("{}_sim/faults", sim.rest_url()))
        .body(r#"{"spec": "ws-stall=600s/599999ms"}"#)
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());
    let (out, stdout, stderr) = livetest_with(&dir, &sim, &["--taker", "--yes"]).await;
    eprintln!("pmbot livetest --taker --yes (silent user channel):\n{stdout}{stderr}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("PASS: bought"), "{stdout}");
    let (all, _) = ours(&sim);
    assert_eq!(all.len(), 2);
    let j = Journal::open_read_only(dir.join("journal.sqlite")).unwrap();
    for o in &all {
        let filled: u64 = j.fills_of(&o.id).unwrap().iter().map(|f| f.size.micros()).sum();
        assert_eq!(filled, o.size_matched.micros(), "journaled fills of {:?} {}", o.side, o.id);
    }
    sim.shutdown().await;
}
