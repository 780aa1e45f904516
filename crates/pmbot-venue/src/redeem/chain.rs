//! Redemption on chain: ConditionalTokens `redeemPositions`, or the Neg
//! Risk Adapter's `redeemPositions` for neg-risk markets, through the
//! official SDK's `ctf` bindings and its contract addresses per chain id.
//!
//! Invariant: every transaction is signed here, its hash handed to the
//! journal (by [`super::redeem_market`]) before a byte of it leaves, and
//! only the signed bytes are broadcast; the chain is read, never assumed:
//! a redemption is planned from the holder's balances and the oracle's
//! payouts as the contract holds them. Every read and send goes to the
//! configured RPC endpoints in order (the first that answers), each bounded
//! by `[balance] call_timeout`; errors name an endpoint by scheme, host and
//! port only (a provider's URL carries its API key).
//!
//! Why not the SDK's `Client::redeem_positions`: it sends and then waits
//! for the receipt in one call, and returns the hash only with the receipt,
//! so an RPC outage or a crash while waiting would lose the one thing that
//! tells a mined redemption from a lost one. Its contract bindings
//! (`IConditionalTokens`, `INegRiskAdapter`) are used as they are. The
//! contract addresses are `[balance]`'s, the ones the balance check reads
//! (their defaults are the SDK's `contract_config` for Polygon, a test holds
//! them equal), so redemption and the balance check never disagree about
//! which contract holds the shares, and a test can point both at contracts
//! it deployed itself.
//!
//! The transaction is sent from the key's own address, so it can redeem only
//! when the funder is that address (signature type 0, an EOA): a proxy or
//! Safe wallet's shares are redeemed through Polymarket's relayer, which
//! pmbot does not drive ([`RedeemSetupError::NotTheSigner`]).

use std::time::Duration;

use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use alloy::transports::{RpcError, TransportErrorKind};
use futures::future::BoxFuture;
use pmbot_core::ConditionId;
use polymarket_client_sdk_v2::ctf::client::{IConditionalTokens, INegRiskAdapter};

use super::log::Via;
use super::plan::{ChainView, Holding, PositionKind, RedeemPlan, usdc_of};
use super::procedure::{Inspection, RedeemError, Redeemer, Settlement, Signed, TxStatus};
use super::retry::RedeemConfig;
use crate::balance::{BalanceConfig, ConfigError, Endpoint, EndpointError, FailedAttempt, ReadFailure};
use crate::gateway::{PrivateKey, SecretError};

alloy::sol! {
    /// The ConditionalTokens reads the SDK's binding does not have.
    #[sol(rpc)]
    interface IConditionalTokensReads {
        function getOutcomeSlotCount(bytes32 conditionId) external view returns (uint256);
        function payoutDenominator(bytes32 conditionId) external view returns (uint256);
        function payoutNumerators(bytes32 conditionId, uint256 index) external view returns (uint256);
        function balanceOf(address owner, uint256 id) external view returns (uint256);
    }

    /// The Neg Risk Adapter's wrapped collateral: its markets' positions
    /// are on it, not on pUSD.
    #[sol(rpc)]
    interface INegRiskAdapterReads {
        function wcol() external view returns (address);
    }

    /// ConditionalTokens' event for a redemption (conditional-tokens-contracts
    /// 1.0.3); `payout` is what `redeemer` received.
    event PayoutRedemption(
        address indexed redeemer,
        address indexed collateralToken,
        bytes32 indexed parentCollectionId,
        bytes32 conditionId,
        uint256[] indexSets,
        uint256 payout
    );
}

/// The two outcomes of a binary condition, as index sets (0b01, 0b10).
const BINARY_INDEX_SETS: [u64; 2] = [1, 2];
/// Gas limit margin over the node's estimate, in percent.
const GAS_MARGIN_PCT: u64 = 20;

/// Why no chain redeemer could be built.
#[derive(Debug, thiserror::Error)]
pub enum RedeemSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Key(#[from] SecretError),
    #[error(
        "redemption is sent from the key's address {signer:#x}, but the funds are held by {funder:#x} ([gateway] \
         funder): a proxy or Safe wallet redeems through Polymarket's relayer (polymarket.com), which pmbot does \
         not drive"
    )]
    NotTheSigner { signer: Address, funder: Address },
}

/// Contract addresses (`[balance]`'s).
#[derive(Debug, Clone, Copy)]
struct Contracts {
    conditional_tokens: Address,
    collateral: Address,
    neg_risk_adapter: Address,
}

