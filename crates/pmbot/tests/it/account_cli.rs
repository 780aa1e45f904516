//! `pmbot balance`, `pmbot orders [--cancel-all]` and `pmbot kill` as an
//! operator runs them: against the simulator on loopback and a real chain
//! (anvil; skipped with a NOTICE when not installed, `.ci/run` installs it),
//! configured by a pmbot.toml, the key in `PMBOT_PRIVATE_KEY`.

use std::path::{Path, PathBuf};
use std::process::Output;

use alloy_primitives::{Address, U256};
use pmbot_core::{Price, Side, Size, TokenId, Usdc};
use pmbot_engine::journal::Journal;
use pmbot_sim::engine::{NewOrder, OrderType};
use pmbot_sim::model::synthetic::SyntheticConfig;
use pmbot_sim::{SimConfig, SimHandle, SourceConfig};
use pmbot_testkit::{Anvil, polygon};

/// Anvil's development key #0 and its address (never hold real funds with it).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESS: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-acct-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary off the async workers (the simulator keeps serving).
async fn pmbot(dir: &Path, args: &[&str], key: Option<&str>) -> Output {
    match key {
        Some(k) => pmbot_with_env(dir, args, &[("PMBOT_PRIVATE_KEY", k)]).await,
        None => pmbot_with_env(dir, args, &[]).await,
    }
}

async fn pmbot_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.current_dir(dir)
        .arg("--config")
        .arg(dir.join("pmbot.toml"))
        .args(args)
        .env_remove("PMBOT_PRIVATE_KEY")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

async fn quiet_sim() -> SimHandle {
    let mut s = SyntheticConfig { markets: 1, market_duration_ms: 60 * 60_000, ..SyntheticConfig::default() };
    s.makers.count = 0;
    s.noise.arrivals_per_min = 0.0;
    s.informed.enabled = false;
    let mut cfg = SimConfig { source: SourceConfig::Synthetic(Box::new(s)), ..SimConfig::default() };
    cfg.fund.insert(ADDRESS.to_owned(), Usdc::from_whole(500));
    pmbot_sim::start(cfg).await.unwrap()
}

fn write_config(dir: &Path, sim: &SimHandle, rpc: &str) {
    let toml = format!(
        "[gateway]\nclob_url = \"{}\"\nws_url = \"{}\"\nrequest_timeout = \"2s\"\nkill_switch = \"{}\"\n\
         [balance]\nrpc_urls = [\"{rpc}\"]\n[journal]\npath = \"{}\"\n",
        sim.rest_url(),
        sim.ws_url(),
        dir.join("stop-trading").display(),
        dir.join("journal.sqlite").display(),
    );
    std::fs::write(dir.join("pmbot.toml"), toml).unwrap();
}

