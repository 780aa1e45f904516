//! The real API's status codes and error texts for each [`Reject`].
//!
//! Texts are copied from docs.polymarket.com/resources/error-codes ("Order
//! Processing Errors") where the docs give them; the rest are the texts the
//! official clients and bots observe:
//! - `invalid amount for a marketable BUY order ($0.5), min size: $1` (the $1
//!   minimum, reported verbatim by many bots);
//! - `invalid price (0.999), min: 0.01 - max: 0.99` (clob-client #232; the
//!   clients raise the same text before sending);
//! - `order can't be found - already canceled or matched` (the `not_canceled`
//!   reason seen in nautilus_trader #3797). The server looks orders up per
//!   API key, so someone else's order reads the same as a missing one.
//! - `the market is not yet ready to process new orders` (MARKET_NOT_READY),
//!   the only documented text for a market that takes no orders.
//!
//! Every order refusal is HTTP 400, as the docs' status table says for
//! "business logic violation"; lookups that find nothing are 404, following
//! the server's rule that "not found" errors return 404.

use super::types::Reject;

impl Reject {
    /// The HTTP status the real API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Reject::UnknownMarket | Reject::OrderNotFound | Reject::NotOwner => 404,
            _ => 400,
        }
    }

    /// The real API's error text (the `error` / `errorMsg` field).
    pub fn message(&self) -> String {
        match self {
            Reject::UnknownToken => "Invalid token id".to_owned(),
            Reject::UnknownMarket => "market not found".to_owned(),
            Reject::MarketClosed => "the market is not yet ready to process new orders".to_owned(),
            Reject::OffTick { order, price, tick } => {
                format!("order {order} is invalid. Price ({price}) breaks minimum tick size rule: {tick}")
            }
            Reject::PriceOutOfRange { price, min, max } => {
                format!("invalid price ({price}), min: {min} - max: {max}")
            }
            Reject::BelowMinSize { order, size, min } => {
                format!("order {order} is invalid. Size ({size}) lower than the minimum: {min}")
            }
            Reject::BelowMinNotional { side, notional, min } => {
                format!("invalid amount for a marketable {side} order (${notional}), min size: ${min}")
            }
            Reject::Duplicate { order } => format!("order {order} is invalid. Duplicated."),
            Reject::InsufficientBalance => "not enough balance / allowance".to_owned(),
            Reject::PostOnlyCrosses => "invalid post-only order: order crosses book".to_owned(),
            Reject::PostOnlyNotAllowed => {
                "invalid post-only order: only GTC and GTD order types are allowed".to_owned()
            }
            Reject::InvalidExpiration => "invalid expiration".to_owned(),
            Reject::FokNotFilled => {
                "order couldn't be fully filled. FOK orders are fully filled or killed.".to_owned()
            }
            Reject::FakNoMatch => "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found.".to_owned(),
            Reject::OrderNotFound | Reject::NotOwner => {
                "order can't be found - already canceled or matched".to_owned()
            }
            Reject::DuplicateMarket => "market already listed".to_owned(),
            Reject::InvalidMarket { reason } => format!("invalid market: {reason}"),
            Reject::AlreadyResolved => "market already resolved".to_owned(),
            Reject::NotResolved => "market not resolved".to_owned(),
        }
    }
}
