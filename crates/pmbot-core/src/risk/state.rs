//! What the risk gate remembers between intents.
//!
//! Invariant: committed collateral is the sum of open positions at cost
//! (their pUSD fees included) and resting buy orders at their limit price
//! plus the taker fee they may pay, never negative; share counts are
//! unsigned and an update that would make one negative is refused with a
//! typed error before anything changes. Days are UTC days of the event's own
//! time. A position left with less than a lot (0.01 share, which no order
//! can sell: the exchange may fill a BUY with shares finer than a lot) once
//! no sell is working on it is closed, as the engine's ledger closes its
//! trade: the loss or win counts then, not at the resolution.

use std::collections::BTreeMap;

use crate::amount::{Size, Usdc};
use crate::clock::TimestampMs;
use crate::events::{ClientOrderId, Fill, MarketResolved, OrderIntent, OrderUpdate};
use crate::fees::FeeModel;
use crate::ids::{ConditionId, TokenId};
use crate::price::Price;
use crate::side::Side;

use super::config::RiskConfig;

const MS_PER_DAY: i64 = 86_400_000;

/// Polymarket's share lot: orders are whole hundredths of a share.
const LOT: Size = Size::from_micros(10_000);

/// The UTC day (days since the unix epoch) a timestamp falls in.
pub fn utc_day(at: TimestampMs) -> i64 {
    at.millis().div_euclid(MS_PER_DAY)
}

/// A token we hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub market: ConditionId,
    /// Shares held.
    pub shares: Size,
    /// What the shares still held cost, fees included.
    pub cost: Usdc,
    /// P&L realised so far by partial sells of this position.
    pub realised: Usdc,
}

/// Shares a sell left under a lot. Their position is closed and their cost
/// was booked as lost then; a winning resolution pays them out as a gain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dust {
    market: ConditionId,
    shares: Size,
}

/// A buy order accepted by the gate and not yet filled or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingBuy {
    market: ConditionId,
    token: TokenId,
    limit: Price,
    remaining: Size,
    /// The market's fee schedule, and whether the order may pay the taker fee.
    fee: FeeModel,
    may_take: bool,
}

/// A sell order sent and not yet filled or ended: its shares are spoken for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingSell {
    token: TokenId,
    remaining: Size,
}

impl PendingBuy {
    fn reserved(&self) -> Usdc {
        self.fee.max_buy_cost(self.limit, self.remaining, self.may_take)
    }
}

/// What a fill or a resolution did to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionChange {
    /// Shares were bought.
    Increased,
    /// Some shares were sold; the position stays open (or had closed with
    /// under a lot left, and these were some of those).
    Reduced { realised: Usdc },
    /// The position is closed; `pnl` is its whole realised result.
    Closed { pnl: Usdc, outcome: CloseOutcome },
}

/// Whether a close counts as a loss for the streak and the market cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    /// P&L below zero.
    Loss,
    /// P&L zero or above: ends a losing streak.
    NotLoss,
}

/// A state update that does not fit the state; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskStateError {
    #[error("sell fill of {sold} shares of token {token} but only {held} are held")]
    SellExceedsPosition { token: TokenId, held: Size, sold: Size },
    #[error("token {token} is held in market {held_in}, not in market {given}")]
    MarketMismatch { token: TokenId, held_in: ConditionId, given: ConditionId },
    #[error("fill of zero shares of token {0}")]
    ZeroFill(TokenId),
    #[error("order {0} is already recorded as placed")]
    DuplicateOrder(ClientOrderId),
}

/// The gate's memory, changed only by the `record_*` methods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskState {
    /// The UTC day `realised_today` belongs to.
    day: Option<i64>,
    realised_today: Usdc,
    consecutive_losses: u32,
    streak_paused_until: Option<TimestampMs>,
    market_paused_until: BTreeMap<ConditionId, TimestampMs>,
    positions: BTreeMap<TokenId, Position>,
    pending: BTreeMap<ClientOrderId, PendingBuy>,
    pending_sells: BTreeMap<ClientOrderId, PendingSell>,
    dust: BTreeMap<TokenId, Dust>,
}

