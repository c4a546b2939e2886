//! The chain commands that compare: `verify` (a chain against checkpoints) and `diff` (two chains).

use std::path::Path;

use anyhow::Result;
use dualrun_chaindb::compare::{self, Diff};

use super::report_mismatch;
use crate::chain_arg::ChainArg;
use crate::Outcome;

pub(super) fn verify(chain: &ChainArg, file: &Path) -> Result<Outcome> {
    let expected = compare::read_checkpoints(file)?;
    let (db, label) = chain.open()?;
    let last = expected.last().map_or(0, |c| c.height);
    let mut stored_mismatches = 0u64;
    let failure = compare::verify_checkpoints(&db, &expected, |b| {
        stored_mismatches += 1;
        report_mismatch(db.data_file(), b);
    })?;
    match &failure {
        None => outln!("{label}: all {} checkpoints match (up to height {last})", expected.len())?,
        Some(f) => outln!("{label}: first mismatch at {f}")?,
    }
    outln!("{label}: (compared: the computed block ids, each blob hashed, with the checkpoints)")?;
    if stored_mismatches > 0 {
        outln!("{label}: {stored_mismatches} stored ids differ from the computed ids (listed on stderr)")?;
    }
    Ok(Outcome::clean_if(failure.is_none() && stored_mismatches == 0))
}

pub(super) fn diff(a: &Path, b: &Path) -> Result<Outcome> {
    let mut stored_mismatches = 0u64;
    let result = compare::diff(a, b, |path, block| {
        stored_mismatches += 1;
        report_mismatch(path, block);
    })?;
    let outcome = diff_outcome(a, b, result)?;
    outln!("(compared: the computed block ids, each blob hashed; not the ids the databases store)")?;
    if stored_mismatches > 0 {
        outln!("{stored_mismatches} stored ids differ from the computed ids (listed on stderr)")?;
        return Ok(Outcome::Finding);
    }
    Ok(outcome)
}

fn diff_outcome(a: &Path, b: &Path, result: Diff) -> Result<Outcome> {
    match result {
        Diff::SameDatabase { tip } => {
            outln!("{} and {} are the same database: identical over heights 0..={tip}", a.display(), b.display())?;
            Ok(Outcome::Clean)
        }
        Diff::Differ { height, a: id_a, b: id_b } => {
            outln!("first difference at height {height}: {} has {id_a}, {} has {id_b}", a.display(), b.display())?;
            Ok(Outcome::Finding)
        }
        Diff::Identical { common, tip_a, tip_b } => {
            outln!("identical over heights 0..={common}")?;
            outln!("{}: tip {} {}", a.display(), tip_a.0, tip_a.1)?;
            outln!("{}: tip {} {}", b.display(), tip_b.0, tip_b.1)?;
            Ok(Outcome::Clean)
        }
    }
}
