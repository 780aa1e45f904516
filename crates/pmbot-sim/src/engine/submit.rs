//! Order submission: validate, plan, check, then execute the plan.
//!
//! Invariant: every check happens before the first write, so `submit`
//! either returns a [`Reject`] having changed nothing, or executes the plan
//! `matching::plan` made and nothing else.
//!
//! Rules, as the real exchange applies them:
//! - a BUY needs available collateral of at least `ceil(limit x size)` (and
//!   of what the planned fills plus the resting remainder really cost, which
//!   can exceed it by rounding micros), plus the taker fees of its planned
//!   fills; a SELL needs `size` available shares;
//! - every contract the market settles through must cover the order: the
//!   pUSD allowance of each spender covers everything the account's BUYs
//!   then promise, and a SELL needs each operator's token approval (see
//!   `approvals`); else "not enough balance / allowance", like the balance;
//! - FOK fills completely or is refused; FAK fills what it can, the rest is
//!   killed, and is refused if nothing matches;
//! - post-only (GTC/GTD only) is refused if it would cross;
//! - marketable orders (FOK, FAK, and GTC/GTD crossing on arrival — the real
//!   error says "marketable BUY order") need `limit x size` of at least the
//!   configured minimum notional;
//! - a taker fills at each maker's price; takers pay the market's fee in
//!   pUSD (a BUY on top of what it pays for its shares, which it receives in
//!   full; a SELL out of its proceeds), makers none (see `fees`).
//!
//! Order events for the taker: UPDATE if it filled anything, then PLACEMENT
//! if a remainder rests, or CANCELLATION if a FAK remainder was killed or
//! matching stopped at the taker's own order.

use pmbot_core::{Side, Size, Usdc};

use super::Exchange;
use super::approvals::Spender;
use super::book::{Outcome, book_price, book_side, own_price};
use super::fees::FeeSchedule;
use super::matching::{self, Plan, Step, Taker};
use super::orders::Resting;
use super::settlement::{self, Kind};
use super::types::{
    CancelCause, EngineEvent, MakerFill, NewOrder, OrderEventKind, OrderRecord, OrderStatus, OrderType, Reject,
    SubmitOutcome, TradeRecord, TradeStatus,
};
use super::validate;

