//! The run directory: the unit of evidence every dualrun run writes and every reader (the gate,
//! `golden record`, the closing summary, reports, merges) reads. This crate owns its format, typed:
//!
//! | file | type | what |
//! |---|---|---|
//! | `manifest.json` | [`Manifest`] | the inputs (chain, range, chain digest, profile, verifiers, mode, env, settings), the tool, completion, and the digest of every other file |
//! | `divergences.jsonl` | [`Record`] | one record per divergence or error: both sides, the env, the blob, a reproduce line |
//! | `divergences.csv` | [`Record::csv_line`] | the same records, one line each |
//! | `summary.json` | [`Summary`] | counts per class, authoritative verdicts, latencies, rate |
//! | `timings.csv` | [`Timing`] | one line per judged block: height, each verifier's µs, the authoritative verdict (format version 2 on) |
//! | `checkpoint.json` | [`Checkpoint`] | what makes `--resume` exactly-once |
//! | `ids.bin` | — | live runs: the computed id of every judged block (their growing chain digest) |
//! | `reorgs.jsonl` | [`ReorgEvent`] | live runs: each reorganization, its fork and orphaned blocks |
//! | `run.log` | — | the run's log lines (not digested: it is for people) |
//!
//! A run's record stage is the [`Recorder`] (count, write records, checkpoint), telling each step to an
//! [`Observer`] as a [`RunEvent`] — the one stream every progress display, metric and hook reads.
//! Writing goes through [`RunWriter`] (create, resume, append records, checkpoint, finish); reading through
//! [`RunDir::open`], which refuses a format it does not know, an incomplete run and files whose digests
//! differ from the manifest's, each with a typed [`RunDirError`]. [`RunDir::load`] reads without judging
//! and [`RunDir::problems`] lists everything wrong at once (the gate shows them all).
//!
//! Evidence copied elsewhere is read where it is now: [`Moved`] maps the absolute paths a manifest or a
//! ledger recorded to the copy (`--moved FROM=TO`).
//!
//! A fleet watch's run directory (`fleet.json`, `findings.jsonl`, `timeline.jsonl`, `summary.json`) is
//! the other kind, typed in [`fleet`].

mod access;
mod checkpoint;
mod error;
pub mod event;
pub mod files;
pub mod fleet;
mod manifest;
pub mod moved;
mod reader;
mod record;
mod recorder;
mod reorg;
mod stats;
mod summary;
pub mod timings;
mod writer;

pub use access::differences;
pub use checkpoint::Checkpoint;
pub use dualrun_format::file::write_atomic;
pub use error::{Problem, RunDirError};
pub use event::{Elapsed, Observer, RunEvent};
pub use manifest::{
    ChainInputs, CommandSettings, EmbeddedSettings, EnvInputs, Inputs, Manifest, ProfileInputs, ReasonMapInput,
    RunSettings, Shard, ShardRun, Tool, FORMAT, FORMAT_VERSION, OLDEST_FORMAT_VERSION,
};
pub use moved::{Moved, MovedError};
pub use reader::{count_problems, RecordsRead, RunDir};
pub use record::{shell_line, shell_words, Authoritative, JudgedBlock, Record, Side, CSV_HEADER};
pub use recorder::{FirstRecord, Recorder};
pub use reorg::{OrphanedBlock, Orphans, ReorgEvent};
pub use stats::{Histogram, Stats};
pub use summary::{
    ClassCounts, ErrorCounts, InputCounts, Latencies, Latency, LatencyBucket, NoiseCounts, Range, Summary,
    VerdictCounts, VerifiersRun,
};
pub use timings::{Slowest, Timing, Timings, TIMINGS_HEADER};
pub use writer::{lock_dir, rewind_live, DirLock, RunWriter, CHECKPOINT_EVERY, CHECKPOINT_EVERY_BLOCKS};
