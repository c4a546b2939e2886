//! `dualrun merge`: the shard runs of one range (`replay --shard I/N`) made into one run directory, the
//! single run's.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::chain_arg::threads;
use crate::Outcome;

#[derive(Args)]
pub(crate) struct MergeArgs {
    /// The shard run directories, in any order.
    #[arg(value_name = "RUN_DIR", required = true)]
    runs: Vec<PathBuf>,
    /// The merged run directory (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Threads for the chain digest of the whole range (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

pub(crate) fn run(a: MergeArgs) -> Result<Outcome> {
    let merged = dualrun_replay::merge::merge(&a.runs, &a.out, threads(a.threads))?;
    let s = &merged.summary;
    outln!(
        "merged {} shards: {} blocks (heights {}..={}) in {} mode, {} records",
        merged.shards.len(),
        s.blocks,
        s.range.from,
        s.range.to,
        s.mode,
        s.records
    )?;
    for shard in &merged.shards {
        outln!("  {}..={}  {}  manifest {}", shard.from, shard.to, shard.dir.display(), shard.manifest_digest)?;
    }
    outln!("  run directory  {}/", a.out.display())?;
    Ok(Outcome::clean_if(s.records == 0))
}
