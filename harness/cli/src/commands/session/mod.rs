//! What `replay` and `follow` share: the verifier, mode and output options ([`RunArgs`]), preparing a
//! run (the watched child for an in-process legacy, the run directory, logging, adapters, Ctrl-C, the
//! settings), the run's observers (`dualrun_terminal`'s progress and the metrics), and the closing message
//! ([`closing`]).

mod closing;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use dualrun_adapters::{builtin, AdapterSpec};
use dualrun_core::{Mode, ReasonMap};
use dualrun_leader::Profile;
use dualrun_metrics::{Metrics, MetricsObserver};
use dualrun_pipeline::{NowMode, Verifiers};
use dualrun_replay::ReplayConfig;
use dualrun_rundir::{files, CommandSettings, Observer, ReasonMapInput, RunSettings, RunWriter};

use crate::chain_arg::threads;
use crate::Outcome;

pub(crate) use closing::{outcome, print_closing};
use dualrun_terminal::{init_logging, Reporter};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The options every run has, whatever it reads.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// The legacy verifier: python:MODULE[:FUNCTION], exec:COMMAND, monerod:URL or builtin:leader-v1.
    /// Default: the reference Python legacy verifier.
    #[arg(long, value_name = "ADAPTER")]
    legacy: Option<AdapterSpec>,
    /// The candidate. Default: builtin:leader-v1 (the leader protocol v1 validator with --profile).
    #[arg(long, value_name = "ADAPTER", default_value = builtin::SPEC)]
    candidate: AdapterSpec,
    /// legacy (legacy only), shadow (both; legacy decides), primary (both; candidate decides, legacy as fallback) or only (candidate only).
    #[arg(long, default_value = "shadow")]
    pub(crate) mode: Mode,
    /// The run directory. Default: reports/<run-id>/.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint (same inputs required).
    #[arg(long, requires = "out")]
    pub(crate) resume: bool,
    /// `block` (each block's own timestamp) or `fixed:UNIX`.
    #[arg(long, default_value = "block")]
    now: NowMode,
    /// Seconds a verifier may take for one block before it counts as a timeout error.
    #[arg(long, default_value_t = CommandSettings::DEFAULT_TIMEOUT_SECONDS)]
    pub(crate) timeout: f64,
    /// How log lines are written, on stderr and in run.log.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// A directory added to the embedded Python's module path (repeatable).
    #[arg(long = "python-path", value_name = "DIR")]
    python_path: Vec<PathBuf>,
    /// Maps legacy reasons to reason codes (TOML: [reasons] "legacy reason" = "code").
    #[arg(long, value_name = "FILE")]
    reason_map: Option<PathBuf>,
    /// Worker threads for parsing, hashing and signature checks (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Serve Prometheus metrics at http://ADDR/metrics while the run goes (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Judge this share of the blocks (0 < RATE <= 1; 1 = every block) a second time with each verifier,
    /// recording any verifier that answers differently (legacy_noise, candidate_noise). The blocks are
    /// picked by their ids, so every run of a chain picks the same ones.
    #[arg(long, value_name = "RATE")]
    noise: Option<dualrun_core::NoiseRate>,
}

/// A run ready to start, or a watched child that already ran it.
pub(crate) enum Prepared {
    /// The run ran in a watched child (an in-process legacy); its outcome.
    Watched(Outcome),
    /// Start it.
    Ready(Box<Ready>),
}

/// What a run needs to start: its configuration, and its verifiers, made on demand (a live run makes
/// them afresh for each session it starts after a reorganization).
pub(crate) struct Ready {
    pub(crate) cfg: ReplayConfig,
    pub(crate) make_verifiers: Box<dyn FnMut() -> Result<Verifiers>>,
    /// The metrics `--metrics` serves.
    pub(crate) metrics: Option<Arc<Metrics>>,
}

/// Runs `run` with the run's observers: the progress display, and the metrics when served.
pub(crate) fn observed<R>(metrics: Option<Arc<Metrics>>, run: impl FnOnce(&mut dyn Observer) -> R) -> R {
    let mut reporter = Reporter::new();
    let mut metrics = metrics.map(MetricsObserver);
    let mut observers: [&mut dyn Observer; 2] = [&mut reporter, &mut metrics];
    run(&mut observers)
}

