//! The matching engine's vocabulary: what goes in, what comes out.
//!
//! The engine is synchronous and pure: no I/O, no clock. Every call that can
//! change state takes `now_ms` (unix milliseconds), so a run is reproducible
//! from its inputs. Signature and authentication checks happen before an order
//! reaches the engine; the engine checks everything that depends on market and
//! account state (tick, size, balance, crossing, duplicates).

use std::collections::BTreeMap;

pub use alloy_primitives::Address;
use pmbot_core::{ConditionId, OrderId, Price, Side, Size, TickSize, TokenId, Usdc};
use serde::Serialize;

use super::fees::FeeSchedule;

/// Time in force (GTC, GTD, FOK, FAK): the same vocabulary the bot uses.
pub use pmbot_core::events::OrderType;

/// Which exchange contract (EIP-712 domain) a market's orders are signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ExchangeKind {
    /// CTF Exchange V2 (domain version "2"), or its neg-risk twin when `neg_risk`.
    CtfV2,
    /// Exchange V3 for position-id markets (domain version "3"), never neg-risk.
    V3,
}

/// One outcome token of a binary market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenSpec {
    pub token_id: TokenId,
    /// "Yes"/"No", "Up"/"Down".
    pub outcome: String,
}

/// A binary market as listed on the exchange.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketSpec {
    pub condition_id: ConditionId,
    pub question_id: ConditionId,
    pub question: String,
    pub slug: String,
    pub description: String,
    /// `tokens[0]` is the primary outcome ("Yes"/"Up"): the engine keeps one
    /// book in its terms; `tokens[1]`'s book is its mirror (bid q <-> ask 1 - q).
    pub tokens: [TokenSpec; 2],
    /// The tick the market starts with.
    pub tick: TickSize,
    /// Minimum shares for a resting (GTC/GTD) order.
    pub min_order_size: Size,
    /// The taker fee schedule (`fd` of `/clob-markets`), the simulator's own
    /// type: see `engine::fees`.
    pub fee: FeeSchedule,
    pub neg_risk: bool,
    pub exchange: ExchangeKind,
    /// When trading stops and the market resolves (unix ms), if known.
    pub end_ms: Option<i64>,
    /// Category tag ("crypto", "sports", ...), for `/markets` tags.
    pub category: String,
}

/// An order that passed authentication and signature checks, ready to match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewOrder {
    /// The order's EIP-712 hash (`orderID`).
    pub id: OrderId,
    /// The funder whose balances pay and receive (`maker` in the signed order).
    pub maker: Address,
    /// The address of the API key that posted it; orders belong to this owner.
    pub owner: Address,
    /// The API key (uuid text) that posted it, echoed as `owner` in replies.
    pub api_key: String,
    pub token: TokenId,
    pub side: Side,
    /// Limit price in the order's own token, derived from its signed amounts.
    pub price: Price,
    /// Shares: what a BUY wants to receive or a SELL offers.
    pub size: Size,
    pub order_type: OrderType,
    pub post_only: bool,
    /// Unix seconds; 0 = none (only GTD orders may set it).
    pub expiration_s: u64,
}

/// Status of an order as the exchange reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum OrderStatus {
    /// Resting on the book ("live" in `/order` replies, "LIVE" in user events).
    Live,
    /// Fully filled ("matched").
    Matched,
    /// Cancelled ("canceled"/"CANCELED"); [`OrderRecord::cancel_cause`] says
    /// by whom, which decides the status text the exchange reports.
    Canceled,
    /// A FOK/FAK order (or FAK remainder) that did not rest ("unmatched").
    Unmatched,
}

/// What the `/order` reply needs after a successful submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmitOutcome {
    pub order_id: OrderId,
    /// `live` if any part rests, `matched` if fully filled, `unmatched` if a
    /// FAK matched only partly (the rest killed).
    pub status: OrderStatus,
    /// Collateral (BUY) or shares (SELL) the order gave up in this call.
    pub making_amount: Size,
    /// Shares (BUY) or collateral (SELL) it received in this call, after fees.
    pub taking_amount: Size,
    pub trade_ids: Vec<String>,
}

