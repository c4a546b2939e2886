//! The record stage: each judged block is counted, its records are written to the run directory, and
//! every few seconds (or 8 Ki blocks) the run is checkpointed and progress reported.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dualrun_core::{Mode, RecordClass};
use dualrun_metrics::Metrics;
use dualrun_pipeline::{Judged, Sink};
use dualrun_rundir::{Authoritative, Record, RunDirError, RunWriter, Side, Stats};

const CHECKPOINT_EVERY_BLOCKS: u64 = 8192;
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

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
    pub(crate) reproduce_prefix: String,
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
        reproduce_prefix: String,
        progress: &'a mut dyn Progress,
    ) -> Self {
        let now = Instant::now();
        RecordSink {
            writer,
            stats,
            mode,
            out,
            reproduce_prefix,
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
        format!("{} --from {height} --to {height} --out {}", self.reproduce_prefix, out.display())
    }
}

impl Sink for RecordSink<'_> {
    type Error = RunDirError;

    fn judged(&mut self, j: Judged<'_>) -> Result<(), RunDirError> {
        let s = &mut self.stats;
        if let Some(a) = j.legacy {
            s.legacy_latency.record(a.elapsed);
        }
        if let Some(a) = j.candidate {
            s.candidate_latency.record(a.elapsed);
        }
        s.blocks += 1;
        self.writer.judged_id(&j.item.block_id)?;
        if j.decision.authoritative.is_accept() {
            s.authoritative_accept += 1;
        } else {
            s.authoritative_reject += 1;
        }
        let height = j.item.input.height;
        // The verifiers' records, then an input finding when the database's id is not the blob's.
        let mismatch = (j.item.stored_id != j.item.block_id).then_some(RecordClass::StoredIdMismatch);
        let classes: Vec<RecordClass> = j.decision.records.iter().copied().chain(mismatch).collect();
        if let Some(m) = &self.metrics {
            m.judged(&j, &classes);
        }
        for class in classes {
            self.stats.add(class);
            let record = Record {
                height,
                block_id: j.item.block_id,
                class,
                mode: self.mode,
                legacy: Side::from_outcome(j.legacy.map(|a| &a.outcome)),
                candidate: Side::from_outcome(j.candidate.map(|a| &a.outcome)),
                authoritative: Authoritative {
                    verdict: j.decision.authoritative.kind(),
                    reason: j.decision.authoritative.reason().to_owned(),
                    source: j.decision.source,
                },
                differing_facts: if class == RecordClass::Fact { j.decision.differing_facts.clone() } else { vec![] },
                stored_id: (class == RecordClass::StoredIdMismatch).then_some(j.item.stored_id),
                env: j.item.env.clone(),
                blob: hex::encode(&j.item.input.blob),
                reproduce: self.reproduce(height),
            };
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
