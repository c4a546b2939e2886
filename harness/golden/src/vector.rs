//! The vector file format, `dualrun-golden/v1`.

use std::path::{Path, PathBuf};

use dualrun_format::file::{read_capped, Links};
use dualrun_format::{keccak256, Hash32};
use serde::{Deserialize, Serialize};

/// The schema name every vector file carries.
pub const SCHEMA: &str = "dualrun-golden/v1";

/// One golden vector: a case with what it expects, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vector {
    /// Always [`SCHEMA`]; any other value is refused.
    pub schema: String,
    /// Short unique name (also the file name's stem, before the content hash).
    pub name: String,
    /// What the vector checks.
    pub description: String,
    /// What judges the vector (`kind`) and its case.
    #[serde(flatten)]
    pub case: Case,
    /// A written reason to skip this vector; only such vectors may be skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    /// Where the vector came from.
    pub provenance: Provenance,
}

/// The kinds of vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Case {
    /// A block judged by the leader protocol v1 validator.
    #[serde(rename = "leader-v1")]
    Leader(LeaderCase),
    /// Two verifiers' outcomes under a mode: the authoritative verdict and the records.
    #[serde(rename = "mode-v1")]
    Mode(ModeCase),
    /// Main-chain blocks and finality votes: the rows `leader finality` must give.
    #[serde(rename = "finality-v1")]
    Finality(FinalityCase),
    /// Sibling blocks at one height: their failover ranks and the canonical one.
    #[serde(rename = "fork-choice-v1")]
    ForkChoice(ForkChoiceCase),
}

/// A main-chain block of a finality vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MainBlock {
    /// Its height.
    pub height: u64,
    /// Its id.
    pub block_id: Hash32,
}

/// One row `leader finality` must give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalityRow {
    /// The height.
    pub height: u64,
    /// The block the row is about.
    pub block_id: Hash32,
    /// Valid votes for it, by distinct validators.
    pub votes: u64,
    /// Votes a quorum needs.
    pub required: u64,
    /// `final`, `not_final` or `finding`.
    pub verdict: String,
    /// The reason or finding code (empty for a final block).
    pub reason: String,
}

/// A finality vector: a profile with `[leader.finality]`, the main chain, the votes, and every row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalityCase {
    /// The network profile, as TOML text.
    pub profile: String,
    /// The main chain's blocks, in height order.
    pub main: Vec<MainBlock>,
    /// The votes, in file order.
    pub votes: Vec<dualrun_leader::finality::Vote>,
    /// The rows, in order: each block's, then the findings at its height.
    pub expected: Vec<FinalityRow>,
}

/// What fork choice must decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkChoiceExpected {
    /// Each block's failover rank when it is valid under protocol v1 (`null`: invalid).
    pub ranks: Vec<Option<usize>>,
    /// The index of the canonical block (`null`: none is valid).
    pub canonical: Option<usize>,
}

/// A fork-choice vector: sibling blocks (same parent, same height) in their chain context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkChoiceCase {
    /// The network profile, as TOML text.
    pub profile: String,
    /// The height the siblings are at.
    pub height: u64,
    /// The chain before them (their parent and the timestamps before it).
    pub context: VectorContext,
    /// The siblings' blobs, lowercase hex.
    pub blocks: Vec<String>,
    /// Their ranks and the canonical one.
    pub expected: ForkChoiceExpected,
}

/// A leader vector: a block in its chain context, and the judgement the validator must give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderCase {
    /// The network profile, as TOML text.
    pub profile: String,
    /// The block to judge.
    pub block: VectorBlock,
    /// The chain before the block.
    pub context: VectorContext,
    /// The environment the block is judged in.
    pub env: VectorEnv,
    /// The judgement the validator must give.
    pub expected: Expected,
}

/// One verifier's outcome in a mode vector: a verdict (with reason and facts), an error, or not run
/// (`null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    /// `accept` or `reject`, when the verifier gave a verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// The reason code of a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The facts the verifier reported.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub facts: std::collections::BTreeMap<String, String>,
    /// An error kind (`timeout`, `crash`, `protocol`, `panic`) instead of a verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A mode vector: two verifiers' outcomes under a mode, and what the mode table must decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeCase {
    /// `legacy`, `shadow`, `primary` or `only`.
    pub mode: String,
    /// The legacy verifier's outcome; `null` when the mode does not run it.
    pub legacy: Option<OutcomeSpec>,
    /// The candidate verifier's outcome; `null` when the mode does not run it.
    pub candidate: Option<OutcomeSpec>,
    /// Legacy reason → code, for the `reason` class.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub reason_map: std::collections::BTreeMap<String, String>,
    /// What the mode table must decide.
    pub expected: ModeExpected,
}

