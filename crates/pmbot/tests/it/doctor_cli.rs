//! `pmbot doctor` as an operator runs it, against the simulator on loopback
//! and a chain (anvil; skipped with a NOTICE when not installed, `.ci/run`
//! installs it): every check passes on a good setup, and each broken part
//! fails its own check with the reason and the fix, the other checks still
//! running. Nothing secret reaches the output.

use std::path::{Path, PathBuf};
use std::process::Output;

use alloy_primitives::{Address, U256};
use pmbot_core::{TokenId, Usdc};
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_testkit::journals::GateFixture;
use pmbot_testkit::{Anvil, polygon};

/// Anvil's development key #0 and its address (never hold real funds with it).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ME: Address = alloy_primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

const CHECKS: [&str; 13] = [
    "config",
    "key",
    "kill switch",
    "clob",
    "clock",
    "api key",
    "markets",
    "rpc",
    "chain",
    "collateral",
    "allowances",
    "websocket",
    "gate",
];

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-doctor-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary off the async workers (the simulator keeps serving).
async fn doctor(dir: &Path, args: &[&str], key: Option<&str>) -> (Output, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.current_dir(dir)
        .arg("--config")
        .arg(dir.join("pmbot.toml"))
        .arg("doctor")
        .args(args)
        .env_remove("PMBOT_PRIVATE_KEY")
        .env_remove("RUST_LOG");
    if let Some(k) = key {
        cmd.env("PMBOT_PRIVATE_KEY", k);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!stdout.contains(&KEY[2..]) && !stderr.contains(&KEY[2..]), "the key leaked");
    (out, stdout, stderr)
}

/// The line of check `name`, and the fix under it if any.
fn line<'a>(stdout: &'a str, name: &str) -> (&'a str, Option<&'a str>) {
    let lines: Vec<&str> = stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.len() > 6 && l[6..].starts_with(name) && l[6 + name.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no {name} line in:\n{stdout}"));
    let fix = lines.get(i + 1).and_then(|l| l.trim_start().strip_prefix("fix: "));
    (lines[i], fix)
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn quiet_sim() -> SimHandle {
    let mut s = SyntheticConfig { markets: 1, market_duration_ms: 60 * 60_000, ..SyntheticConfig::default() };
    s.makers.count = 0;
    s.noise.arrivals_per_min = 0.0;
    s.informed.enabled = false;
    let mut cfg = SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() };
    cfg.fund.insert(format!("{ME:#x}"), Usdc::from_whole(500));
    pmbot_sim::start(cfg).await.unwrap()
}

fn sim_token(sim: &SimHandle) -> TokenId {
    sim.state.lock().exchange.markets()[0].spec.tokens[0].token_id.clone()
}

struct Setup<'a> {
    clob: &'a str,
    ws: &'a str,
    rpc: &'a str,
}

