//! Synthetic chains: valid, linked blocks in a node's schema, fast enough for millions of blocks.
//!
//! Every block is real in the sense that matters to dualrun: it parses strictly, its id is computed by
//! the same rules as the daemon's, `prev_id` links to the previous id, the miner transaction's gen
//! height and unlock time are right, timestamps rise, and `block_info` stores the true id. Content is
//! derived from a seed with a fast deterministic mixer, so the same spec gives the same chain, byte
//! for byte (ids and chain digest included).
//!
//! With a [`LeaderSpec`], blocks from the profile's activation height carry a leader record (protocol
//! v1) in a 100-byte extra nonce, signed by the scheduled validator, or faulty on purpose at chosen
//! heights; the expected verdict of every block is known (see [`SynthReport::expected`]).
//!
//! Two flavours follow the schema:
//! - schema 5 (Monero 0.18): Monero's genesis, then v16 blocks with a tagged-key output, a tx public
//!   key and an 8-byte extra nonce, and 0–3 transaction hashes.
//! - schema 3 (X-Cash): X-Cash's genesis, then DPoPS-style v13 blocks: a to-key output and the 128-byte
//!   reserved-bytes nonce with its raw one-byte length (0x80), which strict extra parsing rejects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dualrun_chaindb::writer::{ChainWriter, NewBlock};
use dualrun_chaindb::{ChainDbError, ChainDigest, InfoRecord, Schema};
use dualrun_format::block::{BlockHeader, TxOut, TxOutTarget};
use dualrun_format::{encode, Block, Hash32};
use dualrun_leader::profile::SignerFileError;
use dualrun_leader::testchain::{self, FaultKind, FaultMapError, FaultParseError};
use dualrun_leader::{schedule, Profile, ProfileError};
use ed25519_dalek::SigningKey;

/// The verdict protocol v1 should give a synthetic block.
pub use dualrun_leader::testchain::ExpectedVerdict;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthSpec {
    /// Number of blocks, genesis included (tip height = blocks − 1).
    pub blocks: u64,
    /// The node schema to write, which also picks the block flavour.
    pub schema: Schema,
    /// Seed of the block content: the same spec gives the same chain.
    pub seed: u64,
    /// Leader-signed blocks from the profile's activation height.
    pub leader: Option<LeaderSpec>,
}

/// Signing blocks under protocol v1.
#[derive(Debug, Clone)]
pub struct LeaderSpec {
    /// The profile the blocks are signed under.
    pub profile: Profile,
    /// One key per validator, in profile order.
    pub keys: Vec<SigningKey>,
    /// Heights built faulty on purpose.
    pub faults: BTreeMap<u64, FaultKind>,
}

/// Why a spec cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Creating or writing the chain database failed.
    #[error(transparent)]
    Db(#[from] ChainDbError),
    /// The spec is inconsistent (keys, genesis or faults); the message says how.
    #[error("{0}")]
    Spec(String),
}

