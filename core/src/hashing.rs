//! Stable hashes (the same on every platform and run): cache keys, run fingerprints, seeds.

use std::hash::Hasher;

/// 64-bit FNV-1a.
pub struct KeyHasher(u64);

impl Default for KeyHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A stable hash of a few numbers (seeds per paragraph, copy, step).
pub fn stable_hash(values: &[u64]) -> u64 {
    let mut h = KeyHasher::default();
    values.iter().for_each(|v| h.write(&v.to_le_bytes()));
    h.finish()
}
