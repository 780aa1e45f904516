//! Reading the JSON of `POST /order` and `POST /orders`.
//!
//! Accepts what the official clients send: `salt` and `signatureType` as JSON
//! numbers, amounts, `tokenId`, `expiration` and `timestamp` as decimal
//! strings, `side` as "BUY"/"SELL", addresses checksummed or lowercase, and
//! optional `postOnly`/`deferExec`. Integers are also read from the other
//! representation (a number where a string is usual, and vice versa) and
//! `side` from 0/1, because other clients differ in exactly these ways and
//! the value is unambiguous either way. Unknown keys are ignored.

use std::str::FromStr;

use alloy::primitives::{Address, B256, Bytes, U256, hex};
use pmbot_core::Side;
use serde::Deserialize;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;
use uuid::Uuid;

use super::{OrderType, PostOrder, SignatureType, SignedOrder};

/// Why a body is not an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderParseError {
    /// A V1 order (`taker`/`nonce`/`feeRateBps`, no `timestamp`/`metadata`/`builder`).
    #[error("V1-shaped order sent to a V2 exchange")]
    VersionMismatch,
    #[error("body is not an order: {0}")]
    Malformed(String),
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("field {field}: {reason}")]
    InvalidField { field: &'static str, reason: &'static str },
}

impl OrderParseError {
    /// The HTTP status the real API answers with.
    pub const fn http_status(&self) -> u16 {
        400
    }

    /// The `{"error": ...}` text the real API answers with.
    pub const fn message(&self) -> &'static str {
        match self {
            OrderParseError::VersionMismatch => "order_version_mismatch",
            _ => "Invalid payload",
        }
    }
}

/// Parses a `POST /order` body.
pub fn parse_post_order(body: &[u8]) -> Result<PostOrder, OrderParseError> {
    let wire: WireBody = serde_json::from_slice(body).map_err(|e| OrderParseError::Malformed(e.to_string()))?;
    wire.into_post_order()
}

/// Parses a `POST /orders` body: a JSON array of order bodies. The outer error
/// is for a body that is not a JSON array; each element has its own result, so
/// the caller can answer per order.
pub fn parse_post_orders(body: &[u8]) -> Result<Vec<Result<PostOrder, OrderParseError>>, OrderParseError> {
    let items: Vec<Value> = serde_json::from_slice(body).map_err(|e| OrderParseError::Malformed(e.to_string()))?;
    Ok(items
        .into_iter()
        .map(|item| {
            serde_json::from_value::<WireBody>(item)
                .map_err(|e| OrderParseError::Malformed(e.to_string()))
                .and_then(WireBody::into_post_order)
        })
        .collect())
}

#[derive(Deserialize)]
struct WireBody {
    order: Option<WireOrder>,
    owner: Option<Value>,
    #[serde(rename = "orderType")]
    order_type: Option<Value>,
    #[serde(rename = "postOnly")]
    post_only: Option<bool>,
    #[serde(rename = "deferExec")]
    defer_exec: Option<bool>,
}

/// Every field as a raw JSON value, so a V1 body is recognised before any
/// V2 field is demanded, and each bad field gets its own error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder {
    salt: Option<Value>,
    maker: Option<Value>,
    signer: Option<Value>,
    token_id: Option<Value>,
    maker_amount: Option<Value>,
    taker_amount: Option<Value>,
    side: Option<Value>,
    expiration: Option<Value>,
    signature_type: Option<Value>,
    timestamp: Option<Value>,
    metadata: Option<Value>,
    builder: Option<Value>,
    signature: Option<Value>,
    // V1-only fields: their presence marks a V1 order.
    taker: Option<Value>,
    nonce: Option<Value>,
    fee_rate_bps: Option<Value>,
}