/// One endpoint: its client (for error texts) and a provider on it.
struct Rpc {
    endpoint: Endpoint,
    provider: RootProvider,
}

pub struct ChainRedeemer {
    rpcs: Vec<Rpc>,
    wallet: EthereumWallet,
    holder: Address,
    chain_id: u64,
    contracts: Contracts,
    call_timeout: Duration,
    cfg: RedeemConfig,
}

impl std::fmt::Debug for ChainRedeemer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self.rpcs.iter().map(|r| r.endpoint.label()).collect();
        f.debug_struct("ChainRedeemer").field("holder", &self.holder).field("rpcs", &labels).finish_non_exhaustive()
    }
}

/// One endpoint's failure: try the next, or stop.
enum Attempt {
    /// This endpoint did not answer usably: the next one may.
    Next(EndpointError),
    /// A definite answer no other endpoint would change.
    Stop(RedeemError),
}

impl ChainRedeemer {
    /// A redeemer for `funder`'s shares, signing with `key`, on the RPC
    /// endpoints of `[balance]`. Refused when the funder is not the key's
    /// own address.
    pub fn new(
        balance: &BalanceConfig,
        cfg: RedeemConfig,
        key: &PrivateKey,
        funder: Address,
    ) -> Result<ChainRedeemer, RedeemSetupError> {
        balance.validate()?;
        let signer = key.signer(balance.chain_id)?;
        let holder = alloy::signers::Signer::address(&signer);
        if holder != funder {
            return Err(RedeemSetupError::NotTheSigner { signer: holder, funder });
        }
        let contracts = Contracts {
            conditional_tokens: balance.conditional_tokens,
            collateral: balance.collateral,
            neg_risk_adapter: balance.neg_risk_adapter,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(balance.call_timeout)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        let mut rpcs = Vec::with_capacity(balance.rpc_urls.len());
        for (index, url) in balance.rpc_urls.iter().enumerate() {
            let endpoint =
                Endpoint::new(url, http.clone()).map_err(|reason| ConfigError::BadRpcUrl { index, reason })?;
            let provider = RootProvider::new(endpoint.client().clone());
            rpcs.push(Rpc { endpoint, provider });
        }
        Ok(ChainRedeemer {
            rpcs,
            wallet: EthereumWallet::from(signer),
            holder,
            chain_id: balance.chain_id,
            contracts,
            call_timeout: balance.call_timeout,
            cfg,
        })
    }

    /// The first endpoint's answer to `op`, trying them in order; every
    /// failure when none answers.
    async fn first<'a, T, F>(&'a self, op: F) -> Result<T, RedeemError>
    where
        F: Fn(&'a Rpc) -> BoxFuture<'a, Result<T, Attempt>>,
    {
        let mut failed = Vec::new();
        for rpc in &self.rpcs {
            let outcome = match tokio::time::timeout(self.call_timeout, op(rpc)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Attempt::Next(EndpointError::Timeout {
                    after_ms: u64::try_from(self.call_timeout.as_millis()).unwrap_or(u64::MAX),
                })),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(Attempt::Stop(e)) => return Err(e),
                Err(Attempt::Next(error)) => {
                    failed.push(FailedAttempt { endpoint: rpc.endpoint.label().to_owned(), round: 0, error });
                }
            }
        }
        Err(RedeemError::Rpc(ReadFailure { attempts: failed }.to_string()))
    }

