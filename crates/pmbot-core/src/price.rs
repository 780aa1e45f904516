//! Exact outcome-token prices.
//!
//! Polymarket prices are probabilities strictly inside (0, 1) on a per-market tick
//! grid: 0.1, 0.01, 0.005, 0.0025, 0.001 or 0.0001. The tick can change while a
//! market trades (`tick_size_change`, usually when the price nears 0 or 1), so a
//! price is stored as a count of the finest tick, a *pip* of 0.0001, which every
//! valid tick divides. Prices from different tick regimes therefore compare and
//! subtract exactly, and [`Price::ticks`] gives the count on any market tick.
//!
//! Parsing never rounds: a string with more precision than a pip, a value outside
//! (0, 1), or (with [`Price::parse_on_tick`]) a value off the market's grid is a
//! typed [`PriceError`].

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Pips per unit of price: one pip is 0.0001, the finest tick Polymarket uses.
pub const PIPS_PER_UNIT: u32 = 10_000;

/// Why a price string or number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("price {0:?} is not a decimal number")]
    Malformed(String),
    #[error("price {0:?} has more than 4 decimals (finer than the 0.0001 tick)")]
    TooPrecise(String),
    #[error("price {0:?} is outside (0, 1)")]
    OutOfRange(String),
    #[error("price {price} is not on the {tick} tick grid")]
    OffTick { price: Price, tick: TickSize },
    #[error("tick size {0:?} is not one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001")]
    UnknownTick(String),
}

/// A market's minimum price increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TickSize {
    /// 0.1
    Tenth,
    /// 0.01
    Hundredth,
    /// 0.005
    HalfHundredth,
    /// 0.0025
    QuarterHundredth,
    /// 0.001
    Thousandth,
    /// 0.0001
    TenThousandth,
}

impl TickSize {
    /// Every tick size Polymarket uses, coarsest first.
    pub const ALL: [TickSize; 6] = [
        TickSize::Tenth,
        TickSize::Hundredth,
        TickSize::HalfHundredth,
        TickSize::QuarterHundredth,
        TickSize::Thousandth,
        TickSize::TenThousandth,
    ];

    /// The tick expressed in pips (0.0001).
    pub const fn pips(self) -> u16 {
        match self {
            TickSize::Tenth => 1000,
            TickSize::Hundredth => 100,
            TickSize::HalfHundredth => 50,
            TickSize::QuarterHundredth => 25,
            TickSize::Thousandth => 10,
            TickSize::TenThousandth => 1,
        }
    }

    /// Decimal places of a price on this grid (0.005 needs 3, 0.0025 needs 4).
    pub const fn decimals(self) -> u32 {
        match self {
            TickSize::Tenth => 1,
            TickSize::Hundredth => 2,
            TickSize::HalfHundredth | TickSize::Thousandth => 3,
            TickSize::QuarterHundredth | TickSize::TenThousandth => 4,
        }
    }

    /// The canonical string the exchange uses ("0.01").
    pub const fn as_str(self) -> &'static str {
        match self {
            TickSize::Tenth => "0.1",
            TickSize::Hundredth => "0.01",
            TickSize::HalfHundredth => "0.005",
            TickSize::QuarterHundredth => "0.0025",
            TickSize::Thousandth => "0.001",
            TickSize::TenThousandth => "0.0001",
        }
    }

    /// The tick as an exact decimal.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(i64::from(self.pips()), 4).normalize()
    }

    /// The tick whose size is `pips` pips, if Polymarket uses one.
    pub fn from_pips(pips: u16) -> Option<TickSize> {
        TickSize::ALL.into_iter().find(|t| t.pips() == pips)
    }

    /// Smallest valid price on this grid.
    pub fn min_price(self) -> Price {
        Price(self.pips())
    }

    /// Largest valid price on this grid (1 - tick).
    pub fn max_price(self) -> Price {
        Price(PIPS_PER_UNIT as u16 - self.pips())
    }
}

impl fmt::Display for TickSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TickSize {
    type Err = PriceError;

    /// Accepts any exact spelling of a valid tick ("0.01", "0.010", ".01").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let pips = parse_pips(s.trim()).map_err(|_| PriceError::UnknownTick(s.to_owned()))?;
        u16::try_from(pips).ok().and_then(TickSize::from_pips).ok_or_else(|| PriceError::UnknownTick(s.to_owned()))
    }
}

impl Serialize for TickSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TickSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An outcome-token price strictly inside (0, 1), in pips of 0.0001.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Price(u16);

impl Price {
    /// The price of `pips` pips (0.0001 each); `None` unless 0 < pips < 10000.
    pub const fn from_pips(pips: u16) -> Option<Price> {
        if pips == 0 || pips as u32 >= PIPS_PER_UNIT { None } else { Some(Price(pips)) }
    }

