use rust_decimal::Decimal;

use super::*;
use crate::amount::{Size, Usdc};
use crate::book::OrderBook;
use crate::clock::TimestampMs;
use crate::events::{ClientOrderId, EventTime, Fill, Liquidity, OrderIntent, OrderStatus, OrderType, OrderUpdate};
use crate::fees::FeeModel;
use crate::ids::{ConditionId, TokenId};
use crate::level::Level;
use crate::price::{Price, TickSize};
use crate::side::Side;

const T0: i64 = 1_700_000_000_000;
const END: i64 = T0 + 3_600_000;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn sz(s: &str) -> Size {
    Size::parse(s).unwrap()
}
fn market(n: u8) -> ConditionId {
    ConditionId::parse(&format!("0x{n:02x}22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917")).unwrap()
}
fn up_token() -> TokenId {
    TokenId::parse("1111").unwrap()
}
fn down_token() -> TokenId {
    TokenId::parse("2222").unwrap()
}

fn book(token: TokenId, bids: &[(&str, &str)], asks: &[(&str, &str)]) -> OrderBook {
    let mut b = OrderBook::new(token, TickSize::Hundredth);
    let lv = |v: &[(&str, &str)]| v.iter().map(|(pr, s)| Level::new(p(pr), sz(s))).collect::<Vec<_>>();
    b.apply_snapshot(&lv(bids), &lv(asks), TimestampMs(T0)).unwrap();
    b
}

/// A sample's inputs, owned, with a default that enters at 0.50 without fees.
struct Sample {
    now: i64,
    market: ConditionId,
    up: OrderBook,
    down: OrderBook,
    p_up: f64,
    end: i64,
    capital: Usdc,
    fee: FeeModel,
    min: Size,
}

impl Sample {
    fn new(p_up: f64) -> Sample {
        Sample {
            now: T0,
            market: market(1),
            up: book(up_token(), &[("0.49", "1000")], &[("0.50", "1000")]),
            down: book(down_token(), &[("0.49", "1000")], &[("0.50", "1000")]),
            p_up,
            end: END,
            capital: Usdc::from_whole(1000),
            fee: FeeModel::FREE,
            min: Size::from_shares(5),
        }
    }

    fn run(&self, s: &mut ConfidenceTaker) -> StrategyAction {
        let input = StrategyInput {
            now: TimestampMs(self.now),
            market: &self.market,
            up: &self.up,
            down: &self.down,
            p_up: self.p_up,
            market_end: TimestampMs(self.end),
            available_capital: self.capital,
            fee: &self.fee,
            min_order_size: self.min,
        };
        let mut actions = s.on_sample(&input);
        assert_eq!(actions.len(), 1);
        actions.pop().unwrap()
    }
}

fn strategy() -> ConfidenceTaker {
    ConfidenceTaker::new(StrategyConfig::default()).unwrap()
}

fn with(f: impl FnOnce(&mut StrategyConfig)) -> ConfidenceTaker {
    let mut c = StrategyConfig::default();
    f(&mut c);
    ConfidenceTaker::new(c).unwrap()
}

fn entered(a: StrategyAction) -> OrderIntent {
    match a {
        StrategyAction::Enter { intent } => intent,
        other => panic!("expected an entry, got {other:?}"),
    }
}

fn passed(a: StrategyAction) -> PassReason {
    match a {
        StrategyAction::Pass { reason } => reason,
        other => panic!("expected a pass, got {other:?}"),
    }
}

fn exited(a: StrategyAction) -> (OrderIntent, ExitReason) {
    match a {
        StrategyAction::Exit { intent, reason } => (intent, reason),
        other => panic!("expected an exit, got {other:?}"),
    }
}

fn fill(intent: &OrderIntent, price: &str, size: &str, fee: Usdc) -> Fill {
    Fill {
        order_id: market(99),
        client_order_id: Some(intent.client_order_id.clone()),
        trade_id: "t".into(),
        token: intent.token.clone(),
        side: intent.side,
        price: p(price),
        size: sz(size),
        fee,
        liquidity: Liquidity::Taker,
        time: EventTime { received: TimestampMs(T0), exchange: TimestampMs(T0) },
    }
}

