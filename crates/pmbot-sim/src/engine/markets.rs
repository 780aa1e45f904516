//! Listed markets: their spec, state, book and positions.
//!
//! Invariant: a market is reachable from its condition id and both token ids
//! until it is pruned, and then from none of them (what holders have not
//! redeemed moves to `redeem`'s settled store); its book holds only live
//! orders of its own tokens; before resolution `positions` of each token sum
//! to `pairs`, after it the winning token's do (the losing shares are
//! worthless and `pairs` is the collateral still locked for the winners).

use alloy_primitives::Address;
use pmbot_core::{ConditionId, OrderId, TickSize, TokenId};

use super::Exchange;
use super::accounts::Position;
use super::book::{Book, Outcome, own_price};
use super::fasthash::FastMap;
use super::types::{EngineEvent, MarketInfo, MarketSpec, Reject};

#[derive(Debug)]
pub(crate) struct Market {
    pub(crate) spec: MarketSpec,
    /// The tick in force now.
    pub(crate) tick: TickSize,
    pub(crate) accepting: bool,
    pub(crate) closed: bool,
    pub(crate) winner: Option<Outcome>,
    pub(crate) listed_ms: i64,
    pub(crate) resolved_ms: Option<i64>,
    pub(crate) book: Book,
    pub(crate) positions: FastMap<Address, Position>,
    /// Pairs minted and not merged (collateral locked, 1 pUSD each).
    pub(crate) pairs: u64,
    /// Primary-token price of the last trade, in pips.
    pub(crate) last_trade: Option<u16>,
    /// Time of the last change to the book.
    pub(crate) book_ts_ms: i64,
    /// Every order accepted for this market, forgotten when it is pruned.
    pub(crate) order_ids: Vec<OrderId>,
    pub(crate) fee_rate_bps: u32,
}

impl Market {
    pub(crate) fn position(&mut self, account: Address) -> &mut Position {
        self.positions.entry(account).or_default()
    }

    pub(crate) fn info(&self) -> MarketInfo {
        MarketInfo {
            spec: self.spec.clone(),
            tick: self.tick,
            accepting_orders: self.accepting,
            closed: self.closed,
            winner: self.winner.map(|o| self.spec.tokens[o].token_id.clone()),
            last_price: self.last_trade.map(|p| own_price(0, p)),
            listed_ms: self.listed_ms,
            resolved_ms: self.resolved_ms,
        }
    }

    pub(crate) fn token(&self, outcome: Outcome) -> &TokenId {
        &self.spec.tokens[outcome].token_id
    }
}

impl Exchange {
    /// Lists a binary market. Refused (and nothing changes) if its condition
    /// id or either token is already listed, or both tokens are the same.
    pub fn list_market(&mut self, spec: MarketSpec, now_ms: i64) -> Result<(), Reject> {
        if spec.tokens[0].token_id == spec.tokens[1].token_id {
            return Err(Reject::InvalidMarket { reason: "both outcomes have the same token id" });
        }
        if spec.fee.validate().is_err() {
            return Err(Reject::InvalidMarket { reason: "unusable fee schedule" });
        }
        if self.by_condition.contains_key(&spec.condition_id)
            || self.settled.contains(&spec.condition_id)
            || spec.tokens.iter().any(|t| self.by_token.contains_key(&t.token_id))
        {
            return Err(Reject::DuplicateMarket);
        }
        let idx = self.next_market;
        self.next_market += 1;
        let accepting = spec.end_ms.is_none_or(|end| end > now_ms);
        if let (true, Some(end)) = (accepting, spec.end_ms) {
            self.closing.insert((end, idx));
        }
        self.by_condition.insert(spec.condition_id, idx);
        for (outcome, token) in spec.tokens.iter().enumerate() {
            self.by_token.insert(token.token_id.clone(), (idx, outcome));
        }
        let fee_rate_bps = spec.fee.rate_bps();
        self.events.push(EngineEvent::MarketListed { market: spec.clone(), timestamp_ms: now_ms });
        self.markets.insert(
            idx,
            Market {
                tick: spec.tick,
                spec,
                accepting,
                closed: !accepting,
                winner: None,
                listed_ms: now_ms,
                resolved_ms: None,
                book: Book::default(),
                positions: FastMap::default(),
                pairs: 0,
                last_trade: None,
                book_ts_ms: now_ms,
                order_ids: Vec::new(),
                fee_rate_bps,
            },
        );
        Ok(())
    }

    pub fn market(&self, id: &ConditionId) -> Option<MarketInfo> {
        self.by_condition.get(id).map(|idx| self.markets[idx].info())
    }

    /// Every listed (not yet pruned) market, in listing order.
    pub fn markets(&self) -> Vec<MarketInfo> {
        self.markets.values().map(Market::info).collect()
    }

    pub fn market_of_token(&self, token: &TokenId) -> Option<MarketInfo> {
        self.by_token.get(token).map(|(idx, _)| self.markets[idx].info())
    }

    /// Applies the tick rule to a market after its book changed, emitting
    /// `TickSizeChanged` for both tokens when the tick moves.
    pub(crate) fn retick(&mut self, idx: u32, now_ms: i64) {
        let rule = self.cfg.tick_rule;
        let Some(market) = self.markets.get_mut(&idx) else {
            return;
        };
        let listed = market.spec.tick;
        if market.winner.is_some() || listed.pips() <= rule.fine.pips() {
            return;
        }
        let (bid, ask) = (market.book.best_bid(), market.book.best_ask());
        let new = if market.tick == listed {
            let extreme =
                bid.is_some_and(|b| b > rule.enter_above.pips()) || ask.is_some_and(|a| a < rule.enter_below.pips());
            if extreme { rule.fine } else { listed }
        } else {
            let inside = bid.is_none_or(|b| b <= rule.exit_at_or_below.pips())
                && ask.is_none_or(|a| a >= rule.exit_at_or_above.pips());
            if inside { listed } else { market.tick }
        };
        if new == market.tick {
            return;
        }
        let old = market.tick;
        market.tick = new;
        for outcome in 0..2 {
            self.events.push(EngineEvent::TickSizeChanged {
                market: market.spec.condition_id,
                token: market.token(outcome).clone(),
                old,
                new,
                timestamp_ms: now_ms,
            });
        }
    }
}
