//! Checks on an order that depend only on the order and its market's state,
//! not on the book or balances.
//!
//! Invariant: pure functions; they read and never write.
//!
//! Order of checks (the first failure is reported): market open, expiration,
//! post-only type, price range, tick, size. The real server's order is not
//! documented; this one goes from the market to the order's fields.

use pmbot_core::Size;

use super::config::EngineConfig;
use super::markets::Market;
use super::types::{NewOrder, OrderType, Reject};

/// Validates `order` against `market` at `now_ms`; returns when a GTD order
/// stops resting (its expiration minus the security threshold).
pub(crate) fn check_order(
    order: &NewOrder,
    market: &Market,
    now_ms: i64,
    cfg: &EngineConfig,
) -> Result<Option<i64>, Reject> {
    if !market.accepting || market.spec.end_ms.is_some_and(|end| end <= now_ms) {
        return Err(Reject::MarketClosed);
    }
    let expires_ms = expiry(order, now_ms, cfg)?;
    let resting_type = matches!(order.order_type, OrderType::Gtc | OrderType::Gtd);
    if order.post_only && !resting_type {
        return Err(Reject::PostOnlyNotAllowed);
    }
    let tick = market.tick;
    let (min, max) = (tick.min_price(), tick.max_price());
    if order.price < min || order.price > max {
        return Err(Reject::PriceOutOfRange { price: order.price, min, max });
    }
    // The exchange divides the price by the tick and wants an integer
    // (py-sdk `validate_price_on_tick_grid` mirrors it); pips make that exact.
    if !order.price.pips().is_multiple_of(tick.pips()) {
        return Err(Reject::OffTick { order: order.id, price: order.price, tick });
    }
    if order.size.is_zero() {
        return Err(Reject::BelowMinSize { order: order.id, size: order.size, min: Size::from_micros(1) });
    }
    if resting_type && order.size < market.spec.min_order_size {
        return Err(Reject::BelowMinSize { order: order.id, size: order.size, min: market.spec.min_order_size });
    }
    Ok(expires_ms)
}

/// GTD orders need an expiration leaving a positive life after the security
/// threshold; every other type must leave it 0 ("Only GTD orders may have a
/// non-zero expiration").
fn expiry(order: &NewOrder, now_ms: i64, cfg: &EngineConfig) -> Result<Option<i64>, Reject> {
    match order.order_type {
        OrderType::Gtd => {
            let exp_ms = i64::try_from(order.expiration_s).unwrap_or(i64::MAX).saturating_mul(1000);
            let stops = exp_ms.saturating_sub(cfg.gtd_threshold_ms);
            if order.expiration_s == 0 || stops <= now_ms {
                return Err(Reject::InvalidExpiration);
            }
            Ok(Some(stops))
        }
        _ if order.expiration_s != 0 => Err(Reject::InvalidExpiration),
        _ => Ok(None),
    }
}
