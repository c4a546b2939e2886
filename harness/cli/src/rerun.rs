//! `report verify --rerun`: replays a finished run's inputs again, as the manifest states them, into a
//! temporary directory beside the run, and checks that the records follow from the inputs
//! ([`dualrun_replay::rerun`]): both record files byte-identical. An input that is gone or changed is
//! named (exit 2); a record that differs is named (exit 1).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use dualrun_replay::rerun::{self, Comparison};
use dualrun_rundir::RunDir;

use crate::Outcome;

pub(crate) fn check(run: &Path) -> Result<Outcome> {
    // A finished, untouched run: a re-run needs its records as recorded.
    let original = RunDir::open(run).with_context(|| format!("{}: cannot re-run it", run.display()))?;
    rerun::check_inputs(&original.manifest)?;
    // Beside the run: records name the run directory's parent in their reproduce lines, so only a
    // re-run there can give the same bytes. Removed afterwards.
    let parent = original.path.parent().unwrap_or(Path::new("/"));
    let name = original.path.file_name().unwrap_or_default().to_string_lossy();
    let out = parent.join(format!(".{name}.rerun-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let result = rerun_into(&original, &out).and_then(|again| Ok(rerun::compare(&original, &again)?));
    let _ = std::fs::remove_dir_all(&out);
    match result? {
        Comparison::Identical { records } => {
            outln!(
                "{}: re-run: the {records} records follow from the inputs (both record files byte-identical)",
                original.path.display()
            )?;
            Ok(Outcome::Clean)
        }
        Comparison::Differs { file, line, description } => {
            outln!(
                "{}: the re-run's {file} differs from the recorded one at line {line}: {description}",
                original.path.display()
            )?;
            Ok(Outcome::Finding)
        }
    }
}

/// Runs `dualrun` again with the manifest's inputs.
fn rerun_into(original: &RunDir, out: &Path) -> Result<RunDir> {
    let args = dualrun_replay::command::rerun_args(&original.manifest.inputs, out)?;
    let output = Command::new(std::env::current_exe().context("finding this executable")?)
        .args(args)
        .output()
        .context("running the replay again")?;
    if !matches!(output.status.code(), Some(0 | 1)) {
        bail!(
            "the re-run did not complete ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let again = RunDir::open(out).with_context(|| format!("reading the re-run in {}", out.display()))?;
    if again.manifest.inputs_digest != original.manifest.inputs_digest {
        bail!(
            "the re-run's inputs are not the run's: {}",
            again.manifest.inputs.changes_from(&original.manifest.inputs)
        );
    }
    Ok(again)
}
