//! `pmbot live` against a running simulator (`--simulated-exchange`): the
//! live path end to end (market stream, engine, risk gate, gateway with its
//! on-chain pre-check on anvil, user channel, journal). Afterwards every
//! order pmbot journaled is in the simulator's records and nothing else is,
//! and positions and cash agree.
//!
//! Runs in real time (the live path runs on the wall clock), on markets long
//! enough not to resolve during the run. Skipped, with a NOTICE, when anvil
//! is not installed (`.ci/run` installs it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use alloy_primitives::{Address, U256};
use pmbot_core::{TokenId, Usdc};
use pmbot_engine::journal::{DataSource, Journal, RunMode};
use pmbot_sim::engine::Query;
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_testkit::{Anvil, polygon};

/// Anvil's development key #0 (never holds real funds) and its address.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ME: Address = alloy_primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

fn synthetic() -> SyntheticConfig {
    SyntheticConfig { seed: 5, markets: 3, market_duration_ms: 20 * 60_000, ..SyntheticConfig::default() }
}

fn sim_table() -> String {
    "[sim.source]\nkind = \"synthetic\"\nseed = 5\nmarkets = 3\nmarket_duration_ms = 1200000\n".to_owned()
}

async fn chain() -> Option<Anvil> {
    let anvil = Anvil::start()?;
    anvil.plant_funded_account(ME, U256::from(1_000_000u64) * U256::from(1_000_000u64)).await.unwrap();
    Some(anvil)
}

