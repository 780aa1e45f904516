//! The events and commands the engine loop passes around.
//!
//! Invariant: these are pmbot's own types, already checked and exact (prices on
//! a pip grid, sizes in micro-shares, ids validated). The venue adapters turn
//! the wire format into them; the journal and recordings store them as JSON,
//! and every type here reads back exactly what it wrote.
//!
//! Every event carries two times: `received`, from the engine's [`crate::Clock`]
//! when the message arrived (what staleness and latency are measured with), and
//! `exchange`, the exchange's own `timestamp` field (what ordering within the
//! exchange's stream and replays are keyed by).

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::amount::{Size, Usdc};
use crate::clock::TimestampMs;
use crate::ids::{ConditionId, OrderId, TokenId};
use crate::level::Level;
use crate::order_amounts::{OrderAmounts, OrderKind, Sizing, size_order};
use crate::price::{Price, TickSize};
use crate::side::Side;

/// When a message was received and when the exchange says it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventTime {
    /// Our clock at receipt (unix ms).
    pub received: TimestampMs,
    /// The exchange's `timestamp` (unix ms).
    pub exchange: TimestampMs,
}

// ---- market data ---------------------------------------------------------

/// Everything the market channel (or a replay of it) tells the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MarketEvent {
    Book(BookSnapshot),
    PriceChanges(PriceChangeBatch),
    LastTrade(LastTrade),
    TickSizeChange(TickSizeChange),
    BestBidAsk(BestBidAsk),
    NewMarket(NewMarket),
    MarketResolved(MarketResolved),
}

impl MarketEvent {
    /// The event's times.
    pub fn time(&self) -> EventTime {
        match self {
            MarketEvent::Book(e) => e.time,
            MarketEvent::PriceChanges(e) => e.time,
            MarketEvent::LastTrade(e) => e.time,
            MarketEvent::TickSizeChange(e) => e.time,
            MarketEvent::BestBidAsk(e) => e.time,
            MarketEvent::NewMarket(e) => e.time,
            MarketEvent::MarketResolved(e) => e.time,
        }
    }
}

/// A full book for one token (`book`, or REST `/book`): replaces the book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSnapshot {
    pub token: TokenId,
    pub market: ConditionId,
    /// In any order; [`crate::OrderBook`] sorts.
    pub bids: Vec<Level>,
    /// In any order; [`crate::OrderBook`] sorts.
    pub asks: Vec<Level>,
    /// The tick the frame states, if it states one.
    pub tick_size: Option<TickSize>,
    /// The frame's `last_trade_price`, if any.
    pub last_trade_price: Option<Price>,
    /// The exchange's book hash as sent (checked by the venue with
    /// [`mod@crate::book_hash`] while it still has the raw strings).
    pub hash: Option<String>,
    pub time: EventTime,
}

/// One `price_change` frame: level updates, usually for both tokens of a market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChangeBatch {
    pub market: ConditionId,
    /// In the order received; apply in this order.
    pub changes: Vec<PriceChange>,
    pub time: EventTime,
}

/// One level update: the new aggregate size at `price` on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceChange {
    pub token: TokenId,
    /// BUY updates a bid level, SELL an ask level.
    pub side: Side,
    pub price: Price,
    /// The new total size at this price; zero removes the level.
    pub size: Size,
    /// The exchange's best bid after the change (`None` if absent or "0").
    pub best_bid: Option<Price>,
    /// The exchange's best ask after the change (`None` if absent or "1").
    pub best_ask: Option<Price>,
    /// The exchange's hash of the book after the change, as sent.
    pub hash: Option<String>,
}

/// A trade printed on the market (`last_trade_price`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastTrade {
    pub token: TokenId,
    pub market: ConditionId,
    pub price: Price,
    /// The taker's side.
    pub side: Side,
    pub size: Size,
    /// The fee rate the trade record carries, in basis points.
    pub fee_rate_bps: u32,
    pub time: EventTime,
}

/// The market's tick changed; orders on the old grid are refused from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickSizeChange {
    pub token: TokenId,
    pub market: ConditionId,
    pub old: TickSize,
    pub new: TickSize,
    pub time: EventTime,
}

/// The exchange's top of book for a token (`best_bid_ask`). The spread it also
/// sends is `best_ask - best_bid` and is not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BestBidAsk {
    pub token: TokenId,
    pub market: ConditionId,
    /// `None` when there is no bid (the exchange writes "0").
    pub best_bid: Option<Price>,
    /// `None` when there is no ask (the exchange writes "1").
    pub best_ask: Option<Price>,
    pub time: EventTime,
}

