//! Block blob parsing (Monero's `binary_archive` layout, `cryptonote_basic.h`).
//!
//! The parse is strict, as the daemon's: every field must be complete, varints canonical and within
//! their type, and nothing may follow the tx-hash list. The parsed [`Block`] borrows the blob and
//! remembers where each hashed part lies, so ids are computed over the original bytes.

use std::ops::Range;

use serde::Serialize;

use crate::error::{ParseError, ParseErrorKind};
use crate::hash::Hash32;
use crate::reader::Reader;

/// Upper bound on transactions per block (`CRYPTONOTE_MAX_TX_PER_BLOCK`).
pub const MAX_TX_PER_BLOCK: u64 = 0x1000_0000;

/// `block_header`: versions, timestamp, previous block id, nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockHeader {
    /// The major version, which names the hard fork the block follows.
    pub major_version: u8,
    /// The minor version.
    pub minor_version: u8,
    /// The miner's timestamp, in unix seconds.
    pub timestamp: u64,
    /// The id of the previous block.
    pub prev_id: Hash32,
    /// The proof-of-work nonce.
    pub nonce: u32,
}

/// A transaction input. Miner transactions have exactly one `Gen`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TxIn {
    /// `txin_gen` (tag 0xff): the height the coinbase is for.
    Gen {
        /// The height of the block the coinbase is for.
        height: u64,
    },
    /// `txin_to_key` (tag 0x02).
    ToKey {
        /// The amount spent, in atomic units.
        amount: u64,
        /// The ring members' output offsets, each relative to the one before.
        key_offsets: Vec<u64>,
        /// The key image of the spent output.
        key_image: Hash32,
    },
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TxOutTarget {
    /// `txout_to_key` (tag 0x02).
    ToKey {
        /// The output's one-time public key.
        key: Hash32,
    },
    /// `txout_to_tagged_key` (tag 0x03, from hard fork 15): key and a one-byte view tag.
    ToTaggedKey {
        /// The output's one-time public key.
        key: Hash32,
        /// The one-byte view tag.
        view_tag: u8,
    },
}

/// A transaction output: an amount and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TxOut {
    /// The amount, in atomic units.
    pub amount: u64,
    /// Where the output goes.
    pub target: TxOutTarget,
}

impl TxOut {
    /// The output's one-time public key, whichever the target form.
    pub fn key(&self) -> &Hash32 {
        match &self.target {
            TxOutTarget::ToKey { key } | TxOutTarget::ToTaggedKey { key, .. } => key,
        }
    }

    /// The output's view tag, if its target has one.
    pub fn view_tag(&self) -> Option<u8> {
        match &self.target {
            TxOutTarget::ToKey { .. } => None,
            TxOutTarget::ToTaggedKey { view_tag, .. } => Some(*view_tag),
        }
    }
}

/// The miner (coinbase) transaction, with the byte ranges its hash is computed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerTx<'a> {
    /// The transaction version (1 or 2).
    pub version: u64,
    /// The transaction's unlock time.
    pub unlock_time: u64,
    /// The inputs (a valid coinbase has exactly one `Gen`).
    pub inputs: Vec<TxIn>,
    /// The outputs, in order.
    pub outputs: Vec<TxOut>,
    /// tx_extra, verbatim (parse it with [`crate::extra::parse`]).
    pub extra: &'a [u8],
    /// RingCT type byte (version 2 only).
    pub rct_type: Option<u8>,
    /// The whole transaction in the block blob.
    pub range: Range<usize>,
    /// The transaction prefix (version .. extra) in the block blob.
    pub prefix_range: Range<usize>,
    /// Where tx_extra's bytes start in the block blob.
    pub extra_offset: usize,
}

impl MinerTx<'_> {
    /// The height of a miner transaction's single `txin_gen`, if that is what its inputs are.
    pub fn gen_height(&self) -> Option<u64> {
        match self.inputs.as_slice() {
            [TxIn::Gen { height }] => Some(*height),
            _ => None,
        }
    }
}

/// A parsed block that borrows its blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block<'a> {
    /// The whole block blob.
    pub blob: &'a [u8],
    /// The parsed header.
    pub header: BlockHeader,
    /// Length of the serialized header at the start of the blob.
    pub header_len: usize,
    /// The parsed miner transaction.
    pub miner_tx: MinerTx<'a>,
    /// The tx-hash list: `tx_count()` × 32 bytes.
    tx_hash_bytes: &'a [u8],
}