    /// The chain's view of `market` and the holder's shares.
    async fn view(&self, rpc: &Rpc, market: &ConditionId) -> Result<ChainView, Attempt> {
        let p = &rpc.provider;
        let got = p.get_chain_id().await.map_err(|e| next(rpc, e))?;
        if got != self.chain_id {
            return Err(Attempt::Stop(RedeemError::WrongChain { expected: self.chain_id, got }));
        }
        let condition = B256::from(market.0);
        let ctf = self.contracts.conditional_tokens;
        let reads = IConditionalTokensReads::new(ctf, p);
        let sdk = IConditionalTokens::new(ctf, p);
        let call = |e: alloy::contract::Error| contract_error(rpc, ctf, e);
        let (slots, denominator, c0, c1) = futures::try_join!(
            async { reads.getOutcomeSlotCount(condition).call().await.map_err(call) },
            async { reads.payoutDenominator(condition).call().await.map_err(call) },
            async {
                sdk.getCollectionId(B256::ZERO, condition, U256::from(BINARY_INDEX_SETS[0])).call().await.map_err(call)
            },
            async {
                sdk.getCollectionId(B256::ZERO, condition, U256::from(BINARY_INDEX_SETS[1])).call().await.map_err(call)
            },
        )?;
        let collections = [c0, c1];
        let empty = |kind| Holding { kind, position_ids: [U256::ZERO; 2], balances: [U256::ZERO; 2] };
        if slots != U256::from(2u8) {
            // Unprepared (or not binary): the plan stops here, and the
            // public getter of a missing payout array would revert.
            let standard = empty(PositionKind::Standard);
            return Ok(ChainView {
                outcome_slots: slots,
                denominator,
                numerators: [U256::ZERO; 2],
                standard,
                neg_risk: None,
            });
        }
        let (n0, n1) = futures::try_join!(
            async { reads.payoutNumerators(condition, U256::ZERO).call().await.map_err(call) },
            async { reads.payoutNumerators(condition, U256::from(1u8)).call().await.map_err(call) },
        )?;
        let numerators = [n0, n1];
        let standard = self.holding(rpc, PositionKind::Standard, self.contracts.collateral, collections).await?;
        // No adapter deployed (a test chain): no neg-risk positions to read.
        let adapter = self.contracts.neg_risk_adapter;
        let code = p.get_code_at(adapter).await.map_err(|e| next(rpc, e))?;
        let neg_risk = if code.is_empty() {
            None
        } else {
            let wcol = INegRiskAdapterReads::new(adapter, p)
                .wcol()
                .call()
                .await
                .map_err(|e| contract_error(rpc, adapter, e))?;
            Some(self.holding(rpc, PositionKind::NegRisk, wcol, collections).await?)
        };
        Ok(ChainView { outcome_slots: slots, denominator, numerators, standard, neg_risk })
    }

    /// The holder's shares of both outcomes as positions on `collateral`.
    async fn holding(
        &self,
        rpc: &Rpc,
        kind: PositionKind,
        collateral: Address,
        collections: [B256; 2],
    ) -> Result<Holding, Attempt> {
        let ctf = self.contracts.conditional_tokens;
        let sdk = IConditionalTokens::new(ctf, &rpc.provider);
        let reads = IConditionalTokensReads::new(ctf, &rpc.provider);
        let call = |e: alloy::contract::Error| contract_error(rpc, ctf, e);
        let (p0, p1) = futures::try_join!(
            async { sdk.getPositionId(collateral, collections[0]).call().await.map_err(call) },
            async { sdk.getPositionId(collateral, collections[1]).call().await.map_err(call) },
        )?;
        let (b0, b1) =
            futures::try_join!(async { reads.balanceOf(self.holder, p0).call().await.map_err(call) }, async {
                reads.balanceOf(self.holder, p1).call().await.map_err(call)
            },)?;
        Ok(Holding { kind, position_ids: [p0, p1], balances: [b0, b1] })
    }

    /// The redemption call: its target and calldata.
    fn call_of(&self, market: &ConditionId, plan: &RedeemPlan) -> Result<(Address, Vec<u8>), RedeemError> {
        let condition = B256::from(market.0);
        match plan.kind {
            PositionKind::Standard => Ok((
                self.contracts.conditional_tokens,
                IConditionalTokens::redeemPositionsCall {
                    collateralToken: self.contracts.collateral,
                    parentCollectionId: B256::ZERO,
                    conditionId: condition,
                    indexSets: BINARY_INDEX_SETS.iter().map(|i| U256::from(*i)).collect(),
                }
                .abi_encode(),
            )),
            PositionKind::NegRisk => {
                let adapter = self.contracts.neg_risk_adapter;
                let call =
                    INegRiskAdapter::redeemPositionsCall { conditionId: condition, amounts: plan.balances.to_vec() };
                Ok((adapter, call.abi_encode()))
            }
        }
    }

    /// Nonce, gas and fees from the node, then signed here.
    async fn build(&self, rpc: &Rpc, to: Address, data: &[u8]) -> Result<TxEnvelope, Attempt> {
        let p = &rpc.provider;
        let mut tx = TransactionRequest::default()
            .with_from(self.holder)
            .with_to(to)
            .with_input(Bytes::copy_from_slice(data))
            .with_chain_id(self.chain_id);
        let nonce = p.get_transaction_count(self.holder).pending().await.map_err(|e| next(rpc, e))?;
        // A revert in the estimate (not resolved, nothing to burn) or no
        // gas money is the node's definite answer: no other endpoint differs.
        let gas = p.estimate_gas(tx.clone()).await.map_err(|e| refused(rpc, e))?;
        let fees = p.estimate_eip1559_fees().await.map_err(|e| next(rpc, e))?;
        tx = tx
            .with_nonce(nonce)
            .with_gas_limit(gas.saturating_add(gas * GAS_MARGIN_PCT / 100))
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        tx.build(&self.wallet)
            .await
            .map_err(|e| Attempt::Stop(RedeemError::Refused(format!("cannot sign the redemption: {e}"))))
    }

