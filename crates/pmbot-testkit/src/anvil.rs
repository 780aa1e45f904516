//! A private anvil node per test.
//!
//! Invariant: every [`Anvil`] owns its process (in its own process group, so a
//! node wrapper and the real binary die together) and kills it on drop; it
//! listens on a port the OS chose (`--port 0`), so tests run in parallel.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use alloy::sol_types::SolCall;
use alloy_primitives::{Address, B256, U256, keccak256};
use serde_json::{Value, json};

use crate::fixtures::{self, COLLATERAL_BALANCES_SLOT};
use crate::polygon;

/// How long anvil may take to print its `Listening on` line. It needs ~0.1 s
/// idle; the margin is for a machine busy compiling.
const START_TIMEOUT: Duration = Duration::from_secs(30);

mod calls {
    alloy::sol! {
        function mint(address to, uint256 id, uint256 amount);
        function setApprovalForAll(address operator, bool approved);
        function approve(address spender, uint256 value) returns (bool);
        function balanceOf(address owner) returns (uint256);
    }
}

/// A failure of the harness itself (not of the code under test).
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    #[error("ANVIL_BIN={0} is not an executable file")]
    BadAnvilBin(PathBuf),
    #[error("cannot start {bin}: {source}")]
    Spawn { bin: PathBuf, source: std::io::Error },
    #[error("anvil did not say where it listens within {timeout:?}; its output: {output}")]
    NoListenLine { timeout: Duration, output: String },
    #[error("JSON-RPC {method} failed: {detail}")]
    Rpc { method: String, detail: String },
    #[error("transaction {tx} reverted")]
    Reverted { tx: String },
}

/// A running anvil node on loopback.
#[derive(Debug)]
pub struct Anvil {
    child: Option<Child>,
    url: String,
    port: u16,
    chain_id: u64,
    startup: Duration,
    http: reqwest::Client,
}

impl Anvil {
    /// Starts anvil with Polygon's chain id (137). `None`, after printing a
    /// NOTICE, when no anvil binary is installed; panics when one is installed
    /// but does not start, or when `ANVIL_BIN` names a missing file (CI sets it
    /// precisely so that tests cannot skip there).
    pub fn start() -> Option<Anvil> {
        Anvil::start_with_chain_id(polygon::CHAIN_ID)
    }

