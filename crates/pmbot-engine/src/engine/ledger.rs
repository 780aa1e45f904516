//! The engine's own account: cash, fees, and each position from its first
//! buy to its last sale or payout, which becomes one [`Trade`] row.
//!
//! Invariant: cash moves exactly as the paper venue moves it (a BUY's cost
//! rounded up to a micro-pUSD plus its pUSD fee, a SELL's proceeds rounded
//! down less its fee), so the paper venue's cash and the ledger's agree to
//! the micro; a test holds them to it. A BUY's shares are all held: CLOB V2
//! takes the taker fee in pUSD on both sides.
//!
//! Resolution closes a position at its payout (1 pUSD a winning share), but
//! the payout is cash only once it is in the wallet: on Polymarket nothing
//! is paid until the holder redeems on chain ([`Redemption::OnConfirmation`],
//! live). Until then the market's payout is resolved-unredeemed: part of the
//! positions' value, not cash, so it cannot be spent, and it becomes cash
//! once, when [`Ledger::redeemed`] is told the redemption was confirmed. The
//! paper venue has no chain and pays at resolution
//! ([`Redemption::AtResolution`]: a simulated redemption).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use pmbot_core::{ClientOrderId, ConditionId, Fill, MarketResolved, OrderBook, Side, Size, TimestampMs, TokenId, Usdc};
use rust_decimal::Decimal;

use crate::journal::{PayoutRow, Trade};

/// An open position and what it has cost and brought so far.
#[derive(Debug, Clone)]
struct OpenTrade {
    market: ConditionId,
    entry_order: ClientOrderId,
    opened: TimestampMs,
    bought: Size,
    held: Size,
    cost: Usdc,
    proceeds: Usdc,
    fees: Usdc,
    confidence: Option<Decimal>,
    probability: Option<Decimal>,
}

/// What the entry decision knew, kept for the trade row.
#[derive(Debug, Clone, Default)]
pub struct EntryContext {
    pub confidence: Option<Decimal>,
    pub probability: Option<Decimal>,
}

/// When a resolved market's payout becomes cash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Redemption {
    /// At resolution: the paper venue's payout, a simulated redemption.
    #[default]
    AtResolution,
    /// When the redemption is confirmed (on chain, or by a simulated
    /// exchange): live trading.
    OnConfirmation,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    run: i64,
    redemption: Redemption,
    cash: Usdc,
    fees: Usdc,
    realised: Usdc,
    open: HashMap<TokenId, OpenTrade>,
    /// Less than a lot left after a position was sold (the exchange can fill
    /// a BUY with shares finer than a lot, and sells are in lots): the trade
    /// is closed, the dust is paid out at resolution like any holding.
    dust: HashMap<TokenId, Size>,
    /// Resolved markets' payouts waiting for their redemption (zero for a
    /// market held only in losing shares: those still wait to be burned).
    unredeemed: BTreeMap<ConditionId, Usdc>,
}

pub use pmbot_rows::OpenPosition;

/// One lot: the smallest size that can be sold.
const LOT: Size = Size::from_micros(10_000);

impl Ledger {
    pub fn new(run: i64, starting_cash: Usdc) -> Ledger {
        Ledger {
            run,
            redemption: Redemption::AtResolution,
            cash: starting_cash,
            fees: Usdc::ZERO,
            realised: Usdc::ZERO,
            open: HashMap::default(),
            dust: HashMap::default(),
            unredeemed: BTreeMap::new(),
        }
    }

    /// When payouts become cash (set before the first resolution).
    pub fn set_redemption(&mut self, redemption: Redemption) {
        self.redemption = redemption;
    }

    pub fn redemption(&self) -> Redemption {
        self.redemption
    }

    /// pUSD in the wallet by this ledger's account: never a payout not yet redeemed.
    pub fn cash(&self) -> Usdc {
        self.cash
    }

    /// Resolved markets' payouts not yet redeemed, in total.
    pub fn unredeemed(&self) -> Usdc {
        self.unredeemed.values().copied().sum()
    }

    /// The markets waiting for their redemption, with their payouts.
    pub fn unredeemed_markets(&self) -> impl Iterator<Item = (&ConditionId, &Usdc)> {
        self.unredeemed.iter()
    }

    /// `market`'s redemption is confirmed: its payout becomes cash, once.
    /// `None` (and nothing changes) when nothing was owed for it, which is
    /// what a second confirmation of the same market finds.
    pub fn redeemed(&mut self, market: &ConditionId) -> Option<Usdc> {
        let amount = self.unredeemed.remove(market)?;
        self.cash += amount;
        Some(amount)
    }

    pub fn fees(&self) -> Usdc {
        self.fees
    }

    pub fn realised(&self) -> Usdc {
        self.realised
    }

    pub fn open_positions(&self) -> usize {
        self.open.len()
    }

    /// Shares held of `token`, dust included.
    pub fn held(&self, token: &TokenId) -> Size {
        self.open.get(token).map_or(Size::ZERO, |t| t.held) + self.dust.get(token).copied().unwrap_or(Size::ZERO)
    }

