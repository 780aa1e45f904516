//! A small, fast, deterministic hasher for the engine's internal maps.
//!
//! The engine hashes sequence numbers, addresses and 32-byte ids on every
//! order; std's SipHash was a visible share of the matching profile. This is
//! the multiply-rotate scheme of rustc's FxHash. It is not DoS-resistant,
//! which is acceptable for a local simulator, and being unseeded it also
//! makes map iteration reproducible (no output depends on it anyway).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8-byte chunk")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn spreads_sequential_and_byte_keys() {
        let b = BuildHasherDefault::<FxHasher>::default();
        let hashes: std::collections::HashSet<u64> = (0u64..10_000).map(|i| b.hash_one(i)).collect();
        assert_eq!(hashes.len(), 10_000);
        assert_ne!(b.hash_one([1u8; 20]), b.hash_one([2u8; 20]));
        assert_ne!(b.hash_one([0u8; 3]), b.hash_one([0u8; 4]), "length is part of a slice's hash");
        assert_eq!(b.hash_one("abc"), b.hash_one("abc"));
    }
}
