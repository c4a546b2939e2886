//! The prepare stage: on all cores, each block is parsed once for what the pipeline needs (its id, its
//! timestamp, the fields adapters get) and handed to each verifier's stateless part. Batches leave in
//! the order they finish; the assembler restores height order.

use std::any::Any;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use dualrun_core::{BlockFields, BlockInput, Stateless};
use dualrun_format::{Block, Hash32};

use crate::source::SourceBlock;

/// A verifier's stateless work on one block.
pub type Prep = Option<Box<dyn Any + Send>>;

/// One block, prepared.
pub struct PreparedBlock {
    /// The block as verifiers get it.
    pub input: BlockInput,
    /// Its computed id (the stored one if the blob does not parse).
    pub block_id: Hash32,
    /// The id the source stores for it.
    pub stored_id: Hash32,
    /// Its timestamp, if the blob parses.
    pub timestamp: Option<u64>,
    /// The legacy's stateless work.
    pub legacy: Prep,
    /// The candidate's stateless work.
    pub candidate: Prep,
}

/// What the prepare stage runs for each block.
#[derive(Clone)]
pub(crate) struct Preparers {
    pub(crate) legacy: Option<Arc<dyn Stateless>>,
    pub(crate) candidate: Option<Arc<dyn Stateless>>,
    /// Some verifier reads the parsed fields.
    pub(crate) want_fields: bool,
}

impl Preparers {
    fn prepare(&self, b: SourceBlock) -> PreparedBlock {
        // With adapters that read the fields the block is parsed here anyway; otherwise a verifier's
        // stateless part may have parsed and hashed it already (the built-in validator does), and it is
        // parsed here only if none did: one parse per block.
        let stored_id = b.stored_id;
        let (fields, header) = if self.want_fields {
            let parsed = Block::parse(&b.blob).ok();
            (parsed.as_ref().map(BlockFields::from_block), parsed.as_ref().map(|p| header_of(p, stored_id)))
        } else {
            (None, None)
        };
        let input = BlockInput { height: b.height, blob: b.blob, fields };
        let legacy = self.legacy.as_ref().map(|p| p.prepare(&input));
        let candidate = self.candidate.as_ref().map(|p| p.prepare(&input));
        let header = header
            .or_else(|| {
                [(&self.candidate, &candidate), (&self.legacy, &legacy)]
                    .into_iter()
                    .find_map(|(s, prep)| s.as_ref()?.id_and_timestamp(prep.as_deref()?))
            })
            .or_else(|| {
                let parsed = (!self.want_fields).then(|| Block::parse(&input.blob).ok()).flatten();
                parsed.map(|p| header_of(&p, stored_id))
            });
        let (block_id, timestamp) = header.map_or((stored_id, None), |(id, ts)| (id, Some(ts)));
        PreparedBlock { input, block_id, stored_id, timestamp, legacy, candidate }
    }
}

/// A parsed block's id (the stored one if it cannot be hashed) and timestamp.
fn header_of(block: &Block<'_>, stored_id: Hash32) -> (Hash32, u64) {
    (block.hashes().map_or(stored_id, |h| h.block_id), block.header.timestamp)
}

/// One worker of the pool: takes numbered batches from the shared queue until it closes.
pub(crate) fn stage(
    p: &Preparers,
    queue: &Mutex<Receiver<(u64, Vec<SourceBlock>)>>,
    out: &SyncSender<(u64, Vec<PreparedBlock>)>,
) {
    loop {
        let next = queue.lock().expect("the prepare queue's lock").recv();
        let Ok((index, blocks)) = next else { return };
        let prepared = blocks.into_iter().map(|b| p.prepare(b)).collect();
        if out.send((index, prepared)).is_err() {
            return;
        }
    }
}
