//! What `replay` and `follow` share: the verifier, mode and output options ([`RunArgs`]), preparing a
//! run (the watched child for an in-process legacy, the run directory, logging, adapters, Ctrl-C, the
//! inputs' settings and the reproduce line), progress, and the closing message.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use dualrun_adapters::{builtin, REFERENCE_LEGACY};
use dualrun_core::{Mode, ReasonMap, UtcTime};
use dualrun_leader::Profile;
use dualrun_pipeline::{NowMode, Verifiers};
use dualrun_replay::{Progress, ReplayConfig, RunEnd, RunResult};
use dualrun_rundir::{files, CommandSettings, ReasonMapInput, RunSettings, RunWriter, Stats};
use indicatif::{ProgressBar, ProgressStyle};

use crate::chain_arg::threads;
use crate::Outcome;

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
    legacy: Option<String>,
    /// The candidate. Default: builtin:leader-v1 (the leader protocol v1 validator with --profile).
    #[arg(long, value_name = "ADAPTER", default_value = builtin::SPEC)]
    candidate: String,
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
        let legacy_spec = self.legacy.clone().unwrap_or_else(|| REFERENCE_LEGACY.to_owned());
        let out = match &self.out {
            Some(o) => o.clone(),
            None => {
                let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
                PathBuf::from("reports").join(format!("{}-{}", UtcTime::from_unix(secs).stamp(), self.mode))
            }
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
        if !self.resume {
            RunWriter::check_empty(&out)?;
        } else if !out.join(files::MANIFEST).exists() {
            bail!("{}: nothing to resume (no manifest.json); start a run there without --resume", out.display());
        }
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        // One spelling of the run directory, so records (their reproduce lines) do not depend on how
        // --out was written when a run is resumed.
        let out = out.canonicalize().with_context(|| format!("resolving {}", out.display()))?;
        init_logging(self.log_format, &out.join(files::LOG))?;

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
            reason_map: self.reason_map.as_ref().map(|p| ReasonMapInput {
                digest: std::fs::read(p).map(|b| dualrun_format::keccak256(&b).to_string()).unwrap_or_default(),
                path: p.clone(),
            }),
            timeout_seconds: self.timeout,
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
            metrics: super::serve_metrics(self.metrics.as_deref(), self.mode)?,
            shard: src.shard,
        };
        Ok(Prepared::Ready(Box::new(Ready { cfg, make_verifiers })))
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

/// The exit code of a finished session.
pub(crate) fn outcome(result: &RunResult) -> Outcome {
    match result.end {
        RunEnd::Interrupted { .. } => Outcome::Incomplete,
        RunEnd::Complete => Outcome::clean_if(result.summary.records == 0),
    }
}

/// Shows progress: a bar on a terminal, a log line every 10 s otherwise.
pub(crate) struct Reporter {
    bar: Option<ProgressBar>,
    first: u64,
    last: Option<u64>,
    started: Instant,
    last_line: Instant,
}

impl Reporter {
    pub(crate) fn new() -> Reporter {
        Reporter { bar: None, first: 0, last: None, started: Instant::now(), last_line: Instant::now() }
    }
}

impl Progress for Reporter {
    fn begin(&mut self, first: u64, last: Option<u64>, resumed_at: Option<u64>) {
        self.first = first;
        self.last = last;
        let range = last.map_or(format!("{first}.., live"), |l| format!("{first}..={l}"));
        if let Some(h) = resumed_at {
            tracing::info!("resuming at height {h} (range {range})");
            eprintln!("dualrun: resuming at height {h} (range {range})");
        }
        // A bar for a range with an end; a live run logs a line every 10 s instead.
        if let (true, Some(last)) = (std::io::stderr().is_terminal(), last) {
            let bar = ProgressBar::new(last - first + 1).with_style(
                ProgressStyle::with_template(
                    "{spinner} {pos}/{len} blocks [{elapsed_precise}, ETA {eta}] {per_sec} {msg}",
                )
                .expect("valid template"),
            );
            if let Some(h) = resumed_at {
                bar.set_position(h - first);
                bar.reset_eta();
            }
            self.bar = Some(bar);
        }
    }

    fn advance(&mut self, next_height: u64, stats: &Stats) {
        let records = stats.total_records();
        if let Some(bar) = &self.bar {
            bar.set_position(next_height - self.first);
            bar.set_message(format!("{records} records"));
        } else if self.last_line.elapsed() >= Duration::from_secs(10) {
            self.last_line = Instant::now();
            let rate = stats.blocks as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                height = next_height.saturating_sub(1),
                last = self.last,
                blocks_per_second = rate as u64,
                records,
                "progress"
            );
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

pub(crate) fn init_logging(format: LogFormat, log_file: &Path) -> Result<()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Layer};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .with_context(|| format!("opening {}", log_file.display()))?;
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (stderr_layer, file_layer) = match format {
        LogFormat::Text => (
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false)
                .boxed(),
            fmt::layer().with_writer(file).with_ansi(false).boxed(),
        ),
        LogFormat::Json => {
            (fmt::layer().json().with_writer(std::io::stderr).boxed(), fmt::layer().json().with_writer(file).boxed())
        }
    };
    // Terminal: warnings only (the progress bar and the closing summary say the rest); the file: all.
    let stderr_filter = if std::io::stderr().is_terminal() { EnvFilter::new("warn") } else { filter() };
    tracing_subscriber::registry()
        .with(stderr_layer.with_filter(stderr_filter))
        .with(file_layer.with_filter(filter()))
        .try_init()
        .ok();
    Ok(())
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
    match super::report::for_replay(&r.dir) {
        Ok(path) => outln!("  report         {} (open it in a browser)", path.display())?,
        Err(e) => eprintln!("dualrun: warning: the HTML report was not written: {e:#}"),
    }
    Ok(())
}
