//! Orders as `POST /order` and `POST /orders` receive them.
//!
//! Invariant: an order is admitted only if (1) its body has the V2/V3 shape
//! the official clients send (a V1-shaped order is a distinct
//! [`OrderParseError::VersionMismatch`], answered 400 `order_version_mismatch`,
//! which makes the clients refresh `/version` and re-sign); (2) its maker and
//! signer fit its signature type; (3) its signature, over the EIP-712 hash of
//! exactly the eleven signed fields on the market's exchange domain, was made
//! by its signer (types 0-2), or is an ERC-7739 wrapped signature of this
//! order on this domain (type 3); and (4) its amounts imply a price on the
//! market's tick ([`terms_from_amounts`]). The order hash is the `orderID`.
//!
//! `expiration` is not part of the V2 signed struct: it travels beside it in
//! the JSON, and no signature check can notice it being changed.

mod eip712;
mod parse;
mod precision;
mod price;

use alloy::primitives::{Address, B256, Bytes, U256};
use pmbot_core::{Side, TokenId};
use uuid::Uuid;

pub use crate::engine::{ExchangeKind, OrderType};
pub use eip712::{
    DomainVersion, EXCHANGE_NAME, ExchangeContracts, ExchangeDomain, ORDER_TYPE_STRING, OrderVerifyError, VerifiedOrder,
};
pub use parse::{OrderParseError, parse_post_order, parse_post_orders};
pub use precision::{AmountRule, PrecisionError, check_amounts};
pub use price::{AmountsError, OrderTerms, PriceFit, rounding_quantum, terms_from_amounts};

/// How the order's signature is to be checked, and who the maker may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SignatureType {
    /// A plain wallet: maker = signer.
    Eoa = 0,
    /// A Polymarket proxy wallet (maker) operated by an EOA (signer).
    PolyProxy = 1,
    /// A Gnosis Safe (maker) operated by an EOA (signer).
    PolyGnosisSafe = 2,
    /// A deposit wallet (maker = signer) validating an ERC-7739 wrapped
    /// signature of its owner through ERC-1271.
    Poly1271 = 3,
}

impl SignatureType {
    pub const fn from_u8(v: u8) -> Option<SignatureType> {
        match v {
            0 => Some(SignatureType::Eoa),
            1 => Some(SignatureType::PolyProxy),
            2 => Some(SignatureType::PolyGnosisSafe),
            3 => Some(SignatureType::Poly1271),
            _ => None,
        }
    }
}

/// A V2/V3 order with its signature, as the `order` object of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOrder {
    pub salt: U256,
    /// The funder: pays and receives.
    pub maker: Address,
    /// Who signed: the EOA, or for POLY_1271 the deposit wallet itself.
    pub signer: Address,
    pub token_id: U256,
    /// BUY: collateral paid; SELL: shares sold (6-decimal units).
    pub maker_amount: U256,
    /// BUY: shares received; SELL: collateral received (6-decimal units).
    pub taker_amount: U256,
    pub side: Side,
    pub signature_type: SignatureType,
    /// Creation time, unix milliseconds.
    pub timestamp_ms: U256,
    pub metadata: B256,
    pub builder: B256,
    /// Unix seconds, 0 = none. Not signed (see the module docs).
    pub expiration_s: u64,
    pub signature: Bytes,
}

impl SignedOrder {
    /// The outcome token (or V3 position id) in pmbot's id type.
    pub fn token(&self) -> TokenId {
        TokenId::parse(&self.token_id.to_string()).expect("a U256 prints as a canonical decimal uint256")
    }
}

/// One `POST /order` body (or one element of a `POST /orders` array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOrder {
    pub order: SignedOrder,
    /// The API key the client claims to post with; the caller checks it is
    /// the key that authenticated the request.
    pub owner: Uuid,
    pub order_type: OrderType,
    /// Absent when the client omitted it (the Rust SDK's market orders).
    pub post_only: Option<bool>,
    pub defer_exec: Option<bool>,
}

#[cfg(test)]
mod tests;
