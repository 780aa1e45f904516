//! Raw JSON scalars into pmbot-core values, each failure a [`Fault`].
//!
//! Invariant: nothing is rounded or guessed. A number arriving as a JSON
//! number is rendered to its shortest decimal text (on the stack) and parsed
//! exactly like the string the exchange usually sends, by pmbot-core's own
//! parsers. "Absent" and `null` are the same; an empty string is "absent" only
//! for the optional fields that the exchange writes empty (hashes, touches,
//! a book's tick and last trade price).
//!
//! Speed: the exchange spells numbers one way ("0.48", "219.217767",
//! "1757908892351", "0x" + 64 lowercase hex). Each parser first tries a fast
//! path for exactly that spelling and otherwise falls back to pmbot-core's
//! general parser, which also produces the error. The fast paths accept a
//! subset of what the core parsers accept and give the same value (the
//! `fast_paths_agree_with_core` property tests check this), so they change
//! the speed and nothing else.

use std::fmt::{self, Write as _};

use pmbot_core::{
    ConditionId, Hash32, Price, PriceChange, PriceError, Side, Size, TickSize, TimestampMs, TokenId, parse_touch_price,
};

use super::RejectReason;
use super::fields::{EntryRaw, Fault, Scalar};
use super::intern::TokenInterner;

/// Room for the decimal text of a JSON number. Rust prints an `f64` without an
/// exponent, so a huge or tiny one does not fit; such a number is not a valid
/// price, size or timestamp anyway and is refused as one.
const NUM_TEXT_CAP: usize = 40;

struct NumText {
    buf: [u8; NUM_TEXT_CAP],
    len: usize,
}

impl NumText {
    fn new() -> NumText {
        NumText { buf: [0; NUM_TEXT_CAP], len: 0 }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so this is valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for NumText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > NUM_TEXT_CAP {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Why a scalar has no usable text.
enum NoText {
    Missing,
    WrongType,
    /// A JSON number too long to be any value pmbot reads.
    TooLong(String),
}

/// The text of a string, or of a JSON number rendered into `buf`.
fn decimal_text<'s>(s: Option<&'s Scalar<'_>>, buf: &'s mut NumText) -> Result<&'s str, NoText> {
    let rendered = match s {
        None | Some(Scalar::Null) => return Err(NoText::Missing),
        Some(Scalar::Other) => return Err(NoText::WrongType),
        Some(Scalar::Str(text)) => return Ok(text),
        Some(Scalar::U64(v)) => write!(buf, "{v}"),
        Some(Scalar::I64(v)) => write!(buf, "{v}"),
        Some(Scalar::F64(v)) => write!(buf, "{v}"),
    };
    match rendered {
        Ok(()) => Ok(buf.as_str()),
        Err(_) => Err(NoText::TooLong(match s {
            Some(Scalar::F64(v)) => format!("{v:e}"),
            _ => String::new(),
        })),
    }
}

/// The text of a field that must be a JSON string.
fn string_text<'s>(s: Option<&'s Scalar<'_>>, field: &'static str) -> Result<&'s str, Fault> {
    match s {
        None | Some(Scalar::Null) => Err(Fault::new(RejectReason::MissingField, field)),
        Some(Scalar::Str(text)) => Ok(text),
        Some(_) => Err(Fault::new(RejectReason::WrongType, field)),
    }
}

/// Reads a decimal field (string or number) and parses it with `parse`,
/// naming `bad` as the reason when the text does not parse.
#[inline]
fn decimal<T>(
    s: Option<&Scalar<'_>>,
    field: &'static str,
    bad: RejectReason,
    parse: impl FnOnce(&str) -> Result<T, RejectReason>,
) -> Result<T, Fault> {
    // Strings (the usual case) need no rendering buffer.
    if let Some(Scalar::Str(text)) = s {
        return parse(text).map_err(|reason| Fault::new(reason, field).with_value(text));
    }
    let mut buf = NumText::new();
    match decimal_text(s, &mut buf) {
        Ok(text) => parse(text).map_err(|reason| Fault::new(reason, field).with_value(text)),
        Err(NoText::Missing) => Err(Fault::new(RejectReason::MissingField, field)),
        Err(NoText::WrongType) => Err(Fault::new(RejectReason::WrongType, field)),
        Err(NoText::TooLong(text)) => Err(Fault::new(bad, field).with_value(&text)),
    }
}