/// What the mode table must decide for a mode vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeExpected {
    /// `accept` or `reject`.
    pub authoritative: String,
    /// Whose verdict stands: `legacy`, `candidate` or `fail_closed`.
    pub source: String,
    /// The records written, in order (`split`, `halt`, `fact`, `reason`, `legacy_error`,
    /// `candidate_error`, `fallback`).
    pub records: Vec<String>,
}

/// The block a leader vector judges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorBlock {
    /// The block's height.
    pub height: u64,
    /// The raw block blob, lowercase hex.
    pub blob: String,
}

/// The chain before the block: the id of block h−1 and the timestamps of up to 60 blocks before it,
/// oldest first (the last one is block h−1's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorContext {
    /// The id of block h−1; absent only at height 0.
    pub prev_id: Option<Hash32>,
    /// The timestamps of up to 60 blocks before the block, oldest first.
    pub timestamps: Vec<u64>,
}

/// The environment a leader vector's block is judged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorEnv {
    /// The time future-timestamp rules compare against.
    pub now: u64,
}

/// The judgement the validator must give a leader vector's block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// `accept` or `reject`.
    pub verdict: String,
    /// The reason code of a rejection; absent for accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The facts the validator must report.
    pub facts: ExpectedFacts,
    /// `exact` (the default): the facts must be exactly these, an absent one absent. `listed`: only the
    /// listed facts are compared (vectors recorded from a replay, whose legacy reports fewer facts).
    #[serde(default, skip_serializing_if = "FactsCompare::is_exact")]
    pub facts_compare: FactsCompare,
}

/// How a leader vector's expected facts are compared with the validator's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactsCompare {
    /// Every fact is compared; an absent fact must be absent.
    #[default]
    Exact,
    /// Only the listed facts are compared.
    Listed,
}

impl FactsCompare {
    /// Whether the comparison is exact (the default, left out of vector files).
    pub fn is_exact(&self) -> bool {
        *self == FactsCompare::Exact
    }
}

/// Facts the validator must report, exactly: an absent fact must be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFacts {
    /// The block's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_id: Option<Hash32>,
    /// The block's id with its leader signature zeroed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_hash: Option<Hash32>,
    /// The leader id the block's record names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<String>,
}

/// Where a vector came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// What made the vector (tool and version).
    pub generator: String,
    /// `crafted`, or the chain it was taken from (path and chain digest).
    pub source: String,
    /// The block's height in the chain it was taken from; absent for crafted vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
}

/// A vector file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// A file that could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The file is not JSON, has no `schema`, or does not have a vector's fields.
    #[error("{file}: not a golden vector: {message}")]
    Parse {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file's `schema` is not [`SCHEMA`].
    #[error("{file}: unknown schema {schema:?} (this dualrun reads {SCHEMA:?})")]
    Schema {
        /// The file.
        file: PathBuf,
        /// The schema the file names.
        schema: String,
    },
    /// The vector's block blob is not lowercase hex.
    #[error("{file}: {source}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong with the blob.
        #[source]
        source: BlobError,
    },
}

/// Why a leader vector's `block.blob` gives no block bytes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BlobError {
    /// `block.blob` has uppercase hex digits.
    #[error("block.blob must be lowercase hex")]
    Uppercase,
    /// `block.blob` is not hex.
    #[error("block.blob is not hex: {0}")]
    NotHex(#[source] hex::FromHexError),
}

impl LeaderCase {
    /// The block's bytes: `block.blob`, checked to be lowercase hex.
    pub fn blob(&self) -> Result<Vec<u8>, BlobError> {
        if self.block.blob.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(BlobError::Uppercase);
        }
        hex::decode(&self.block.blob).map_err(BlobError::NotHex)
    }
}

impl Vector {
    /// Pretty JSON with a trailing newline: the bytes a vector file holds.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("vectors serialize");
        s.push('\n');
        s
    }

    /// The file name: the name, then the first 12 hex digits of Keccak-256 of the file's content.
    pub fn file_name(&self) -> String {
        let digest = keccak256(self.to_json().as_bytes()).to_string();
        format!("{}-{}.json", self.name, &digest[..12])
    }

    /// The case's block blob (leader vectors), checked to be lowercase hex.
    pub fn blob(&self) -> Result<Option<Vec<u8>>, BlobError> {
        let Case::Leader(c) = &self.case else { return Ok(None) };
        c.blob().map(Some)
    }

    /// Reads one vector file (a regular file of at most [`MAX_VECTOR_BYTES`], checked before and while
    /// reading) and checks its schema and block blob.
    pub fn read(path: &Path) -> Result<Vector, VectorError> {
        let bytes = read_vector_bytes(path)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| VectorError::Parse { file: path.into(), message: clip(&e.to_string()) })?;
        match value.get("schema").and_then(|s| s.as_str()) {
            Some(SCHEMA) => {}
            Some(other) => return Err(VectorError::Schema { file: path.into(), schema: clip(other) }),
            None => return Err(VectorError::Parse { file: path.into(), message: "no \"schema\" field".into() }),
        }
        let v: Vector = serde_json::from_value(value)
            .map_err(|e| VectorError::Parse { file: path.into(), message: clip(&e.to_string()) })?;
        v.blob().map_err(|source| VectorError::Invalid { file: path.into(), source })?;
        Ok(v)
    }
}