impl Exchange {
    /// Places an order. On `Err` nothing changed; on `Ok` the events of the
    /// placement and its fills are queued (see the module docs for order).
    pub fn submit(&mut self, order: NewOrder, now_ms: i64) -> Result<SubmitOutcome, Reject> {
        let &(idx, outcome) = self.by_token.get(&order.token).ok_or(Reject::UnknownToken)?;
        let market = &self.markets[&idx];
        let expires_ms = validate::check_order(&order, market, now_ms, &self.cfg)?;
        if self.orders.records.contains_key(&order.id) {
            return Err(Reject::Duplicate { order: order.id });
        }
        let taker = Taker {
            outcome,
            side: order.side,
            book_side: book_side(outcome, order.side),
            limit: book_price(outcome, order.price),
            size: order.size.micros(),
            maker: order.maker,
        };
        let rests_by_type = matches!(order.order_type, OrderType::Gtc | OrderType::Gtd);
        let plan = if order.post_only {
            if matching::crosses(&market.book, &self.orders, taker.book_side, taker.limit, now_ms) {
                return Err(Reject::PostOnlyCrosses);
            }
            Plan::default()
        } else {
            matching::plan(&market.book, &self.orders, &taker, now_ms, self.cfg.self_trade)
        };
        if !rests_by_type || plan.crosses {
            let notional = Usdc::from_micros(settlement::cost_floor(taker.size, order.price.pips()) as i64);
            let min = self.cfg.min_marketable_notional;
            if notional < min {
                return Err(Reject::BelowMinNotional { side: order.side, notional, min });
            }
        }
        let rest = if rests_by_type && !plan.self_stop { taker.size - plan.filled } else { 0 };
        let spenders = Spender::for_market(market.spec.exchange, market.spec.neg_risk);
        // Borrowed, not cloned: this runs for every order.
        let approvals = self.ledger.approvals.get(&order.maker);
        let enough = match order.side {
            Side::Buy => {
                let pips = order.price.pips();
                let worst = settlement::cost_ceil(taker.size, pips);
                let planned = plan.taker_collateral + settlement::buy_reservation(rest, pips);
                let need = worst.max(planned) + planned_fees(&plan, outcome, &market.spec.fee);
                let balance = self.ledger.get(&order.maker);
                balance.available() >= need
                    && approvals.is_some_and(|a| a.covers_collateral(spenders, balance.reserved + need))
            }
            Side::Sell => {
                let held = market.positions.get(&order.maker).map_or(0, |p| p[outcome].available());
                held >= taker.size && approvals.is_some_and(|a| a.covers_tokens(spenders))
            }
        };
        if !enough {
            return Err(Reject::InsufficientBalance);
        }
        match order.order_type {
            OrderType::Fok if plan.filled < taker.size => return Err(Reject::FokNotFilled),
            OrderType::Fak if plan.filled == 0 => return Err(Reject::FakNoMatch),
            _ => {}
        }

        // Everything below writes; nothing below can refuse.
        self.expire_due(now_ms);
        let outcome = self.execute(order, idx, outcome, taker, plan, rest, expires_ms, now_ms);
        self.publish(now_ms);
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        order: NewOrder,
        idx: u32,
        outcome: Outcome,
        taker: Taker,
        plan: Plan,
        rest: u64,
        expires_ms: Option<i64>,
        now_ms: i64,
    ) -> SubmitOutcome {
        let seq = self.orders.next_seq;
        self.orders.next_seq += 1;
        let market = self.markets.get_mut(&idx).expect("planned market exists");
        market.order_ids.push(order.id);
        let mut record = OrderRecord {
            id: order.id,
            status: OrderStatus::Live,
            market: market.spec.condition_id,
            token: order.token.clone(),
            outcome: market.spec.tokens[outcome].outcome.clone(),
            side: order.side,
            price: order.price,
            original_size: order.size,
            size_matched: Size::ZERO,
            maker: order.maker,
            owner: order.owner,
            api_key: order.api_key.clone(),
            order_type: order.order_type,
            expiration_s: order.expiration_s,
            created_at_ms: now_ms,
            associate_trades: Vec::new(),
            cancel_cause: None,
        };
        let (mut making, mut taking) = (0u64, 0u64);
        for level in &plan.levels {
            let trade = (level.filled > 0).then(|| self.trades.next_id());
            let mut makers = Vec::new();
            let mut updates = Vec::new();
            for step in &plan.steps[level.steps.clone()] {
                match *step {
                    Step::CancelOwn(seq) => self.cancel_resting(seq, CancelCause::Canceled),
                    Step::Fill { maker, x, maker_collateral, kind } => {
                        let trade_id = &trade.as_ref().expect("a level with fills has a trade").1;
                        let (fill, update) = self.apply_fill(idx, &taker, maker, x, maker_collateral, kind, trade_id);
                        makers.push(fill);
                        updates.push(update);
                    }
                }
            }
            let Some((trade_seq, trade_id)) = trade else {
                continue;
            };
            let (paid, got, record_trade) = self.settle_level_fees(
                idx,
                &order,
                &taker,
                level.price,
                level.filled,
                level.taker_collateral,
                trade_id,
                makers,
                now_ms,
            );
            making += paid;
            taking += got;
            record.associate_trades.push(record_trade.id.clone());
            let mut participants = vec![order.owner];
            for m in &record_trade.makers {
                if !participants.contains(&m.owner) {
                    participants.push(m.owner);
                }
            }
            self.events.push(EngineEvent::Trade(record_trade.clone()));
            for update in updates {
                self.events.push(EngineEvent::Order { order: update, kind: OrderEventKind::Update });
            }
            let mined_at = now_ms + self.cfg.mined_after_ms;
            self.trades.insert(trade_seq, record_trade, &participants, self.cfg.max_trades_per_account, mined_at);
        }

        record.size_matched = Size::from_micros(plan.filled);
        record.status = if rest > 0 {
            OrderStatus::Live
        } else if plan.filled == taker.size {
            OrderStatus::Matched
        } else if order.order_type == OrderType::Fak {
            OrderStatus::Unmatched
        } else {
            OrderStatus::Canceled
        };
        if plan.filled > 0 {
            self.events.push(EngineEvent::Order { order: record.clone(), kind: OrderEventKind::Update });
        }
        if rest > 0 {
            self.rest(seq, &order, idx, outcome, &taker, rest, expires_ms);
            self.events.push(EngineEvent::Order { order: record.clone(), kind: OrderEventKind::Placement });
        } else if plan.filled < taker.size {
            self.events.push(EngineEvent::Order { order: record.clone(), kind: OrderEventKind::Cancellation });
        }
        let result = SubmitOutcome {
            order_id: order.id,
            status: record.status,
            making_amount: Size::from_micros(making),
            taking_amount: Size::from_micros(taking),
            trade_ids: record.associate_trades.clone(),
        };
        self.orders.seq_of.insert(order.id, seq);
        self.orders.records.insert(order.id, record);
        result
    }

