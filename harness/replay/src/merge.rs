//! [`merge`]: the shard runs of one whole range (`replay --shard I/N`) made into one run directory that is
//! the single run's: the same inputs (the whole range, its chain digest recomputed from the chain), the
//! records in height order — byte-identical to a single replay's — and their per-block timings likewise,
//! and counters and latency histograms summed from the shards' final checkpoints — each shard's
//! checkpoint must give exactly the summary its manifest digests, and that summary's counts must be its
//! records' (so no count comes from a file nobody digested), and the merged record counts are counted
//! from the records written. The merged
//! manifest names each shard by its manifest digest. Shards that are not one run, not finished, edited,
//! missing or overlapping are refused, named; so is a merged directory inside a shard's.

use std::path::{Path, PathBuf};

use dualrun_chaindb::{ChainDb, ChainDbError};
use dualrun_rundir::{
    files, Checkpoint, Inputs, Manifest, RunDir, RunDirError, RunWriter, Shard, ShardRun, Stats, Summary, Timings,
};

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A run directory could not be read or written.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// The chain could not be read to name the whole range.
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    /// One shard is not usable.
    #[error("{}: {problem}", dir.display())]
    Shard {
        /// The shard's directory.
        dir: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The shards are not shards of one run.
    #[error("the shards are not one run: {0}")]
    Different(String),
    /// The shards do not cover the whole range exactly once.
    #[error("the shards do not cover heights {from}..={to} exactly once: {problems}")]
    Coverage {
        /// The whole range's first height.
        from: u64,
        /// Its last height.
        to: u64,
        /// Each missing, doubled or misplaced shard.
        problems: String,
    },
}

/// What a merge made.
#[derive(Debug)]
pub struct Merged {
    /// The merged run's summary.
    pub summary: Summary,
    /// The shards, in height order.
    pub shards: Vec<ShardRun>,
}

/// A shard run as read: finished, untouched, with its shard and its final counters.
struct ShardOf {
    run: RunDir,
    shard: Shard,
    stats: Stats,
}

fn read_shard(dir: &Path) -> Result<ShardOf, MergeError> {
    let bad = |problem: String| MergeError::Shard { dir: dir.into(), problem };
    let run = RunDir::open(dir).map_err(|e| bad(e.to_string()))?;
    let shard = run.manifest.inputs.shard.ok_or_else(|| bad("not a shard (made without replay --shard)".into()))?;
    let cp = Checkpoint::load(&run.path).map_err(|e| bad(e.to_string()))?;
    if !cp.complete {
        return Err(bad("its checkpoint is not complete".into()));
    }
    // The counters are taken from the checkpoint (it alone keeps the latency histograms whole), which no
    // manifest digests: they must be exactly those of the digested summary, whose counts RunDir::open
    // has checked against the records.
    let s = &run.summary;
    let derived = Summary::from_stats(s.mode, s.range.from, s.range.to, &cp.stats, s.complete, s.range.next_height);
    let as_json = |s: &Summary| serde_json::to_value(s).expect("summaries serialize");
    if let Some((field, summary, checkpoint)) = dualrun_rundir::differences(&as_json(s), &as_json(&derived)).first() {
        return Err(bad(format!(
            "{} disagrees with its digested {}: {field} is {summary} there, {checkpoint} by the checkpoint's \
             counters (the checkpoint was edited); refusing to merge counts nobody signed",
            files::CHECKPOINT,
            files::SUMMARY
        )));
    }
    Ok(ShardOf { run, shard, stats: cp.stats })
}