/// The largest vector file read: a vector is one block (at most 16 MiB as a blob, far less in practice)
/// and its expectations. A larger file, or anything that is not a regular file (a FIFO, a device such as
/// `/dev/zero`, a directory named `*.json`), fails naming it before it is read.
pub const MAX_VECTOR_BYTES: u64 = 16 << 20;

/// The bytes of a vector file, bounded (see [`MAX_VECTOR_BYTES`]); a link to a vector is followed.
pub fn read_vector_bytes(path: &Path) -> Result<Vec<u8>, dualrun_format::FileError> {
    read_capped(path, Links::Follow, MAX_VECTOR_BYTES, "a golden vector")
}

/// A parser's message, cut short and escaped: it may quote the file.
fn clip(message: &str) -> String {
    dualrun_format::file::clip(message, 300)
}

/// A vector file and what reading it gave.
pub type LoadedVector = (PathBuf, Result<Vector, VectorError>);

/// A path under a vector directory that is a file or directory already walked under another path (a
/// symbolic link, a hard link, a bind mount): walked and counted once, under its first path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameFile {
    /// The path not walked again.
    pub path: PathBuf,
    /// The path it was walked as.
    pub same_as: PathBuf,
    /// A directory (else a file).
    pub directory: bool,
}

/// Every `*.json` file under `dir` (recursively, sorted by path), each read or failed on its own: one
/// bad file never hides the others. See [`load_dir_noting`].
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedVector>, VectorError> {
    Ok(load_dir_noting(dir)?.0)
}

/// [`load_dir`], and the paths that were the same file or directory as one walked before. Each real
/// directory is walked once and each real file counted once (by device and inode), so links to `.` or
/// to another vector neither loop nor count twice; entries are visited in name order, so which path
/// counts is the same every time. A `*.json` entry that is not a regular file is a vector that fails.
pub fn load_dir_noting(dir: &Path) -> Result<(Vec<LoadedVector>, Vec<SameFile>), VectorError> {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;
    let key = |m: &std::fs::Metadata| (m.dev(), m.ino());
    let root = std::fs::metadata(dir).map_err(dualrun_format::FileError::at(dir))?;
    let mut dirs: HashMap<(u64, u64), PathBuf> = HashMap::from([(key(&root), dir.to_path_buf())]);
    let mut seen_files: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let (mut files, mut same) = (Vec::new(), Vec::new());
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(dualrun_format::FileError::at(&d))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(dualrun_format::FileError::at(&d))?;
        entries.sort();
        let mut subdirs = Vec::new();
        for path in entries {
            // A link is followed to see what it is; a broken one is a vector that fails, if named so.
            let meta = std::fs::metadata(&path).ok();
            if let Some(m) = meta.as_ref().filter(|m| m.is_dir()) {
                match dirs.get(&key(m)) {
                    Some(first) => same.push(SameFile { path, same_as: first.clone(), directory: true }),
                    None => {
                        dirs.insert(key(m), path.clone());
                        subdirs.push(path);
                    }
                }
                continue;
            }
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            if let Some(m) = meta.as_ref().filter(|m| m.is_file()) {
                if let Some(first) = seen_files.get(&key(m)) {
                    same.push(SameFile { path, same_as: first.clone(), directory: false });
                    continue;
                }
                seen_files.insert(key(m), path.clone());
            }
            files.push(path);
        }
        // Depth first, in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    files.sort();
    let loaded = files
        .into_iter()
        .map(|f| {
            let v = Vector::read(&f);
            (f, v)
        })
        .collect();
    Ok((loaded, same))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_messages() {
        let mut v = crate::crafted::leader_v1_vectors().remove(0);
        let Case::Leader(c) = &mut v.case else { panic!("a leader vector") };
        let blob = c.block.blob.clone();
        c.block.blob = blob.to_uppercase();
        assert_eq!(v.blob().unwrap_err().to_string(), "block.blob must be lowercase hex");
        let Case::Leader(c) = &mut v.case else { panic!("a leader vector") };
        c.block.blob = format!("{blob}0");
        assert_eq!(v.blob().unwrap_err().to_string(), "block.blob is not hex: Odd number of digits");
        let Case::Leader(c) = &mut v.case else { panic!("a leader vector") };
        c.block.blob = blob.clone();
        assert_eq!(v.blob(), Ok(Some(hex::decode(&blob).unwrap())));
        let invalid = VectorError::Invalid { file: "v.json".into(), source: BlobError::Uppercase };
        assert_eq!(invalid.to_string(), "v.json: block.blob must be lowercase hex");
    }
}
