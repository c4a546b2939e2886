//! `dualrun follow`: a running daemon's blocks judged as they arrive, into a live run directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use dualrun_follow::{FollowConfig, FollowError};
use dualrun_rpc::Daemon;
use dualrun_rundir::Manifest;

use super::session::{observed, outcome, print_closing, Prepared, RunArgs, SourceArgs};
use crate::Outcome;

#[derive(Args)]
pub(crate) struct FollowArgs {
    /// The daemon's RPC, e.g. http://127.0.0.1:18081 (read-only calls only: get_info, get_block).
    #[arg(long, value_name = "URL")]
    daemon: String,
    /// The network profile. Default: the bundled sample's.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// First height. Default: the daemon's height now (the next block to arrive); on --resume, the run's.
    #[arg(long, value_name = "H")]
    from: Option<u64>,
    /// Stop after judging this height: the run is then complete over --from..=H (gate evidence).
    #[arg(long, value_name = "H")]
    to: Option<u64>,
    /// How often to ask the daemon for new blocks, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 250)]
    poll_ms: u64,
    /// The daemon's ZMQ publisher (monerod --zmq-pub), e.g. tcp://127.0.0.1:18083: new blocks are
    /// noticed at once instead of at the next poll.
    #[arg(long, value_name = "tcp://HOST:PORT")]
    zmq: Option<String>,
    /// How long to wait for the daemon to answer at start, in seconds.
    #[arg(long, value_name = "S", default_value_t = 30)]
    connect_seconds: u64,
    /// How long the daemon may serve a block that does not link to the block it serves below it
    /// (asked again with backoff meanwhile) before following stops with exit 1, in seconds.
    #[arg(long, value_name = "S", default_value_t = 60)]
    inconsistent_seconds: u64,
    #[command(flatten)]
    run: RunArgs,
}

pub(crate) fn run(a: FollowArgs) -> Result<Outcome> {
    if let Some(from) = a.from {
        crate::chain_arg::check_range(from, a.to)?;
    }
    let profile_path = match &a.profile {
        Some(p) => p.clone(),
        None => dualrun_sample::profile()?,
    };
    let rpc_timeout = Duration::from_secs_f64(a.run.timeout).max(Duration::from_secs(5));
    let daemon = Daemon::new(&a.daemon, rpc_timeout);
    let connect_wait = Duration::from_secs(a.connect_seconds);
    let from = match (a.from, a.run.resume) {
        (Some(h), _) => h,
        (None, true) => resumed_from(a.run.out.as_ref())?,
        (None, false) => dualrun_follow::daemon_height(&daemon, connect_wait)?,
    };
    let source = SourceArgs {
        profile_path: &profile_path,
        from,
        to: a.to,
        // A watched child follows from the same height, not the daemon's height when it starts.
        shard: None,
        child_args: if a.from.is_none() && !a.run.resume {
            vec!["--from".into(), from.to_string().into()]
        } else {
            vec![]
        },
    };
    let mut ready = match a.run.prepare(source)? {
        Prepared::Watched(outcome) => return Ok(outcome),
        Prepared::Ready(ready) => *ready,
    };
    tracing::info!(daemon = %a.daemon, from, to = ?a.to, "following");
    let follow = FollowConfig {
        url: a.daemon.clone(),
        rpc_timeout,
        poll: Duration::from_millis(a.poll_ms.max(1)),
        connect_wait,
        zmq: a.zmq.clone(),
        inconsistent_give_up: Duration::from_secs(a.inconsistent_seconds),
        metrics: ready.metrics.clone(),
    };
    let mut make_verifiers =
        || (ready.make_verifiers)().map_err(|e| dualrun_replay::ReplayError::Input(format!("{e:#}")));
    let followed = observed(ready.metrics, |o| dualrun_follow::run(follow, ready.cfg, &mut make_verifiers, o));
    let result = match followed {
        // An input finding about the daemon, not a failure to run: said, exit 1, resumable.
        Err(dualrun_replay::ReplayError::Source(e))
            if matches!(e.downcast_ref::<FollowError>(), Some(FollowError::Inconsistent { .. })) =>
        {
            eprintln!("dualrun: {e}");
            return Ok(Outcome::Finding);
        }
        result => result?,
    };
    print_closing(&result, "followed")?;
    Ok(outcome(&result))
}

/// The first height of the run being resumed.
fn resumed_from(out: Option<&PathBuf>) -> Result<u64> {
    let Some(out) = out else { bail!("--resume needs --out") };
    let manifest = Manifest::load(out)?;
    if !manifest.inputs.chain.live {
        bail!("{}: not a run of `follow` (resume it with `dualrun replay … --resume`)", out.display());
    }
    Ok(manifest.inputs.chain.from)
}
