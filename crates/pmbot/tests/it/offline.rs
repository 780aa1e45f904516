//! Simulated modes never contact an address off this machine.
//!
//! Each simulated mode runs as a child process inside a network namespace
//! that holds loopback and one veth, whose peer sits in a second, empty
//! namespace; the default route and the DNS server
//! (`/etc/netns/<name>/resolv.conf`) both point through the veth. So any
//! attempt to reach a non-loopback address (a TCP connect, a DNS query, the
//! ARP request before either) is a packet transmitted on the veth, counted
//! from /proc/net/dev inside the namespace before and after each mode. Every
//! mode runs with a public RPC in `[balance] rpc_urls` (there is no default
//! RPC) and alert webhooks off the machine, all of which must be left alone;
//! a probe at the end shows a single connect attempt does raise the count.
//!
//! Needs root and `ip` (iproute2). Without them it prints a NOTICE and
//! passes, unless `PMBOT_NETNS=1` (set by `.ci/run`) says it must run.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pmbot_core::FeatureSpec;
use pmbot_engine::journal::{DataSource, Journal};
use pmbot_model::TrainSpec;
use pmbot_sim::generate::generate_recording;
use pmbot_sim::model::synthetic::SyntheticConfig;

/// Anvil's development key #0 (never holds real funds).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// The veth's subnet inside the namespace: its own address, the default
/// gateway and the DNS server (neither of which exists).
const ADDR: &str = "10.253.0.1/24";
const GATEWAY: &str = "10.253.0.2";
const NAMESERVER: &str = "10.253.0.53";

/// Why the namespace could not be set up.
#[derive(Debug)]
struct Unavailable(String);

/// Runs `ip` (or anything) and refuses a failure with its stderr.
fn sh(program: &str, args: &[&str]) -> Result<String, Unavailable> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Unavailable(format!("{program} {}: {e}", args.join(" "))))?;
    if !out.status.success() {
        return Err(Unavailable(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The trap: namespace `name` (loopback + veth `veth`) and the empty peer
/// namespace. Deleted on drop, whatever happened.
struct Netns {
    name: String,
    peer: String,
    veth: String,
    etc: PathBuf,
}

impl Netns {
    fn create() -> Result<Netns, Unavailable> {
        let pid = std::process::id();
        let ns = Netns {
            name: format!("pmbot-off-{pid}"),
            peer: format!("pmbot-peer-{pid}"),
            veth: format!("pmo{pid}"),
            etc: PathBuf::from(format!("/etc/netns/pmbot-off-{pid}")),
        };
        // From here on, Drop cleans up whatever part was made.
        let (a, b, va) = (ns.name.clone(), ns.peer.clone(), ns.veth.clone());
        let vb = format!("pmp{pid}");
        sh("ip", &["netns", "add", &a])?;
        sh("ip", &["netns", "add", &b])?;
        sh("ip", &["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        sh("ip", &["link", "set", &va, "netns", &a])?;
        sh("ip", &["link", "set", &vb, "netns", &b])?;
        // No IPv6 on either end before they come up: autoconfiguration
        // would otherwise transmit on its own.
        for (netns, dev) in [(&a, &va), (&b, &vb)] {
            let knob = format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6");
            sh("ip", &["netns", "exec", netns, "sh", "-c", &format!("[ ! -e {knob} ] || echo 1 > {knob}")])?;
        }
        sh("ip", &["-n", &a, "link", "set", "lo", "up"])?;
        sh("ip", &["-n", &a, "addr", "add", ADDR, "dev", &va])?;
        sh("ip", &["-n", &a, "link", "set", &va, "up"])?;
        sh("ip", &["-n", &a, "route", "add", "default", "via", GATEWAY, "dev", &va])?;
        sh("ip", &["-n", &b, "link", "set", &vb, "up"])?;
        std::fs::create_dir_all(&ns.etc).map_err(|e| Unavailable(format!("{}: {e}", ns.etc.display())))?;
        std::fs::write(ns.etc.join("resolv.conf"), format!("nameserver {NAMESERVER}\n"))
            .map_err(|e| Unavailable(format!("resolv.conf: {e}")))?;
        Ok(ns)
    }

    /// Packets transmitted on the veth so far.
    fn tx_packets(&self) -> u64 {
        let dev = sh("ip", &["netns", "exec", &self.name, "cat", "/proc/net/dev"]).expect("read /proc/net/dev");
        let line = dev
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(&format!("{}:", self.veth)))
            .unwrap_or_else(|| panic!("no {} in /proc/net/dev:\n{dev}", self.veth));
        // Receive: bytes packets errs drop fifo frame compressed multicast;
        // then transmit: bytes packets ...
        line.split_whitespace().nth(9).and_then(|n| n.parse().ok()).expect("TX packets")
    }

    /// `program args` inside the namespace.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace destroys the veth end in it, and so the pair.
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.peer]).output();
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// Whether this machine can build the trap: root and `ip`.
fn can_run() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|u| u.split_whitespace().nth(1));
    if euid != Some("0") {
        return Err("not running as root".into());
    }
    if Command::new("ip").arg("-V").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Err("`ip` (iproute2) is not installed".into());
    }
    Ok(())
}

