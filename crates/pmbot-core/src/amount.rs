//! Exact share counts and collateral amounts.
//!
//! pUSD and outcome tokens both have 6 decimals on chain, so [`Size`] (shares)
//! and [`Usdc`] (collateral, signed because P&L can be negative) are integer
//! counts of 10^-6. Parsing refuses more than 6 decimals instead of rounding.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::price::{DecimalText, PIPS_PER_UNIT, Price};

/// Units per whole share or whole pUSD.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// Why an amount string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount {0:?} is not a decimal number")]
    Malformed(String),
    #[error("amount {0:?} has more than 6 decimals")]
    TooPrecise(String),
    #[error("amount {0:?} is too large")]
    Overflow(String),
    #[error("amount {0:?} is negative where only a non-negative amount is allowed")]
    Negative(String),
}

/// Splits an unsigned decimal ("12.5", ".5", "12", "12.") into its integer and
/// fractional digit strings; `None` if it is anything else.
pub(crate) fn split_decimal(s: &str) -> Option<(&str, &str)> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    Some((int, frac))
}

/// Parses an optionally negative decimal with at most 6 decimals into micros.
fn parse_micros(s: &str) -> Result<i64, AmountError> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int, frac) = split_decimal(body).ok_or_else(|| AmountError::Malformed(s.to_owned()))?;
    let frac = frac.trim_end_matches('0');
    if frac.len() > 6 {
        return Err(AmountError::TooPrecise(s.to_owned()));
    }
    let int = int.trim_start_matches('0');
    let overflow = || AmountError::Overflow(s.to_owned());
    let whole: i64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| overflow())? };
    let mut micro: i64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| overflow())? };
    for _ in frac.len()..6 {
        micro *= 10;
    }
    let v = whole.checked_mul(MICROS_PER_UNIT).and_then(|w| w.checked_add(micro)).ok_or_else(overflow)?;
    Ok(if neg { -v } else { v })
}

fn fmt_micros(v: i64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let whole = a / MICROS_PER_UNIT as u64;
    let frac = a % MICROS_PER_UNIT as u64;
    if frac == 0 {
        return write!(f, "{sign}{whole}");
    }
    let mut digits = format!("{frac:06}");
    while digits.ends_with('0') {
        digits.pop();
    }
    write!(f, "{sign}{whole}.{digits}")
}

/// A number of outcome-token shares, in micro-shares (10^-6). Never negative.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Size(u64);

impl Size {
    pub const ZERO: Size = Size(0);

    /// The size of `micros` micro-shares.
    pub const fn from_micros(micros: u64) -> Size {
        Size(micros)
    }

    /// A whole number of shares.
    pub const fn from_shares(shares: u64) -> Size {
        Size(shares * MICROS_PER_UNIT as u64)
    }

    /// The size in micro-shares (the on-chain unit).
    pub const fn micros(self) -> u64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses an exact, non-negative share count with at most 6 decimals.
    pub fn parse(s: &str) -> Result<Size, AmountError> {
        let v = parse_micros(s)?;
        if v < 0 {
            return Err(AmountError::Negative(s.to_owned()));
        }
        Ok(Size(v as u64))
    }

    pub fn checked_add(self, o: Size) -> Option<Size> {
        self.0.checked_add(o.0).map(Size)
    }

    pub fn checked_sub(self, o: Size) -> Option<Size> {
        self.0.checked_sub(o.0).map(Size)
    }

    pub fn saturating_sub(self, o: Size) -> Size {
        Size(self.0.saturating_sub(o.0))
    }

    /// Rounds down to a multiple of `lot` micro-shares (Polymarket's lot is
    /// 0.01 share = 10,000 micros).
    pub const fn round_down_to(self, lot: u64) -> Size {
        Size(self.0 - self.0 % lot)
    }

