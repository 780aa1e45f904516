//! L2 authentication: the HMAC headers on every private endpoint.
//!
//! Invariant: an [`L2Identity`] is returned only when `POLY_API_KEY` names an
//! issued key, `POLY_ADDRESS` is that key's owner, `POLY_PASSPHRASE` is its
//! passphrase, `POLY_TIMESTAMP` lies within the server's time window, and
//! `POLY_SIGNATURE` is
//! `base64url_padded(HMAC_SHA256(base64url_decode(secret), timestamp + METHOD + path + body))`
//! with `path` the URL path without its query and `body` the raw bytes
//! received. The official clients replace every `'` with `"` in the body they
//! sign (not in the body they send), so that form is accepted too. Secrets are
//! compared in constant time.
//!
//! The real API answers every failure with 401 `Unauthorized/Invalid api key`.

use std::borrow::Cow;
use std::str::FromStr;

use alloy::primitives::Address;
use base64::Engine as _;
use base64::alphabet::URL_SAFE as URL_SAFE_ALPHABET;
use base64::engine::general_purpose::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::keys::{ApiCredentials, ApiKeyRecord, ApiKeyStore, decode_secret};
use super::{POLY_ADDRESS, POLY_API_KEY, POLY_PASSPHRASE, POLY_SIGNATURE, POLY_TIMESTAMP, TimeWindow};

type HmacSha256 = Hmac<Sha256>;

/// Reads a client's signature: URL-safe alphabet, `=` padding optional.
const SIGNATURE_B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE_ALPHABET,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why L2 headers were refused. No variant carries a header's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L2Error {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("POLY_ADDRESS is not a hex address")]
    MalformedAddress,
    #[error("POLY_TIMESTAMP is not unix seconds")]
    MalformedTimestamp,
    #[error("POLY_API_KEY is not a uuid")]
    MalformedApiKey,
    #[error("POLY_SIGNATURE is not a base64url HMAC-SHA256")]
    MalformedSignature,
    #[error("POLY_TIMESTAMP {timestamp_s} is more than {max_skew_s}s from server time {now_s}")]
    StaleTimestamp { timestamp_s: i64, now_s: i64, max_skew_s: u64 },
    #[error("POLY_API_KEY is not an issued key")]
    UnknownApiKey,
    #[error("POLY_ADDRESS does not own POLY_API_KEY")]
    AddressMismatch,
    #[error("POLY_PASSPHRASE does not match POLY_API_KEY")]
    PassphraseMismatch,
    #[error("POLY_SIGNATURE does not match the request")]
    SignatureMismatch,
    #[error("api secret is not URL-safe base64")]
    MalformedSecret,
}

impl L2Error {
    /// The HTTP status the real API answers with.
    pub const fn http_status(&self) -> u16 {
        401
    }

    /// The `{"error": ...}` text the real API answers with.
    pub const fn message(&self) -> &'static str {
        "Unauthorized/Invalid api key"
    }
}

/// The five L2 header values, borrowed from the request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct L2Headers<'a> {
    pub address: &'a str,
    pub signature: &'a str,
    pub timestamp: &'a str,
    pub api_key: &'a str,
    pub passphrase: &'a str,
}

impl std::fmt::Debug for L2Headers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L2Headers")
            .field("address", &self.address)
            .field("timestamp", &self.timestamp)
            .field("api_key", &self.api_key)
            .field("signature", &"<redacted>")
            .field("passphrase", &"<redacted>")
            .finish()
    }
}

impl<'a> L2Headers<'a> {
    /// Collects the headers through `get(name)`, e.g. a closure over an HTTP
    /// header map (names are passed in upper case).
    pub fn from_lookup(mut get: impl FnMut(&str) -> Option<&'a str>) -> Result<Self, L2Error> {
        let mut need = |name: &'static str| get(name).ok_or(L2Error::MissingHeader(name));
        Ok(L2Headers {
            address: need(POLY_ADDRESS)?,
            signature: need(POLY_SIGNATURE)?,
            timestamp: need(POLY_TIMESTAMP)?,
            api_key: need(POLY_API_KEY)?,
            passphrase: need(POLY_PASSPHRASE)?,
        })
    }
}

/// What the HMAC covers besides the timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Request<'a> {
    /// As on the request line ("GET", "POST", "DELETE").
    pub method: &'a str,
    /// The URL path; a `?query` suffix, if passed, is ignored as the clients
    /// never sign it.
    pub path: &'a str,
    /// The raw body bytes received (empty for none).
    pub body: &'a [u8],
}

/// The caller behind a verified request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Identity {
    /// The key's owner (also the `POLY_ADDRESS` sent).
    pub address: Address,
    pub api_key: Uuid,
}

/// Verifies L2 headers against the issued keys.
pub fn verify(
    headers: &L2Headers<'_>,
    request: &L2Request<'_>,
    keys: &ApiKeyStore,
    window: TimeWindow,
) -> Result<L2Identity, L2Error> {
    let api_key = Uuid::from_str(headers.api_key.trim()).map_err(|_| L2Error::MalformedApiKey)?;
    let record = keys.get(&api_key).ok_or(L2Error::UnknownApiKey)?;
    verify_with_key(headers, request, record, window)
}

