//! `dualrun replay`: a chain through the legacy verifier and the candidate, divergences recorded.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dualrun_chaindb::rows::{RowFormat, RowWriter};
use dualrun_replay::shard;
use dualrun_rundir::Shard;

use super::session::{observed, outcome, print_closing, Prepared, RunArgs, SourceArgs};
use crate::chain_arg::{ChainArg, RangeArgs};
use crate::format_arg::Rows;
use crate::Outcome;

#[derive(Args)]
#[command(mut_arg("format", |a| a.requires("plan").help("With --plan: how the shards are printed")))]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile. Default: the bundled sample's, when --chain is not given.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    #[command(flatten)]
    range: RangeArgs,
    /// Replay only shard I of N (from 0) of --from..=--to: N contiguous ranges of equal size, the last
    /// taking the rest. `env`: the index and count from the batch engine (Slurm's
    /// SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT, or Kubernetes'
    /// JOB_COMPLETION_INDEX with --shards N). `dualrun merge` makes one run of the shards.
    #[arg(long, value_name = "I/N|env")]
    shard: Option<String>,
    /// The shard count for `--shard env` under a Kubernetes Indexed Job.
    #[arg(long, value_name = "N")]
    shards: Option<u32>,
    /// Print the shards of --from..=--to for N shards (rows `shard,from,to`) and exit.
    #[arg(long, value_name = "N")]
    plan: Option<u32>,
    #[command(flatten)]
    plan_format: Rows,
    #[command(flatten)]
    run: RunArgs,
}

pub(crate) fn run(a: ReplayArgs) -> Result<Outcome> {
    // Before anything is made: a range that cannot be run leaves no run directory behind.
    let range = a.range.checked()?;
    let profile_path = a.chain.profile(a.profile.as_deref())?;
    let (db, _) = a.chain.open()?;
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    let whole = (range.from, range.to.unwrap_or(tip).min(tip));
    if let Some(count) = a.plan {
        return plan(shard::count(count, whole)?, whole, a.plan_format.get());
    }
    let shard =
        a.shard.as_deref().map(|spec| shard::resolve(spec, a.shards, whole, |v| std::env::var(v))).transpose()?;
    let (from, to) = shard.map_or((range.from, range.to), |s| {
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

/// The columns of `replay --plan`: [`PlannedShard`]'s fields.
const PLAN_COLUMNS: [&str; 3] = ["shard", "from", "to"];

/// A row of `replay --plan`.
#[derive(serde::Serialize)]
struct PlannedShard {
    shard: u32,
    from: u64,
    to: u64,
}

/// Prints the `count` shards of `whole`.
fn plan(count: u32, whole: (u64, u64), format: RowFormat) -> Result<Outcome> {
    let mut w = RowWriter::new(format, &PLAN_COLUMNS, std::io::stdout().lock())?;
    for index in 0..count {
        let (from, to) = Shard { index, count, from: whole.0, to: whole.1 }.range();
        w.write(&PlannedShard { shard: index, from, to })?;
    }
    w.flush()?;
    Ok(Outcome::Clean)
}
