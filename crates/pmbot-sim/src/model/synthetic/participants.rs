//! What each kind of participant would do, as pure functions of the book,
//! the tick and a probability: makers' ladders, informed takers' choices and
//! the sizes a marketable order needs.
//!
//! All prices come out on the given tick and within `[tick, 1 - tick]`.

use pmbot_core::{Price, Size, TickSize};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::engine::{BookView, FeeSchedule, Level};

/// One of a binary market's two outcome tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// `tokens[0]` ("Up"): the primary book's own token.
    Primary,
    /// `tokens[1]` ("Down"): its book mirrors the primary one.
    Secondary,
}

impl Outcome {
    pub fn index(self) -> usize {
        match self {
            Outcome::Primary => 0,
            Outcome::Secondary => 1,
        }
    }

    /// Probability that this outcome wins, given the primary's.
    pub fn probability(self, primary: f64) -> f64 {
        match self {
            Outcome::Primary => primary,
            Outcome::Secondary => 1.0 - primary,
        }
    }
}

/// The asks of `outcome`'s token, best first, read from the primary book
/// (the secondary token's asks are the primary bids at `1 - p`).
pub(crate) fn asks_of(book: &BookView, outcome: Outcome) -> Vec<Level> {
    match outcome {
        Outcome::Primary => book.asks.clone(),
        Outcome::Secondary => book.bids.iter().map(|l| Level { price: l.price.complement(), size: l.size }).collect(),
    }
}

fn tick_value(tick: TickSize) -> f64 {
    f64::from(tick.pips()) / 10_000.0
}

/// The highest valid price in ticks (`1 - tick`).
fn top_ticks(tick: TickSize) -> u32 {
    10_000 / u32::from(tick.pips()) - 1
}

/// Prices others already quote, which a maker's ladder must not cross (a
/// maker joins or stays behind a better quote instead of taking it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OthersBest {
    pub bid: Option<Price>,
    pub ask: Option<Price>,
}

/// A maker's ladder on the primary book: bid prices (best first) and ask
/// prices (best first), `half_spread_ticks` ticks either side of `fair`,
/// then every `gap` ticks, never crossing `others`. Its best bid is always
/// below its best ask; a side with no room (the others' ask at the lowest
/// price, say) is empty.
pub(crate) fn ladder(
    fair: f64,
    half_spread_ticks: f64,
    tick: TickSize,
    levels: u32,
    gap: u32,
    others: OthersBest,
) -> (Vec<Price>, Vec<Price>) {
    let top = top_ticks(tick);
    let pips = u32::from(tick.pips());
    let fair_ticks = fair.clamp(0.0, 1.0) / tick_value(tick);
    // The epsilon keeps a fair value exactly on a tick from landing on it.
    let mut bid = (fair_ticks - half_spread_ticks - 1e-9).floor().clamp(1.0, f64::from(top - 1)) as u32;
    let mut ask = ((fair_ticks + half_spread_ticks + 1e-9).ceil() as u32).clamp(bid + 1, top);
    // Highest bid strictly below the others' ask, lowest ask strictly above their bid.
    let bid_cap = others.ask.map(|a| (u32::from(a.pips()) - 1) / pips);
    let ask_floor = others.bid.map(|b| u32::from(b.pips()) / pips + 1);
    let mut bid_room = true;
    let mut ask_room = true;
    if let Some(cap) = bid_cap {
        bid_room = cap >= 1;
        bid = bid.min(cap);
    }
    if let Some(floor) = ask_floor {
        ask_room = floor <= top;
        ask = ask.max(floor);
    }
    let bids = if bid_room {
        (0..levels)
            .map_while(|j| bid.checked_sub(j * gap).filter(|t| *t >= 1))
            .filter_map(|t| Price::from_ticks(t, tick))
            .collect()
    } else {
        Vec::new()
    };
    let asks = if ask_room {
        (0..levels)
            .map(|j| ask + j * gap)
            .take_while(|t| *t <= top)
            .filter_map(|t| Price::from_ticks(t, tick))
            .collect()
    } else {
        Vec::new()
    };
    (bids, asks)
}

/// The least whole-share size a marketable BUY at `price` may have: at least
/// `wanted`, the market's minimum and $1 of notional.
pub(crate) fn taker_size(wanted: u64, price: Price, min_size: Size) -> Size {
    let min_shares = min_size.micros().div_ceil(1_000_000);
    let dollar_shares = 10_000u64.div_ceil(u64::from(price.pips()));
    Size::from_shares(wanted.max(min_shares).max(dollar_shares))
}

