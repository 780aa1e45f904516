//! The gate every order intent passes before it is sent.
//!
//! Invariant: an intent the gate allows keeps every configured limit true for
//! the state it was checked against; a buy is never allowed if its cost (limit
//! price x size, rounded up, plus the taker fee it may pay in pUSD at the
//! limit) would take committed collateral above the capital cap. Sells that close held shares (exits) are only stopped by the rules that
//! make any trading unsafe: kill switch, failed balance check, bad book.

use std::fmt;

use crate::amount::{Size, Usdc};
use crate::clock::TimestampMs;
use crate::events::{Fill, MarketResolved, OrderIntent, OrderUpdate};
use crate::fees::FeeModel;
use crate::ids::ConditionId;
use crate::price::Price;
use crate::side::Side;

use super::config::{RiskConfig, RiskConfigError};
use super::state::{PositionChange, RiskState, RiskStateError};

/// The market-data layer's view of the intent's token book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookStatus {
    /// Synced and hash-checked; false while a resync is pending.
    pub trusted: bool,
    /// When the book last changed or was confirmed; `None` if never synced.
    pub last_update: Option<TimestampMs>,
}

/// Outcome of the live balance pre-check, done by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalanceCheck {
    /// Paper and backtest: there is no wallet to check.
    NotRequired,
    Passed,
    Failed {
        reason: String,
    },
}

/// Everything outside the gate's own state that a check needs; all read by
/// the caller, so the gate stays pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskContext {
    /// The engine clock at the decision.
    pub now: TimestampMs,
    /// The market the intent's token belongs to.
    pub market: ConditionId,
    pub book: BookStatus,
    /// When the market stops trading; `None` if unknown.
    pub market_end: Option<TimestampMs>,
    /// Whether the kill-switch file exists.
    pub kill_switch: bool,
    pub balance: BalanceCheck,
    /// The market's fee schedule: a buy's cost includes its taker fee.
    pub fee: FeeModel,
}

/// Why an intent was refused: one variant per rule. `Display` is the journaled
/// reason (it names the rule and the numbers); [`RiskRefusal::code`] is the
/// stable key refusals are counted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskRefusal {
    KillSwitch,
    BalanceCheckFailed { reason: String },
    BookUntrusted,
    BookNeverSynced,
    BookStale { age_ms: i64, max_ms: i64 },
    DailyLossLimit { realised: Usdc, limit: Usdc },
    LossStreakCooldown { until: TimestampMs, remaining_ms: i64 },
    MarketCooldown { market: ConditionId, until: TimestampMs, remaining_ms: i64 },
    MarketEndUnknown,
    MarketEndTooClose { remaining_ms: i64, min_ms: i64 },
    PriceOutsideBand { price: Price, min: Price, max: Price },
    PerTradeLimit { cost: Usdc, max: Usdc },
    MaxOpenPositions { open: usize, max: u32 },
    MarketExposure { current: Usdc, cost: Usdc, max: Usdc },
    CapitalCap { committed: Usdc, cost: Usdc, cap: Usdc },
    SellExceedsPosition { held: Size, being_sold: Size, size: Size },
}

impl RiskRefusal {
    /// A stable snake_case key per rule, for counting refusals by reason.
    pub const fn code(&self) -> &'static str {
        match self {
            RiskRefusal::KillSwitch => "kill_switch",
            RiskRefusal::BalanceCheckFailed { .. } => "balance_check",
            RiskRefusal::BookUntrusted => "book_untrusted",
            RiskRefusal::BookNeverSynced => "book_never_synced",
            RiskRefusal::BookStale { .. } => "book_stale",
            RiskRefusal::DailyLossLimit { .. } => "daily_loss_limit",
            RiskRefusal::LossStreakCooldown { .. } => "loss_streak_cooldown",
            RiskRefusal::MarketCooldown { .. } => "market_cooldown",
            RiskRefusal::MarketEndUnknown => "market_end_unknown",
            RiskRefusal::MarketEndTooClose { .. } => "market_end_too_close",
            RiskRefusal::PriceOutsideBand { .. } => "price_band",
            RiskRefusal::PerTradeLimit { .. } => "max_per_trade",
            RiskRefusal::MaxOpenPositions { .. } => "max_open_positions",
            RiskRefusal::MarketExposure { .. } => "max_exposure_per_market",
            RiskRefusal::CapitalCap { .. } => "capital_cap",
            RiskRefusal::SellExceedsPosition { .. } => "sell_exceeds_position",
        }
    }
}

