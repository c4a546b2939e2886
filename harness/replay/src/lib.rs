//! The replay: a height range of a chain database through the legacy verifier and the candidate
//! ([`dualrun_pipeline`]), every divergence and error recorded in a run directory
//! ([`dualrun_rundir`]) that a resume continues exactly once.
//!
//! - [`engine`]: [`run`] — checks the range, names the inputs, opens or resumes the run directory,
//!   runs the pipeline and finishes the run;
//! - [`inputs`]: what a run is made from, and the chain digest that names the range;
//! - [`command`]: the `dualrun` command a run's inputs stand for (reproduce lines, re-runs);
//! - [`sink`]: the record stage — the pipeline's judged blocks to the run's [`dualrun_rundir::Recorder`],
//!   each step an event to the run's [`dualrun_rundir::Observer`];
//! - [`shard`]: which shard of a range a replay is (`--shard I/N|env`, `--plan N`);
//! - [`merge`]: shard runs of one range made into the single run's directory;
//! - [`rerun`]: a finished run's inputs checked and replayed again, the records compared.

pub mod command;
mod config;
pub mod engine;
pub mod inputs;
pub mod merge;
pub mod rerun;
pub mod shard;
pub mod sink;

pub use engine::{run, run_session, ReplayConfig, ReplayError, RunEnd, RunResult, Session};