/// An informed taker's order: the token and limit price to buy at and the
/// shares on offer up to that limit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InformedBuy {
    pub outcome: Outcome,
    pub limit: Price,
    pub available: Size,
    /// Margin of the true probability over the break-even at the best ask.
    pub edge: f64,
}

/// The win probability at which buying a share at `price` as a taker and
/// holding it to resolution breaks even. CLOB V2 charges the fee in pUSD on
/// top of the price (see `engine::fees`), so a share costs `p + fee per share`
/// and pays 1 on a win: `q* = p + rate x (p(1-p))^e`.
pub(crate) fn buy_break_even(price: Price, fee: &FeeSchedule) -> f64 {
    (Decimal::new(i64::from(price.pips()), 4) + fee.per_share(price)).to_f64().unwrap_or(1.0)
}

/// Walks each token's asks while buying at the level still wins, after the
/// taker fee, by more than `min_edge`; returns the token with the larger edge
/// at its best ask, if any.
pub(crate) fn informed_buy(
    book: &BookView,
    primary: f64,
    fee: &FeeSchedule,
    min_edge: f64,
    tick: TickSize,
) -> Option<InformedBuy> {
    let mut best: Option<InformedBuy> = None;
    for outcome in [Outcome::Primary, Outcome::Secondary] {
        let p = outcome.probability(primary);
        let mut found: Option<InformedBuy> = None;
        for level in asks_of(book, outcome) {
            if !level.price.is_on_tick(tick) {
                break;
            }
            let break_even = buy_break_even(level.price, fee);
            let edge = p - break_even;
            if edge <= min_edge {
                break;
            }
            match &mut found {
                None => found = Some(InformedBuy { outcome, limit: level.price, available: level.size, edge }),
                Some(f) => {
                    f.limit = level.price;
                    f.available += level.size;
                }
            }
        }
        if let Some(f) = found
            && best.as_ref().is_none_or(|b| f.edge > b.edge)
        {
            best = Some(f);
        }
    }
    best
}