/// Like [`decimal`], but absent, `null` and `""` give `None`.
fn optional_decimal<T>(
    s: Option<&Scalar<'_>>,
    field: &'static str,
    bad: RejectReason,
    parse: impl FnOnce(&str) -> Result<Option<T>, RejectReason>,
) -> Result<Option<T>, Fault> {
    match s {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(text)) if text.is_empty() => Ok(None),
        _ => decimal(s, field, bad, parse),
    }
}

fn price_reason(e: &PriceError) -> RejectReason {
    match e {
        PriceError::TooPrecise(_) => RejectReason::PriceTooPrecise,
        PriceError::OutOfRange(_) => RejectReason::PriceOutOfRange,
        PriceError::UnknownTick(_) => RejectReason::BadTickSize,
        PriceError::Malformed(_) | PriceError::OffTick { .. } => RejectReason::BadPrice,
    }
}

/// A price strictly inside (0, 1) with at most 4 decimals.
pub(super) fn price(s: Option<&Scalar<'_>>, field: &'static str) -> Result<Price, Fault> {
    decimal(s, field, RejectReason::BadPrice, |t| match fast_price(t) {
        Some(p) => Ok(p),
        None => Price::parse(t).map_err(|e| price_reason(&e)),
    })
}

/// A best bid or ask: "0" (no bid), "1" (no ask), `""`, `null` and absence
/// are all `None`.
pub(super) fn touch(s: Option<&Scalar<'_>>, field: &'static str) -> Result<Option<Price>, Fault> {
    optional_decimal(s, field, RejectReason::BadPrice, |t| match fast_price(t) {
        Some(p) => Ok(Some(p)),
        None => parse_touch_price(Some(t)).map_err(|e| price_reason(&e)),
    })
}

/// A size: non-negative, at most 6 decimals.
pub(super) fn size(s: Option<&Scalar<'_>>, field: &'static str) -> Result<Size, Fault> {
    decimal(s, field, RejectReason::BadSize, |t| match fast_size(t) {
        Some(size) => Ok(size),
        None => Size::parse(t).map_err(|_| RejectReason::BadSize),
    })
}

/// Milliseconds since the epoch, a whole number.
pub(super) fn timestamp(s: Option<&Scalar<'_>>, field: &'static str) -> Result<TimestampMs, Fault> {
    decimal(s, field, RejectReason::BadTimestamp, |t| match fast_digits(t, 18) {
        Some(ms) => Ok(TimestampMs(ms as i64)),
        None => TimestampMs::parse(t).map_err(|_| RejectReason::BadTimestamp),
    })
}

/// The value of 1 to `max` (<= 19) ASCII digits and nothing else.
#[inline]
fn fast_digits(t: &str, max: usize) -> Option<u64> {
    let b = t.as_bytes();
    if b.is_empty() || b.len() > max {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
}

/// "0." and 1 to 4 digits, not all zero: the exchange's price spelling.
#[inline]
fn fast_price(t: &str) -> Option<Price> {
    // Pips per unit of the last digit, by digit count (a table, not a loop:
    // LLVM turns a short multiply loop into slow vector code).
    const SCALE: [u16; 4] = [1000, 100, 10, 1];
    let b = t.as_bytes();
    if b.len() < 3 || b.len() > 6 || b[0] != b'0' || b[1] != b'.' {
        return None;
    }
    let mut pips: u16 = 0;
    for &c in &b[2..] {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        pips = pips * 10 + u16::from(d);
    }
    Price::from_pips(pips * SCALE[b.len() - 3])
}

/// 1 to 12 digits, then optionally "." and 1 to 6 digits: the exchange's
/// size spelling (12 integer digits cannot overflow the micro-share count).
#[inline]
fn fast_size(t: &str) -> Option<Size> {
    const SCALE: [u64; 7] = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
    let (int, frac) = match t.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (t, None),
    };
    let whole = fast_digits(int, 12)?;
    let micros = match frac {
        None => 0,
        Some(frac) => fast_digits(frac, 6)? * SCALE[frac.len()],
    };
    Some(Size::from_micros(whole * 1_000_000 + micros))
}

