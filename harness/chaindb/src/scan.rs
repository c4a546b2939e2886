//! Checking a stored block: parse its blob, compute its ids, compare with what the node stored.

use dualrun_format::{Block, Hash32, HashError, ParseError};
use serde::Serialize;

use crate::reader::RawBlock;

/// The facts `chain scan` reports for one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannedBlock {
    /// The block's height.
    pub height: u64,
    /// Computed from the blob, as the daemon computes it.
    pub block_id: Hash32,
    /// As stored in `block_info`.
    pub stored_id: Hash32,
    /// The previous block's id, from the header.
    pub prev_id: Hash32,
    /// The header's timestamp.
    pub timestamp: u64,
    /// The header's major version.
    pub major_version: u8,
    /// The header's minor version.
    pub minor_version: u8,
    /// The header's nonce.
    pub nonce: u32,
    /// The number of non-coinbase transactions.
    pub tx_count: usize,
    /// The miner transaction's hash.
    pub miner_tx_hash: Hash32,
    /// The blob's size in bytes.
    pub blob_bytes: usize,
}

impl ScannedBlock {
    /// The stored id differs from the computed one.
    pub fn id_mismatch(&self) -> bool {
        self.block_id != self.stored_id
    }
}

/// A stored block that cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block blob does not parse.
    #[error("height {height}: block blob does not parse: {error}")]
    Parse {
        /// The block's height.
        height: u64,
        /// Why the blob does not parse.
        error: ParseError,
    },
    /// The block's id cannot be computed.
    #[error("height {height}: {error}")]
    Hash {
        /// The block's height.
        height: u64,
        /// Why the id cannot be computed.
        error: HashError,
    },
}

impl BlockError {
    /// The block's height.
    pub fn height(&self) -> u64 {
        match self {
            BlockError::Parse { height, .. } | BlockError::Hash { height, .. } => *height,
        }
    }
}

/// Parses and hashes one stored block.
pub fn scan_block(raw: &RawBlock) -> Result<ScannedBlock, BlockError> {
    let height = raw.height;
    let block = Block::parse(raw.blob).map_err(|error| BlockError::Parse { height, error })?;
    let hashes = block.hashes().map_err(|error| BlockError::Hash { height, error })?;
    Ok(ScannedBlock {
        height,
        block_id: hashes.block_id,
        stored_id: raw.info.hash,
        prev_id: block.header.prev_id,
        timestamp: block.header.timestamp,
        major_version: block.header.major_version,
        minor_version: block.header.minor_version,
        nonce: block.header.nonce,
        tx_count: block.tx_count(),
        miner_tx_hash: hashes.miner_tx_hash,
        blob_bytes: raw.blob.len(),
    })
}
