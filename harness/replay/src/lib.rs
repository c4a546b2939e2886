//! The replay engine: feeds every block of a chain database through the legacy verifier and the
//! candidate, applies the mode table, and records every divergence and error with what it takes to
//! reproduce it (the blob, the env, both answers) in a run directory that a resume continues exactly
//! once.
//!
//! - [`engine`]: the pipeline and [`engine::run`];
//! - [`builtin`]: the built-in candidate, leader protocol v1;
//! - [`record`], [`rundir`], [`stats`]: what a run writes and counts.

pub mod builtin;
pub mod engine;
pub mod record;
pub mod rundir;
pub mod stats;

pub use engine::{context_at, run, NowMode, Progress, ReplayConfig, ReplayError, RunEnd, RunResult, Verifiers};