    /// The open positions, oldest first, each valued at its token's best bid
    /// (`None` without a bid): what the dashboard shows.
    pub fn open_view<'a>(&self, book_of: impl Fn(&TokenId) -> Option<&'a OrderBook>) -> Vec<OpenPosition> {
        let mut out: Vec<OpenPosition> = self
            .open
            .iter()
            .map(|(token, t)| OpenPosition {
                market: t.market,
                token: token.clone(),
                opened: t.opened,
                shares: t.held,
                cost: t.cost - t.proceeds,
                value: book_of(token)
                    .and_then(OrderBook::best_bid)
                    .map(|b| Usdc::from_price_size_floor(b.price, t.held)),
                confidence: t.confidence,
            })
            .collect();
        out.sort_by(|a, b| (a.opened, a.token.as_str()).cmp(&(b.opened, b.token.as_str())));
        out
    }

    /// Positions valued at their token's best bid (nothing without a bid),
    /// plus the resolved markets' payouts not yet redeemed.
    pub fn positions_value<'a>(&self, book_of: impl Fn(&TokenId) -> Option<&'a OrderBook>) -> Usdc {
        let mut value = self.unredeemed();
        for (token, t) in &self.open {
            if let Some(bid) = book_of(token).and_then(OrderBook::best_bid) {
                value += Usdc::from_price_size_floor(bid.price, t.held);
            }
        }
        value
    }

    /// Applies one of our fills; returns the trade it closed, if any.
    /// `close_reason` is why the order that filled was sent (for sells).
    pub fn apply_fill(
        &mut self,
        fill: &Fill,
        market: ConditionId,
        entry: &EntryContext,
        close_reason: &str,
    ) -> Option<Trade> {
        let at = fill.time.received;
        match fill.side {
            Side::Buy => {
                let paid = Usdc::from_price_size_ceil(fill.price, fill.size);
                self.cash -= paid + fill.fee;
                self.fees += fill.fee;
                let t = self.open.entry(fill.token.clone()).or_insert_with(|| OpenTrade {
                    market,
                    entry_order: fill.client_order_id.clone().unwrap_or_else(|| {
                        ClientOrderId::new(fill.trade_id.chars().take(64).collect::<String>())
                            .unwrap_or_else(|_| ClientOrderId::new("unknown").expect("valid"))
                    }),
                    opened: at,
                    bought: Size::ZERO,
                    held: Size::ZERO,
                    cost: Usdc::ZERO,
                    proceeds: Usdc::ZERO,
                    fees: Usdc::ZERO,
                    confidence: entry.confidence,
                    probability: entry.probability,
                });
                t.bought += fill.size;
                t.held += fill.size;
                t.cost += paid + fill.fee;
                t.fees += fill.fee;
                None
            }
            Side::Sell => {
                let got = Usdc::from_price_size_floor(fill.price, fill.size);
                self.cash += got - fill.fee;
                self.fees += fill.fee;
                let t = self.open.get_mut(&fill.token)?;
                t.held -= fill.size.min(t.held);
                t.proceeds += got - fill.fee;
                t.fees += fill.fee;
                if t.held >= LOT {
                    return None;
                }
                if !t.held.is_zero() {
                    *self.dust.entry(fill.token.clone()).or_insert(Size::ZERO) += t.held;
                }
                self.close(&fill.token, at, close_reason)
            }
        }
    }

    /// Pays out the market's positions: 1 pUSD a share of the winner, 0 for
    /// the others, as cash or as owed until redeemed ([`Redemption`]).
    /// Returns the payouts and the trades they closed.
    pub fn resolve(&mut self, resolved: &MarketResolved, at: TimestampMs) -> (Vec<PayoutRow>, Vec<Trade>) {
        let mut payouts = Vec::new();
        let mut trades = Vec::new();
        for token in &resolved.tokens {
            let Some(dust) = self.dust.remove(token) else { continue };
            let amount = if *token == resolved.winning_token {
                Usdc::from_micros(i64::try_from(dust.micros()).unwrap_or(i64::MAX))
            } else {
                Usdc::ZERO
            };
            self.settle(resolved.market, amount);
            self.realised += amount;
            payouts.push(PayoutRow {
                run: self.run,
                market: resolved.market,
                token: token.clone(),
                shares: dust,
                amount,
                at,
            });
        }
        for token in &resolved.tokens {
            let Some(t) = self.open.get_mut(token) else { continue };
            let amount = if *token == resolved.winning_token {
                Usdc::from_micros(i64::try_from(t.held.micros()).unwrap_or(i64::MAX))
            } else {
                Usdc::ZERO
            };
            t.proceeds += amount;
            let shares = std::mem::replace(&mut t.held, Size::ZERO);
            payouts.push(PayoutRow {
                run: self.run,
                market: resolved.market,
                token: token.clone(),
                shares,
                amount,
                at,
            });
            self.settle(resolved.market, amount);
            trades.extend(self.close(token, at, "resolution"));
        }
        (payouts, trades)
    }

    /// A payout at resolution: cash now, or owed until the redemption.
    fn settle(&mut self, market: ConditionId, amount: Usdc) {
        match self.redemption {
            Redemption::AtResolution => self.cash += amount,
            Redemption::OnConfirmation => *self.unredeemed.entry(market).or_insert(Usdc::ZERO) += amount,
        }
    }

    fn close(&mut self, token: &TokenId, at: TimestampMs, reason: &str) -> Option<Trade> {
        let t = self.open.remove(token)?;
        let trade = Trade {
            run: self.run,
            market: t.market,
            token: token.clone(),
            entry_order: t.entry_order,
            opened: t.opened,
            closed: at.max(t.opened),
            shares: t.bought,
            cost: t.cost,
            proceeds: t.proceeds,
            fees: t.fees,
            close_reason: reason.to_owned(),
            confidence: t.confidence,
            probability: t.probability,
        };
        self.realised += trade.pnl();
        Some(trade)
    }
}