    /// What `receipt` says became of the redemption of `market`.
    fn settlement(&self, market: &ConditionId, receipt: &TransactionReceipt) -> Settlement {
        let tx_hash = receipt.transaction_hash;
        if !receipt.status() {
            return Settlement::Reverted { tx_hash };
        }
        let condition = B256::from(market.0);
        let payout = receipt
            .logs()
            .iter()
            .filter(|log| log.address() == self.contracts.conditional_tokens)
            .filter_map(|log| PayoutRedemption::decode_log(&log.inner).ok())
            .find(|ev| ev.redeemer == self.holder && ev.conditionId == condition)
            .and_then(|ev| usdc_of(ev.payout));
        Settlement::Mined { tx_hash, block: receipt.block_number, payout }
    }

    async fn lookup(&self, rpc: &Rpc, hash: B256, market: Option<&ConditionId>) -> Result<TxStatus, Attempt> {
        let p = &rpc.provider;
        match p.get_transaction_receipt(hash).await.map_err(|e| next(rpc, e))? {
            Some(receipt) => {
                let settled = match market {
                    Some(m) => self.settlement(m, &receipt),
                    None => self.settlement(&ConditionId::default(), &receipt),
                };
                Ok(TxStatus::Settled(settled))
            }
            None => match p.get_transaction_by_hash(hash).await.map_err(|e| next(rpc, e))? {
                Some(_) => Ok(TxStatus::Pending),
                None => Ok(TxStatus::Unknown),
            },
        }
    }

    /// Broadcasts `raw` (accepted by the first endpoint that takes it, or
    /// already knows it), then waits for its receipt up to `receipt_timeout`.
    async fn broadcast_and_wait(
        &self,
        market: &ConditionId,
        hash: B256,
        raw: &[u8],
    ) -> Result<Settlement, RedeemError> {
        self.first(|rpc| {
            Box::pin(async move {
                match rpc.provider.send_raw_transaction(raw).await {
                    Ok(_) => Ok(()),
                    Err(e) => match rpc.endpoint.classify(e) {
                        // The pool has it already, or its nonce is used: mined
                        // (ours) or replaced; the receipt below tells which.
                        EndpointError::Rpc { message, .. } if known_or_used(&message) => Ok(()),
                        EndpointError::Rpc { code, message } => {
                            Err(Attempt::Stop(RedeemError::Refused(format!("{code}: {message}"))))
                        }
                        other => Err(Attempt::Next(other)),
                    },
                }
            })
        })
        .await?;
        let deadline = tokio::time::Instant::now() + self.cfg.receipt_timeout;
        let mut last = None;
        loop {
            match self.first(|rpc| Box::pin(self.lookup(rpc, hash, Some(market)))).await {
                Ok(TxStatus::Settled(s)) => return Ok(s),
                Ok(_) => {}
                Err(e) if e.is_retryable() => last = Some(e),
                Err(e) => return Err(e),
            }
            if tokio::time::Instant::now() + self.cfg.receipt_poll > deadline {
                let why = last.map(|e| format!(" (last: {e})")).unwrap_or_default();
                return Err(RedeemError::Rpc(format!(
                    "no receipt for {hash} within {:?}{why}",
                    self.cfg.receipt_timeout
                )));
            }
            tokio::time::sleep(self.cfg.receipt_poll).await;
        }
    }
}

impl Redeemer for ChainRedeemer {
    fn via(&self) -> Via {
        Via::Chain
    }

    fn holder(&self) -> Address {
        self.holder
    }

    fn inspect<'a>(&'a self, market: &'a ConditionId) -> BoxFuture<'a, Result<Inspection, RedeemError>> {
        Box::pin(async move {
            self.first(|rpc| Box::pin(self.view(rpc, market))).await.map(|v| Inspection::Chain(Box::new(v)))
        })
    }

