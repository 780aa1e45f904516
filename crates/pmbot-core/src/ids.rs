//! Identifiers: outcome tokens, markets (condition ids) and orders.
//!
//! A token id is a uint256 the exchange writes in decimal; it is kept as its
//! canonical decimal text (validated, no leading zeros) behind an `Arc`, so it
//! clones cheaply and prints exactly as the exchange sent it. Condition ids and
//! order ids are 32-byte hashes written `0x` + 64 hex digits.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A malformed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("token id {0:?} is not a decimal uint256")]
    Token(String),
    #[error("{0:?} is not a 0x-prefixed 32-byte hex hash")]
    Hash(String),
}

/// The largest uint256, in decimal; longer or larger strings are not token ids.
const U256_MAX_DEC: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

/// An outcome-token (asset) id: a uint256 in canonical decimal.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(Arc<str>);

impl TokenId {
    /// Validates a decimal uint256 ("0" or digits without a leading zero).
    pub fn parse(s: &str) -> Result<TokenId, IdError> {
        let ok = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'))
            && (s.len() < U256_MAX_DEC.len() || (s.len() == U256_MAX_DEC.len() && s <= U256_MAX_DEC));
        if ok { Ok(TokenId(Arc::from(s))) } else { Err(IdError::Token(s.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.0)
    }
}

impl FromStr for TokenId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TokenId::parse(s)
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        TokenId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A 32-byte hash written as `0x` + 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// Parses `0x` + 64 hex digits (either case).
    pub fn parse(s: &str) -> Result<Hash32, IdError> {
        let err = || IdError::Hash(s.to_owned());
        let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).ok_or_else(err)?;
        if hex.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(err)?;
            let lo = hex_val(pair[1]).ok_or_else(err)?;
            out[i] = hi << 4 | lo;
        }
        Ok(Hash32(out))
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One write of the whole text: ids are formatted for every journal
        // row, and 32 `write!`s per id showed in the backtest profile.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 66];
        text[..2].copy_from_slice(b"0x");
        for (i, b) in self.0.iter().enumerate() {
            text[2 + 2 * i] = HEX[usize::from(b >> 4)];
            text[3 + 2 * i] = HEX[usize::from(b & 0xf)];
        }
        f.write_str(std::str::from_utf8(&text).expect("ASCII hex"))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl FromStr for Hash32 {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash32::parse(s)
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash32::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A market's condition id (`0x` + 64 hex).
pub type ConditionId = Hash32;

/// An order id: the order's EIP-712 hash, which the exchange returns as `orderID`.
pub type OrderId = Hash32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_canonical_decimal_uint256() {
        let t =
            TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563").unwrap();
        assert_eq!(t.to_string().len(), 77);
        assert!(TokenId::parse(U256_MAX_DEC).is_ok());
        for bad in [
            "",
            "01",
            "-1",
            "12a",
            "0x12",
            "115792089237316195423570985008687907853269984665640564039457584007913129639936",
        ] {
            assert!(TokenId::parse(bad).is_err(), "{bad}");
        }
        let back: TokenId = serde_json::from_str("\"1234\"").unwrap();
        assert_eq!(back.as_str(), "1234");
    }

    #[test]
    fn hashes_round_trip_lowercase() {
        let s = "0x5F65177B394277FD294CD75650044E32BA009A95022D88A0C1D565897D72F8F1";
        let h = Hash32::parse(s).unwrap();
        assert_eq!(h.to_string(), s.to_lowercase());
        assert!(Hash32::parse("0x1234").is_err());
        assert!(Hash32::parse(&s[2..]).is_err());
        assert!(Hash32::parse(&s.replace('F', "g")).is_err());
    }
}