impl<'a> Block<'a> {
    /// Parses a whole block blob. Any leftover byte is an error.
    pub fn parse(blob: &'a [u8]) -> Result<Block<'a>, ParseError> {
        let mut r = Reader::new(blob);
        let header = BlockHeader {
            major_version: r.varint(8, "major_version")? as u8,
            minor_version: r.varint(8, "minor_version")? as u8,
            timestamp: r.u64v("timestamp")?,
            prev_id: Hash32(r.array32("prev_id")?),
            nonce: r.u32_le("nonce")?,
        };
        let header_len = r.pos();
        let miner_tx = parse_miner_tx(&mut r)?;

        let at = r.pos();
        let n = r.count(32, "tx hash list")?;
        if n as u64 > MAX_TX_PER_BLOCK {
            return Err(r.error(at, ParseErrorKind::CountTooLarge { field: "tx hash list", count: n as u64 }));
        }
        let tx_hash_bytes = r.bytes(n * 32, "tx hash list")?;
        if r.remaining() > 0 {
            return Err(r.error(r.pos(), ParseErrorKind::TrailingBytes { count: r.remaining() }));
        }
        Ok(Block { blob, header, header_len, miner_tx, tx_hash_bytes })
    }

    /// Number of non-coinbase transactions.
    pub fn tx_count(&self) -> usize {
        self.tx_hash_bytes.len() / 32
    }

    /// Hashes of the non-coinbase transactions, in block order.
    pub fn tx_hashes(&self) -> impl ExactSizeIterator<Item = Hash32> + 'a {
        self.tx_hash_bytes.chunks_exact(32).map(|c| Hash32(c.try_into().expect("32-byte chunk")))
    }

    /// The serialized header bytes.
    pub fn header_bytes(&self) -> &'a [u8] {
        &self.blob[..self.header_len]
    }

    /// The miner transaction's bytes.
    pub fn miner_tx_bytes(&self) -> &'a [u8] {
        &self.blob[self.miner_tx.range.clone()]
    }
}

fn parse_miner_tx<'a>(r: &mut Reader<'a>) -> Result<MinerTx<'a>, ParseError> {
    let start = r.pos();
    let version_at = r.pos();
    let version = r.u64v("miner tx version")?;
    if version == 0 || version > 2 {
        return Err(r.error(version_at, ParseErrorKind::UnsupportedTxVersion { version }));
    }
    let unlock_time = r.u64v("miner tx unlock_time")?;

    let vin_at = r.pos();
    let n_in = r.count(1, "miner tx vin")?;
    if version == 2 && n_in == 0 {
        return Err(r.error(vin_at, ParseErrorKind::NoInputsV2));
    }
    let mut inputs = Vec::with_capacity(n_in.min(4));
    for _ in 0..n_in {
        let tag_at = r.pos();
        match r.u8("vin tag")? {
            0xff => inputs.push(TxIn::Gen { height: r.u64v("txin_gen height")? }),
            0x02 => {
                let amount = r.u64v("txin_to_key amount")?;
                let n = r.count(1, "txin_to_key key_offsets")?;
                let mut key_offsets = Vec::with_capacity(n);
                for _ in 0..n {
                    key_offsets.push(r.u64v("txin_to_key key_offset")?);
                }
                let key_image = Hash32(r.array32("txin_to_key key_image")?);
                inputs.push(TxIn::ToKey { amount, key_offsets, key_image });
            }
            tag => return Err(r.error(tag_at, ParseErrorKind::UnknownInputTag { tag })),
        }
    }

    let n_out = r.count(2, "miner tx vout")?;
    let mut outputs = Vec::with_capacity(n_out.min(16));
    for _ in 0..n_out {
        let amount = r.u64v("vout amount")?;
        let tag_at = r.pos();
        let target = match r.u8("vout tag")? {
            0x02 => TxOutTarget::ToKey { key: Hash32(r.array32("txout_to_key key")?) },
            0x03 => TxOutTarget::ToTaggedKey {
                key: Hash32(r.array32("txout_to_tagged_key key")?),
                view_tag: r.u8("txout_to_tagged_key view_tag")?,
            },
            tag => return Err(r.error(tag_at, ParseErrorKind::UnknownOutputTag { tag })),
        };
        outputs.push(TxOut { amount, target });
    }

    let extra_len = r.count(1, "tx_extra")?;
    let extra_offset = r.pos();
    let extra = r.bytes(extra_len, "tx_extra")?;
    let prefix_range = start..r.pos();

    let mut rct_type = None;
    if version == 1 {
        // Ring signatures carry no length prefix: 64 bytes per ring member of each to_key input.
        for input in &inputs {
            if let TxIn::ToKey { key_offsets, .. } = input {
                r.bytes(64 * key_offsets.len(), "v1 ring signatures")?;
            }
        }
    } else {
        // Version 2 (with inputs, checked above): the RingCT base, a single type byte for a miner tx.
        let at = r.pos();
        let t = r.u8("rct_type")?;
        if t != 0 {
            return Err(r.error(at, ParseErrorKind::UnsupportedRctType { rct_type: t }));
        }
        rct_type = Some(t);
    }

    Ok(MinerTx {
        version,
        unlock_time,
        inputs,
        outputs,
        extra,
        rct_type,
        range: start..r.pos(),
        prefix_range,
        extra_offset,
    })
}