/// Verifies L2 headers against one known key (the caller already looked it up).
pub fn verify_with_key(
    headers: &L2Headers<'_>,
    request: &L2Request<'_>,
    record: &ApiKeyRecord,
    window: TimeWindow,
) -> Result<L2Identity, L2Error> {
    let address = Address::from_str(headers.address.trim()).map_err(|_| L2Error::MalformedAddress)?;
    let timestamp_s = super::parse_unix_seconds(headers.timestamp).ok_or(L2Error::MalformedTimestamp)?;
    let api_key = Uuid::from_str(headers.api_key.trim()).map_err(|_| L2Error::MalformedApiKey)?;
    let claimed = SIGNATURE_B64.decode(headers.signature.trim()).map_err(|_| L2Error::MalformedSignature)?;
    if claimed.len() != 32 {
        return Err(L2Error::MalformedSignature);
    }
    if !window.admits(timestamp_s) {
        return Err(L2Error::StaleTimestamp { timestamp_s, now_s: window.now_s, max_skew_s: window.max_skew_s });
    }
    if api_key != record.api_key() {
        return Err(L2Error::UnknownApiKey);
    }
    if address != record.address {
        return Err(L2Error::AddressMismatch);
    }
    let passphrase = record.credentials().passphrase().as_bytes();
    if !bool::from(passphrase.ct_eq(headers.passphrase.as_bytes())) {
        return Err(L2Error::PassphraseMismatch);
    }
    let signed = |body: &[u8]| {
        let mac = keyed_mac(record.hmac_key(), headers.timestamp, request.method, request.path, body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&claimed).is_ok()
    };
    let matches = signed(request.body) || (request.body.contains(&b'\'') && signed(&quotes_replaced(request.body)));
    if !matches {
        return Err(L2Error::SignatureMismatch);
    }
    Ok(L2Identity { address, api_key })
}

/// Checks the raw credentials a user-channel WebSocket subscription carries
/// (`{"auth": {"apiKey", "secret", "passphrase"}}`: no HMAC, no address).
/// Secret and passphrase are compared in constant time.
pub fn verify_ws_auth(
    keys: &ApiKeyStore,
    api_key: &str,
    secret: &str,
    passphrase: &str,
) -> Result<L2Identity, L2Error> {
    let api_key = Uuid::from_str(api_key.trim()).map_err(|_| L2Error::MalformedApiKey)?;
    let record = keys.get(&api_key).ok_or(L2Error::UnknownApiKey)?;
    let creds = record.credentials();
    if !bool::from(creds.secret().as_bytes().ct_eq(secret.as_bytes())) {
        return Err(L2Error::SignatureMismatch);
    }
    if !bool::from(creds.passphrase().as_bytes().ct_eq(passphrase.as_bytes())) {
        return Err(L2Error::PassphraseMismatch);
    }
    Ok(L2Identity { address: record.address, api_key })
}

/// The exact bytes the HMAC covers: `timestamp + METHOD + path + body`.
pub fn hmac_message(timestamp: &str, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let path = strip_query(path);
    let mut msg = Vec::with_capacity(timestamp.len() + method.len() + path.len() + body.len());
    msg.extend_from_slice(timestamp.as_bytes());
    msg.extend_from_slice(method.as_bytes());
    msg.extend_from_slice(path.as_bytes());
    msg.extend_from_slice(body);
    msg
}

/// `POLY_SIGNATURE` for a request, as the official clients compute it
/// (including their `'` -> `"` replacement in the body).
pub fn sign(secret: &str, timestamp: &str, method: &str, path: &str, body: &[u8]) -> Result<String, L2Error> {
    let key = decode_secret(secret).map_err(|_| L2Error::MalformedSecret)?;
    let mac = keyed_mac(&key, timestamp, method, path, &quotes_replaced(body));
    Ok(URL_SAFE.encode(mac.finalize().into_bytes()))
}

/// L2 header values as a client sends them; for tests and the simulator's own tools.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedL2Headers {
    /// Checksummed, as the Rust SDK sends it.
    pub address: String,
    pub signature: String,
    pub timestamp: String,
    pub api_key: String,
    pub passphrase: String,
}

impl std::fmt::Debug for SignedL2Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_headers().fmt(f)
    }
}

impl SignedL2Headers {
    pub fn as_headers(&self) -> L2Headers<'_> {
        L2Headers {
            address: &self.address,
            signature: &self.signature,
            timestamp: &self.timestamp,
            api_key: &self.api_key,
            passphrase: &self.passphrase,
        }
    }
}

/// Signs all five L2 headers for a request, as the Rust SDK does.
pub fn sign_headers(
    credentials: &ApiCredentials,
    address: Address,
    timestamp_s: i64,
    request: &L2Request<'_>,
) -> Result<SignedL2Headers, L2Error> {
    let timestamp = timestamp_s.to_string();
    Ok(SignedL2Headers {
        address: address.to_checksum(None),
        signature: sign(credentials.secret(), &timestamp, request.method, request.path, request.body)?,
        timestamp,
        api_key: credentials.api_key.to_string(),
        passphrase: credentials.passphrase().to_owned(),
    })
}

fn keyed_mac(key: &[u8], timestamp: &str, method: &str, path: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    // Same bytes as `hmac_message`, fed piecewise to skip a copy of the body.
    mac.update(timestamp.as_bytes());
    mac.update(method.as_bytes());
    mac.update(strip_query(path).as_bytes());
    mac.update(body);
    mac
}

fn strip_query(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// The body with every `'` replaced by `"`, as the clients sign it.
fn quotes_replaced(body: &[u8]) -> Cow<'_, [u8]> {
    if body.contains(&b'\'') {
        Cow::Owned(body.iter().map(|&b| if b == b'\'' { b'"' } else { b }).collect())
    } else {
        Cow::Borrowed(body)
    }
}

#[cfg(test)]
#[path = "l2_tests.rs"]
mod tests;