    /// Settles one maker fill (before the taker's fee) and returns the
    /// maker's part of the trade and its updated record.
    #[allow(clippy::too_many_arguments)]
    fn apply_fill(
        &mut self,
        idx: u32,
        taker: &Taker,
        maker_seq: u64,
        x: u64,
        maker_collateral: u64,
        kind: Kind,
        trade_id: &str,
    ) -> (MakerFill, OrderRecord) {
        let market = self.markets.get_mut(&idx).expect("planned market exists");
        let ledger = &mut self.ledger;
        let maker = self.orders.resting.get_mut(&maker_seq).expect("planned maker is live");
        match maker.side {
            Side::Buy => {
                ledger.entry(maker.maker).spend_reserved(maker_collateral);
                maker.reserved -= maker_collateral;
                market.position(maker.maker)[maker.outcome].credit(x);
            }
            Side::Sell => {
                market.position(maker.maker)[maker.outcome].spend_reserved(x);
                maker.reserved -= x;
                ledger.entry(maker.maker).credit(maker_collateral);
            }
        }
        let taker_collateral = settlement::taker_collateral(kind, x, maker_collateral);
        match taker.side {
            Side::Buy => {
                ledger.entry(taker.maker).spend(taker_collateral);
                market.position(taker.maker)[taker.outcome].credit(x);
            }
            Side::Sell => {
                market.position(taker.maker)[taker.outcome].spend(x);
                ledger.entry(taker.maker).credit(taker_collateral);
            }
        }
        match kind {
            Kind::Mint => market.pairs += x,
            Kind::Merge => market.pairs -= x,
            Kind::Transfer => {}
        }
        maker.remaining -= x;
        maker.rest_filled += x;
        market.book.reduce(maker.book_side, maker.book_price, x);
        let (side, price, done) = (maker.book_side, maker.book_price, maker.remaining == 0);
        let fill = MakerFill {
            order_id: maker.id,
            maker: maker.maker,
            owner: maker.owner,
            api_key: String::new(),
            token: market.token(maker.outcome).clone(),
            side: maker.side,
            price: maker.price,
            matched: Size::from_micros(x),
        };
        let id = maker.id;
        if done {
            let finished = self.orders.unlink(maker_seq);
            // A BUY's cumulative rounding spends exactly its reservation; a
            // leftover would be a bug, but give it back rather than lock it.
            match finished.side {
                Side::Buy => self.ledger.entry(finished.maker).release(finished.reserved),
                Side::Sell => market.position(finished.maker)[finished.outcome].release(finished.reserved),
            }
            let orders = &self.orders;
            market.book.trim_front(side, price, |s| orders.is_live(s));
        }
        self.touch(idx, side, price);
        let record = self.orders.records.get_mut(&id).expect("live orders have records");
        record.size_matched += Size::from_micros(x);
        record.associate_trades.push(trade_id.to_owned());
        if done {
            record.status = OrderStatus::Matched;
        }
        let fill = MakerFill { api_key: record.api_key.clone(), ..fill };
        (fill, record.clone())
    }

