//! `pmbot livetest --taker`: the market-order path exercised once, for
//! real, before any trading: one minimum-value marketable BUY (FAK at the
//! best ask) and a SELL of what it bought (FAK at the best bid), through the
//! gateway and the journal like any order of the engine's.
//!
//! Invariant: nothing is sent before the plan (sizes, prices, the most it
//! can cost, fees by the market's own schedule) is printed and `--yes` was
//! given; every amount is exact within the exchange's precision for market
//! orders (`pmbot_core::order_amounts`), so a refusal means the exchange
//! disagrees with pmbot, which is what this command is for. Shares bought
//! and not sold (no bid, a partial SELL) are reported with what to do.
//!
//! The size: the smallest exact market BUY of at least the book's
//! `min_order_size` shares and at least 1 pUSD, the minimum value of a
//! marketable BUY (`../shared/research/polymarket-protocol.md` §3, price
//! validity: "≥ $1 notional for marketable BUYs").

use std::time::{Duration, Instant};

use super::{Context, LivetestFailed, Result, fail, step};
use crate::SystemClock;
use crate::gateway::{Gateway, GatewayError, Refusal};
use crate::marketdata::rest::RestClient;
use pmbot_core::order_amounts::{OrderAmounts, OrderKind, Sizing, share_step, size_order};
use pmbot_core::price::PIPS_PER_UNIT;
use pmbot_core::{
    ClientOrderId, Clock, DecisionContext, FeeModel, OrderIntent, OrderType, Price, Side, Size, TickSize, TokenId, Usdc,
};

/// The least a marketable BUY may spend (see the module docs).
pub const MIN_MARKET_BUY: Usdc = Usdc::from_whole(1);

/// What the taker test will do, worked out before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakerPlan {
    pub buy: OrderAmounts,
    /// The BUY's taker fee at its limit, pUSD on top of the notional.
    pub buy_fee: Usdc,
    /// The best bid now: where the SELL is expected to fill.
    pub bid: Price,
    /// What selling every share at `bid` would bring, after its fee.
    pub sell_proceeds: Usdc,
}

impl TakerPlan {
    /// The most the BUY can take from the wallet.
    pub fn max_cost(&self) -> Usdc {
        self.buy.collateral + self.buy_fee
    }

    /// The round trip's expected cost at today's touch.
    pub fn expected_loss(&self) -> Usdc {
        self.max_cost() - self.sell_proceeds
    }
}

/// The plan at best ask `ask` and best bid `bid`: the smallest exact market
/// BUY of at least `min_size` shares and [`MIN_MARKET_BUY`].
pub fn plan(
    ask: Price,
    bid: Price,
    tick: TickSize,
    min_size: Size,
    fee: &FeeModel,
) -> std::result::Result<TakerPlan, String> {
    let step = share_step(OrderKind::Market, Side::Buy, ask, tick);
    // Shares that reach the minimum value (pUSD / price), rounded up to
    // whole micro-shares.
    let value = u64::try_from(MIN_MARKET_BUY.micros()).expect("a positive constant");
    let wanted = (value * u64::from(PIPS_PER_UNIT)).div_ceil(u64::from(ask.pips()));
    let wanted = wanted.max(min_size.micros());
    let shares = Size::from_micros(wanted.div_ceil(step.micros()) * step.micros());
    let buy = match size_order(OrderKind::Market, Side::Buy, ask, tick, shares) {
        Sizing::Exact(a) => a,
        other => return Err(format!("no exact market BUY of {shares} shares at {ask}: {other:?}")),
    };
    let sell_shares = sellable(buy.shares, bid, tick);
    let sell_proceeds = Usdc::from_price_size_floor(bid, sell_shares)
        .checked_sub(fee.taker_fee(bid, sell_shares))
        .unwrap_or(Usdc::ZERO);
    Ok(TakerPlan { buy_fee: fee.taker_fee(ask, buy.shares), buy, bid, sell_proceeds })
}

