//! Deterministic identities for what a market source creates: house accounts,
//! condition and question ids, token ids and order ids.
//!
//! Every id is a domain-separated SHA-256 of its inputs, so two sources (or
//! two kinds of id) never collide by accident and the same inputs always give
//! the same id. Token ids have their top bit set, which puts them in
//! `[2^255, 2^256)`: 77 or 78 decimal digits, the length of real token ids.

use alloy_primitives::{Address, U256};
use pmbot_core::{Hash32, OrderId, Price, Side, Size, TokenId};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::engine::{NewOrder, OrderType};

/// SHA-256 over a domain tag and length-prefixed parts (so `("ab", "c")` and
/// `("a", "bc")` differ).
pub(crate) fn digest(domain: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"pmbot-sim/");
    h.update(domain.as_bytes());
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A 32-byte id (condition, question or order id).
pub(crate) fn derive_hash(domain: &str, parts: &[&[u8]]) -> Hash32 {
    Hash32(digest(domain, parts))
}

/// A token id of 77 or 78 decimal digits.
pub(crate) fn derive_token_id(domain: &str, parts: &[&[u8]]) -> TokenId {
    let mut bytes = digest(domain, parts);
    bytes[0] |= 0x80;
    let value = U256::from_be_bytes(bytes);
    TokenId::parse(&value.to_string()).expect("a uint256 in decimal is a valid token id")
}

/// An account the exchange itself runs (a synthetic maker, a replay maker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseAccount {
    /// Stable name, e.g. `synthetic/maker-0`.
    pub label: String,
    /// Funder and owner of its orders.
    pub address: Address,
    /// uuid-shaped API key text, echoed as `owner` in order replies.
    pub api_key: String,
}

impl HouseAccount {
    /// The account named `label`; the same label always gives the same account.
    pub fn derive(label: &str) -> HouseAccount {
        let addr = digest("house-account", &[label.as_bytes()]);
        let key = digest("house-api-key", &[label.as_bytes()]);
        let hex = hex::encode(&key[..16]);
        // Shaped like a v4 uuid (version nibble 4, variant 8..b) because real
        // API keys are uuids and clients may parse them.
        let variant = ['8', '9', 'a', 'b'][usize::from(key[16] & 3)];
        let api_key =
            format!("{}-{}-4{}-{}{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], variant, &hex[17..20], &hex[20..32]);
        HouseAccount { label: label.to_owned(), address: Address::from_slice(&addr[12..]), api_key }
    }

    /// A BUY order of this account (house participants never sell).
    pub(crate) fn buy(
        &self,
        id: OrderId,
        token: &TokenId,
        price: Price,
        size: Size,
        order_type: OrderType,
    ) -> NewOrder {
        NewOrder {
            id,
            maker: self.address,
            owner: self.address,
            api_key: self.api_key.clone(),
            token: token.clone(),
            side: Side::Buy,
            price,
            size,
            order_type,
            post_only: false,
            expiration_s: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_look_like_real_ones_and_are_stable() {
        for i in 0u32..200 {
            let t = derive_token_id("test", &[&i.to_be_bytes()]);
            let len = t.as_str().len();
            assert!(len == 77 || len == 78, "{t} has {len} digits");
        }
        let a = derive_token_id("test", &[b"x"]);
        assert_eq!(a, derive_token_id("test", &[b"x"]));
        assert_ne!(a, derive_token_id("other", &[b"x"]));
    }

    #[test]
    fn parts_are_length_prefixed() {
        assert_ne!(derive_hash("d", &[b"ab", b"c"]), derive_hash("d", &[b"a", b"bc"]));
    }

    #[test]
    fn house_accounts_are_stable_and_distinct() {
        let a = HouseAccount::derive("synthetic/maker-0");
        assert_eq!(a, HouseAccount::derive("synthetic/maker-0"));
        let b = HouseAccount::derive("synthetic/maker-1");
        assert_ne!(a.address, b.address);
        assert_ne!(a.api_key, b.api_key);
        let parts: Vec<&str> = a.api_key.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4'));
    }
}
