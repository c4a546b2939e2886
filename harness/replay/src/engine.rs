//! [`run`]: one replay session, from the range check to the finished run directory.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use dualrun_chaindb::{ChainDb, ChainDbError};
use dualrun_core::ReasonMap;
use dualrun_leader::Profile;
use dualrun_pipeline::{context_at, ContextError, LmdbRange, NowMode, Pipeline, Verifiers};
use dualrun_rundir::{Manifest, RunDirError, RunWriter, Summary, Tool, FORMAT, FORMAT_VERSION};

use crate::sink::{FirstRecord, Progress, RecordSink};

/// Why a replay could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    /// The chain context could not be built (another chain than the profile's…).
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The run directory could not be written or resumed.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// A file could not be read.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The request does not make sense (a range, a mode without its verifiers).
    #[error("{0}")]
    Input(String),
}

/// What to replay and how.
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
    pub settings: serde_json::Value,
    /// The run directory.
    pub out: PathBuf,
    /// Continue the run in `out` from its checkpoint.
    pub resume: bool,
    /// Threads for the prepare stage and the chain digest.
    pub threads: usize,
    /// The start of a command that replays one block (`--from H --to H --out DIR` is appended).
    pub reproduce_prefix: String,
    /// Set to stop; the run ends resumable.
    pub interrupt: Arc<AtomicBool>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The whole range is replayed.
    Complete,
    /// Stopped early; `--resume` continues at `next_height`.
    Interrupted {
        /// The first height not replayed.
        next_height: u64,
    },
}

/// What a session did.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Complete or interrupted.
    pub end: RunEnd,
    /// The run directory.
    pub dir: PathBuf,
    /// The run's summary, as written.
    pub summary: Summary,
    /// The first record of this session, for the closing message.
    pub first_record: Option<FirstRecord>,
    /// A resume found the run already complete and did nothing.
    pub already_complete: bool,
}

/// Replays the range, writing the run directory.
pub fn run(
    db: &ChainDb,
    cfg: ReplayConfig,
    verifiers: Verifiers,
    progress: &mut dyn Progress,
) -> Result<RunResult, ReplayError> {
    let mode = verifiers.mode();
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    if cfg.from > tip {
        return Err(ChainDbError::BeyondTip { file: db.data_file().into(), height: cfg.from, tip }.into());
    }
    let last = cfg.to.unwrap_or(tip).min(tip);
    if last < cfg.from {
        return Err(ReplayError::Input(format!("--to {last} is below --from {}", cfg.from)));
    }
    // Genesis check first: a profile for another chain refuses the whole run.
    context_at(db, &cfg.profile, 0)?;
    let digest = crate::inputs::chain_digest(db, cfg.from, last, cfg.threads)?;
    let inputs = crate::inputs::inputs(db, &cfg, last, digest.current(), &verifiers)?;
    let mut manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        tool: Tool::this(),
        inputs_digest: inputs.digest(),
        inputs,
        data_file: db.data_file().into(),
        started_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        complete: false,
        files: None,
    };
    let (writer, checkpoint) = if cfg.resume {
        let (w, old, cp) = RunWriter::resume(&cfg.out, &manifest.inputs)?;
        manifest.started_unix = old.started_unix;
        (w, cp)
    } else {
        (RunWriter::create(&cfg.out, &manifest)?, None)
    };
    if checkpoint.as_ref().is_some_and(|c| c.complete) {
        let summary: Summary = dualrun_rundir::RunDir::load(&cfg.out)?.summary;
        let end = RunEnd::Complete;
        return Ok(RunResult { end, dir: cfg.out, summary, first_record: None, already_complete: true });
    }
    let start = checkpoint.as_ref().map_or(cfg.from, |c| c.next_height);
    let resumed_at = checkpoint.as_ref().map(|c| c.next_height);
    // A session counts from its start, so a checkpoint written during it (then a kill) includes it.
    let mut stats = checkpoint.map(|c| c.stats).unwrap_or_default();
    stats.sessions += 1;
    tracing::info!(dir = %cfg.out.display(), first = cfg.from, last, start, mode = %mode, "replay starting");
    progress.begin(cfg.from, last, resumed_at);

    let mut sink = RecordSink::new(writer, stats, mode, cfg.out.clone(), cfg.reproduce_prefix.clone(), progress);
    let mut next_height = start;
    let mut source_error = None;
    if start <= last {
        let pipeline = Pipeline {
            profile: cfg.profile.clone(),
            now: cfg.now,
            reasons: cfg.reasons.clone(),
            threads: cfg.threads,
            interrupt: cfg.interrupt.clone(),
        };
        let ctx = context_at(db, &cfg.profile, start)?;
        let ended = pipeline.run(LmdbRange::new(db, start, last), ctx, verifiers, &mut sink)?;
        (next_height, source_error) = (ended.next_height, ended.source_error);
    }
    finish(sink, manifest, cfg, last, next_height, source_error)
}

/// Ends the session: records durable first; then the summary and the manifest's digests; only then
/// is the checkpoint marked complete. A kill anywhere in between leaves a checkpoint a resume finishes.
fn finish(
    mut sink: RecordSink<'_>,
    mut manifest: Manifest,
    cfg: ReplayConfig,
    last: u64,
    next_height: u64,
    source_error: Option<ChainDbError>,
) -> Result<RunResult, ReplayError> {
    let stats = sink.stats_now();
    // Every block judged is complete, whatever came after; an interrupt before that leaves it resumable.
    let complete = source_error.is_none() && next_height > last;
    sink.writer.checkpoint(next_height, &stats, false)?;
    sink.progress.end();
    if let Some(e) = source_error {
        return Err(e.into());
    }
    let summary = Summary::from_stats(manifest.inputs.mode, cfg.from, last, &stats, complete, next_height);
    manifest.complete = complete;
    sink.writer.finish(&summary, manifest)?;
    if complete {
        sink.writer.checkpoint(next_height, &stats, true)?;
    }
    let end = if complete { RunEnd::Complete } else { RunEnd::Interrupted { next_height } };
    tracing::info!(blocks = stats.blocks, records = stats.total_records(), complete, "replay finished");
    Ok(RunResult { end, dir: cfg.out, summary, first_record: sink.first_record, already_complete: false })
}