#[cfg(test)]
mod tests {
    use pmbot_core::{EventTime, Hash32, Liquidity, MarketResolved, Price};

    use super::*;

    const MARKET: ConditionId = Hash32([9; 32]);

    fn token(id: &str) -> TokenId {
        TokenId::parse(id).unwrap()
    }

    /// Our BUY of `shares` of `id` at 0.40, no fee.
    fn buy(id: &str, shares: u64) -> Fill {
        Fill {
            order_id: Hash32([1; 32]),
            client_order_id: Some(ClientOrderId::new("r1-en-1").unwrap()),
            trade_id: "t1".into(),
            token: token(id),
            side: Side::Buy,
            price: Price::parse("0.40").unwrap(),
            size: Size::from_shares(shares),
            fee: Usdc::ZERO,
            liquidity: Liquidity::Taker,
            time: EventTime { received: TimestampMs::from_millis(1), exchange: TimestampMs::from_millis(1) },
        }
    }

    fn resolution(winner: &str) -> MarketResolved {
        MarketResolved {
            market: MARKET,
            tokens: vec![token("1"), token("2")],
            winning_token: token(winner),
            winning_outcome: "Up".into(),
            time: EventTime { received: TimestampMs::from_millis(5), exchange: TimestampMs::from_millis(5) },
        }
    }

    fn holding(redemption: Redemption, winner: &str) -> (Ledger, Vec<Trade>) {
        let mut l = Ledger::new(1, Usdc::from_whole(100));
        l.set_redemption(redemption);
        l.apply_fill(&buy("1", 10), MARKET, &EntryContext::default(), "exit");
        assert_eq!(l.cash(), Usdc::from_whole(96), "10 shares at 0.40");
        let (payouts, trades) = l.resolve(&resolution(winner), TimestampMs::from_millis(5));
        assert_eq!(payouts.len(), 1);
        (l, trades)
    }

    #[test]
    fn paper_pays_at_resolution() {
        let (mut l, trades) = holding(Redemption::AtResolution, "1");
        assert_eq!(l.cash(), Usdc::from_whole(106));
        assert_eq!(l.unredeemed(), Usdc::ZERO);
        assert_eq!(trades[0].pnl(), Usdc::from_whole(6));
        assert_eq!(l.redeemed(&MARKET), None, "nothing owed: a confirmation changes nothing");
        assert_eq!(l.cash(), Usdc::from_whole(106));
    }

    #[test]
    fn live_owes_the_payout_until_the_redemption_is_confirmed_and_counts_it_once() {
        let (mut l, trades) = holding(Redemption::OnConfirmation, "1");
        // The trade is closed at its payout; the payout is not cash yet.
        assert_eq!(trades[0].pnl(), Usdc::from_whole(6));
        assert_eq!(l.cash(), Usdc::from_whole(96));
        assert_eq!(l.unredeemed(), Usdc::from_whole(10));
        assert_eq!(l.positions_value(|_| None), Usdc::from_whole(10), "valued at the payout");
        assert_eq!(l.open_positions(), 0);
        assert_eq!(l.unredeemed_markets().collect::<Vec<_>>(), [(&MARKET, &Usdc::from_whole(10))]);
        assert_eq!(l.redeemed(&MARKET), Some(Usdc::from_whole(10)));
        assert_eq!((l.cash(), l.unredeemed()), (Usdc::from_whole(106), Usdc::ZERO));
        assert_eq!(l.redeemed(&MARKET), None, "a second confirmation adds nothing");
        assert_eq!(l.cash(), Usdc::from_whole(106));
    }

    #[test]
    fn losing_shares_wait_for_their_redemption_too() {
        let (mut l, trades) = holding(Redemption::OnConfirmation, "2");
        assert_eq!(trades[0].pnl(), Usdc::from_whole(-4));
        assert_eq!(l.unredeemed(), Usdc::ZERO);
        assert_eq!(l.unredeemed_markets().count(), 1, "the losing shares still wait to be burned");
        assert_eq!(l.redeemed(&MARKET), Some(Usdc::ZERO));
        assert_eq!(l.unredeemed_markets().count(), 0);
        assert_eq!(l.cash(), Usdc::from_whole(96));
    }
}