/// A market was listed (`new_market`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMarket {
    pub market: ConditionId,
    /// The Gamma market id.
    pub id: String,
    pub question: String,
    pub slug: String,
    /// The outcome tokens; `tokens[i]` is the token of `outcomes[i]`.
    pub tokens: Vec<TokenId>,
    pub outcomes: Vec<String>,
    pub time: EventTime,
}

/// A market resolved (`market_resolved`): each winning share pays 1 pUSD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketResolved {
    pub market: ConditionId,
    pub tokens: Vec<TokenId>,
    pub winning_token: TokenId,
    pub winning_outcome: String,
    pub time: EventTime,
}

// ---- orders ----------------------------------------------------------------

/// Our own id for an order, fixed before it is sent, so the journal row written
/// first and the exchange's answer can be matched (and a crash recovered).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientOrderId(String);

/// A client order id that is empty, longer than 64 bytes or not printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client order id {0:?} must be 1-64 printable ASCII characters")]
pub struct ClientOrderIdError(pub String);

impl ClientOrderId {
    pub const MAX_LEN: usize = 64;

    pub fn new(id: impl Into<String>) -> Result<ClientOrderId, ClientOrderIdError> {
        let id = id.into();
        let ok = !id.is_empty() && id.len() <= Self::MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic());
        if ok { Ok(ClientOrderId(id)) } else { Err(ClientOrderIdError(id)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientOrderId {
    type Error = ClientOrderIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ClientOrderId::new(s)
    }
}

impl From<ClientOrderId> for String {
    fn from(id: ClientOrderId) -> String {
        id.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientOrderId({})", self.0)
    }
}

/// Time in force, spelled as the exchange spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderType {
    /// Good till cancelled: rests.
    Gtc,
    /// Good till date: rests until `expires_at`.
    Gtd,
    /// Fill or kill: fills entirely at once or not at all.
    Fok,
    /// Fill and kill: fills what it can at once, the rest is cancelled.
    Fak,
}

impl OrderType {
    /// Whether an unfilled remainder rests on the book.
    pub const fn rests(self) -> bool {
        matches!(self, OrderType::Gtc | OrderType::Gtd)
    }
}

/// Why the decision was taken: the numbers the journal records for every
/// intent (and the go-live gate and reports read back). `None` where the
/// deciding code did not compute it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct DecisionContext {
    /// The model's probability that the traded outcome wins (or that the price
    /// moves the traded way within the horizon), in [0, 1].
    pub probability: Option<Decimal>,
    /// |2p - 1|, in [0, 1].
    pub confidence: Option<Decimal>,
    /// Expected value of the whole order after fees, in pUSD (unrounded).
    pub expected_value: Option<Decimal>,
    /// The win probability at which the order's expected value is zero after
    /// fees ([`crate::break_even_probability`]).
    pub break_even_probability: Option<Decimal>,
    /// The size the strategy wanted before it was cut to a whole number of
    /// the exchange's exact-amount steps ([`crate::order_amounts`]); `None`
    /// when that rounding took nothing away.
    pub size_before_exact_amounts: Option<Size>,
}

/// An order the strategy wants placed (before risk checks and before sending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIntent {
    pub client_order_id: ClientOrderId,
    pub token: TokenId,
    pub side: Side,
    pub limit_price: Price,
    pub size: Size,
    pub order_type: OrderType,
    /// Refuse rather than take liquidity (GTC/GTD only).
    pub post_only: bool,
    /// Expiry of a GTD order; `None` for every other type.
    pub expires_at: Option<TimestampMs>,
    pub decision: DecisionContext,
}

/// Why an intent is not a valid order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntentError {
    #[error("order size is zero")]
    ZeroSize,
    #[error("limit price {price} is not on the market's {tick} tick grid")]
    OffTick { price: Price, tick: TickSize },
    #[error("a GTD order needs an expiry, and only a GTD order may have one")]
    Expiry,
    #[error("post-only is only allowed on GTC and GTD orders")]
    PostOnlyTaker,
    /// The exchange would refuse the amounts of this size at this price
    /// (see [`crate::order_amounts`]); `largest` is the largest size it
    /// would take, zero if none.
    #[error(
        "{size} shares at {price} have no exact amounts within the exchange's precision; the step there is {step} \
         shares, the largest exact size {largest}"
    )]
    InexactAmounts { size: Size, price: Price, step: Size, largest: Size },
}

