//! `checkpoint.json`: the state a resume continues from.

use dualrun_format::Hash32;
use serde::{Deserialize, Serialize};

use crate::stats::Stats;

/// The format name every checkpoint carries.
pub(crate) const CHECKPOINT_FORMAT: &str = "dualrun-checkpoint/v1";

/// The state a resume continues from: the next height, the lengths of the record files at that point
/// and the counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Always `dualrun-checkpoint/v1`.
    pub format: String,
    /// Keccak-256 of the canonical inputs; a resume with other inputs is refused.
    pub inputs_digest: Hash32,
    /// The first height not yet judged.
    pub next_height: u64,
    /// Length of `divergences.jsonl` at the checkpoint.
    pub jsonl_bytes: u64,
    /// Length of `divergences.csv` at the checkpoint.
    pub csv_bytes: u64,
    /// Length of `timings.csv` at the checkpoint.
    #[serde(default)]
    pub timings_bytes: u64,
    /// Length of `ids.bin` at the checkpoint (live runs; 0 otherwise).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ids_bytes: u64,
    /// The chain digest of the blocks judged before `next_height` (runs over a fixed range: a resume
    /// checks the chain still has them, and goes on from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_digest: Option<Hash32>,
    /// Counters at the checkpoint.
    pub stats: Stats,
    /// The whole range was replayed.
    pub complete: bool,
    /// A live run's rewind to a fork, made durable here first: a resume finishes recording it in
    /// `reorgs.jsonl` if a kill came in between.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reorg: Option<crate::ReorgEvent>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Checkpoint {
    /// Reads the `checkpoint.json` of the run directory `dir`.
    pub fn load(dir: &std::path::Path) -> Result<Checkpoint, crate::RunDirError> {
        crate::access::read_json(dir, crate::files::CHECKPOINT)
    }
}
