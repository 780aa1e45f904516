//! Authentication and order admission for the simulated exchange.
//!
//! Invariant: a request reaches the engine only if it proves what the real
//! CLOB makes it prove. L1 (`/auth/api-key`, `/auth/derive-api-key`): an
//! EIP-712 `ClobAuth` signature by `POLY_ADDRESS`. L2 (every private
//! endpoint): an HMAC of `timestamp + METHOD + path + body` under the secret of
//! an API key owned by `POLY_ADDRESS`, with its passphrase. Orders: an EIP-712
//! signature by the order's `signer` over exactly the fields the exchange
//! settles, whose amounts imply a price on the market's tick.
//!
//! Everything here is synchronous and pure: no I/O, no clock (the caller
//! passes `now`), no axum. Each error type says which HTTP status and
//! `{"error": ...}` text the real API answers with (`http_status`,
//! `message`); no error's `Display` or `Debug` contains a secret.
//!
//! Written from the protocol notes and the official SDK's source, sharing no
//! code with pmbot's own client, so a misreading on either side shows up as a
//! failed request instead of cancelling out.

pub mod keys;
pub mod l1;
pub mod l2;
pub mod order;

use alloy::primitives::{Signature, hex};

pub use keys::{ApiCredentials, ApiKeyRecord, ApiKeyStore, KeyStoreError, ServerSeed};
pub use l1::{L1Error, L1Headers, L1Identity};
pub use l2::{L2Error, L2Headers, L2Identity, L2Request};

/// Header names, as the clients send them (HTTP header lookup is
/// case-insensitive, so the caller may match them in any case).
pub const POLY_ADDRESS: &str = "POLY_ADDRESS";
pub const POLY_SIGNATURE: &str = "POLY_SIGNATURE";
pub const POLY_TIMESTAMP: &str = "POLY_TIMESTAMP";
pub const POLY_NONCE: &str = "POLY_NONCE";
pub const POLY_API_KEY: &str = "POLY_API_KEY";
pub const POLY_PASSPHRASE: &str = "POLY_PASSPHRASE";

/// A default for how far a header timestamp may be from the server clock.
/// Clients sign with their own clock (or `GET /time`); five minutes admits
/// ordinary drift while keeping captured headers from being replayed for long.
pub const DEFAULT_MAX_SKEW_S: u64 = 300;

/// The server's notion of "now" and how far a signed timestamp may stray
/// from it, in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Server time, unix seconds.
    pub now_s: i64,
    /// Largest accepted `|timestamp - now_s|`, seconds.
    pub max_skew_s: u64,
}

impl TimeWindow {
    pub const fn new(now_s: i64, max_skew_s: u64) -> TimeWindow {
        TimeWindow { now_s, max_skew_s }
    }

    /// Whether `timestamp_s` lies within the window.
    pub fn admits(self, timestamp_s: i64) -> bool {
        timestamp_s.abs_diff(self.now_s) <= self.max_skew_s
    }
}

/// Parses a header timestamp: unix seconds as plain decimal digits.
pub(crate) fn parse_unix_seconds(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Which ECDSA encodings are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcdsaRules {
    /// v in {0, 1, 27, 28}, any s: what an off-chain verifier accepts (L1).
    Lenient,
    /// v in {27, 28} and a low s, as the exchange contract's `ECDSA.recover`
    /// demands, so an order the simulator admits is one the chain would settle.
    Chain,
}

/// Parses `0x` + 130 hex digits (r, s, v) into an ECDSA signature.
pub(crate) fn parse_ecdsa(text: &str, rules: EcdsaRules) -> Option<Signature> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
    let bytes: [u8; 65] = hex::decode_to_array(digits).ok()?;
    ecdsa_from_bytes(&bytes, rules)
}

/// The 65-byte r || s || v form of [`parse_ecdsa`].
pub(crate) fn ecdsa_from_bytes(bytes: &[u8; 65], rules: EcdsaRules) -> Option<Signature> {
    let v = bytes[64];
    let allowed = match rules {
        EcdsaRules::Lenient => matches!(v, 0 | 1 | 27 | 28),
        EcdsaRules::Chain => matches!(v, 27 | 28),
    };
    if !allowed {
        return None;
    }
    let sig = Signature::from_raw_array(bytes).ok()?;
    if rules == EcdsaRules::Chain && sig.normalize_s().is_some() {
        return None;
    }
    Some(sig)
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_window_is_symmetric_and_inclusive() {
        let w = TimeWindow::new(1_000, 30);
        assert!(w.admits(1_000));
        assert!(w.admits(970));
        assert!(w.admits(1_030));
        assert!(!w.admits(969));
        assert!(!w.admits(1_031));
        assert!(!TimeWindow::new(i64::MAX, 0).admits(i64::MIN));
    }

    #[test]
    fn unix_seconds_are_plain_digits() {
        assert_eq!(parse_unix_seconds("100000"), Some(100_000));
        for bad in ["", "-1", "1.5", " 1", "1e3", "0x10", "9999999999999999999"] {
            assert_eq!(parse_unix_seconds(bad), None, "{bad}");
        }
    }
}
