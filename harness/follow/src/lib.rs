//! `follow`: a live shadow. A running daemon's main-chain blocks are judged as they arrive, through the
//! same pipeline, verifiers, mode table, records and checkpoints as `replay` ([`dualrun_replay`]'s
//! session with a [`DaemonSource`] in place of a database range), into a *live* run directory:
//!
//! - its inputs name the daemon and the first height; their end and chain digest grow as blocks are
//!   judged (`ids.bin` keeps every judged id), and each clean stop writes the range judged so far with
//!   its chain digest, the one a cold replay of the same blocks computes;
//! - `--resume` continues exactly once from the last checkpoint, after a stop or a `kill -9`, and first
//!   checks that the daemon still holds the last judged block;
//! - a daemon that goes away is waited for with backoff and followed again from the first block not
//!   judged, so a restart of either side loses and skips nothing;
//! - `--to H` ends the run at height H, complete: gate evidence over `from..=H`.

mod source;
pub use dualrun_rpc::zmq;

use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dualrun_format::Hash32;
use dualrun_pipeline::{context_with, ContextError, Verifiers};
use dualrun_replay::{ReplayConfig, ReplayError, RunResult, Session};
use dualrun_rpc::{retry_transient, Daemon, RpcError};
use dualrun_rundir::{files, ChainInputs, Manifest, Observer, OrphanedBlock, ReorgEvent, RunEvent};

pub use source::{DaemonSource, FollowError, INCONSISTENT_GIVE_UP, REMEMBERED};

impl From<FollowError> for ReplayError {
    fn from(e: FollowError) -> ReplayError {
        ReplayError::Source(Box::new(e))
    }
}

/// How to follow, besides what every run has ([`ReplayConfig`]; its `from` is the first height, its
/// `to` the height to stop after, if any).
pub struct FollowConfig {
    /// The daemon's RPC base URL.
    pub url: String,
    /// How long one RPC call may take.
    pub rpc_timeout: Duration,
    /// How often to ask the daemon for new blocks.
    pub poll: Duration,
    /// How long to wait for the daemon to answer at start.
    pub connect_wait: Duration,
    /// The daemon's ZMQ publisher (`tcp://HOST:PORT`), for new-block notices.
    pub zmq: Option<String>,
    /// How long a daemon may serve an inconsistent chain before following stops
    /// ([`FollowError::Inconsistent`]).
    pub inconsistent_give_up: Duration,
    /// The metrics the daemon's health is reported to (its height, reachability, inconsistencies); the
    /// run's own events reach them through the run's observer.
    pub metrics: Option<Arc<dualrun_metrics::Metrics>>,
}

impl FollowConfig {
    fn daemon(&self) -> Daemon {
        Daemon::new(&self.url, self.rpc_timeout)
    }
}

/// The daemon's height now (its tip + 1: the height of the next block), waiting up to `wait` for it to
/// answer.
pub fn daemon_height(daemon: &Daemon, wait: Duration) -> Result<u64, FollowError> {
    let step = Duration::from_millis(250);
    Ok(retry_transient(wait, step, Duration::from_secs(2), || daemon.get_info())?.height)
}

