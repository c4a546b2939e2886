//! `dualrun report`: the auditor's view of runs — a self-contained HTML report (and a Markdown summary),
//! a signed attestation of a run directory, and its verification, optionally by replaying the run again.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dualrun_leader::keys::KeyFile;
use dualrun_report::{attest, render, Report};
use dualrun_rundir::files;

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
    /// Run directories (several: one section each and a combined overview).
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
    /// Signs a finished run directory: RUN_DIR/attestation.dsse.json, an in-toto Statement over every
    /// file (sha256) in a DSSE envelope (Ed25519).
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
    },
}

pub(crate) fn run(a: ReportArgs) -> Result<Outcome> {
    match a.command {
        None => write_report(&a.render),
        Some(ReportCommand::Sign { run, key }) => sign(&run, &key),
        Some(ReportCommand::Verify { run, trusted_keys, rerun }) => verify(&run, &trusted_keys, rerun),
    }
}

fn write_report(a: &RenderArgs) -> Result<Outcome> {
    // One section per run: the same directory given twice (under any spelling) is counted once.
    let mut runs: Vec<PathBuf> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for run in &a.runs {
        let canonical = std::fs::canonicalize(run).unwrap_or_else(|_| run.clone());
        if let Some(i) = seen.iter().position(|s| *s == canonical) {
            outln!("note: {} is the run {} given again: counted once", run.display(), runs[i].display())?;
            continue;
        }
        seen.push(canonical);
        runs.push(run.clone());
    }
    let out = match (&a.out, runs.as_slice()) {
        (Some(o), _) => o.clone(),
        (None, [one]) => one.join(files::REPORT_HTML),
        (None, _) => bail!("several run directories: say where the report goes with --out FILE.html"),
    };
    for (file, allowed) in [(Some(&out), files::REPORT_HTML), (a.markdown.as_ref(), files::REPORT_MD)] {
        let Some(file) = file else { continue };
        let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let inside = std::fs::canonicalize(parent).ok().filter(|p| seen.contains(p));
        if inside.is_some() && file.file_name().is_none_or(|n| n != allowed) {
            bail!(
                "{}: inside a run directory a report is written only as {allowed} (a run directory holds only the \
                 files its format defines; its own files are never overwritten): write it elsewhere",
                file.display()
            );
        }
    }
    let report = Report::gather(&runs, a.ledger.as_deref());
    write(&out, render::html(&report)?.as_bytes())?;
    if let Some(md) = &a.markdown {
        write(md, render::markdown(&report)?.as_bytes())?;
    }
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

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    dualrun_rundir::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Writes `RUN_DIR/report.html` for a run just made; returns its path. A report that cannot be written
/// does not fail the run: the caller says so.
pub(crate) fn for_replay(run: &Path) -> Result<PathBuf> {
    let out = run.join(files::REPORT_HTML);
    let report = Report::gather(&[run.to_path_buf()], None);
    write(&out, render::html(&report)?.as_bytes())?;
    Ok(out)
}

fn sign(run: &Path, key: &Path) -> Result<Outcome> {
    let key = KeyFile::read(key)?;
    let file = attest::sign(run, &key)?;
    outln!("signed by {} ({}): {}", key.id, key.public_key_hex(), file.display())?;
    Ok(Outcome::Clean)
}

fn verify(run: &Path, trusted: &[String], rerun: bool) -> Result<Outcome> {
    let keys = super::trusted_keys(trusted)?;
    if rerun && !run.join(attest::FILE).exists() && keys.is_empty() {
        outln!("{}: no {} (the run is not signed): checking by re-running only", run.display(), attest::FILE)?;
        return crate::rerun::check(run);
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
    if !rerun {
        return Ok(Outcome::Clean);
    }
    crate::rerun::check(run)
}
