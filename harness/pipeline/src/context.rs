//! The chain context: what a verifier is told besides the block. [`NowMode`] says where `now` comes
//! from; [`context_at`] rebuilds, from the chain, the context of any height (so a run that starts in the
//! middle — a resume, a shard — judges its first block exactly as a whole run does). The env itself is
//! made by [`Profile::env`].

use dualrun_chaindb::{ChainDb, ChainDbError, RawBlock};
use dualrun_format::{Block, Hash32};
use dualrun_leader::validator::{ChainContext, TIMESTAMP_WINDOW};
use dualrun_leader::{Profile, ProfileError};

/// Where `now` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NowMode {
    /// Each block's own timestamp.
    Block,
    /// A fixed unix time.
    Fixed(u64),
}

impl NowMode {
    /// `now` for a block with this timestamp (0 for a block whose timestamp cannot be read).
    pub fn at(self, block_timestamp: Option<u64>) -> u64 {
        match self {
            NowMode::Block => block_timestamp.unwrap_or(0),
            NowMode::Fixed(t) => t,
        }
    }

    /// `block` or `fixed:UNIX`, as given on the command line.
    pub fn describe(self) -> String {
        match self {
            NowMode::Block => "block".into(),
            NowMode::Fixed(t) => format!("fixed:{t}"),
        }
    }
}

impl std::str::FromStr for NowMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "block" => Ok(NowMode::Block),
            _ => s
                .strip_prefix("fixed:")
                .and_then(|t| t.parse().ok())
                .map(NowMode::Fixed)
                .ok_or_else(|| format!("expected `block` or `fixed:UNIX_SECONDS`, got {s:?}")),
        }
    }
}

/// Why a chain context cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    /// The chain is not the profile's (another genesis).
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// The id of a stored block: computed, or the stored one if the blob does not parse.
pub fn block_id_of(raw: &RawBlock) -> Hash32 {
    Block::parse(raw.blob).ok().and_then(|b| b.hashes().ok()).map_or(raw.info.hash, |h| h.block_id)
}

/// The chain context for judging `from`: the id of block `from − 1` and the timestamps of up to 60
/// blocks before it. Checks that block 0 is the profile's genesis.
pub fn context_at(db: &ChainDb, profile: &Profile, from: u64) -> Result<ChainContext, ContextError> {
    let txn = db.read_txn()?;
    let genesis = db.blocks(&txn, 0, 0)?.next().expect("block 0 exists")?;
    profile.check_genesis(&block_id_of(&genesis))?;
    if from == 0 {
        return Ok(ChainContext::new());
    }
    // The id of block from − 1, and the last 60 timestamps that parse (a malformed block adds none,
    // exactly as when the pipeline passes it): walk back until 60 are found or block 0 is reached.
    let prev = db.blocks(&txn, from - 1, from - 1)?.next().expect("from − 1 exists")?;
    let prev_id = block_id_of(&prev);
    let mut timestamps: Vec<u64> = Vec::new();
    let mut end = from; // exclusive
    while timestamps.len() < TIMESTAMP_WINDOW && end > 0 {
        let start = end.saturating_sub(TIMESTAMP_WINDOW as u64);
        let mut chunk = Vec::new();
        for raw in db.blocks(&txn, start, end - 1)? {
            if let Ok(b) = Block::parse(raw?.blob) {
                chunk.push(b.header.timestamp);
            }
        }
        chunk.extend(timestamps);
        timestamps = chunk;
        end = start;
    }
    let keep = timestamps.len().saturating_sub(TIMESTAMP_WINDOW);
    Ok(ChainContext::resume(from, prev_id, timestamps.into_iter().skip(keep)))
}
