//! The chain digest: Keccak-256 over the concatenated 32-byte ids of a height range, in height order.
//! It names *what* was replayed independently of LMDB page layout, so two copies of the same chain
//! (or a chain and its `mdb_copy -c`) have the same digest.

use crate::hash::{Digest, Keccak256};
use crate::Hash32;

/// A chain digest being computed, over the ids pushed so far in height order.
#[derive(Clone, Default)]
pub struct ChainDigest {
    hasher: Keccak256,
    count: u64,
}

impl ChainDigest {
    /// An empty digest, with no id pushed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next block's id.
    pub fn push(&mut self, id: &Hash32) {
        self.hasher.update(id.0);
        self.count += 1;
    }

    /// Number of ids pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest of the ids pushed so far (the digest can keep growing afterwards).
    pub fn current(&self) -> Hash32 {
        Hash32(self.hasher.clone().finalize().into())
    }
}