/// A noise taker's limit: `slippage` ticks through the best ask of
/// `outcome`, capped at `1 - tick`; `None` when that token has no asks.
pub(crate) fn noise_limit(book: &BookView, outcome: Outcome, slippage: u32, tick: TickSize) -> Option<Price> {
    let best = asks_of(book, outcome).first()?.price;
    let on_tick = best.ceil_to(tick).unwrap_or(tick.max_price());
    Some(on_tick.up(slippage, tick).filter(|p| *p <= tick.max_price()).unwrap_or(tick.max_price()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmbot_core::Hash32;
    use pmbot_core::TokenId;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn book(bids: &[(&str, u64)], asks: &[(&str, u64)]) -> BookView {
        let lv =
            |v: &[(&str, u64)]| v.iter().map(|(pr, sz)| Level { price: p(pr), size: Size::from_shares(*sz) }).collect();
        BookView {
            market: Hash32::default(),
            token: TokenId::parse("1").unwrap(),
            bids: lv(bids),
            asks: lv(asks),
            tick: TickSize::Hundredth,
            min_order_size: Size::from_shares(5),
            neg_risk: false,
            last_trade_price: None,
            timestamp_ms: 0,
        }
    }

    #[test]
    fn ladder_straddles_fair_value_on_tick() {
        let t = TickSize::Hundredth;
        let none = OthersBest::default();
        let (bids, asks) = ladder(0.503, 0.6, t, 3, 1, none);
        assert_eq!(bids, [p("0.49"), p("0.48"), p("0.47")]);
        assert_eq!(asks, [p("0.51"), p("0.52"), p("0.53")]);
        // Exactly on a tick: one tick each side, never at the fair value.
        let (bids, asks) = ladder(0.5, 0.0, t, 1, 1, none);
        assert_eq!((bids[0], asks[0]), (p("0.49"), p("0.51")));
        let (bids, asks) = ladder(0.42, 1.5, t, 2, 2, none);
        assert_eq!(bids, [p("0.40"), p("0.38")]);
        assert_eq!(asks, [p("0.44"), p("0.46")]);
    }

    #[test]
    fn ladder_stays_in_range_at_the_extremes() {
        for tick in [TickSize::Hundredth, TickSize::Thousandth, TickSize::Tenth] {
            for fair in [0.0, 0.0004, 0.003, 0.5, 0.997, 0.9996, 1.0] {
                let (bids, asks) = ladder(fair, 1.0, tick, 10, 1, OthersBest::default());
                assert!(!bids.is_empty() && !asks.is_empty(), "{fair} {tick}");
                assert!(bids[0] < asks[0]);
                for q in bids.iter().chain(&asks) {
                    assert!(q.is_on_tick(tick) && *q >= tick.min_price() && *q <= tick.max_price(), "{q} {tick}");
                }
            }
        }
        let (bids, asks) = ladder(0.999, 0.6, TickSize::Hundredth, 5, 1, OthersBest::default());
        assert_eq!((bids[0], asks.as_slice()), (p("0.98"), &[p("0.99")][..]));
    }

    #[test]
    fn ladder_never_crosses_what_others_quote() {
        let t = TickSize::Hundredth;
        // The truth jumped to 0.60 but a slower maker still asks 0.52 and bids 0.49.
        let others = OthersBest { bid: Some(p("0.49")), ask: Some(p("0.52")) };
        let (bids, asks) = ladder(0.60, 0.6, t, 3, 1, others);
        assert_eq!(bids, [p("0.51"), p("0.50"), p("0.49")]);
        assert_eq!(asks[0], p("0.61"));
        // And down to 0.40: it asks no lower than 0.50.
        let (bids, asks) = ladder(0.40, 0.6, t, 2, 1, others);
        assert_eq!((bids[0], asks[0]), (p("0.39"), p("0.50")));
        // No room at all on a side.
        let others = OthersBest { bid: Some(p("0.99")), ask: Some(p("0.01")) };
        assert_eq!(ladder(0.5, 0.6, t, 2, 1, others), (vec![], vec![]));
        // Finer tick: the cap is strictly below a coarser-tick ask.
        let others = OthersBest { bid: None, ask: Some(p("0.97")) };
        let (bids, _) = ladder(0.99, 0.6, TickSize::Thousandth, 1, 1, others);
        assert_eq!(bids, [p("0.969")]);
    }

    #[test]
    fn taker_sizes_meet_both_minimums() {
        let min = Size::from_shares(5);
        assert_eq!(taker_size(1, p("0.5"), min), Size::from_shares(5));
        assert_eq!(taker_size(1, p("0.03"), min), Size::from_shares(34));
        assert_eq!(taker_size(70, p("0.03"), min), Size::from_shares(70));
        assert_eq!(taker_size(2, p("0.99"), min), Size::from_shares(5));
    }

    #[test]
    fn break_even_pays_the_fee_on_top_of_the_price() {
        let fee = FeeSchedule::crypto();
        // 0.5 + 0.07 x 0.25 = 0.5175 (V2; V1's fee in shares gave 0.5181).
        assert!((buy_break_even(p("0.5"), &fee) - 0.5175).abs() < 1e-12);
        assert!((buy_break_even(p("0.05"), &fee) - 0.053325).abs() < 1e-12);
        assert_eq!(buy_break_even(p("0.3"), &FeeSchedule::FREE), 0.3);
    }

    #[test]
    fn informed_takers_buy_only_beyond_the_fee_edge() {
        let fee = FeeSchedule::crypto();
        let b = book(&[("0.49", 100), ("0.48", 100)], &[("0.51", 100), ("0.52", 50), ("0.53", 70)]);
        // Break-even for buying at 0.51 is 0.5275: 0.53 is not enough with a 0.01 margin.
        assert_eq!(informed_buy(&b, 0.53, &fee, 0.01, TickSize::Hundredth), None);
        // At 0.555 it buys up to 0.52 (break-even 0.5375), not 0.53 (0.5474).
        let got = informed_buy(&b, 0.555, &fee, 0.01, TickSize::Hundredth).unwrap();
        assert_eq!((got.outcome, got.limit, got.available), (Outcome::Primary, p("0.52"), Size::from_shares(150)));
        // Down is the other side: asks at 0.51, 0.52 from the bids.
        let got = informed_buy(&b, 0.44, &fee, 0.01, TickSize::Hundredth).unwrap();
        assert_eq!((got.outcome, got.limit, got.available), (Outcome::Secondary, p("0.52"), Size::from_shares(200)));
        assert_eq!(informed_buy(&book(&[], &[]), 0.9, &fee, 0.01, TickSize::Hundredth), None);
    }

    #[test]
    fn noise_limits_walk_through_the_ask_and_stay_in_range() {
        let b = book(&[("0.97", 10)], &[("0.98", 10)]);
        assert_eq!(noise_limit(&b, Outcome::Primary, 0, TickSize::Hundredth), Some(p("0.98")));
        assert_eq!(noise_limit(&b, Outcome::Primary, 5, TickSize::Hundredth), Some(p("0.99")));
        assert_eq!(noise_limit(&b, Outcome::Secondary, 2, TickSize::Hundredth), Some(p("0.05")));
        assert_eq!(noise_limit(&book(&[], &[]), Outcome::Primary, 1, TickSize::Hundredth), None);
    }
}
