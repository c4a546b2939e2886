//! The assemble stage: puts prepared batches back in height order, gives each block its env from the
//! chain context (which it advances past the block) and, in a noise run, whether each verifier judges it
//! twice ([`NoiseRate::picks`]), and feeds the verifiers and the comparator.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use dualrun_core::{BlockInput, NoiseRate, ReplayEnv};
use dualrun_format::Hash32;
use dualrun_network::{ChainContext, Network};

use crate::context::NowMode;
use crate::prepare::{Prep, PreparedBlock};

/// One block ready for verification.
pub struct Item {
    /// The block as verifiers get it.
    pub input: BlockInput,
    /// Its computed id (the stored one if the blob does not parse).
    pub block_id: Hash32,
    /// The id the source stores for it: when it differs from `block_id`, the database disagrees with
    /// the blob (an input finding).
    pub stored_id: Hash32,
    /// The env both verifiers get.
    pub env: ReplayEnv,
    /// Each verifier judges it a second time (the run's noise rate picked it).
    pub again: bool,
}

/// Blocks in height order.
pub type Batch = Arc<Vec<Item>>;

/// A batch for one verifier, with its stateless work.
pub(crate) type VerifierWork = (Batch, Vec<Prep>);

pub(crate) struct Assembler {
    pub(crate) network: Network,
    pub(crate) activation_height: u64,
    pub(crate) now: NowMode,
    pub(crate) ctx: ChainContext,
    pub(crate) noise: Option<NoiseRate>,
    pub(crate) legacy: Option<SyncSender<VerifierWork>>,
    pub(crate) candidate: Option<SyncSender<VerifierWork>>,
    pub(crate) compare: SyncSender<Batch>,
}

impl Assembler {
    pub(crate) fn stage(mut self, prepared: Receiver<(u64, Vec<PreparedBlock>)>) {
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        for (index, batch) in prepared {
            pending.insert(index, batch);
            while let Some(batch) = pending.remove(&next) {
                next += 1;
                if !self.forward(batch) {
                    return;
                }
            }
        }
    }

    /// Gives each block of the next batch its env and sends it on; false when a receiver has gone.
    fn forward(&mut self, batch: Vec<PreparedBlock>) -> bool {
        let mut items = Vec::with_capacity(batch.len());
        let mut legacy = Vec::with_capacity(batch.len());
        let mut candidate = Vec::with_capacity(batch.len());
        for p in batch {
            let env = self.network.env(self.activation_height, &self.ctx, self.now.at(p.timestamp));
            match p.timestamp {
                Some(ts) => self.ctx.advance(p.block_id, ts),
                None => self.ctx.advance_unparsed(p.block_id),
            }
            let again = self.noise.is_some_and(|rate| rate.picks(&p.block_id));
            items.push(Item { input: p.input, block_id: p.block_id, stored_id: p.stored_id, env, again });
            legacy.push(p.legacy);
            candidate.push(p.candidate);
        }
        let batch = Arc::new(items);
        self.legacy.as_ref().is_none_or(|tx| tx.send((batch.clone(), legacy)).is_ok())
            && self.candidate.as_ref().is_none_or(|tx| tx.send((batch.clone(), candidate)).is_ok())
            && self.compare.send(batch).is_ok()
    }
}
