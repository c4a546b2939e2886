//! Synthetic chains: valid, linked blocks in a node's schema, fast enough for millions of blocks.
//!
//! Every block is real in the sense that matters to dualrun: it parses strictly, its id is computed by
//! the same rules as the daemon's, `prev_id` links to the previous id, the miner transaction's gen
//! height and unlock time are right, timestamps rise, and `block_info` stores the true id. Content is
//! derived from a seed with a fast deterministic mixer, so the same spec gives the same chain, byte
//! for byte (ids and chain digest included).
//!
//! Two flavours follow the schema:
//! - schema 5 (Monero 0.18): Monero's genesis, then v16 blocks with a tagged-key output, a tx public
//!   key and an 8-byte extra nonce, and 0–3 transaction hashes.
//! - schema 3 (X-Cash): X-Cash's genesis, then DPoPS-style v13 blocks: a to-key output and the 128-byte
//!   reserved-bytes nonce with its raw one-byte length (0x80), which strict extra parsing rejects.

use std::path::Path;

use dualrun_chaindb::writer::{ChainWriter, NewBlock};
use dualrun_chaindb::{ChainDbError, ChainDigest, InfoRecord, Schema};
use dualrun_format::block::{BlockHeader, TxOut, TxOutTarget};
use dualrun_format::{encode, Block, Hash32};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct SynthSpec {
    /// Number of blocks, genesis included (tip height = blocks − 1).
    pub blocks: u64,
    pub schema: Schema,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct SynthReport {
    pub blocks: u64,
    pub tip_id: Hash32,
    pub chain_digest: Hash32,
    /// Total size of all block blobs.
    pub blob_bytes: u64,
    /// Total transaction hashes (beyond the miner txs).
    pub tx_hashes: u64,
}

/// First timestamp after genesis; blocks follow every 120 s (Monero's target).
const FIRST_TIMESTAMP: u64 = 1_700_000_000;
const BATCH: usize = 20_000;

/// splitmix64: a fast, well-mixed function of (seed, height, lane).
fn mix(seed: u64, height: u64, lane: u64) -> u64 {
    let mut z = seed ^ height.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ lane.wrapping_mul(0xd1b5_4a32_d192_ed03);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn bytes32(seed: u64, height: u64, lane: u64) -> Hash32 {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(seed, height, lane * 4 + i as u64).to_le_bytes());
    }
    Hash32(out)
}

/// Builds blocks one after another, keeping the previous id.
pub struct BlockFactory {
    spec: SynthSpec,
    prev_id: Hash32,
    next_height: u64,
    coins: u64,
}

/// One generated block.
pub struct SynthBlock {
    pub height: u64,
    pub blob: Vec<u8>,
    pub id: Hash32,
    pub timestamp: u64,
    pub major_version: u8,
    pub tx_count: usize,
}

impl BlockFactory {
    pub fn new(spec: SynthSpec) -> Self {
        BlockFactory { spec, prev_id: Hash32::ZERO, next_height: 0, coins: 0 }
    }

    fn genesis(&self) -> Vec<u8> {
        match self.spec.schema {
            Schema::MoneroV5 => encode::genesis_blob(10_000),
            Schema::XcashV3 => encode::genesis_with_tx(encode::XCASH_GENESIS_TX, 10_000),
        }
    }