/// Settings that make a short run trade: a low confidence bar, quick exits,
/// short cooldowns.
fn write_config(dir: &Path, sim: &SimHandle, rpc: &str) -> PathBuf {
    let text = format!(
        r#"{sim_table}
[gateway]
clob_url = "{rest}"
ws_url = "{ws}"
chain_id = 137
kill_switch = '{dir}/.kill_switch'
request_timeout = "2s"
heartbeat_interval = "1s"

[balance]
rpc_urls = ["{rpc}"]
chain_id = 137
{contracts}
cache_ttl = "2s"
call_timeout = "2s"

[journal]
path = '{dir}/journal.sqlite'

[strategy]
confidence_threshold = "0.05"
min_edge = "0"
max_hold_ms = 8000

[risk]
loss_streak_limit = 100
market_loss_cooldown_ms = 1
daily_loss_limit = "50"
"#,
        sim_table = sim_table(),
        rest = sim.rest_url(),
        ws = sim.ws_url(),
        dir = dir.display(),
        contracts = polygon::contracts_toml(),
    );
    let path = dir.join("pmbot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A model trained on this market model (the paper command's warm-up of
/// `warmup`), at `dir/train/model.json`.
fn train_model(dir: &Path, warmup: &str) -> PathBuf {
    std::fs::write(dir.join("train.toml"), sim_table()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .env("PMBOT_OPS__HTTP", "127.0.0.1:0")
        .current_dir(dir)
        .args(["--config", "train.toml", "paper", "--sim", "--duration", "1m", "--warmup", warmup])
        .args(["--journal", "train.sqlite", "--report", "train"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.join("train").join("model.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_on_the_simulator_journals_exactly_what_the_simulator_holds() {
    let Some(anvil) = chain().await else { return };
    let dir = std::env::temp_dir().join(format!("pmbot-live-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let model = train_model(&dir, "2h");

    let sim = pmbot_sim::start(SimConfig {
        source: SourceConfig::Synthetic(Box::new(synthetic())),
        // A new account gets nothing: only the funding below.
        starting_balance: Usdc::ZERO,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    // The account holds exactly this (the starting balance is zero).
    let start_cash = Usdc::from_whole(1_000);
    sim.state.fund(ME, start_cash).unwrap();
    let config = write_config(&dir, &sim, anvil.url());
    let slugs = sim.state.open_market_slugs();
    assert_eq!(slugs.len(), 3);

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.env("PMBOT_OPS__HTTP", "127.0.0.1:0");
    cmd.current_dir(&dir).arg("--config").arg(&config);
    cmd.args(["live", "--simulated-exchange", "--clob-url", &sim.rest_url(), "--ws-url", &sim.ws_url()]);
    cmd.args(["--gamma-url", &format!("{}gamma", sim.rest_url())]);
    cmd.arg("--model").arg(&model).args(["--duration", "75s", "--report", "live-report", "--market"]);
    cmd.args(&slugs);
    // A webhook that refuses connections: alerts fail and are retried, and
    // its URL must still never show. The logs keep their configured levels.
    cmd.env("PMBOT_PRIVATE_KEY", KEY).env_remove("RUST_LOG");
    // A floor above what the wallet holds: the balance watcher must say so.
    cmd.env("PMBOT_OPS__BALANCE_FLOOR", "2000000.5");
    cmd.env("PMBOT_DISCORD_WEBHOOK", format!("http://127.0.0.1:{}/api/webhooks/424242/{WEBHOOK_TOKEN}", closed_port()));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");

    let journal = Journal::open_read_only(dir.join("journal.sqlite")).unwrap();
    let runs = journal.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].start.mode, runs[0].start.data_source), (RunMode::Live, DataSource::Simulator));
    let orders = journal.orders().unwrap();
    assert!(!orders.is_empty(), "the run placed orders: {stdout}");

    let g = sim.state.lock();
    // Every journaled order is in the simulator's records, and the simulator
    // holds no order of ours the journal does not.
    for o in &orders {
        let rec = g.exchange.order(&o.prepared.order_hash);
        assert!(
            rec.is_some() || o.status == pmbot_core::OrderStatus::Rejected,
            "{} unknown to the simulator",
            o.prepared.client_order_id
        );
    }
    let ours = g.exchange.orders_of(ME);
    let journaled: std::collections::BTreeSet<_> = orders.iter().map(|o| o.prepared.order_hash).collect();
    for id in &ours {
        assert!(journaled.contains(id), "the simulator holds order {id} the journal does not");
    }
    // Trades: every simulator trade of ours is a journaled fill.
    let trades = g.exchange.trades(ME, &Query::default());
    let fills = journal.fills().unwrap();
    assert_eq!(trades.len(), fills.len(), "simulator trades vs journaled fills");
    // Positions: the simulator's shares are the journal's net shares.
    let positions: BTreeMap<TokenId, _> =
        journal.positions().unwrap().into_iter().map(|p| (p.token.clone(), p.net_shares)).collect();
    for (token, net) in &positions {
        let held = g.exchange.shares(ME, token).total;
        assert_eq!(
            rust_decimal::Decimal::from(held.micros()) / rust_decimal::Decimal::from(1_000_000),
            *net,
            "{token}"
        );
    }
    // Cash: what the simulator moved equals what the engine's ledger moved.
    let sim_cash = g.exchange.collateral(ME).total;
    let marks = journal.marks().unwrap();
    let (first, last) = (marks.first().unwrap(), marks.last().unwrap());
    let moved_engine = last.cash - first.cash;
    let moved_sim = Usdc::from_micros(i64::try_from(sim_cash.micros()).unwrap()) - start_cash;
    assert_eq!(moved_sim, moved_engine, "cash moved: simulator vs engine");
    drop(g);

    // The collateral read on chain is below the configured floor: alerted
    // (and journaled) once, not at every reading.
    let alerts = journal.notes("alert").unwrap();
    let low: Vec<_> = alerts.iter().filter(|n| n.detail["kind"] == "balance_low").collect();
    assert_eq!(low.len(), 1, "{alerts:?}");
    assert_eq!(low[0].detail["title"], "Collateral below the floor");

    // No secret anywhere a person or a program reads: the screen, the JSON
    // logs, the report, the daily summary, the journal.
    let key_hex = KEY.trim_start_matches("0x");
    let secrets = [key_hex, WEBHOOK_TOKEN];
    let logs: String = std::fs::read_dir(dir.join("pmbot-logs"))
        .expect("JSON logs beside the journal")
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(logs.contains("order recorded before sending"), "orders are logged with their ids");
    assert!(logs.contains("\"client_order_id\""), "with their ids");
    let report = std::fs::read_to_string(dir.join("live-report").join("report.md")).unwrap();
    let date = chrono::Utc::now().date_naive().to_string();
    let summary = Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .current_dir(&dir)
        .args(["summary", "--date", &date, "--journal", "journal.sqlite", "--out", "summary.md"])
        .output()
        .unwrap();
    assert!(summary.status.success(), "{}", String::from_utf8_lossy(&summary.stderr));
    let summary = String::from_utf8_lossy(&summary.stdout).into_owned();
    for (name, text) in
        [("stdout", &*stdout), ("stderr", &*stderr), ("logs", &logs), ("report", &report), ("summary", &summary)]
    {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret ({secret}) in the {name}");
        }
    }
    assert!(journal.scan_for(&secrets).unwrap().is_empty(), "a secret in the journal");
}

/// Never a real token: planted to be looked for.
const WEBHOOK_TOKEN: &str = "planted-webhook-token-x9Q";

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `pmbot paper` on `sim`'s feed, trading all its open markets for
/// `duration` with the model in `dir/train`, journaling to `dir/NAME.sqlite`
/// and reporting to `dir/NAME`.
fn paper_on_feed(dir: &Path, sim: &SimHandle, duration: &str, name: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.env("PMBOT_OPS__HTTP", "127.0.0.1:0");
    cmd.current_dir(dir).args(["paper", "--clob-url", &sim.rest_url(), "--ws-url", &sim.ws_url()]);
    cmd.args(["--gamma-url", &format!("{}gamma", sim.rest_url())]);
    cmd.args(["--model", "train/model.json", "--duration", duration]);
    cmd.args(["--journal", &format!("{name}.sqlite"), "--report", name]);
    cmd.arg("--market").args(sim.state.open_market_slugs());
    cmd
}

/// `pmbot paper` on a live feed (here a running simulator on loopback, with
/// its socket dropped every few hundred messages): the supervised stream
/// feeds the engine, a recovered reconnect is journaled, and a loopback feed
/// is recorded as simulator data, never as live market data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_on_a_live_feed_journals_its_reconnects_and_never_counts_a_loopback_feed_as_live() {
    let dir = std::env::temp_dir().join(format!("pmbot-paper-feed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    train_model(&dir, "1h");

    let sim = pmbot_sim::start(SimConfig {
        source: SourceConfig::Synthetic(Box::new(synthetic())),
        faults: "ws-drop-every=400".parse().unwrap(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let slugs = sim.state.open_market_slugs();
    let mut cmd = paper_on_feed(&dir, &sim, "30s", "feed");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let j = Journal::open_read_only(dir.join("feed.sqlite")).unwrap();
    let runs = j.runs().unwrap();
    assert_eq!((runs[0].start.mode, runs[0].start.data_source), (RunMode::Paper, DataSource::Simulator));
    let decisions = j.decisions().unwrap();
    let markets: std::collections::BTreeSet<_> = decisions.iter().map(|d| d.market).collect();
    assert_eq!(markets.len(), slugs.len(), "every market was sampled");
    let notes = j.notes("market_data_reconnect").unwrap();
    assert!(!notes.is_empty(), "the dropped socket was seen and recovered");
    assert!(notes.iter().all(|n| n.detail["recovered"] == true && n.detail["run"] == runs[0].id));
    assert!(dir.join("feed").join("report.html").is_file());
}

/// The market channel does not replay a `market_resolved` missed while
/// disconnected (protocol notes, corrections item 8). `pmbot paper` on a
/// live feed loses its socket over a market's end (every frame dropped
/// until the simulator has resolved it), so the feed never tells it; the
/// REST fallback (`GET /markets/{condition_id}`, `tokens[].winner`) does,
/// from 30 s after the end, and the journal says where it came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_the_feed_missed_is_learnt_over_rest() {
    let dir = std::env::temp_dir().join(format!("pmbot-rest-resolution-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    train_model(&dir, "1h");

    // One market that ends 40 s from now.
    let synthetic = SyntheticConfig { seed: 5, markets: 1, market_duration_ms: 40_000, ..SyntheticConfig::default() };
    let sim =
        pmbot_sim::start(SimConfig { source: SourceConfig::Synthetic(Box::new(synthetic)), ..SimConfig::default() })
            .await
            .expect("simulator starts");
    let (market, end_ms) = sim.state.with_exchange(|ex, _| {
        let m = &ex.markets()[0];
        (m.spec.condition_id, m.spec.end_ms.expect("a synthetic market ends"))
    });
    let mut cmd = paper_on_feed(&dir, &sim, "100s", "j");
    let child = tokio::task::spawn_blocking(move || cmd.output().unwrap());

    // Every frame closes the socket from 3 s before the end until the
    // simulator has resolved the market, and a little after.
    let wall = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    tokio::time::sleep(std::time::Duration::from_millis((end_ms - 3_000 - wall()).max(0) as u64)).await;
    sim.state.set_faults("ws-drop=1".parse().unwrap());
    let resolved_by = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sim
        .state
        .with_exchange(|ex, _| ex.markets().iter().find(|m| m.spec.condition_id == market).unwrap().winner.is_none())
    {
        assert!(std::time::Instant::now() < resolved_by, "the simulator resolves its market at its end");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    sim.state.set_faults(pmbot_sim::faults::FaultSpec::default());

    let out = child.await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = Journal::open_read_only(dir.join("j.sqlite")).unwrap();
    let notes = j.notes("resolution_from_rest").unwrap();
    assert_eq!(notes.len(), 1, "learnt over REST exactly once: {notes:?}");
    assert_eq!(notes[0].detail["market"], market.to_string());
    let winner = sim.state.with_exchange(|ex, _| {
        ex.markets().into_iter().find(|m| m.spec.condition_id == market).unwrap().winner.unwrap()
    });
    assert_eq!(notes[0].detail["winning_token"], winner.as_str());
    // Asked from 30 s after the end, not before.
    assert!(notes[0].at.millis() >= end_ms + 30_000, "asked {} ms after the end", notes[0].at.millis() - end_ms);
    sim.shutdown().await;
}
