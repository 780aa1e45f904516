//! No dead defaults (issue 13, build item 3): the public Polygon RPC that
//! was `[balance] rpc_urls`'s default stopped serving anonymous requests, so
//! there is no default. `live`, `balance`, `redeem` and `doctor` on the real
//! exchange stop with one line naming the setting (doctor: a FAIL saying
//! how to get an RPC), before contacting anything; a simulated exchange
//! needs none. Every config here points the exchange at a closed loopback
//! port or leaves it at Polymarket's, which none of these commands reaches
//! before the RPC check.

use std::path::{Path, PathBuf};
use std::process::Output;

/// Anvil's development key #0 (never hold real funds with it).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CONDITION: &str = "0x4242424242424242424242424242424242424242424242424242424242424242";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-norpc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn pmbot(dir: &Path, config: &str, args: &[&str]) -> (Output, String, String) {
    std::fs::write(dir.join("pmbot.toml"), config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("pmbot.toml"))
        .args(args)
        .env("PMBOT_PRIVATE_KEY", KEY)
        .env_remove("PMBOT_BALANCE__RPC_URLS")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    (out, stdout, stderr)
}

fn journal(dir: &Path) -> String {
    format!("[journal]\npath = '{}'\n", dir.join("journal.sqlite").display())
}

/// A config whose exchange is a closed loopback port (a simulated exchange
/// that is not there): what needs it fails fast, and nothing leaves the
/// machine.
fn closed_exchange(dir: &Path) -> String {
    let port = pmbot_testkit::closed_port_url().rsplit(':').next().unwrap().to_owned();
    format!(
        "{}[gateway]\nclob_url = \"http://127.0.0.1:{port}\"\nws_url = \"ws://127.0.0.1:{port}\"\nrequest_timeout = \"1s\"\n",
        journal(dir)
    )
}

/// The one-line refusal: it names the setting and its variable, and the
/// command did nothing (no journal written).
fn assert_refused(what: &str, dir: &Path, (out, stdout, stderr): (Output, String, String)) {
    assert!(!out.status.success(), "{what}: {stdout}{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: one line: {stderr}");
    assert!(
        stderr.contains("no Polygon RPC configured")
            && stderr.contains("[balance] rpc_urls")
            && stderr.contains("PMBOT_BALANCE__RPC_URLS"),
        "{what}: {stderr}"
    );
    assert!(!stderr.contains(&KEY[2..]) && !stdout.contains(&KEY[2..]), "{what}: the key was printed");
    assert!(!dir.join("journal.sqlite").exists(), "{what}: stopped before the journal");
}

#[test]
fn live_balance_and_redeem_on_the_real_exchange_stop_naming_the_setting() {
    let dir = temp_dir("real");
    let cfg = journal(&dir);
    // The model file does not exist: the RPC is checked first.
    assert_refused("live", &dir, pmbot(&dir, &cfg, &["live", "--market", "some-market", "--model", "none.json"]));
    assert_refused("balance", &dir, pmbot(&dir, &cfg, &["balance"]));
    assert_refused("redeem", &dir, pmbot(&dir, &cfg, &["redeem"]));
    assert_refused("redeem --market", &dir, pmbot(&dir, &cfg, &["redeem", "--market", CONDITION]));
    // An empty list, or an empty variable, is no RPC either.
    let empty = format!("{cfg}[balance]\nrpc_urls = []\n");
    assert_refused("balance, empty list", &dir, pmbot(&dir, &empty, &["balance"]));
}

#[test]
fn doctor_fails_the_rpc_check_and_says_how_to_get_one() {
    let dir = temp_dir("doctor");
    let (out, stdout, stderr) = pmbot(&dir, &closed_exchange(&dir), &["doctor"]);
    assert!(!out.status.success(), "{stdout}{stderr}");
    let rpc = stdout.lines().position(|l| l.starts_with("FAIL  rpc")).unwrap_or_else(|| panic!("{stdout}"));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[rpc].contains("no Polygon RPC configured: [balance] rpc_urls is empty"), "{stdout}");
    let fix = lines[rpc + 1];
    assert!(
        fix.contains("Polygon mainnet JSON-RPC URL from a provider") && fix.contains("PMBOT_BALANCE__RPC_URLS"),
        "{fix}"
    );
    for name in ["chain", "collateral", "allowances"] {
        assert!(
            stdout.lines().any(|l| l.starts_with("SKIP  ") && l.contains(name) && l.contains("[balance] rpc_urls")),
            "{name}: {stdout}"
        );
    }
    // The config check does not fail on it as well: one failure, one fix.
    assert!(!stdout.lines().any(|l| l.starts_with("FAIL  config")), "{stdout}");
}

#[test]
fn a_simulated_exchange_needs_no_rpc() {
    // redeem on a loopback exchange goes to the simulator's /_sim/redeem
    // (nothing listens here: it fails on that, not on the missing RPC).
    let dir = temp_dir("sim");
    let cfg = format!("{}[redeem]\nattempts = 1\n", closed_exchange(&dir));
    let (out, stdout, stderr) = pmbot(&dir, &cfg, &["redeem", "--market", CONDITION]);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("the simulator's /_sim/redeem"), "{stdout}");
    assert!(stderr.contains("simulator unreachable"), "{stderr}");
    assert!(!stderr.contains("rpc_urls"), "{stderr}");
}