    /// The size as an exact decimal number of shares.
    pub fn to_decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.0), 6).normalize()
    }

    /// Collateral value of this many shares at `price`, exactly, in 10^-10 USDC
    /// units (pips x micros); use [`Usdc::from_price_size_floor`] or `_ceil` to
    /// turn it into an amount that can be paid.
    pub fn notional_exact(self, price: Price) -> u128 {
        u128::from(self.0) * u128::from(price.pips())
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.0 as i64, f)
    }
}

impl fmt::Debug for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Size({self})")
    }
}

impl FromStr for Size {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Size::parse(s)
    }
}

impl Add for Size {
    type Output = Size;
    fn add(self, o: Size) -> Size {
        Size(self.0.checked_add(o.0).expect("share count overflow"))
    }
}

impl AddAssign for Size {
    fn add_assign(&mut self, o: Size) {
        *self = *self + o;
    }
}

impl Sub for Size {
    type Output = Size;
    /// Panics on underflow: a negative share count is a logic error, not data.
    fn sub(self, o: Size) -> Size {
        Size(self.0.checked_sub(o.0).expect("share count underflow"))
    }
}

impl SubAssign for Size {
    fn sub_assign(&mut self, o: Size) {
        *self = *self - o;
    }
}

impl Sum for Size {
    fn sum<I: Iterator<Item = Size>>(iter: I) -> Size {
        iter.fold(Size::ZERO, Add::add)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        Size::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An amount of collateral (pUSD, 6 decimals), in micro-USDC. Signed, so that
/// P&L and cash flows can be negative.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Usdc(i64);

impl Usdc {
    pub const ZERO: Usdc = Usdc(0);

    /// The amount of `micros` micro-USDC.
    pub const fn from_micros(micros: i64) -> Usdc {
        Usdc(micros)
    }

    /// A whole number of USDC.
    pub const fn from_whole(units: i64) -> Usdc {
        Usdc(units * MICROS_PER_UNIT)
    }

    /// The amount in micro-USDC (the on-chain unit).
    pub const fn micros(self) -> i64 {
        self.0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub const fn abs(self) -> Usdc {
        Usdc(self.0.abs())
    }

    /// Parses an exact amount with at most 6 decimals; negative values allowed.
    pub fn parse(s: &str) -> Result<Usdc, AmountError> {
        parse_micros(s).map(Usdc)
    }

    /// Parses an exact amount that must not be negative (a balance, a budget).
    pub fn parse_non_negative(s: &str) -> Result<Usdc, AmountError> {
        let v = Usdc::parse(s)?;
        if v.is_negative() {
            return Err(AmountError::Negative(s.to_owned()));
        }
        Ok(v)
    }

    /// `price x size`, rounded down to a micro-USDC (what a seller is sure to get).
    pub fn from_price_size_floor(price: Price, size: Size) -> Usdc {
        let exact = size.notional_exact(price);
        Usdc((exact / u128::from(PIPS_PER_UNIT)) as i64)
    }

    /// `price x size`, rounded up to a micro-USDC (what a buyer may have to pay).
    pub fn from_price_size_ceil(price: Price, size: Size) -> Usdc {
        let exact = size.notional_exact(price);
        Usdc(exact.div_ceil(u128::from(PIPS_PER_UNIT)) as i64)
    }

    pub fn checked_add(self, o: Usdc) -> Option<Usdc> {
        self.0.checked_add(o.0).map(Usdc)
    }

    pub fn checked_sub(self, o: Usdc) -> Option<Usdc> {
        self.0.checked_sub(o.0).map(Usdc)
    }

    /// The amount as an exact decimal.
    pub fn to_decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.0), 6).normalize()
    }

    /// Converts an exact decimal, refusing more than 6 decimals.
    pub fn try_from_decimal(d: Decimal) -> Result<Usdc, AmountError> {
        let n = d.normalize();
        if n.scale() > 6 {
            return Err(AmountError::TooPrecise(n.to_string()));
        }
        let scaled = n * Decimal::from(MICROS_PER_UNIT);
        i64::try_from(scaled).map(Usdc).map_err(|_| AmountError::Overflow(n.to_string()))
    }
}

