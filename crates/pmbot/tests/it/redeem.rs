//! `pmbot redeem` against the real Gnosis ConditionalTokens contract on
//! anvil (issue 13, build item 2): the test deploys the contract from the
//! npm package's compiled artefact, an ERC-20 stands in for pUSD, a binary
//! condition is prepared, the bot's address splits pUSD into both outcomes,
//! the oracle reports, and the binary redeems through `[balance]`'s RPC with
//! its private key, as an operator runs it.
//!
//! Skipped with a NOTICE when anvil or the artefact is missing; `.ci/run`
//! installs both and sets `ANVIL_BIN` and `PMBOT_CTF_ARTEFACT`, so CI cannot
//! skip.

use std::path::{Path, PathBuf};
use std::process::Output;

use alloy_primitives::{Address, B256, U256};
use pmbot_engine::journal::Journal;
use pmbot_testkit::{Anvil, ConditionalTokens, OutageProxy, ctf_creation_code, polygon};
use pmbot_venue::redeem::RedemptionStatus;
use serde_json::json;

/// Anvil's development key #0 and its address (never hold real funds with it).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const HOLDER: Address = alloy_primitives::address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const ORACLE: Address = Address::repeat_byte(0x0a);
/// Someone else, who keeps the losing shares the bot gave away.
const OTHER: Address = Address::repeat_byte(0x0b);