/// The most of `held` shares a market SELL at `bid` can carry exactly.
pub fn sellable(held: Size, bid: Price, tick: TickSize) -> Size {
    held.round_down_to(share_step(OrderKind::Market, Side::Sell, bid, tick).micros())
}

/// Reads the book, prints the plan, and with `yes` places the BUY and the
/// SELL. `gateway` is started; the caller shuts it down.
pub async fn run(gateway: &Gateway, rest: &RestClient, token: TokenId, yes: bool, timeout: Duration) -> Result<()> {
    let t = Instant::now();
    let first = touch(rest, &token).await?;
    let fee = gateway.market_fee(&token).await.context("cannot read the market's fee schedule")?;
    let plan = plan(first.ask, first.bid, first.tick, first.min_size, &fee).map_err(LivetestFailed)?;
    step("plan", t, format!("fee rate {} exponent {} (the market's fd)", fee.rate, fee.exponent));
    println!(
        "BUY {} shares FAK at up to {}: at most {} pUSD ({} + fee {}); then SELL them FAK at the best bid {}: about {} \
         back. Expected cost of the round trip: {} pUSD.",
        plan.buy.shares,
        plan.buy.price,
        plan.max_cost(),
        plan.buy.collateral,
        plan.buy_fee,
        plan.bid,
        plan.sell_proceeds,
        plan.expected_loss()
    );
    if !yes {
        fail!("nothing placed: add --yes to place these two orders with real money");
    }

    let t = Instant::now();
    let bought = take(gateway, &token, (Side::Buy, plan.buy.price, plan.buy.shares), "buy", timeout).await?;
    step("buy", t, format!("{bought} of {} shares filled at up to {}", plan.buy.shares, plan.buy.price));
    if bought.is_zero() {
        fail!("the marketable BUY filled nothing (the ask moved?): nothing is held; run again");
    }
    // Shares are the exchange's to sell only once the trade settled: wait
    // until its balance shows them (bounded by --timeout).
    let t = Instant::now();
    let held = settled_shares(gateway, &token, bought, timeout).await;
    step("settled", t, format!("{held} shares held on the exchange"));
    // The SELL at the touch as it is now, not as it was planned.
    let now = touch(rest, &token).await?;
    let sell = sellable(bought.min(held), now.bid, now.tick);
    if sell.is_zero() {
        fail!(
            "bought {bought} shares; the exchange shows {held} within {timeout:?}, too few to sell at {}: sell them on \
             the site",
            now.bid
        );
    }
    let t = Instant::now();
    let sold = take(gateway, &token, (Side::Sell, now.bid, sell), "sell", timeout).await?;
    step("sell", t, format!("{sold} of {sell} shares sold at {} or better", now.bid));
    let left = bought.saturating_sub(sold);
    if sold.is_zero() {
        fail!("the marketable SELL filled nothing (the bid moved?): {bought} shares are held; sell them on the site");
    }
    println!("PASS: bought {bought} and sold {sold} shares with market orders; {left} shares left over");
    Ok(())
}

