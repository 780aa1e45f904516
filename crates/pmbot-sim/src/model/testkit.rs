//! A small stand-in exchange for testing market sources before the real
//! engine is wired in: it applies [`ModelAction`]s with price-time matching
//! on one primary book per market (a BUY of the second token at `q` is an ask
//! at `1 - q`), checks what the real engine checks that a source controls
//! (listing, funding, tick, range, minimum size, $1 marketable minimum,
//! duplicates, ownership), and records every refusal so tests can assert
//! there were none. It switches a market to the 0.001 tick when a best price
//! goes above 0.96 or below 0.04, as Polymarket does.

use std::collections::{BTreeMap, HashMap};

use pmbot_core::{ConditionId, OrderId, Price, Side, Size, TickSize, TokenId, Usdc};

use super::{ExchangeView, ModelAction};
use crate::engine::{Address, BookView, CancelCause, Level, MarketSpec, OrderRecord, OrderStatus, OrderType};

struct Resting {
    id: OrderId,
    /// Buy = bid on the primary book, Sell = ask.
    book_side: Side,
    primary_price: Price,
    remaining: Size,
    seq: u64,
}

struct FakeMarket {
    spec: MarketSpec,
    tick: TickSize,
    resting: Vec<Resting>,
    resolved: bool,
    last_trade: Option<Price>,
    updated_ms: i64,
}

#[derive(Default)]
pub(crate) struct FakeExchange {
    markets: HashMap<ConditionId, FakeMarket>,
    token_market: HashMap<TokenId, (ConditionId, usize)>,
    orders: HashMap<OrderId, OrderRecord>,
    pub funded: HashMap<Address, Usdc>,
    /// Refusals a correct source should never cause.
    pub problems: Vec<String>,
    /// Marketable orders that found nothing to match (normal for takers).
    pub fak_misses: u64,
    /// Cancels of orders that were no longer live (normal: filled first).
    pub cancel_misses: u64,
    pub trades: u64,
    pub traded: Size,
    /// Shares bought by each taker (the account whose order crossed).
    pub taken_by: HashMap<Address, Size>,
    pub resolutions: Vec<(ConditionId, TokenId, i64)>,
    /// Redemptions of resolved markets' holdings.
    pub redemptions: u64,
    seq: u64,
}

impl FakeExchange {
    pub fn apply(&mut self, now_ms: i64, actions: &[ModelAction]) {
        for action in actions {
            match action {
                ModelAction::List(spec) => self.list(spec, now_ms),
                ModelAction::Fund { account, amount } => *self.funded.entry(*account).or_default() += *amount,
                ModelAction::Place(order) => self.place(order, now_ms),
                ModelAction::Cancel { owner, ids } => self.cancel(*owner, ids, now_ms),
                ModelAction::Resolve { market, winning_token } => self.resolve(market, winning_token, now_ms),
                ModelAction::Redeem { account, market } => self.redeem(*account, market),
            }
        }
    }

    pub fn open_markets(&self) -> usize {
        self.markets.values().filter(|m| !m.resolved).count()
    }

    fn list(&mut self, spec: &MarketSpec, now_ms: i64) {
        if self.markets.contains_key(&spec.condition_id) {
            self.problems.push(format!("market {} listed twice", spec.condition_id));
            return;
        }
        for (i, t) in spec.tokens.iter().enumerate() {
            self.token_market.insert(t.token_id.clone(), (spec.condition_id, i));
        }
        self.markets.insert(
            spec.condition_id,
            FakeMarket {
                spec: spec.clone(),
                tick: spec.tick,
                resting: Vec::new(),
                resolved: false,
                last_trade: None,
                updated_ms: now_ms,
            },
        );
    }