impl RiskState {
    pub fn new() -> RiskState {
        RiskState::default()
    }

    /// P&L realised in the UTC day of `now` (zero once a new day has begun).
    pub fn realised_on_day_of(&self, now: TimestampMs) -> Usdc {
        if self.day == Some(utc_day(now)) { self.realised_today } else { Usdc::ZERO }
    }

    /// Losing closes in a row since the last non-losing close or pause.
    pub fn consecutive_losses(&self) -> u32 {
        self.consecutive_losses
    }

    /// End of the loss-streak pause, if one was ever started.
    pub fn streak_paused_until(&self) -> Option<TimestampMs> {
        self.streak_paused_until
    }

    /// End of the market's loss cooldown, if it had a losing close.
    pub fn market_paused_until(&self, market: &ConditionId) -> Option<TimestampMs> {
        self.market_paused_until.get(market).copied()
    }

    pub fn position(&self, token: &TokenId) -> Option<&Position> {
        self.positions.get(token)
    }

    /// Shares of `token` held.
    pub fn held(&self, token: &TokenId) -> Size {
        self.positions.get(token).map_or(Size::ZERO, |p| p.shares)
    }

    /// Shares of `token` a closed position left under a lot (paid out, if
    /// they win, at the resolution).
    pub fn dust(&self, token: &TokenId) -> Size {
        self.dust.get(token).map_or(Size::ZERO, |d| d.shares)
    }

    /// Shares of `token` that sent sell orders may still sell.
    pub fn being_sold(&self, token: &TokenId) -> Size {
        self.pending_sells.values().filter(|p| &p.token == token).map(|p| p.remaining).sum()
    }

    /// Tokens held or with a resting buy: what `max_open_positions` counts.
    pub fn open_positions(&self) -> usize {
        let mut tokens: Vec<&TokenId> = self.positions.keys().collect();
        tokens.extend(self.pending.values().map(|p| &p.token));
        tokens.sort();
        tokens.dedup();
        tokens.len()
    }

    /// Whether `token` is held or has a resting buy.
    pub fn is_open(&self, token: &TokenId) -> bool {
        self.positions.contains_key(token) || self.pending.values().any(|p| &p.token == token)
    }

    /// Collateral committed in `market`: positions at cost plus resting buys.
    pub fn market_exposure(&self, market: &ConditionId) -> Usdc {
        let held: Usdc = self.positions.values().filter(|p| &p.market == market).map(|p| p.cost).sum();
        let resting: Usdc = self.pending.values().filter(|p| &p.market == market).map(PendingBuy::reserved).sum();
        held + resting
    }

    /// Collateral committed everywhere: what `capital_cap` bounds.
    pub fn committed(&self) -> Usdc {
        let held: Usdc = self.positions.values().map(|p| p.cost).sum();
        let resting: Usdc = self.pending.values().map(PendingBuy::reserved).sum();
        held + resting
    }

    /// An intent the gate accepted was sent: a buy reserves its cost and the
    /// taker fee it may pay (by the market's schedule `fee`), a sell its
    /// shares, until it fills or ends.
    pub(crate) fn record_placed(
        &mut self,
        intent: &OrderIntent,
        market: ConditionId,
        fee: FeeModel,
    ) -> Result<(), RiskStateError> {
        let id = &intent.client_order_id;
        if self.pending.contains_key(id) || self.pending_sells.contains_key(id) {
            return Err(RiskStateError::DuplicateOrder(id.clone()));
        }
        self.check_market(&intent.token, market)?;
        if intent.side == Side::Sell {
            let pending = PendingSell { token: intent.token.clone(), remaining: intent.size };
            self.pending_sells.insert(id.clone(), pending);
            return Ok(());
        }
        let pending = PendingBuy {
            market,
            token: intent.token.clone(),
            limit: intent.limit_price,
            remaining: intent.size,
            fee,
            may_take: intent.may_take(),
        };
        self.pending.insert(intent.client_order_id.clone(), pending);
        Ok(())
    }

