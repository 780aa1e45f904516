//! Crash recovery (issue 4): `pmbot drill` is killed with SIGKILL at seeded
//! random points of its order flow, over and over, then run to completion,
//! while a house account fills our resting bids in the simulator between and
//! during the runs. Every run reconciles the SQLite journal with the
//! exchange at start-up (`account::start_gateway`), and the balance
//! pre-check reads a real chain (anvil). Afterwards:
//! - (a) no untracked order: every order the simulator accepted from us is
//!   a journal order (by hash), and the journal holds one order per client
//!   order id, so the simulator never holds two orders for one intent;
//! - (b) no lost fill: our trade legs in the simulator and the journal's
//!   fills are the same set (trade id, order hash, size);
//! - (c) the journal's positions (net shares per token) equal the
//!   simulator's holdings;
//! - (d) every journal order's status and filled size agree with the
//!   simulator's record (an order it does not have is rejected).
//!
//! Skipped, with a NOTICE, when anvil is not installed (`.ci/run` installs it).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256, address};
use pmbot_core::{OrderId, OrderStatus, Price, Side, Size, TokenId, Usdc};
use pmbot_engine::journal::Journal;
use pmbot_sim::engine::{NewOrder, OrderStatus as SimStatus, OrderType as SimOrderType, Query};
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SimState, SourceConfig};
use pmbot_testkit::{Anvil, polygon};
use rust_decimal::Decimal;

/// Anvil's development key #0 (never holds real funds) and its address.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ME: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const HOUSE: u8 = 0xee;
const SEED: u64 = 11;
const INTENTS: u32 = 240;
const KILLS: usize = 30;
/// The whole test stops by itself after this long.
const DEADLINE: Duration = Duration::from_secs(240);

/// splitmix64, for the kill points and the house's takes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Synthetic markets with no participants: every order and trade is ours or
/// the house's.
fn quiet_sim(markets: u32) -> SimConfig {
    let mut s = SyntheticConfig { markets, market_duration_ms: 60 * 60_000, ..SyntheticConfig::default() };
    s.makers.count = 0;
    s.noise.arrivals_per_min = 0.0;
    s.informed.enabled = false;
    // A drill restarts several times a second, far more often than pmbot
    // ever would; each start derives the API key, and the simulator's
    // published limit on that (100 per 10 s) is not what is under test.
    let rate_limits = pmbot_sim::ratelimit::RateLimitConfig::disabled();
    SimConfig { source: SourceConfig::Synthetic(Box::new(s)), rate_limits, ..SimConfig::default() }
}

/// (yes, no) token pairs of the listed markets.
fn token_pairs(sim: &SimHandle) -> Vec<(TokenId, TokenId)> {
    sim.state
        .lock()
        .exchange
        .markets()
        .into_iter()
        .filter(|m| m.accepting_orders)
        .map(|m| (m.spec.tokens[0].token_id.clone(), m.spec.tokens[1].token_id.clone()))
        .collect()
}

static HOUSE_ORDERS: AtomicU64 = AtomicU64::new(1);

/// A house order straight on the engine. `Some(trades)` if accepted.
fn house_order(state: &SimState, token: &TokenId, price: &str, shares: u64, ty: SimOrderType) -> Option<usize> {
    let owner = Address::repeat_byte(HOUSE);
    let n = HOUSE_ORDERS.fetch_add(1, Ordering::Relaxed);
    let mut id = [0u8; 32];
    id[..20].copy_from_slice(owner.as_slice());
    id[24..].copy_from_slice(&n.to_be_bytes());
    let order = NewOrder {
        id: pmbot_core::Hash32(id),
        maker: owner,
        owner,
        api_key: format!("house-{owner:#x}"),
        token: token.clone(),
        side: Side::Buy,
        price: Price::parse(price).unwrap(),
        size: Size::from_shares(shares),
        order_type: ty,
        post_only: false,
        expiration_s: 0,
    };
    state.with_exchange(|ex, now| ex.submit(order, now)).ok().map(|o| o.trade_ids.len())
}

/// Anvil with the Polymarket fixtures, our address funded and every approval set.
async fn chain() -> Option<Anvil> {
    let anvil = Anvil::start()?;
    anvil.plant_funded_account(ME, U256::from(1_000_000u64) * U256::from(1_000_000u64)).await.unwrap();
    Some(anvil)
}

