//! `dualrun report`: the auditor's view of runs — a self-contained HTML report (and a Markdown summary),
//! a signed attestation of a run directory, and its verification, optionally by replaying the run again.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use dualrun_keys::KeyFile;
use dualrun_replay::rerun::{Comparison, Rerun};
use dualrun_report::{attest, output, Report};
use dualrun_rundir::Moved;

use crate::Outcome;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ReportArgs {
    #[command(subcommand)]
    command: Option<ReportCommand>,
    #[command(flatten)]
    render: RenderArgs,
}

#[derive(Args)]
struct RenderArgs {
    /// Run directories (several: one section each and a combined overview), or one fleet run
    /// (`dualrun fleet --out`).
    #[arg(value_name = "RUN_DIR", required = true)]
    runs: Vec<PathBuf>,
    /// A gate ledger: its mode timeline, and whether it verifies.
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
    /// The HTML file (default: RUN_DIR/report.html for one run; required for several).
    #[arg(long, value_name = "FILE.html")]
    out: Option<PathBuf>,
    /// Also write a short Markdown summary (for a pull-request comment or a CI job summary).
    #[arg(long, value_name = "FILE.md")]
    markdown: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Signs a finished run directory, or a fleet run that ended cleanly: RUN_DIR/attestation.dsse.json,
    /// an in-toto Statement over every file (sha256) in a DSSE envelope (Ed25519).
    Sign {
        /// The run directory.
        #[arg(value_name = "RUN_DIR")]
        run: PathBuf,
        /// The signer's key file (from `dualrun keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Checks a run's attestation: the signature (by a trusted key when given) and every file's digest;
    /// exit 0 when it holds, 1 naming the first file that differs or a bad signature, 2 when it cannot run.
    Verify {
        /// The run directory.
        #[arg(value_name = "RUN_DIR")]
        run: PathBuf,
        /// Accept only signatures by this public key (hex; repeatable).
        #[arg(long = "trusted-key", value_name = "HEX")]
        trusted_keys: Vec<String>,
        /// Also replay the manifest's inputs again and check the records are byte-identical.
        #[arg(long)]
        rerun: bool,
        /// With `--rerun`: the inputs the manifest names under the absolute directory FROM are now under
        /// TO (a copy given to an auditor); the copy's inputs are replayed, never FROM's, and its records
        /// are compared as if written there. Repeatable.
        #[arg(long, value_name = "FROM=TO", requires = "rerun")]
        moved: Vec<String>,
    },
}

pub(crate) fn run(a: ReportArgs) -> Result<Outcome> {
    match a.command {
        None => write_report(&a.render),
        Some(ReportCommand::Sign { run, key }) => sign(&run, &key),
        Some(ReportCommand::Verify { run, trusted_keys, rerun, moved }) => {
            let moved = Moved::parse(&moved).context("--moved")?;
            verify(&run, &trusted_keys, rerun.then_some(&moved))
        }
    }
}

fn write_report(a: &RenderArgs) -> Result<Outcome> {
    if a.runs.iter().any(|d| dualrun_rundir::fleet::FleetRun::is_fleet_run(d)) {
        return fleet_report(a);
    }
    let runs = output::Runs::distinct(&a.runs);
    for (given, first) in &runs.repeated {
        outln!("note: {} is the run {} given again: counted once", given.display(), first.display())?;
    }
    let out = runs.outputs(a.out.as_deref(), a.markdown.as_deref())?;
    let report = Report::gather(&runs.dirs, a.ledger.as_deref());
    output::write(&report, &out, a.markdown.as_deref())?;
    outln!("{}", report.banner.headline)?;
    for p in &report.banner.problems {
        outln!("  problem: {p}")?;
    }
    outln!("report: {}", out.display())?;
    if let Some(md) = &a.markdown {
        outln!("summary: {}", md.display())?;
    }
    Ok(Outcome::Clean)
}

/// A fleet run's report (one fleet run at a time; a ledger is not shown with it).
fn fleet_report(a: &RenderArgs) -> Result<Outcome> {
    let [dir] = a.runs.as_slice() else {
        anyhow::bail!("a fleet run is reported on its own: give one fleet run directory (and no replay runs)");
    };
    if a.ledger.is_some() {
        anyhow::bail!("--ledger goes with replay runs; a fleet run's report does not show a ledger");
    }
    let report = dualrun_report::fleet::FleetReport::gather(dir)?;
    let out = a.out.clone().unwrap_or_else(|| dir.join(dualrun_rundir::files::REPORT_HTML));
    dualrun_rundir::write_atomic(&out, dualrun_report::render::fleet_html(&report)?.as_bytes())?;
    if let Some(md) = &a.markdown {
        dualrun_rundir::write_atomic(md, dualrun_report::render::fleet_markdown(&report)?.as_bytes())?;
    }
    outln!("{}", report.headline)?;
    for p in &report.problems {
        outln!("  problem: {p}")?;
    }
    outln!("report: {}", out.display())?;
    if let Some(md) = &a.markdown {
        outln!("summary: {}", md.display())?;
    }
    Ok(Outcome::Clean)
}

fn sign(run: &Path, key: &Path) -> Result<Outcome> {
    let key = KeyFile::read(key)?;
    let file = attest::sign(run, &key)?;
    outln!("signed by {} ({}): {}", key.id, key.public_key_hex(), file.display())?;
    Ok(Outcome::Clean)
}

/// `report verify`; `rerun` holds where the evidence is now when the run is to be re-run.
fn verify(run: &Path, trusted: &[String], rerun: Option<&Moved>) -> Result<Outcome> {
    let keys = super::trusted_keys(trusted)?;
    if let Some(moved) = rerun.filter(|_| !run.join(attest::FILE).exists() && keys.is_empty()) {
        outln!("{}: no {} (the run is not signed): checking by re-running only", run.display(), attest::FILE)?;
        return rerun_check(run, moved);
    }
    match attest::verify(run, &keys) {
        Ok(v) => {
            outln!("{}: attestation holds: signed by {}, all {} files as signed", run.display(), v.keyid, v.subjects)?
        }
        Err(e) if e.is_finding() => {
            outln!("{}: attestation does not hold: {e}", run.display())?;
            return Ok(Outcome::Finding);
        }
        Err(e) => return Err(e.into()),
    }
    match rerun {
        Some(moved) => rerun_check(run, moved),
        None => Ok(Outcome::Clean),
    }
}

/// `--rerun`: the run's inputs (where `moved` says they are now) replayed again by this executable; the
/// records must follow from them (both record files byte-identical, or identical but for the moved
/// paths): a record that differs is named (exit 1), an input that is gone or changed is an error (exit 2).
fn rerun_check(run: &Path, moved: &Moved) -> Result<Outcome> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let Rerun { original, comparison } = dualrun_replay::rerun::rerun(&exe, run, moved)?;
    let dir = original.path.display();
    match comparison {
        Comparison::Identical { records } => {
            let how = if moved.is_empty() {
                "both record files byte-identical"
            } else {
                "both record files identical, the recorded paths read where the evidence is now"
            };
            outln!("{dir}: re-run: the {records} records follow from the inputs ({how})")?;
            Ok(Outcome::Clean)
        }
        Comparison::Differs { file, line, description } => {
            outln!("{dir}: the re-run's {file} differs from the recorded one at line {line}: {description}")?;
            Ok(Outcome::Finding)
        }
    }
}
