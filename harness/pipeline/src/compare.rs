//! The compare stage: for each block, in height order, the two answers go through the mode table
//! ([`dualrun_core::decide`]) and the judged block goes to the sink.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

use dualrun_core::{decide, Decision, Mode, ReasonMap};

use crate::assemble::{Batch, Item};
use crate::verify::Answer;
use crate::Sink;

/// One block after the mode table.
pub struct Judged<'a> {
    /// The block, its id and env.
    pub item: &'a Item,
    /// The legacy's answer (none if the mode does not run it).
    pub legacy: Option<&'a Answer>,
    /// The candidate's answer (none if the mode does not run it).
    pub candidate: Option<&'a Answer>,
    /// The authoritative verdict and the records to write.
    pub decision: Decision,
}

pub(crate) struct Comparer<'a> {
    pub(crate) interrupt: &'a AtomicBool,
    pub(crate) mode: Mode,
    pub(crate) reasons: &'a ReasonMap,
    pub(crate) legacy: Option<Receiver<Vec<Answer>>>,
    pub(crate) candidate: Option<Receiver<Vec<Answer>>>,
}

impl Comparer<'_> {
    /// Runs until the assembler closes, or an interrupt (checked between blocks); returns the first
    /// height not judged. Taken by value: its receivers close when it returns, so verifier threads
    /// blocked on sending to it end too.
    pub(crate) fn stage<K: Sink>(self, batches: Receiver<Batch>, start: u64, sink: &mut K) -> Result<u64, K::Error> {
        let mut next_height = start;
        for batch in batches {
            let answers = |rx: &Option<Receiver<Vec<Answer>>>| rx.as_ref().map(Receiver::recv).transpose();
            let (Ok(legacy), Ok(candidate)) = (answers(&self.legacy), answers(&self.candidate)) else {
                // A verifier stopped part way through the batch: only at an interrupt.
                assert!(self.interrupt.load(Ordering::Relaxed), "a verifier thread answers every batch");
                break;
            };
            for (i, item) in batch.iter().enumerate() {
                if self.interrupt.load(Ordering::Relaxed) {
                    sink.batch_done(next_height)?;
                    return Ok(next_height);
                }
                let l = legacy.as_ref().map(|r| &r[i]);
                let c = candidate.as_ref().map(|r| &r[i]);
                let decision = decide(self.mode, l.map(|a| &a.outcome), c.map(|a| &a.outcome), self.reasons);
                sink.judged(Judged { item, legacy: l, candidate: c, decision })?;
                next_height = item.input.height + 1;
            }
            sink.batch_done(next_height)?;
        }
        Ok(next_height)
    }
}
