//! Block ids and miner-transaction hashes, exactly as `monerod` computes them
//! (`cryptonote_format_utils.cpp`: `calculate_transaction_hash`, `get_block_hashing_blob`,
//! `calculate_block_hash`).

use std::ops::Range;

use crate::block::Block;
use crate::hash::{keccak256, keccak256_concat, keccak256_with_zeroed, tree_hash, tree_hash_with_first, Hash32};
use crate::varint;

/// Height of the one mainnet block whose id the daemon forces (see [`Block::hashes`]).
pub const OVERRIDE_HEIGHT: u64 = 202612;
/// Keccak of the whole 202612 mainnet blob that triggers the override.
const OVERRIDE_BLOB_HASH: [u8; 32] = hex32("3a8a2b3a29b50fc86ff73dd087ea43c6f0d6b8f936c849194d5c84c737903966");
/// The id the daemon reports for that block.
pub const OVERRIDE_ID: Hash32 = Hash32(hex32("bbd604d2ba11ba27935e006ed39c9bfdd99b76bf4a50654bc1e1e61217962698"));
/// keccak(0x00): the hash of a RCTTypeNull signature base, constant for every v2 coinbase.
const NULL_RCT_BASE_HASH: [u8; 32] = hex32("bc36789e7a1e281436464229828f817d6612f7b477d66591ff96a9e064bcc98a");

const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("lowercase hex expected"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(b[2 * i]) << 4 | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// A block whose computed id the daemon refuses to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// Only the real mainnet block 202612 may have id bbd604…; any other block hashing to it is refused
    /// by `calculate_block_hash` (it returns false and a null id).
    #[error("block hashes to the reserved id {OVERRIDE_ID} but is not mainnet block {OVERRIDE_HEIGHT}")]
    ReservedId,
}

/// The hashes of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHashes {
    /// The block id.
    pub block_id: Hash32,
    /// The miner transaction's hash.
    pub miner_tx_hash: Hash32,
    /// Root of the tree hash over the miner tx hash and the tx hashes.
    pub tree_root: Hash32,
    /// True for mainnet block 202612, whose id is forced rather than computed.
    pub id_overridden: bool,
}

