//! A simulated exchange's own ledger as the balance pre-check.
//!
//! Invariant: every verdict is decided, by the on-chain reader's rules
//! ([`crate::balance::check`]), on the balance and allowances the exchange
//! reported for that very check: nothing is cached, so no fill is ever
//! missed. When `GET /balance-allowance` cannot be read, or answers anything
//! but amounts, the order is refused (fail closed).
//!
//! For simulated exchanges only. On Polymarket the chain is the truth and
//! this endpoint a cached view reported stale at times (see
//! [`crate::balance`]); a simulator's ledger *is* its truth, and reading it
//! keeps a simulated run on loopback, where no chain need exist.

use std::sync::Arc;

use alloy_primitives::Address;
use futures::future::BoxFuture;
use pmbot_core::{Clock, TokenId};
use reqwest::Method;

use super::balance::{BalanceCheck, BalanceQuery, BalanceRefusal, BalanceRefusalKind, Request, verdict_result};
use super::config::GatewayConfig;
use super::secrets::PrivateKey;
use super::transport::{SendError, Transport};
use super::wire::{self, BalanceAllowance, WireError};
use super::{StartError, authenticate, sdk_signature_type};
use crate::balance::check::{MarketKind, decide_buy, decide_sell, spenders};
use crate::balance::{BalanceConfig, CollateralView, SharesView};

/// Why the exchange's ledger could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeBalanceError {
    #[error("GET /balance-allowance: {0}")]
    Call(#[from] SendError),
    #[error("GET /balance-allowance: HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("GET /balance-allowance: {0}")]
    Answer(#[from] WireError),
}

/// Reads the account's collateral and shares from the exchange's
/// `/balance-allowance` (L2-authenticated) and answers the pre-check.
pub struct ExchangeBalance {
    transport: Transport,
    /// The SDK's number for the configured signature type, sent with every
    /// read as the clients do.
    signature_type: u8,
    /// Which contracts an order goes through (`[balance]`'s addresses).
    contracts: BalanceConfig,
    /// Whose money this is: the funder, or the key's own address.
    funder: Address,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ExchangeBalance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeBalance")
            .field("transport", &self.transport)
            .field("funder", &self.funder)
            .finish_non_exhaustive()
    }
}

impl ExchangeBalance {
    /// Signs in to the exchange at `cfg.clob_url` with `key` (L1, deriving
    /// the same API key the gateway uses); `contracts` names the spenders an
    /// order needs.
    pub async fn connect(
        cfg: &GatewayConfig,
        key: &PrivateKey,
        contracts: BalanceConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<ExchangeBalance, StartError> {
        let funder = cfg.validate()?;
        let signer = key.signer(cfg.chain_id)?;
        let sdk = authenticate(cfg, &signer, funder).await?;
        let address = alloy::signers::Signer::address(&signer);
        let transport = Transport::new(&cfg.clob_url, address, sdk.credentials().clone(), cfg.request_timeout)
            .map_err(StartError::Auth)?;
        Ok(ExchangeBalance {
            transport,
            signature_type: sdk_signature_type(cfg.signature_type) as u8,
            contracts,
            funder: funder.unwrap_or(address),
            clock,
        })
    }

    async fn read(&self, query: &str) -> Result<BalanceAllowance, ExchangeBalanceError> {
        let reply = self.transport.send(Method::GET, "/balance-allowance", query, None).await?;
        if !reply.is_success() {
            return Err(ExchangeBalanceError::Status { status: reply.status, message: reply.error_message() });
        }
        Ok(wire::balance_allowance(&reply.body)?)
    }

    /// The account's pUSD and the allowance of every contract an order in
    /// `market` goes through.
    pub async fn collateral(&self, market: MarketKind) -> Result<CollateralView, ExchangeBalanceError> {
        let read = self.read(&format!("?asset_type=COLLATERAL&signature_type={}", self.signature_type)).await?;
        let allowances =
            spenders(&self.contracts, market).into_iter().map(|s| (s, read.allowance(s.address))).collect();
        Ok(CollateralView { funder: self.funder, balance: read.balance, allowances, read_at: self.clock.now() })
    }

    /// The account's shares of `token`; an operator counts as approved when
    /// the exchange reports a non-zero allowance for it.
    pub async fn shares(&self, token: &TokenId, market: MarketKind) -> Result<SharesView, ExchangeBalanceError> {
        let query = format!("?asset_type=CONDITIONAL&token_id={token}&signature_type={}", self.signature_type);
        let read = self.read(&query).await?;
        let approvals =
            spenders(&self.contracts, market).into_iter().map(|s| (s, !read.allowance(s.address).is_zero())).collect();
        Ok(SharesView {
            funder: self.funder,
            token: token.clone(),
            shares: read.balance,
            approvals,
            read_at: self.clock.now(),
        })
    }
}

impl BalanceCheck for ExchangeBalance {
    fn check<'a>(&'a self, query: &'a BalanceQuery) -> BoxFuture<'a, Result<(), BalanceRefusal>> {
        Box::pin(async move {
            let verdict = match Request::of(query)? {
                Request::Buy(req) => {
                    let view = self.collateral(req.market()).await.map_err(unavailable)?;
                    decide_buy(&req, view.balance, &view.allowances)
                }
                Request::Sell(req) => {
                    let view = self.shares(req.token(), req.market()).await.map_err(unavailable)?;
                    decide_sell(&req, view.shares, &view.approvals)
                }
            };
            verdict_result(verdict)
        })
    }

    /// Nothing is cached: every check reads the ledger.
    fn refresh(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

fn unavailable(e: ExchangeBalanceError) -> BalanceRefusal {
    tracing::error!(error = %e, "the exchange's balances are unavailable; refusing the order");
    BalanceRefusal { kind: BalanceRefusalKind::Unavailable, detail: e.to_string() }
}
