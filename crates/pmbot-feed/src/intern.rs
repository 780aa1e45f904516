//! Reusing token ids instead of allocating one per message.
//!
//! Invariant: the interner only holds ids that passed [`TokenId::parse`], so a
//! string equal to a held id is a valid id, and handing out the held `Arc`
//! (one atomic increment) is the same as parsing it again, minus the
//! validation and the allocation. Ids not held are parsed as usual and not
//! added: the interner's size is what its owner registers (the subscribed
//! tokens), never what the exchange happens to mention.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pmbot_core::{IdError, TokenId};

/// A hasher for token ids (as [`TokenId`] or as `str`): it mixes the length
/// and the last 16 bytes only.
///
/// Why: a token id is a uniformly random uint256 (a hash of the position) in
/// up to 78 decimal digits, so its last 16 digits already spread perfectly,
/// and hashing all 77 is most of the cost of a lookup (SipHash: about as much
/// as applying the delta the lookup is for). Only for maps whose keys pmbot
/// chooses (subscribed tokens): it offers no protection against keys crafted
/// to collide, and it spreads other kinds of strings badly.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenIdHasher {
    hash: u64,
}

impl Hasher for TokenIdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let tail = &bytes[bytes.len().saturating_sub(16)..];
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        let split = tail.len().saturating_sub(8);
        hi[..split].copy_from_slice(&tail[..split]);
        lo[..tail.len() - split].copy_from_slice(&tail[split..]);
        let mixed = (u64::from_le_bytes(lo) ^ u64::from_le_bytes(hi).rotate_left(29) ^ bytes.len() as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.hash = (self.hash.rotate_left(5) ^ mixed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    /// `str`'s `Hash` ends with this terminator; it carries nothing.
    #[inline]
    fn write_u8(&mut self, _: u8) {}

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weakest; hashbrown uses the top 7
        // bits as a tag and the low bits as the index, so fold.
        self.hash ^ (self.hash >> 32)
    }
}

/// Build [`TokenIdHasher`]s: `HashMap<TokenId, V, TokenIdBuildHasher>`.
pub type TokenIdBuildHasher = BuildHasherDefault<TokenIdHasher>;

/// The token ids a [`super::FrameParser`] reuses.
#[derive(Debug, Clone, Default)]
pub struct TokenInterner {
    ids: HashMap<Box<str>, TokenId, TokenIdBuildHasher>,
}

impl TokenInterner {
    pub fn new() -> TokenInterner {
        TokenInterner::default()
    }

    /// Holds `token` from now on; `false` if it was already held.
    pub fn insert(&mut self, token: TokenId) -> bool {
        if self.ids.contains_key(token.as_str()) {
            return false;
        }
        self.ids.insert(token.as_str().into(), token);
        true
    }

    /// Stops holding the id; returns it if it was held.
    pub fn remove(&mut self, id: &str) -> Option<TokenId> {
        self.ids.remove(id)
    }

    /// The held id equal to `id`, if any.
    pub fn get(&self, id: &str) -> Option<&TokenId> {
        if self.ids.is_empty() { None } else { self.ids.get(id) }
    }

    /// The held id equal to `id`, or `id` parsed afresh.
    pub fn resolve(&self, id: &str) -> Result<TokenId, IdError> {
        match self.get(id) {
            Some(token) => Ok(token.clone()),
            None => TokenId::parse(id),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn clear(&mut self) {
        self.ids.clear();
    }

    /// The held ids, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &TokenId> + '_ {
        self.ids.values()
    }
}

impl Extend<TokenId> for TokenInterner {
    fn extend<I: IntoIterator<Item = TokenId>>(&mut self, iter: I) {
        for token in iter {
            self.insert(token);
        }
    }
}

impl FromIterator<TokenId> for TokenInterner {
    fn from_iter<I: IntoIterator<Item = TokenId>>(iter: I) -> TokenInterner {
        let mut interner = TokenInterner::new();
        interner.extend(iter);
        interner
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn token_hashes_spread_and_agree_with_str() {
        let build = TokenIdBuildHasher::default();
        let token = TokenId::parse(ID).unwrap();
        // The interner looks up by `str` what was stored by `str`, and a map
        // keyed by `TokenId` must hash the same way as its `str`.
        assert_eq!(build.hash_one(&token), build.hash_one(ID));
        // Ids differing only in their last 16 digits get distinct hashes that
        // spread over the bits hashbrown uses: the low bits (bucket) and the
        // top 7 (tag).
        let mut seen = HashSet::new();
        let mut buckets = [0u32; 1024];
        let mut tags = [0u32; 128];
        for i in 0..10_240u64 {
            let id = format!("{}{:016}", &ID[..61], i * 7_919);
            let h = build.hash_one(id.as_str());
            assert!(seen.insert(h));
            buckets[(h & 1023) as usize] += 1;
            tags[(h >> 57) as usize] += 1;
        }
        // 10 a bucket and 80 a tag on average.
        assert!(buckets.iter().all(|&n| n < 40), "{:?}", buckets.iter().max());
        assert!(tags.iter().all(|&n| (30..160).contains(&n)), "{tags:?}");
        assert_ne!(build.hash_one("1234"), build.hash_one("01234"));
        assert_ne!(build.hash_one("7"), build.hash_one("77"));
    }

    const ID: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";

    #[test]
    fn held_ids_are_shared_and_others_parsed() {
        let token = TokenId::parse(ID).unwrap();
        let mut interner: TokenInterner = [token.clone()].into_iter().collect();
        assert!(!interner.insert(token.clone()));
        assert_eq!(interner.len(), 1);
        let got = interner.resolve(ID).unwrap();
        assert_eq!(got, token);
        // The same allocation, not a copy.
        assert!(std::ptr::eq(got.as_str().as_ptr(), token.as_str().as_ptr()));
        // Not held: parsed (and validated) as usual, and not added.
        assert_eq!(interner.resolve("1234").unwrap().as_str(), "1234");
        assert!(interner.resolve("01234").is_err());
        assert_eq!(interner.len(), 1);
        assert_eq!(interner.remove(ID), Some(token));
        assert!(interner.is_empty() && interner.get(ID).is_none());
    }
}