impl OrderIntent {
    /// Checks what can be checked without account state: size, tick, expiry,
    /// post-only, and that the size has amounts the exchange accepts at the
    /// limit price. Returns those amounts.
    pub fn validate(&self, tick: TickSize) -> Result<OrderAmounts, IntentError> {
        if self.size.is_zero() {
            return Err(IntentError::ZeroSize);
        }
        if !self.limit_price.is_on_tick(tick) {
            return Err(IntentError::OffTick { price: self.limit_price, tick });
        }
        if (self.order_type == OrderType::Gtd) != self.expires_at.is_some() {
            return Err(IntentError::Expiry);
        }
        if self.post_only && !self.order_type.rests() {
            return Err(IntentError::PostOnlyTaker);
        }
        let inexact = |step: Size, largest: Size| IntentError::InexactAmounts {
            size: self.size,
            price: self.limit_price,
            step,
            largest,
        };
        match size_order(self.kind(), self.side, self.limit_price, tick, self.size) {
            Sizing::Exact(amounts) => Ok(amounts),
            Sizing::Reduced { amounts, .. } => {
                let step = crate::order_amounts::share_step(self.kind(), self.side, self.limit_price, tick);
                Err(inexact(step, amounts.shares))
            }
            Sizing::TooSmall { step, .. } => Err(inexact(step, Size::ZERO)),
        }
    }

    /// Which of the exchange's amount rules the order falls under.
    pub fn kind(&self) -> OrderKind {
        OrderKind::of(self.order_type)
    }

    /// Whether the order may take liquidity (and so pay the taker fee).
    pub fn may_take(&self) -> bool {
        !self.post_only
    }
}

/// Where an order stands, as far as we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created and journaled, not yet sent.
    New,
    /// Sent; no answer yet.
    Sent,
    /// The exchange accepted it (it rests or is being matched).
    Acknowledged,
    PartiallyFilled,
    Filled,
    Cancelled,
    Rejected,
    /// We cannot tell (a timeout after sending, a dropped connection): the
    /// exchange may hold it. Reconcile with the exchange before trusting it.
    UnknownPendingReconcile,
}

impl OrderStatus {
    /// The snake_case name (as serialized and journaled).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::Sent => "sent",
            OrderStatus::Acknowledged => "acknowledged",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::UnknownPendingReconcile => "unknown_pending_reconcile",
        }
    }

    /// No further change is expected.
    pub const fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected)
    }
}

/// A change in an order's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    pub client_order_id: ClientOrderId,
    /// The exchange's id, once it has given one.
    pub order_id: Option<OrderId>,
    pub status: OrderStatus,
    /// Cumulative shares filled so far.
    pub filled: Size,
    /// The exchange's or our reason for a rejection, cancel or unknown state.
    pub reason: Option<String>,
    /// Our clock when the update was learnt (unix ms).
    pub at: TimestampMs,
}

/// Whether a fill added liquidity (our order rested) or took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// A trade in one of our orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub order_id: OrderId,
    pub client_order_id: Option<ClientOrderId>,
    /// The exchange's trade id.
    pub trade_id: String,
    pub token: TokenId,
    /// Our order's side.
    pub side: Side,
    pub price: Price,
    /// Shares matched: all of them are the buyer's (CLOB V2 takes no fee in
    /// shares).
    pub size: Size,
    /// The fee paid, in pUSD: a taker BUY pays it on top of `price x size`, a
    /// taker SELL out of its proceeds, a maker nothing.
    pub fee: Usdc,
    pub liquidity: Liquidity,
    pub time: EventTime,
}

/// Anything that reaches the engine loop from outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Market(MarketEvent),
    Order(OrderUpdate),
    Fill(Fill),
}

// ---- commands --------------------------------------------------------------

/// What the engine asks the venue to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Place(OrderIntent),
    /// Cancel one order; `order_id` once the exchange has given one.
    Cancel {
        client_order_id: ClientOrderId,
        order_id: Option<OrderId>,
    },
    /// Cancel every open order in scope (kill switch, shutdown, market end).
    CancelAll {
        scope: CancelScope,
        reason: String,
    },
}

