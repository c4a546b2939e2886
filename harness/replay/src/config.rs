//! [`ReplayConfig`]: what to replay and how — read by the engine, named in a run's inputs.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use dualrun_core::ReasonMap;
use dualrun_leader::Profile;
use dualrun_pipeline::NowMode;

/// What to replay and how.
#[derive(Clone)]
pub struct ReplayConfig {
    /// The network profile.
    pub profile: Arc<Profile>,
    /// First height.
    pub from: u64,
    /// Last height (default: the tip).
    pub to: Option<u64>,
    /// Where `now` comes from.
    pub now: NowMode,
    /// Legacy reasons → codes.
    pub reasons: ReasonMap,
    /// Anything else that must match for a resume (timeouts, reason map digest…).
    pub settings: dualrun_rundir::RunSettings,
    /// The run directory.
    pub out: PathBuf,
    /// Continue the run in `out` from its checkpoint.
    pub resume: bool,
    /// Threads for the prepare stage and the chain digest.
    pub threads: usize,
    /// Set to stop; the run ends resumable.
    pub interrupt: Arc<AtomicBool>,
    /// The shard of a whole range this run is (`from`/`to` are then the shard's own range).
    pub shard: Option<dualrun_rundir::Shard>,
}