/// Follows the daemon into `cfg.out` until interrupted (exit resumable) or past `cfg.to` (complete).
/// A reorganization of the daemon's chain is recorded in `reorgs.jsonl` (the orphaned blocks' records
/// stay), the run is taken back to the fork, and the new branch is judged — with verifiers made afresh
/// by `make_verifiers`, as for any session.
pub fn run(
    follow: FollowConfig,
    mut cfg: ReplayConfig,
    make_verifiers: &mut dyn FnMut() -> Result<Verifiers, ReplayError>,
    observer: &mut dyn Observer,
) -> Result<RunResult, ReplayError> {
    if let Some(to) = cfg.to.filter(|t| *t < cfg.from) {
        return Err(ReplayError::Input(format!("--to {to} is below --from {}", cfg.from)));
    }
    if cfg.resume {
        // The run directory is read as every reader reads one: a format this dualrun does not know is
        // refused before anything of it (the checkpoint, ids.bin) is used.
        Manifest::load(&cfg.out)?;
    }
    let height = daemon_height(&follow.daemon(), follow.connect_wait).map_err(ReplayError::from)?;
    if let Some(m) = &follow.metrics {
        m.daemon(Some(height));
    }
    // One subscription for the whole run, whatever the sessions.
    let notices = match &follow.zmq {
        Some(endpoint) => Some(Arc::new(Mutex::new(
            zmq::notices(endpoint).map_err(|e| ReplayError::Input(format!("--zmq {endpoint}: {e}")))?,
        ))),
        None => None,
    };
    loop {
        let result = session(&follow, cfg.clone(), make_verifiers()?, notices.clone(), observer);
        let Err(ReplayError::Source(e)) = result else { return result };
        match e.downcast::<FollowError>().map(|e| *e) {
            Ok(FollowError::Reorg { fork, orphaned, daemon_height }) => {
                let event = ReorgEvent {
                    fork_height: fork,
                    daemon_height,
                    orphaned: orphaned
                        .into_iter()
                        .map(|(height, block_id)| OrphanedBlock { height, block_id })
                        .collect(),
                    records_before: 0,
                };
                tracing::warn!(
                    fork,
                    orphaned = event.orphaned.len(),
                    "the daemon's chain reorganized: the orphaned blocks' records stay (see reorgs.jsonl); \
                     judging the new branch from the fork"
                );
                // The checkpoint, the event and the cut of ids.bin as one step a kill cannot split.
                if let Some(recorded) = dualrun_rundir::rewind_live(&cfg.out, event)? {
                    observer.observe(&RunEvent::Reorganized { event: &recorded });
                }
                if cfg.interrupt.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(ReplayError::Input(format!(
                        "stopped as the daemon's chain reorganized (recorded; the run is back at height {fork}): \
                         continue with the same command and --out {} --resume",
                        cfg.out.display()
                    )));
                }
                cfg.resume = true;
            }
            Ok(other) => return Err(other.into()),
            Err(e) => return Err(ReplayError::Source(e)),
        }
    }
}

/// One session of a live run: from its checkpoint (or `from`) until it stops.
fn session(
    follow: &FollowConfig,
    cfg: ReplayConfig,
    verifiers: Verifiers,
    notices: Option<Arc<Mutex<Receiver<()>>>>,
    observer: &mut dyn Observer,
) -> Result<RunResult, ReplayError> {
    let daemon = follow.daemon();
    let chain = ChainInputs {
        path: daemon.url().to_owned(),
        schema_version: 0,
        genesis_id: cfg.profile.genesis_id,
        from: cfg.from,
        to: cfg.from,
        blocks: 0,
        chain_digest: Hash32::default(),
        live: true,
    };
    let inputs = dualrun_replay::inputs::run_inputs(&cfg, chain, &verifiers);
    // On resume the blocks judged last are what a reorganization is traced back through (and the next
    // block must build on the last of them).
    let judged = if cfg.resume { judged_tail(&cfg.out, cfg.from) } else { Vec::new() };
    let (network, interrupt, metrics, to) =
        (cfg.profile.network(), cfg.interrupt.clone(), follow.metrics.clone(), cfg.to);
    let (poll, wait, give_up) = (follow.poll, follow.connect_wait, follow.inconsistent_give_up);
    let session = Session {
        inputs,
        data_file: daemon.url().into(),
        last: cfg.to,
        open: Box::new(move |start| {
            let step = Duration::from_millis(250);
            let ctx = context_with(&network, start, |h| {
                let (blob, header) = retry_transient(wait, step, Duration::from_secs(2), || daemon.block(h))
                    .map_err(|e: RpcError| ContextError::Source(Box::new(e)))?;
                Ok((blob, header.hash))
            })?;
            let source = DaemonSource::new(daemon, start, to, poll, interrupt)
                .with_metrics(metrics)
                .with_judged(judged)
                .with_notices(notices)
                .with_inconsistent_give_up(give_up);
            Ok((source, ctx))
        }),
        judged: None,
    };
    dualrun_replay::run_session(session, cfg, verifiers, observer)
}

/// The ids of the last judged blocks (up to [`source::REMEMBERED`]), with their heights, as the
/// checkpoint has them.
fn judged_tail(dir: &Path, from: u64) -> Vec<(u64, Hash32)> {
    use std::io::Read;
    let Ok(cp) = dualrun_rundir::Checkpoint::load(dir) else { return Vec::new() };
    let Ok(Some((file, _))) = files::open(dir, files::IDS) else { return Vec::new() };
    let mut bytes = Vec::new();
    if file.take(cp.ids_bytes).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let end = usize::try_from(cp.ids_bytes).unwrap_or(0).min(bytes.len()) / 32;
    let start = end.saturating_sub(source::REMEMBERED);
    (start..end).map(|i| (from + i as u64, Hash32(bytes[i * 32..i * 32 + 32].try_into().expect("32 bytes")))).collect()
}