    /// The price `ticks` ticks above zero on `tick`'s grid, if inside (0, 1).
    pub fn from_ticks(ticks: u32, tick: TickSize) -> Option<Price> {
        let pips = ticks.checked_mul(u32::from(tick.pips()))?;
        u16::try_from(pips).ok().and_then(Price::from_pips)
    }

    /// Parses an exact decimal price ("0.48", ".48", "0.4800"). Refuses values with
    /// more than 4 decimals and values outside (0, 1); never rounds.
    pub fn parse(s: &str) -> Result<Price, PriceError> {
        let t = s.trim();
        let pips = parse_pips(t).map_err(|e| match e {
            PipsError::Malformed => PriceError::Malformed(s.to_owned()),
            PipsError::TooPrecise => PriceError::TooPrecise(s.to_owned()),
            PipsError::TooLarge => PriceError::OutOfRange(s.to_owned()),
        })?;
        u16::try_from(pips).ok().and_then(Price::from_pips).ok_or_else(|| PriceError::OutOfRange(s.to_owned()))
    }

    /// Parses a price and checks it lies on `tick`'s grid.
    pub fn parse_on_tick(s: &str, tick: TickSize) -> Result<Price, PriceError> {
        let price = Price::parse(s)?;
        price.check_tick(tick)?;
        Ok(price)
    }

    /// `Ok` if this price is a whole number of `tick`s.
    pub fn check_tick(self, tick: TickSize) -> Result<(), PriceError> {
        if self.is_on_tick(tick) { Ok(()) } else { Err(PriceError::OffTick { price: self, tick }) }
    }

    /// Whether this price is a whole number of `tick`s.
    pub const fn is_on_tick(self, tick: TickSize) -> bool {
        self.0.is_multiple_of(tick.pips())
    }

    /// The price in pips (0.0001).
    pub const fn pips(self) -> u16 {
        self.0
    }

    /// The number of `tick`s in this price, if it lies on that grid.
    pub fn ticks(self, tick: TickSize) -> Option<u32> {
        self.is_on_tick(tick).then(|| u32::from(self.0 / tick.pips()))
    }

    /// The price of the other outcome token of a binary market: 1 - p.
    pub const fn complement(self) -> Price {
        Price(PIPS_PER_UNIT as u16 - self.0)
    }

    /// The price `n` ticks higher, if still inside (0, 1).
    pub fn up(self, n: u32, tick: TickSize) -> Option<Price> {
        let pips = u32::from(self.0) + n.checked_mul(u32::from(tick.pips()))?;
        u16::try_from(pips).ok().and_then(Price::from_pips)
    }

    /// The price `n` ticks lower, if still inside (0, 1).
    pub fn down(self, n: u32, tick: TickSize) -> Option<Price> {
        let step = n.checked_mul(u32::from(tick.pips()))?;
        u32::from(self.0).checked_sub(step).and_then(|p| u16::try_from(p).ok()).and_then(Price::from_pips)
    }

    /// The largest price on `tick`'s grid not above this one (`None` below the first tick).
    pub fn floor_to(self, tick: TickSize) -> Option<Price> {
        Price::from_pips(self.0 - self.0 % tick.pips())
    }

    /// The smallest price on `tick`'s grid not below this one (`None` above 1 - tick).
    pub fn ceil_to(self, tick: TickSize) -> Option<Price> {
        let rem = self.0 % tick.pips();
        if rem == 0 { Some(self) } else { Price::from_pips(self.0 - rem + tick.pips()) }
    }

    /// The price as an exact decimal.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(i64::from(self.0), 4).normalize()
    }

    /// The price as a probability in `f64`, for models and plots only; never for
    /// what is ordered or owed.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / f64::from(PIPS_PER_UNIT)
    }
}

impl fmt::Display for Price {
    /// Shortest exact decimal: 4800 pips prints "0.48", 5 pips "0.0005".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut frac = format!("{:04}", self.0);
        while frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "0.{frac}")
    }
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Price({self})")
    }
}

impl FromStr for Price {
    type Err = PriceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Price::parse(s)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Price {
    /// Accepts the exchange's decimal strings and, because some frames send
    /// numbers, JSON numbers (read back through their shortest decimal form).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        Price::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PipsError {
    Malformed,
    TooPrecise,
    TooLarge,
}

/// Parses a non-negative decimal with at most 4 decimals into pips, exactly.
fn parse_pips(s: &str) -> Result<u32, PipsError> {
    let (int, frac) = crate::amount::split_decimal(s).ok_or(PipsError::Malformed)?;
    let frac = frac.trim_end_matches('0');
    if frac.len() > 4 {
        return Err(PipsError::TooPrecise);
    }
    let int = int.trim_start_matches('0');
    if int.len() > 4 {
        return Err(PipsError::TooLarge);
    }
    let whole: u32 = if int.is_empty() { 0 } else { int.parse().map_err(|_| PipsError::Malformed)? };
    let mut frac_pips: u32 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| PipsError::Malformed)? };
    for _ in frac.len()..4 {
        frac_pips *= 10;
    }
    Ok(whole * PIPS_PER_UNIT + frac_pips)
}