/// Checks that the shards are one run's and cover its range once; returns them in height order.
fn check(mut shards: Vec<ShardOf>) -> Result<Vec<ShardOf>, MergeError> {
    let first = shards.first().ok_or_else(|| MergeError::Different("no shard given".into()))?;
    let (common, whole) = (first.run.manifest.inputs.without_range(), first.shard);
    for s in &shards {
        let rest = s.run.manifest.inputs.without_range();
        if rest != common {
            return Err(MergeError::Different(format!("{}: {}", s.run.path.display(), rest.changes_from(&common))));
        }
        if (s.shard.count, s.shard.from, s.shard.to) != (whole.count, whole.from, whole.to) {
            return Err(MergeError::Different(format!(
                "{} is shard {} of {} of heights {}..={}, {} is of {} of {}..={}",
                s.run.path.display(),
                s.shard.index,
                s.shard.count,
                s.shard.from,
                s.shard.to,
                first.run.path.display(),
                whole.count,
                whole.from,
                whole.to
            )));
        }
    }
    shards.sort_by_key(|s| s.shard.index);
    let mut problems = Vec::new();
    for index in 0..whole.count {
        let (from, to) = Shard { index, ..whole }.range();
        let given: Vec<&ShardOf> = shards.iter().filter(|s| s.shard.index == index).collect();
        match given.as_slice() {
            [] => problems.push(format!("shard {index} (heights {from}..={to}) is missing")),
            [one] => {
                let c = &one.run.manifest.inputs.chain;
                if (c.from, c.to) != (from, to) {
                    problems.push(format!("shard {index} covers {}..={}, not {from}..={to}", c.from, c.to));
                }
            }
            many => {
                let dirs: Vec<String> = many.iter().map(|s| s.run.path.display().to_string()).collect();
                problems.push(format!(
                    "shard {index} (heights {from}..={to}) is given {} times: {}",
                    many.len(),
                    dirs.join(", ")
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(MergeError::Coverage { from: whole.from, to: whole.to, problems: problems.join("; ") });
    }
    Ok(shards)
}

/// Merges the shard runs in `dirs` into a new run directory `out`.
pub fn merge(dirs: &[PathBuf], out: &Path, threads: usize) -> Result<Merged, MergeError> {
    let shards = check(dirs.iter().map(|d| read_shard(d)).collect::<Result<Vec<_>, _>>()?)?;
    let target = resolved(out);
    if let Some(s) = shards.iter().find(|s| target.starts_with(&s.run.path)) {
        return Err(MergeError::Shard {
            dir: s.run.path.clone(),
            problem: format!(
                "--out {} is inside this shard's run directory, which must stay as it was signed; choose a \
                 directory outside every shard",
                out.display()
            ),
        });
    }
    let first = &shards[0];
    let whole = first.shard;
    // The single run's inputs: the whole range, named by its chain digest read from the chain again.
    let mut inputs: Inputs = first.run.manifest.inputs.without_range();
    let db = ChainDb::open(Path::new(&first.run.manifest.inputs.chain.path))?;
    let digest = crate::inputs::chain_digest(&db, whole.from, whole.to, threads)?.current();
    let chain = &mut inputs.chain;
    (chain.from, chain.to, chain.blocks, chain.chain_digest) =
        (whole.from, whole.to, whole.to - whole.from + 1, digest);
    chain.schema_version = first.run.manifest.inputs.chain.schema_version;

    let started = shards.iter().map(|s| s.run.manifest.started_unix).min().unwrap_or(0);
    let mut manifest = Manifest::new(inputs, first.run.manifest.data_file.clone(), started);
    let mut writer = RunWriter::create(out, &manifest)?;
    let mut stats = Stats::default();
    let mut counted = Stats::default();
    for s in &shards {
        for record in s.run.records()? {
            writer.write(&record)?;
            counted.add(record.class);
        }
        let Some(timings) = Timings::open(&s.run.path).map_err(RunDirError::from)? else {
            return Err(MergeError::Shard {
                dir: s.run.path.clone(),
                problem: format!(
                    "it has no {} (run directory format version {}): merge shards made by one dualrun",
                    files::TIMINGS,
                    s.run.manifest.format_version
                ),
            });
        };
        for timing in timings {
            writer.timing(&timing?)?;
        }
        stats.merge(&s.stats);
    }
    // The merged counts are the records written.
    stats.records = counted.records;
    let next = whole.to + 1;
    writer.checkpoint(next, &stats, false)?;
    let summary = Summary::from_stats(manifest.inputs.mode, whole.from, whole.to, &stats, true, next);
    let runs: Vec<ShardRun> = shards
        .iter()
        .map(|s| ShardRun {
            dir: s.run.path.clone(),
            manifest_digest: s.run.manifest_digest,
            from: s.run.manifest.inputs.chain.from,
            to: s.run.manifest.inputs.chain.to,
        })
        .collect();
    manifest.complete = true;
    manifest.shards = Some(runs.clone());
    writer.finish(&summary, manifest)?;
    writer.checkpoint(next, &stats, true)?;
    Ok(Merged { summary, shards: runs })
}

/// `path` with its longest existing ancestor made canonical (the rest appended as given), so that a
/// directory not made yet can be compared with canonical ones.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut at = absolute.as_path();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(at) {
            return rest.iter().rev().fold(canonical, |p, c| p.join(c));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                at = parent;
            }
            _ => return absolute,
        }
    }
}