    fn place(&mut self, o: &crate::engine::NewOrder, now_ms: i64) {
        let problem = |msg: String| format!("order {}: {msg}", o.id);
        if self.orders.contains_key(&o.id) {
            self.problems.push(problem("duplicate id".into()));
            return;
        }
        if o.maker != o.owner || !self.funded.contains_key(&o.maker) {
            self.problems.push(problem("maker not a funded owner".into()));
            return;
        }
        if o.side != Side::Buy {
            self.problems.push(problem("house accounts only buy".into()));
            return;
        }
        let Some((cid, index)) = self.token_market.get(&o.token).copied() else {
            self.problems.push(problem("unknown token".into()));
            return;
        };
        let m = self.markets.get_mut(&cid).expect("token maps to a market");
        if m.resolved || m.spec.end_ms.is_some_and(|end| now_ms >= end) {
            self.problems.push(problem("market closed".into()));
            return;
        }
        if !o.price.is_on_tick(m.tick) || o.price < m.tick.min_price() || o.price > m.tick.max_price() {
            self.problems.push(problem(format!("price {} off the {} tick or out of range", o.price, m.tick)));
            return;
        }
        let resting_type = matches!(o.order_type, OrderType::Gtc | OrderType::Gtd);
        if o.size < m.spec.min_order_size {
            self.problems.push(problem(format!("size {} below minimum", o.size)));
            return;
        }
        if !resting_type && Usdc::from_price_size_floor(o.price, o.size) < Usdc::from_whole(1) {
            self.problems.push(problem("marketable notional below $1".into()));
            return;
        }
        let (book_side, primary_price) =
            if index == 0 { (Side::Buy, o.price) } else { (Side::Sell, o.price.complement()) };
        // Price-time matching against the opposite side of the primary book.
        let mut remaining = o.size;
        let mut fills: Vec<(OrderId, Size)> = Vec::new();
        loop {
            if remaining.is_zero() {
                break;
            }
            let best = m
                .resting
                .iter()
                .enumerate()
                .filter(|(_, r)| r.book_side != book_side)
                .filter(|(_, r)| match book_side {
                    Side::Buy => r.primary_price <= primary_price,
                    Side::Sell => r.primary_price >= primary_price,
                })
                .min_by_key(|(_, r)| match book_side {
                    Side::Buy => (r.primary_price.pips(), r.seq),
                    Side::Sell => (u16::MAX - r.primary_price.pips(), r.seq),
                })
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let r = &mut m.resting[i];
            let fill = remaining.min(r.remaining);
            r.remaining -= fill;
            remaining -= fill;
            m.last_trade = Some(r.primary_price);
            fills.push((r.id, fill));
            if r.remaining.is_zero() {
                m.resting.remove(i);
            }
        }
        let matched = o.size - remaining;
        if !matched.is_zero() {
            *self.taken_by.entry(o.owner).or_default() += matched;
        }
        for (id, fill) in &fills {
            let rec = self.orders.get_mut(id).expect("resting orders have records");
            rec.size_matched += *fill;
            if rec.size_matched == rec.original_size {
                rec.status = OrderStatus::Matched;
            }
            self.trades += 1;
            self.traded += *fill;
        }
        let status = if remaining.is_zero() {
            OrderStatus::Matched
        } else if resting_type {
            self.seq += 1;
            m.resting.push(Resting { id: o.id, book_side, primary_price, remaining, seq: self.seq });
            OrderStatus::Live
        } else if matched.is_zero() {
            self.fak_misses += 1;
            return;
        } else {
            OrderStatus::Unmatched
        };
        m.updated_ms = now_ms;
        retick(m);
        self.orders.insert(
            o.id,
            OrderRecord {
                id: o.id,
                status,
                market: cid,
                token: o.token.clone(),
                outcome: m.spec.tokens[index].outcome.clone(),
                side: o.side,
                price: o.price,
                original_size: o.size,
                size_matched: matched,
                maker: o.maker,
                owner: o.owner,
                api_key: o.api_key.clone(),
                order_type: o.order_type,
                expiration_s: o.expiration_s,
                created_at_ms: now_ms,
                associate_trades: Vec::new(),
                cancel_cause: None,
            },
        );
    }

