//! `dualrun golden …`: the golden-vector gate (`check`, with JUnit XML for CI) and turning a replay's
//! divergence into a vector (`record`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dualrun_adapters::AdapterSpec;
use dualrun_core::{Verifier, VerifierOutcome};
use dualrun_golden::record::RecordError;
use dualrun_golden::vector::load_dir_noting;
use dualrun_golden::Status;
use dualrun_leader::Profile;
use dualrun_rundir::RunDir;

use crate::Outcome;

#[derive(Subcommand)]
pub(crate) enum GoldenCommand {
    /// Runs every vector under DIR; exit 0 when all pass, 1 on any mismatch, unreadable file, unknown
    /// schema or unexpected skip.
    Check(CheckArgs),
    /// Writes a vector from a replay's record: the block, its env and context, the legacy's verdict as
    /// the expected one, and where it came from.
    Record(RecordArgs),
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// A directory of vectors (searched recursively for *.json).
    dir: PathBuf,
    /// Write JUnit XML here: one <testcase> per vector.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also run every leader vector through this adapter and compare (cross-implementation parity).
    #[arg(long, value_name = "ADAPTER")]
    legacy: Option<AdapterSpec>,
    /// A directory added to the embedded Python's module path (repeatable).
    #[arg(long = "python-path", value_name = "DIR")]
    python_path: Vec<PathBuf>,
    /// Seconds the other implementation may take for one vector.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

#[derive(Args)]
pub(crate) struct RecordArgs {
    /// The replay's run directory.
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    /// The height of the record.
    #[arg(long)]
    height: u64,
    /// The directory to write the vector into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Judge the vector under this profile instead of the run's: the network's corrected profile, when
    /// the run's own profile caused the divergence.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
}

pub(crate) fn run(cmd: GoldenCommand) -> Result<Outcome> {
    match cmd {
        GoldenCommand::Check(a) => check_dir(a),
        GoldenCommand::Record(a) => record(a),
    }
}

/// The other implementation of `--legacy`: built once for an external adapter (any vector's profile
/// will do; the env carries each vector's), per vector for the built-in validator (it judges with the
/// vector's profile).
struct OtherImplementation<'a> {
    spec: &'a AdapterSpec,
    a: &'a CheckArgs,
    shared: Option<Box<dyn Verifier>>,
}

impl OtherImplementation<'_> {
    fn build(&self, profile: Profile) -> Result<Box<dyn Verifier>> {
        let ctx = super::adapter_context(
            Arc::new(profile),
            Duration::from_secs_f64(self.a.timeout),
            &self.a.python_path,
            std::env::temp_dir(),
        )?;
        Ok(dualrun_watch::legacy(dualrun_adapters::build(self.spec, "legacy", &ctx)?))
    }

    fn judge(
        &mut self,
        input: &dualrun_core::BlockInput,
        env: &dualrun_core::ReplayEnv,
        profile: &Profile,
    ) -> Result<VerifierOutcome, dualrun_golden::runner::ParityError> {
        if *self.spec == AdapterSpec::Builtin {
            let mut v = self.build(profile.clone()).map_err(|e| format!("{e:#}"))?;
            return Ok(v.verify(input, None, env));
        }
        if self.shared.is_none() {
            self.shared = Some(self.build(profile.clone()).map_err(|e| format!("{e:#}"))?);
        }
        Ok(self.shared.as_mut().expect("built above").verify(input, None, env))
    }
}

fn check_dir(a: CheckArgs) -> Result<Outcome> {
    if a.legacy.as_ref().is_some_and(dualrun_watch::needed) && !dualrun_watch::is_child() {
        // The other implementation runs in process: the check runs in a watched child (see `watch`).
        return Ok(Outcome::Exited(dualrun_watch::run_child(std::env::args_os().skip(1).collect(), None)?));
    }
    if !a.dir.is_dir() {
        bail!("{}: not a directory of golden vectors", a.dir.display());
    }
    let (loaded, same_files) = load_dir_noting(&a.dir)?;
    for s in &same_files {
        let what = if s.directory { "directory" } else { "file" };
        outln!("note: {} is the same {what} as {}: counted once", s.path.display(), s.same_as.display())?;
    }
    if loaded.is_empty() {
        bail!("{}: no vectors (*.json) found; an empty gate passes nothing", a.dir.display());
    }
    let report = match a.legacy.as_ref() {
        None => dualrun_golden::run_vectors(&a.dir, loaded, None),
        Some(spec) => {
            let mut other = OtherImplementation { spec, a: &a, shared: None };
            // An external adapter that cannot start is an error of the command, not of a vector.
            if *spec != AdapterSpec::Builtin {
                let profile =
                    dualrun_golden::first_leader_profile(&loaded).context("no leader vector to take a profile from")?;
                other.shared = Some(other.build(profile)?);
            }
            let mut parity = |_: &_, input: &_, env: &_, profile: &_| other.judge(input, env, profile);
            dualrun_golden::run_vectors(&a.dir, loaded, Some((&spec.to_string(), &mut parity)))
        }
    };
    for r in &report.results {
        match &r.status {
            Status::Pass => {}
            Status::Fail(msg) => outln!("FAIL {msg}")?,
            Status::Skipped(why) => outln!("SKIP {}: {why}", r.rel)?,
        }
    }
    if let Some(file) = &a.junit {
        dualrun_golden::junit::write(&report, file)?;
    }
    outln!("golden check of {}", a.dir.display())?;
    outln!("golden: {} passed, {} failed, {} skipped", report.passed(), report.failed(), report.skipped())?;
    Ok(Outcome::clean_if(report.failed() == 0))
}

fn record(a: RecordArgs) -> Result<Outcome> {
    let run = RunDir::load(&a.run)?;
    let vector = dualrun_golden::record::from_run(&run, a.height, a.profile.as_deref()).map_err(|e| match e {
        RecordError::Profile(_) => anyhow::Error::new(e).context("--profile: not a valid network profile"),
        e => e.into(),
    })?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let path = a.out.join(vector.file_name());
    std::fs::write(&path, vector.to_json()).with_context(|| format!("writing {}", path.display()))?;
    outln!("{}", path.display())?;
    Ok(Outcome::Clean)
}