/// Why the engine refused an order, a cancel or an operator call. Each maps
/// to the real API's HTTP status and error text through
/// [`Reject::http_status`] and [`Reject::message`] (see `reject.rs` for the
/// sources of every text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("unknown token")]
    UnknownToken,
    /// No market with that condition id (operator calls: `resolve`).
    #[error("unknown market")]
    UnknownMarket,
    #[error("market not accepting orders")]
    MarketClosed,
    #[error("order {order}: price {price} off the {tick} tick")]
    OffTick { order: OrderId, price: Price, tick: TickSize },
    #[error("price {price} outside [{min}, {max}]")]
    PriceOutOfRange { price: Price, min: Price, max: Price },
    #[error("order {order}: size {size} below minimum {min}")]
    BelowMinSize { order: OrderId, size: Size, min: Size },
    /// A marketable order (FOK/FAK, or a GTC/GTD that crosses on arrival)
    /// whose notional `price x size` is below the configured minimum.
    #[error("marketable {side} notional {notional} below the {min} minimum")]
    BelowMinNotional { side: Side, notional: Usdc, min: Usdc },
    #[error("order {order}: duplicated")]
    Duplicate { order: OrderId },
    #[error("not enough balance / allowance")]
    InsufficientBalance,
    #[error("post-only order would cross")]
    PostOnlyCrosses,
    #[error("post-only needs GTC or GTD")]
    PostOnlyNotAllowed,
    #[error("invalid expiration")]
    InvalidExpiration,
    #[error("FOK order could not be fully filled")]
    FokNotFilled,
    #[error("FAK order found nothing to match")]
    FakNoMatch,
    #[error("order not found")]
    OrderNotFound,
    #[error("order not owned by caller")]
    NotOwner,
    /// `list_market` with a condition id or token id already listed.
    #[error("market or token already listed")]
    DuplicateMarket,
    /// `list_market` with an unusable spec (same token twice, ...).
    #[error("invalid market: {reason}")]
    InvalidMarket { reason: &'static str },
    /// `resolve` on a market that is already resolved.
    #[error("market already resolved")]
    AlreadyResolved,
    /// `redeem` on a market that has not resolved: the CTF pays nothing
    /// before the oracle reports.
    #[error("market not resolved")]
    NotResolved,
}

/// A listed market as the engine sees it now: its spec plus the state that
/// changes while it trades.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketInfo {
    pub spec: MarketSpec,
    /// The tick orders are validated against now (finer than `spec.tick`
    /// while the book trades near 0 or 1).
    pub tick: TickSize,
    /// New orders are accepted (listed, before `end_ms`, not resolved).
    pub accepting_orders: bool,
    /// `end_ms` has passed or the market is resolved.
    pub closed: bool,
    /// The winning token once resolved.
    pub winner: Option<TokenId>,
    /// Price of the last trade in the primary token's terms (`tokens[0]`;
    /// the other token last traded at `1 - last_price`).
    pub last_price: Option<Price>,
    pub listed_ms: i64,
    pub resolved_ms: Option<i64>,
}

/// One maker order's part in a trade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MakerFill {
    pub order_id: OrderId,
    pub maker: Address,
    pub owner: Address,
    pub api_key: String,
    /// The maker order's own token, side and price (it may be the other
    /// outcome: a BUY NO at 0.45 fills a BUY YES at 0.55 by minting).
    pub token: TokenId,
    pub side: Side,
    pub price: Price,
    pub matched: Size,
}

/// Trade settlement status: MATCHED, then MINED, then CONFIRMED (or FAILED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeStatus {
    Matched,
    Mined,
    Confirmed,
    Retrying,
    Failed,
}