fn write_config(dir: &Path, sim: &SimHandle, rpc: &str) -> PathBuf {
    let text = format!(
        r#"
[gateway]
clob_url = "{rest}"
ws_url = "{ws}"
chain_id = 137
kill_switch = '{dir}/.kill_switch'
request_timeout = "2s"
heartbeat_interval = "1s"
lookup_tries = 3
lookup_interval = "50ms"
pending_sweep = "500ms"

[gateway.retry]
attempts = 3
initial_backoff = "20ms"
max_backoff = "200ms"
max_retry_after = "3s"

[balance]
rpc_urls = ["{rpc}"]
chain_id = 137
{contracts}
cache_ttl = "2s"
call_timeout = "2s"

[journal]
path = '{dir}/journal.sqlite'
"#,
        rest = sim.rest_url(),
        ws = sim.ws_url(),
        dir = dir.display(),
        contracts = polygon::contracts_toml(),
    );
    let path = dir.join("pmbot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// One `pmbot drill` process, its stdout lines arriving on a channel.
struct Drill {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

fn spawn_drill(config: &Path, tokens: &[TokenId], run: usize) -> Drill {
    let stderr = config.with_file_name(format!("drill-{run}.stderr"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.arg("--config").arg(config);
    cmd.args(["drill", "--intents", &INTENTS.to_string(), "--seed", &SEED.to_string(), "--pause-ms", "20"]);
    cmd.args(["--rest-max", "0.45", "--cross-min", "0.60", "--cross-percent", "20"]);
    for t in tokens {
        cmd.args(["--token", t.as_str()]);
    }
    cmd.env("PMBOT_PRIVATE_KEY", KEY).env("RUST_LOG", "warn");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(std::fs::File::create(&stderr).unwrap());
    let mut child = cmd.spawn().expect("spawn pmbot drill");
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    Drill { child, lines, stderr }
}

fn stderr_of(d: &Drill) -> String {
    std::fs::read_to_string(&d.stderr).unwrap_or_default()
}

#[derive(Debug, Default)]
struct KillLog {
    kills: usize,
    /// Kills after at least one new placement (mid-flow), the rest during
    /// start-up or reconciliation.
    mid_flow: usize,
    /// Runs that finished on their own before their kill point.
    finished_early: usize,
    outcome_lines: BTreeMap<String, usize>,
}

fn tally(log: &mut KillLog, line: &str) {
    let word = line.split_whitespace().next().unwrap_or("").to_owned();
    *log.outcome_lines.entry(word).or_default() += 1;
}

/// Kills the drill `KILLS` times at seeded points, stops the house (`stop`),
/// then runs the drill to the end. Returns the kill log and the final run's
/// summary line.
fn kill_loop(config: &Path, tokens: &[TokenId], started: Instant, stop: &AtomicBool) -> (KillLog, String) {
    let mut rng = Rng(SEED.wrapping_mul(31));
    let mut log = KillLog::default();
    let mut run = 0;
    while log.kills < KILLS {
        assert!(started.elapsed() < DEADLINE, "the kill loop ran out of time: {log:?}");
        run += 1;
        let mut d = spawn_drill(config, tokens, run);
        // Kill after a number of outcome lines plus a little, or, one time in
        // five, at a random instant of start-up (authentication, start-up
        // reconciliation, the user channel's first reconciliation).
        let during_startup = rng.below(5) == 0;
        let wait_lines = if during_startup { 0 } else { 1 + rng.below(6) };
        let extra = Duration::from_millis(if during_startup { rng.below(1500) } else { rng.below(60) });
        let mut seen = 0;
        let mut finished = false;
        let run_deadline = Instant::now() + Duration::from_secs(30);
        while seen < wait_lines {
            match d.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    tally(&mut log, &line);
                    // Skipped intents (placed by an earlier run) do not count:
                    // the kill lands among new placements.
                    if line.starts_with("placed") {
                        seen += 1;
                    }
                    if line.starts_with("drill done") {
                        finished = true;
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = d.child.try_wait().unwrap() {
                        assert!(status.success(), "run {run} failed on its own ({status}): {}", stderr_of(&d));
                        finished = true;
                        break;
                    }
                    assert!(Instant::now() < run_deadline, "run {run} made no progress: {}", stderr_of(&d));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = d.child.wait().unwrap();
                    assert!(status.success(), "run {run} failed on its own ({status}): {}", stderr_of(&d));
                    finished = true;
                    break;
                }
            }
        }
        if !finished {
            std::thread::sleep(extra);
            d.child.kill().expect("SIGKILL the drill");
        }
        let status = d.child.wait().unwrap();
        while let Ok(line) = d.lines.recv_timeout(Duration::from_millis(200)) {
            tally(&mut log, &line);
        }
        match status.signal() {
            Some(9) => {
                log.kills += 1;
                log.mid_flow += usize::from(seen > 0);
            }
            _ if status.success() => log.finished_early += 1,
            _ => panic!("run {run} ended with {status}: {}", stderr_of(&d)),
        }
    }

    // One run to completion, on a quiet exchange: its final reconciliation
    // is the last word, so nothing may trade after it.
    stop.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(400));
    run += 1;
    let mut d = spawn_drill(config, tokens, run);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut summary = None;
    loop {
        match d.lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if line.starts_with("drill done") {
                    summary = Some(line.clone());
                }
                tally(&mut log, &line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if Instant::now() > deadline {
                    let _ = d.child.kill();
                    panic!("the final run did not finish in time: {}", stderr_of(&d));
                }
            }
        }
    }
    let status = d.child.wait().unwrap();
    assert!(status.success(), "the final run failed ({status}): {}", stderr_of(&d));
    let summary = summary.unwrap_or_else(|| panic!("no summary line: {}", stderr_of(&d)));
    (log, summary)
}

/// What pmbot's status should be for the simulator's record of an order.
fn expected_status(status: SimStatus, matched: Size, size: Size) -> OrderStatus {
    match status {
        _ if matched == size => OrderStatus::Filled,
        SimStatus::Live if matched.is_zero() => OrderStatus::Acknowledged,
        SimStatus::Live => OrderStatus::PartiallyFilled,
        SimStatus::Matched => OrderStatus::Filled,
        SimStatus::Canceled | SimStatus::Unmatched => OrderStatus::Cancelled,
    }
}

fn summary_field(summary: &str, key: &str) -> u64 {
    summary
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} missing in {summary:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_no_fill_and_doubles_no_order() {
    let started = Instant::now();
    let Some(anvil) = chain().await else { return };
    let sim = pmbot_sim::start(quiet_sim(2)).await.expect("simulator starts");
    let dir = std::env::temp_dir().join(format!("pmbot-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = write_config(&dir, &sim, anvil.url());

    // Our bids go on each market's first token only, so they never meet one
    // another. The house rests a deep bid at 0.40 on the second token (an
    // ask at 0.60 on ours: crossing bids fill against it), and now and then
    // buys the second token at up to 0.99, which fills our best resting bid.
    sim.state.fund(ME, Usdc::from_whole(1_000_000)).unwrap();
    sim.state.fund(Address::repeat_byte(HOUSE), Usdc::from_whole(10_000_000)).unwrap();
    let pairs = token_pairs(&sim);
    assert_eq!(pairs.len(), 2);
    for (_, no) in &pairs {
        house_order(&sim.state, no, "0.40", 1_000_000, SimOrderType::Gtc).expect("house bid rests");
    }
    let ours: Vec<TokenId> = pairs.iter().map(|(yes, _)| yes.clone()).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let taker = {
        let (state, stop, pairs) = (sim.state.clone(), stop.clone(), pairs.clone());
        tokio::spawn(async move {
            let mut rng = Rng(SEED);
            let mut takes = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(40 + rng.below(100))).await;
                let (_, no) = &pairs[rng.below(pairs.len() as u64) as usize];
                if house_order(&state, no, "0.99", 3 + rng.below(10), SimOrderType::Fak).is_some_and(|n| n > 0) {
                    takes += 1;
                }
            }
            takes
        })
    };

    let (log, summary) = {
        let (config, ours, stop) = (config.clone(), ours.clone(), stop.clone());
        tokio::task::spawn_blocking(move || kill_loop(&config, &ours, started, &stop)).await.unwrap()
    };
    let takes = taker.await.unwrap();

    // The simulator's view of our account, all at one instant.
    let journal = Journal::open_read_only(dir.join("journal.sqlite")).unwrap();
    let orders = journal.orders().unwrap();
    let fills = journal.fills().unwrap();
    let positions = journal.positions().unwrap();
    let accepted = sim.state.stats.orders_accepted.load(Ordering::SeqCst);
    let (sim_records, sim_open, sim_trades, sim_shares) = {
        let g = sim.state.lock();
        let records: BTreeMap<OrderId, _> =
            orders.iter().filter_map(|o| g.exchange.order(&o.prepared.order_hash).map(|r| (r.id, r))).collect();
        let open = g.exchange.open_orders(ME, &Query::default());
        let trades = g.exchange.trades(ME, &Query::default());
        let shares: BTreeMap<TokenId, Size> =
            ours.iter().map(|t| (t.clone(), g.exchange.shares(ME, t).total)).collect();
        (records, open, trades, shares)
    };

    // (a) One order per intent, and every order the simulator took from us
    // is in the journal.
    let cids: BTreeSet<_> = orders.iter().map(|o| o.prepared.client_order_id.clone()).collect();
    let hashes: BTreeSet<_> = orders.iter().map(|o| o.prepared.order_hash).collect();
    assert_eq!((cids.len(), hashes.len()), (orders.len(), orders.len()), "one order per client id and per hash");
    assert!(orders.iter().all(|o| o.prepared.client_order_id.as_str().starts_with(&format!("drill-{SEED}-"))));
    assert_eq!(
        sim_records.len() as u64,
        accepted,
        "the simulator accepted {accepted} orders from us; the journal knows {} of them",
        sim_records.len()
    );
    for o in &sim_open {
        assert!(hashes.contains(&o.id), "untracked open order on the simulator: {o:?}");
    }

    // (b) Every trade leg of ours is a journal fill, and nothing else is.
    let mut sim_legs = BTreeSet::new();
    for t in &sim_trades {
        if t.taker_owner == ME {
            sim_legs.insert((t.id.clone(), t.taker_order_id, t.size));
        }
        for m in t.makers.iter().filter(|m| m.owner == ME) {
            sim_legs.insert((t.id.clone(), m.order_id, m.matched));
        }
    }
    let journal_legs: BTreeSet<_> = fills.iter().map(|f| (f.trade_id.clone(), f.order_id, f.size)).collect();
    for leg in &sim_legs {
        assert!(hashes.contains(&leg.1), "a trade of an untracked order: {leg:?}");
    }
    let lost: Vec<_> = sim_legs.difference(&journal_legs).collect();
    let extra: Vec<_> = journal_legs.difference(&sim_legs).collect();
    assert!(lost.is_empty() && extra.is_empty(), "fills lost: {lost:?}; fills the simulator never made: {extra:?}");
    assert_eq!(fills.len(), journal_legs.len(), "no fill recorded twice");

    // (c) Positions.
    for token in &ours {
        let journal_net = positions.iter().find(|p| &p.token == token).map_or(Decimal::ZERO, |p| p.net_shares);
        assert_eq!(journal_net, sim_shares[token].to_decimal(), "net shares of {token}");
    }

    // (d) Statuses after the final reconciliation.
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for o in &orders {
        let hash = o.prepared.order_hash;
        *by_status.entry(format!("{:?}", o.status)).or_default() += 1;
        match sim_records.get(&hash) {
            Some(r) => {
                let want = expected_status(r.status, r.size_matched, r.original_size);
                assert_eq!(
                    (o.status, o.filled),
                    (want, r.size_matched),
                    "{} ({hash}): journal vs simulator {:?}",
                    o.prepared.client_order_id,
                    r.status
                );
            }
            None => {
                assert_eq!(o.status, OrderStatus::Rejected, "{} is not on the simulator", o.prepared.client_order_id);
            }
        }
    }

    // The run did what it is meant to: many kills mid-flow, every intent
    // placed once, fills both as maker and taker.
    assert_eq!(summary_field(&summary, "intents"), u64::from(INTENTS));
    assert_eq!(summary_field(&summary, "failed"), 0, "{summary}");
    assert!(log.kills >= 20 && log.mid_flow >= 10, "{log:?}");
    assert!(orders.len() as u32 <= INTENTS && orders.len() >= (INTENTS as usize) * 9 / 10, "{}", orders.len());
    assert!(sim_trades.iter().any(|t| t.taker_owner == ME), "no crossing bid filled");
    assert!(sim_trades.iter().any(|t| t.makers.iter().any(|m| m.owner == ME)), "no resting bid filled");
    eprintln!(
        "crash drill: {} kills ({} mid-flow, {} runs finished early) in {:?}; journal orders {} (sim accepted {accepted}, \
         {} open on the sim), by status {by_status:?}; fills {} (sim trade legs {}); house takes {takes}; \
         positions {:?}; drill output {:?}; final run: {summary}",
        log.kills,
        log.mid_flow,
        log.finished_early,
        started.elapsed(),
        orders.len(),
        sim_open.len(),
        fills.len(),
        sim_legs.len(),
        positions
            .iter()
            .map(|p| (p.token.as_str().chars().take(8).collect::<String>(), p.net_shares))
            .collect::<Vec<_>>(),
        log.outcome_lines,
    );
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