/// Rests a BUY for our account straight on the simulator's engine, as if an
/// earlier run (or another tool) had placed it: the journal does not know it.
fn rest_order_for_us(sim: &SimHandle, n: u8) -> pmbot_core::OrderId {
    let owner: Address = ADDRESS.parse().unwrap();
    let token: TokenId = sim.state.lock().exchange.markets()[0].spec.tokens[0].token_id.clone();
    let mut id = [0u8; 32];
    id[0] = 0xAB;
    id[31] = n;
    let id = pmbot_core::Hash32(id);
    let order = NewOrder {
        id,
        maker: owner,
        owner,
        api_key: "earlier-run".into(),
        token,
        side: Side::Buy,
        price: Price::parse("0.20").unwrap(),
        size: Size::from_shares(10),
        order_type: OrderType::Gtc,
        post_only: false,
        expiration_s: 0,
    };
    sim.state.with_exchange(|ex, now| ex.submit(order, now)).expect("order rests");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_reads_the_chain_and_orders_lists_and_cancels_on_the_exchange() {
    let Some(anvil) = Anvil::start() else { return };
    let funder: Address = ADDRESS.parse().unwrap();
    anvil.plant_polymarket().await.unwrap();
    anvil.deal_erc20(polygon::COLLATERAL, funder, U256::from(250_500_000u64)).await.unwrap();
    anvil.set_erc20_allowance(polygon::COLLATERAL, funder, polygon::EXCHANGE, U256::MAX).await.unwrap();
    let sim = quiet_sim().await;
    let dir = temp_dir("balance-orders");
    write_config(&dir, &sim, anvil.url());

    // balance: the chain's numbers, every allowance, no positions yet.
    let out = pmbot(&dir, &["balance"], Some(KEY)).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("funder      {ADDRESS}")), "{stdout}");
    assert!(stdout.contains("pUSD        250.5"), "{stdout}");
    assert!(stdout.lines().any(|l| l.contains("CTF Exchange") && l.ends_with("unlimited")), "{stdout}");
    assert!(stdout.lines().any(|l| l.contains("Neg Risk Adapter") && l.ends_with(" 0")), "{stdout}");
    assert!(stdout.contains("positions   none"), "{stdout}");
    eprintln!("pmbot balance:\n{stdout}");
    assert!(!stdout.contains(&KEY[2..]) && !stderr.contains(&KEY[2..]));

    // The check is journaled for the go-live gate: not ok (two allowances
    // are 0), the figures in the detail.
    assert!(stdout.contains("check       NOT ok"), "{stdout}");
    let journal_path = dir.join("journal.sqlite");
    let balance_notes = || Journal::open_read_only(&journal_path).unwrap().notes("balance_check").unwrap();
    let notes = balance_notes();
    assert_eq!(notes.len(), 1);
    let detail = "pUSD 250.5; allowances: CTF Exchange unlimited, Neg Risk CTF Exchange 0, Neg Risk Adapter 0";
    assert_eq!(notes[0].detail, serde_json::json!({"ok": false, "detail": detail}));
    // Beside a running engine (the writer lock held) the check is shown, with
    // a warning that it was not journaled.
    let engine = Journal::open(&journal_path).unwrap();
    let out = pmbot(&dir, &["balance"], Some(KEY)).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("pUSD        250.5"), "{stdout}");
    assert!(stderr.contains("warning: the balance check was not journaled"), "{stderr}");
    drop(engine);
    assert_eq!(balance_notes().len(), 1);

    // orders: two the journal does not know, then cancel them all.
    let ids = [rest_order_for_us(&sim, 1), rest_order_for_us(&sim, 2)];
    let out = pmbot(&dir, &["orders"], Some(KEY)).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("2 open order(s) on the exchange"), "{stdout}");
    for id in &ids {
        assert!(stdout.lines().any(|l| l.contains(&id.to_string()) && l.contains("BUY 10 @ 0.2")), "{stdout}");
    }
    let out = pmbot(&dir, &["orders", "--cancel-all"], Some(KEY)).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("cancelled 2 order(s)") && stdout.contains("0 open order(s)"), "{stdout}");
    eprintln!("pmbot orders --cancel-all:\n{stdout}");
    let open = sim.state.lock().exchange.open_orders(funder, &Default::default()).len();
    assert_eq!(open, 0, "the simulator holds no open order of ours");

    // Everything the binary writes, at the most verbose log level, carries
    // neither the private key nor the API secret or passphrase.
    let out =
        pmbot_with_env(&dir, &["orders", "--cancel-all"], &[("PMBOT_PRIVATE_KEY", KEY), ("RUST_LOG", "trace")]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.lines().count() > 20, "trace logs were written: {stderr}");
    let (secret, passphrase) = {
        let s = sim.state.lock();
        let key = s.keys.keys_of(funder)[0];
        let c = s.keys.get(&key).unwrap().credentials();
        (c.secret().to_owned(), c.passphrase().to_owned())
    };
    for (name, needle) in [("private key", &KEY[2..]), ("API secret", &secret), ("passphrase", &passphrase)] {
        assert!(needle.len() >= 16, "{name}");
        assert!(!stdout.contains(needle) && !stderr.contains(needle), "the {name} reached the output or the logs");
    }

    // kill / unkill use the configured path.
    let out = pmbot(&dir, &["kill"], None).await;
    let (stdout, _) = text(&out);
    assert!(out.status.success() && dir.join("stop-trading").exists(), "{stdout}");
    assert!(stdout.contains("stop-trading"), "{stdout}");
    let out = pmbot(&dir, &["unkill"], None).await;
    assert!(out.status.success() && !dir.join("stop-trading").exists());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_exposed_key_is_one_clear_line_without_the_key() {
    let sim = quiet_sim().await;
    let dir = temp_dir("bad-key");
    write_config(&dir, &sim, "http://127.0.0.1:9");
    // No key at all.
    let out = pmbot(&dir, &["balance"], None).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.starts_with("pmbot: ") && stderr.trim_end().lines().count() == 1, "{stderr}");
    assert!(stderr.contains("PMBOT_PRIVATE_KEY") || stderr.contains("key"), "{stderr}");
    // A key file others can read: refused, named, contents never printed.
    let key_file = dir.join("key.txt");
    std::fs::write(&key_file, KEY).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let cfg = std::fs::read_to_string(dir.join("pmbot.toml")).unwrap();
        let cfg = cfg.replacen("[gateway]\n", &format!("[gateway]\nkey_file = \"{}\"\n", key_file.display()), 1);
        std::fs::write(dir.join("pmbot.toml"), cfg).unwrap();
        let out = pmbot(&dir, &["orders"], None).await;
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success());
        assert!(stderr.contains("key.txt"), "{stderr}");
        assert!(!stderr.contains(&KEY[2..]) && !stdout.contains(&KEY[2..]), "the key leaked: {stderr}");
    }
    // A malformed key in the environment: refused without echoing it.
    let bad = "0x1234not-a-key-but-secret-looking-5678";
    let out = pmbot(&dir, &["balance", "--token", "12"], Some(bad)).await;
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(!stderr.contains("not-a-key") && !stdout.contains("not-a-key"), "{stderr}");
    // Bad token ids are named.
    let out = pmbot(&dir, &["balance", "--token", "abc"], Some(KEY)).await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success() && stderr.contains("\"abc\""), "{stderr}");
    sim.shutdown().await;
}
