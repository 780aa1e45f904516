//! One market's redemption, start to end, safe to run again at any point.
//!
//! Invariant: for a market the journal holds a confirmed redemption of,
//! nothing is sent; for one it holds a transaction in flight of, that
//! transaction is looked up by its hash before anything else, and a new one
//! is signed only when the chain shows the shares still there and the old
//! transaction unknown or reverted; a new transaction's hash is journaled
//! before it is broadcast. So a crash, a timeout or an RPC outage anywhere
//! costs at most a lookup, and the payout is counted once: ConditionalTokens
//! itself pays a holder once (it burns what it pays for), and the journal
//! confirms a market once.
//!
//! The chain is the truth: "already redeemed" is read from the holder's
//! balances on chain, never assumed from the journal alone, so shares
//! redeemed outside pmbot are not sent for again either.

use std::sync::Mutex;

use alloy::primitives::{Address, B256, U256};
use futures::future::BoxFuture;
use pmbot_core::{Clock, ConditionId, Size, Usdc};
use serde_json::json;

use super::log::{RedemptionLog, RedemptionLogError, RedemptionRow, RedemptionState, RedemptionStatus, Via, lock};
use super::plan::{ChainView, Plan, RedeemPlan, plan};

/// What the redeemer sees before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// The chain's view of the condition and the holder's shares.
    Chain(Box<ChainView>),
    /// A redeemer that cannot look first (the simulator): it redeems and
    /// says what it paid.
    Blind,
}

/// A redemption ready to leave: its hash (chain) is known before it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub tx_hash: Option<B256>,
    /// The signed transaction (EIP-2718 bytes); empty for the simulator.
    pub raw: Vec<u8>,
}

/// What became of a sent redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Mined and succeeded. `payout` is what the contract's
    /// `PayoutRedemption` event says it paid the holder, when it is there.
    Mined { tx_hash: B256, block: Option<u64>, payout: Option<Usdc> },
    /// Mined and reverted: nothing paid, nothing burned.
    Reverted { tx_hash: B256 },
    /// The simulator paid `payout` and burned the shares.
    Simulated { payout: Usdc, winning_burned: Size, losing_burned: Size },
}

/// A transaction looked up by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxStatus {
    /// The node does not know it (never arrived, or dropped).
    Unknown,
    /// Known, not mined yet.
    Pending,
    Settled(Settlement),
}

/// Why a redemption step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    /// No endpoint answered usably (down, timeout, HTTP error, garbage).
    #[error("RPC unavailable: {0}")]
    Rpc(String),
    /// The transaction is in flight and not mined yet: look again later.
    #[error("transaction {0} is not mined yet")]
    Pending(B256),
    /// The node refused the transaction or its gas estimate (a revert
    /// before sending, no gas money, a bad nonce): no retry can fix it alone.
    #[error("the node refused the redemption: {0}")]
    Refused(String),
    #[error("the redemption transaction {0} reverted")]
    Reverted(B256),
    #[error("wrong chain: the RPC is on chain {got}, expected {expected}")]
    WrongChain { expected: u64, got: u64 },
    /// The condition is not one pmbot can redeem (not binary, or a payout
    /// that does not fit an amount of pUSD).
    #[error("{0}")]
    Unredeemable(String),
    /// The simulator refused (its answer's message).
    #[error("the simulator refused: {0}")]
    Simulator(String),
    #[error(transparent)]
    Journal(#[from] JournalFailure),
}

/// A journal error, kept as text so the error stays `Clone`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JournalFailure(pub String);

impl From<RedemptionLogError> for RedeemError {
    fn from(e: RedemptionLogError) -> Self {
        RedeemError::Journal(JournalFailure(e.to_string()))
    }
}

impl RedeemError {
    /// Whether the same step may succeed later by itself (the network, a
    /// transaction still pending). The rest needs a person.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RedeemError::Rpc(_) | RedeemError::Pending(_))
    }
}