impl fmt::Display for RiskRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RiskRefusal::KillSwitch => write!(f, "kill switch: the kill-switch file is present"),
            RiskRefusal::BalanceCheckFailed { reason } => write!(f, "balance check failed: {reason}"),
            RiskRefusal::BookUntrusted => write!(f, "book untrusted: the token's book is not synced and verified"),
            RiskRefusal::BookNeverSynced => write!(f, "book never synced: no snapshot of the token's book yet"),
            RiskRefusal::BookStale { age_ms, max_ms } => {
                write!(f, "book stale: last update {age_ms} ms ago > max {max_ms} ms")
            }
            RiskRefusal::DailyLossLimit { realised, limit } => {
                write!(f, "daily loss limit: realised {realised} USDC today reaches the limit of -{limit} USDC")
            }
            RiskRefusal::LossStreakCooldown { until, remaining_ms } => {
                write!(f, "loss streak cooldown: paused until {until} ({remaining_ms} ms left)")
            }
            RiskRefusal::MarketCooldown { market, until, remaining_ms } => {
                write!(f, "market cooldown: market {market} paused after a loss until {until} ({remaining_ms} ms left)")
            }
            RiskRefusal::MarketEndUnknown => write!(f, "market end unknown: cannot check the time to market end"),
            RiskRefusal::MarketEndTooClose { remaining_ms, min_ms } => {
                write!(f, "market end too close: {remaining_ms} ms to end < min {min_ms} ms")
            }
            RiskRefusal::PriceOutsideBand { price, min, max } => {
                write!(f, "price band: limit price {price} outside [{min}, {max}]")
            }
            RiskRefusal::PerTradeLimit { cost, max } => {
                write!(f, "max per trade: order cost {cost} USDC > max {max} USDC")
            }
            RiskRefusal::MaxOpenPositions { open, max } => {
                write!(f, "max open positions: {open} open, max {max}; a new one would exceed it")
            }
            RiskRefusal::MarketExposure { current, cost, max } => {
                write!(f, "max exposure per market: {current} + {cost} USDC > max {max} USDC")
            }
            RiskRefusal::CapitalCap { committed, cost, cap } => {
                write!(f, "capital cap: {committed} committed + {cost} USDC > cap {cap} USDC")
            }
            RiskRefusal::SellExceedsPosition { held, being_sold, size } => {
                write!(
                    f,
                    "sell exceeds position: selling {size} shares but {held} held, {being_sold} of them already being sold"
                )
            }
        }
    }
}

impl std::error::Error for RiskRefusal {}

/// The risk limits and the state they are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskGate {
    config: RiskConfig,
    state: RiskState,
}

impl RiskGate {
    /// A gate with empty state; refuses a config that does not validate.
    pub fn new(config: RiskConfig) -> Result<RiskGate, RiskConfigError> {
        config.validate()?;
        Ok(RiskGate { config, state: RiskState::new() })
    }

    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    pub fn state(&self) -> &RiskState {
        &self.state
    }

    /// Allows the intent or names the first rule it breaks.
    pub fn check(&self, intent: &OrderIntent, ctx: &RiskContext) -> Result<(), RiskRefusal> {
        self.check_trading_allowed(ctx)?;
        match intent.side {
            Side::Buy => self.check_entry(intent, ctx),
            Side::Sell => {
                // Shares already promised to sent sell orders cannot be sold twice.
                let held = self.state.held(&intent.token);
                let being_sold = self.state.being_sold(&intent.token);
                if intent.size + being_sold > held {
                    return Err(RiskRefusal::SellExceedsPosition { held, being_sold, size: intent.size });
                }
                Ok(())
            }
        }
    }