/// Why the files given for a [`LeaderSpec`] (`chain synth --profile --key --fault`) make none.
#[derive(Debug, thiserror::Error)]
pub enum LeaderSpecError {
    /// The profile cannot be read.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A key file cannot be read, or is not a validator's.
    #[error(transparent)]
    Key(#[from] SignerFileError),
    /// A validator has no key file.
    #[error("no --key for validator {0:?}: synthetic chains need every key")]
    MissingKey(String),
    /// A `--fault` that is not `HEIGHT:KIND`.
    #[error("--fault: {0}")]
    Fault(FaultParseError),
    /// Two faults for one height.
    #[error(transparent)]
    FaultMap(#[from] FaultMapError),
}

impl LeaderSpec {
    /// The spec the files give: the profile at `profile`, a key file for every validator (in any
    /// order), and the faults (`HEIGHT:KIND`, one per height).
    pub fn from_files(profile: &Path, keys: &[PathBuf], faults: &[String]) -> Result<LeaderSpec, LeaderSpecError> {
        let profile = Profile::load(profile)?;
        let mut by_index = vec![None; profile.validators.len()];
        for (i, key) in profile.signers(keys)? {
            by_index[i] = Some(key.signing_key);
        }
        let keys = by_index
            .into_iter()
            .zip(&profile.validators)
            .map(|(k, v)| k.ok_or_else(|| LeaderSpecError::MissingKey(v.id.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let parsed = faults
            .iter()
            .map(|f| testchain::parse_fault(f).map_err(LeaderSpecError::Fault))
            .collect::<Result<Vec<_>, _>>()?;
        let faults = testchain::fault_map(parsed)?;
        Ok(LeaderSpec { profile, keys, faults })
    }

    fn check(&self, schema: Schema, blocks: u64) -> Result<(), SynthError> {
        let p = &self.profile;
        if self.keys.len() != p.validators.len() {
            return Err(SynthError::Spec(format!(
                "{} keys for {} validators: every validator needs its key",
                self.keys.len(),
                p.validators.len()
            )));
        }
        for (i, (k, v)) in self.keys.iter().zip(&p.validators).enumerate() {
            if k.verifying_key() != v.public_key {
                return Err(SynthError::Spec(format!("key {i} is not the key of validator {:?}", v.id)));
            }
        }
        let genesis = Block::parse(&genesis_blob(schema)).expect("genesis parses").hashes().expect("hashes").block_id;
        p.check_genesis(&genesis).map_err(|e| SynthError::Spec(e.to_string()))?;
        for (&h, &kind) in &self.faults {
            if h < p.activation_height || h >= blocks {
                return Err(SynthError::Spec(format!(
                    "fault at height {h}: leader blocks are heights {}..{blocks}",
                    p.activation_height
                )));
            }
            if kind == FaultKind::NotScheduled && p.validators.len() < 2 {
                return Err(SynthError::Spec(format!("fault {h}:not-scheduled needs at least two validators")));
            }
        }
        Ok(())
    }
}

fn genesis_blob(schema: Schema) -> Vec<u8> {
    match schema {
        Schema::MoneroV5 => encode::genesis_blob(10_000),
        Schema::XcashV3 => encode::genesis_with_tx(encode::XCASH_GENESIS_TX, 10_000),
    }
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct SynthReport {
    /// Number of blocks written, genesis included.
    pub blocks: u64,
    /// The id of the last block.
    pub tip_id: Hash32,
    /// The chain digest over every block id, in height order.
    pub chain_digest: Hash32,
    /// Total size of all block blobs.
    pub blob_bytes: u64,
    /// Total transaction hashes (beyond the miner txs).
    pub tx_hashes: u64,
    /// With a [`LeaderSpec`]: the expected verdict of every block.
    pub expected: Vec<ExpectedVerdict>,
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

/// Builds blocks one after another, keeping the previous id and timestamp.
pub struct BlockFactory {
    spec: SynthSpec,
    prev_id: Hash32,
    prev_timestamp: u64,
    next_height: u64,
    coins: u64,
    /// Seconds between blocks (before jitter); wider than a profile's minimum interval.
    spacing: u64,
}

/// One generated block.
pub struct SynthBlock {
    /// The block's height.
    pub height: u64,
    /// The block blob.
    pub blob: Vec<u8>,
    /// The block's id.
    pub id: Hash32,
    /// The header's timestamp.
    pub timestamp: u64,
    /// The header's major version.
    pub major_version: u8,
    /// Number of transaction hashes (beyond the miner tx).
    pub tx_count: usize,
    /// What protocol v1 should say about it.
    pub expected: ExpectedVerdict,
}

impl BlockFactory {
    /// A factory for `spec`, positioned before block 0.
    pub fn new(spec: SynthSpec) -> Self {
        let min_interval = spec.leader.as_ref().map_or(0, |l| l.profile.min_interval_seconds);
        BlockFactory {
            spec,
            prev_id: Hash32::ZERO,
            prev_timestamp: 0,
            next_height: 0,
            coins: 0,
            spacing: 120.max(min_interval + 60),
        }
    }

    fn leader_block(&self, h: u64) -> bool {
        self.spec.leader.as_ref().is_some_and(|l| h >= l.profile.activation_height)
    }

    /// The block at `h`, and the leader id its record carries.
    fn block_at(&self, h: u64) -> (Vec<u8>, Option<String>) {
        let seed = self.spec.seed;
        let (version, target, extra) = if self.leader_block(h) {
            let mut extra = Vec::with_capacity(35 + dualrun_leader::record::RESERVE);
            extra.push(0x01);
            extra.extend_from_slice(&bytes32(seed, h, 1).0);
            extra.extend_from_slice(&[0x02, dualrun_leader::record::RESERVE as u8]);
            extra.resize(35 + dualrun_leader::record::RESERVE, 0);
            let (v, target) = match self.spec.schema {
                Schema::MoneroV5 => {
                    (16u8, TxOutTarget::ToTaggedKey { key: bytes32(seed, h, 3), view_tag: mix(seed, h, 4) as u8 })
                }
                Schema::XcashV3 => (13u8, TxOutTarget::ToKey { key: bytes32(seed, h, 3) }),
            };
            (v, target, extra)
        } else {
            match self.spec.schema {
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
            }
        };
        let amount = 600_000_000_000 + (mix(seed, h, 7) % 1_000_000);
        let tx = encode::miner_tx(2, h + 60, h, &[TxOut { amount, target }], &extra);
        let header = BlockHeader {
            major_version: version,
            minor_version: version,
            timestamp: FIRST_TIMESTAMP + (h - 1) * self.spacing + mix(seed, h, 8) % 60,
            prev_id: self.prev_id,
            nonce: mix(seed, h, 9) as u32,
        };
        let tx_hashes: Vec<Hash32> = (0..h % 4).map(|i| bytes32(seed, h, 10 + i)).collect();
        let mut blob = encode::block(&header, &tx, &tx_hashes);
        let leader = match &self.spec.leader {
            Some(l) if self.leader_block(h) => self.sign(l, h, header.timestamp, &mut blob),
            _ => None,
        };
        (blob, leader)
    }

    /// Writes the leader record of height `h` (honest, or the fault chosen for `h`).
    fn sign(&self, l: &LeaderSpec, h: u64, timestamp: u64, blob: &mut [u8]) -> Option<String> {
        let at = Block::parse(blob).expect("synthetic blocks parse").miner_tx.extra_offset + 35;
        let fault = l.faults.get(&h).copied();
        let allowed = schedule::allowed(&l.profile, h, timestamp, self.prev_timestamp);
        let signer = match fault {
            Some(FaultKind::NotScheduled) => (0..l.keys.len()).find(|&i| !allowed.contains(i)),
            Some(FaultKind::Unknown) => Some(0),
            _ => Some(allowed.first),
        };
        let signer = signer.map(|i| (l.profile.validators[i].id.as_str(), &l.keys[i]));
        testchain::fill_record(blob, at, dualrun_leader::record::RESERVE, &l.profile.network_id, fault, signer)
            .expect("checked spec: every record can be written")
    }

    /// The next block of the chain.
    pub fn next_block(&mut self) -> SynthBlock {
        let h = self.next_height;
        let (blob, leader_id) = if h == 0 { (genesis_blob(self.spec.schema), None) } else { self.block_at(h) };
        let block = Block::parse(&blob).expect("synthetic blocks parse");
        let id = block.hashes().expect("synthetic blocks hash").block_id;
        let reward: u64 = block.miner_tx.outputs.iter().map(|o| o.amount).sum();
        let fault = self.spec.leader.as_ref().and_then(|l| l.faults.get(&h).copied());
        let out = SynthBlock {
            height: h,
            id,
            timestamp: block.header.timestamp,
            major_version: block.header.major_version,
            tx_count: block.tx_count(),
            expected: ExpectedVerdict::of(h, id, fault, leader_id),
            blob,
        };
        self.prev_timestamp = out.timestamp;
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
pub fn generate(dir: &Path, spec: SynthSpec, mut progress: impl FnMut(u64)) -> Result<SynthReport, SynthError> {
    if let Some(l) = &spec.leader {
        l.check(spec.schema, spec.blocks)?;
    }
    let (blocks, schema, keep_expected) = (spec.blocks, spec.schema, spec.leader.is_some());
    let mut writer = ChainWriter::create(dir, schema)?;
    let mut factory = BlockFactory::new(spec);
    let mut expected = Vec::new();
    let mut digest = ChainDigest::new();
    let (mut blob_bytes, mut tx_hashes) = (0u64, 0u64);
    let mut tip_id = Hash32::ZERO;
    while factory.next_height < blocks {
        let n = (blocks - factory.next_height).min(BATCH as u64);
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
            if keep_expected {
                expected.push(b.expected.clone());
            }
        }
        writer.append(batch.iter().map(|(b, info)| NewBlock {
            blob: &b.blob,
            info: info.clone(),
            major_version: b.major_version,
        }))?;
        progress(writer.len());
    }
    writer.finish()?;
    Ok(SynthReport { blocks, tip_id, chain_digest: digest.current(), blob_bytes, tx_hashes, expected })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(file: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample").join(file)
    }

    fn key(n: u8) -> PathBuf {
        sample(&format!("keys/throwaway-test-leader-{n}.key"))
    }

    /// Keys in any order land at their validator's index; every validator needs one; faults are
    /// `HEIGHT:KIND`, one per height.
    #[test]
    fn a_leader_spec_from_files() {
        let profile = sample("profile.toml");
        let spec = LeaderSpec::from_files(&profile, &[key(3), key(1), key(2)], &["70:missing".into()]).unwrap();
        let public: Vec<_> = spec.keys.iter().map(SigningKey::verifying_key).collect();
        let validators: Vec<_> = spec.profile.validators.iter().map(|v| v.public_key).collect();
        assert_eq!(public, validators);
        assert_eq!(spec.faults, BTreeMap::from([(70, FaultKind::Missing)]));

        let message = |keys: &[PathBuf], faults: &[&str]| {
            let faults: Vec<String> = faults.iter().map(|f| f.to_string()).collect();
            LeaderSpec::from_files(&profile, keys, &faults).unwrap_err().to_string()
        };
        assert_eq!(
            message(&[key(1), key(2)], &[]),
            "no --key for validator \"leader-3\": synthetic chains need every key"
        );
        let all = [key(1), key(2), key(3)];
        assert_eq!(message(&all, &["70"]), "--fault: expected HEIGHT:KIND, got \"70\"");
        assert_eq!(message(&all, &["70:missing", "70:unknown"]), "--fault: two faults for height 70");
    }
}