/// A taker order's fill against one price level of the book (one or more
/// maker orders at the same price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradeRecord {
    pub id: String,
    pub market: ConditionId,
    pub taker_order_id: OrderId,
    pub taker_maker: Address,
    pub taker_owner: Address,
    pub taker_api_key: String,
    /// The taker's token, side and fill price (in its own token's terms).
    pub token: TokenId,
    pub side: Side,
    pub price: Price,
    pub size: Size,
    /// Fee the taker paid, in pUSD on either side (CLOB V2): a BUY paid it
    /// on top of the notional, a SELL out of its proceeds.
    pub fee: Usdc,
    /// The market's fee rate in basis points, as trade records carry it.
    pub fee_rate_bps: u32,
    pub makers: Vec<MakerFill>,
    pub status: TradeStatus,
    pub match_time_ms: i64,
    pub last_update_ms: i64,
    /// Fake but well-formed transaction hash, set once MINED.
    pub transaction_hash: Option<OrderId>,
}

/// Why a cancelled order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CancelCause {
    /// Its owner, cancel-all, the heartbeat watchdog, GTD expiry or the
    /// self-trade rule.
    Canceled,
    /// The exchange, because its market resolved: REST
    /// `CANCELED_MARKET_RESOLVED`, and a user-channel CANCELLATION with status
    /// `INVALID` (see `server::wire`).
    MarketResolved,
}

/// An order as `/data/order` and the user channel report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRecord {
    pub id: OrderId,
    pub status: OrderStatus,
    pub market: ConditionId,
    pub token: TokenId,
    pub outcome: String,
    pub side: Side,
    pub price: Price,
    pub original_size: Size,
    pub size_matched: Size,
    pub maker: Address,
    pub owner: Address,
    pub api_key: String,
    pub order_type: OrderType,
    pub expiration_s: u64,
    pub created_at_ms: i64,
    pub associate_trades: Vec<String>,
    /// Set once a live order is cancelled.
    pub cancel_cause: Option<CancelCause>,
}

/// Why a user-channel `order` event was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OrderEventKind {
    Placement,
    Update,
    Cancellation,
}

/// An aggregated price level of one token's book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Level {
    pub price: Price,
    pub size: Size,
}

/// One token's book as the exchange publishes it (aggregated levels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookView {
    pub market: ConditionId,
    pub token: TokenId,
    /// Best (highest) bid first.
    pub bids: Vec<Level>,
    /// Best (lowest) ask first.
    pub asks: Vec<Level>,
    pub tick: TickSize,
    pub min_order_size: Size,
    pub neg_risk: bool,
    pub last_trade_price: Option<Price>,
    /// Time of the last change to this book (unix ms).
    pub timestamp_ms: i64,
}

/// Collateral or shares held by an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// Everything the account owns.
    pub total: Size,
    /// Part of it promised to resting orders (BUY collateral, SELL shares).
    pub reserved: Size,
}

/// What the engine reports after each change, in order; the server turns
/// these into market-channel and user-channel messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum EngineEvent {
    /// A price level's total size changed (0 = removed). Emitted for both
    /// tokens of the market, each in its own terms, with the token's best bid
    /// and ask after the change.
    LevelChanged {
        market: ConditionId,
        token: TokenId,
        side: Side,
        price: Price,
        size: Size,
        best_bid: Option<Price>,
        best_ask: Option<Price>,
        timestamp_ms: i64,
    },
    /// A new trade (status MATCHED) or a later status of it.
    Trade(TradeRecord),
    /// An order was placed, partly filled, filled or cancelled.
    Order {
        order: OrderRecord,
        kind: OrderEventKind,
    },
    TickSizeChanged {
        market: ConditionId,
        token: TokenId,
        old: TickSize,
        new: TickSize,
        timestamp_ms: i64,
    },
    MarketListed {
        market: MarketSpec,
        timestamp_ms: i64,
    },
    MarketResolved {
        market: ConditionId,
        winning_token: TokenId,
        timestamp_ms: i64,
    },
}

/// Filters for listing orders and trades (`/data/orders`, `/data/trades`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub id: Option<String>,
    pub market: Option<ConditionId>,
    pub token: Option<TokenId>,
    /// Trades only: after/before this unix second (inclusive bounds).
    pub after_s: Option<i64>,
    pub before_s: Option<i64>,
}

/// Result of a cancel request: what was cancelled and why the rest was not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CancelOutcome {
    pub canceled: Vec<OrderId>,
    /// Order id text -> reason, as the real API reports it.
    pub not_canceled: BTreeMap<String, String>,
}
