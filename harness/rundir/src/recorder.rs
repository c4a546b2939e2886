//! The record stage every run shares — `replay`, `follow` and the Python `DualRun` alike: each judged
//! block is counted, its records written with their reproduce lines, and every few seconds (or
//! [`CHECKPOINT_EVERY_BLOCKS`] blocks) the run checkpointed; each step is told to the run's
//! [`Observer`] as a [`RunEvent`].

use std::time::Instant;

use dualrun_core::{Mode, RecordClass, VerifierState};

use crate::error::RunDirError;
use crate::event::{Elapsed, Observer, RunEvent};
use crate::record::{JudgedBlock, Record};
use crate::stats::Stats;
use crate::timings::Timing;
use crate::writer::{RunWriter, CHECKPOINT_EVERY, CHECKPOINT_EVERY_BLOCKS};

/// The first record of a session, for the closing message.
#[derive(Debug, Clone)]
pub struct FirstRecord {
    /// Its height.
    pub height: u64,
    /// Its class.
    pub class: RecordClass,
    /// The command that judges its block again.
    pub reproduce: String,
}

/// Writes a run's records and checkpoints.
pub struct Recorder {
    /// The run directory's writer.
    pub writer: RunWriter,
    stats: Stats,
    mode: Mode,
    session: Instant,
    since_checkpoint: (u64, Instant),
    first_record: Option<FirstRecord>,
    /// Checkpoint after every batch (a live run must make what it judged durable before it waits).
    pub checkpoint_each_batch: bool,
}

impl Recorder {
    /// Records into `writer`, counting on from `stats` (a resumed run's), in `mode`.
    pub fn new(writer: RunWriter, stats: Stats, mode: Mode) -> Recorder {
        let now = Instant::now();
        Recorder {
            writer,
            stats,
            mode,
            session: now,
            since_checkpoint: (0, now),
            first_record: None,
            checkpoint_each_batch: false,
        }
    }

    /// The counters including this session's time so far.
    pub fn stats_now(&self) -> Stats {
        let mut s = self.stats.clone();
        s.elapsed_ms += self.session.elapsed().as_millis() as u64;
        s
    }

    /// The first record of this session, if any.
    pub fn first_record(&self) -> Option<&FirstRecord> {
        self.first_record.as_ref()
    }

    /// What a verifier carries to its next block (an `exec:` adapter's restart budget), kept with the
    /// checkpoints.
    pub fn keep_state(&mut self, role: &str, state: &VerifierState) {
        if !state.is_empty() && self.stats.verifier_state.get(role) != Some(state) {
            self.stats.verifier_state.insert(role.to_owned(), state.clone());
        }
    }

    /// One judged block: counted, told, and each of its records written (with the line `reproduce`
    /// makes for its height) and told.
    pub fn judged(
        &mut self,
        block: &JudgedBlock<'_>,
        elapsed: Elapsed,
        reproduce: impl Fn(u64) -> String,
        observer: &mut dyn Observer,
    ) -> Result<(), RunDirError> {
        self.stats.judged(elapsed.legacy, elapsed.candidate, block.decision.authoritative.is_accept());
        if block.judged_twice() {
            self.stats.noise_checked += 1;
        }
        let verdict = block.decision.authoritative.kind();
        self.writer.timing(&Timing::of(block.height, elapsed.legacy, elapsed.candidate, verdict))?;
        observer.observe(&RunEvent::Judged { block, elapsed });
        for class in block.classes() {
            self.stats.add(class);
            let record = Record::of_judged(block, class, self.mode, reproduce(block.height));
            self.writer.write(&record)?;
            observer.observe(&RunEvent::Recorded { record: &record });
            if self.first_record.is_none() {
                self.first_record = Some(FirstRecord { height: block.height, class, reproduce: record.reproduce });
            }
        }
        self.since_checkpoint.0 += 1;
        Ok(())
    }

    /// The blocks below `next_height` are judged: a checkpoint when one is due (or every batch).
    pub fn batch_done(&mut self, next_height: u64, observer: &mut dyn Observer) -> Result<(), RunDirError> {
        if self.checkpoint_each_batch
            || self.since_checkpoint.0 >= CHECKPOINT_EVERY_BLOCKS
            || self.since_checkpoint.1.elapsed() >= CHECKPOINT_EVERY
        {
            self.checkpoint(next_height, observer)?;
        }
        Ok(())
    }

    /// A checkpoint now: every block below `next_height` is judged.
    pub fn checkpoint(&mut self, next_height: u64, observer: &mut dyn Observer) -> Result<(), RunDirError> {
        let stats = self.stats_now();
        self.writer.checkpoint(next_height, &stats, false)?;
        self.since_checkpoint = (0, Instant::now());
        observer.observe(&RunEvent::Checkpointed { next_height, stats: &stats });
        Ok(())
    }
}