    fn sign<'a>(
        &'a self,
        market: &'a ConditionId,
        plan: Option<&'a RedeemPlan>,
    ) -> BoxFuture<'a, Result<Signed, RedeemError>> {
        Box::pin(async move {
            let plan = plan.ok_or_else(|| RedeemError::Unredeemable("a chain redemption needs a plan".into()))?;
            let (to, data) = self.call_of(market, plan)?;
            let envelope = self.first(|rpc| Box::pin(self.build(rpc, to, &data))).await?;
            Ok(Signed { tx_hash: Some(*envelope.tx_hash()), raw: envelope.encoded_2718() })
        })
    }

    fn submit<'a>(
        &'a self,
        market: &'a ConditionId,
        signed: &'a Signed,
    ) -> BoxFuture<'a, Result<Settlement, RedeemError>> {
        Box::pin(async move {
            let hash =
                signed.tx_hash.ok_or_else(|| RedeemError::Unredeemable("an unsigned chain redemption".into()))?;
            self.broadcast_and_wait(market, hash, &signed.raw).await
        })
    }

    fn status(&self, tx_hash: B256) -> BoxFuture<'_, Result<TxStatus, RedeemError>> {
        Box::pin(async move { self.first(|rpc| Box::pin(self.lookup(rpc, tx_hash, None))).await })
    }
}

/// An endpoint's failure to answer: the next one may.
fn next(rpc: &Rpc, e: RpcError<TransportErrorKind>) -> Attempt {
    Attempt::Next(rpc.endpoint.classify(e))
}

/// The node's own refusal stops (a revert, no gas money); a failure to
/// answer tries the next endpoint.
fn refused(rpc: &Rpc, e: RpcError<TransportErrorKind>) -> Attempt {
    match rpc.endpoint.classify(e) {
        EndpointError::Rpc { code, message } => Attempt::Stop(RedeemError::Refused(format!("{code}: {message}"))),
        other => Attempt::Next(other),
    }
}

/// A contract read's failure: no code at the contract is a setup error
/// (wrong chain or addresses); the rest is the endpoint's.
fn contract_error(rpc: &Rpc, contract: Address, e: alloy::contract::Error) -> Attempt {
    match e {
        alloy::contract::Error::TransportError(e) => next(rpc, e),
        alloy::contract::Error::ZeroData(..) => {
            Attempt::Stop(RedeemError::Unredeemable(format!("no contract answers at {contract:#x} on this chain")))
        }
        other => Attempt::Next(EndpointError::Garbage { detail: rpc.endpoint.excerpt(&other.to_string()) }),
    }
}

/// A node's answer to a re-broadcast of a transaction it already has, or
/// whose nonce is already used (geth, erigon, bor, anvil wordings).
fn known_or_used(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["already known", "known transaction", "nonce too low", "already imported", "transaction already exists"]
        .iter()
        .any(|s| m.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebroadcast_answers_are_recognised() {
        for known in ["already known", "Known transaction: 0xab", "nonce too low: next nonce 5, tx nonce 4"] {
            assert!(known_or_used(known), "{known}");
        }
        for other in ["insufficient funds for gas * price + value", "transaction underpriced", "execution reverted"] {
            assert!(!known_or_used(other), "{other}");
        }
    }

    #[test]
    fn the_default_contracts_are_the_official_sdks_for_polygon() {
        let b = BalanceConfig::default();
        let standard = polymarket_client_sdk_v2::contract_config(b.chain_id, false).unwrap();
        let neg_risk = polymarket_client_sdk_v2::contract_config(b.chain_id, true).unwrap();
        assert_eq!((b.conditional_tokens, b.collateral), (standard.conditional_tokens, standard.collateral));
        assert_eq!(Some(b.neg_risk_adapter), neg_risk.neg_risk_adapter);
    }

    #[test]
    fn a_proxy_funder_is_refused_with_the_reason() {
        let key = PrivateKey::given(secrecy::SecretString::from(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".to_owned(),
        ));
        let balance = BalanceConfig { rpc_urls: vec!["http://127.0.0.1:1".into()], ..BalanceConfig::default() };
        let funder = Address::repeat_byte(7);
        let err = ChainRedeemer::new(&balance, RedeemConfig::default(), &key, funder).unwrap_err();
        assert!(matches!(err, RedeemSetupError::NotTheSigner { .. }), "{err}");
        assert!(!err.to_string().contains("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"));
        let me = key.address().unwrap();
        ChainRedeemer::new(&balance, RedeemConfig::default(), &key, me).unwrap();
        let none = BalanceConfig { rpc_urls: vec![], ..balance };
        assert!(matches!(
            ChainRedeemer::new(&none, RedeemConfig::default(), &key, me),
            Err(RedeemSetupError::Config(ConfigError::NoRpcUrl))
        ));
    }
}
