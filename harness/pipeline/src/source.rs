//! Block sources: where the pipeline's blocks come from. A source hands out blocks in height order, in
//! batches; the pipeline does the rest. [`LmdbRange`] reads a height range of a node's database; a
//! daemon's RPC and shard ranges are sources too.

use std::ops::ControlFlow;
use std::sync::Arc;

use dualrun_chaindb::{ChainDb, ChainDbError};
use dualrun_format::Hash32;

/// One block as a source gives it.
#[derive(Debug, Clone)]
pub struct SourceBlock {
    /// Its height.
    pub height: u64,
    /// The raw blob.
    pub blob: Arc<[u8]>,
    /// The id the source stores for it (used when the blob does not parse).
    pub stored_id: Hash32,
}

/// Blocks in height order, without gaps.
pub trait BlockSource: Send {
    /// Why a block could not be read.
    type Error: std::error::Error + Send + 'static;

    /// Reads the source's blocks in height order and hands them to `deliver` in batches of up to
    /// `batch` blocks, until the source ends or `deliver` answers `Break` (an interrupt, or nobody
    /// left to take them).
    fn read(
        &mut self,
        batch: usize,
        deliver: &mut dyn FnMut(Vec<SourceBlock>) -> ControlFlow<()>,
    ) -> Result<(), Self::Error>;
}

/// The heights `from..=last` of a chain database, read in one read transaction; the pages mapped for
/// a batch are released after it, so memory stays flat however long the range.
pub struct LmdbRange<'db> {
    db: &'db ChainDb,
    from: u64,
    last: u64,
}

impl<'db> LmdbRange<'db> {
    /// The blocks `from..=last` of `db`.
    pub fn new(db: &'db ChainDb, from: u64, last: u64) -> LmdbRange<'db> {
        LmdbRange { db, from, last }
    }
}

impl BlockSource for LmdbRange<'_> {
    type Error = ChainDbError;

    fn read(
        &mut self,
        batch: usize,
        deliver: &mut dyn FnMut(Vec<SourceBlock>) -> ControlFlow<()>,
    ) -> Result<(), ChainDbError> {
        if self.from > self.last {
            return Ok(());
        }
        let txn = self.db.read_txn()?;
        let mut blocks = self.db.blocks(&txn, self.from, self.last)?;
        loop {
            let mut out = Vec::with_capacity(batch);
            for raw in blocks.by_ref().take(batch) {
                let raw = raw?;
                out.push(SourceBlock { height: raw.height, blob: Arc::from(raw.blob), stored_id: raw.info.hash });
            }
            self.db.release_mapped_pages();
            if out.is_empty() || deliver(out).is_break() {
                return Ok(());
            }
        }
    }
}