fn done(id: &ClientOrderId, status: OrderStatus) -> OrderUpdate {
    OrderUpdate {
        client_order_id: id.clone(),
        order_id: None,
        status,
        filled: Size::ZERO,
        reason: None,
        at: TimestampMs(T0),
    }
}

// ---- entry ------------------------------------------------------------------

#[test]
fn confidence_threshold_is_inclusive_on_both_sides() {
    // 0.7 and 0.3 give confidence exactly 0.4 (decimal, not 0.3999... in f64).
    let i = entered(Sample::new(0.7).run(&mut strategy()));
    assert_eq!((i.token.clone(), i.side), (up_token(), Side::Buy));
    assert_eq!(i.decision.confidence, Some(d("0.4")));
    assert_eq!(i.decision.probability, Some(d("0.7")));
    assert_eq!(
        passed(Sample::new(0.69).run(&mut strategy())),
        PassReason::LowConfidence { confidence: d("0.38"), threshold: d("0.4") }
    );
    let i = entered(Sample::new(0.3).run(&mut strategy()));
    assert_eq!(i.token, down_token());
    assert_eq!(i.decision.probability, Some(d("0.7")));
    assert!(matches!(passed(Sample::new(0.31).run(&mut strategy())), PassReason::LowConfidence { .. }));
    assert!(matches!(passed(Sample::new(0.5).run(&mut strategy())), PassReason::LowConfidence { .. }));
}

#[test]
fn low_p_up_buys_the_down_token_at_its_ask() {
    let mut s = Sample::new(0.2);
    s.down = book(down_token(), &[("0.30", "100")], &[("0.31", "1000")]);
    let i = entered(s.run(&mut strategy()));
    assert_eq!((i.token.clone(), i.side, i.limit_price), (down_token(), Side::Buy, p("0.31")));
    assert_eq!(i.decision.probability, Some(d("0.8")));
    assert_eq!(i.decision.confidence, Some(d("0.6")));
    assert_eq!(i.decision.break_even_probability, Some(d("0.31")));
}

#[test]
fn edge_must_strictly_clear_break_even_plus_margin() {
    // q = 0.7, no fee, margin 0.02: an ask of 0.68 is exactly at the margin.
    let mut s = Sample::new(0.7);
    s.up = book(up_token(), &[], &[("0.68", "1000")]);
    assert_eq!(
        passed(s.run(&mut strategy())),
        PassReason::NoEdge { probability: d("0.7"), break_even: d("0.68"), min_edge: d("0.02"), best_ask: p("0.68") }
    );
    s.up = book(up_token(), &[], &[("0.67", "1000")]);
    assert_eq!(entered(s.run(&mut strategy())).limit_price, p("0.67"));
}