    /// The rules that stop every order, exits included.
    fn check_trading_allowed(&self, ctx: &RiskContext) -> Result<(), RiskRefusal> {
        if ctx.kill_switch {
            return Err(RiskRefusal::KillSwitch);
        }
        if let BalanceCheck::Failed { reason } = &ctx.balance {
            return Err(RiskRefusal::BalanceCheckFailed { reason: reason.clone() });
        }
        if self.config.require_trusted_book && !ctx.book.trusted {
            return Err(RiskRefusal::BookUntrusted);
        }
        let last = ctx.book.last_update.ok_or(RiskRefusal::BookNeverSynced)?;
        // An update stamped after `now` (clock skew) counts as fresh.
        let age_ms = ctx.now.millis_since(last).max(0);
        if age_ms > self.config.max_book_age_ms {
            return Err(RiskRefusal::BookStale { age_ms, max_ms: self.config.max_book_age_ms });
        }
        Ok(())
    }

    /// The rules for a buy, which opens or adds to a position.
    fn check_entry(&self, intent: &OrderIntent, ctx: &RiskContext) -> Result<(), RiskRefusal> {
        let cfg = &self.config;
        let st = &self.state;
        let now = ctx.now;

        let realised = st.realised_on_day_of(now);
        if realised <= -cfg.daily_loss_limit {
            return Err(RiskRefusal::DailyLossLimit { realised, limit: cfg.daily_loss_limit });
        }
        if let Some(until) = st.streak_paused_until()
            && now < until
        {
            return Err(RiskRefusal::LossStreakCooldown { until, remaining_ms: until.millis_since(now) });
        }
        if let Some(until) = st.market_paused_until(&ctx.market)
            && now < until
        {
            let remaining_ms = until.millis_since(now);
            return Err(RiskRefusal::MarketCooldown { market: ctx.market, until, remaining_ms });
        }
        let end = ctx.market_end.ok_or(RiskRefusal::MarketEndUnknown)?;
        let remaining_ms = end.millis_since(now);
        if remaining_ms < cfg.min_time_to_end_ms {
            return Err(RiskRefusal::MarketEndTooClose { remaining_ms, min_ms: cfg.min_time_to_end_ms });
        }
        let price = intent.limit_price;
        if price < cfg.min_price || price > cfg.max_price {
            return Err(RiskRefusal::PriceOutsideBand { price, min: cfg.min_price, max: cfg.max_price });
        }
        // A taker buy pays its fee in pUSD on top of the notional: the
        // collateral it needs is both, at the limit (the most it can cost).
        let cost = ctx.fee.max_buy_cost(price, intent.size, intent.may_take());
        if cost > cfg.max_per_trade {
            return Err(RiskRefusal::PerTradeLimit { cost, max: cfg.max_per_trade });
        }
        let open = st.open_positions();
        if !st.is_open(&intent.token) && open >= cfg.max_open_positions as usize {
            return Err(RiskRefusal::MaxOpenPositions { open, max: cfg.max_open_positions });
        }
        let current = st.market_exposure(&ctx.market);
        if current + cost > cfg.max_exposure_per_market {
            return Err(RiskRefusal::MarketExposure { current, cost, max: cfg.max_exposure_per_market });
        }
        let committed = st.committed();
        if committed + cost > cfg.capital_cap {
            return Err(RiskRefusal::CapitalCap { committed, cost, cap: cfg.capital_cap });
        }
        Ok(())
    }

    /// Records a buy intent sent after [`RiskGate::check`] allowed it: it
    /// reserves its cost (with the taker fee by the market's schedule `fee`)
    /// until it fills or ends, so the next check sees it.
    pub fn record_placed(
        &mut self,
        intent: &OrderIntent,
        market: ConditionId,
        fee: FeeModel,
    ) -> Result<(), RiskStateError> {
        self.state.record_placed(intent, market, fee)
    }

    /// Records an order update; a terminal one releases the order's reservation.
    pub fn record_order_update(&mut self, update: &OrderUpdate) {
        self.state.record_order_update(update, &self.config);
    }

    /// Records one of our fills in `market` (the token's market).
    pub fn record_fill(&mut self, fill: &Fill, market: ConditionId) -> Result<PositionChange, RiskStateError> {
        self.state.record_fill(fill, market, &self.config)
    }

    /// Records a market's resolution, closing every position in it.
    pub fn record_resolution(&mut self, resolved: &MarketResolved) -> Vec<PositionChange> {
        self.state.record_resolution(resolved, &self.config)
    }
}
