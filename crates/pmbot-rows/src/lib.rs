//! The journal's vocabulary: the rows the engine writes (runs, decisions,
//! trades, payouts, marks), the order record the gateway writes before
//! sending, and what the journal's observer hears after each commit.
//!
//! Invariant: plain data and its traits (the observer, the order and
//! redemption logs, the execution venue), no I/O. The SQLite journal
//! (`pmbot-engine`) writes and reads these; the monitoring side
//! (`pmbot-ops`) and the gateway (`pmbot-venue`) name them without linking
//! the engine, so the crate graph DESIGN.md draws holds.

mod venue;

use alloy_primitives::B256;
use pmbot_core::{
    ClientOrderId, ConditionId, Fill, OrderId, OrderIntent, OrderStatus, OrderUpdate, Size, TimestampMs, TokenId, Usdc,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
pub use venue::{ExecutionVenue, VenueEvent};

/// `as_str`: a code's text in the journal (snake case, as serde writes it;
/// the strum derives on each enum).
macro_rules! journal_codes {
    ($($code:ty),*) => {$(
        impl $code {
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    )*};
}

journal_codes!(RunMode, DataSource, DecisionAction, EventSource);

/// What kind of run the engine is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumCount,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunMode {
    /// Paper trading: simulated fills, market data as it arrives.
    Paper,
    /// Replayed recordings through the paper venue.
    Backtest,
    /// Real orders through the gateway.
    Live,
}

/// Where a run's market data came from. Only [`DataSource::LiveData`] counts
/// towards the go-live gate.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumCount,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DataSource {
    /// Polymarket's own market channel, live.
    LiveData,
    /// Recorded data played back.
    Replay,
    /// The simulated exchange.
    Simulator,
}

/// What a run is, as it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    pub mode: RunMode,
    pub data_source: DataSource,
    /// Strategy, risk and venue settings (never a secret).
    pub config: serde_json::Value,
    pub model_fingerprint: String,
    /// What the report compares with: horizon, threshold, validated hit rate.
    pub model: serde_json::Value,
    pub pmbot_version: String,
    /// The reason given with `--override-gate`.
    pub gate_override: Option<String>,
    pub started: TimestampMs,
}

/// What came of one look at a market.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumCount,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DecisionAction {
    Enter,
    Exit,
    Pass,
    /// The strategy wanted an order; the risk gate refused it.
    Refused,
    /// The features were not ready (warm-up, no book).
    NotReady,
}

/// One sample of one market.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub run: i64,
    pub at: TimestampMs,
    pub market: ConditionId,
    pub up_token: TokenId,
    /// The UP book's best bid + best ask, in pips (twice the mid).
    pub up_mid2_pips: Option<u32>,
    pub p_up: Option<Decimal>,
    pub confidence: Option<Decimal>,
    pub action: DecisionAction,
    /// The pass rule, the refusal code, the exit reason, or `entry`.
    pub reason: String,
    pub client_order_id: Option<ClientOrderId>,
    /// Everything else that decided it (the numbers).
    pub detail: serde_json::Value,
}

/// A closed position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub run: i64,
    pub market: ConditionId,
    pub token: TokenId,
    pub entry_order: ClientOrderId,
    pub opened: TimestampMs,
    pub closed: TimestampMs,
    /// Shares matched on the buys.
    pub shares: Size,
    /// pUSD paid, fees included.
    pub cost: Usdc,
    /// pUSD from sells and payouts.
    pub proceeds: Usdc,
    /// Fees paid, in pUSD (a trade journaled before schema 4 counted the
    /// fee shares of its buys at their fill price).
    pub fees: Usdc,
    pub close_reason: String,
    pub confidence: Option<Decimal>,
    pub probability: Option<Decimal>,
}

impl Trade {
    /// Profit after every fee.
    pub fn pnl(&self) -> Usdc {
        self.proceeds - self.cost
    }
}

/// A resolution payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRow {
    pub run: i64,
    pub market: ConditionId,
    pub token: TokenId,
    pub shares: Size,
    pub amount: Usdc,
    pub at: TimestampMs,
}

/// The account marked to the best bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub run: i64,
    pub at: TimestampMs,
    pub cash: Usdc,
    /// Open positions at the best bid, plus `unredeemed`.
    pub positions: Usdc,
    /// Of `positions`: shares of resolved markets not yet redeemed, at
    /// their payout. Not cash until the redemption is confirmed.
    pub unredeemed: Usdc,
    /// Realised P&L so far in the run.
    pub realised: Usdc,
    /// Fees paid so far in the run.
    pub fees: Usdc,
    pub open_positions: u32,
}

