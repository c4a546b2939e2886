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
pub struct Prepared {
    /// The block as verifiers get it.
    pub input: BlockInput,
    /// Its computed id (the stored one if the blob does not parse).
    pub block_id: Hash32,
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
    fn prepare(&self, b: SourceBlock) -> Prepared {
        let parsed = Block::parse(&b.blob).ok();
        let fields = parsed.as_ref().filter(|_| self.want_fields).map(BlockFields::from_block);
        let timestamp = parsed.as_ref().map(|p| p.header.timestamp);
        let block_id = parsed.as_ref().and_then(|p| p.hashes().ok()).map_or(b.stored_id, |h| h.block_id);
        drop(parsed);
        let input = BlockInput { height: b.height, blob: b.blob, fields };
        let legacy = self.legacy.as_ref().map(|p| p.prepare(&input));
        let candidate = self.candidate.as_ref().map(|p| p.prepare(&input));
        Prepared { input, block_id, timestamp, legacy, candidate }
    }
}

/// One worker of the pool: takes numbered batches from the shared queue until it closes.
pub(crate) fn stage(
    p: &Preparers,
    queue: &Mutex<Receiver<(u64, Vec<SourceBlock>)>>,
    out: &SyncSender<(u64, Vec<Prepared>)>,
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