    /// An order ended (filled, cancelled, rejected): release what it still reserved.
    /// A sell that ends with under a lot of its position left and nothing
    /// else selling it closes the position.
    pub(crate) fn record_order_update(&mut self, update: &OrderUpdate, config: &RiskConfig) {
        if !update.status.is_terminal() {
            return;
        }
        self.pending.remove(&update.client_order_id);
        if let Some(sell) = self.pending_sells.remove(&update.client_order_id)
            && self.positions.get(&sell.token).is_some_and(|p| p.shares < LOT)
            && self.being_sold(&sell.token).is_zero()
        {
            self.close(&sell.token, update.at, config);
        }
    }

    /// One of our orders traded. `market` is the token's market.
    pub(crate) fn record_fill(
        &mut self,
        fill: &Fill,
        market: ConditionId,
        config: &RiskConfig,
    ) -> Result<PositionChange, RiskStateError> {
        if fill.size.is_zero() {
            return Err(RiskStateError::ZeroFill(fill.token.clone()));
        }
        self.check_market(&fill.token, market)?;
        match fill.side {
            Side::Buy => self.record_buy(fill, market),
            Side::Sell => self.record_sell(fill, config),
        }
    }

    fn check_market(&self, token: &TokenId, market: ConditionId) -> Result<(), RiskStateError> {
        let held_in = self.positions.get(token).map(|p| p.market);
        let pending_in = self.pending.values().find(|p| &p.token == token).map(|p| p.market);
        match held_in.or(pending_in) {
            Some(held_in) if held_in != market => {
                Err(RiskStateError::MarketMismatch { token: token.clone(), held_in, given: market })
            }
            _ => Ok(()),
        }
    }

    fn record_buy(&mut self, fill: &Fill, market: ConditionId) -> Result<PositionChange, RiskStateError> {
        // Every share matched is received; the fee is pUSD on top.
        let cost = Usdc::from_price_size_ceil(fill.price, fill.size) + fill.fee;
        if let Some(id) = &fill.client_order_id
            && let Some(pending) = self.pending.get_mut(id)
        {
            pending.remaining = pending.remaining.saturating_sub(fill.size);
            if pending.remaining.is_zero() {
                self.pending.remove(id);
            }
        }
        let position = self.positions.entry(fill.token.clone()).or_insert(Position {
            market,
            shares: Size::ZERO,
            cost: Usdc::ZERO,
            realised: Usdc::ZERO,
        });
        position.shares += fill.size;
        position.cost += cost;
        Ok(PositionChange::Increased)
    }

    fn record_sell(&mut self, fill: &Fill, config: &RiskConfig) -> Result<PositionChange, RiskStateError> {
        let leaving = fill.size;
        let held = self.held(&fill.token);
        // A late piece of an exit whose position already closed with under a
        // lot left (its order ended first): it sells some of that dust.
        let from_dust = held.is_zero() && leaving <= self.dust(&fill.token);
        if leaving > held && !from_dust {
            return Err(RiskStateError::SellExceedsPosition { token: fill.token.clone(), held, sold: fill.size });
        }
        if let Some(id) = &fill.client_order_id
            && let Some(pending) = self.pending_sells.get_mut(id)
        {
            pending.remaining = pending.remaining.saturating_sub(fill.size);
            if pending.remaining.is_zero() {
                self.pending_sells.remove(id);
            }
        }
        let proceeds = Usdc::from_price_size_floor(fill.price, fill.size) - fill.fee;
        if from_dust {
            // Written off at cost when the position closed: all it fetches is gain.
            if let Some(d) = self.dust.get_mut(&fill.token) {
                d.shares -= leaving;
                if d.shares.is_zero() {
                    self.dust.remove(&fill.token);
                }
            }
            self.book_realised(fill.time.received, proceeds);
            return Ok(PositionChange::Reduced { realised: proceeds });
        }
        Ok(self.reduce(&fill.token, leaving, proceeds, fill.time.received, config))
    }