impl WireBody {
    fn into_post_order(self) -> Result<PostOrder, OrderParseError> {
        let order = self.order.ok_or(OrderParseError::MissingField("order"))?.into_signed_order()?;
        let owner = match self.owner {
            Some(Value::String(s)) => Uuid::from_str(&s).map_err(|_| invalid("owner", "not an API key uuid"))?,
            Some(_) => return Err(invalid("owner", "not a string")),
            None => return Err(OrderParseError::MissingField("owner")),
        };
        let order_type = match self.order_type {
            Some(Value::String(s)) => {
                parse_order_type(&s).ok_or_else(|| invalid("orderType", "not GTC, GTD, FOK or FAK"))?
            }
            Some(_) => return Err(invalid("orderType", "not a string")),
            None => return Err(OrderParseError::MissingField("orderType")),
        };
        Ok(PostOrder { order, owner, order_type, post_only: self.post_only, defer_exec: self.defer_exec })
    }
}

impl WireOrder {
    fn into_signed_order(self) -> Result<SignedOrder, OrderParseError> {
        let has_v1_field = self.taker.is_some() || self.nonce.is_some() || self.fee_rate_bps.is_some();
        let lacks_v2_field = self.timestamp.is_none() || self.metadata.is_none() || self.builder.is_none();
        if has_v1_field && lacks_v2_field {
            return Err(OrderParseError::VersionMismatch);
        }
        let expiration = uint("expiration", self.expiration)?;
        Ok(SignedOrder {
            salt: uint("salt", self.salt)?,
            maker: address("maker", self.maker)?,
            signer: address("signer", self.signer)?,
            token_id: uint("tokenId", self.token_id)?,
            maker_amount: uint("makerAmount", self.maker_amount)?,
            taker_amount: uint("takerAmount", self.taker_amount)?,
            side: side(self.side)?,
            signature_type: signature_type(self.signature_type)?,
            timestamp_ms: uint("timestamp", self.timestamp)?,
            metadata: bytes32("metadata", self.metadata)?,
            builder: bytes32("builder", self.builder)?,
            expiration_s: u64::try_from(expiration).map_err(|_| invalid("expiration", "beyond u64 seconds"))?,
            signature: signature(self.signature)?,
        })
    }
}

fn invalid(field: &'static str, reason: &'static str) -> OrderParseError {
    OrderParseError::InvalidField { field, reason }
}

fn present(field: &'static str, v: Option<Value>) -> Result<Value, OrderParseError> {
    v.ok_or(OrderParseError::MissingField(field))
}

/// A non-negative integer, as a JSON integer or a decimal string.
fn uint(field: &'static str, v: Option<Value>) -> Result<U256, OrderParseError> {
    match present(field, v)? {
        Value::Number(n) => n.as_u64().map(U256::from).ok_or_else(|| invalid(field, "not a non-negative integer")),
        Value::String(s) => {
            super::super::l1::parse_decimal_u256(&s).ok_or_else(|| invalid(field, "not a decimal uint256"))
        }
        _ => Err(invalid(field, "not an integer")),
    }
}

/// `0x` + 40 hex digits, any case (no checksum check: the SDK sends lowercase).
fn address(field: &'static str, v: Option<Value>) -> Result<Address, OrderParseError> {
    match present(field, v)? {
        Value::String(s) if s.len() == 42 && s.starts_with("0x") => {
            Address::from_str(&s).map_err(|_| invalid(field, "not a hex address"))
        }
        _ => Err(invalid(field, "not a 0x-prefixed 20-byte hex address")),
    }
}

fn bytes32(field: &'static str, v: Option<Value>) -> Result<B256, OrderParseError> {
    match present(field, v)? {
        Value::String(s) if s.len() == 66 && s.starts_with("0x") => {
            B256::from_str(&s).map_err(|_| invalid(field, "not hex"))
        }
        _ => Err(invalid(field, "not a 0x-prefixed 32-byte hex string")),
    }
}

