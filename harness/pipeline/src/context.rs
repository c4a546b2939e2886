//! The chain context: what a verifier is told besides the block. [`NowMode`] says where `now` comes
//! from; [`context_at`] rebuilds, from the chain, the context of any height (so a run that starts in the
//! middle — a resume, a shard — judges its first block exactly as a whole run does). The env itself is
//! made by [`Network::env`].

use dualrun_chaindb::{ChainDb, ChainDbError, RawBlock};
use dualrun_format::{Block, Hash32};
use dualrun_network::{ChainContext, Network, NetworkError, TIMESTAMP_WINDOW};

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

/// A `--now` that is neither `block` nor `fixed:UNIX_SECONDS`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NowModeParseError {
    /// Neither `block` nor starting with `fixed:`.
    #[error("expected `block` or `fixed:UNIX_SECONDS`, got {0:?}")]
    Unknown(String),
    /// `fixed:` followed by something that is not a unix time.
    #[error("expected `block` or `fixed:UNIX_SECONDS`, got {input:?}")]
    BadTime {
        /// The whole value given.
        input: String,
        /// Why the time does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
}

impl std::str::FromStr for NowMode {
    type Err = NowModeParseError;
    fn from_str(s: &str) -> Result<Self, NowModeParseError> {
        if s == "block" {
            return Ok(NowMode::Block);
        }
        let t = s.strip_prefix("fixed:").ok_or_else(|| NowModeParseError::Unknown(s.to_owned()))?;
        let t = t.parse().map_err(|source| NowModeParseError::BadTime { input: s.to_owned(), source })?;
        Ok(NowMode::Fixed(t))
    }
}

/// Why a chain context cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    /// The chain is not the network's (another genesis).
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// Another source (a daemon) could not give a block.
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync>),
}

/// The id of a stored block: computed, or the stored one if the blob does not parse.
pub fn block_id_of(raw: &RawBlock) -> Hash32 {
    Block::parse(raw.blob).ok().and_then(|b| b.hashes().ok()).map_or(raw.info.hash, |h| h.block_id)
}

/// The chain context for judging `from`: the id of block `from − 1` and the timestamps of up to 60
/// blocks before it. Checks that block 0 is the network's genesis.
pub fn context_at(db: &ChainDb, network: &Network, from: u64) -> Result<ChainContext, ContextError> {
    let txn = db.read_txn()?;
    context_with(network, from, |h| {
        let raw = db.blocks(&txn, h, h)?.next().expect("a height below the start exists")?;
        Ok((raw.blob.to_vec(), raw.info.hash))
    })
}

/// [`context_at`] over any source: `block(h)` gives the blob and stored id of block `h` (every height
/// below `from` exists). Used for a chain database and for a daemon's RPC alike, so a run judges its
/// first block the same way whatever it reads.
pub fn context_with(
    network: &Network,
    from: u64,
    mut block: impl FnMut(u64) -> Result<(Vec<u8>, Hash32), ContextError>,
) -> Result<ChainContext, ContextError> {
    let id_of = |blob: &[u8], stored: Hash32| {
        Block::parse(blob).ok().and_then(|b| b.hashes().ok()).map_or(stored, |h| h.block_id)
    };
    let (genesis, stored) = block(0)?;
    network.check_genesis(&id_of(&genesis, stored))?;
    if from == 0 {
        return Ok(ChainContext::new());
    }
    // The id of block from − 1, and the last 60 timestamps that parse (a malformed block adds none,
    // exactly as when the pipeline passes it): walk back until 60 are found or block 0 is reached.
    let (prev, stored) = block(from - 1)?;
    let prev_id = id_of(&prev, stored);
    let mut timestamps: Vec<u64> = Vec::new();
    let mut h = from;
    while timestamps.len() < TIMESTAMP_WINDOW && h > 0 {
        h -= 1;
        let blob = if h == from - 1 { prev.clone() } else { block(h)?.0 };
        if let Ok(b) = Block::parse(&blob) {
            timestamps.push(b.header.timestamp);
        }
    }
    timestamps.reverse();
    Ok(ChainContext::resume(from, prev_id, timestamps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_mode_messages() {
        assert_eq!("fixed:12".parse::<NowMode>(), Ok(NowMode::Fixed(12)));
        for bad in ["wall", "fixed:soon"] {
            let e = bad.parse::<NowMode>().unwrap_err();
            assert_eq!(e.to_string(), format!("expected `block` or `fixed:UNIX_SECONDS`, got {bad:?}"));
        }
    }
}
