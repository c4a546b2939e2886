//! Checking a stored block: parse its blob, compute its ids, compare with what the node stored.

use dualrun_format::{Block, Hash32, HashError, ParseError};
use serde::Serialize;

use crate::reader::RawBlock;

/// The facts `chain scan` reports for one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannedBlock {
    pub height: u64,
    /// Computed from the blob, as the daemon computes it.
    pub block_id: Hash32,
    /// As stored in `block_info`.
    pub stored_id: Hash32,
    pub prev_id: Hash32,
    pub timestamp: u64,
    pub major_version: u8,
    pub minor_version: u8,
    pub nonce: u32,
    pub tx_count: usize,
    pub miner_tx_hash: Hash32,
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
    #[error("height {height}: block blob does not parse: {error}")]
    Parse { height: u64, error: ParseError },
    #[error("height {height}: {error}")]
    Hash { height: u64, error: HashError },
}

impl BlockError {
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