fn side(v: Option<Value>) -> Result<Side, OrderParseError> {
    match present("side", v)? {
        Value::String(s) => Side::from_str(&s).map_err(|_| invalid("side", "not BUY or SELL")),
        Value::Number(n) => match n.as_u64() {
            Some(0) => Ok(Side::Buy),
            Some(1) => Ok(Side::Sell),
            _ => Err(invalid("side", "not 0 (BUY) or 1 (SELL)")),
        },
        _ => Err(invalid("side", "not BUY or SELL")),
    }
}

fn signature_type(v: Option<Value>) -> Result<SignatureType, OrderParseError> {
    let n = uint("signatureType", v)?;
    u8::try_from(n).ok().and_then(SignatureType::from_u8).ok_or_else(|| invalid("signatureType", "not 0, 1, 2 or 3"))
}

fn signature(v: Option<Value>) -> Result<Bytes, OrderParseError> {
    match present("signature", v)? {
        Value::String(s) if s.starts_with("0x") && s.len() > 2 => {
            hex::decode(&s).map(Bytes::from).map_err(|_| invalid("signature", "not hex"))
        }
        _ => Err(invalid("signature", "not 0x-prefixed hex")),
    }
}

fn parse_order_type(s: &str) -> Option<OrderType> {
    match s.to_ascii_uppercase().as_str() {
        "GTC" => Some(OrderType::Gtc),
        "GTD" => Some(OrderType::Gtd),
        "FOK" => Some(OrderType::Fok),
        "FAK" => Some(OrderType::Fak),
        _ => None,
    }
}

const fn order_type_str(t: OrderType) -> &'static str {
    match t {
        OrderType::Gtc => "GTC",
        OrderType::Gtd => "GTD",
        OrderType::Fok => "FOK",
        OrderType::Fak => "FAK",
    }
}

/// The `order` object exactly as the Rust SDK writes it (key order, lowercase
/// addresses, strings and numbers where it puts them).
struct WireOut<'a>(&'a SignedOrder);

impl Serialize for WireOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let salt = u64::try_from(o.salt).map_err(|_| serde::ser::Error::custom("salt beyond u64"))?;
        let mut st = s.serialize_struct("Order", 13)?;
        st.serialize_field("salt", &salt)?;
        st.serialize_field("maker", &format!("{:#x}", o.maker))?;
        st.serialize_field("signer", &format!("{:#x}", o.signer))?;
        st.serialize_field("tokenId", &o.token_id.to_string())?;
        st.serialize_field("makerAmount", &o.maker_amount.to_string())?;
        st.serialize_field("takerAmount", &o.taker_amount.to_string())?;
        st.serialize_field("side", o.side.as_str())?;
        st.serialize_field("expiration", &o.expiration_s.to_string())?;
        st.serialize_field("signatureType", &(o.signature_type as u8))?;
        st.serialize_field("timestamp", &o.timestamp_ms.to_string())?;
        st.serialize_field("metadata", &o.metadata)?;
        st.serialize_field("builder", &o.builder)?;
        st.serialize_field("signature", &o.signature)?;
        st.end()
    }
}

impl Serialize for PostOrder {
    /// The body the Rust SDK would post for this order: `order`, `orderType`,
    /// `owner`, then `postOnly` and `deferExec` only when set. For tests and
    /// the simulator's own traders.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = 3 + usize::from(self.post_only.is_some()) + usize::from(self.defer_exec.is_some());
        let mut st = s.serialize_struct("PostOrder", n)?;
        st.serialize_field("order", &WireOut(&self.order))?;
        st.serialize_field("orderType", order_type_str(self.order_type))?;
        st.serialize_field("owner", &self.owner)?;
        if let Some(post_only) = self.post_only {
            st.serialize_field("postOnly", &post_only)?;
        }
        if let Some(defer_exec) = self.defer_exec {
            st.serialize_field("deferExec", &defer_exec)?;
        }
        st.end()
    }
}
