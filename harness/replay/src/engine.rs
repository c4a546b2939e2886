//! [`run`]: one replay session, from the range check to the finished run directory.

use std::path::PathBuf;

use dualrun_chaindb::{ChainDb, ChainDbError, ChainDigest};
use dualrun_network::ChainContext;
use dualrun_pipeline::{context_at, BlockSource, ContextError, LmdbRange, Pipeline, Verifiers};
use dualrun_rundir::Inputs;
use dualrun_rundir::{FirstRecord, Manifest, Observer, Recorder, RunDirError, RunEvent, RunWriter, Summary};

pub use crate::config::ReplayConfig;
use crate::sink::RecordSink;

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
    /// A verifier stopped the run; it is checkpointed before the block, and `--resume` continues there.
    #[error(
        "the {role} terminated the process at height {height} ({reason}); the run in {dir} stopped before it: \
         fix the {role}, then continue with the same command and --out {dir} --resume (it restarts at height \
         {next_height})",
        role = stop.role, height = stop.height, reason = stop.reason, dir = dir.display()
    )]
    VerifierStopped {
        /// Who stopped it, where and why.
        stop: dualrun_pipeline::VerifierStop,
        /// The run directory.
        dir: PathBuf,
        /// Where a resume starts.
        next_height: u64,
    },
    /// The request does not make sense (a range, a mode without its verifiers).
    #[error("{0}")]
    Input(String),
    /// Another block source failed (a daemon that cannot be reached…).
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync>),
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

/// Replays the range of a chain database, writing the run directory.
pub fn run(
    db: &ChainDb,
    cfg: ReplayConfig,
    verifiers: Verifiers,
    observer: &mut dyn Observer,
) -> Result<RunResult, ReplayError> {
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    if cfg.from > tip {
        return Err(ChainDbError::BeyondTip { file: db.data_file().into(), height: cfg.from, tip }.into());
    }
    let last = cfg.to.unwrap_or(tip).min(tip);
    if last < cfg.from {
        return Err(ReplayError::Input(format!("--to {last} is below --from {}", cfg.from)));
    }
    // Genesis check first: a profile for another chain refuses the whole run.
    let network = cfg.profile.network();
    context_at(db, &network, 0)?;
    let inputs = crate::inputs::inputs(db, &cfg, last, &verifiers)?;
    let threads = cfg.threads;
    let session = Session {
        inputs,
        data_file: db.data_file().into(),
        last: Some(last),
        open: Box::new(move |start| Ok((LmdbRange::new(db, start, last), context_at(db, &network, start)?))),
        judged: Some(Box::new(move |from, next| match next.checked_sub(1).filter(|&last| last >= from) {
            Some(last) => Ok(crate::inputs::chain_digest(db, from, last, threads)?),
            None => Ok(ChainDigest::new()),
        })),
    };
    run_session(session, cfg, verifiers, observer)
}

/// What a session reads: the inputs it names and, once the start height is known (a resume starts at
/// its checkpoint), its block source and the chain context of its first block. `replay` reads a chain
/// database; `follow` a daemon.
pub struct Session<'a, S> {
    /// What the run is made from (the manifest's inputs; a resume must find them unchanged).
    pub inputs: Inputs,
    /// Where the blocks are read from, for the manifest (`data.mdb`, or the daemon's URL).
    pub data_file: PathBuf,
    /// The last height; `None` for a live run, which goes on until it is stopped.
    pub last: Option<u64>,
    /// Opens the source at a height and builds the chain context of that height.
    #[allow(clippy::type_complexity)]
    pub open: Box<dyn FnOnce(u64) -> Result<(S, ChainContext), ReplayError> + 'a>,
    /// A run over a fixed range: the chain digest of heights `from..next` as the source has them now,
    /// which a resume checks against the checkpoint's before it goes on (`None`: a live run, whose
    /// judged ids are in `ids.bin`).
    #[allow(clippy::type_complexity)]
    pub judged: Option<Box<dyn FnOnce(u64, u64) -> Result<ChainDigest, ReplayError> + 'a>>,
}