fn pusd(whole: u64) -> U256 {
    U256::from(whole * 1_000_000)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmbot-redeem-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A chain with the contract, 100 pUSD for the bot, 10 of it split into
/// both outcomes, 4 losing shares given away (the bot keeps 10 winning and
/// 6 losing), and outcome 0 reported the winner.
struct World {
    anvil: Anvil,
    ctf: ConditionalTokens,
    condition: B256,
    ids: [U256; 2],
}

async fn world() -> Option<World> {
    let anvil = Anvil::start()?;
    let creation = ctf_creation_code()?;
    anvil.plant_collateral(polygon::COLLATERAL).await.unwrap();
    let ctf = ConditionalTokens::deploy(&anvil, &creation).await.unwrap();
    anvil.deal_erc20(polygon::COLLATERAL, HOLDER, pusd(100)).await.unwrap();
    let question = B256::repeat_byte(0x51);
    let condition = ctf.prepare_binary(&anvil, ORACLE, question).await.unwrap();
    ctf.split(&anvil, HOLDER, polygon::COLLATERAL, condition, pusd(10)).await.unwrap();
    let ids = ctf.position_ids(&anvil, polygon::COLLATERAL, condition).await.unwrap();
    ctf.transfer(&anvil, HOLDER, OTHER, ids[1], pusd(4)).await.unwrap();
    ctf.report(&anvil, ORACLE, question, [1, 0]).await.unwrap();
    let w = World { anvil, ctf, condition, ids };
    assert_eq!(w.shares(HOLDER).await, [pusd(10), pusd(6)], "the split and the gift");
    assert_eq!(w.pusd().await, pusd(90));
    Some(w)
}

impl World {
    async fn shares(&self, who: Address) -> [U256; 2] {
        [
            self.ctf.balance(&self.anvil, who, self.ids[0]).await.unwrap(),
            self.ctf.balance(&self.anvil, who, self.ids[1]).await.unwrap(),
        ]
    }

    async fn pusd(&self) -> U256 {
        self.anvil.erc20_balance(polygon::COLLATERAL, HOLDER).await.unwrap()
    }

    /// Transactions the bot's address has sent (impersonated ones included).
    async fn nonce(&self) -> u64 {
        let n = self.anvil.rpc("eth_getTransactionCount", json!([HOLDER, "latest"])).await.unwrap();
        u64::from_str_radix(n.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    fn market(&self) -> String {
        format!("{:#x}", self.condition)
    }

    /// The config an operator writes: the RPC, the contract's address, and
    /// quick retries.
    fn write_config(&self, dir: &Path, rpc: &str) {
        let toml = format!(
            "[balance]\nrpc_urls = [\"{rpc}\"]\nconditional_tokens = \"{:#x}\"\n\
             [redeem]\nretry_initial = \"100ms\"\nretry_max = \"200ms\"\nreceipt_poll = \"50ms\"\n\
             receipt_timeout = \"10s\"\nattempts = 6\n\
             [journal]\npath = \"{}\"\n",
            self.ctf.address,
            dir.join("journal.sqlite").display(),
        );
        std::fs::write(dir.join("pmbot.toml"), toml).unwrap();
    }
}

async fn pmbot(dir: &Path, args: &[&str]) -> (Output, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pmbot"));
    cmd.current_dir(dir)
        .arg("--config")
        .arg(dir.join("pmbot.toml"))
        .args(args)
        .env("PMBOT_PRIVATE_KEY", KEY)
        .env_remove("RUST_LOG");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!stdout.contains(&KEY[2..]) && !stderr.contains(&KEY[2..]), "the private key was printed");
    (out, stdout, stderr)
}

/// The journal's redemption rows: status, hash, payout in micro-pUSD.
fn rows(dir: &Path) -> Vec<(RedemptionStatus, Option<B256>, Option<i64>)> {
    let j = Journal::open_read_only(dir.join("journal.sqlite")).unwrap();
    j.redemptions().unwrap().into_iter().map(|r| (r.status, r.tx_hash, r.payout.map(|p| p.micros()))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeem_pays_the_winner_burns_both_outcomes_and_a_second_run_does_nothing() {
    let Some(w) = world().await else { return };
    let dir = temp_dir("once");
    w.write_config(&dir, w.anvil.url());
    let nonce = w.nonce().await;

    let (out, stdout, stderr) = pmbot(&dir, &["redeem", "--market", &w.market()]).await;
    assert!(out.status.success(), "{stdout}{stderr}");
    // 10 winning shares pay 10 pUSD; the 6 losing ones are burned for nothing.
    assert_eq!(w.pusd().await, pusd(100), "{stdout}");
    assert_eq!(w.shares(HOLDER).await, [U256::ZERO, U256::ZERO], "both outcomes burned");
    assert_eq!(w.shares(OTHER).await, [U256::ZERO, pusd(4)], "someone else's shares are theirs");
    assert_eq!(w.nonce().await, nonce + 1, "one transaction");
    let journal = rows(&dir);
    let hash = journal[0].1.expect("a hash");
    assert_eq!(
        journal,
        [
            (RedemptionStatus::Sent, Some(hash), Some(10_000_000)),
            (RedemptionStatus::Confirmed, Some(hash), Some(10_000_000))
        ],
        "the hash journaled before the send, the payout once confirmed"
    );
    let line = format!("{}  redeemed: 10 pUSD paid (tx {hash:#x})", w.market());
    assert!(stdout.lines().any(|l| l == line), "{stdout}");
    let receipt = w.anvil.rpc("eth_getTransactionReceipt", json!([hash])).await.unwrap();
    assert_eq!(receipt["status"], "0x1");

    // Again: the journal has it; nothing is read for sending, nothing sent.
    let (out, stdout, stderr) = pmbot(&dir, &["redeem", "--market", &w.market()]).await;
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("already redeemed: 10 pUSD") && stdout.contains("nothing sent"), "{stdout}");
    assert_eq!((w.nonce().await, w.pusd().await), (nonce + 1, pusd(100)));
    assert_eq!(rows(&dir).len(), 2);

    // A journal that knows nothing (another machine): the chain shows no
    // shares left, so nothing is sent either.
    let fresh = temp_dir("once-fresh");
    w.write_config(&fresh, w.anvil.url());
    let (out, stdout, stderr) = pmbot(&fresh, &["redeem", "--market", &w.market()]).await;
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("nothing to redeem: no shares of it on chain"), "{stdout}");
    assert_eq!((w.nonce().await, w.pusd().await), (nonce + 1, pusd(100)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_outage_mid_redeem_is_retried_without_sending_or_counting_twice() {
    let Some(w) = world().await else { return };
    // The broadcast reaches the node (and is mined), its answer is lost, and
    // the next two requests fail too: the worst moment for an outage.
    let proxy = OutageProxy::start(w.anvil.url(), "eth_sendRawTransaction", 2).await;
    let dir = temp_dir("outage");
    w.write_config(&dir, proxy.url());
    let nonce = w.nonce().await;

    let (out, stdout, stderr) = pmbot(&dir, &["redeem", "--market", &w.market()]).await;
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("attempt 1 failed (RPC unavailable"), "{stdout}");
    assert!(stdout.contains("redeemed: 10 pUSD paid"), "{stdout}");
    let sends = proxy.methods().iter().filter(|m| *m == "eth_sendRawTransaction").count();
    assert_eq!(sends, 1, "the lost transaction was looked up by its hash, not sent again");
    assert_eq!(w.nonce().await, nonce + 1);
    assert_eq!(w.pusd().await, pusd(100), "paid once");
    assert_eq!(w.shares(HOLDER).await, [U256::ZERO, U256::ZERO]);
    let journal = rows(&dir);
    let confirmed: Vec<_> = journal.iter().filter(|r| r.0 == RedemptionStatus::Confirmed).collect();
    assert_eq!(confirmed.len(), 1, "{journal:?}");
    assert_eq!(confirmed[0].2, Some(10_000_000), "counted once, at the contract's payout");
    assert_eq!(journal.iter().filter(|r| r.0 == RedemptionStatus::Sent).count(), 1, "one transaction signed");
}