/// Which orders a cancel-all covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelScope {
    Everything,
    Market(ConditionId),
    Token(TokenId),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> TokenId {
        TokenId::parse(s).unwrap()
    }

    fn market() -> ConditionId {
        ConditionId::parse("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917").unwrap()
    }

    fn time() -> EventTime {
        EventTime { received: TimestampMs(1_703_875_200_123), exchange: TimestampMs(1_703_875_200_000) }
    }

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug>(value: &T) -> String {
        let json = serde_json::to_string(value).unwrap();
        let back: T = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, value, "{json}");
        json
    }

    fn intent() -> OrderIntent {
        OrderIntent {
            client_order_id: ClientOrderId::new("pmbot-000042").unwrap(),
            token: token("71321045679252212594626385532706912750332728571942532289631379312455583992563"),
            side: Side::Buy,
            limit_price: p("0.52"),
            size: Size::parse("10.5").unwrap(),
            order_type: OrderType::Gtc,
            post_only: true,
            expires_at: None,
            decision: DecisionContext {
                probability: Some(d("0.61")),
                confidence: Some(d("0.22")),
                expected_value: Some(d("0.8715")),
                break_even_probability: Some(d("0.5375")),
                size_before_exact_amounts: None,
            },
        }
    }

    fn market_events() -> Vec<MarketEvent> {
        let t = token("1234");
        vec![
            MarketEvent::Book(BookSnapshot {
                token: t.clone(),
                market: market(),
                bids: vec![Level::new(p("0.48"), Size::from_shares(30))],
                asks: vec![Level::new(p("0.52"), Size::parse("25.5").unwrap())],
                tick_size: Some(TickSize::Hundredth),
                last_trade_price: Some(p("0.5")),
                hash: Some("0458ea5755c9f73d64a14636fa5c36ed460ec394".into()),
                time: time(),
            }),
            MarketEvent::PriceChanges(PriceChangeBatch {
                market: market(),
                changes: vec![
                    PriceChange {
                        token: t.clone(),
                        side: Side::Buy,
                        price: p("0.5"),
                        size: Size::from_shares(200),
                        best_bid: Some(p("0.5")),
                        best_ask: None,
                        hash: Some("56621a12".into()),
                    },
                    PriceChange {
                        token: token("5678"),
                        side: Side::Sell,
                        price: p("0.5"),
                        size: Size::ZERO,
                        best_bid: None,
                        best_ask: None,
                        hash: None,
                    },
                ],
                time: time(),
            }),
            MarketEvent::LastTrade(LastTrade {
                token: t.clone(),
                market: market(),
                price: p("0.456"),
                side: Side::Buy,
                size: Size::parse("219.217767").unwrap(),
                fee_rate_bps: 1000,
                time: time(),
            }),
            MarketEvent::TickSizeChange(TickSizeChange {
                token: t.clone(),
                market: market(),
                old: TickSize::Hundredth,
                new: TickSize::Thousandth,
                time: time(),
            }),
            MarketEvent::BestBidAsk(BestBidAsk {
                token: t.clone(),
                market: market(),
                best_bid: Some(p("0.73")),
                best_ask: Some(p("0.77")),
                time: time(),
            }),
            MarketEvent::NewMarket(NewMarket {
                market: market(),
                id: "1031769".into(),
                question: "Will \"it\" close above $240?".into(),
                slug: "nvda-above-240".into(),
                tokens: vec![t.clone(), token("5678")],
                outcomes: vec!["Yes".into(), "No".into()],
                time: time(),
            }),
            MarketEvent::MarketResolved(MarketResolved {
                market: market(),
                tokens: vec![t.clone(), token("5678")],
                winning_token: t,
                winning_outcome: "Yes".into(),
                time: time(),
            }),
        ]
    }

    #[test]
    fn market_events_round_trip() {
        for e in market_events() {
            assert_eq!(e.time(), time());
            round_trip(&e);
            round_trip(&Event::Market(e));
        }
    }

    #[test]
    fn json_shape_is_stable() {
        let e = MarketEvent::LastTrade(LastTrade {
            token: token("1234"),
            market: market(),
            price: p("0.5"),
            side: Side::Sell,
            size: Size::from_shares(3),
            fee_rate_bps: 0,
            time: EventTime { received: TimestampMs(2), exchange: TimestampMs(1) },
        });
        assert_eq!(
            round_trip(&e),
            r#"{"type":"last_trade","token":"1234","market":"0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917","price":"0.5","side":"SELL","size":"3","fee_rate_bps":0,"time":{"received":2,"exchange":1}}"#
        );
        let c = Command::Cancel { client_order_id: ClientOrderId::new("a-1").unwrap(), order_id: None };
        assert_eq!(round_trip(&c), r#"{"command":"cancel","client_order_id":"a-1","order_id":null}"#);
    }

    #[test]
    fn intents_updates_fills_and_commands_round_trip() {
        let i = intent();
        let json = round_trip(&i);
        // Decimals travel as strings, so nothing is lost to floating point.
        assert!(json.contains(r#""probability":"0.61""#), "{json}");
        assert!(json.contains(r#""order_type":"GTC""#), "{json}");
        round_trip(&Command::Place(i.clone()));
        round_trip(&Command::CancelAll { scope: CancelScope::Everything, reason: "kill switch".into() });
        round_trip(&Command::CancelAll { scope: CancelScope::Market(market()), reason: "market end".into() });
        round_trip(&Command::CancelAll { scope: CancelScope::Token(token("99")), reason: String::new() });
        round_trip(&Command::Cancel { client_order_id: i.client_order_id.clone(), order_id: Some(market()) });

        let statuses = [
            OrderStatus::New,
            OrderStatus::Sent,
            OrderStatus::Acknowledged,
            OrderStatus::PartiallyFilled,
            OrderStatus::Filled,
            OrderStatus::Cancelled,
            OrderStatus::Rejected,
            OrderStatus::UnknownPendingReconcile,
        ];
        for status in statuses {
            let u = OrderUpdate {
                client_order_id: i.client_order_id.clone(),
                order_id: Some(market()),
                status,
                filled: Size::parse("4.25").unwrap(),
                reason: Some("not enough balance / allowance".into()),
                at: TimestampMs(7),
            };
            round_trip(&u);
            round_trip(&Event::Order(u));
        }
        assert_eq!(
            serde_json::to_string(&OrderStatus::UnknownPendingReconcile).unwrap(),
            r#""unknown_pending_reconcile""#
        );
        assert!(OrderStatus::Filled.is_terminal() && !OrderStatus::UnknownPendingReconcile.is_terminal());

        for (fee, liquidity) in [(Usdc::parse("0.0175").unwrap(), Liquidity::Taker), (Usdc::ZERO, Liquidity::Maker)] {
            let f = Fill {
                order_id: market(),
                client_order_id: Some(i.client_order_id.clone()),
                trade_id: "28c4d2eb-bbea-40e7-a9f0-b2fdb56b2c2e".into(),
                token: i.token.clone(),
                side: Side::Buy,
                price: p("0.52"),
                size: Size::from_shares(10),
                fee,
                liquidity,
                time: time(),
            };
            round_trip(&f);
            round_trip(&Event::Fill(f));
        }
    }

    #[test]
    fn client_order_ids_are_checked_on_the_way_in() {
        assert!(ClientOrderId::new("").is_err());
        assert!(ClientOrderId::new("has space").is_err());
        assert!(ClientOrderId::new("x".repeat(65)).is_err());
        assert!(ClientOrderId::new("x".repeat(64)).is_ok());
        assert!(serde_json::from_str::<ClientOrderId>(r#""""#).is_err());
    }

    #[test]
    fn intent_validation() {
        let tick = TickSize::Hundredth;
        // 10.5 x 0.52 = 5.46 exactly.
        let amounts = intent().validate(tick).unwrap();
        assert_eq!((amounts.maker(), amounts.taker()), (5_460_000, 10_500_000));
        let mut i = intent();
        i.size = Size::ZERO;
        assert_eq!(i.validate(tick), Err(IntentError::ZeroSize));
        let mut i = intent();
        i.limit_price = p("0.525");
        assert!(matches!(i.validate(tick), Err(IntentError::OffTick { .. })));
        assert!(i.validate(TickSize::HalfHundredth).is_ok());
        let mut i = intent();
        i.order_type = OrderType::Gtd;
        assert_eq!(i.validate(tick), Err(IntentError::Expiry));
        i.expires_at = Some(TimestampMs(1_800_000_000_000));
        assert!(i.validate(tick).is_ok());
        let mut i = intent();
        i.expires_at = Some(TimestampMs(1));
        assert_eq!(i.validate(tick), Err(IntentError::Expiry));
        let mut i = intent();
        i.order_type = OrderType::Fak;
        assert_eq!(i.validate(tick), Err(IntentError::PostOnlyTaker));
        i.post_only = false;
        assert!(i.validate(tick).is_ok());
        // 0.52 = 13/25: a FAK buys quarters of a share (10.51 x 0.52 =
        // 5.4652 has 4 decimals, a market BUY's pUSD 2), while a GTC takes any lot.
        i.size = Size::parse("10.51").unwrap();
        assert_eq!(
            i.validate(tick),
            Err(IntentError::InexactAmounts {
                size: i.size,
                price: p("0.52"),
                step: Size::parse("0.25").unwrap(),
                largest: Size::parse("10.5").unwrap(),
            })
        );
        i.order_type = OrderType::Gtc;
        assert!(i.validate(tick).is_ok());
        // Off the lot is never exact.
        i.size = Size::parse("10.505").unwrap();
        assert!(matches!(i.validate(tick), Err(IntentError::InexactAmounts { .. })));
    }
}
