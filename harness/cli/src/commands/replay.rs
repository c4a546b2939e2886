//! `dualrun replay`: a chain through the legacy verifier and the candidate, divergences recorded.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use dualrun_rundir::Shard;

use super::session::{observed, outcome, print_closing, Prepared, RunArgs, SourceArgs};
use crate::chain_arg::ChainArg;
use crate::Outcome;

#[derive(Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile. Default: the bundled sample's, when --chain is not given.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// First height.
    #[arg(long, value_name = "H", default_value_t = 0)]
    from: u64,
    /// Last height (inclusive; default: the tip).
    #[arg(long, value_name = "H")]
    to: Option<u64>,
    /// Replay only shard I of N (from 0) of --from..=--to: N contiguous ranges of equal size, the last
    /// taking the rest. `env`: the index and count from the batch engine (Slurm's
    /// SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT, or Kubernetes'
    /// JOB_COMPLETION_INDEX with --shards N). `dualrun merge` makes one run of the shards.
    #[arg(long, value_name = "I/N|env")]
    shard: Option<String>,
    /// The shard count for `--shard env` under a Kubernetes Indexed Job.
    #[arg(long, value_name = "N")]
    shards: Option<u32>,
    /// Print the shards of --from..=--to for N shards (CSV `shard,from,to`) and exit.
    #[arg(long, value_name = "N")]
    plan: Option<u32>,
    #[command(flatten)]
    run: RunArgs,
}

pub(crate) fn run(a: ReplayArgs) -> Result<Outcome> {
    // Before anything is made: a range that cannot be run leaves no run directory behind.
    crate::chain_arg::check_range(a.from, a.to)?;
    let profile_path = a.chain.profile(a.profile.as_deref())?;
    let (db, _) = a.chain.open()?;
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    let whole = (a.from, a.to.unwrap_or(tip).min(tip));
    if let Some(count) = a.plan {
        let count = shard_count(count, whole)?;
        outln!("shard,from,to")?;
        for index in 0..count {
            let (from, to) = Shard { index, count, from: whole.0, to: whole.1 }.range();
            outln!("{index},{from},{to}")?;
        }
        return Ok(Outcome::Clean);
    }
    let shard = a.shard.as_deref().map(|spec| shard_of(spec, a.shards, whole)).transpose()?;
    let (from, to) = shard.map_or((a.from, a.to), |s| {
        let (f, t) = s.range();
        (f, Some(t))
    });
    let source = SourceArgs { profile_path: &profile_path, from, to, child_args: vec![], shard };
    let mut ready = match a.run.prepare(source)? {
        Prepared::Watched(outcome) => return Ok(outcome),
        Prepared::Ready(ready) => *ready,
    };
    let verifiers = (ready.make_verifiers)()?;
    let result = observed(ready.metrics, |o| dualrun_replay::run(&db, ready.cfg, verifiers, o))?;
    print_closing(&result, "replayed")?;
    Ok(outcome(&result))
}

/// A shard count that leaves every shard a block.
fn shard_count(count: u32, (from, to): (u64, u64)) -> Result<u32> {
    crate::chain_arg::check_range(from, Some(to))?;
    let blocks = to - from + 1;
    if count == 0 || u64::from(count) > blocks {
        bail!("{count} shards of {blocks} blocks (heights {from}..={to}): give 1 to {blocks} shards");
    }
    Ok(count)
}

/// `--shard I/N` or `--shard env` as a shard of the whole range.
fn shard_of(spec: &str, shards: Option<u32>, whole: (u64, u64)) -> Result<Shard> {
    let var = |name: &str| -> Result<u32> {
        let v = std::env::var(name).with_context(|| format!("--shard env: {name} is not set"))?;
        v.trim().parse().with_context(|| format!("--shard env: {name}={v:?} is not a number"))
    };
    let (index, count) = if spec == "env" {
        if std::env::var_os("SLURM_ARRAY_TASK_ID").is_some() {
            let min = if std::env::var_os("SLURM_ARRAY_TASK_MIN").is_some() { var("SLURM_ARRAY_TASK_MIN")? } else { 0 };
            let id = var("SLURM_ARRAY_TASK_ID")?;
            (
                id.checked_sub(min).context("--shard env: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?,
                var("SLURM_ARRAY_TASK_COUNT")?,
            )
        } else if std::env::var_os("JOB_COMPLETION_INDEX").is_some() {
            let count =
                shards.context("--shard env under a Kubernetes Indexed Job needs --shards N (its completions)")?;
            (var("JOB_COMPLETION_INDEX")?, count)
        } else {
            bail!("--shard env: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set");
        }
    } else {
        let parsed = spec.split_once('/').and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
        parsed.with_context(|| format!("--shard {spec:?}: expected I/N (e.g. 0/4) or env"))?
    };
    let count = shard_count(count, whole)?;
    if index >= count {
        bail!("--shard {index}/{count}: shards are numbered 0 to {}", count - 1);
    }
    Ok(Shard { index, count, from: whole.0, to: whole.1 })
}
