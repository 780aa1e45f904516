//! How core values are spelled in the journal's columns, and back. Each
//! enum's text is written out by hand (not through serde) so a renamed
//! variant breaks the build here instead of silently changing stored text.

use std::path::Path;

use pmbot_core::{Liquidity, OrderStatus, OrderType, Side, Size};

use super::error::{JournalError, corrupt};

pub(crate) const ALL_STATUSES: [OrderStatus; 8] = [
    OrderStatus::New,
    OrderStatus::Sent,
    OrderStatus::Acknowledged,
    OrderStatus::PartiallyFilled,
    OrderStatus::Filled,
    OrderStatus::Cancelled,
    OrderStatus::Rejected,
    OrderStatus::UnknownPendingReconcile,
];

pub(crate) const fn status_text(s: OrderStatus) -> &'static str {
    s.as_str()
}

pub(crate) fn parse_status(path: &Path, s: &str) -> Result<OrderStatus, JournalError> {
    ALL_STATUSES.into_iter().find(|st| status_text(*st) == s).ok_or_else(|| corrupt(path, format!("status {s:?}")))
}

pub(crate) fn parse_side(path: &Path, s: &str) -> Result<Side, JournalError> {
    match s {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(corrupt(path, format!("side {s:?}"))),
    }
}

pub(crate) const fn order_type_text(t: OrderType) -> &'static str {
    match t {
        OrderType::Gtc => "GTC",
        OrderType::Gtd => "GTD",
        OrderType::Fok => "FOK",
        OrderType::Fak => "FAK",
    }
}

pub(crate) const fn liquidity_text(l: Liquidity) -> &'static str {
    match l {
        Liquidity::Maker => "maker",
        Liquidity::Taker => "taker",
    }
}

pub(crate) fn parse_liquidity(path: &Path, s: &str) -> Result<Liquidity, JournalError> {
    match s {
        "maker" => Ok(Liquidity::Maker),
        "taker" => Ok(Liquidity::Taker),
        _ => Err(corrupt(path, format!("liquidity {s:?}"))),
    }
}

/// A size as the signed integer SQLite stores.
pub(crate) fn size_to_sql(path: &Path, size: Size, what: &str) -> Result<i64, JournalError> {
    i64::try_from(size.micros())
        .map_err(|_| JournalError::TooLarge { path: path.to_path_buf(), what: format!("{what} {size}") })
}

pub(crate) fn size_from_sql(path: &Path, micros: i64, what: &str) -> Result<Size, JournalError> {
    u64::try_from(micros).map(Size::from_micros).map_err(|_| corrupt(path, format!("{what} {micros} micros")))
}