    /// As [`Anvil::start`], with another chain id (to test a wrong-chain RPC).
    pub fn start_with_chain_id(chain_id: u64) -> Option<Anvil> {
        let bin = match find_anvil() {
            Ok(Some(bin)) => bin,
            Ok(None) => {
                eprintln!(
                    "NOTICE: anvil not found (ANVIL_BIN, PATH, .ci/node_modules, node_modules); skipping this test. \
                     Install it with: npm install --no-save --prefix .ci @foundry-rs/anvil@1.7.1"
                );
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        match Anvil::spawn(&bin, chain_id) {
            Ok(anvil) => Some(anvil),
            Err(e) => panic!("anvil at {} is installed but did not start: {e}", bin.display()),
        }
    }

    /// Starts the given anvil binary on a free loopback port.
    pub fn spawn(bin: &Path, chain_id: u64) -> Result<Anvil, AnvilError> {
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", "0", "--chain-id", &chain_id.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: Drop kills the group, so an npm wrapper
            // script and the binary it started cannot outlive the test.
            .process_group(0)
            .spawn()
            .map_err(|source| AnvilError::Spawn { bin: bin.to_owned(), source })?;

        // anvil logs every request on stdout; a full pipe would stall it, so
        // a thread reads stdout to the end, reporting the port on the way.
        let (tx, rx) = mpsc::channel::<Result<u16, String>>();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            let mut seen = String::new();
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(port) = parse_listen_line(&line) {
                        let _ = tx.send(Ok(port));
                        sent = true;
                    } else {
                        seen.push_str(&line);
                        seen.push('\n');
                    }
                }
            }
            if !sent {
                let _ = tx.send(Err(seen));
            }
        });
        let stderr = child.stderr.take().expect("stderr is piped");
        let (etx, erx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).take(64 * 1024).read_to_string(&mut text);
            let _ = etx.send(text);
        });

        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(port)) => port,
            other => {
                kill_group(&mut child);
                let stdout = match other {
                    Ok(Err(out)) => out,
                    _ => String::new(),
                };
                let stderr = erx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
                return Err(AnvilError::NoListenLine {
                    timeout: START_TIMEOUT,
                    output: format!("stdout: {stdout} stderr: {stderr}"),
                });
            }
        };
        Ok(Anvil {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            port,
            chain_id,
            startup: started.elapsed(),
            http: reqwest::Client::new(),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Time from spawn to the `Listening on` line.
    pub fn startup(&self) -> Duration {
        self.startup
    }

    /// Kills the node now (SIGKILL to its process group) and reaps it, so an
    /// RPC-down test sees connection refused. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }

    /// Whether [`Anvil::kill`] has not been called yet.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// One JSON-RPC call; the `result`, or the error object as text.
    pub async fn rpc(&self, method: &str, params: Value) -> Result<Value, AnvilError> {
        let err = |detail: String| AnvilError::Rpc { method: method.to_owned(), detail };
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp = self.http.post(&self.url).json(&body).send().await.map_err(|e| err(e.to_string()))?;
        let v: Value = resp.json().await.map_err(|e| err(e.to_string()))?;
        match v.get("error") {
            Some(e) => Err(err(e.to_string())),
            None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Places the runtime bytecode `code` (0x-hex) at `at`.
    pub async fn set_code(&self, at: Address, code: &str) -> Result<(), AnvilError> {
        self.rpc("anvil_setCode", json!([at, code.trim()])).await.map(drop)
    }

    /// The 6-decimals ERC-20 fixture at `at` (normally [`polygon::COLLATERAL`]).
    pub async fn plant_collateral(&self, at: Address) -> Result<(), AnvilError> {
        self.set_code(at, fixtures::MOCK_COLLATERAL_RUNTIME).await
    }

    /// The ERC-1155 fixture at `at` (normally [`polygon::CONDITIONAL_TOKENS`]).
    pub async fn plant_conditional_tokens(&self, at: Address) -> Result<(), AnvilError> {
        self.set_code(at, fixtures::MOCK_CONDITIONAL_TOKENS_RUNTIME).await
    }

    /// Both fixtures at Polymarket's Polygon addresses.
    pub async fn plant_polymarket(&self) -> Result<(), AnvilError> {
        self.plant_collateral(polygon::COLLATERAL).await?;
        self.plant_conditional_tokens(polygon::CONDITIONAL_TOKENS).await
    }

    /// Both fixtures, `account` holding `collateral` base units of pUSD and
    /// every approval the exchanges need: a wallet ready to trade.
    pub async fn plant_funded_account(&self, account: Address, collateral: U256) -> Result<(), AnvilError> {
        self.plant_polymarket().await?;
        self.deal_erc20(polygon::COLLATERAL, account, collateral).await?;
        for spender in [polygon::EXCHANGE, polygon::NEG_RISK_EXCHANGE, polygon::NEG_RISK_ADAPTER] {
            self.set_erc20_allowance(polygon::COLLATERAL, account, spender, U256::MAX).await?;
            self.set_approval_for_all(polygon::CONDITIONAL_TOKENS, account, spender, true).await?;
        }
        Ok(())
    }

    /// Sets `holder`'s ERC-20 balance to `amount` base units with anvil's
    /// `anvil_dealERC20` (anvil finds the storage slot by tracing `balanceOf`).
    pub async fn deal_erc20(&self, token: Address, holder: Address, amount: U256) -> Result<(), AnvilError> {
        self.rpc("anvil_dealERC20", json!([holder, token, amount])).await.map(drop)
    }

    /// Sets `holder`'s balance in the collateral fixture by writing its
    /// storage slot directly: `keccak256(holder ++ slot 0)`. Works on any node
    /// with `anvil_setStorageAt`, and only on the fixture's layout.
    pub async fn set_collateral_balance_slot(
        &self,
        token: Address,
        holder: Address,
        amount: U256,
    ) -> Result<(), AnvilError> {
        let slot = mapping_slot(holder.into_word(), U256::from(COLLATERAL_BALANCES_SLOT));
        self.rpc("anvil_setStorageAt", json!([token, slot, B256::from(amount)])).await.map(drop)
    }

    /// Sets `owner`'s ERC-20 allowance to `spender` (`anvil_setERC20Allowance`).
    pub async fn set_erc20_allowance(
        &self,
        token: Address,
        owner: Address,
        spender: Address,
        amount: U256,
    ) -> Result<(), AnvilError> {
        self.rpc("anvil_setERC20Allowance", json!([owner, spender, token, amount])).await.map(drop)
    }

    /// Sends a transaction from `from` as if signed by it (impersonation, with
    /// 1 ETH for gas), waits for it to be mined and fails if it reverted.
    pub async fn send_as(&self, from: Address, to: Address, data: Vec<u8>) -> Result<(), AnvilError> {
        self.transact(from, Some(to), data).await.map(drop)
    }

    /// Deploys a contract from its creation bytecode (`0x`-hex, constructor
    /// arguments appended if any), sent by `from`; its address.
    pub async fn deploy(&self, from: Address, creation: &str) -> Result<Address, AnvilError> {
        let code = fixtures::hex_body(creation);
        let bytes = (0..code.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&code[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| AnvilError::Rpc { method: "deploy".into(), detail: format!("creation code: {e}") })?;
        let receipt = self.transact(from, None, bytes).await?;
        receipt.get("contractAddress").and_then(Value::as_str).and_then(|a| a.parse().ok()).ok_or_else(|| {
            AnvilError::Rpc { method: "deploy".into(), detail: format!("no contract address in {receipt}") }
        })
    }

    /// A read-only `eth_call` of `data` at `to`; the returned bytes.
    pub async fn call(&self, to: Address, data: &[u8]) -> Result<Vec<u8>, AnvilError> {
        let out =
            self.rpc("eth_call", json!([{"to": to, "data": format!("0x{}", hex::encode(data))}, "latest"])).await?;
        let text = out.as_str().unwrap_or_default().trim_start_matches("0x");
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| AnvilError::Rpc { method: "eth_call".into(), detail: format!("{text:?}: {e}") })
    }

    /// `to` = `None` creates a contract. Impersonates `from` (with 1 ETH for
    /// gas), sends, waits for the receipt and returns it; a revert is an error.
    async fn transact(&self, from: Address, to: Option<Address>, data: Vec<u8>) -> Result<Value, AnvilError> {
        self.rpc("anvil_impersonateAccount", json!([from])).await?;
        self.rpc("anvil_setBalance", json!([from, U256::from(10u64).pow(U256::from(18u64))])).await?;
        let data = format!("0x{}", hex::encode(&data));
        // An explicit gas limit: estimation on a freshly impersonated account
        // is one more thing that can differ between runs. A deployment gets
        // more (the ConditionalTokens creation code alone is 15 kB).
        let tx = match to {
            Some(to) => json!({"from": from, "to": to, "data": data, "gas": "0x7a120"}),
            None => json!({"from": from, "data": data, "gas": "0x1c9c380"}),
        };
        let sent = self.rpc("eth_sendTransaction", json!([tx])).await;
        self.rpc("anvil_stopImpersonatingAccount", json!([from])).await?;
        let tx = sent?;
        // Automine mines at once, but anvil may answer the hash before the
        // receipt is queryable: wait for it (briefly) instead of reading a
        // missing receipt as a revert.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let receipt = self.rpc("eth_getTransactionReceipt", json!([tx])).await?;
            match receipt.get("status").and_then(Value::as_str) {
                Some("0x1") => return Ok(receipt),
                Some(_) => return Err(AnvilError::Reverted { tx: tx.to_string() }),
                None if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(10)).await,
                None => {
                    return Err(AnvilError::Rpc {
                        method: "eth_getTransactionReceipt".into(),
                        detail: format!("no receipt for {tx}"),
                    });
                }
            }
        }
    }

    /// `approve(spender, amount)` sent by `owner` (a real transaction, the way
    /// the funder approves on Polygon).
    pub async fn approve_erc20(
        &self,
        token: Address,
        owner: Address,
        spender: Address,
        amount: U256,
    ) -> Result<(), AnvilError> {
        let data = calls::approveCall { spender, value: amount }.abi_encode();
        self.send_as(owner, token, data).await
    }

    /// Mints `amount` of outcome token `id` to `to` in the ERC-1155 fixture.
    pub async fn mint_shares(&self, ctf: Address, to: Address, id: U256, amount: U256) -> Result<(), AnvilError> {
        let data = calls::mintCall { to, id, amount }.abi_encode();
        self.send_as(Address::repeat_byte(0x11), ctf, data).await
    }

    /// `setApprovalForAll(operator, approved)` sent by `owner` in the ERC-1155 fixture.
    pub async fn set_approval_for_all(
        &self,
        ctf: Address,
        owner: Address,
        operator: Address,
        approved: bool,
    ) -> Result<(), AnvilError> {
        let data = calls::setApprovalForAllCall { operator, approved }.abi_encode();
        self.send_as(owner, ctf, data).await
    }

    /// `balanceOf(holder)` of an ERC-20, read with a raw `eth_call`.
    pub async fn erc20_balance(&self, token: Address, holder: Address) -> Result<U256, AnvilError> {
        let data = format!("0x{}", hex::encode(calls::balanceOfCall { owner: holder }.abi_encode()));
        let out = self.rpc("eth_call", json!([{"to": token, "data": data}, "latest"])).await?;
        let text = out.as_str().unwrap_or_default();
        U256::from_str_radix(text.trim_start_matches("0x"), 16)
            .map_err(|e| AnvilError::Rpc { method: "eth_call".into(), detail: format!("{text:?}: {e}") })
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILL to the child's process group, then reap the child.
#[allow(unsafe_code, reason = "kill(2) on the process group this crate created; see SAFETY")]
fn kill_group(child: &mut Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) takes plain integers; a negative pid names the
        // process group we created for this child (process_group(0)), so no
        // other process can be hit.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `Listening on 127.0.0.1:PORT` → PORT.
fn parse_listen_line(line: &str) -> Option<u16> {
    let rest = line.trim().strip_prefix("Listening on ")?;
    rest.rsplit_once(':')?.1.trim().parse().ok()
}

/// Storage slot of `mapping[key]` for a mapping declared at `slot`.
fn mapping_slot(key: B256, slot: U256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(key.as_slice());
    buf[32..].copy_from_slice(&slot.to_be_bytes::<32>());
    keccak256(buf)
}

/// Where the anvil binary is, in this order: `ANVIL_BIN` (must exist when
/// set), `anvil` on `PATH`, then the npm installs `<repo>/.ci/node_modules` and
/// `<repo>/node_modules`. npm's `.bin/anvil` is a node script that starts the
/// real binary; the real one (in the platform package beside it) is returned
/// instead, so a kill reaches anvil itself.
pub fn find_anvil() -> Result<Option<PathBuf>, AnvilError> {
    if let Some(bin) = std::env::var_os("ANVIL_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        return if is_executable(&bin) { Ok(Some(native_binary(&bin))) } else { Err(AnvilError::BadAnvilBin(bin)) };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let bin = dir.join("anvil");
            if is_executable(&bin) {
                return Ok(Some(native_binary(&bin)));
            }
        }
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for modules in [repo.join(".ci/node_modules"), repo.join("node_modules")] {
        for bin in [modules.join(format!("@foundry-rs/anvil-{}/bin/anvil", npm_platform())), modules.join(".bin/anvil")]
        {
            if is_executable(&bin) {
                return Ok(Some(native_binary(&bin)));
            }
        }
    }
    Ok(None)
}

/// npm's platform package suffix (`@foundry-rs/anvil-linux-amd64`).
fn npm_platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{os}-{arch}")
}

/// If `bin` is npm's wrapper script (`@foundry-rs/anvil/bin.mjs`, reached
/// through a `.bin` symlink), the native binary of the platform package next
/// to it; otherwise `bin` itself.
fn native_binary(bin: &Path) -> PathBuf {
    let Ok(real) = std::fs::canonicalize(bin) else { return bin.to_owned() };
    if real.extension().is_some_and(|e| e == "mjs" || e == "js")
        && let Some(scope) = real.parent().and_then(Path::parent)
    {
        let native = scope.join(format!("anvil-{}/bin/anvil", npm_platform()));
        if is_executable(&native) {
            return native;
        }
    }
    bin.to_owned()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_line_is_parsed() {
        assert_eq!(parse_listen_line("Listening on 127.0.0.1:32917"), Some(32917));
        assert_eq!(parse_listen_line("  Listening on 127.0.0.1:8545\r"), Some(8545));
        assert_eq!(parse_listen_line("Listening on 127.0.0.1:x"), None);
        assert_eq!(parse_listen_line("Available Accounts"), None);
    }

    #[test]
    fn balance_slot_matches_solidity_mapping_layout() {
        // keccak256(abi.encode(0xf39F…2266, 0)): the slot solc uses for
        // balanceOf[account #0] in a mapping at slot 0 (checked with web3_sha3).
        let holder: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse().unwrap();
        let slot = mapping_slot(holder.into_word(), U256::ZERO);
        assert_eq!(slot.to_string(), "0x723077b8a1b173adc35e5f0e7e3662fd1208212cb629f9c128551ea7168da722");
    }

    #[test]
    fn npm_wrapper_resolves_to_native_binary() {
        let dir = std::env::temp_dir().join(format!("pmbot-testkit-wrap-{}", std::process::id()));
        let scope = dir.join("node_modules/@foundry-rs");
        let native = scope.join(format!("anvil-{}/bin/anvil", npm_platform()));
        std::fs::create_dir_all(native.parent().unwrap()).unwrap();
        std::fs::create_dir_all(scope.join("anvil")).unwrap();
        std::fs::create_dir_all(dir.join("node_modules/.bin")).unwrap();
        let exec = |p: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        exec(&native);
        exec(&scope.join("anvil/bin.mjs"));
        let link = dir.join("node_modules/.bin/anvil");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("../@foundry-rs/anvil/bin.mjs", &link).unwrap();
        assert_eq!(native_binary(&link), std::fs::canonicalize(&native).unwrap());
        // A plain binary stays itself.
        assert_eq!(native_binary(&native), native);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