fn write_config(dir: &Path, s: &Setup<'_>) {
    let toml = format!(
        r#"[gateway]
clob_url = "{clob}"
ws_url = "{ws}"
request_timeout = "2s"
kill_switch = '{dir}/stop-trading'

[market_data.stream]
rest_url = "{clob}"
ws_url = "{ws}"

[balance]
rpc_urls = ["{rpc}"]
chain_id = 137
{contracts}
cache_ttl = "1s"
call_timeout = "1s"
attempts = 2
backoff_initial = "50ms"
backoff_max = "100ms"

[journal]
path = '{dir}/journal.sqlite'
"#,
        clob = s.clob,
        ws = s.ws,
        rpc = s.rpc,
        dir = dir.display(),
        contracts = polygon::contracts_toml(),
    );
    std::fs::write(dir.join("pmbot.toml"), toml).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_on_a_good_setup_and_each_broken_part_fails_its_own_check() {
    let Some(anvil) = Anvil::start() else { return };
    anvil.plant_funded_account(ME, U256::from(250_000_000u64)).await.unwrap();
    let sim = quiet_sim().await;
    let dir = temp_dir("good");
    GateFixture::passing().create(&dir.join("journal.sqlite")).unwrap();
    let (rest, ws) = (sim.rest_url(), sim.ws_url());
    write_config(&dir, &Setup { clob: &rest, ws: &ws, rpc: anvil.url() });
    let token = sim_token(&sim).to_string();

    // Good: every check passes, exit 0.
    let (out, stdout, stderr) = doctor(&dir, &["--tokens", &token], Some(KEY)).await;
    eprintln!("pmbot doctor (good):\n{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), CHECKS.len(), "one line per check, no fix lines:\n{stdout}");
    for name in CHECKS {
        let (l, fix) = line(&stdout, name);
        assert!(l.starts_with("PASS  "), "{l}");
        assert_eq!(fix, None);
    }
    assert!(line(&stdout, "collateral").0.contains("250 pUSD"), "{stdout}");
    assert!(line(&stdout, "chain").0.contains("chain id 137 (Polygon)"), "{stdout}");
    assert!(line(&stdout, "websocket").0.contains("1 book(s)"), "{stdout}");

    // Missing allowance: the spender, the token and how to approve.
    anvil.set_erc20_allowance(polygon::COLLATERAL, ME, polygon::EXCHANGE, U256::ZERO).await.unwrap();
    let (out, stdout, stderr) = doctor(&dir, &["--tokens", &token], Some(KEY)).await;
    eprintln!("pmbot doctor (missing allowance):\n{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1));
    let (l, fix) = line(&stdout, "allowances");
    let exchange = format!("{:#x}", polygon::EXCHANGE);
    assert!(l.starts_with("FAIL  ") && l.contains("pUSD allowance of CTF Exchange") && l.contains(&exchange), "{l}");
    let fix = fix.unwrap();
    assert!(
        fix.contains(&format!("approve(spender {exchange}")) && fix.contains(&format!("{:#x}", polygon::COLLATERAL))
    );
    assert_eq!(stderr.trim(), "doctor: 1 of 13 checks failed");
    for name in CHECKS.iter().filter(|n| **n != "allowances") {
        assert!(line(&stdout, name).0.starts_with("PASS  "), "{name} still runs and passes:\n{stdout}");
    }
    anvil.set_erc20_allowance(polygon::COLLATERAL, ME, polygon::EXCHANGE, U256::MAX).await.unwrap();

    // Kill switch present.
    std::fs::write(dir.join("stop-trading"), "kill switch set by `pmbot kill` at unix ms 5\n").unwrap();
    let (out, stdout, _) = doctor(&dir, &["--tokens", &token], Some(KEY)).await;
    assert_eq!(out.status.code(), Some(1));
    let (l, fix) = line(&stdout, "kill switch");
    assert!(l.starts_with("FAIL  ") && l.contains("stop-trading") && l.contains("set by `pmbot kill`"), "{l}");
    assert_eq!(fix, Some("`pmbot unkill` after checking why it was set"));
    std::fs::remove_file(dir.join("stop-trading")).unwrap();

    // RPC down (a closed port; the path and query hold a "key" never shown).
    let rpc_down = format!("http://127.0.0.1:{}/v2/SECRETPATH?apikey=SECRETQUERY", closed_port());
    write_config(&dir, &Setup { clob: &rest, ws: &ws, rpc: &rpc_down });
    let (out, stdout, stderr) = doctor(&dir, &["--tokens", &token], Some(KEY)).await;
    eprintln!("pmbot doctor (RPC down):\n{stdout}");
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout.contains("SECRET") && !stderr.contains("SECRET"), "the RPC URL's secret parts leaked");
    let (l, fix) = line(&stdout, "rpc");
    assert!(l.starts_with("FAIL  ") && l.contains("no JSON-RPC endpoint answered"), "{l}");
    assert!(fix.unwrap().contains("[balance] rpc_urls"));
    assert_eq!(line(&stdout, "chain").0, "SKIP  chain        skipped: needs a reachable RPC");
    assert!(line(&stdout, "allowances").0.starts_with("SKIP  "));
    assert!(line(&stdout, "api key").0.starts_with("PASS  "), "the exchange checks still run:\n{stdout}");

    // Wrong chain: an RPC on another chain than the configured 137.
    let Some(other) = Anvil::start_with_chain_id(31337) else { return };
    write_config(&dir, &Setup { clob: &rest, ws: &ws, rpc: other.url() });
    let (out, stdout, _) = doctor(&dir, &["--tokens", &token], Some(KEY)).await;
    eprintln!("pmbot doctor (wrong chain):\n{stdout}");
    assert_eq!(out.status.code(), Some(1));
    let (l, fix) = line(&stdout, "chain");
    let want = format!("the RPC at http://127.0.0.1:{} is on chain 31337; pmbot needs Polygon (137)", other.port());
    assert!(l.starts_with("FAIL  ") && l.contains(&want), "{l}");
    assert_eq!(fix, Some("set [balance] rpc_urls to a Polygon endpoint"));
    assert!(line(&stdout, "rpc").0.starts_with("PASS  "), "{stdout}");

    // CLOB unreachable: its checks fail or skip, the chain's still pass.
    let clob_down = format!("http://127.0.0.1:{}/", closed_port());
    write_config(&dir, &Setup { clob: &clob_down, ws: &ws, rpc: anvil.url() });
    let (out, stdout, _) = doctor(&dir, &["--tokens", &token], Some(KEY)).await;
    eprintln!("pmbot doctor (CLOB down):\n{stdout}");
    assert_eq!(out.status.code(), Some(1));
    let (l, fix) = line(&stdout, "clob");
    assert!(l.starts_with("FAIL  ") && l.contains("cannot reach the CLOB at http://127.0.0.1:"), "{l}");
    assert!(fix.unwrap().contains("[gateway] clob_url"));
    assert_eq!(line(&stdout, "clock").0, "SKIP  clock        skipped: needs a reachable CLOB");
    assert_eq!(line(&stdout, "api key").0, "SKIP  api key      skipped: needs a reachable CLOB");
    assert_eq!(line(&stdout, "markets").0, "SKIP  markets      skipped: needs a reachable CLOB");
    for name in ["rpc", "chain", "collateral", "allowances", "gate"] {
        assert!(line(&stdout, name).0.starts_with("PASS  "), "{name}:\n{stdout}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_that_does_not_parse_fails_first_and_skips_the_rest() {
    let dir = temp_dir("bad-config");
    std::fs::write(dir.join("pmbot.toml"), "[gateway]\nclob_urll = \"x\"\n").unwrap();
    let (out, stdout, stderr) = doctor(&dir, &[], Some(KEY)).await;
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let (l, fix) = line(&stdout, "config");
    assert!(l.starts_with("FAIL  ") && l.contains("clob_urll"), "{l}");
    assert!(fix.is_some());
    for name in CHECKS.iter().skip(1) {
        assert_eq!(
            line(&stdout, name).0,
            format!("SKIP  {name:<11}  skipped: needs a configuration that loads"),
            "{stdout}"
        );
    }
    assert_eq!(stderr.trim(), format!("doctor: 1 of {} checks failed", CHECKS.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_others_can_read_fails_with_chmod_and_nothing_is_left_unchecked() {
    let dir = temp_dir("key-file");
    let (clob, rpc) = (format!("http://127.0.0.1:{}/", closed_port()), format!("http://127.0.0.1:{}", closed_port()));
    let ws = format!("ws://127.0.0.1:{}", closed_port());
    write_config(&dir, &Setup { clob: &clob, ws: &ws, rpc: &rpc });
    let key_file = dir.join("key.txt");
    std::fs::write(&key_file, KEY).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let cfg = std::fs::read_to_string(dir.join("pmbot.toml")).unwrap();
    let cfg = cfg.replacen("[gateway]\n", &format!("[gateway]\nkey_file = '{}'\n", key_file.display()), 1);
    std::fs::write(dir.join("pmbot.toml"), cfg).unwrap();
    let (out, stdout, _) = doctor(&dir, &["--tokens", "12345", "--book-timeout", "1s"], None).await;
    eprintln!("pmbot doctor (key file 0644, nothing reachable):\n{stdout}");
    assert_eq!(out.status.code(), Some(1));
    let (l, fix) = line(&stdout, "key");
    assert!(l.starts_with("FAIL  ") && l.contains("key.txt") && l.contains("0644"), "{l}");
    assert_eq!(fix, Some(format!("chmod 600 {}", key_file.display()).as_str()));
    // Every check has its line: the ones that could run failed on their own
    // reason, the others say what they need.
    for name in CHECKS {
        let (l, _) = line(&stdout, name);
        assert!(["PASS  ", "FAIL  ", "SKIP  "].iter().any(|p| l.starts_with(p)), "{l}");
    }
    assert!(line(&stdout, "api key").0.contains("skipped: needs a usable private key"), "{stdout}");
    assert!(line(&stdout, "rpc").0.contains("skipped: needs the funder's address"), "{stdout}");
    assert!(line(&stdout, "websocket").0.starts_with("FAIL  "), "{stdout}");
    // Owner-only: the key check passes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (_, stdout, _) = doctor(&dir, &["--book-timeout", "1s"], None).await;
        let (l, _) = line(&stdout, "key");
        assert!(l.starts_with("PASS  ") && l.contains(&format!("{ME:#x}").to_lowercase()), "{l}");
    }
}
