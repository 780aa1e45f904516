//! Price levels: the exchange's raw `{"price","size"}` entries and their exact form.
//!
//! Invariant: a [`Level`] holds exactly what the exchange sent, converted without
//! rounding; a string that does not convert is a typed [`LevelError`] naming the
//! entry. Order is never trusted: REST `/book` sends bids ascending and asks
//! descending (best last), the WebSocket has been seen both ways, so parsing
//! keeps the wire order and [`crate::OrderBook`] sorts for itself.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::amount::{AmountError, Size};
use crate::price::{Price, PriceError};

/// One aggregated price level: `size` shares resting at `price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Level {
    pub price: Price,
    pub size: Size,
}

impl Level {
    pub const fn new(price: Price, size: Size) -> Level {
        Level { price, size }
    }

    /// Parses one entry's price and size strings exactly.
    pub fn parse(price: &str, size: &str) -> Result<Level, LevelErrorKind> {
        let price = Price::parse(price).map_err(LevelErrorKind::Price)?;
        let size = Size::parse(size).map_err(LevelErrorKind::Size)?;
        Ok(Level { price, size })
    }
}

/// A level as it arrived: the exact price and size text. Borrowed from the
/// input when the JSON held plain strings (no copy); a JSON number is kept as
/// its shortest decimal text. The book hash needs this raw form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawLevel<'a> {
    #[serde(borrow, deserialize_with = "decimal_text")]
    pub price: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "decimal_text")]
    pub size: Cow<'a, str>,
}

impl<'a> RawLevel<'a> {
    pub fn new(price: &'a str, size: &'a str) -> RawLevel<'a> {
        RawLevel { price: Cow::Borrowed(price), size: Cow::Borrowed(size) }
    }
}

/// What was wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelErrorKind {
    #[error(transparent)]
    Price(PriceError),
    #[error(transparent)]
    Size(AmountError),
}

/// Why a level list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// The entry at `index` (0-based, wire order) did not convert.
    #[error("level {index}: {kind}")]
    Entry { index: usize, kind: LevelErrorKind },
    /// The text was not a JSON array of `{"price","size"}` objects.
    #[error("level list is not a JSON array of {{price, size}} objects: {0}")]
    Json(String),
}

/// Converts raw entries to exact levels, keeping the wire order.
pub fn parse_levels(raw: &[RawLevel<'_>]) -> Result<Vec<Level>, LevelError> {
    raw.iter()
        .enumerate()
        .map(|(index, r)| Level::parse(&r.price, &r.size).map_err(|kind| LevelError::Entry { index, kind }))
        .collect()
}

/// Parses a JSON level list (`[{"price":"0.48","size":"30"}, ...]`, prices and
/// sizes as strings or numbers) into exact levels, keeping the wire order.
pub fn parse_levels_json(json: &str) -> Result<Vec<Level>, LevelError> {
    let raw: Vec<RawLevel<'_>> = serde_json::from_str(json).map_err(|e| LevelError::Json(e.to_string()))?;
    parse_levels(&raw)
}

/// Parses a best-bid/best-ask field of a `price_change` or `best_bid_ask`
/// message. The exchange writes "0" for no bid and "1" for no ask (neither is a
/// tradable price), and may omit the field; all three mean `None`.
pub fn parse_touch_price(s: Option<&str>) -> Result<Option<Price>, PriceError> {
    let Some(s) = s else { return Ok(None) };
    match Price::parse(s) {
        Ok(p) => Ok(Some(p)),
        Err(PriceError::OutOfRange(_)) if is_zero_or_one(s) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_zero_or_one(s: &str) -> bool {
    matches!(s.trim().parse::<rust_decimal::Decimal>(), Ok(d) if d.is_zero() || d == rust_decimal::Decimal::ONE)
}

/// Deserializes a JSON string (borrowed when possible) or number into its text.
pub(crate) fn decimal_text<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    struct Text;
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = Cow<'de, str>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal number as a string or a JSON number")
        }

        fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }

        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            crate::price::DecimalText.visit_u64(v).map(Cow::Owned)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            crate::price::DecimalText.visit_i64(v).map(Cow::Owned)
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            crate::price::DecimalText.visit_f64(v).map(Cow::Owned)
        }
    }
    d.deserialize_any(Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strings_and_numbers_in_wire_order() {
        let levels =
            parse_levels_json(r#"[{"price":"0.48","size":"30"},{"price":0.5,"size":12.5},{"price":".47","size":"0"}]"#)
                .unwrap();
        assert_eq!(
            levels,
            vec![
                Level::new(Price::parse("0.48").unwrap(), Size::from_shares(30)),
                Level::new(Price::parse("0.5").unwrap(), Size::parse("12.5").unwrap()),
                Level::new(Price::parse("0.47").unwrap(), Size::ZERO),
            ]
        );
    }

    #[test]
    fn raw_strings_are_borrowed_and_kept_verbatim() {
        let json = r#"[{"price":"0.50","size":"200.0"}]"#;
        let raw: Vec<RawLevel<'_>> = serde_json::from_str(json).unwrap();
        assert!(matches!(raw[0].price, Cow::Borrowed("0.50")));
        assert_eq!(raw[0].size, "200.0");
        assert_eq!(serde_json::to_string(&raw).unwrap(), json);
    }

    #[test]
    fn bad_entries_name_their_index() {
        let err = parse_levels_json(r#"[{"price":"0.48","size":"30"},{"price":"1.2","size":"30"}]"#).unwrap_err();
        assert_eq!(
            err,
            LevelError::Entry { index: 1, kind: LevelErrorKind::Price(PriceError::OutOfRange("1.2".into())) }
        );
        let err = parse_levels(&[RawLevel::new("0.4", "-3")]).unwrap_err();
        assert!(matches!(err, LevelError::Entry { index: 0, kind: LevelErrorKind::Size(AmountError::Negative(_)) }));
        let err = parse_levels(&[RawLevel::new("0.41234", "3")]).unwrap_err();
        assert!(matches!(err, LevelError::Entry { kind: LevelErrorKind::Price(PriceError::TooPrecise(_)), .. }));
        assert!(matches!(parse_levels_json(r#"{"price":"0.4"}"#), Err(LevelError::Json(_))));
        assert!(matches!(parse_levels_json(r#"[{"price":"0.4"}]"#), Err(LevelError::Json(_))));
        assert!(matches!(parse_levels_json(r#"[{"price":true,"size":"1"}]"#), Err(LevelError::Json(_))));
    }

    #[test]
    fn touch_prices_map_the_empty_side_markers_to_none() {
        assert_eq!(parse_touch_price(Some("0.5")), Ok(Price::from_pips(5000)));
        assert_eq!(parse_touch_price(Some("0")), Ok(None));
        assert_eq!(parse_touch_price(Some("1")), Ok(None));
        assert_eq!(parse_touch_price(Some("1.00")), Ok(None));
        assert_eq!(parse_touch_price(None), Ok(None));
        assert!(parse_touch_price(Some("1.5")).is_err());
        assert!(parse_touch_price(Some("x")).is_err());
    }
}