#[test]
fn a_fee_turns_a_confident_thin_edge_into_a_refusal() {
    let mut s = Sample::new(0.75);
    s.up = book(up_token(), &[], &[("0.72", "1000")]);
    // Without a fee: 0.72 + 0.02 < 0.75.
    let i = entered(s.run(&mut strategy()));
    assert_eq!(i.decision.break_even_probability, Some(d("0.72")));
    // Crypto fee, paid in pUSD on top: break-even 0.72 + 0.07 x 0.72 x 0.28
    // = 0.734112 > 0.73.
    s.fee = FeeModel::crypto();
    match passed(s.run(&mut strategy())) {
        PassReason::NoEdge { probability, break_even, .. } => {
            assert_eq!(probability, d("0.75"));
            assert_eq!(break_even, d("0.734112"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_entry_close_to_the_end_or_without_an_ask_or_with_a_bad_prediction() {
    let mut s = Sample::new(0.8);
    s.now = END - 30_000;
    assert_eq!(passed(s.run(&mut strategy())), PassReason::TooCloseToEnd { ms_to_end: 30_000 });
    s.now = END - 30_001;
    entered(s.run(&mut strategy()));
    let mut s = Sample::new(0.8);
    s.up = book(up_token(), &[("0.4", "10")], &[]);
    assert_eq!(passed(s.run(&mut strategy())), PassReason::NoAsk { token: up_token() });
    for bad in [f64::NAN, f64::INFINITY, -0.1, 1.1] {
        assert!(matches!(passed(Sample::new(bad).run(&mut strategy())), PassReason::InvalidPrediction { .. }));
    }
}

// ---- sizing -------------------------------------------------------------------

#[test]
fn sizing_is_capped_by_max_notional() {
    // 1000 x 0.05 = 50 > max 10: 10 / 0.50 = 20 shares.
    let i = entered(Sample::new(0.8).run(&mut strategy()));
    assert_eq!((i.size, i.limit_price, i.order_type), (Size::from_shares(20), p("0.50"), OrderType::Fak));
    assert_eq!(i.decision.expected_value, Some(d("6"))); // 20 x (0.8 - 0.5)
}

#[test]
fn sizing_uses_the_capital_fraction_and_rounds_down_to_the_exact_amount_step() {
    let mut s = Sample::new(0.8);
    s.capital = Usdc::from_whole(100); // 5 pUSD
    let i = entered(s.run(&mut strategy()));
    assert_eq!((i.size, i.decision.size_before_exact_amounts), (Size::from_shares(10), None));
    // 10 / 0.30 = 33.333... shares: 33.33 in lots, but a FAK BUY's pUSD has
    // 2 decimals, so at 0.30 it buys tenths (33.33 x 0.30 = 9.999).
    let mut s = Sample::new(0.8);
    s.up = book(up_token(), &[], &[("0.30", "1000")]);
    let i = entered(s.run(&mut strategy()));
    assert_eq!((i.size, i.decision.size_before_exact_amounts), (sz("33.3"), Some(sz("33.33"))));
    // A GTC takes any lot at its price.
    let i = entered(s.run(&mut with(|c| c.entry_order_type = TakerOrderType::Fok)));
    assert_eq!(i.size, sz("33.3"));
}

/// The taker fee is pUSD on top of the notional, so the budget covers both:
/// 10 / (0.50 + 0.0175) = 19.32 shares (9.66 + 0.3381), where 20 shares
/// would commit 10.35.
#[test]
fn sizing_fits_the_taker_fee_in_the_budget() {
    let mut s = Sample::new(0.8);
    s.fee = FeeModel::crypto();
    let i = entered(s.run(&mut strategy()));
    assert_eq!((i.size, i.limit_price), (sz("19.32"), p("0.50")));
    assert!(s.fee.max_buy_cost(i.limit_price, i.size, true) <= Usdc::from_whole(10));
    assert!(s.fee.max_buy_cost(i.limit_price, sz("19.34"), true) > Usdc::from_whole(10));
    // Every share is held, each worth 0.8 - 0.5 - 0.0175 in expectation.
    assert_eq!(i.decision.expected_value, Some(d("5.4579")));
    assert_eq!(i.decision.break_even_probability, Some(d("0.5175")));
}

#[test]
fn sizing_refuses_below_the_market_minimum() {
    let mut s = Sample::new(0.8);
    s.capital = Usdc::from_whole(40); // 2 pUSD -> 4 shares
    assert_eq!(
        passed(s.run(&mut strategy())),
        PassReason::BelowMinimumSize { size: Size::from_shares(4), minimum: Size::from_shares(5) }
    );
    s.capital = Usdc::from_whole(50); // 2.5 pUSD -> exactly 5 shares
    assert_eq!(entered(s.run(&mut strategy())).size, Size::from_shares(5));
    s.capital = Usdc::ZERO;
    assert!(matches!(passed(s.run(&mut strategy())), PassReason::BelowMinimumSize { .. }));
}

#[test]
fn sizing_walks_the_asks_and_limits_at_the_worst_price() {
    let mut s = Sample::new(0.8);
    s.up = book(up_token(), &[], &[("0.50", "4"), ("0.52", "100")]);
    let i = entered(s.run(&mut strategy()));
    // The order commits its limit x size: 10 / 0.52 = 19.23 shares at limit
    // 0.52, cut to the quarter shares 0.52 = 13/25 allows (19 x 0.52 = 9.88).
    assert_eq!((i.size, i.limit_price), (sz("19"), p("0.52")));
    assert_eq!(i.decision.size_before_exact_amounts, Some(sz("19.23")));
    assert!(Usdc::from_price_size_ceil(i.limit_price, i.size) <= Usdc::from_whole(10));
    // A small budget does better at the first level: 2.05 pUSD buys 3.94
    // shares at 0.52 (3.75 in quarters), but the 4 shares at 0.50 for 2.00.
    s.up = book(up_token(), &[], &[("0.50", "4"), ("0.52", "100")]);
    s.capital = Usdc::from_whole(41);
    s.min = Size::from_shares(1);
    let i = entered(s.run(&mut strategy()));
    assert_eq!((i.size, i.limit_price, i.decision.size_before_exact_amounts), (sz("4"), p("0.50"), None));
    // A deeper level that fails the edge is not walked.
    s.capital = Usdc::from_whole(1000);
    s.up = book(up_token(), &[], &[("0.60", "6"), ("0.79", "100")]);
    let i = entered(s.run(&mut strategy()));
    assert_eq!((i.size, i.limit_price), (Size::from_shares(6), p("0.60")));
}

/// Every entry and exit the strategy makes is an order the exchange takes:
/// its amounts are exact at its limit on the book's tick, on every tick.
#[test]
fn intents_validate_on_every_tick() {
    for tick in TickSize::ALL {
        let mut ask = tick.min_price();
        while ask < p("0.7") {
            let mut s = Sample::new(0.9);
            let mut b = OrderBook::new(up_token(), tick);
            let bid = ask.down(1, tick);
            let bids: Vec<Level> = bid.map(|b| Level::new(b, sz("1000"))).into_iter().collect();
            b.apply_snapshot(&bids, &[Level::new(ask, sz("1000"))], TimestampMs(T0)).unwrap();
            s.up = b;
            s.min = Size::from_micros(1);
            let mut st = strategy();
            match s.run(&mut st) {
                StrategyAction::Enter { intent } => {
                    intent.validate(tick).unwrap();
                    // Held at once and due to exit: the exit validates too.
                    st.on_fill(&fill(&intent, &ask.to_string(), &intent.size.to_string(), Usdc::ZERO));
                    st.on_order_update(&done(&intent.client_order_id, OrderStatus::Filled));
                    s.now = T0 + 60_000;
                    if let StrategyAction::Exit { intent: x, .. } = s.run(&mut st) {
                        x.validate(tick).unwrap();
                    }
                }
                StrategyAction::Pass { reason } => {
                    assert!(matches!(reason, PassReason::BelowMinimumSize { .. }), "{tick} {ask}: {reason:?}");
                }
                other => panic!("{other:?}"),
            }
            ask = ask.up(7, tick).unwrap_or(p("0.9"));
        }
    }
}

#[test]
fn an_exit_sells_what_the_exchange_takes_at_the_bid() {
    let (mut st, mut s) = holding(|_| {});
    s.now = T0 + 60_000;
    let mut b = OrderBook::new(up_token(), TickSize::Thousandth);
    b.apply_snapshot(&[Level::new(p("0.483"), sz("1000"))], &[Level::new(p("0.99"), sz("10"))], TimestampMs(T0))
        .unwrap();
    s.up = b;
    // 20 shares held: 0.483 = 483/1000 sells in tenths; 20 is whole tenths.
    let (i, _) = exited(s.run(&mut st));
    assert_eq!((i.size, i.decision.size_before_exact_amounts), (Size::from_shares(20), None));
    st.on_fill(&fill(&i, "0.483", "19.95", Usdc::ZERO));
    st.on_order_update(&done(&i.client_order_id, OrderStatus::Cancelled));
    // 0.05 left: a lot, but under the 0.1 step at 0.483: it stays held.
    assert_eq!(
        passed(s.run(&mut st)),
        PassReason::ExitBelowMinimum { reason: ExitReason::StopLoss, held: sz("0.05"), minimum: sz("0.1") }
    );
}

#[test]
fn entry_order_type_follows_the_config() {
    let mut st = with(|c| c.entry_order_type = TakerOrderType::Fok);
    assert_eq!(entered(Sample::new(0.8).run(&mut st)).order_type, OrderType::Fok);
}

// ---- one position per market ---------------------------------------------------

#[test]
fn one_position_per_market_pending_or_open() {
    let mut st = strategy();
    let s = Sample::new(0.8);
    let first = entered(s.run(&mut st));
    assert_eq!(passed(s.run(&mut st)), PassReason::OrderPending);
    // Another market is free.
    let mut other = Sample::new(0.8);
    other.market = market(2);
    entered(other.run(&mut st));
    // An entry killed without a fill frees the market.
    st.on_order_update(&done(&first.client_order_id, OrderStatus::Cancelled));
    assert!(st.position(&s.market).is_none());
    let second = entered(s.run(&mut st));
    // Filled: the position is open, so no new entry, only exit checks.
    st.on_fill(&fill(&second, "0.50", "20", Usdc::ZERO));
    assert_eq!(passed(s.run(&mut st)), PassReason::OrderPending);
    st.on_order_update(&done(&second.client_order_id, OrderStatus::Filled));
    assert_eq!(passed(s.run(&mut st)), PassReason::Holding);
    assert_eq!(st.position(&s.market).unwrap().held, Size::from_shares(20));
    // Resolution closes it.
    st.on_market_resolved(&s.market);
    entered(s.run(&mut st));
}

#[test]
fn a_fill_after_the_final_update_still_opens_the_position() {
    let mut st = strategy();
    let s = Sample::new(0.8);
    let i = entered(s.run(&mut st));
    st.on_order_update(&done(&i.client_order_id, OrderStatus::Filled));
    st.on_fill(&fill(&i, "0.50", "20", Usdc::ZERO));
    assert_eq!(passed(s.run(&mut st)), PassReason::Holding);
}

// ---- exits --------------------------------------------------------------------

/// A strategy holding 20 UP shares bought at 0.50 at T0, no order in flight.
fn holding(cfg: impl FnOnce(&mut StrategyConfig)) -> (ConfidenceTaker, Sample) {
    let mut st = with(cfg);
    let s = Sample::new(0.8);
    let i = entered(s.run(&mut st));
    st.on_fill(&fill(&i, "0.50", "20", Usdc::ZERO));
    st.on_order_update(&done(&i.client_order_id, OrderStatus::Filled));
    (st, s)
}

fn with_bid(mut s: Sample, bid: &str) -> Sample {
    s.up = book(up_token(), &[(bid, "1000")], &[("0.99", "1000")]);
    s
}

#[test]
fn take_profit_fires_at_its_tick_boundary() {
    let (mut st, s) = holding(|_| {});
    let s = with_bid(s, "0.52");
    assert_eq!(passed(s.run(&mut st)), PassReason::Holding);
    let s = with_bid(s, "0.53");
    let (i, reason) = exited(s.run(&mut st));
    assert_eq!(reason, ExitReason::TakeProfit);
    assert_eq!(
        (i.side, i.limit_price, i.size, i.order_type),
        (Side::Sell, p("0.53"), Size::from_shares(20), OrderType::Fak)
    );
    assert_eq!(i.token, up_token());
    // The exit is in flight: nothing more until it ends.
    assert_eq!(passed(s.run(&mut st)), PassReason::OrderPending);
    st.on_fill(&fill(&i, "0.53", "20", Usdc::ZERO));
    st.on_order_update(&done(&i.client_order_id, OrderStatus::Filled));
    assert!(st.position(&s.market).is_none());
}

#[test]
fn stop_loss_fires_at_its_tick_boundary() {
    let (mut st, s) = holding(|_| {});
    let s = with_bid(s, "0.48");
    assert_eq!(passed(s.run(&mut st)), PassReason::Holding);
    let s = with_bid(s, "0.47");
    assert_eq!(exited(s.run(&mut st)).1, ExitReason::StopLoss);
}

#[test]
fn time_limit_fires_at_the_horizon() {
    let (mut st, mut s) = holding(|_| {});
    s.now = T0 + 59_999;
    assert_eq!(passed(s.run(&mut st)), PassReason::Holding);
    s.now = T0 + 60_000;
    let (i, reason) = exited(s.run(&mut st));
    assert_eq!((reason, i.limit_price), (ExitReason::TimeLimit, p("0.49")));
}

#[test]
fn market_end_exit_fires_before_the_end() {
    let (mut st, mut s) = holding(|c| c.max_hold_ms = 10_000_000);
    s.now = END - 30_001;
    assert_eq!(passed(s.run(&mut st)), PassReason::Holding);
    s.now = END - 30_000;
    assert_eq!(exited(s.run(&mut st)).1, ExitReason::MarketEnd);
}

#[test]
fn exits_never_sell_below_the_floor_and_need_a_bid() {
    let (mut st, mut s) = holding(|c| c.exit_price_floor = p("0.45"));
    s.now = T0 + 60_000;
    let s = with_bid(s, "0.44");
    assert_eq!(
        passed(s.run(&mut st)),
        PassReason::BelowFloor { reason: ExitReason::StopLoss, best_bid: p("0.44"), floor: p("0.45") }
    );
    let s = with_bid(s, "0.45");
    assert_eq!(exited(s.run(&mut st)).0.limit_price, p("0.45"));
    let (mut st, mut s) = holding(|_| {});
    s.now = T0 + 60_000;
    s.up = book(up_token(), &[], &[("0.6", "10")]);
    assert_eq!(passed(s.run(&mut st)), PassReason::NoBid { reason: ExitReason::TimeLimit });
}

#[test]
fn exit_sells_the_shares_held_in_whole_lots() {
    let mut st = strategy();
    let mut s = Sample::new(0.8);
    let i = entered(s.run(&mut st));
    // Two fills at different prices, the fees in pUSD: every share is held.
    // The exchange can fill a market BUY with shares finer than a lot (its
    // pUSD buys more at a better price): 9.526544 here.
    st.on_fill(&fill(&i, "0.50", "10", Usdc::parse("0.175").unwrap()));
    st.on_fill(&fill(&i, "0.51", "9.526544", Usdc::parse("0.17").unwrap()));
    st.on_order_update(&done(&i.client_order_id, OrderStatus::Filled));
    assert_eq!(st.position(&s.market).unwrap().held, sz("19.526544"));
    // Average 9.85853744 / 19.526544 = 0.50488; + 3 ticks = 0.53488: a bid
    // of 0.53 is not yet a take-profit.
    s = with_bid(s, "0.53");
    assert_eq!(passed(s.run(&mut st)), PassReason::Holding);
    s = with_bid(s, "0.54");
    let (x, reason) = exited(s.run(&mut st));
    assert_eq!((x.size, reason), (sz("19.52"), ExitReason::TakeProfit));
    // A partial exit leaves a position that exits again.
    st.on_fill(&fill(&x, "0.54", "15", Usdc::ZERO));
    st.on_order_update(&done(&x.client_order_id, OrderStatus::Cancelled));
    assert_eq!(st.position(&s.market).unwrap().held, sz("4.526544"));
    // 4.52 shares are under the 5-share minimum of resting orders; a FAK
    // exit may sell them.
    let (x, reason) = exited(s.run(&mut st));
    assert_eq!((x.size, reason), (sz("4.52"), ExitReason::TakeProfit));
    st.on_fill(&fill(&x, "0.54", "4.52", Usdc::ZERO));
    st.on_order_update(&done(&x.client_order_id, OrderStatus::Filled));
    // Less than a lot is left: it cannot be sold, the position is done.
    assert!(st.position(&s.market).is_none());
}

// ---- determinism ----------------------------------------------------------------

#[test]
fn same_inputs_give_the_same_intents_and_ids() {
    let run = || {
        let (mut st, mut s) = holding(|_| {});
        s.now = T0 + 60_000;
        let x = s.run(&mut st);
        let mut other = Sample::new(0.1);
        other.market = market(7);
        (x, other.run(&mut st))
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    let id = |a: &StrategyAction| match a {
        StrategyAction::Enter { intent } | StrategyAction::Exit { intent, .. } => intent.client_order_id.to_string(),
        StrategyAction::Pass { .. } => panic!(),
    };
    assert_eq!(id(&a.0), "ex-0122472e552920b8-1700000060000-2");
    assert_eq!(id(&a.1), "en-0722472e552920b8-1700000000000-3");
}

#[test]
fn ids_carry_the_run_so_runs_sharing_a_journal_never_collide() {
    let first = |st: ConfidenceTaker| {
        let mut st = st;
        entered(Sample::new(0.9).run(&mut st)).client_order_id.to_string()
    };
    let (r1, r2) = (first(strategy().for_run(1)), first(strategy().for_run(2)));
    assert_eq!(r1, "r1-en-0122472e552920b8-1700000000000-1");
    assert_eq!(r2, "r2-en-0122472e552920b8-1700000000000-1");
    // The same run replayed gives the same id.
    assert_eq!(first(strategy().for_run(1)), r1);
}

#[test]
fn ids_fit_64_characters_whatever_the_numbers() {
    let mut st = strategy().for_run(i64::MAX);
    let mut s = Sample::new(0.9);
    s.now = i64::MAX / 2;
    s.end = i64::MAX;
    let id = entered(s.run(&mut st)).client_order_id.to_string();
    assert!(id.len() <= ClientOrderId::MAX_LEN, "{id}");
    assert!(id.starts_with(&format!("r{}-en-", i64::MAX)), "{id}");
}

#[test]
fn actions_serialize_and_read_back() {
    let (mut st, mut s) = holding(|_| {});
    s.now = T0 + 60_000;
    for a in [s.run(&mut st), s.run(&mut st)] {
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<StrategyAction>(&json).unwrap(), a, "{json}");
    }
}

// ---- config ----------------------------------------------------------------------

#[test]
fn config_defaults_validate_and_unknown_fields_are_refused() {
    assert_eq!(StrategyConfig::default().validate(), Ok(()));
    let c: StrategyConfig = serde_json::from_str(r#"{"confidence_threshold":"0.5","entry_order_type":"FOK"}"#).unwrap();
    assert_eq!((c.confidence_threshold, c.entry_order_type), (d("0.5"), TakerOrderType::Fok));
    assert_eq!(c.max_hold_ms, 60_000);
    assert!(serde_json::from_str::<StrategyConfig>(r#"{"confidence_treshold":"0.5"}"#).is_err());
    let json = serde_json::to_string(&StrategyConfig::default()).unwrap();
    assert_eq!(serde_json::from_str::<StrategyConfig>(&json).unwrap(), StrategyConfig::default());
}

#[test]
fn config_errors_name_the_field() {
    let field = |f: fn(&mut StrategyConfig)| {
        let mut c = StrategyConfig::default();
        f(&mut c);
        match c.validate().unwrap_err() {
            StrategyConfigError::NotPositive { field, .. } | StrategyConfigError::OutOfRange { field, .. } => field,
        }
    };
    assert_eq!(field(|c| c.confidence_threshold = Decimal::ZERO), "confidence_threshold");
    assert_eq!(field(|c| c.confidence_threshold = d("1.01")), "confidence_threshold");
    assert_eq!(field(|c| c.capital_fraction = d("1.5")), "capital_fraction");
    assert_eq!(field(|c| c.min_edge = d("-0.01")), "min_edge");
    assert_eq!(field(|c| c.max_notional = Usdc::ZERO), "max_notional");
    assert_eq!(field(|c| c.take_profit_ticks = 0), "take_profit_ticks");
    assert_eq!(field(|c| c.stop_loss_ticks = 0), "stop_loss_ticks");
    assert_eq!(field(|c| c.max_hold_ms = 0), "max_hold_ms");
    assert_eq!(field(|c| c.exit_before_end_ms = -1), "exit_before_end_ms");
    let c = StrategyConfig { max_notional: Usdc::from_whole(-1), ..StrategyConfig::default() };
    assert_eq!(
        ConfidenceTaker::new(c).unwrap_err().to_string(),
        "strategy config: `max_notional` must be greater than zero (got -1)"
    );
}
