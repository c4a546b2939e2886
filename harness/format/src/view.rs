//! A block as people and other programs read it: every field of the blob, the tx_extra fields, the
//! hashes and the bytes they are computed from. `dualrun chain show` prints it (with what the database
//! stores beside the blob) and the Python package's `parse_block` returns it.

use serde::Serialize;

use crate::block::{BlockHeader, TxIn, TxOut};
use crate::extra::{self, ExtraFieldKind};
use crate::{Block, Hash32, HashError, ParseError};

/// One parsed tx_extra field.
#[derive(Debug, Clone, Serialize)]
pub struct ExtraFieldView {
    /// Where it starts in tx_extra.
    pub offset: usize,
    /// Its tag byte.
    pub tag: u8,
    /// What the tag says it is.
    pub kind: ExtraFieldKind,
    /// The whole field, hex.
    pub bytes: String,
    /// Its payload, hex.
    pub payload: String,
}

/// The part of tx_extra after the first field that does not parse.
#[derive(Debug, Clone, Serialize)]
pub struct ExtraUnparsedView {
    /// Where it starts in tx_extra.
    pub offset: usize,
    /// Why it does not parse.
    pub reason: String,
    /// The rest of tx_extra, hex.
    pub bytes: String,
}

/// tx_extra: verbatim, its fields, and what does not parse.
#[derive(Debug, Clone, Serialize)]
pub struct ExtraView {
    /// tx_extra, hex.
    pub bytes: String,
    /// The fields that parse, in order.
    pub fields: Vec<ExtraFieldView>,
    /// From the first field that does not parse on (`null` when all do).
    pub unparsed: Option<ExtraUnparsedView>,
}

/// The miner transaction.
#[derive(Debug, Clone, Serialize)]
pub struct MinerTxView {
    /// Its hash.
    pub hash: Hash32,
    /// Version 1 or 2.
    pub version: u64,
    /// Its unlock time.
    pub unlock_time: u64,
    /// Its inputs.
    pub inputs: Vec<TxIn>,
    /// Its outputs.
    pub outputs: Vec<TxOut>,
    /// The RingCT type byte (version 2).
    pub rct_type: Option<u8>,
    /// tx_extra.
    pub extra: ExtraView,
}

/// A whole block. The field order is the output order.
#[derive(Debug, Clone, Serialize)]
pub struct BlockView {
    /// The block id, as the daemon computes it.
    pub block_id: Hash32,
    /// True for mainnet block 202612, whose id is forced.
    pub id_overridden: bool,
    /// The header.
    pub header: BlockHeader,
    /// The miner transaction.
    pub miner_tx: MinerTxView,
    /// The other transactions' hashes, in block order.
    pub tx_hashes: Vec<Hash32>,
    /// The tree hash over the miner tx hash and `tx_hashes`.
    pub tree_root: Hash32,
    /// The bytes the block id hashes (without their length prefix), hex.
    pub hashing_blob: String,
    /// The blob's length.
    pub blob_bytes: usize,
    /// The blob, hex.
    pub blob: String,
}

/// Why a blob has no [`BlockView`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// It does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// It parses but may not have its id.
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl BlockView {
    /// Parses and hashes `blob`.
    pub fn of(blob: &[u8]) -> Result<BlockView, ViewError> {
        let block = Block::parse(blob)?;
        let hashes = block.hashes()?;
        let tx = &block.miner_tx;
        let parsed = extra::parse(tx.extra);
        let fields = parsed
            .fields
            .iter()
            .map(|f| ExtraFieldView {
                offset: f.range.start,
                tag: f.tag,
                kind: f.kind,
                bytes: hex::encode(&tx.extra[f.range.clone()]),
                payload: hex::encode(parsed.payload(f)),
            })
            .collect();
        let unparsed = parsed.error.as_ref().map(|e| ExtraUnparsedView {
            offset: e.offset,
            reason: e.reason.to_string(),
            bytes: hex::encode(parsed.unparsed()),
        });
        Ok(BlockView {
            block_id: hashes.block_id,
            id_overridden: hashes.id_overridden,
            header: block.header.clone(),
            miner_tx: MinerTxView {
                hash: hashes.miner_tx_hash,
                version: tx.version,
                unlock_time: tx.unlock_time,
                inputs: tx.inputs.clone(),
                outputs: tx.outputs.clone(),
                rct_type: tx.rct_type,
                extra: ExtraView { bytes: hex::encode(tx.extra), fields, unparsed },
            },
            tx_hashes: block.tx_hashes().collect(),
            tree_root: hashes.tree_root,
            hashing_blob: hex::encode(block.hashing_blob(&hashes.tree_root)),
            blob_bytes: blob.len(),
            blob: hex::encode(blob),
        })
    }
}
