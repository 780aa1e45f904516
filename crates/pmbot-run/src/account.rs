//! The trading account as the commands see it: the key, the funder address,
//! the journal, the balance pre-check and the order gateway, built from the
//! configuration in one place so every command agrees on them.
//!
//! The pre-check reads the chain, except on a simulated exchange
//! ([`crate::offline`]): there it reads a loopback RPC (anvil) when
//! `[balance] rpc_urls` names one, or else the simulator's own accounts, and
//! never an RPC off this machine. Redemption is on chain for a real
//! exchange and the simulator's `POST /_sim/redeem` for a simulated one.
//!
//! A real exchange needs a configured RPC (there is no default: the public
//! one stopped serving anonymous requests): [`require_rpc`] stops a command
//! at once, naming the setting.

use std::sync::Arc;

use alloy_primitives::Address;
use pmbot_core::Clock;
use pmbot_engine::journal::Journal;
use pmbot_venue::SystemClock;
use pmbot_venue::balance::{BalanceConfig, BalanceReader, CollateralView, ConfigError, MarketKind};
use pmbot_venue::gateway::{
    BalanceCheck, ExchangeBalance, Gateway, GatewayConfig, GatewayDeps, MemoryOrderLog, PrivateKey, Started,
};

use pmbot_venue::redeem::{ChainRedeemer, Redeemer, SimRedeemer};

use crate::config::FileConfig;
use crate::error::{Context, Result, RunError};
use crate::offline::{Exchange, SimulatedBalances};

/// Stops a command that needs the chain when no RPC is configured, with
/// the one-line message that names `[balance] rpc_urls` and its variable.
pub fn require_rpc(file: &FileConfig) -> Result<()> {
    if file.balance.rpc_urls.is_empty() {
        return Err(RunError::Refused(ConfigError::NoRpcUrl.to_string()));
    }
    Ok(())
}

/// Whether `[gateway]`'s exchange is a simulated one ([`Exchange::of`]).
pub fn exchange_of(file: &FileConfig) -> Exchange {
    Exchange::of(false, &[&file.gateway.clob_url, &file.gateway.ws_url])
}

/// Who redeems `funder`'s resolved shares: the chain at `[balance]
/// rpc_urls` for a real exchange; for a simulated one, the simulator's
/// `POST /_sim/redeem`, whatever RPC is configured: the simulator holds the
/// shares (a loopback chain, if any, only stands in for the pUSD balance the
/// pre-check reads), so only it can pay them out. Also returns the line
/// naming RPC URLs left alone (simulated runs only).
pub fn redeemer(file: &FileConfig, key: &PrivateKey, funder: Address) -> Result<(Arc<dyn Redeemer>, Option<String>)> {
    if !exchange_of(file).is_simulated() {
        require_rpc(file)?;
        let r =
            ChainRedeemer::new(&file.balance, file.redeem.clone(), key, funder).context("cannot redeem on chain")?;
        return Ok((Arc::new(r), None));
    }
    let (_, notice) = crate::offline::simulated_balances(&file.balance.rpc_urls);
    let sim = SimRedeemer::new(&file.gateway.clob_url, funder, file.gateway.request_timeout)
        .context("cannot reach the simulator's redemption endpoint")?;
    Ok((Arc::new(sim), notice))
}

/// The private key, from `PMBOT_PRIVATE_KEY` or `gateway.key_file`.
pub fn private_key(gw: &GatewayConfig) -> Result<PrivateKey> {
    PrivateKey::load(gw.key_file.as_deref()).context("cannot load the private key")
}

/// The address holding the funds: `gateway.funder` when set (proxy, Safe,
/// deposit wallet), otherwise the key's own address (EOA).
/// Reads the key only when no funder is configured.
pub fn funder_address(gw: &GatewayConfig) -> Result<Address> {
    match configured_funder(gw)? {
        Some(funder) => Ok(funder),
        None => private_key(gw)?.address().context("the private key is not usable"),
    }
}

/// As [`funder_address`], with the key already loaded.
pub fn funder_of(gw: &GatewayConfig, key: &PrivateKey) -> Result<Address> {
    match configured_funder(gw)? {
        Some(funder) => Ok(funder),
        None => key.address().context("the private key is not usable"),
    }
}

fn configured_funder(gw: &GatewayConfig) -> Result<Option<Address>> {
    gw.validate().context("invalid [gateway] configuration")
}

/// The on-chain reader for `funder`, on the wall clock.
pub fn balance_reader(file: &FileConfig, funder: Address, clock: Arc<dyn Clock>) -> Result<Arc<BalanceReader>> {
    reader_of(file.balance.clone(), funder, clock)
}

