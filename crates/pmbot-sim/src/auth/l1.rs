//! L1 authentication: proving control of an address, to create or derive API keys.
//!
//! Invariant: an [`L1Identity`] is returned only when `POLY_SIGNATURE` is an
//! ECDSA signature, by the address in `POLY_ADDRESS`, of the EIP-712 struct
//! `ClobAuth{address, timestamp, nonce, message}` on the domain
//! `{name: "ClobAuthDomain", version: "1", chainId}` (no verifying contract,
//! no salt), where `timestamp` is the `POLY_TIMESTAMP` text exactly as sent and
//! lies within the server's time window.
//!
//! The real API answers every failure with 401 `Invalid L1 Request headers`.

use std::str::FromStr;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::SignerSync;
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};

use super::{EcdsaRules, POLY_ADDRESS, POLY_NONCE, POLY_SIGNATURE, POLY_TIMESTAMP, TimeWindow};

alloy::sol! {
    /// The struct a wallet signs to prove control of its address.
    struct ClobAuth {
        address address;
        string timestamp;
        uint256 nonce;
        string message;
    }
}

/// The fixed statement every `ClobAuth` carries.
pub const ATTESTATION: &str = "This message attests that I control the given wallet";

/// The `ClobAuthDomain` EIP-712 domain for `chain_id`.
pub fn clob_auth_domain(chain_id: u64) -> Eip712Domain {
    eip712_domain! {
        name: "ClobAuthDomain",
        version: "1",
        chain_id: chain_id,
    }
}

/// The EIP-712 digest a wallet signs for these L1 header values.
pub fn signing_hash(address: Address, timestamp: &str, nonce: U256, chain_id: u64) -> B256 {
    let auth = ClobAuth { address, timestamp: timestamp.to_owned(), nonce, message: ATTESTATION.to_owned() };
    auth.eip712_signing_hash(&clob_auth_domain(chain_id))
}

/// Why L1 headers were refused. No variant carries a header's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L1Error {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("POLY_ADDRESS is not a hex address")]
    MalformedAddress,
    #[error("POLY_SIGNATURE is not a 65-byte hex signature")]
    MalformedSignature,
    #[error("POLY_TIMESTAMP is not unix seconds")]
    MalformedTimestamp,
    #[error("POLY_NONCE is not a decimal uint256")]
    MalformedNonce,
    #[error("POLY_TIMESTAMP {timestamp_s} is more than {max_skew_s}s from server time {now_s}")]
    StaleTimestamp { timestamp_s: i64, now_s: i64, max_skew_s: u64 },
    #[error("POLY_SIGNATURE was not made by POLY_ADDRESS")]
    SignerMismatch,
}

impl L1Error {
    /// The HTTP status the real API answers with.
    pub const fn http_status(&self) -> u16 {
        401
    }

    /// The `{"error": ...}` text the real API answers with.
    pub const fn message(&self) -> &'static str {
        "Invalid L1 Request headers"
    }
}

/// The four L1 header values, borrowed from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Headers<'a> {
    pub address: &'a str,
    pub signature: &'a str,
    pub timestamp: &'a str,
    /// `POLY_NONCE`; every official client sends it, absent means "0".
    pub nonce: Option<&'a str>,
}

impl<'a> L1Headers<'a> {
    /// Collects the headers through `get(name)`, e.g. a closure over an HTTP
    /// header map (names are passed in upper case).
    pub fn from_lookup(mut get: impl FnMut(&str) -> Option<&'a str>) -> Result<Self, L1Error> {
        let mut need = |name: &'static str| get(name).ok_or(L1Error::MissingHeader(name));
        Ok(L1Headers {
            address: need(POLY_ADDRESS)?,
            signature: need(POLY_SIGNATURE)?,
            timestamp: need(POLY_TIMESTAMP)?,
            nonce: get(POLY_NONCE),
        })
    }
}

/// Who proved control, and of which key slot (the nonce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Identity {
    pub address: Address,
    pub nonce: U256,
}

/// Verifies L1 headers signed for `chain_id` against the server's time window.
pub fn verify(headers: &L1Headers<'_>, chain_id: u64, window: TimeWindow) -> Result<L1Identity, L1Error> {
    let address = Address::from_str(headers.address.trim()).map_err(|_| L1Error::MalformedAddress)?;
    let timestamp_s = super::parse_unix_seconds(headers.timestamp).ok_or(L1Error::MalformedTimestamp)?;
    let nonce = match headers.nonce {
        None => U256::ZERO,
        Some(text) => parse_decimal_u256(text).ok_or(L1Error::MalformedNonce)?,
    };
    let signature =
        super::parse_ecdsa(headers.signature.trim(), EcdsaRules::Lenient).ok_or(L1Error::MalformedSignature)?;
    if !window.admits(timestamp_s) {
        return Err(L1Error::StaleTimestamp { timestamp_s, now_s: window.now_s, max_skew_s: window.max_skew_s });
    }
    // The client signs the timestamp as the string it sends; hash that exact text.
    let digest = signing_hash(address, headers.timestamp, nonce, chain_id);
    let recovered = signature.recover_address_from_prehash(&digest).map_err(|_| L1Error::SignerMismatch)?;
    // `Address` equality is byte equality, so checksummed and lowercase
    // spellings of POLY_ADDRESS compare alike.
    if recovered != address {
        return Err(L1Error::SignerMismatch);
    }
    Ok(L1Identity { address, nonce })
}

/// Decimal digits only (no sign, no `0x`), at most a uint256.
pub(crate) fn parse_decimal_u256(text: &str) -> Option<U256> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    U256::from_str_radix(text, 10).ok()
}

/// L1 header values as a client sends them; for tests and the simulator's own tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedL1Headers {
    /// Lowercase hex, as the Rust SDK sends it.
    pub address: String,
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
}

impl SignedL1Headers {
    /// Borrows these values as request headers.
    pub fn as_headers(&self) -> L1Headers<'_> {
        L1Headers {
            address: &self.address,
            signature: &self.signature,
            timestamp: &self.timestamp,
            nonce: Some(&self.nonce),
        }
    }
}

/// Signs L1 headers the way the official clients do.
pub fn sign(
    signer: &impl SignerSync,
    address: Address,
    chain_id: u64,
    timestamp_s: i64,
    nonce: U256,
) -> alloy::signers::Result<SignedL1Headers> {
    let timestamp = timestamp_s.to_string();
    let digest = signing_hash(address, &timestamp, nonce, chain_id);
    let signature = signer.sign_hash_sync(&digest)?;
    Ok(SignedL1Headers {
        address: format!("{address:#x}"),
        signature: signature.to_string(),
        timestamp,
        nonce: nonce.to_string(),
    })
}

#[cfg(test)]
#[path = "l1_tests.rs"]
mod tests;