impl Block<'_> {
    /// The miner transaction's hash. v1: Keccak of the whole transaction. v2: Keccak of the three hashes
    /// of prefix, RingCT base and prunable part — the last is 32 zero bytes for RCTTypeNull.
    pub fn miner_tx_hash(&self) -> Hash32 {
        let tx = &self.miner_tx;
        let hashed = if tx.version == 1 { tx.range.clone() } else { tx.prefix_range.clone() };
        self.miner_tx_hash_from(keccak256(&self.blob[hashed]))
    }

    /// The miner transaction's hash, given the hash of what Keccak reads first: the whole transaction
    /// (v1) or its prefix (v2).
    fn miner_tx_hash_from(&self, first: Hash32) -> Hash32 {
        let tx = &self.miner_tx;
        if tx.version == 1 {
            return first;
        }
        let base = &self.blob[tx.prefix_range.end..tx.range.end];
        let base_hash = if base == [0u8] { Hash32(NULL_RCT_BASE_HASH) } else { keccak256(base) };
        // Only RCTTypeNull (or no RingCT part at all) parses, so the prunable hash is always zero.
        keccak256_concat(&[&first.0, &base_hash.0, &[0u8; 32]])
    }

    /// Root of the tree hash over `[miner_tx_hash, tx_hashes…]`.
    pub fn tree_root(&self, miner_tx_hash: Hash32) -> Hash32 {
        if self.tx_count() == 0 {
            return miner_tx_hash;
        }
        tree_hash(&self.leaves(miner_tx_hash))
    }

    /// The tree roots with `miner_tx_hash` as the first leaf and with `other` instead.
    fn tree_roots(&self, miner_tx_hash: Hash32, other: Hash32) -> (Hash32, Hash32) {
        if self.tx_count() == 0 {
            return (miner_tx_hash, other);
        }
        tree_hash_with_first(&self.leaves(miner_tx_hash), other)
    }

    /// The tree hash's leaves: the miner transaction's hash, then the block's transaction hashes.
    fn leaves(&self, miner_tx_hash: Hash32) -> Vec<Hash32> {
        std::iter::once(miner_tx_hash).chain(self.tx_hashes()).collect()
    }

    /// The hashing blob: serialized header ‖ tree root ‖ varint(tx count + 1).
    pub fn hashing_blob(&self, tree_root: &Hash32) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header_len + 32 + 5);
        out.extend_from_slice(self.header_bytes());
        out.extend_from_slice(&tree_root.0);
        varint::write(&mut out, self.tx_count() as u64 + 1);
        out
    }

    /// Block id, miner tx hash and tree root.
    ///
    /// The id is Keccak-256 of the hashing blob *with its varint length in front* (the daemon hashes the
    /// serialized string). Mainnet block 202612 is the one exception: its id is forced to bbd604…, and
    /// any other block that computes to that id is an error.
    pub fn hashes(&self) -> Result<BlockHashes, HashError> {
        let is_override =
            self.miner_tx.gen_height() == Some(OVERRIDE_HEIGHT) && keccak256(self.blob).0 == OVERRIDE_BLOB_HASH;
        self.hashes_from(self.miner_tx_hash(), is_override)
    }

    /// The block's hashes, and the id the same block would have with the bytes of `zeroed` set to zero
    /// (what a leader signs: the id with its signature zeroed), the bytes before `zeroed` absorbed once
    /// for both, nothing copied or parsed again. The bytes are hashed in place, so the zeroed block must
    /// have the same parts (a signature inside tx_extra keeps every length). `None` when `zeroed` is not inside the bytes the miner
    /// transaction's first hash reads (its prefix, or all of a v1 transaction), or for a block whose id
    /// may be forced (height 202612): the caller hashes a zeroed copy then.
    #[allow(clippy::type_complexity)]
    pub fn hashes_and_zeroed_id(
        &self,
        zeroed: Range<usize>,
    ) -> Option<(Result<BlockHashes, HashError>, Result<Hash32, HashError>)> {
        let tx = &self.miner_tx;
        let hashed = if tx.version == 1 { tx.range.clone() } else { tx.prefix_range.clone() };
        let inside = hashed.start <= zeroed.start && zeroed.start <= zeroed.end && zeroed.end <= hashed.end;
        if !inside || tx.gen_height() == Some(OVERRIDE_HEIGHT) {
            return None;
        }
        let within = zeroed.start - hashed.start..zeroed.end - hashed.start;
        let (first, first_zeroed) = keccak256_with_zeroed(&self.blob[hashed], within);
        let (miner_tx_hash, zeroed_miner_tx_hash) =
            (self.miner_tx_hash_from(first), self.miner_tx_hash_from(first_zeroed));
        let (root, zeroed_root) = self.tree_roots(miner_tx_hash, zeroed_miner_tx_hash);
        let hashes = self.hashes_with_root(miner_tx_hash, root, false);
        let zeroed_id = self.hashes_with_root(zeroed_miner_tx_hash, zeroed_root, false).map(|h| h.block_id);
        Some((hashes, zeroed_id))
    }

    /// The hashes from the miner transaction's hash on.
    fn hashes_from(&self, miner_tx_hash: Hash32, is_override: bool) -> Result<BlockHashes, HashError> {
        self.hashes_with_root(miner_tx_hash, self.tree_root(miner_tx_hash), is_override)
    }

    /// The hashes from the miner transaction's hash and the tree root on.
    fn hashes_with_root(
        &self,
        miner_tx_hash: Hash32,
        tree_root: Hash32,
        is_override: bool,
    ) -> Result<BlockHashes, HashError> {
        // Header (≤ 57 bytes) + root + count varint fit on the stack: no allocation per block.
        let mut buf = [0u8; 128];
        let mut len = 0;
        let header = self.header_bytes();
        let (count, count_len) = varint::encode(self.tx_count() as u64 + 1);
        let (prefix, prefix_len) = varint::encode((header.len() + 32 + count_len) as u64);
        for part in [&prefix[..prefix_len], header, &tree_root.0, &count[..count_len]] {
            buf[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        let computed = keccak256(&buf[..len]);

        if is_override {
            return Ok(BlockHashes { block_id: OVERRIDE_ID, miner_tx_hash, tree_root, id_overridden: true });
        }
        if computed == OVERRIDE_ID {
            return Err(HashError::ReservedId);
        }
        Ok(BlockHashes { block_id: computed, miner_tx_hash, tree_root, id_overridden: false })
    }
}
