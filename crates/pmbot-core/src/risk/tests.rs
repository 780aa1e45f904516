use proptest::prelude::*;

use super::*;
use crate::amount::{Size, Usdc};
use crate::clock::TimestampMs;
use crate::events::{
    ClientOrderId, DecisionContext, EventTime, Fill, Liquidity, MarketResolved, OrderIntent, OrderStatus, OrderType,
    OrderUpdate,
};
use crate::fees::FeeModel;
use crate::ids::{ConditionId, Hash32, TokenId};
use crate::price::Price;
use crate::side::Side;

/// 2026-11-27 00:00:00 UTC.
const DAY0: i64 = 1_795_737_600_000;
const DAY_MS: i64 = 86_400_000;
const T0: i64 = DAY0 + 12 * 3_600_000;

fn market(n: u8) -> ConditionId {
    Hash32([n; 32])
}

fn token(n: u32) -> TokenId {
    TokenId::parse(&n.to_string()).unwrap()
}

fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

fn sz(s: &str) -> Size {
    Size::parse(s).unwrap()
}

fn usdc(s: &str) -> Usdc {
    Usdc::parse(s).unwrap()
}

fn at(ms: i64) -> TimestampMs {
    TimestampMs(ms)
}

fn intent(id: &str, tok: u32, side: Side, price: &str, size: &str) -> OrderIntent {
    OrderIntent {
        client_order_id: ClientOrderId::new(id).unwrap(),
        token: token(tok),
        side,
        limit_price: p(price),
        size: sz(size),
        order_type: OrderType::Gtc,
        post_only: false,
        expires_at: None,
        decision: DecisionContext::default(),
    }
}

fn buy(id: &str, tok: u32, price: &str, size: &str) -> OrderIntent {
    intent(id, tok, Side::Buy, price, size)
}

fn sell(id: &str, tok: u32, price: &str, size: &str) -> OrderIntent {
    intent(id, tok, Side::Sell, price, size)
}

/// A context in which every context rule passes, in a fee-free market (the
/// figures of the limits then need no fee; `a_buy_commits_its_taker_fee`
/// shows the fee counted).
fn ctx(now: i64, m: u8) -> RiskContext {
    RiskContext {
        now: at(now),
        market: market(m),
        book: BookStatus { trusted: true, last_update: Some(at(now)) },
        market_end: Some(at(now + DAY_MS)),
        kill_switch: false,
        balance: BalanceCheck::NotRequired,
        fee: FeeModel::FREE,
    }
}

fn fill(id: Option<&str>, tok: u32, side: Side, price: &str, size: &str, time: i64) -> Fill {
    Fill {
        order_id: Hash32([9; 32]),
        client_order_id: id.map(|s| ClientOrderId::new(s).unwrap()),
        trade_id: format!("t-{time}"),
        token: token(tok),
        side,
        price: p(price),
        size: sz(size),
        fee: Usdc::ZERO,
        liquidity: Liquidity::Taker,
        time: EventTime { received: at(time), exchange: at(time) },
    }
}

fn gate() -> RiskGate {
    RiskGate::new(RiskConfig::default()).unwrap()
}

/// Buys `size` of `tok` at `buy_px` and sells it all at `sell_px` at `time`:
/// one closed position in market `m`.
fn round_trip(g: &mut RiskGate, m: u8, tok: u32, size: &str, buy_px: &str, sell_px: &str, time: i64) -> PositionChange {
    g.record_fill(&fill(None, tok, Side::Buy, buy_px, size, time), market(m)).unwrap();
    g.record_fill(&fill(None, tok, Side::Sell, sell_px, size, time), market(m)).unwrap()
}

fn refusal(g: &RiskGate, i: &OrderIntent, c: &RiskContext) -> (String, &'static str) {
    let r = g.check(i, c).expect_err("expected a refusal");
    (r.to_string(), r.code())
}

// ---- config ------------------------------------------------------------------

#[test]
fn default_config_is_valid_and_documented() {
    let c = RiskConfig::default();
    c.validate().unwrap();
    assert_eq!(c.capital_cap, Usdc::from_whole(300));
    assert_eq!(c.max_per_trade, Usdc::from_whole(30));
    assert_eq!((c.min_price, c.max_price), (p("0.05"), p("0.95")));
}

