//! The record stage: each judged block is counted, its records are written to the run directory, and
//! every few seconds (or 8 Ki blocks) the run is checkpointed and progress reported.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use dualrun_core::{Mode, RecordClass};
use dualrun_metrics::Metrics;
use dualrun_pipeline::{Judged, Sink};
use dualrun_rundir::{JudgedBlock, Record, RunDirError, RunWriter, Stats, CHECKPOINT_EVERY, CHECKPOINT_EVERY_BLOCKS};

/// Observes a run (the CLI draws a progress bar or logs lines).
pub trait Progress {
    /// The run covers `first..=last` (no `last`: a live run, open-ended); a resume starts at `resumed_at`.
    fn begin(&mut self, first: u64, last: Option<u64>, resumed_at: Option<u64>);
    /// Every block below `next_height` is judged.
    fn advance(&mut self, next_height: u64, stats: &Stats);
    /// The run has stopped.
    fn end(&mut self);
}

/// The first record of a session, for the closing message.
#[derive(Debug, Clone)]
pub struct FirstRecord {
    /// Its height.
    pub height: u64,
    /// Its class.
    pub class: RecordClass,
    /// The command that replays its block.
    pub reproduce: String,
}

pub(crate) struct RecordSink<'a> {
    pub(crate) writer: RunWriter,
    pub(crate) stats: Stats,
    pub(crate) mode: Mode,
    /// The run directory (reproduce lines name a sibling).
    pub(crate) out: PathBuf,
    /// The words of the command the run's inputs stand for ([`crate::command::words`]); none for a run
    /// no command makes.
    pub(crate) command: Option<Vec<String>>,
    pub(crate) progress: &'a mut dyn Progress,
    pub(crate) first_record: Option<FirstRecord>,
    pub(crate) session: Instant,
    since_checkpoint: (u64, Instant),
    /// Updated with every judged block, when the run serves metrics.
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// Checkpoint after every batch: a live run's batches come as blocks arrive, and what was judged
    /// must be durable before it waits for the next block.
    pub(crate) checkpoint_each_batch: bool,
}

impl<'a> RecordSink<'a> {
    pub(crate) fn new(
        writer: RunWriter,
        stats: Stats,
        mode: Mode,
        out: PathBuf,
        command: Option<Vec<String>>,
        progress: &'a mut dyn Progress,
    ) -> Self {
        let now = Instant::now();
        RecordSink {
            writer,
            stats,
            mode,
            out,
            command,
            progress,
            first_record: None,
            session: now,
            since_checkpoint: (0, now),
            metrics: None,
            checkpoint_each_batch: false,
        }
    }

    /// The counters including this session's time so far.
    pub(crate) fn stats_now(&self) -> Stats {
        let mut s = self.stats.clone();
        s.elapsed_ms += self.session.elapsed().as_millis() as u64;
        s
    }

    fn reproduce(&self, height: u64) -> String {
        let out = self.out.with_file_name(format!("reproduce-{height}"));
        self.command.as_ref().map_or_else(String::new, |words| crate::command::reproduce_line(words, height, &out))
    }
}

impl Sink for RecordSink<'_> {
    type Error = RunDirError;

    fn judged(&mut self, j: Judged<'_>) -> Result<(), RunDirError> {
        self.stats.judged(
            j.legacy.map(|a| a.elapsed),
            j.candidate.map(|a| a.elapsed),
            j.decision.authoritative.is_accept(),
        );
        for (role, answer) in [("legacy", j.legacy), ("candidate", j.candidate)] {
            if let Some(a) = answer.filter(|a| !a.state.is_empty()) {
                if self.stats.verifier_state.get(role) != Some(&a.state) {
                    self.stats.verifier_state.insert(role.to_owned(), a.state.clone());
                }
            }
        }
        self.writer.judged_id(&j.item.block_id)?;
        let height = j.item.input.height;
        let block = JudgedBlock {
            height,
            block_id: j.item.block_id,
            stored_id: j.item.stored_id,
            blob: &j.item.input.blob,
            env: &j.item.env,
            legacy: j.legacy.map(|a| &a.outcome),
            candidate: j.candidate.map(|a| &a.outcome),
            decision: &j.decision,
        };
        let classes = block.classes();
        if let Some(m) = &self.metrics {
            m.judged(&j, &classes);
        }
        for class in classes {
            self.stats.add(class);
            let record = Record::of_judged(&block, class, self.mode, self.reproduce(height));
            self.writer.write(&record)?;
            if self.first_record.is_none() {
                self.first_record = Some(FirstRecord { height, class, reproduce: record.reproduce });
            }
        }
        self.since_checkpoint.0 += 1;
        Ok(())
    }

    fn batch_done(&mut self, next_height: u64) -> Result<(), RunDirError> {
        if self.checkpoint_each_batch
            || self.since_checkpoint.0 >= CHECKPOINT_EVERY_BLOCKS
            || self.since_checkpoint.1.elapsed() >= CHECKPOINT_EVERY
        {
            let stats = self.stats_now();
            self.writer.checkpoint(next_height, &stats, false)?;
            self.since_checkpoint = (0, Instant::now());
        }
        self.progress.advance(next_height, &self.stats);
        Ok(())
    }
}
