//! The end of a run for the person running it: what was judged, where the records are, how to resume
//! or reproduce, the report; and the exit code.

use anyhow::Result;
use dualrun_replay::{RunEnd, RunResult};
use dualrun_rundir::files;

use crate::Outcome;

/// The exit code of a finished session.
pub(crate) fn outcome(result: &RunResult) -> Outcome {
    match result.end {
        RunEnd::Interrupted { .. } => Outcome::Incomplete,
        RunEnd::Complete => Outcome::clean_if(result.summary.records == 0),
    }
}

/// The closing message: what was judged, where the records are, how to resume or reproduce, the report.
pub(crate) fn print_closing(r: &RunResult, verb: &str) -> Result<()> {
    let s = &r.summary;
    let dir = r.dir.display();
    if r.already_complete {
        outln!("{dir}: this run is already complete; nothing to do")?;
    }
    let found: Vec<String> = s.nonzero().map(|(class, n)| format!("{class} {n}")).collect();
    outln!(
        "{verb} {} blocks (heights {}..={}) in {} mode: {} records{}",
        s.blocks,
        s.range.from,
        s.range.to,
        s.mode,
        s.records,
        if found.is_empty() { String::new() } else { format!(" ({})", found.join(", ")) }
    )?;
    if !s.verifiers_run.candidate {
        outln!("  legacy mode: the candidate was not run, so nothing was compared")?;
    }
    if !s.verifiers_run.legacy {
        outln!("  only mode: the legacy verifier was not run, so nothing was compared")?;
    }
    outln!("  run directory  {dir}/")?;
    outln!("  records        {dir}/{}, {dir}/{} (blob and env of each)", files::CSV, files::JSONL)?;
    outln!(
        "  summary        {dir}/{}   manifest {dir}/{}   log {dir}/{}",
        files::SUMMARY,
        files::MANIFEST,
        files::LOG
    )?;
    if let RunEnd::Interrupted { next_height } = r.end {
        outln!("  interrupted before height {next_height}: continue with the same command and --out {dir} --resume")?;
    }
    if let Some(first) = &r.first_record {
        outln!(
            "  reproduce the first ({} at height {}; every record has its own `reproduce` line):",
            first.class,
            first.height
        )?;
        outln!("    {}", first.reproduce)?;
    }
    // The auditor's view of the run: a report a person opens in a browser (deterministic: rewriting it
    // for a run already complete gives the same file).
    match dualrun_report::output::for_run(&r.dir) {
        Ok(path) => outln!("  report         {} (open it in a browser)", path.display())?,
        Err(e) => eprintln!("dualrun: warning: the HTML report was not written: {e:#}"),
    }
    Ok(())
}