impl Mark {
    pub fn equity(&self) -> Usdc {
        self.cash + self.positions
    }
}

/// One engine row, written together with others (`Journal::record_rows`).
#[derive(Debug, Clone, PartialEq)]
pub enum EngineRow {
    Decision(Decision),
    Trade(Trade),
    Payout(PayoutRow),
    Mark(Mark),
    /// The run that placed an order (the order's row must exist).
    RunOrder {
        run: i64,
        client_order_id: ClientOrderId,
        market: ConditionId,
    },
}

/// Who told the journal about a status change.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumCount,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EventSource {
    /// The gateway's own view (the `OrderLog` trait's calls).
    Gateway,
    /// A REST reply.
    Rest,
    /// The user WebSocket channel.
    UserChannel,
    /// Reconciliation with the exchange (start-up, after an ambiguous send).
    Reconcile,
    /// A person, through the command line.
    Operator,
    /// The paper venue (simulated fills).
    Paper,
}

/// What recording an order did (`Journal::record_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderOutcome {
    /// The order was new and is now recorded (status `new`, attempt 1).
    Recorded,
    /// The same signed order was recorded before; this is send attempt
    /// `attempt` (2, 3, ...), now recorded.
    Resend { attempt: u32 },
}

/// An order signed and about to be sent: everything needed to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedOrder {
    pub client_order_id: ClientOrderId,
    /// EIP-712 hash = the exchange's orderID, known before sending.
    pub order_hash: OrderId,
    pub salt: u64,
    pub intent: OrderIntent,
    pub market: ConditionId,
    /// The exact JSON body posted (no secrets in it: the signed order, its
    /// type and flags, and the API key's public id as `owner`).
    pub body: String,
    pub created: TimestampMs,
}

/// An open position as the monitoring side sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenPosition {
    pub market: ConditionId,
    pub token: TokenId,
    pub opened: TimestampMs,
    /// Shares held now.
    pub shares: Size,
    /// pUSD paid for the position (fees included) less what its sales brought.
    pub cost: Usdc,
    /// The shares at the token's best bid; `None` without a bid.
    pub value: Option<Usdc>,
    /// The model's confidence at entry.
    pub confidence: Option<Decimal>,
}

// ---- the gateway's journal seam ------------------------------------------
//
// Invariant: an order is recorded durably (`OrderLog::before_send`) before
// any byte of it is sent; if that fails, it is not sent. The SQLite journal
// (`pmbot-engine`) implements the trait; `pmbot-venue` has an in-memory one
// for tests.

/// Where the journal stands on an order that is not final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedOrder {
    pub prepared: PreparedOrder,
    pub status: OrderStatus,
    pub filled: Size,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderLogError {
    #[error("journal: {0}")]
    Storage(String),
    #[error("journal is full: {0}")]
    Full(String),
}

pub trait OrderLog: Send {
    /// Durably records an order about to be sent. If this fails the order must not be sent.
    fn before_send(&mut self, order: &PreparedOrder) -> Result<(), OrderLogError>;
    /// A status change (core `OrderUpdate`, keyed by client_order_id and/or order_id).
    fn update(&mut self, update: &OrderUpdate) -> Result<(), OrderLogError>;
    /// A fill; Ok(false) if this (trade id, order id) was already recorded (idempotent).
    fn fill(&mut self, fill: &Fill) -> Result<bool, OrderLogError>;
    /// An intent refused before sending (kill switch, balance, heartbeat down, ...), with the reason.
    fn refusal(&mut self, intent: &OrderIntent, reason: &str, at: TimestampMs) -> Result<(), OrderLogError>;
    /// Free-form journal event (reconciliation findings, alerts, balance reads): kind + JSON.
    fn note(&mut self, kind: &str, detail: &serde_json::Value, at: TimestampMs) -> Result<(), OrderLogError>;
    /// The orders start-up reconciles: those not yet in a final state, and
    /// final ones whose recorded fills add up to less than their filled size
    /// (a crash between writing an order's status and its fill).
    fn open_orders(&self) -> Result<Vec<LoggedOrder>, OrderLogError>;
}

// ---- redemptions ------------------------------------------------------------
//
// Invariant: a market has at most one confirmed redemption row, so a payout
// cannot be counted twice.

/// Where a redemption row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    /// Signed, its hash known, about to be broadcast (or broadcast with no
    /// answer yet). Not counted anywhere.
    Sent,
    /// The payout is in the wallet: mined and succeeded, or the simulator
    /// answered. Counted once.
    Confirmed,
    /// Mined and reverted, or refused: nothing was paid.
    Failed,
}

