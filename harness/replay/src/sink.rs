//! The record stage of a replay or a live run: the pipeline's judged blocks handed to the run's
//! [`Recorder`] (counted, recorded with their reproduce lines, checkpointed), each step told to the run's
//! [`Observer`].

use std::path::PathBuf;

use dualrun_pipeline::{Judged, Sink};
use dualrun_rundir::{Elapsed, JudgedBlock, Observer, Recorder, RunDirError};

pub(crate) struct RecordSink<'a> {
    pub(crate) recorder: Recorder,
    /// The run directory (reproduce lines name a sibling).
    out: PathBuf,
    /// The words of the command the run's inputs stand for ([`crate::command::words`]); none for a run
    /// no command makes.
    command: Option<Vec<String>>,
    pub(crate) observer: &'a mut dyn Observer,
}

impl<'a> RecordSink<'a> {
    pub(crate) fn new(
        recorder: Recorder,
        out: PathBuf,
        command: Option<Vec<String>>,
        observer: &'a mut dyn Observer,
    ) -> Self {
        RecordSink { recorder, out, command, observer }
    }
}

impl Sink for RecordSink<'_> {
    type Error = RunDirError;

    fn judged(&mut self, j: Judged<'_>) -> Result<(), RunDirError> {
        for (role, answer) in [("legacy", j.legacy), ("candidate", j.candidate)] {
            if let Some(a) = answer {
                self.recorder.keep_state(role, &a.state);
            }
        }
        self.recorder.writer.judged_id(&j.item.block_id)?;
        let block = JudgedBlock {
            height: j.item.input.height,
            block_id: j.item.block_id,
            stored_id: j.item.stored_id,
            blob: &j.item.input.blob,
            env: &j.item.env,
            legacy: j.legacy.map(|a| &a.outcome),
            candidate: j.candidate.map(|a| &a.outcome),
            decision: &j.decision,
            legacy_again: j.legacy.and_then(|a| a.again.as_ref()),
            candidate_again: j.candidate.and_then(|a| a.again.as_ref()),
        };
        let elapsed = Elapsed { legacy: j.legacy.map(|a| a.elapsed), candidate: j.candidate.map(|a| a.elapsed) };
        let (out, command) = (&self.out, &self.command);
        let reproduce = |height: u64| {
            let dir = out.with_file_name(format!("reproduce-{height}"));
            command.as_ref().map_or_else(String::new, |words| crate::command::reproduce_line(words, height, &dir))
        };
        self.recorder.judged(&block, elapsed, reproduce, self.observer)
    }

    fn batch_done(&mut self, next_height: u64) -> Result<(), RunDirError> {
        self.recorder.batch_done(next_height, self.observer)
    }
}