#[test]
fn partial_config_takes_defaults_and_unknown_fields_are_refused() {
    let c: RiskConfig = serde_json::from_str(
        r#"{"capital_cap":"50","max_per_trade":10,"max_exposure_per_market":"20","daily_loss_limit":"5"}"#,
    )
    .unwrap();
    assert_eq!(c.capital_cap, Usdc::from_whole(50));
    assert_eq!(c.max_open_positions, 5);
    c.validate().unwrap();
    let e = serde_json::from_str::<RiskConfig>(r#"{"capital_capp":"50"}"#).unwrap_err().to_string();
    assert!(e.contains("capital_capp"), "{e}");
    // Money is exact: more than 6 decimals is refused, not rounded.
    assert!(serde_json::from_str::<RiskConfig>(r#"{"capital_cap":"1.0000001"}"#).is_err());
    let c = RiskConfig::default();
    let back: RiskConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn contradictory_config_is_a_clear_error_naming_the_field() {
    let base = RiskConfig::default();
    let cases: Vec<(RiskConfig, &str)> = vec![
        (
            RiskConfig {
                max_per_trade: usdc("300.000001"),
                max_exposure_per_market: Usdc::from_whole(300),
                ..base.clone()
            },
            "risk config: `max_per_trade` (300.000001) is above `capital_cap` (300), which contradicts it",
        ),
        (
            RiskConfig { max_exposure_per_market: Usdc::from_whole(301), ..base.clone() },
            "risk config: `max_exposure_per_market` (301) is above `capital_cap` (300), which contradicts it",
        ),
        (
            RiskConfig { max_per_trade: Usdc::from_whole(61), ..base.clone() },
            "risk config: `max_per_trade` (61) is above `max_exposure_per_market` (60), which contradicts it",
        ),
        (
            RiskConfig { daily_loss_limit: Usdc::from_whole(301), ..base.clone() },
            "risk config: `daily_loss_limit` (301) is above `capital_cap` (300), which contradicts it",
        ),
        (
            RiskConfig { min_price: p("0.6"), max_price: p("0.6"), ..base.clone() },
            "risk config: `min_price` (0.6) must be below `max_price` (0.6)",
        ),
        (
            RiskConfig { capital_cap: Usdc::ZERO, ..base.clone() },
            "risk config: `capital_cap` must be greater than zero (got 0)",
        ),
        (
            RiskConfig { daily_loss_limit: usdc("-5"), ..base.clone() },
            "risk config: `daily_loss_limit` must be greater than zero (got -5)",
        ),
        (
            RiskConfig { max_open_positions: 0, ..base.clone() },
            "risk config: `max_open_positions` must be greater than zero (got 0)",
        ),
        (
            RiskConfig { loss_streak_limit: 0, ..base.clone() },
            "risk config: `loss_streak_limit` must be greater than zero (got 0)",
        ),
        (
            RiskConfig { max_book_age_ms: -1, ..base.clone() },
            "risk config: `max_book_age_ms` must be greater than zero (got -1)",
        ),
        (
            RiskConfig { market_loss_cooldown_ms: 0, ..base.clone() },
            "risk config: `market_loss_cooldown_ms` must be greater than zero (got 0)",
        ),
    ];
    for (config, text) in cases {
        assert_eq!(config.validate().unwrap_err().to_string(), text);
        assert_eq!(RiskGate::new(config).unwrap_err().to_string(), text);
    }
    // Equal limits are not a contradiction.
    let c = RiskConfig { max_per_trade: Usdc::from_whole(60), ..base };
    c.validate().unwrap();
}

// ---- rules that stop every order ---------------------------------------------

#[test]
fn kill_switch_stops_buys_and_exits() {
    let mut g = gate();
    g.record_fill(&fill(None, 1, Side::Buy, "0.5", "10", T0), market(1)).unwrap();
    let c = RiskContext { kill_switch: true, ..ctx(T0, 1) };
    for i in [buy("b", 1, "0.5", "1"), sell("s", 1, "0.5", "10")] {
        assert_eq!(refusal(&g, &i, &c), ("kill switch: the kill-switch file is present".into(), "kill_switch"));
    }
    g.check(&sell("s", 1, "0.5", "10"), &ctx(T0, 1)).unwrap();
}

#[test]
fn failed_balance_check_refuses_with_its_reason() {
    let g = gate();
    let i = buy("b", 1, "0.5", "10");
    let c = RiskContext { balance: BalanceCheck::Failed { reason: "pUSD 3.2 < 5 needed".into() }, ..ctx(T0, 1) };
    assert_eq!(refusal(&g, &i, &c), ("balance check failed: pUSD 3.2 < 5 needed".into(), "balance_check"));
    g.check(&i, &RiskContext { balance: BalanceCheck::Passed, ..ctx(T0, 1) }).unwrap();
}

#[test]
fn untrusted_unsynced_or_stale_book_refuses() {
    let g = gate();
    let i = buy("b", 1, "0.5", "10");
    let untrusted = RiskContext { book: BookStatus { trusted: false, last_update: Some(at(T0)) }, ..ctx(T0, 1) };
    assert_eq!(refusal(&g, &i, &untrusted).1, "book_untrusted");
    let never = RiskContext { book: BookStatus { trusted: true, last_update: None }, ..ctx(T0, 1) };
    assert_eq!(refusal(&g, &i, &never).1, "book_never_synced");
    // Boundary: exactly max_book_age_ms old passes, one ms more refuses.
    let aged =
        |age: i64| RiskContext { book: BookStatus { trusted: true, last_update: Some(at(T0 - age)) }, ..ctx(T0, 1) };
    g.check(&i, &aged(5_000)).unwrap();
    assert_eq!(
        refusal(&g, &i, &aged(5_001)),
        ("book stale: last update 5001 ms ago > max 5000 ms".into(), "book_stale")
    );
    // Without the trust requirement an untrusted (but fresh) book is allowed.
    let lax = RiskGate::new(RiskConfig { require_trusted_book: false, ..RiskConfig::default() }).unwrap();
    lax.check(&i, &untrusted).unwrap();
}

// ---- entry rules -----------------------------------------------------------------

#[test]
fn daily_loss_limit_stops_entries_for_the_rest_of_the_utc_day() {
    let mut g = gate();
    // Win one micro (3 micro-shares bought for 1 micro, sold for 2), then lose 30:
    // -29.999999 is just inside the 30 limit, still trading.
    round_trip(&mut g, 3, 3, "0.000003", "0.0001", "0.9999", T0);
    round_trip(&mut g, 1, 1, "100", "0.5", "0.2", T0);
    assert_eq!(g.state().realised_on_day_of(at(T0)), usdc("-29.999999"));
    let i = buy("b", 9, "0.5", "10");
    g.check(&i, &ctx(T0, 9)).unwrap();
    // One more micro of loss (one micro-share bought for 1 micro, sold for 0) reaches the limit.
    round_trip(&mut g, 2, 2, "0.000001", "0.5", "0.0001", T0 + 1);
    assert_eq!(g.state().realised_on_day_of(at(T0)), usdc("-30"));
    let text = "daily loss limit: realised -30 USDC today reaches the limit of -30 USDC";
    assert_eq!(refusal(&g, &i, &ctx(T0 + 2, 9)), (text.into(), "daily_loss_limit"));
    // Still refused at the day's last millisecond, allowed at the next UTC midnight.
    let last_ms = DAY0 + DAY_MS - 1;
    assert_eq!(
        refusal(&g, &i, &RiskContext { market_end: Some(at(last_ms + DAY_MS)), ..ctx(last_ms, 9) }).1,
        "daily_loss_limit"
    );
    g.check(&i, &ctx(DAY0 + DAY_MS, 9)).unwrap();
    // A loss on the new day counts only that day.
    round_trip(&mut g, 4, 4, "10", "0.5", "0.4", DAY0 + DAY_MS + 5);
    assert_eq!(g.state().realised_on_day_of(at(DAY0 + DAY_MS + 6)), usdc("-1"));
}

#[test]
fn exits_are_allowed_when_entries_are_stopped() {
    let mut g = gate();
    g.record_fill(&fill(None, 5, Side::Buy, "0.5", "10", T0), market(5)).unwrap();
    round_trip(&mut g, 1, 1, "100", "0.5", "0.2", T0);
    assert_eq!(refusal(&g, &buy("b", 5, "0.5", "1"), &ctx(T0, 5)).1, "daily_loss_limit");
    // Selling what is held, even at a price outside the band, is allowed.
    g.check(&sell("s", 5, "0.01", "10"), &ctx(T0, 5)).unwrap();
    let (text, code) = refusal(&g, &sell("s", 5, "0.5", "10.000001"), &ctx(T0, 5));
    assert_eq!(
        (text.as_str(), code),
        (
            "sell exceeds position: selling 10.000001 shares but 10 held, 0 of them already being sold",
            "sell_exceeds_position"
        )
    );
    assert_eq!(refusal(&g, &sell("s", 6, "0.5", "1"), &ctx(T0, 6)).1, "sell_exceeds_position");
}

#[test]
fn loss_streak_cooldown_starts_at_the_limit_and_expires_exactly() {
    let mut g = gate();
    let i = buy("b", 99, "0.5", "1");
    // Two losses (in different markets, so no market cooldown applies to 99).
    round_trip(&mut g, 1, 1, "10", "0.5", "0.4", T0);
    round_trip(&mut g, 2, 2, "10", "0.5", "0.4", T0 + 10);
    assert_eq!(g.state().consecutive_losses(), 2);
    g.check(&i, &ctx(T0 + 20, 99)).unwrap();
    // A win resets the streak.
    let win = round_trip(&mut g, 3, 3, "10", "0.4", "0.5", T0 + 30);
    assert_eq!(win, PositionChange::Closed { pnl: Usdc::from_whole(1), outcome: CloseOutcome::NotLoss });
    assert_eq!(g.state().consecutive_losses(), 0);
    for (k, t) in [(4, T0 + 40), (5, T0 + 50)] {
        round_trip(&mut g, k, u32::from(k), "10", "0.5", "0.4", t);
    }
    g.check(&i, &ctx(T0 + 55, 99)).unwrap();
    let third = round_trip(&mut g, 6, 6, "10", "0.5", "0.4", T0 + 60);
    assert_eq!(third, PositionChange::Closed { pnl: Usdc::from_whole(-1), outcome: CloseOutcome::Loss });
    let until = T0 + 60 + 3_600_000;
    assert_eq!(g.state().streak_paused_until(), Some(at(until)));
    let text = format!("loss streak cooldown: paused until {until} (1 ms left)");
    assert_eq!(refusal(&g, &i, &ctx(until - 1, 99)), (text, "loss_streak_cooldown"));
    g.check(&i, &ctx(until, 99)).unwrap();
    // The count restarted: one more loss does not pause again.
    round_trip(&mut g, 7, 7, "10", "0.5", "0.4", until + 1);
    g.check(&i, &ctx(until + 2, 99)).unwrap();
}

#[test]
fn market_cooldown_after_a_loss_there_expires_exactly() {
    let mut g = gate();
    round_trip(&mut g, 1, 1, "10", "0.5", "0.45", T0);
    let until = T0 + 1_800_000;
    let i = buy("b", 2, "0.5", "1");
    let (text, code) = refusal(&g, &i, &ctx(until - 1, 1));
    assert_eq!(code, "market_cooldown");
    assert_eq!(text, format!("market cooldown: market {} paused after a loss until {until} (1 ms left)", market(1)));
    g.check(&i, &ctx(until, 1)).unwrap();
    // Other markets are not paused.
    g.check(&buy("c", 3, "0.5", "1"), &ctx(T0, 2)).unwrap();
}

#[test]
fn market_end_too_close_or_unknown_refuses() {
    let g = gate();
    let i = buy("b", 1, "0.5", "1");
    let ends_in = |ms: i64| RiskContext { market_end: Some(at(T0 + ms)), ..ctx(T0, 1) };
    g.check(&i, &ends_in(120_000)).unwrap();
    assert_eq!(
        refusal(&g, &i, &ends_in(119_999)),
        ("market end too close: 119999 ms to end < min 120000 ms".into(), "market_end_too_close")
    );
    assert_eq!(refusal(&g, &i, &ends_in(-5)).1, "market_end_too_close");
    assert_eq!(refusal(&g, &i, &RiskContext { market_end: None, ..ctx(T0, 1) }).1, "market_end_unknown");
}

#[test]
fn price_band_is_inclusive() {
    let g = gate();
    g.check(&buy("b", 1, "0.05", "1"), &ctx(T0, 1)).unwrap();
    g.check(&buy("b", 1, "0.95", "1"), &ctx(T0, 1)).unwrap();
    assert_eq!(
        refusal(&g, &buy("b", 1, "0.0499", "1"), &ctx(T0, 1)),
        ("price band: limit price 0.0499 outside [0.05, 0.95]".into(), "price_band")
    );
    assert_eq!(refusal(&g, &buy("b", 1, "0.9501", "1"), &ctx(T0, 1)).1, "price_band");
}

#[test]
fn per_trade_limit_counts_cost_rounded_up() {
    let g = gate();
    g.check(&buy("b", 1, "0.5", "60"), &ctx(T0, 1)).unwrap();
    // 0.5 x 60.000001 = 30.0000005, which a buyer must be able to pay: 30.000001.
    assert_eq!(
        refusal(&g, &buy("b", 1, "0.5", "60.000001"), &ctx(T0, 1)),
        ("max per trade: order cost 30.000001 USDC > max 30 USDC".into(), "max_per_trade")
    );
}

#[test]
fn max_open_positions_counts_held_and_resting_tokens() {
    let mut g = gate();
    g.record_fill(&fill(None, 1, Side::Buy, "0.5", "2", T0), market(1)).unwrap();
    for k in 2..=5u8 {
        let i = buy(&format!("o{k}"), u32::from(k), "0.5", "2");
        g.check(&i, &ctx(T0, k)).unwrap();
        g.record_placed(&i, market(k), FeeModel::FREE).unwrap();
    }
    assert_eq!(g.state().open_positions(), 5);
    let sixth = buy("o6", 6, "0.5", "2");
    assert_eq!(
        refusal(&g, &sixth, &ctx(T0, 6)),
        ("max open positions: 5 open, max 5; a new one would exceed it".into(), "max_open_positions")
    );
    // Adding to a token already open is not a new position.
    g.check(&buy("o7", 3, "0.5", "2"), &ctx(T0, 3)).unwrap();
    // A cancelled order frees its slot.
    let cancelled = OrderUpdate {
        client_order_id: ClientOrderId::new("o2").unwrap(),
        order_id: None,
        status: OrderStatus::Cancelled,
        filled: Size::ZERO,
        reason: None,
        at: at(T0),
    };
    g.record_order_update(&cancelled);
    assert_eq!(g.state().open_positions(), 4);
    g.check(&sixth, &ctx(T0, 6)).unwrap();
}

#[test]
fn market_exposure_counts_positions_and_resting_buys_in_the_market() {
    let mut g = gate();
    // 20 held at cost + 30 resting in market 1 (two tokens).
    g.record_fill(&fill(None, 1, Side::Buy, "0.5", "40", T0), market(1)).unwrap();
    let rest = buy("r", 2, "0.5", "60");
    g.record_placed(&rest, market(1), FeeModel::FREE).unwrap();
    assert_eq!(g.state().market_exposure(&market(1)), Usdc::from_whole(50));
    g.check(&buy("b", 1, "0.5", "20"), &ctx(T0, 1)).unwrap();
    assert_eq!(
        refusal(&g, &buy("b", 1, "0.5", "20.000002"), &ctx(T0, 1)),
        ("max exposure per market: 50 + 10.000001 USDC > max 60 USDC".into(), "max_exposure_per_market")
    );
    // Another market is unaffected.
    g.check(&buy("b", 3, "0.5", "60"), &ctx(T0, 2)).unwrap();
}

#[test]
fn capital_cap_counts_everything_committed() {
    let cfg = RiskConfig { max_open_positions: 20, ..RiskConfig::default() };
    let mut g = RiskGate::new(cfg).unwrap();
    for k in 1..=9u8 {
        let i = buy(&format!("o{k}"), u32::from(k), "0.5", "60");
        g.check(&i, &ctx(T0, k)).unwrap();
        g.record_placed(&i, market(k), FeeModel::FREE).unwrap();
    }
    assert_eq!(g.state().committed(), Usdc::from_whole(270));
    let last = buy("x", 10, "0.5", "60");
    g.check(&last, &ctx(T0, 10)).unwrap();
    // One micro more committed elsewhere and the same order no longer fits.
    g.record_fill(&fill(None, 11, Side::Buy, "0.5", "0.000001", T0), market(11)).unwrap();
    assert_eq!(g.state().committed(), usdc("270.000001"));
    assert_eq!(
        refusal(&g, &last, &ctx(T0, 10)),
        ("capital cap: 270.000001 committed + 30 USDC > cap 300 USDC".into(), "capital_cap")
    );
}

#[test]
fn refusal_codes_are_distinct() {
    let m = market(1);
    let all = [
        RiskRefusal::KillSwitch,
        RiskRefusal::BalanceCheckFailed { reason: String::new() },
        RiskRefusal::BookUntrusted,
        RiskRefusal::BookNeverSynced,
        RiskRefusal::BookStale { age_ms: 0, max_ms: 0 },
        RiskRefusal::DailyLossLimit { realised: Usdc::ZERO, limit: Usdc::ZERO },
        RiskRefusal::LossStreakCooldown { until: at(0), remaining_ms: 0 },
        RiskRefusal::MarketCooldown { market: m, until: at(0), remaining_ms: 0 },
        RiskRefusal::MarketEndUnknown,
        RiskRefusal::MarketEndTooClose { remaining_ms: 0, min_ms: 0 },
        RiskRefusal::PriceOutsideBand { price: p("0.5"), min: p("0.5"), max: p("0.5") },
        RiskRefusal::PerTradeLimit { cost: Usdc::ZERO, max: Usdc::ZERO },
        RiskRefusal::MaxOpenPositions { open: 0, max: 0 },
        RiskRefusal::MarketExposure { current: Usdc::ZERO, cost: Usdc::ZERO, max: Usdc::ZERO },
        RiskRefusal::CapitalCap { committed: Usdc::ZERO, cost: Usdc::ZERO, cap: Usdc::ZERO },
        RiskRefusal::SellExceedsPosition { held: Size::ZERO, being_sold: Size::ZERO, size: Size::ZERO },
    ];
    let mut codes: Vec<&str> = all.iter().map(RiskRefusal::code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    // Each reason text starts with the rule's name, as its code spells it.
    for r in &all {
        let rule = r.code().replace('_', " ");
        assert!(r.to_string().starts_with(&rule), "{r} / {rule}");
    }
}

// ---- state -------------------------------------------------------------------------

#[test]
fn partial_sells_realise_in_proportion_and_add_up_exactly() {
    let mut g = gate();
    let buy_fill = fill(None, 1, Side::Buy, "0.3333", "3", T0);
    assert_eq!(g.record_fill(&buy_fill, market(1)).unwrap(), PositionChange::Increased);
    assert_eq!(g.state().position(&token(1)).unwrap().cost, usdc("0.9999"));
    // 1 of 3 shares leaves 1/3 of the cost (floored): 0.3333.
    let r = g.record_fill(&fill(None, 1, Side::Sell, "0.5", "1", T0 + 1), market(1)).unwrap();
    assert_eq!(r, PositionChange::Reduced { realised: usdc("0.1667") });
    let r = g.record_fill(&fill(None, 1, Side::Sell, "0.2", "2", T0 + 2), market(1)).unwrap();
    // 0.4 - 0.6666 = -0.2666 now; whole trade 0.9 - 0.9999 = -0.0999.
    assert_eq!(r, PositionChange::Closed { pnl: usdc("-0.0999"), outcome: CloseOutcome::Loss });
    assert_eq!(g.state().realised_on_day_of(at(T0)), usdc("-0.0999"));
    assert!(g.state().position(&token(1)).is_none());
    assert_eq!(g.state().committed(), Usdc::ZERO);
}

/// The exchange can fill a BUY with shares finer than a lot (a market BUY's
/// price improvement buys more shares): 20.071792 at 0.48, for 9.634461 and
/// a 0.35069 pUSD fee on top (cost 9.985151).
fn bought_finer_than_a_lot() -> Fill {
    Fill { fee: usdc("0.35069"), ..fill(None, 1, Side::Buy, "0.48", "20.071792", T0) }
}

#[test]
fn a_sell_leaving_under_a_lot_closes_the_position_and_the_dust_pays_at_resolution() {
    let mut g = gate();
    // The exit sells the whole lots, 20.07, at 0.46.
    g.record_fill(&bought_finer_than_a_lot(), market(1)).unwrap();
    assert_eq!(g.state().position(&token(1)).unwrap().cost, usdc("9.985151"));
    let r = g.record_fill(&fill(None, 1, Side::Sell, "0.46", "20.07", T0 + 1), market(1)).unwrap();
    // Proceeds 9.2322 against the whole cost 9.985151 (the 0.001792 shares
    // left are written off): the loss counts now.
    assert_eq!(r, PositionChange::Closed { pnl: usdc("-0.752951"), outcome: CloseOutcome::Loss });
    let st = g.state();
    assert_eq!(st.realised_on_day_of(at(T0)), usdc("-0.752951"));
    assert_eq!(st.market_paused_until(&market(1)), Some(at(T0 + 1 + 1_800_000)));
    assert_eq!(st.consecutive_losses(), 1);
    assert!(st.position(&token(1)).is_none());
    assert_eq!((st.open_positions(), st.committed(), st.held(&token(1))), (0, Usdc::ZERO, Size::ZERO));
    // The same token bought again is a new position; the dust stays apart.
    g.record_fill(&fill(None, 1, Side::Buy, "0.5", "2", T0 + 2), market(1)).unwrap();
    assert_eq!(g.state().held(&token(1)), sz("2"));
    g.record_fill(&fill(None, 1, Side::Sell, "0.5", "2", T0 + 3), market(1)).unwrap();
    // A winning resolution pays the dust: 0.001792 pUSD, a gain outside any close.
    let resolved = MarketResolved {
        market: market(1),
        tokens: vec![token(1), token(2)],
        winning_token: token(1),
        winning_outcome: "Yes".into(),
        time: EventTime { received: at(T0 + 5), exchange: at(T0 + 5) },
    };
    assert_eq!(g.record_resolution(&resolved), vec![]);
    assert_eq!(g.state().realised_on_day_of(at(T0)), usdc("-0.751159"));
    assert_eq!(g.state().consecutive_losses(), 0, "the 2-share round trip broke even");
    // Paid once.
    g.record_resolution(&resolved);
    assert_eq!(g.state().realised_on_day_of(at(T0)), usdc("-0.751159"));
}

#[test]
fn an_exit_in_pieces_closes_when_it_ends_and_late_pieces_sell_the_dust() {
    // 20.071792 held; an exit of 20.07 placed.
    let exit = sell("x", 1, "0.44", "20.07");
    let piece = |size: &str, time: i64| fill(Some("x"), 1, Side::Sell, "0.44", size, time);
    let ended = |status: OrderStatus, filled: &str| OrderUpdate {
        client_order_id: ClientOrderId::new("x").unwrap(),
        order_id: None,
        status,
        filled: sz(filled),
        reason: None,
        at: at(T0 + 9),
    };
    let start = || {
        let mut g = gate();
        g.record_fill(&bought_finer_than_a_lot(), market(1)).unwrap();
        g.record_placed(&exit, market(1), FeeModel::FREE).unwrap();
        g
    };

    // Under a lot left but 0.005 still being sold: open until the last piece.
    let mut g = start();
    let r = g.record_fill(&piece("20.065", T0 + 1), market(1)).unwrap();
    // 8.8286 for 20.065 of the 20.071792 shares, which cost 9.981772 of the 9.985151.
    assert_eq!(r, PositionChange::Reduced { realised: usdc("-1.153172") });
    assert_eq!(g.state().open_positions(), 1);
    let r = g.record_fill(&piece("0.005", T0 + 2), market(1)).unwrap();
    assert!(matches!(r, PositionChange::Closed { outcome: CloseOutcome::Loss, .. }), "{r:?}");
    assert_eq!(g.state().dust(&token(1)), sz("0.001792"));
    assert_eq!(g.state().market_paused_until(&market(1)), Some(at(T0 + 2 + 1_800_000)));

    // The rest killed (FAK): the order's end closes the position.
    let mut g = start();
    g.record_fill(&piece("20.065", T0 + 1), market(1)).unwrap();
    g.record_order_update(&ended(OrderStatus::Cancelled, "20.065"));
    assert!(g.state().position(&token(1)).is_none());
    assert_eq!(g.state().dust(&token(1)), sz("0.006792"));
    assert_eq!(g.state().market_paused_until(&market(1)), Some(at(T0 + 9 + 1_800_000)));

    // The end reported before the last piece: the piece sells dust, a gain.
    let mut g = start();
    g.record_fill(&piece("20.065", T0 + 1), market(1)).unwrap();
    g.record_order_update(&ended(OrderStatus::Filled, "20.07"));
    let realised = g.state().realised_on_day_of(at(T0));
    let r = g.record_fill(&piece("0.005", T0 + 10), market(1)).unwrap();
    assert_eq!(r, PositionChange::Reduced { realised: usdc("0.0022") });
    assert_eq!(g.state().realised_on_day_of(at(T0)), realised + usdc("0.0022"));
    assert_eq!(g.state().dust(&token(1)), sz("0.001792"));
    let e = g.record_fill(&piece("0.002", T0 + 11), market(1)).unwrap_err();
    assert!(matches!(e, RiskStateError::SellExceedsPosition { .. }), "{e}");
}

#[test]
fn fees_count_in_cost_and_proceeds() {
    let mut g = gate();
    // A taker buy pays its fee in pUSD on top and receives every share.
    let f = Fill { fee: usdc("0.175"), ..fill(None, 1, Side::Buy, "0.5", "10", T0) };
    g.record_fill(&f, market(1)).unwrap();
    let pos = g.state().position(&token(1)).unwrap().clone();
    assert_eq!((pos.shares, pos.cost), (sz("10"), usdc("5.175")));
    // A taker sell paying 0.05 pUSD: 6 - 0.05 - 5.175.
    let f = Fill { fee: usdc("0.05"), ..fill(None, 1, Side::Sell, "0.6", "10", T0 + 1) };
    let r = g.record_fill(&f, market(1)).unwrap();
    assert_eq!(r, PositionChange::Closed { pnl: usdc("0.775"), outcome: CloseOutcome::NotLoss });
}

/// A buy that may take commits its taker fee too (pUSD under CLOB V2), at
/// the limit: 20 at 0.5 in a crypto market is 10 + 20 x 0.07 x 0.25.
#[test]
fn a_buy_commits_its_taker_fee() {
    let cfg = RiskConfig { max_per_trade: usdc("10.2"), ..RiskConfig::default() };
    let mut g = RiskGate::new(cfg).unwrap();
    let crypto = RiskContext { fee: FeeModel::crypto(), ..ctx(T0, 1) };
    let i = buy("f", 1, "0.5", "20");
    assert_eq!(
        refusal(&g, &i, &crypto),
        ("max per trade: order cost 10.35 USDC > max 10.2 USDC".into(), "max_per_trade")
    );
    // Post-only never takes, so never pays it.
    let resting = OrderIntent { post_only: true, ..i.clone() };
    g.check(&resting, &crypto).unwrap();
    g.record_placed(&resting, market(1), FeeModel::crypto()).unwrap();
    assert_eq!(g.state().committed(), Usdc::from_whole(10));
    let j = buy("g", 1, "0.5", "4");
    g.check(&j, &crypto).unwrap();
    g.record_placed(&j, market(1), FeeModel::crypto()).unwrap();
    // 2 + 0.07 x 0.25 x 4 = 2.07.
    assert_eq!(g.state().committed(), usdc("12.07"));
}

#[test]
fn fills_and_terminal_updates_release_reservations() {
    let mut g = gate();
    let i = buy("o1", 1, "0.5", "10");
    g.record_placed(&i, market(1), FeeModel::FREE).unwrap();
    assert_eq!(
        g.record_placed(&i, market(1), FeeModel::FREE).unwrap_err(),
        RiskStateError::DuplicateOrder(i.client_order_id.clone())
    );
    assert_eq!(g.state().committed(), Usdc::from_whole(5));
    // Partly filled at a better price: position at its cost, the rest reserved at the limit.
    g.record_fill(&fill(Some("o1"), 1, Side::Buy, "0.4", "4", T0), market(1)).unwrap();
    assert_eq!(g.state().committed(), usdc("1.6") + Usdc::from_whole(3));
    g.record_fill(&fill(Some("o1"), 1, Side::Buy, "0.5", "6", T0), market(1)).unwrap();
    assert_eq!(g.state().committed(), usdc("4.6"));
    assert_eq!(g.state().open_positions(), 1);
    // A sell intent reserves no collateral, but its shares: a second sell of
    // the same shares is refused until the first fills or ends.
    let s1 = sell("s1", 1, "0.5", "6");
    g.check(&s1, &ctx(T0, 1)).unwrap();
    g.record_placed(&s1, market(1), FeeModel::FREE).unwrap();
    assert_eq!(g.state().committed(), usdc("4.6"));
    g.check(&sell("s2", 1, "0.5", "4"), &ctx(T0, 1)).unwrap();
    let (text, _) = refusal(&g, &sell("s2", 1, "0.5", "4.000001"), &ctx(T0, 1));
    assert_eq!(text, "sell exceeds position: selling 4.000001 shares but 10 held, 6 of them already being sold");
    g.record_fill(&fill(Some("s1"), 1, Side::Sell, "0.5", "2", T0), market(1)).unwrap();
    assert_eq!(g.state().being_sold(&token(1)), sz("4"));
    g.record_order_update(&OrderUpdate {
        client_order_id: ClientOrderId::new("s1").unwrap(),
        order_id: None,
        status: OrderStatus::Cancelled,
        filled: sz("2"),
        reason: None,
        at: at(T0),
    });
    assert_eq!(g.state().being_sold(&token(1)), Size::ZERO);
    g.check(&sell("s3", 1, "0.5", "8"), &ctx(T0, 1)).unwrap();
}

#[test]
fn bad_updates_are_refused_and_change_nothing() {
    let mut g = gate();
    g.record_fill(&fill(None, 1, Side::Buy, "0.5", "10", T0), market(1)).unwrap();
    let before = g.clone();
    let e = g.record_fill(&fill(None, 1, Side::Sell, "0.5", "10.000001", T0), market(1)).unwrap_err();
    assert_eq!(e.to_string(), "sell fill of 10.000001 shares of token 1 but only 10 are held");
    let e = g.record_fill(&fill(None, 1, Side::Buy, "0.5", "1", T0), market(2)).unwrap_err();
    assert!(matches!(e, RiskStateError::MarketMismatch { .. }), "{e}");
    let f = fill(None, 1, Side::Sell, "0.5", "0", T0);
    assert_eq!(g.record_fill(&f, market(1)).unwrap_err(), RiskStateError::ZeroFill(token(1)));
    assert_eq!(g, before);
}

#[test]
fn resolution_pays_one_per_winning_share_and_closes_the_market() {
    let mut g = gate();
    g.record_fill(&fill(None, 1, Side::Buy, "0.6", "10", T0), market(1)).unwrap();
    g.record_fill(&fill(None, 2, Side::Buy, "0.3", "5", T0), market(1)).unwrap();
    g.record_fill(&fill(None, 3, Side::Buy, "0.3", "5", T0), market(2)).unwrap();
    g.record_placed(&buy("r", 1, "0.5", "2"), market(1), FeeModel::FREE).unwrap();
    let resolved = MarketResolved {
        market: market(1),
        tokens: vec![token(1), token(2)],
        winning_token: token(1),
        winning_outcome: "Yes".into(),
        time: EventTime { received: at(T0 + 5), exchange: at(T0 + 5) },
    };
    let mut changes = g.record_resolution(&resolved);
    changes.sort_by_key(|c| match c {
        PositionChange::Closed { pnl, .. } => *pnl,
        _ => Usdc::ZERO,
    });
    assert_eq!(
        changes,
        vec![
            PositionChange::Closed { pnl: usdc("-1.5"), outcome: CloseOutcome::Loss },
            PositionChange::Closed { pnl: Usdc::from_whole(4), outcome: CloseOutcome::NotLoss },
        ]
    );
    assert_eq!(g.state().realised_on_day_of(at(T0)), usdc("2.5"));
    assert_eq!(g.state().market_exposure(&market(1)), Usdc::ZERO);
    assert_eq!(g.state().committed(), usdc("1.5"));
    assert_eq!(g.state().open_positions(), 1);
}

// ---- property --------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// Ask the gate for a buy; place it if allowed.
    Buy { tok: u32, pips: u16, micros: u64 },
    /// Fill part of the oldest resting order (fraction in 1/8ths), at a price up to 3 pips better.
    Fill { eighths: u64, better: u16 },
    /// Sell part of a held token (fraction in 1/8ths) at a price.
    Sell { tok: u32, eighths: u64, pips: u16 },
    /// Cancel the oldest resting order.
    Cancel,
    /// Resolve a market.
    Resolve { m: u8, winner_first: bool },
    /// Let time pass.
    Wait { ms: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..8, 100u16..9_900, 1u64..80_000_000).prop_map(|(tok, pips, micros)| Op::Buy { tok, pips, micros }),
        3 => (1u64..=8, 0u16..4).prop_map(|(eighths, better)| Op::Fill { eighths, better }),
        2 => (0u32..8, 1u64..=8, 100u16..9_900).prop_map(|(tok, eighths, pips)| Op::Sell { tok, eighths, pips }),
        1 => Just(Op::Cancel),
        1 => (0u8..4, any::<bool>()).prop_map(|(m, winner_first)| Op::Resolve { m, winner_first }),
        1 => (0i64..7_200_000).prop_map(|ms| Op::Wait { ms }),
    ]
}

/// Two tokens per market: tokens 2m and 2m+1 are market m.
fn market_of(tok: u32) -> u8 {
    (tok / 2) as u8
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn gate_never_exceeds_the_cap_and_counts_never_go_negative(ops in proptest::collection::vec(op(), 1..120)) {
        let config = RiskConfig {
            capital_cap: Usdc::from_whole(100),
            max_per_trade: Usdc::from_whole(40),
            max_exposure_per_market: Usdc::from_whole(60),
            daily_loss_limit: Usdc::from_whole(50),
            max_open_positions: 6,
            min_price: p("0.01"),
            max_price: p("0.99"),
            ..RiskConfig::default()
        };
        let mut g = RiskGate::new(config.clone()).unwrap();
        let mut now = T0;
        let mut resting: Vec<OrderIntent> = Vec::new();
        let mut n = 0u32;
        for o in ops {
            n += 1;
            match o {
                Op::Buy { tok, pips, micros } => {
                    let mut i = buy(&format!("o{n}"), tok, "0.5", "1");
                    i.limit_price = Price::from_pips(pips).unwrap();
                    i.size = Size::from_micros(micros);
                    let c = ctx(now, market_of(tok));
                    let cost = Usdc::from_price_size_ceil(i.limit_price, i.size);
                    let before = g.state().committed();
                    if g.check(&i, &c).is_ok() {
                        prop_assert!(before + cost <= config.capital_cap, "{before} + {cost}");
                        prop_assert!(g.state().market_exposure(&c.market) + cost <= config.max_exposure_per_market);
                        prop_assert!(cost <= config.max_per_trade);
                        g.record_placed(&i, c.market, FeeModel::FREE).unwrap();
                        prop_assert!(g.state().open_positions() <= config.max_open_positions as usize);
                        resting.push(i);
                    }
                }
                Op::Fill { eighths, better } => {
                    if let Some(i) = resting.first().cloned() {
                        let size = Size::from_micros((i.size.micros() * eighths / 8).max(1));
                        let price = Price::from_pips(i.limit_price.pips().saturating_sub(better).max(1)).unwrap();
                        let mut f = fill(Some(i.client_order_id.as_str()), 0, Side::Buy, "0.5", "1", now);
                        f.token = i.token.clone();
                        f.price = price;
                        f.size = size;
                        g.record_fill(&f, market(market_of(token_num(&i.token)))).unwrap();
                        let left = i.size.saturating_sub(size);
                        if eighths == 8 || left.is_zero() {
                            resting.remove(0);
                        } else {
                            resting[0].size = left;
                        }
                    }
                }
                Op::Sell { tok, eighths, pips } => {
                    let held = g.state().held(&token(tok));
                    let size = Size::from_micros(held.micros() * eighths / 8);
                    if !size.is_zero() {
                        let mut f = fill(None, tok, Side::Sell, "0.5", "1", now);
                        f.price = Price::from_pips(pips).unwrap();
                        f.size = size;
                        g.record_fill(&f, market(market_of(tok))).unwrap();
                    }
                    // Selling more than is held (dust included) is refused and changes nothing.
                    let before = g.clone();
                    let mut f = fill(None, tok, Side::Sell, "0.5", "1", now);
                    f.size = g.state().held(&token(tok)) + g.state().dust(&token(tok)) + Size::from_micros(1);
                    prop_assert!(g.record_fill(&f, market(market_of(tok))).is_err());
                    prop_assert_eq!(&g, &before);
                }
                Op::Cancel => {
                    if !resting.is_empty() {
                        let i = resting.remove(0);
                        g.record_order_update(&OrderUpdate {
                            client_order_id: i.client_order_id,
                            order_id: None,
                            status: OrderStatus::Cancelled,
                            filled: Size::ZERO,
                            reason: None,
                            at: at(now),
                        });
                    }
                }
                Op::Resolve { m, winner_first } => {
                    let (a, b) = (token(u32::from(m) * 2), token(u32::from(m) * 2 + 1));
                    let winning_token = if winner_first { a.clone() } else { b.clone() };
                    g.record_resolution(&MarketResolved {
                        market: market(m),
                        tokens: vec![a, b],
                        winning_token,
                        winning_outcome: String::new(),
                        time: EventTime { received: at(now), exchange: at(now) },
                    });
                    resting.retain(|i| market_of(token_num(&i.token)) != m);
                }
                Op::Wait { ms } => now += ms,
            }
            let st = g.state();
            prop_assert!(st.committed() >= Usdc::ZERO);
            for m in 0..4 {
                prop_assert!(st.market_exposure(&market(m)) >= Usdc::ZERO);
            }
            for t in 0..8 {
                if let Some(pos) = st.position(&token(t)) {
                    prop_assert!(!pos.shares.is_zero(), "an empty position stays open");
                    prop_assert!(pos.cost >= Usdc::ZERO);
                }
            }
            prop_assert!(st.open_positions() <= 8);
        }
    }
}

fn token_num(t: &TokenId) -> u32 {
    t.as_str().parse().unwrap()
}
