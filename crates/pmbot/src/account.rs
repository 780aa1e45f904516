//! The trading account as the commands see it: the key, the funder address,
//! the journal, the on-chain balance reader and the order gateway, built from
//! the configuration in one place so every command agrees on them.

use std::sync::Arc;

use alloy_primitives::Address;
use anyhow::{Context, Result};
use pmbot_core::Clock;
use pmbot_engine::journal::Journal;
use pmbot_venue::SystemClock;
use pmbot_venue::balance::BalanceReader;
use pmbot_venue::gateway::{Gateway, GatewayConfig, GatewayDeps, MemoryOrderLog, PrivateKey, Started};

use crate::config::FileConfig;

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
fn funder_of(gw: &GatewayConfig, key: &PrivateKey) -> Result<Address> {
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
    let reader = BalanceReader::new(file.balance.clone(), funder, clock).context("invalid [balance] configuration")?;
    Ok(Arc::new(reader))
}

/// Opens (or creates) the journal for writing.
pub fn open_journal(file: &FileConfig) -> Result<Journal> {
    Journal::open(&file.journal.path)
        .with_context(|| format!("cannot open the journal {}", file.journal.path.display()))
}

/// Starts the gateway with the journal and the on-chain pre-check: derives
/// the API key, reconciles every order the journal holds open, and refuses
/// to start on venue state it cannot map.
pub async fn start_gateway(file: &FileConfig) -> Result<(Started, Arc<BalanceReader>)> {
    let journal = open_journal(file)?;
    start_gateway_with_log(file, Box::new(journal)).await
}

/// As [`start_gateway`], journaling through `log` (the trading engine's
/// shared journal).
pub async fn start_gateway_with_log(
    file: &FileConfig,
    log: Box<dyn pmbot_venue::gateway::log::OrderLog>,
) -> Result<(Started, Arc<BalanceReader>)> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let key = private_key(&file.gateway)?;
    let funder = funder_of(&file.gateway, &key)?;
    let balance = balance_reader(file, funder, clock.clone())?;
    let deps = GatewayDeps { log, balance: balance.clone(), clock };
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