/// The shares of `token` the exchange's balance shows, polled until they
/// reach `bought` or `timeout` passes (the last figure read; zero if none
/// could be read).
async fn settled_shares(gateway: &Gateway, token: &TokenId, bought: Size, timeout: Duration) -> Size {
    let started = Instant::now();
    let mut held = Size::ZERO;
    loop {
        match gateway.venue_shares(token).await {
            Ok(shares) => held = shares,
            Err(e) => tracing::warn!(target: "pmbot::livetest", "cannot read the share balance: {e}"),
        }
        if held >= bought || started.elapsed() >= timeout {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The touch and the market's order rules, from the REST book.
struct Touch {
    ask: Price,
    bid: Price,
    tick: TickSize,
    min_size: Size,
}

async fn touch(rest: &RestClient, token: &TokenId) -> Result<Touch> {
    let (book, tick, min_size) = super::book_and_rules(rest, token).await?;
    let ask = book.snapshot.asks.iter().map(|l| l.price).min().context("the book has no ask to buy from")?;
    let bid = book.snapshot.bids.iter().map(|l| l.price).max().context("the book has no bid to sell to")?;
    Ok(Touch { ask, bid, tick, min_size })
}

/// One FAK order through the gateway; the shares it filled, once the
/// exchange's record of it is in (at most `timeout`).
async fn take(
    gateway: &Gateway,
    token: &TokenId,
    (side, limit, size): (Side, Price, Size),
    what: &str,
    timeout: Duration,
) -> Result<Size> {
    let cid =
        ClientOrderId::new(format!("livetest-taker-{what}-{}", SystemClock.now_ms())).context("client order id")?;
    let intent = OrderIntent {
        client_order_id: cid.clone(),
        token: token.clone(),
        side,
        limit_price: limit,
        size,
        order_type: OrderType::Fak,
        post_only: false,
        expires_at: None,
        decision: DecisionContext::default(),
    };
    match gateway.place(intent).await {
        Ok(_) => {
            // The post reply is not the fills (see `Gateway::settled`).
            let Some(view) = gateway.settled(&cid, timeout).await else {
                fail!("the {what} is no longer tracked by the gateway: see `pmbot orders`");
            };
            if view.filled.is_zero() {
                let why = view.reason.unwrap_or_else(|| "no reason given".into());
                println!("{what}: {:?}, nothing filled ({why})", view.status);
            }
            Ok(view.filled)
        }
        Err(GatewayError::Refused(Refusal::KillSwitch(path))) => fail!(
            "refused by the kill switch {} like any order: nothing was sent (`pmbot unkill` after checking why it was set)",
            path.display()
        ),
        Err(e) => fail!("the {what} was not placed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn sz(s: &str) -> Size {
        Size::parse(s).unwrap()
    }

    #[test]
    fn the_smallest_buy_meets_the_minimum_size_and_value_with_exact_amounts() {
        let fee = FeeModel::crypto();
        // At 0.53 a market BUY buys whole shares; 5 shares cost 2.65 >= 1.
        let a = plan(p("0.53"), p("0.52"), TickSize::Hundredth, sz("5"), &fee).unwrap();
        assert_eq!((a.buy.shares, a.buy.collateral), (sz("5"), Usdc::parse("2.65").unwrap()));
        // 0.07 x 5 x 0.53 x 0.47 = 0.087185, rounded down to 0.08718.
        assert_eq!(a.buy_fee, Usdc::parse("0.08718").unwrap());
        assert_eq!(a.max_cost(), Usdc::parse("2.73718").unwrap());
        // At 0.05 five shares are 0.25 pUSD: the value rules, 20 shares.
        let b = plan(p("0.05"), p("0.04"), TickSize::Hundredth, sz("5"), &fee).unwrap();
        assert_eq!((b.buy.shares, b.buy.collateral), (sz("20"), Usdc::from_whole(1)));
    }

    #[test]
    fn every_planned_buy_is_exact_and_at_least_the_minimums() {
        for tick in [TickSize::Hundredth, TickSize::Thousandth] {
            let mut pips = tick.min_price().pips();
            while pips <= tick.max_price().pips() {
                let ask = Price::from_pips(pips).unwrap();
                let plan = plan(ask, tick.min_price(), tick, sz("5"), &FeeModel::crypto()).unwrap();
                assert!(plan.buy.shares >= sz("5"), "{ask}");
                assert!(plan.buy.collateral >= MIN_MARKET_BUY, "{ask}: {}", plan.buy.collateral);
                // 2 decimals of pUSD, 4 of shares: the market BUY caps.
                assert_eq!(plan.buy.collateral.micros() % 10_000, 0, "{ask}");
                assert_eq!(plan.buy.shares.micros() % 100, 0, "{ask}");
                pips += tick.pips();
            }
        }
    }

    #[test]
    fn what_is_sold_is_what_a_market_sell_can_carry() {
        assert_eq!(sellable(sz("5.037"), p("0.52"), TickSize::Hundredth), sz("5.03"));
        assert_eq!(sellable(sz("5"), p("0.52"), TickSize::Hundredth), sz("5"));
    }
}