    /// Charges the taker's fee for one level, records the trade and returns
    /// (what the taker gave before the fee: pUSD for a BUY, shares for a
    /// SELL; what it got, net of the fee for a SELL; the trade).
    #[allow(clippy::too_many_arguments)]
    fn settle_level_fees(
        &mut self,
        idx: u32,
        order: &NewOrder,
        taker: &Taker,
        level_price: u16,
        filled: u64,
        taker_collateral: u64,
        trade_id: String,
        makers: Vec<MakerFill>,
        now_ms: i64,
    ) -> (u64, u64, TradeRecord) {
        let collector = self.cfg.fee_collector;
        let market = self.markets.get_mut(&idx).expect("planned market exists");
        let price = own_price(taker.outcome, level_price);
        let size = Size::from_micros(filled);
        let fee = fee_micros(&market.spec.fee, price, filled);
        self.ledger.entry(taker.maker).spend(fee);
        self.ledger.entry(collector).credit(fee);
        // A BUY receives every share it bought and paid the fee besides; a
        // SELL's proceeds are net of it (a fee never exceeds the proceeds:
        // rate x (1 - p) < 1).
        let (paid, got) = match taker.side {
            Side::Buy => (taker_collateral, filled),
            Side::Sell => (filled, taker_collateral - fee),
        };
        market.last_trade = Some(level_price);
        let record = TradeRecord {
            id: trade_id,
            market: market.spec.condition_id,
            taker_order_id: order.id,
            taker_maker: order.maker,
            taker_owner: order.owner,
            taker_api_key: order.api_key.clone(),
            token: order.token.clone(),
            side: order.side,
            price,
            size,
            fee: Usdc::from_micros(fee as i64),
            fee_rate_bps: market.fee_rate_bps,
            makers,
            status: TradeStatus::Matched,
            match_time_ms: now_ms,
            last_update_ms: now_ms,
            transaction_hash: None,
        };
        (paid, got, record)
    }

    /// Puts the taker's remainder on the book and reserves what it may spend.
    #[allow(clippy::too_many_arguments)]
    fn rest(
        &mut self,
        seq: u64,
        order: &NewOrder,
        idx: u32,
        outcome: Outcome,
        taker: &Taker,
        rest: u64,
        expires_ms: Option<i64>,
    ) {
        let market = self.markets.get_mut(&idx).expect("planned market exists");
        let reserved = match order.side {
            Side::Buy => {
                let amount = settlement::buy_reservation(rest, order.price.pips());
                self.ledger.entry(order.maker).reserve(amount);
                amount
            }
            Side::Sell => {
                market.position(order.maker)[outcome].reserve(rest);
                rest
            }
        };
        market.book.push(taker.book_side, taker.limit, seq, rest);
        self.orders.link(
            seq,
            Resting {
                id: order.id,
                market: idx,
                outcome,
                side: order.side,
                price: order.price,
                book_side: taker.book_side,
                book_price: taker.limit,
                remaining: rest,
                rest_filled: 0,
                reserved,
                maker: order.maker,
                owner: order.owner,
                expires_ms,
            },
        );
        self.touch(idx, taker.book_side, taker.limit);
    }
}

/// The taker fee, in micro-pUSD, for `filled` micro-shares at `price`.
fn fee_micros(fee: &FeeSchedule, price: pmbot_core::Price, filled: u64) -> u64 {
    u64::try_from(fee.taker_fee(price, Size::from_micros(filled)).micros()).expect("fees are not negative")
}

/// The taker fees the plan's fills will charge, level by level (one trade,
/// hence one rounded fee, per level).
fn planned_fees(plan: &Plan, outcome: Outcome, fee: &FeeSchedule) -> u64 {
    plan.levels.iter().map(|l| fee_micros(fee, own_price(outcome, l.price), l.filled)).sum()
}
