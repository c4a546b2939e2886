//! Which shard of a range a replay is (`replay --shard I/N|env`, `--plan N`): a count that leaves every
//! shard a block ([`count`]), and the shard a spec names ([`resolve`]) — `I/N`, or `env`, the index and
//! count a batch engine gives its task (Slurm's array variables, a Kubernetes Indexed Job's index).

use std::env::VarError;
use std::num::ParseIntError;

use dualrun_rundir::Shard;

/// A shard that cannot be made of a range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// The range ends below its start.
    #[error("--to {to} is below --from {from}")]
    Range {
        /// The first height.
        from: u64,
        /// The last height.
        to: u64,
    },
    /// No shard count, or more shards than blocks.
    #[error("{count} shards of {blocks} blocks (heights {from}..={to}): give 1 to {blocks} shards")]
    Count {
        /// The count asked for.
        count: u32,
        /// The blocks of the range.
        blocks: u64,
        /// The first height.
        from: u64,
        /// The last height.
        to: u64,
    },
    /// A spec that is neither `I/N` nor `env`.
    #[error("--shard {0:?}: expected I/N (e.g. 0/4) or env")]
    Spec(String),
    /// An index past the last shard.
    #[error("--shard {index}/{count}: shards are numbered 0 to {}", count - 1)]
    Index {
        /// The index.
        index: u32,
        /// The count.
        count: u32,
    },
    /// `env` without a batch engine's variables.
    #[error("--shard env: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set")]
    NoBatchEngine,
    /// A Kubernetes Indexed Job, whose count is not in its environment.
    #[error("--shard env under a Kubernetes Indexed Job needs --shards N (its completions)")]
    NoCount,
    /// A variable the engine should have set.
    #[error("--shard env: {name} is not set")]
    Unset {
        /// The variable.
        name: &'static str,
        /// Why it could not be read.
        #[source]
        source: VarError,
    },
    /// A variable that is not a number.
    #[error("--shard env: {name}={value:?} is not a number")]
    NotANumber {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why.
        #[source]
        source: ParseIntError,
    },
    /// A Slurm task id below the array's first.
    #[error("--shard env: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")]
    BelowMin,
}

/// `count`, when it leaves every shard of the heights `from..=to` a block.
pub fn count(count: u32, (from, to): (u64, u64)) -> Result<u32, ShardError> {
    if to < from {
        return Err(ShardError::Range { from, to });
    }
    let blocks = to - from + 1;
    if count == 0 || u64::from(count) > blocks {
        return Err(ShardError::Count { count, blocks, from, to });
    }
    Ok(count)
}

/// The shard of the heights `whole` that `spec` names: `I/N`, or `env` — the index and count from `env`
/// (a variable's value, as [`std::env::var`] gives it): Slurm's `SLURM_ARRAY_TASK_ID` −
/// `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`, or a Kubernetes Indexed Job's
/// `JOB_COMPLETION_INDEX` of `shards`.
pub fn resolve(
    spec: &str,
    shards: Option<u32>,
    whole: (u64, u64),
    env: impl Fn(&str) -> Result<String, VarError>,
) -> Result<Shard, ShardError> {
    let set = |name: &str| !matches!(env(name), Err(VarError::NotPresent));
    let var = |name: &'static str| -> Result<u32, ShardError> {
        let value = env(name).map_err(|source| ShardError::Unset { name, source })?;
        value.trim().parse().map_err(|source| ShardError::NotANumber { name, value: value.clone(), source })
    };
    let (index, total) = if spec == "env" {
        if set("SLURM_ARRAY_TASK_ID") {
            let min = if set("SLURM_ARRAY_TASK_MIN") { var("SLURM_ARRAY_TASK_MIN")? } else { 0 };
            let id = var("SLURM_ARRAY_TASK_ID")?;
            (id.checked_sub(min).ok_or(ShardError::BelowMin)?, var("SLURM_ARRAY_TASK_COUNT")?)
        } else if set("JOB_COMPLETION_INDEX") {
            let total = shards.ok_or(ShardError::NoCount)?;
            (var("JOB_COMPLETION_INDEX")?, total)
        } else {
            return Err(ShardError::NoBatchEngine);
        }
    } else {
        let parsed = spec.split_once('/').and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)));
        parsed.ok_or_else(|| ShardError::Spec(spec.to_owned()))?
    };
    let total = count(total, whole)?;
    if index >= total {
        return Err(ShardError::Index { index, count: total });
    }
    Ok(Shard { index, count: total, from: whole.0, to: whole.1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> + 'a {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()).ok_or(VarError::NotPresent)
    }

    #[test]
    fn a_spec_names_a_shard_of_the_whole_range() {
        let shard = |index, count| Shard { index, count, from: 10, to: 109 };
        assert_eq!(resolve("1/4", None, (10, 109), env(&[])), Ok(shard(1, 4)));
        let slurm = [("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "5"), ("SLURM_ARRAY_TASK_COUNT", " 4\n")];
        assert_eq!(resolve("env", None, (10, 109), env(&slurm)), Ok(shard(2, 4)));
        assert_eq!(resolve("env", Some(3), (10, 109), env(&[("JOB_COMPLETION_INDEX", "2")])), Ok(shard(2, 3)));
    }

    #[test]
    fn what_cannot_be_a_shard_is_named() {
        let said = |r: Result<Shard, ShardError>| r.unwrap_err().to_string();
        assert_eq!(said(resolve("1-4", None, (0, 9), env(&[]))), "--shard \"1-4\": expected I/N (e.g. 0/4) or env");
        assert_eq!(said(resolve("4/4", None, (0, 9), env(&[]))), "--shard 4/4: shards are numbered 0 to 3");
        assert_eq!(
            said(resolve("0/11", None, (0, 9), env(&[]))),
            "11 shards of 10 blocks (heights 0..=9): give 1 to 10 shards"
        );
        assert_eq!(said(resolve("0/1", None, (5, 4), env(&[]))), "--to 4 is below --from 5");
        assert_eq!(said(resolve("env", None, (0, 9), env(&[]))), ShardError::NoBatchEngine.to_string());
        assert_eq!(
            said(resolve("env", None, (0, 9), env(&[("JOB_COMPLETION_INDEX", "1")]))),
            ShardError::NoCount.to_string()
        );
        let below = [("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "2"), ("SLURM_ARRAY_TASK_COUNT", "2")];
        assert_eq!(resolve("env", None, (0, 9), env(&below)), Err(ShardError::BelowMin));
        let e = resolve("env", None, (0, 9), env(&[("SLURM_ARRAY_TASK_ID", "x")])).unwrap_err();
        assert!(matches!(e, ShardError::NotANumber { name: "SLURM_ARRAY_TASK_ID", .. }), "{e}");
        assert_eq!(e.to_string(), "--shard env: SLURM_ARRAY_TASK_ID=\"x\" is not a number");
        let e = resolve("env", None, (0, 9), env(&[("SLURM_ARRAY_TASK_ID", "1")])).unwrap_err();
        assert_eq!(e, ShardError::Unset { name: "SLURM_ARRAY_TASK_COUNT", source: VarError::NotPresent });
        assert_eq!(count(0, (0, 9)), Err(ShardError::Count { count: 0, blocks: 10, from: 0, to: 9 }));
    }
}