/// Runs a session into the run directory (created, or resumed with `cfg.resume`) and finishes it.
pub fn run_session<S>(
    session: Session<'_, S>,
    cfg: ReplayConfig,
    verifiers: Verifiers,
    observer: &mut dyn Observer,
) -> Result<RunResult, ReplayError>
where
    S: BlockSource,
    S::Error: Into<ReplayError>,
{
    let mode = verifiers.mode();
    let Session { inputs, data_file, last, open, judged } = session;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut manifest = Manifest::new(inputs, data_file, now);
    let (mut writer, checkpoint) = if cfg.resume {
        let (w, old, cp) = RunWriter::resume(&cfg.out, &manifest.inputs)?;
        manifest.started_unix = old.started_unix;
        (w, cp)
    } else {
        (RunWriter::create(&cfg.out, &manifest)?, None)
    };
    // A finished run with an end stays finished; a live run is reopened and goes on.
    if checkpoint.as_ref().is_some_and(|c| c.complete && last.is_some_and(|l| c.next_height > l)) {
        let summary: Summary = dualrun_rundir::RunDir::load(&cfg.out)?.summary;
        let end = RunEnd::Complete;
        return Ok(RunResult { end, dir: cfg.out, summary, first_record: None, already_complete: true });
    }
    if cfg.resume && manifest.inputs.chain.live {
        // Reopened: until it stops again, the run is not finished (its files grow).
        writer.write_manifest(&manifest)?;
    }
    let start = checkpoint.as_ref().map_or(cfg.from, |c| c.next_height);
    // The chain digest is computed as blocks are judged: a resume first checks the chain still has the
    // blocks judged before it, and goes on from their digest.
    if let (Some(cp), Some(judged)) = (&checkpoint, judged) {
        writer.continue_digest(cp, judged(cfg.from, start)?)?;
    }
    if let Some(last) = last.filter(|l| start > l + 1) {
        // A live run resumed with an end below what it has judged: the run cannot be made to end there.
        return Err(ReplayError::Input(format!(
            "--to {last}: the run in {} has already judged up to height {}; give --to {} or more",
            cfg.out.display(),
            start - 1,
            start - 1
        )));
    }
    let resumed_at = checkpoint.as_ref().map(|c| c.next_height);
    // A session counts from its start: checkpointed at once, so even a session killed before its first
    // block is counted.
    let mut stats = checkpoint.map(|c| c.stats).unwrap_or_default();
    stats.sessions += 1;
    // What the verifiers carried at the checkpoint (an exec adapter's used restart budget).
    let mut verifiers = verifiers;
    verifiers.restore(&stats.verifier_state);
    writer.checkpoint(start, &stats, false)?;
    tracing::info!(dir = %cfg.out.display(), first = cfg.from, last = ?last, start, mode = %mode, "run starting");
    observer.observe(&RunEvent::Started { first: cfg.from, last, resumed_at });

    let command = crate::command::words(&manifest.inputs).ok();
    let mut recorder = Recorder::new(writer, stats, mode);
    recorder.checkpoint_each_batch = manifest.inputs.chain.live;
    let mut sink = RecordSink::new(recorder, cfg.out.clone(), command, observer);
    let mut ended = SessionEnd { next_height: start, source_error: None, verifier_stop: None };
    if last.is_none_or(|l| start <= l) {
        let pipeline = Pipeline {
            network: cfg.profile.network(),
            activation_height: cfg.profile.activation_height,
            now: cfg.now,
            reasons: cfg.reasons.clone(),
            threads: cfg.threads,
            noise: cfg.settings.noise(),
            interrupt: cfg.interrupt.clone(),
        };
        let (source, ctx) = open(start)?;
        let e = pipeline.run(source, ctx, verifiers, &mut sink)?;
        ended = SessionEnd {
            next_height: e.next_height,
            source_error: e.source_error.map(Into::into),
            verifier_stop: e.verifier_stop,
        };
    }
    finish(sink, manifest, cfg, last, ended)
}

/// Where the pipeline stopped, and what stopped it early.
struct SessionEnd {
    next_height: u64,
    source_error: Option<ReplayError>,
    verifier_stop: Option<dualrun_pipeline::VerifierStop>,
}

/// Ends the session: records durable first; then the summary and the manifest's digests; only then
/// is the checkpoint marked complete. A kill anywhere in between leaves a checkpoint a resume finishes.
fn finish(
    mut sink: RecordSink<'_>,
    mut manifest: Manifest,
    cfg: ReplayConfig,
    last: Option<u64>,
    ended: SessionEnd,
) -> Result<RunResult, ReplayError> {
    let SessionEnd { next_height, source_error, verifier_stop } = ended;
    let stats = sink.recorder.stats_now();
    // Every block judged is complete, whatever came after; an interrupt before that leaves it resumable.
    // A live run without an end is never complete: it stops resumable.
    let complete = source_error.is_none() && verifier_stop.is_none() && last.is_some_and(|l| next_height > l);
    sink.recorder.writer.checkpoint(next_height, &stats, false)?;
    sink.observer.observe(&RunEvent::Stopped { next_height, complete });
    // A verifier that stopped the run is said first: the source may have failed only because the run
    // was stopping.
    if let Some(stop) = verifier_stop {
        tracing::error!(role = stop.role, height = stop.height, reason = %stop.reason, "a verifier stopped the run");
        return Err(ReplayError::VerifierStopped { stop, dir: cfg.out, next_height });
    }
    if let Some(e) = source_error {
        return Err(e);
    }
    // A live run names the range it has judged so far, with its chain digest; a run over a fixed range
    // its digest once it is complete.
    let judged = next_height.saturating_sub(cfg.from);
    let last = last.unwrap_or(if judged == 0 { cfg.from } else { next_height - 1 });
    let (digest, blocks) = sink.recorder.writer.judged_digest()?;
    let chain = &mut manifest.inputs.chain;
    if chain.live {
        (chain.to, chain.blocks, chain.chain_digest) = (last, blocks, digest);
    } else if complete {
        chain.chain_digest = digest;
    }
    manifest.inputs_digest = manifest.inputs.digest();
    let summary = Summary::from_stats(manifest.inputs.mode, cfg.from, last, &stats, complete, next_height);
    manifest.complete = complete;
    sink.recorder.writer.finish(&summary, manifest)?;
    if complete {
        sink.recorder.writer.checkpoint(next_height, &stats, true)?;
    }
    let end = if complete { RunEnd::Complete } else { RunEnd::Interrupted { next_height } };
    tracing::info!(blocks = stats.blocks, records = stats.total_records(), complete, "replay finished");
    Ok(RunResult {
        end,
        dir: cfg.out,
        summary,
        first_record: sink.recorder.first_record().cloned(),
        already_complete: false,
    })
}