impl fmt::Display for Usdc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.0, f)
    }
}

impl fmt::Debug for Usdc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Usdc({self})")
    }
}

impl FromStr for Usdc {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Usdc::parse(s)
    }
}

impl Add for Usdc {
    type Output = Usdc;
    fn add(self, o: Usdc) -> Usdc {
        Usdc(self.0.checked_add(o.0).expect("USDC overflow"))
    }
}

impl AddAssign for Usdc {
    fn add_assign(&mut self, o: Usdc) {
        *self = *self + o;
    }
}

impl Sub for Usdc {
    type Output = Usdc;
    fn sub(self, o: Usdc) -> Usdc {
        Usdc(self.0.checked_sub(o.0).expect("USDC overflow"))
    }
}

impl SubAssign for Usdc {
    fn sub_assign(&mut self, o: Usdc) {
        *self = *self - o;
    }
}

impl Neg for Usdc {
    type Output = Usdc;
    fn neg(self) -> Usdc {
        Usdc(-self.0)
    }
}

impl Sum for Usdc {
    fn sum<I: Iterator<Item = Usdc>>(iter: I) -> Usdc {
        iter.fold(Usdc::ZERO, Add::add)
    }
}

impl Serialize for Usdc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Usdc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(DecimalText)?;
        Usdc::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_exactly() {
        assert_eq!(Size::parse("219.217767").unwrap().micros(), 219_217_767);
        assert_eq!(Size::parse("30").unwrap(), Size::from_shares(30));
        assert_eq!(Size::parse(".5").unwrap().micros(), 500_000);
        assert_eq!(Size::parse("0").unwrap(), Size::ZERO);
        assert_eq!(Size::parse("12.820000").unwrap().to_string(), "12.82");
        assert!(matches!(Size::parse("0.0000001"), Err(AmountError::TooPrecise(_))));
        assert!(matches!(Size::parse("-1"), Err(AmountError::Negative(_))));
        assert!(matches!(Size::parse("1e3"), Err(AmountError::Malformed(_))));
        assert!(matches!(Size::parse("99999999999999999999"), Err(AmountError::Overflow(_))));
    }

    #[test]
    fn usdc_parses_signed_and_prints_minimal() {
        assert_eq!(Usdc::parse("-1.5").unwrap().micros(), -1_500_000);
        assert_eq!(Usdc::from_micros(-1_500_000).to_string(), "-1.5");
        assert_eq!(Usdc::from_micros(17_500).to_string(), "0.0175");
        assert!(Usdc::parse_non_negative("-0.01").is_err());
        assert_eq!(Usdc::try_from_decimal(Decimal::new(175, 4)).unwrap().micros(), 17_500);
        assert!(Usdc::try_from_decimal(Decimal::new(1, 7)).is_err());
    }

    #[test]
    fn notional_rounds_in_the_stated_direction() {
        // 12.8205 is not a lot size but the maths must still be exact: 0.78 x 12.820500.
        let p = Price::parse("0.78").unwrap();
        let s = Size::parse("12.8205").unwrap();
        assert_eq!(Usdc::from_price_size_floor(p, s).micros(), 9_999_990);
        let p = Price::parse("0.0001").unwrap();
        let s = Size::from_micros(1);
        assert_eq!(Usdc::from_price_size_floor(p, s), Usdc::ZERO);
        assert_eq!(Usdc::from_price_size_ceil(p, s).micros(), 1);
    }

    #[test]
    fn lot_rounding() {
        let s = Size::parse("12.8205").unwrap().round_down_to(10_000);
        assert_eq!(s.to_string(), "12.82");
    }

    #[test]
    fn serde_round_trip() {
        let s: Size = serde_json::from_str("\"30.5\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"30.5\"");
        let s: Size = serde_json::from_str("30.5").unwrap();
        assert_eq!(s.micros(), 30_500_000);
        let u: Usdc = serde_json::from_str("-2").unwrap();
        assert_eq!(u, Usdc::from_whole(-2));
    }
}