    fn block_at(&self, h: u64) -> Vec<u8> {
        let seed = self.spec.seed;
        let (version, target, extra) = match self.spec.schema {
            Schema::MoneroV5 => {
                let mut extra = Vec::with_capacity(43);
                extra.push(0x01);
                extra.extend_from_slice(&bytes32(seed, h, 1).0);
                extra.extend_from_slice(&[0x02, 0x08]);
                extra.extend_from_slice(&mix(seed, h, 2).to_le_bytes());
                let target = TxOutTarget::ToTaggedKey { key: bytes32(seed, h, 3), view_tag: mix(seed, h, 4) as u8 };
                (16u8, target, extra)
            }
            Schema::XcashV3 => {
                let mut extra = Vec::with_capacity(163);
                extra.push(0x01);
                extra.extend_from_slice(&bytes32(seed, h, 1).0);
                extra.extend_from_slice(&[0x02, 0x80]);
                extra.extend_from_slice(b"|BLOCKCHAIN_RESERVED_BYTES_START|");
                extra.extend_from_slice(&bytes32(seed, h, 5).0);
                extra.extend_from_slice(&bytes32(seed, h, 6).0);
                extra.extend_from_slice(b"|BLOCKCHAIN_RESERVED_BYTES_END|");
                (13u8, TxOutTarget::ToKey { key: bytes32(seed, h, 3) }, extra)
            }
        };
        let amount = 600_000_000_000 + (mix(seed, h, 7) % 1_000_000);
        let tx = encode::miner_tx(2, h + 60, h, &[TxOut { amount, target }], &extra);
        let header = BlockHeader {
            major_version: version,
            minor_version: version,
            timestamp: FIRST_TIMESTAMP + (h - 1) * 120 + mix(seed, h, 8) % 60,
            prev_id: self.prev_id,
            nonce: mix(seed, h, 9) as u32,
        };
        let tx_hashes: Vec<Hash32> = (0..h % 4).map(|i| bytes32(seed, h, 10 + i)).collect();
        encode::block(&header, &tx, &tx_hashes)
    }

    /// The next block of the chain.
    pub fn next_block(&mut self) -> SynthBlock {
        let h = self.next_height;
        let blob = if h == 0 { self.genesis() } else { self.block_at(h) };
        let block = Block::parse(&blob).expect("synthetic blocks parse");
        let id = block.hashes().expect("synthetic blocks hash").block_id;
        let reward: u64 = block.miner_tx.outputs.iter().map(|o| o.amount).sum();
        let out = SynthBlock {
            height: h,
            id,
            timestamp: block.header.timestamp,
            major_version: block.header.major_version,
            tx_count: block.tx_count(),
            blob,
        };
        self.coins = self.coins.wrapping_add(reward);
        self.prev_id = id;
        self.next_height += 1;
        out
    }

    fn info(&self, b: &SynthBlock) -> InfoRecord {
        InfoRecord {
            height: b.height,
            timestamp: b.timestamp,
            coins: self.coins,
            weight: b.blob.len() as u64,
            cumulative_difficulty: u128::from(b.height) + 1,
            hash: b.id,
            cumulative_rct_outputs: b.height,
            long_term_weight: Some(b.blob.len() as u64),
        }
    }
}

/// Writes a synthetic chain into `dir` (which must not exist or be empty). `progress` is called with
/// the number of blocks written after each batch.
pub fn generate(dir: &Path, spec: SynthSpec, mut progress: impl FnMut(u64)) -> Result<SynthReport, ChainDbError> {
    let mut writer = ChainWriter::create(dir, spec.schema)?;
    let mut factory = BlockFactory::new(spec);
    let mut digest = ChainDigest::new();
    let (mut blob_bytes, mut tx_hashes) = (0u64, 0u64);
    let mut tip_id = Hash32::ZERO;
    while factory.next_height < spec.blocks {
        let n = (spec.blocks - factory.next_height).min(BATCH as u64);
        let batch: Vec<(SynthBlock, InfoRecord)> = (0..n)
            .map(|_| {
                let b = factory.next_block();
                let info = factory.info(&b);
                (b, info)
            })
            .collect();
        for (b, _) in &batch {
            digest.push(&b.id);
            blob_bytes += b.blob.len() as u64;
            tx_hashes += b.tx_count as u64;
            tip_id = b.id;
        }
        writer.append(batch.iter().map(|(b, info)| NewBlock {
            blob: &b.blob,
            info: info.clone(),
            major_version: b.major_version,
        }))?;
        progress(writer.len());
    }
    writer.finish()?;
    Ok(SynthReport { blocks: spec.blocks, tip_id, chain_digest: digest.current(), blob_bytes, tx_hashes })
}