impl RedemptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RedemptionStatus::Sent => "sent",
            RedemptionStatus::Confirmed => "confirmed",
            RedemptionStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RedemptionStatus> {
        match s {
            "sent" => Some(RedemptionStatus::Sent),
            "confirmed" => Some(RedemptionStatus::Confirmed),
            "failed" => Some(RedemptionStatus::Failed),
            _ => None,
        }
    }
}

/// What carried the redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A transaction on chain (Polygon, or anvil on loopback).
    Chain,
    /// A simulated exchange's `POST /_sim/redeem` (no chain, no hash).
    Simulator,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Chain => "chain",
            Via::Simulator => "simulator",
        }
    }

    pub fn parse(s: &str) -> Option<Via> {
        match s {
            "chain" => Some(Via::Chain),
            "simulator" => Some(Via::Simulator),
            _ => None,
        }
    }
}

/// One journal row of a market's redemption.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedemptionRow {
    pub market: ConditionId,
    pub status: RedemptionStatus,
    pub via: Via,
    /// The transaction's hash (chain only).
    pub tx_hash: Option<B256>,
    /// Sent: the payout expected; confirmed: the payout received; failed: none.
    pub payout: Option<Usdc>,
    /// The shares burned, positions, reasons: never a secret.
    pub detail: serde_json::Value,
    pub at: TimestampMs,
}

/// What the journal knows of one market's redemption.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RedemptionState {
    /// The one confirmed row, if any.
    pub confirmed: Option<RedemptionRow>,
    /// The latest row of any status.
    pub last: Option<RedemptionRow>,
}

impl RedemptionState {
    /// A transaction sent whose fate the journal does not know yet.
    pub fn in_flight(&self) -> Option<&RedemptionRow> {
        if self.confirmed.is_some() {
            return None;
        }
        self.last.as_ref().filter(|r| r.status == RedemptionStatus::Sent && r.tx_hash.is_some())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RedemptionLogError {
    #[error("journal: {0}")]
    Storage(String),
    /// The market already has a confirmed redemption (a second would count
    /// its payout twice).
    #[error("journal: market {0} already has a confirmed redemption")]
    AlreadyConfirmed(ConditionId),
}

pub trait RedemptionLog: Send {
    /// Where the market's redemption stands.
    fn redemption_state(&self, market: &ConditionId) -> Result<RedemptionState, RedemptionLogError>;
    /// Durably appends a row. A second confirmed row for a market is refused
    /// ([`RedemptionLogError::AlreadyConfirmed`]).
    fn record_redemption(&mut self, row: &RedemptionRow) -> Result<(), RedemptionLogError>;
}

// ---- what the journal's observer hears ----------------------------------

/// One committed write.
#[derive(Debug, Clone, Copy)]
pub enum Committed<'a> {
    /// Engine rows written together (decisions, trades, payouts, marks, run orders).
    Rows(&'a [EngineRow]),
    /// An order recorded before sending: new, or a resend of the same order.
    Order {
        order: &'a PreparedOrder,
        outcome: OrderOutcome,
    },
    Update {
        update: &'a OrderUpdate,
        source: EventSource,
    },
    /// A fill recorded for the first time.
    Fill(&'a Fill),
    /// An intent refused before it was sent (the gateway's checks).
    Refusal {
        intent: &'a OrderIntent,
        reason: &'a str,
        at: TimestampMs,
    },
    Note {
        kind: &'a str,
        detail: &'a serde_json::Value,
        at: TimestampMs,
    },
    RunStarted {
        id: i64,
        run: &'a RunStart,
    },
    RunEnded {
        run: i64,
        at: TimestampMs,
        reason: &'a str,
    },
}

/// Hears of every committed write. See the module docs for the rules.
pub trait JournalObserver: Send {
    fn committed(&mut self, what: Committed<'_>);
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    /// serde (the JSON a report and a note carry) and strum (the journal's
    /// columns) spell every code the same, and the text parses back.
    fn same_spelling<T>()
    where
        T: VariantArray + Serialize + Copy + PartialEq + std::fmt::Debug + std::str::FromStr + Into<&'static str>,
    {
        for v in T::VARIANTS {
            let text: &'static str = (*v).into();
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(text.to_owned()), "{v:?}");
            assert_eq!(text.parse::<T>().ok(), Some(*v), "{text}");
        }
        assert!("no_such_code".parse::<T>().is_err());
    }

    #[test]
    fn every_code_is_spelt_alike_in_the_journal_and_in_json() {
        same_spelling::<RunMode>();
        same_spelling::<DataSource>();
        same_spelling::<DecisionAction>();
        same_spelling::<EventSource>();
        assert_eq!(DecisionAction::NotReady.as_str(), "not_ready");
        assert_eq!(EventSource::UserChannel.as_str(), "user_channel");
    }
}