/// The part of a run its command resolved: the profile, the range, and what a watched child needs.
pub(crate) struct SourceArgs<'a> {
    pub(crate) profile_path: &'a Path,
    pub(crate) from: u64,
    pub(crate) to: Option<u64>,
    /// Arguments a watched child needs that were resolved here (`follow`'s default `--from`).
    pub(crate) child_args: Vec<std::ffi::OsString>,
    /// The shard of a whole range the run is (`from`/`to` are the shard's).
    pub(crate) shard: Option<dualrun_rundir::Shard>,
}

impl RunArgs {
    /// Prepares the run: a watched child for an in-process legacy; else the run directory (new and empty,
    /// or resumable), logging into it, the verifiers, Ctrl-C, and the run's configuration.
    pub(crate) fn prepare(&self, src: SourceArgs<'_>) -> Result<Prepared> {
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            bail!("--timeout must be a positive number of seconds");
        }
        let profile = Arc::new(Profile::load(src.profile_path)?);
        let reasons = match &self.reason_map {
            Some(p) => ReasonMap::load(p)?,
            None => ReasonMap::default(),
        };
        let legacy_spec = self.legacy.clone().unwrap_or_else(dualrun_adapters::reference_legacy);
        let out = match &self.out {
            Some(o) => o.clone(),
            None => RunWriter::default_dir(self.mode, SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs()),
        };
        if self.mode.runs_legacy() && dualrun_watch::needed(&legacy_spec) && !dualrun_watch::is_child() {
            // The legacy runs in process: the run goes on in a watched child (see `watch`), told the run
            // directory.
            let mut extra = src.child_args;
            if self.out.is_none() {
                extra.extend(["--out".into(), out.clone().into_os_string()]);
            }
            let args = std::env::args_os().skip(1).chain(extra).collect();
            return Ok(Prepared::Watched(Outcome::Exited(dualrun_watch::run_child(args, Some(&out))?)));
        }
        let out = RunWriter::prepare_dir(&out, self.resume)?;
        let format = match self.log_format {
            LogFormat::Text => dualrun_terminal::LogFormat::Text,
            LogFormat::Json => dualrun_terminal::LogFormat::Json,
        };
        init_logging(format, &out.join(files::LOG))?;

        let timeout = Duration::from_secs_f64(self.timeout);
        let ctx = super::adapter_context(profile.clone(), timeout, &self.python_path, out.clone())?;
        let (mode, legacy_spec_owned, candidate_spec) = (self.mode, legacy_spec.clone(), self.candidate.clone());
        let make_verifiers = Box::new(move || -> Result<Verifiers> {
            let legacy = mode
                .runs_legacy()
                .then(|| dualrun_adapters::build(&legacy_spec_owned, "legacy", &ctx).map(dualrun_watch::legacy))
                .transpose()?;
            let candidate = mode
                .runs_candidate()
                .then(|| dualrun_adapters::build(&candidate_spec, "candidate", &ctx))
                .transpose()?;
            Verifiers::new(mode, legacy, candidate).map_err(anyhow::Error::msg)
        });

        let settings = RunSettings::Command(CommandSettings {
            python_path: self.python_path.clone(),
            reason_map: self.reason_map.as_deref().map(ReasonMapInput::of),
            timeout_seconds: self.timeout,
            noise: self.noise,
        });
        let cfg = ReplayConfig {
            profile,
            from: src.from,
            to: src.to,
            now: self.now,
            reasons,
            settings,
            out,
            resume: self.resume,
            threads: threads(self.threads),
            interrupt: interrupt_on_ctrl_c(),
            shard: src.shard,
        };
        let metrics = super::serve_metrics(self.metrics.as_deref(), self.mode)?;
        Ok(Prepared::Ready(Box::new(Ready { cfg, make_verifiers, metrics })))
    }
}

/// A flag Ctrl-C (SIGINT, SIGTERM, SIGHUP) sets: the run stops between blocks, resumable. A second one
/// quits at once (the last checkpoint still holds).
fn interrupt_on_ctrl_c() -> Arc<AtomicBool> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let first = std::sync::OnceLock::<Instant>::new();
    let _ = ctrlc::set_handler(move || {
        let first_at = *first.get_or_init(Instant::now);
        if !flag.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\ndualrun: stopping: finishing the blocks in flight and writing a checkpoint (Ctrl-C again to quit now)"
            );
        } else if first_at.elapsed() > Duration::from_millis(500) {
            // A second stop: now. (Within half a second it is the first one arriving twice to a watched
            // child: from a service manager to the whole group, and from the parent passing it on.)
            dualrun_watch::returned(2);
            std::process::exit(2);
        }
    });
    interrupt
}