    fn cancel(&mut self, owner: Address, ids: &[OrderId], now_ms: i64) {
        for id in ids {
            let Some(rec) = self.orders.get_mut(id) else {
                self.problems.push(format!("cancel of unknown order {id}"));
                continue;
            };
            if rec.owner != owner {
                self.problems.push(format!("cancel of {id} by a non-owner"));
                continue;
            }
            if rec.status != OrderStatus::Live {
                self.cancel_misses += 1;
                continue;
            }
            rec.status = OrderStatus::Canceled;
            let m = self.markets.get_mut(&rec.market).expect("orders belong to listed markets");
            m.resting.retain(|r| r.id != *id);
            m.updated_ms = now_ms;
        }
    }

    fn resolve(&mut self, market: &ConditionId, winner: &TokenId, now_ms: i64) {
        let Some(m) = self.markets.get_mut(market) else {
            self.problems.push(format!("resolve of unknown market {market}"));
            return;
        };
        if m.resolved {
            self.problems.push(format!("market {market} resolved twice"));
            return;
        }
        if !m.spec.tokens.iter().any(|t| t.token_id == *winner) {
            self.problems.push(format!("market {market} resolved to a foreign token"));
            return;
        }
        m.resolved = true;
        for r in m.resting.drain(..) {
            if let Some(rec) = self.orders.get_mut(&r.id) {
                rec.status = OrderStatus::Canceled;
                rec.cancel_cause = Some(CancelCause::MarketResolved);
            }
        }
        self.resolutions.push((*market, winner.clone(), now_ms));
    }

    /// A source redeems only after it resolved the market, for accounts it funded.
    fn redeem(&mut self, account: Address, market: &ConditionId) {
        match self.markets.get(market) {
            Some(m) if m.resolved && self.funded.contains_key(&account) => self.redemptions += 1,
            Some(m) if m.resolved => self.problems.push(format!("redeem for unfunded {account}")),
            Some(_) => self.problems.push(format!("redeem before market {market} resolved")),
            None => self.problems.push(format!("redeem of unknown market {market}")),
        }
    }
}

/// Polymarket's rule: a book whose best price leaves [0.04, 0.96] gets the
/// finer 0.001 tick (never coarser again here).
fn retick(m: &mut FakeMarket) {
    if m.tick != TickSize::Hundredth {
        return;
    }
    let extreme = |p: Price| p.pips() > 9600 || p.pips() < 400;
    let best_bid = m.resting.iter().filter(|r| r.book_side == Side::Buy).map(|r| r.primary_price).max();
    let best_ask = m.resting.iter().filter(|r| r.book_side == Side::Sell).map(|r| r.primary_price).min();
    if best_bid.is_some_and(extreme) || best_ask.is_some_and(extreme) {
        m.tick = TickSize::Thousandth;
    }
}

impl ExchangeView for FakeExchange {
    fn book(&self, token: &TokenId) -> Option<BookView> {
        let (cid, index) = self.token_market.get(token)?;
        let m = &self.markets[cid];
        let mut bids: BTreeMap<Price, Size> = BTreeMap::new();
        let mut asks: BTreeMap<Price, Size> = BTreeMap::new();
        for r in &m.resting {
            // The second token's book mirrors the primary one.
            let (side, price) = match (index, r.book_side) {
                (0, s) => (s, r.primary_price),
                (_, s) => (s.opposite(), r.primary_price.complement()),
            };
            let map = if side == Side::Buy { &mut bids } else { &mut asks };
            *map.entry(price).or_default() += r.remaining;
        }
        let level = |(price, size): (&Price, &Size)| Level { price: *price, size: *size };
        Some(BookView {
            market: *cid,
            token: token.clone(),
            bids: bids.iter().rev().map(level).collect(),
            asks: asks.iter().map(level).collect(),
            tick: m.tick,
            min_order_size: m.spec.min_order_size,
            neg_risk: m.spec.neg_risk,
            last_trade_price: m.last_trade.map(|p| if *index == 0 { p } else { p.complement() }),
            timestamp_ms: m.updated_ms,
        })
    }

    fn order(&self, id: &OrderId) -> Option<OrderRecord> {
        self.orders.get(id).cloned()
    }
}
