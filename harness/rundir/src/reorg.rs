//! `reorgs.jsonl`: the reorganizations a live run saw. Each line names the fork, the judged blocks
//! orphaned and how many records the run had then; those blocks' records (among the ones written before)
//! stay in the record files, never deleted, and are read as orphaned through this file ([`Orphans`]).
//! A block that comes back later (A → B → A) is judged again and its new records are not orphaned.

use std::collections::BTreeMap;
use std::path::Path;

use dualrun_format::Hash32;
use serde::{Deserialize, Serialize};

use crate::error::RunDirError;
use crate::files::REORGS;

/// One reorganization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReorgEvent {
    /// The first height whose judged block left the daemon's chain.
    pub fork_height: u64,
    /// The daemon's chain height when it was seen.
    pub daemon_height: u64,
    /// The judged blocks orphaned, oldest first.
    pub orphaned: Vec<OrphanedBlock>,
    /// Records in `divergences.jsonl` when it was recorded: only records before that index can be the
    /// orphaned blocks'.
    #[serde(default)]
    pub records_before: u64,
}

/// A judged block no longer on the daemon's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanedBlock {
    /// Its height.
    pub height: u64,
    /// Its id.
    pub block_id: Hash32,
}

impl ReorgEvent {
    /// The events of a run (none when it saw none).
    pub fn read_all(dir: &Path) -> Result<Vec<ReorgEvent>, RunDirError> {
        crate::access::json_lines(dir, REORGS, "a reorganization")
    }

    /// Appends the event to `reorgs.jsonl` unless it is already its last line (a rewind finished after a
    /// kill writes it once).
    pub(crate) fn append_once(&self, dir: &Path) -> Result<(), RunDirError> {
        if Self::read_all(dir)?.last() == Some(self) {
            return Ok(());
        }
        let line = serde_json::to_vec(self).expect("serializes");
        crate::access::append_line(dir, REORGS, &line)
    }
}

/// Which records of a run are orphaned: a record is when its block was orphaned by a reorganization
/// recorded after it was written.
#[derive(Debug, Clone, Default)]
pub struct Orphans(BTreeMap<(u64, Hash32), u64>);

impl Orphans {
    /// The orphaned blocks of the run in `dir`.
    pub fn of(dir: &Path) -> Result<Orphans, RunDirError> {
        Ok(Orphans::from_events(&ReorgEvent::read_all(dir)?))
    }

    /// The orphaned blocks these events name.
    pub fn from_events(events: &[ReorgEvent]) -> Orphans {
        let mut map = BTreeMap::new();
        for e in events {
            for o in &e.orphaned {
                let before = map.entry((o.height, o.block_id)).or_insert(0);
                *before = e.records_before.max(*before);
            }
        }
        Orphans(map)
    }

    /// Whether the record at `index` (0-based, in file order) about block `id` at `height` is orphaned.
    pub fn contains(&self, index: u64, height: u64, id: &Hash32) -> bool {
        self.0.get(&(height, *id)).is_some_and(|before| index < *before)
    }

    /// No reorganization orphaned anything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