/// How one market's redemption ended this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// Redeemed now (or a transaction from before was found mined).
    Redeemed { tx_hash: Option<B256>, payout: Usdc },
    /// The journal already holds the confirmed redemption: nothing sent.
    AlreadyRedeemed { tx_hash: Option<B256>, payout: Usdc },
    /// The oracle has not reported on chain yet.
    NotResolved,
    /// Resolved, and the holder has no shares of it on chain.
    NothingHeld,
    /// No such condition on this chain.
    NotPrepared,
}

/// Reads the chain, signs, broadcasts, looks transactions up.
pub trait Redeemer: Send + Sync {
    fn via(&self) -> Via;
    /// The address whose shares are redeemed.
    fn holder(&self) -> Address;
    fn inspect<'a>(&'a self, market: &'a ConditionId) -> BoxFuture<'a, Result<Inspection, RedeemError>>;
    /// Builds and signs the redemption (nothing leaves the machine).
    /// `plan` is `None` for a [`Inspection::Blind`] redeemer.
    fn sign<'a>(
        &'a self,
        market: &'a ConditionId,
        plan: Option<&'a RedeemPlan>,
    ) -> BoxFuture<'a, Result<Signed, RedeemError>>;
    /// Broadcasts and waits (bounded) for the outcome.
    fn submit<'a>(
        &'a self,
        market: &'a ConditionId,
        signed: &'a Signed,
    ) -> BoxFuture<'a, Result<Settlement, RedeemError>>;
    /// Looks a transaction up by hash.
    fn status(&self, tx_hash: B256) -> BoxFuture<'_, Result<TxStatus, RedeemError>>;
}

/// Redeems `market`'s shares through `redeemer`, journaling in `log`.
pub async fn redeem_market(
    redeemer: &dyn Redeemer,
    log: &Mutex<dyn RedemptionLog>,
    clock: &dyn Clock,
    market: &ConditionId,
) -> Result<RedeemOutcome, RedeemError> {
    let state: RedemptionState = lock(log).redemption_state(market)?;
    if let Some(done) = &state.confirmed {
        return Ok(RedeemOutcome::AlreadyRedeemed { tx_hash: done.tx_hash, payout: done.payout.unwrap_or(Usdc::ZERO) });
    }
    let step = Step { redeemer, log, clock, market };
    let in_flight = state.in_flight().cloned();
    if let Some(sent) = &in_flight {
        let hash = sent.tx_hash.expect("in flight means a hash");
        match redeemer.status(hash).await? {
            TxStatus::Pending => return Err(RedeemError::Pending(hash)),
            TxStatus::Settled(settled) => return step.settled(settled, sent.payout, &sent.detail),
            // Never arrived or dropped: the chain decides below.
            TxStatus::Unknown => {}
        }
    }
    let plan = match redeemer.inspect(market).await? {
        Inspection::Blind => None,
        Inspection::Chain(view) => match plan(&view) {
            Plan::NotPrepared => return Ok(RedeemOutcome::NotPrepared),
            Plan::NotResolved => return Ok(RedeemOutcome::NotResolved),
            Plan::NotBinary { slots } => {
                return Err(RedeemError::Unredeemable(format!("condition {market} has {slots} outcomes, not 2")));
            }
            Plan::Overflow => {
                return Err(RedeemError::Unredeemable(format!("the payout of {market} does not fit pUSD")));
            }
            Plan::NothingHeld => {
                return match &in_flight {
                    // Our transaction is not found, yet the shares are gone:
                    // it was mined (seen through another node, or the node
                    // forgot it). Counted once, at the payout it was sent for.
                    Some(sent) => step.confirm(
                        sent.tx_hash,
                        sent.payout.unwrap_or(Usdc::ZERO),
                        json!({
                            "found": "the shares are gone from the chain; the transaction was not found by hash",
                            "sent": sent.detail,
                        }),
                    ),
                    None => Ok(RedeemOutcome::NothingHeld),
                };
            }
            Plan::Redeem(p) => Some(p),
        },
    };
    let signed = redeemer.sign(market, plan.as_ref()).await?;
    let detail = match &plan {
        Some(p) => json!({
            "kind": p.kind,
            "position_ids": p.position_ids.iter().map(U256::to_string).collect::<Vec<_>>(),
            "shares": p.balances.iter().map(U256::to_string).collect::<Vec<_>>(),
            "holder": format!("{:#x}", redeemer.holder()),
        }),
        None => json!({"holder": format!("{:#x}", redeemer.holder())}),
    };
    let expected = plan.as_ref().map(|p| p.expected_payout);
    if let Some(hash) = signed.tx_hash {
        // Journal first: if this fails, nothing is sent.
        step.record(RedemptionStatus::Sent, Some(hash), expected, detail.clone())?;
    }
    let settled = redeemer.submit(market, &signed).await?;
    step.settled(settled, expected, &detail)
}