/// "0x" + 64 hex digits, decoded with a table.
#[inline]
fn fast_hash32(t: &str) -> Option<Hash32> {
    const INVALID: u8 = 0xff;
    const HEX: [u8; 256] = {
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    let b = t.as_bytes();
    if b.len() != 66 || b[0] != b'0' || !matches!(b[1], b'x' | b'X') {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b[2..].chunks_exact(2).enumerate() {
        let (hi, lo) = (HEX[usize::from(pair[0])], HEX[usize::from(pair[1])]);
        if hi == INVALID || lo == INVALID {
            return None;
        }
        out[i] = hi << 4 | lo;
    }
    Some(Hash32(out))
}

pub(super) fn tick(s: Option<&Scalar<'_>>, field: &'static str) -> Result<TickSize, Fault> {
    decimal(s, field, RejectReason::BadTickSize, |t| t.parse::<TickSize>().map_err(|_| RejectReason::BadTickSize))
}

/// A book's optional tick size (`""` counts as absent).
pub(super) fn optional_tick(s: Option<&Scalar<'_>>, field: &'static str) -> Result<Option<TickSize>, Fault> {
    optional_decimal(s, field, RejectReason::BadTickSize, |t| {
        t.parse::<TickSize>().map(Some).map_err(|_| RejectReason::BadTickSize)
    })
}

/// A book's `last_trade_price`: `""` (no trade yet), "0", "1", `null` and
/// absence are `None`; anything else must be a valid price.
pub(super) fn last_trade_price(s: Option<&Scalar<'_>>, field: &'static str) -> Result<Option<Price>, Fault> {
    touch(s, field)
}

/// Whole basis points ("0", "1000", or a JSON integer).
pub(super) fn fee_rate_bps(s: Option<&Scalar<'_>>, field: &'static str) -> Result<u32, Fault> {
    decimal(s, field, RejectReason::BadFeeRate, |t| {
        let digits = t.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RejectReason::BadFeeRate);
        }
        digits.parse::<u32>().map_err(|_| RejectReason::BadFeeRate)
    })
}

pub(super) fn side(s: Option<&Scalar<'_>>, field: &'static str) -> Result<Side, Fault> {
    let text = string_text(s, field)?;
    text.parse::<Side>().map_err(|_| Fault::new(RejectReason::BadSide, field).with_value(text))
}

pub(super) fn token(s: Option<&Scalar<'_>>, field: &'static str, interner: &TokenInterner) -> Result<TokenId, Fault> {
    let text = string_text(s, field)?;
    interner.resolve(text).map_err(|_| Fault::new(RejectReason::BadTokenId, field).with_value(text))
}

pub(super) fn market(s: Option<&Scalar<'_>>, field: &'static str) -> Result<ConditionId, Fault> {
    let text = string_text(s, field)?;
    match fast_hash32(text) {
        Some(h) => Ok(h),
        None => Hash32::parse(text).map_err(|_| Fault::new(RejectReason::BadMarketId, field).with_value(text)),
    }
}

/// An exchange hash, kept as sent; `""` counts as absent.
pub(super) fn optional_hash(s: Option<&Scalar<'_>>, field: &'static str) -> Result<Option<String>, Fault> {
    match s {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(text)) if text.is_empty() => Ok(None),
        Some(Scalar::Str(text)) => Ok(Some(text.to_string())),
        Some(_) => Err(Fault::new(RejectReason::WrongType, field)),
    }
}

/// A text field that must be a JSON string (question, slug, outcome).
pub(super) fn string(s: Option<&Scalar<'_>>, field: &'static str) -> Result<String, Fault> {
    string_text(s, field).map(str::to_owned)
}

