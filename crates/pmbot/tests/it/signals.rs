//! Stopping the long-running commands (issue 12). Each runs as a child
//! process and gets SIGTERM or SIGINT mid-run; it must exit 0 with its run's
//! end and its report written, the journal whole (`PRAGMA integrity_check`)
//! and no decision lost: the samples it printed when it stopped are exactly
//! the run's decision rows. A second signal, or a stop slower than
//! `[shutdown] timeout`, exits at once with 128 + the signal, the journal
//! still whole. A SIGKILL during a real-time run loses at most the last
//! second of decisions, because they are written on the loop's tick.
//!
//! The live test needs anvil (skipped with a NOTICE without it; `.ci/run`
//! installs it).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use pmbot_core::{TokenId, Usdc};
use pmbot_engine::journal::Journal;
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_testkit::{Anvil, polygon};

/// Anvil's development key #0 (never holds real funds) and its address.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ME: Address = alloy_primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

/// Two markets stepped once a second (fast in a debug build), long enough
/// not to end during a test.
const LIGHT_SIM: &str = "[sim.source]\nkind = \"synthetic\"\nseed = 11\nmarkets = 2\nstep_interval_ms = 1000\n\
                         market_duration_ms = 3600000\n";

fn light_synthetic() -> SyntheticConfig {
    SyntheticConfig {
        seed: 11,
        markets: 2,
        step_interval_ms: 1000,
        market_duration_ms: 3_600_000,
        ..SyntheticConfig::default()
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-signals-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pmbot(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.env("PMBOT_OPS__HTTP", "127.0.0.1:0").env_remove("RUST_LOG").current_dir(dir);
    cmd
}

/// A model trained once for the whole file, on the light market model.
fn model() -> PathBuf {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = scratch("model");
            std::fs::write(dir.join("pmbot.toml"), LIGHT_SIM).unwrap();
            let out = pmbot(&dir)
                .args(["--config", "pmbot.toml", "paper", "--sim", "--duration", "1m", "--warmup", "2h"])
                .args(["--journal", "train.sqlite", "--report", "train"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            dir.join("train").join("model.json")
        })
        .clone()
}

/// A child process whose stdout lines arrive as they are printed.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: PathBuf,
}

impl Running {
    fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Running {
        let stderr = dir.join(format!("{name}.stderr"));
        cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(&stderr).unwrap());
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let all = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                all.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        Running { child, lines, stdout, stderr }
    }

    /// Waits (bounded) for a stdout line containing `text`.
    fn wait_for(&mut self, text: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("no line with {text:?} within {limit:?}; stderr: {}", self.stderr_text());
                }
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.child.id().to_string()]).status();
        assert!(status.unwrap().success(), "kill -{signal}");
    }

    /// Waits (bounded) for the exit; returns the status and stdout.
    fn finish(mut self, limit: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stdout.lock().unwrap().clone());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("did not exit within {limit:?}; stderr: {}", self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// The journal is whole, the way SQLite itself checks it.
fn assert_integrity(journal: &Path) {
    let db = rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let verdict: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(verdict, "ok", "{}", journal.display());
}

/// The count printed in `... N samples ...` on the stop line.
fn printed_samples(stdout: &str) -> usize {
    let line = stdout.lines().find(|l| l.starts_with("stopped (")).unwrap_or_else(|| panic!("no stop line: {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| w.trim_end_matches(',') == "samples").expect("samples on the stop line");
    words[at - 1].parse().unwrap()
}

/// The run ended with `reason`, and every sample it took is a decision row.
fn assert_clean_end(journal: &Path, stdout: &str, reason: &str) {
    assert_integrity(journal);
    let j = Journal::open_read_only(journal).unwrap();
    let runs = j.runs().unwrap();
    let run = runs.last().unwrap();
    assert_eq!(run.end.as_ref().map(|e| e.1.as_str()), Some(reason), "{stdout}");
    let decisions = j.decisions().unwrap().into_iter().filter(|d| d.run == run.id).count();
    assert_eq!(decisions, printed_samples(stdout), "every sample is a decision row: {stdout}");
}

/// `paper --sim` for 30 simulated days with `config`, once it trades.
fn paper_sim(dir: &Path, config: &str, model: &Path) -> Running {
    std::fs::write(dir.join("pmbot.toml"), config).unwrap();
    let mut cmd = pmbot(dir);
    cmd.args(["--config", "pmbot.toml", "paper", "--sim", "--duration", "30d", "--model"]).arg(model);
    let mut run = Running::spawn(cmd, dir, "paper");
    run.wait_for("paper trading (simulator", Duration::from_secs(60));
    run
}

#[test]
fn paper_on_the_embedded_simulator_stops_cleanly_on_sigterm_and_on_sigint() {
    let model = model();
    for signal in ["TERM", "INT"] {
        let dir = scratch(&format!("paper-sim-{signal}"));
        let run = paper_sim(&dir, LIGHT_SIM, &model);
        std::thread::sleep(Duration::from_secs(2));
        run.signal(signal);
        let (status, stdout) = run.finish(Duration::from_secs(60));
        assert_eq!(status.code(), Some(0), "SIG{signal}: {stdout}");
        assert!(stdout.contains(&format!("stopped (SIG{signal})")), "{stdout}");
        assert_clean_end(&dir.join("pmbot-journal.sqlite"), &stdout, &format!("SIG{signal}"));
        assert!(dir.join("pmbot-report").join("report.md").is_file(), "the report is written");
        assert!(printed_samples(&stdout) > 0, "{stdout}");
    }
}

#[test]
fn a_second_signal_or_a_slow_stop_exits_at_once_and_leaves_the_journal_whole() {
    let model = model();
    // The stop writes the report (plots): far slower than 1 ms.
    let dir = scratch("timeout");
    let run = paper_sim(&dir, &format!("{LIGHT_SIM}\n[shutdown]\ntimeout = \"1ms\"\n"), &model);
    std::thread::sleep(Duration::from_secs(1));
    run.signal("TERM");
    let stderr = run.stderr.clone();
    let (status, _) = run.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(143));
    assert!(std::fs::read_to_string(stderr).unwrap().contains("did not stop within 1ms of SIGTERM"));
    assert_integrity(&dir.join("pmbot-journal.sqlite"));

    // A second signal while the first stop writes its report.
    let dir = scratch("second");
    let mut run = paper_sim(&dir, LIGHT_SIM, &model);
    std::thread::sleep(Duration::from_secs(3));
    run.signal("INT");
    run.wait_for("stopped (SIGINT)", Duration::from_secs(30));
    run.signal("INT");
    let stderr = run.stderr.clone();
    let (status, stdout) = run.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(std::fs::read_to_string(stderr).unwrap().contains("second signal (SIGINT): exiting now"));
    // The run's end was written before the stop line was printed.
    assert_clean_end(&dir.join("pmbot-journal.sqlite"), &stdout, "SIGINT");
}

/// An in-process simulator on the light market model.
async fn simulator(starting_balance: Usdc) -> SimHandle {
    pmbot_sim::start(SimConfig {
        source: SourceConfig::Synthetic(Box::new(light_synthetic())),
        starting_balance,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn feed_args(cmd: &mut Command, sim: &SimHandle) {
    cmd.args(["--clob-url", &sim.rest_url(), "--ws-url", &sim.ws_url()]);
    cmd.args(["--gamma-url", &format!("{}gamma", sim.rest_url()), "--market"]);
    cmd.args(sim.state.open_market_slugs());
}

/// Decisions of the journal's last run, and the latest decision time.
fn decisions_so_far(journal: &Path) -> (usize, Option<i64>) {
    let Ok(j) = Journal::open_read_only(journal) else { return (0, None) };
    let Some(run) = j.runs().ok().and_then(|r| r.last().map(|r| r.id)) else { return (0, None) };
    let d: Vec<_> = j.decisions().unwrap().into_iter().filter(|d| d.run == run).collect();
    (d.len(), d.iter().map(|d| d.at.millis()).max())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_on_a_live_feed_writes_decisions_as_it_goes_and_stops_cleanly_or_loses_at_most_a_second() {
    let model = model();
    let sim = simulator(Usdc::from_whole(1_000)).await;
    let dir = scratch("paper-feed");
    let journal = dir.join("pmbot-journal.sqlite");

    // SIGTERM: a clean stop, and decisions written while the run went on.
    let mut cmd = pmbot(&dir);
    cmd.args(["paper", "--duration", "10m", "--model"]).arg(&model);
    feed_args(&mut cmd, &sim);
    let mut run = Running::spawn(cmd, &dir, "paper-term");
    run.wait_for("paper trading run", Duration::from_secs(60));
    let (seen, _) = wait_for_decisions(&journal, 5, Duration::from_secs(30)).await;
    assert!(seen >= 5, "decisions reach the journal while the run goes on");
    run.signal("TERM");
    let (status, stdout) = tokio::task::spawn_blocking(move || run.finish(Duration::from_secs(60))).await.unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert_clean_end(&journal, &stdout, "SIGTERM");
    assert!(dir.join("pmbot-report").join("report.md").is_file());

    // SIGKILL: nothing runs at the end, so what the journal holds is what
    // the ticks wrote: decisions up to within about a second of the kill.
    let mut cmd = pmbot(&dir);
    cmd.args(["paper", "--duration", "10m", "--model"]).arg(&model);
    feed_args(&mut cmd, &sim);
    let mut run = Running::spawn(cmd, &dir, "paper-kill");
    run.wait_for("paper trading run", Duration::from_secs(60));
    wait_for_decisions(&journal, 8, Duration::from_secs(30)).await;
    let killed_at = now_ms();
    run.signal("KILL");
    let (status, _) = tokio::task::spawn_blocking(move || run.finish(Duration::from_secs(30))).await.unwrap();
    assert_eq!(status.code(), None, "killed");
    assert_integrity(&journal);
    let (_, last) = decisions_so_far(&journal);
    let lost_ms = killed_at - last.expect("decisions before the kill");
    // One second of flush interval, one sample step, and scheduling slack.
    assert!(lost_ms <= 2_500, "the last journaled decision is {lost_ms} ms before the kill");
    let j = Journal::open_read_only(&journal).unwrap();
    assert!(j.runs().unwrap().last().unwrap().end.is_none(), "a killed run has no end");
    sim.shutdown().await;
}

/// Polls the journal until its last run has `n` decisions (bounded).
async fn wait_for_decisions(journal: &Path, n: usize, limit: Duration) -> (usize, Option<i64>) {
    let deadline = Instant::now() + limit;
    loop {
        let seen = decisions_so_far(journal);
        if seen.0 >= n || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_on_the_simulator_cancels_its_resting_orders_on_sigterm() {
    let Some(anvil) = Anvil::start() else { return };
    anvil.plant_funded_account(ME, U256::from(1_000_000u64) * U256::from(1_000_000u64)).await.unwrap();
    let model = model();
    let sim = simulator(Usdc::ZERO).await;
    sim.state.fund(ME, Usdc::from_whole(1_000)).unwrap();
    let dir = scratch("live");
    let config = dir.join("pmbot.toml");
    std::fs::write(
        &config,
        format!(
            "{LIGHT_SIM}\n[gateway]\nclob_url = \"{rest}\"\nws_url = \"{ws}\"\nchain_id = 137\n\
             kill_switch = '{dir}/.kill_switch'\nrequest_timeout = \"2s\"\nheartbeat_interval = \"1s\"\n\n\
             [balance]\nrpc_urls = [\"{rpc}\"]\nchain_id = 137\n{contracts}\ncache_ttl = \"2s\"\n\
             call_timeout = \"2s\"\n\n[journal]\npath = '{dir}/journal.sqlite'\n",
            rest = sim.rest_url(),
            ws = sim.ws_url(),
            dir = dir.display(),
            rpc = anvil.url(),
            contracts = polygon::contracts_toml(),
        ),
    )
    .unwrap();

    // Orders resting on the book before the run: bids far below the market,
    // placed through the same journal (the crash drill's order path). The
    // outcome whose best ask is the higher of the two (at least about 0.5
    // in a binary market): bids at 0.05 and 0.06 never cross it.
    let token: TokenId = {
        let g = sim.state.lock();
        let ask = |t: &TokenId| g.exchange.book(t).and_then(|b| b.asks.first().map(|l| l.price));
        let tokens: Vec<TokenId> = g.exchange.markets()[0].spec.tokens.iter().map(|t| t.token_id.clone()).collect();
        tokens.into_iter().max_by_key(|t| ask(t)).expect("two outcomes")
    };
    let drill = pmbot(&dir)
        .env("PMBOT_PRIVATE_KEY", KEY)
        .arg("--config")
        .arg(&config)
        .args(["drill", "--intents", "3", "--cross-percent", "0", "--rest-max", "0.06", "--token"])
        .arg(token.to_string())
        .output()
        .unwrap();
    assert!(drill.status.success(), "{}", String::from_utf8_lossy(&drill.stderr));
    let resting = || {
        let g = sim.state.lock();
        g.exchange.open_orders(ME, &pmbot_sim::engine::Query::default()).len()
    };
    assert_eq!(resting(), 3, "{}", String::from_utf8_lossy(&drill.stdout));

    let mut cmd = pmbot(&dir);
    cmd.env("PMBOT_PRIVATE_KEY", KEY).arg("--config").arg(&config);
    cmd.args(["live", "--simulated-exchange", "--duration", "10m", "--model"]).arg(&model);
    feed_args(&mut cmd, &sim);
    let mut run = Running::spawn(cmd, &dir, "live");
    run.wait_for("live trading run", Duration::from_secs(60));
    wait_for_decisions(&dir.join("journal.sqlite"), 3, Duration::from_secs(30)).await;
    run.signal("TERM");
    let (status, stdout) = tokio::task::spawn_blocking(move || run.finish(Duration::from_secs(60))).await.unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("cancelled 3 resting order(s) on exit"), "{stdout}");
    assert_eq!(resting(), 0, "nothing of ours rests after the stop");
    let journal = dir.join("journal.sqlite");
    assert_clean_end(&journal, &stdout, "SIGTERM");
    let j = Journal::open_read_only(&journal).unwrap();
    let notes = j.notes("cancel_on_exit").unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].detail["cancelled"].as_array().map(Vec::len), Some(3));
    assert!(
        j.orders()
            .unwrap()
            .iter()
            .filter(|o| o.prepared.client_order_id.as_str().starts_with("drill-"))
            .all(|o| o.status == pmbot_core::OrderStatus::Cancelled),
        "the journal knows they are cancelled"
    );
    assert!(dir.join("pmbot-report").join("report.md").is_file());
    sim.shutdown().await;
}

#[test]
fn backtest_stops_cleanly_on_sigterm_and_reports_what_it_replayed() {
    let model = model();
    let dir = scratch("backtest");
    let rec = dir.join("rec");
    pmbot_sim::generate::generate_recording(&light_synthetic(), Duration::from_secs(3600), &rec).unwrap();
    // The same hour three times over: long enough to be stopped mid-way.
    let mut cmd = pmbot(&dir);
    cmd.arg("backtest").arg("--model").arg(&model).args(["--out", "out", "--data"]).args([&rec, &rec, &rec]);
    let mut run = Running::spawn(cmd, &dir, "backtest");
    run.wait_for("backtest run", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(1500));
    run.signal("TERM");
    let (status, stdout) = run.finish(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("stopped (SIGTERM)"), "stopped mid-way, not at the end of the data: {stdout}");
    assert_clean_end(&dir.join("out").join("journal.sqlite"), &stdout, "SIGTERM");
    assert!(dir.join("out").join("report.md").is_file());
}

/// `live --sim` (the embedded simulator, balances from its own accounts):
/// SIGTERM mid-run ends it cleanly, with its report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_on_the_embedded_simulator_stops_cleanly_on_sigterm() {
    let model = model();
    let dir = scratch("live-sim");
    std::fs::write(dir.join("pmbot.toml"), format!("{LIGHT_SIM}\n[journal]\npath = 'journal.sqlite'\n")).unwrap();
    let mut cmd = pmbot(&dir);
    cmd.env("PMBOT_PRIVATE_KEY", KEY).args(["--config", "pmbot.toml", "live", "--sim", "--duration", "10m"]);
    cmd.arg("--model").arg(&model);
    let mut run = Running::spawn(cmd, &dir, "live-sim");
    run.wait_for("live trading run", Duration::from_secs(60));
    let journal = dir.join("journal.sqlite");
    let (seen, _) = wait_for_decisions(&journal, 3, Duration::from_secs(30)).await;
    assert!(seen >= 3, "decisions reach the journal while the run goes on");
    run.signal("TERM");
    let (status, stdout) = tokio::task::spawn_blocking(move || run.finish(Duration::from_secs(60))).await.unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("cancelled 0 resting order(s) on exit"), "{stdout}");
    assert_clean_end(&journal, &stdout, "SIGTERM");
    assert!(dir.join("pmbot-report").join("report.md").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_watch_and_sim_stop_cleanly_on_a_signal() {
    // record --sim: the recording is closed properly.
    let dir = scratch("record");
    std::fs::write(dir.join("pmbot.toml"), LIGHT_SIM).unwrap();
    let mut cmd = pmbot(&dir);
    cmd.args(["--config", "pmbot.toml", "record", "--sim", "--out", "rec"]);
    let run = Running::spawn(cmd, &dir, "record");
    wait_for_file(&dir.join("rec").join("recording.json"), Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    run.signal("TERM");
    let (status, stdout) = tokio::task::spawn_blocking(move || run.finish(Duration::from_secs(30))).await.unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("stopped (SIGTERM): recorded"), "{stdout}");
    let meta = pmbot_engine::replay::RecordingMeta::read(&dir.join("rec")).unwrap();
    assert!(meta.ended_ms().is_some(), "the session is closed with its end");
    let frames = pmbot_engine::replay::RecordingReader::open(dir.join("rec")).unwrap().count();
    assert!(frames > 0);

    // watch --sim and sim: exit 0 on SIGINT and SIGTERM.
    for (args, signal, line) in [
        (vec!["watch", "--sim", "--interval", "200ms"], "INT", "top of"),
        (vec!["sim", "--port", "0"], "TERM", "listening on"),
    ] {
        let mut cmd = pmbot(&dir);
        cmd.args(["--config", "pmbot.toml"]).args(&args);
        let mut run = Running::spawn(cmd, &dir, args[0]);
        let line = if args[0] == "sim" { line } else { "" };
        run.wait_for(line, Duration::from_secs(30));
        tokio::time::sleep(Duration::from_secs(1)).await;
        run.signal(signal);
        let (status, stdout) = tokio::task::spawn_blocking(move || run.finish(Duration::from_secs(30))).await.unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {stdout}");
        if args[0] == "sim" {
            assert!(stdout.contains("simulator stopped (SIGTERM)"), "{stdout}");
        }
    }
}

async fn wait_for_file(path: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