/// Serde visitor that yields the decimal text of a JSON string or number.
pub(crate) struct DecimalText;

impl serde::de::Visitor<'_> for DecimalText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number as a string or a JSON number")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
        if !v.is_finite() {
            return Err(E::custom("number is not finite"));
        }
        // Rust prints the shortest string that reads back as the same f64, which
        // is the decimal the sender wrote for any price or size with few digits.
        Ok(format!("{v}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exchange_spellings_exactly() {
        assert_eq!(Price::parse("0.48").unwrap().pips(), 4800);
        assert_eq!(Price::parse(".48").unwrap().pips(), 4800);
        assert_eq!(Price::parse("0.4800").unwrap().pips(), 4800);
        assert_eq!(Price::parse("0.0001").unwrap().pips(), 1);
        assert_eq!(Price::parse("0.9999").unwrap().pips(), 9999);
        assert_eq!(Price::parse(" 0.5 ").unwrap().to_string(), "0.5");
    }

    #[test]
    fn refuses_instead_of_rounding() {
        assert_eq!(Price::parse("0.00001"), Err(PriceError::TooPrecise("0.00001".into())));
        assert_eq!(Price::parse("0.12345"), Err(PriceError::TooPrecise("0.12345".into())));
        assert_eq!(Price::parse("0"), Err(PriceError::OutOfRange("0".into())));
        assert_eq!(Price::parse("1"), Err(PriceError::OutOfRange("1".into())));
        assert_eq!(Price::parse("1.5"), Err(PriceError::OutOfRange("1.5".into())));
        assert_eq!(Price::parse("12345.1"), Err(PriceError::OutOfRange("12345.1".into())));
        for bad in ["", ".", "-0.5", "0.5.1", "abc", "0x10", "1e-2", "+0.5", "0,5"] {
            assert!(matches!(Price::parse(bad), Err(PriceError::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn tick_grid_is_checked() {
        assert!(Price::parse_on_tick("0.48", TickSize::Hundredth).is_ok());
        assert!(Price::parse_on_tick("0.485", TickSize::HalfHundredth).is_ok());
        assert!(Price::parse_on_tick("0.4825", TickSize::QuarterHundredth).is_ok());
        let off = Price::parse_on_tick("0.485", TickSize::Hundredth).unwrap_err();
        assert!(matches!(off, PriceError::OffTick { .. }));
        assert_eq!(off.to_string(), "price 0.485 is not on the 0.01 tick grid");
        assert!(Price::parse_on_tick("0.4830", TickSize::QuarterHundredth).is_err());
    }

    #[test]
    fn ticks_and_neighbours() {
        let p = Price::parse("0.48").unwrap();
        assert_eq!(p.ticks(TickSize::Hundredth), Some(48));
        assert_eq!(p.ticks(TickSize::Thousandth), Some(480));
        assert_eq!(p.ticks(TickSize::Tenth), None);
        assert_eq!(Price::from_ticks(48, TickSize::Hundredth), Some(p));
        assert_eq!(p.up(1, TickSize::Hundredth).unwrap().to_string(), "0.49");
        assert_eq!(p.down(48, TickSize::Hundredth), None);
        assert_eq!(p.complement().to_string(), "0.52");
        assert_eq!(Price::parse("0.487").unwrap().floor_to(TickSize::Hundredth), Some(p));
        assert_eq!(Price::parse("0.471").unwrap().ceil_to(TickSize::Hundredth), Some(p));
        assert_eq!(Price::parse("0.995").unwrap().ceil_to(TickSize::Hundredth), None);
        assert_eq!(TickSize::Hundredth.max_price().to_string(), "0.99");
    }

    #[test]
    fn tick_sizes_parse_and_print() {
        for t in TickSize::ALL {
            assert_eq!(t.as_str().parse::<TickSize>().unwrap(), t);
            assert_eq!(t.to_decimal().to_string(), t.as_str());
        }
        assert_eq!("0.010".parse::<TickSize>().unwrap(), TickSize::Hundredth);
        assert!("0.02".parse::<TickSize>().is_err());
        assert_eq!(TickSize::QuarterHundredth.decimals(), 4);
    }

    #[test]
    fn serde_accepts_strings_and_numbers() {
        let p: Price = serde_json::from_str("\"0.48\"").unwrap();
        assert_eq!(p.pips(), 4800);
        let p: Price = serde_json::from_str("0.48").unwrap();
        assert_eq!(p.pips(), 4800);
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"0.48\"");
        let t: TickSize = serde_json::from_str("0.001").unwrap();
        assert_eq!(t, TickSize::Thousandth);
        assert!(serde_json::from_str::<Price>("\"1.2\"").is_err());
        assert!(serde_json::from_str::<Price>("true").is_err());
    }
}