/// The journal writes of one run of [`redeem_market`].
struct Step<'a> {
    redeemer: &'a dyn Redeemer,
    log: &'a Mutex<dyn RedemptionLog>,
    clock: &'a dyn Clock,
    market: &'a ConditionId,
}

impl Step<'_> {
    fn record(
        &self,
        status: RedemptionStatus,
        tx_hash: Option<B256>,
        payout: Option<Usdc>,
        detail: serde_json::Value,
    ) -> Result<(), RedeemError> {
        let row = RedemptionRow {
            market: *self.market,
            status,
            via: self.redeemer.via(),
            tx_hash,
            payout,
            detail,
            at: self.clock.now(),
        };
        lock(self.log).record_redemption(&row)?;
        Ok(())
    }

    fn confirm(
        &self,
        tx_hash: Option<B256>,
        payout: Usdc,
        detail: serde_json::Value,
    ) -> Result<RedeemOutcome, RedeemError> {
        match self.record(RedemptionStatus::Confirmed, tx_hash, Some(payout), detail) {
            Ok(()) => Ok(RedeemOutcome::Redeemed { tx_hash, payout }),
            // Another writer confirmed it meanwhile: counted there, not here.
            Err(RedeemError::Journal(_)) if self.already_confirmed() => {
                Ok(RedeemOutcome::AlreadyRedeemed { tx_hash, payout })
            }
            Err(e) => Err(e),
        }
    }

    fn already_confirmed(&self) -> bool {
        lock(self.log).redemption_state(self.market).is_ok_and(|s| s.confirmed.is_some())
    }

    /// Journals what became of a sent redemption. The payout counted is the
    /// contract's event when the receipt has one, else the payout expected
    /// from the shares burned (the same formula as the contract).
    fn settled(
        &self,
        settled: Settlement,
        expected: Option<Usdc>,
        sent: &serde_json::Value,
    ) -> Result<RedeemOutcome, RedeemError> {
        match settled {
            Settlement::Mined { tx_hash, block, payout } => {
                let paid = payout.or(expected).unwrap_or(Usdc::ZERO);
                let mut detail = json!({"block": block, "sent": sent});
                if let (Some(event), Some(expected)) = (payout, expected)
                    && event != expected
                {
                    // Shares moved between the read and the mining: the event is the truth.
                    detail["expected_payout"] = json!(expected.to_string());
                }
                self.confirm(Some(tx_hash), paid, detail)
            }
            Settlement::Reverted { tx_hash } => {
                self.record(RedemptionStatus::Failed, Some(tx_hash), None, json!({"reverted": true, "sent": sent}))?;
                Err(RedeemError::Reverted(tx_hash))
            }
            Settlement::Simulated { payout, winning_burned, losing_burned } => {
                if winning_burned.is_zero() && losing_burned.is_zero() {
                    return Ok(RedeemOutcome::NothingHeld);
                }
                let detail = json!({
                    "winning_burned": winning_burned.to_string(),
                    "losing_burned": losing_burned.to_string(),
                    "sent": sent,
                });
                self.confirm(None, payout, detail)
            }
        }
    }
}
