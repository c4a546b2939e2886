//! What the fuzz targets share: the bundled sample chain and its profile (compiled in, so every target
//! starts from real blocks), rebuilding a block around another miner extra, and a per-process scratch
//! file for the APIs that only read from a path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dualrun_format::{varint, Block, Hash32};
use dualrun_leader::Profile;

/// The sample chain as `harness/sample/blocks.jsonl` stores it (one JSON object a line, `blob` in hex).
const SAMPLE_BLOCKS: &str = include_str!("../../harness/sample/blocks.jsonl");
/// The sample chain's leader profile.
pub const SAMPLE_PROFILE: &str = include_str!("../../harness/sample/profile.toml");

/// One block of the sample chain.
pub struct SampleBlock {
    /// Its height.
    pub height: u64,
    /// Its blob.
    pub blob: Vec<u8>,
    /// Its id, as the sample file records it.
    pub id: Hash32,
    /// Its header's timestamp.
    pub timestamp: u64,
}

/// The sample chain, in height order.
pub fn sample_chain() -> &'static [SampleBlock] {
    static CHAIN: OnceLock<Vec<SampleBlock>> = OnceLock::new();
    CHAIN.get_or_init(|| {
        SAMPLE_BLOCKS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                let v: serde_json::Value = serde_json::from_str(line).expect("sample line is JSON");
                let height = v["height"].as_u64().expect("height");
                assert_eq!(height, i as u64, "sample chain in height order");
                let blob = hex::decode(v["blob"].as_str().expect("blob")).expect("blob is hex");
                let id: Hash32 = v["block_id"].as_str().expect("block_id").parse().expect("block_id is hex");
                let timestamp = Block::parse(&blob).expect("sample blocks parse").header.timestamp;
                SampleBlock { height, blob, id, timestamp }
            })
            .collect()
    })
}

/// The sample profile, parsed.
pub fn sample_profile() -> &'static Profile {
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    PROFILE.get_or_init(|| {
        Profile::parse(SAMPLE_PROFILE.as_bytes(), Path::new("harness/sample/profile.toml")).expect("sample profile")
    })
}

/// `blob` (a block that parses) with its miner transaction's extra replaced by `extra`: the extra's
/// length varint is rewritten, every other byte is kept. Returns the new blob and where its extra starts.
pub fn with_extra(blob: &[u8], extra: &[u8]) -> (Vec<u8>, usize) {
    let block = Block::parse(blob).expect("the base block parses");
    let old = block.miner_tx.extra;
    let start = block.miner_tx.extra_offset;
    let len_at = start - varint::encoded_len(old.len() as u64);
    let mut out = Vec::with_capacity(blob.len() + extra.len() + 10);
    out.extend_from_slice(&blob[..len_at]);
    varint::write(&mut out, extra.len() as u64);
    let new_start = out.len();
    out.extend_from_slice(extra);
    out.extend_from_slice(&blob[start + old.len()..]);
    (out, new_start)
}

/// A file in a directory of this process's own (made once, under `TMPDIR`), for APIs that read a path.
/// Each call returns the same path; the caller overwrites it.
pub fn scratch_file(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        tempfile::Builder::new().prefix("dualrun-fuzz-").tempdir().expect("a temporary directory").keep()
    });
    dir.join(name)
}