/// An id the exchange may write as a string or a number (Gamma market ids).
pub(super) fn id_text(s: Option<&Scalar<'_>>, field: &'static str) -> Result<String, Fault> {
    match s {
        Some(Scalar::F64(_)) => Err(Fault::new(RejectReason::WrongType, field)),
        _ => decimal(s, field, RejectReason::WrongType, |t| Ok(t.to_owned())),
    }
}

/// One current-schema `price_changes` entry. A fault carries the entry's
/// token when that much could be read, so the refusal can name it.
pub(super) fn entry(e: &EntryRaw<'_>, interner: &TokenInterner) -> Result<PriceChange, Fault> {
    let token = token(e.asset_id.as_ref(), "price_changes.asset_id", interner)?;
    let rest: Result<_, Fault> = (|| {
        Ok((
            side(e.side.as_ref(), "price_changes.side")?,
            price(e.price.as_ref(), "price_changes.price")?,
            size(e.size.as_ref(), "price_changes.size")?,
            touch(e.best_bid.as_ref(), "price_changes.best_bid")?,
            touch(e.best_ask.as_ref(), "price_changes.best_ask")?,
            optional_hash(e.hash.as_ref(), "price_changes.hash")?,
        ))
    })();
    match rest {
        Ok((side, price, size, best_bid, best_ask, hash)) => {
            Ok(PriceChange { token, side, price, size, best_bid, best_ask, hash })
        }
        Err(fault) => Err(fault.with_token(token)),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn s(text: &str) -> Scalar<'_> {
        Scalar::Str(Cow::Borrowed(text))
    }

    #[test]
    fn numbers_read_like_the_strings_they_spell() {
        assert_eq!(price(Some(&Scalar::F64(0.48)), "p").unwrap(), price(Some(&s("0.48")), "p").unwrap());
        assert_eq!(size(Some(&Scalar::U64(30)), "s").unwrap(), Size::from_shares(30));
        assert_eq!(size(Some(&Scalar::F64(12.5)), "s").unwrap(), Size::parse("12.5").unwrap());
        assert_eq!(timestamp(Some(&Scalar::U64(1_703_875_200_000)), "t").unwrap(), TimestampMs(1_703_875_200_000));
        assert_eq!(fee_rate_bps(Some(&Scalar::U64(1000)), "f").unwrap(), 1000);
        assert_eq!(tick(Some(&Scalar::F64(0.001)), "k").unwrap(), TickSize::Thousandth);
        assert_eq!(id_text(Some(&Scalar::U64(1031769)), "id").unwrap(), "1031769");
    }

    #[test]
    fn failures_name_reason_field_and_text() {
        let f = price(Some(&s("1.2")), "price").unwrap_err();
        assert_eq!((f.reason, f.field, f.value.as_deref()), (RejectReason::PriceOutOfRange, "price", Some("1.2")));
        assert_eq!(price(Some(&s("0.12345")), "p").unwrap_err().reason, RejectReason::PriceTooPrecise);
        assert_eq!(price(Some(&s("abc")), "p").unwrap_err().reason, RejectReason::BadPrice);
        assert_eq!(price(Some(&Scalar::Other), "p").unwrap_err().reason, RejectReason::WrongType);
        assert_eq!(price(Some(&Scalar::Null), "p").unwrap_err().reason, RejectReason::MissingField);
        assert_eq!(price(None, "p").unwrap_err().reason, RejectReason::MissingField);
        // Too long to render: refused as a bad value, not truncated.
        assert_eq!(price(Some(&Scalar::F64(1e300)), "p").unwrap_err().reason, RejectReason::BadPrice);
        assert_eq!(size(Some(&Scalar::I64(-3)), "s").unwrap_err().reason, RejectReason::BadSize);
        assert_eq!(timestamp(Some(&Scalar::F64(1.5)), "t").unwrap_err().reason, RejectReason::BadTimestamp);
        assert_eq!(fee_rate_bps(Some(&s("0.5")), "f").unwrap_err().reason, RejectReason::BadFeeRate);
        assert_eq!(fee_rate_bps(Some(&s("-1")), "f").unwrap_err().reason, RejectReason::BadFeeRate);
        assert_eq!(side(Some(&s("HOLD")), "side").unwrap_err().reason, RejectReason::BadSide);
        assert_eq!(side(Some(&Scalar::U64(1)), "side").unwrap_err().reason, RejectReason::WrongType);
        assert_eq!(market(Some(&s("0x12")), "m").unwrap_err().reason, RejectReason::BadMarketId);
        assert_eq!(tick(Some(&s("0.02")), "k").unwrap_err().reason, RejectReason::BadTickSize);
        assert_eq!(id_text(Some(&Scalar::F64(1.5)), "id").unwrap_err().reason, RejectReason::WrongType);
        let long = "9".repeat(100);
        let f = token(Some(&s(&long)), "asset_id", &TokenInterner::new()).unwrap_err();
        assert_eq!((f.reason, f.value.as_ref().map(|v| v.len())), (RejectReason::BadTokenId, Some(64)));
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_agree_with_core(
            digits in "[0-9]{0,7}",
            int in "[0-9]{0,14}",
            frac in "[0-9]{0,8}",
            hex in "[0-9a-fA-Fg]{62,66}",
            text in "\\PC{0,12}",
        ) {
            for t in [format!("0.{digits}"), format!("{int}.{frac}"), int.clone(), text.clone()] {
                if let Some(p) = fast_price(&t) {
                    proptest::prop_assert_eq!(Ok(p), Price::parse(&t), "{}", t);
                }
                if let Some(s) = fast_size(&t) {
                    proptest::prop_assert_eq!(Ok(s), Size::parse(&t), "{}", t);
                }
                if let Some(v) = fast_digits(&t, 18) {
                    proptest::prop_assert_eq!(Ok(TimestampMs(v as i64)), TimestampMs::parse(&t), "{}", t);
                }
            }
            for t in [format!("0x{hex}"), format!("0X{hex}"), hex.clone(), text] {
                if let Some(h) = fast_hash32(&t) {
                    proptest::prop_assert_eq!(Ok(h), Hash32::parse(&t), "{}", t);
                }
            }
        }
    }

    #[test]
    fn fast_paths_take_the_exchange_spellings() {
        assert_eq!(fast_price("0.48"), Price::from_pips(4800));
        assert_eq!(fast_price("0.0001"), Price::from_pips(1));
        assert_eq!(fast_price("0.0000"), None);
        assert_eq!(fast_price("0.00001"), None);
        assert_eq!(fast_size("219.217767"), Some(Size::from_micros(219_217_767)));
        assert_eq!(fast_size("30"), Some(Size::from_shares(30)));
        assert_eq!(fast_size("1.2345678"), None);
        assert_eq!(fast_digits("1757908892351", 18), Some(1_757_908_892_351));
        let m = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917";
        assert_eq!(fast_hash32(m), Some(Hash32::parse(m).unwrap()));
    }

    #[test]
    fn optional_fields_treat_the_exchange_blanks_as_absent() {
        for blank in [None, Some(Scalar::Null), Some(s("")), Some(s("0")), Some(s("1"))] {
            assert_eq!(touch(blank.as_ref(), "b").unwrap(), None, "{blank:?}");
            assert_eq!(last_trade_price(blank.as_ref(), "l").unwrap(), None, "{blank:?}");
        }
        assert_eq!(touch(Some(&s("0.5")), "b").unwrap(), Price::from_pips(5000));
        assert_eq!(touch(Some(&Scalar::U64(0)), "b").unwrap(), None);
        assert_eq!(touch(Some(&s("1.5")), "b").unwrap_err().reason, RejectReason::PriceOutOfRange);
        assert_eq!(optional_hash(Some(&s("")), "h").unwrap(), None);
        assert_eq!(optional_hash(Some(&s("ab")), "h").unwrap().as_deref(), Some("ab"));
        assert_eq!(optional_hash(Some(&Scalar::U64(1)), "h").unwrap_err().reason, RejectReason::WrongType);
        assert_eq!(optional_tick(Some(&s("")), "k").unwrap(), None);
        assert_eq!(optional_tick(Some(&s("0.01")), "k").unwrap(), Some(TickSize::Hundredth));
    }
}