fn reader_of(config: BalanceConfig, funder: Address, clock: Arc<dyn Clock>) -> Result<Arc<BalanceReader>> {
    let reader = BalanceReader::new(config, funder, clock).context("invalid [balance] configuration")?;
    Ok(Arc::new(reader))
}

/// Opens (or creates) the journal for writing.
pub fn open_journal(file: &FileConfig) -> Result<Journal> {
    Journal::open(&file.journal.path)
        .with_context(|| format!("cannot open the journal {}", file.journal.path.display()))
}

/// Where the pre-check reads the account's money.
#[derive(Debug, Clone)]
pub enum Balances {
    /// On chain (Polygon, or anvil on loopback).
    Chain(Arc<BalanceReader>),
    /// A simulated exchange's own accounts.
    Exchange(Arc<ExchangeBalance>),
}

impl Balances {
    /// The pre-check the gateway calls before every order.
    pub fn check(&self) -> Arc<dyn BalanceCheck> {
        match self {
            Balances::Chain(reader) => reader.clone(),
            Balances::Exchange(ledger) => ledger.clone(),
        }
    }

    /// The account's money changed outside an order (a redemption paid
    /// out): the next check reads it again instead of a cached figure.
    pub fn invalidate(&self) {
        match self {
            Balances::Chain(reader) => reader.invalidate(),
            // Nothing is cached: every check reads the simulator's ledger.
            Balances::Exchange(_) => {}
        }
    }

    /// The collateral of a standard market's order path, as read now (or
    /// from the chain reader's cache).
    pub async fn collateral(&self) -> std::result::Result<CollateralView, String> {
        match self {
            Balances::Chain(reader) => reader.collateral(MarketKind::Standard).await.map_err(|e| e.to_string()),
            Balances::Exchange(ledger) => ledger.collateral(MarketKind::Standard).await.map_err(|e| e.to_string()),
        }
    }
}

/// The pre-check for the exchange at `[gateway] clob_url`: the chain for a
/// real exchange; for a simulated one, a loopback RPC if configured, else the
/// simulator's accounts (signing in with `key`), with a printed line for any
/// RPC left alone.
async fn balances(file: &FileConfig, key: &PrivateKey, funder: Address, clock: Arc<dyn Clock>) -> Result<Balances> {
    let exchange = Exchange::of(false, &[&file.gateway.clob_url, &file.gateway.ws_url]);
    if !exchange.is_simulated() {
        return Ok(Balances::Chain(balance_reader(file, funder, clock)?));
    }
    let (source, notice) = crate::offline::simulated_balances(&file.balance.rpc_urls);
    if let Some(line) = notice {
        println!("{line}");
    }
    match source {
        SimulatedBalances::Chain(rpc_urls) => {
            Ok(Balances::Chain(reader_of(BalanceConfig { rpc_urls, ..file.balance.clone() }, funder, clock)?))
        }
        SimulatedBalances::Exchange => {
            let ledger = ExchangeBalance::connect(&file.gateway, key, file.balance.clone(), clock)
                .await
                .context("cannot sign in to the simulated exchange to read its accounts")?;
            Ok(Balances::Exchange(Arc::new(ledger)))
        }
    }
}

/// Starts the gateway with the journal and the balance pre-check: derives
/// the API key, reconciles every order the journal holds open, and refuses
/// to start on venue state it cannot map.
pub async fn start_gateway(file: &FileConfig) -> Result<(Started, Balances)> {
    let journal = open_journal(file)?;
    start_gateway_with_log(file, Box::new(journal)).await
}

/// As [`start_gateway`], journaling through `log` (the trading engine's
/// shared journal).
pub async fn start_gateway_with_log(
    file: &FileConfig,
    log: Box<dyn pmbot_venue::gateway::log::OrderLog>,
) -> Result<(Started, Balances)> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let key = private_key(&file.gateway)?;
    let funder = funder_of(&file.gateway, &key)?;
    let balance = balances(file, &key, funder, clock.clone()).await?;
    let deps = GatewayDeps { log, balance: balance.check(), clock };
    let started =
        Gateway::start_with_key(file.gateway.clone(), key, deps).await.context("the order gateway did not start")?;
    Ok((started, balance))
}

/// A gateway handle that only looks and cancels (`pmbot orders`): no
/// reconciliation, no journal writes, never an order.
pub async fn inspect_gateway(file: &FileConfig) -> Result<Gateway> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let key = private_key(&file.gateway)?;
    let funder = funder_of(&file.gateway, &key)?;
    let balance = balance_reader(file, funder, clock.clone())?;
    let deps = GatewayDeps { log: Box::new(MemoryOrderLog::new()), balance, clock };
    Gateway::inspect(file.gateway.clone(), key, deps).await.context("cannot reach the exchange's order API")
}