/// A child killed (and reaped) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one mode did.
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    secs: f64,
}

/// Runs `cmd` to its end, killing it (and failing) after `limit`.
fn run_bounded(mut cmd: Command, dir: &Path, name: &str, limit: Duration) -> Ran {
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    cmd.stdout(std::fs::File::create(&out_path).unwrap()).stderr(std::fs::File::create(&err_path).unwrap());
    let started = Instant::now();
    let mut child = Running(cmd.spawn().expect("spawn"));
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < limit, "{name} still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Each mode's name, wall time and packets transmitted on the veth.
#[derive(Default)]
struct Table {
    rows: Vec<(String, f64, u64)>,
}

impl Table {
    /// Runs one mode (at most two minutes): it must transmit nothing on the
    /// veth, and succeed.
    fn measure(&mut self, ns: &Netns, dir: &Path, name: &str, cmd: Command) -> Ran {
        let ran = self.measure_any(ns, dir, name, cmd);
        assert!(ran.status.success(), "{name}: {}\nstdout:\n{}\nstderr:\n{}", ran.status, ran.stdout, ran.stderr);
        ran
    }

    /// As [`Table::measure`], whatever the exit status.
    fn measure_any(&mut self, ns: &Netns, dir: &Path, name: &str, cmd: Command) -> Ran {
        let before = ns.tx_packets();
        let ran = run_bounded(cmd, dir, &name.replace([' ', '-', '(', ')', ','], "_"), Duration::from_secs(120));
        let sent = ns.tx_packets() - before;
        self.rows.push((name.to_owned(), ran.secs, sent));
        assert_eq!(sent, 0, "{name} transmitted {sent} packets off the machine\nstdout:\n{}", ran.stdout);
        ran
    }
}

/// The simulated markets: long enough not to end while the test runs.
const SIM_TABLE: &str =
    "[sim.source]\nkind = \"synthetic\"\nseed = 5\nmarkets = 3\nmarket_duration_ms = 1200000\nstep_interval_ms = 250\n";

/// The config every mode runs with: a short run trades (low bar, quick
/// exits), a public RPC in `[balance]` (to be left alone) and no ops port.
fn write_config(dir: &Path) -> PathBuf {
    let text = format!(
        "{SIM_TABLE}\n[gateway]\nkill_switch = '{dir}/.kill_switch'\nrequest_timeout = \"2s\"\nheartbeat_interval = \"1s\"\n\n\
         [strategy]\nconfidence_threshold = \"0.05\"\nmin_edge = \"0\"\nmax_hold_ms = 4000\n\n\
         [risk]\nloss_streak_limit = 100\nmarket_loss_cooldown_ms = 1\ndaily_loss_limit = \"50\"\n\n\
         [balance]\nrpc_urls = [\"https://polygon-rpc.com\"]\n",
        dir = dir.display()
    );
    let path = dir.join("pmbot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A model with short look-backs (warm in 5 s of market time, sampled every
/// second), trained on a recording of the same market model, so a run of a
/// few seconds decides and trades.
fn train_model(dir: &Path) -> (PathBuf, PathBuf) {
    let cfg = SyntheticConfig { seed: 5, markets: 3, market_duration_ms: 20 * 60_000, ..SyntheticConfig::default() };
    let rec = dir.join("rec");
    generate_recording(&cfg, Duration::from_secs(30 * 60), &rec).expect("recording");
    let spec = TrainSpec {
        features: FeatureSpec {
            step_ms: 1_000,
            lookbacks_ms: [1_000, 2_000, 5_000],
            volatility_window_ms: 5_000,
            trade_window_ms: 5_000,
        },
        grid_step_ms: 1_000,
        horizon_ms: 5_000,
        folds: 3,
        min_train_samples: 100,
        ..TrainSpec::default()
    };
    let trained = pmbot_model::train(&[&rec], &spec, &mut |_| {}).expect("model trains");
    let model = dir.join("model.json");
    trained.model.save(&model).unwrap();
    (model, rec)
}

/// The simulator's open markets, asked over loopback inside the namespace.
fn open_slugs(ns: &Netns, port: u16) -> Vec<String> {
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /gamma/markets?closed=false HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && cat <&3"
    );
    let reply = sh("ip", &["netns", "exec", &ns.name, "bash", "-c", &script]).expect("ask the simulator");
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).expect("an HTTP reply");
    let markets: Vec<serde_json::Value> = serde_json::from_str(body).expect("a JSON list");
    markets
        .iter()
        .filter(|m| m["acceptingOrders"] == true)
        .filter_map(|m| m["slug"].as_str().map(str::to_owned))
        .collect()
}

/// Orders the journal holds, and refusals that name the balance.
fn orders_and_balance_refusals(journal: &Path) -> (usize, Vec<String>) {
    let j = Journal::open_read_only(journal).unwrap();
    let orders = j.orders().unwrap().len();
    let refusals = j.refusals().unwrap().into_iter().map(|r| r.reason).filter(|r| r.contains("balance")).collect();
    (orders, refusals)
}

#[test]
fn simulated_modes_transmit_nothing_off_the_machine() {
    let required = std::env::var("PMBOT_NETNS").is_ok_and(|v| v == "1");
    if let Err(why) = can_run() {
        assert!(!required, "PMBOT_NETNS=1 but the namespace test cannot run: {why}");
        eprintln!("NOTICE: skipped: {why} (the network-namespace test needs root and iproute2)");
        return;
    }
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(Unavailable(why)) => {
            assert!(!required, "PMBOT_NETNS=1 but the namespace could not be made: {why}");
            eprintln!("NOTICE: skipped: cannot make a network namespace here: {why}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("pmbot-offline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = write_config(&dir);
    let (model, rec) = train_model(&dir);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_pmbot"));

    let pmbot = |journal: &str| {
        let mut cmd = ns.command(&bin);
        cmd.current_dir(&dir).arg("--config").arg(&config);
        cmd.env("PMBOT_OPS__HTTP", "127.0.0.1:0").env("PMBOT_PRIVATE_KEY", KEY);
        cmd.env("PMBOT_JOURNAL__PATH", dir.join(journal));
        // Off the machine: must be left alone (a name to look up, an address
        // to connect to). Never real: planted tokens.
        cmd.env("PMBOT_DISCORD_WEBHOOK", "https://discord.com/api/webhooks/1/planted-offline-token");
        cmd.env("PMBOT_JSON_WEBHOOK", "http://198.51.100.7/hook");
        cmd
    };
    let mut table = Table::default();

    let mut cmd = pmbot("backtest.sqlite");
    cmd.arg("backtest").arg("--data").arg(&rec).arg("--model").arg(&model).arg("--out").arg(dir.join("bt"));
    table.measure(&ns, &dir, "backtest", cmd);

    let mut cmd = pmbot("paper-sim.sqlite");
    cmd.args(["paper", "--sim", "--duration", "10m", "--report", "paper-sim", "--model"]).arg(&model);
    let ran = table.measure(&ns, &dir, "paper --sim", cmd);
    assert!(ran.stdout.contains("alerts are not sent to [alerts] discord_webhook, json_webhook"), "{}", ran.stdout);

    let mut cmd = pmbot("unused.sqlite");
    cmd.args(["record", "--sim", "--duration", "3s", "--out", "rec-sim"]);
    table.measure(&ns, &dir, "record --sim", cmd);

    let mut cmd = pmbot("unused.sqlite");
    cmd.args(["watch", "--sim", "--duration", "3s"]);
    table.measure(&ns, &dir, "watch --sim", cmd);

    let mut cmd = pmbot("live-sim.sqlite");
    cmd.args(["live", "--sim", "--duration", "20s", "--report", "live-sim", "--model"]).arg(&model);
    let ran = table.measure(&ns, &dir, "live --sim", cmd);
    assert!(ran.stdout.contains("https://polygon-rpc.com is not contacted"), "{}", ran.stdout);
    let (live_sim_orders, refusals) = orders_and_balance_refusals(&dir.join("live-sim.sqlite"));
    assert!(live_sim_orders > 0, "live --sim placed no order:\n{}", ran.stdout);
    assert!(refusals.is_empty(), "balance refusals: {refusals:?}");

    // A running simulator, alone first, then feeding the loopback modes.
    let before = ns.tx_packets();
    let started = Instant::now();
    let mut sim_cmd = pmbot("unused.sqlite");
    sim_cmd.args(["sim", "--port", "0", "--duration", "300s"]).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut sim = Running(sim_cmd.spawn().expect("spawn the simulator"));
    let (lines_tx, lines) = mpsc::channel();
    let stdout = sim.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let port: u16 = loop {
        let line = lines.recv_timeout(Duration::from_secs(30)).expect("the simulator says where it listens");
        if let Some(url) = line.strip_prefix("listening on http://127.0.0.1:") {
            break url.trim().parse().expect("a port");
        }
    };
    std::thread::sleep(Duration::from_secs(2));
    let slugs = open_slugs(&ns, port);
    assert_eq!(slugs.len(), 3, "{slugs:?}");
    let sent = ns.tx_packets() - before;
    assert_eq!(sent, 0, "pmbot sim transmitted {sent} packets off the machine");
    table.rows.push(("sim (alone)".to_owned(), started.elapsed().as_secs_f64(), sent));

    let (rest, ws) = (format!("http://127.0.0.1:{port}/"), format!("ws://127.0.0.1:{port}"));
    // No --gamma-url: a loopback exchange's markets are looked up on it.
    let mut cmd = pmbot("paper-feed.sqlite");
    cmd.args(["paper", "--clob-url", &rest, "--ws-url", &ws, "--duration", "5s", "--report", "paper-feed"]);
    cmd.arg("--model").arg(&model).arg("--market").args(&slugs);
    table.measure(&ns, &dir, "paper (pmbot sim)", cmd);
    let j = Journal::open_read_only(dir.join("paper-feed.sqlite")).unwrap();
    assert_eq!(j.runs().unwrap()[0].start.data_source, DataSource::Simulator);

    let mut cmd = pmbot("live-ext.sqlite");
    cmd.args(["live", "--simulated-exchange", "--clob-url", &rest, "--ws-url", &ws, "--duration", "20s"]);
    cmd.args(["--report", "live-ext", "--model"]).arg(&model).arg("--market").args(&slugs);
    let ran = table.measure(&ns, &dir, "live --simulated-exchange", cmd);
    let (live_ext_orders, refusals) = orders_and_balance_refusals(&dir.join("live-ext.sqlite"));
    assert!(live_ext_orders > 0, "live --simulated-exchange placed no order:\n{}", ran.stdout);
    assert!(refusals.is_empty(), "balance refusals: {refusals:?}");
    drop(sim);

    // Declared simulated but pointed off the machine: refused before a byte
    // is sent.
    let mut cmd = pmbot("far.sqlite");
    cmd.args(["live", "--simulated-exchange", "--clob-url", "https://clob.polymarket.com"]);
    cmd.args(["--ws-url", "wss://ws-subscriptions-clob.polymarket.com", "--market", "m", "--model"]).arg(&model);
    let ran = table.measure_any(&ns, &dir, "live --simulated-exchange (far, refused)", cmd);
    assert!(!ran.status.success(), "{}", ran.stdout);
    assert_eq!(ran.stderr.trim_end().lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("talks to loopback only") && ran.stderr.contains("clob.polymarket.com"),
        "{}",
        ran.stderr
    );

    // The trap works: one connect attempt to a public address is seen.
    let before = ns.tx_packets();
    let probe = "exec 3<>/dev/tcp/198.51.100.7/80";
    let _ = Command::new("timeout").args(["3", "ip", "netns", "exec", &ns.name, "bash", "-c", probe]).output();
    let probed = ns.tx_packets() - before;

    eprintln!("packets transmitted off the machine, per simulated mode:");
    for (name, secs, sent) in &table.rows {
        eprintln!("  {name:<40} {secs:>6.1} s  {sent} packets");
    }
    eprintln!("  {:<40} {:>6} s  {probed} packets", "probe: connect 198.51.100.7", "-");
    eprintln!("orders placed: live --sim {live_sim_orders}, live --simulated-exchange {live_ext_orders}");
    assert!(probed > 0, "a connect attempt off the machine was not seen: the trap is not armed");
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
}