    /// A market resolved: each winning share pays 1 pUSD, the others nothing;
    /// every position in the market closes.
    pub(crate) fn record_resolution(&mut self, resolved: &MarketResolved, config: &RiskConfig) -> Vec<PositionChange> {
        let tokens: Vec<TokenId> =
            self.positions.iter().filter(|(_, p)| p.market == resolved.market).map(|(t, _)| t.clone()).collect();
        let mut changes = Vec::with_capacity(tokens.len());
        for token in tokens {
            let shares = self.held(&token);
            let payout = if token == resolved.winning_token {
                Usdc::from_micros(i64::try_from(shares.micros()).expect("share count fits in i64"))
            } else {
                Usdc::ZERO
            };
            changes.push(self.reduce(&token, shares, payout, resolved.time.received, config));
        }
        for token in &resolved.tokens {
            if let Some(dust) = self.dust.remove(token)
                && *token == resolved.winning_token
            {
                let payout = Usdc::from_micros(i64::try_from(dust.shares.micros()).expect("under a lot fits in i64"));
                self.book_realised(resolved.time.received, payout);
            }
        }
        self.dust.retain(|_, d| d.market != resolved.market);
        self.pending.retain(|_, p| p.market != resolved.market);
        self.pending_sells.retain(|_, p| !resolved.tokens.contains(&p.token));
        changes
    }

    /// Removes `leaving` (<= held) shares for `proceeds`, books the realised
    /// P&L and, if none is left, or under a lot with no sell working on it,
    /// the position's close.
    fn reduce(
        &mut self,
        token: &TokenId,
        leaving: Size,
        proceeds: Usdc,
        at: TimestampMs,
        config: &RiskConfig,
    ) -> PositionChange {
        let position = self.positions.get_mut(token).expect("caller checked the position holds the shares");
        // Cost leaves in proportion to the shares; the last sale takes the rest,
        // so the parts add up exactly to what was paid.
        let cost_out = if leaving == position.shares {
            position.cost
        } else {
            let part = i128::from(position.cost.micros()) * i128::from(leaving.micros())
                / i128::from(position.shares.micros());
            Usdc::from_micros(i64::try_from(part).expect("part of a cost fits in i64"))
        };
        let realised = proceeds - cost_out;
        position.shares -= leaving;
        position.cost -= cost_out;
        position.realised += realised;
        let left = position.shares;
        self.book_realised(at, realised);
        if left.is_zero() || left < LOT && self.being_sold(token).is_zero() {
            return self.close(token, at, config);
        }
        PositionChange::Reduced { realised }
    }

    /// Ends a position; shares left under a lot are written off at cost and
    /// kept apart for the resolution. Keeping such a position open until the
    /// resolution (as this did before) hid a losing exit from the loss streak
    /// and the market cooldown, and counted the dust as an open position.
    fn close(&mut self, token: &TokenId, at: TimestampMs, config: &RiskConfig) -> PositionChange {
        let position = self.positions.remove(token).expect("the caller found the position");
        if !position.shares.is_zero() {
            self.book_realised(at, -position.cost);
            let dust = self.dust.entry(token.clone()).or_insert(Dust { market: position.market, shares: Size::ZERO });
            dust.shares += position.shares;
        }
        let pnl = position.realised - position.cost;
        let outcome = self.book_close(position.market, pnl, at, config);
        PositionChange::Closed { pnl, outcome }
    }

    fn book_realised(&mut self, at: TimestampMs, pnl: Usdc) {
        let day = utc_day(at);
        match self.day {
            Some(current) if current == day => self.realised_today += pnl,
            // An event stamped on an earlier day (out of order) does not count
            // against today's limit.
            Some(current) if day < current => {}
            _ => {
                self.day = Some(day);
                self.realised_today = pnl;
            }
        }
    }

    fn book_close(&mut self, market: ConditionId, pnl: Usdc, at: TimestampMs, config: &RiskConfig) -> CloseOutcome {
        if pnl >= Usdc::ZERO {
            self.consecutive_losses = 0;
            return CloseOutcome::NotLoss;
        }
        self.market_paused_until.insert(market, at.plus_millis(config.market_loss_cooldown_ms));
        self.consecutive_losses += 1;
        if self.consecutive_losses >= config.loss_streak_limit {
            // The pause is the penalty for the streak; the count starts again
            // so that one more loss after it does not pause again at once.
            self.streak_paused_until = Some(at.plus_millis(config.loss_streak_cooldown_ms));
            self.consecutive_losses = 0;
        }
        CloseOutcome::Loss
    }
}
