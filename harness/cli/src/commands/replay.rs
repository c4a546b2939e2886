//! `dualrun replay`: a chain through the legacy verifier and the candidate, divergences recorded.

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
use dualrun_rundir::{files, RunWriter, Stats};
use indicatif::{ProgressBar, ProgressStyle};

use crate::chain_arg::{threads, ChainArg};
use crate::Outcome;

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    chain: ChainArg,
    /// The network profile. Default: the bundled sample's, when --chain is not given.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The legacy verifier: python:MODULE[:FUNCTION], exec:COMMAND, monerod:URL or builtin:leader-v1.
    /// Default: the reference Python legacy verifier.
    #[arg(long, value_name = "ADAPTER")]
    legacy: Option<String>,
    /// The candidate. Default: builtin:leader-v1 (the leader protocol v1 validator with --profile).
    #[arg(long, value_name = "ADAPTER", default_value = builtin::SPEC)]
    candidate: String,
    /// legacy (legacy only), shadow (both; legacy decides), primary (both; candidate decides, legacy as fallback) or only (candidate only).
    #[arg(long, default_value = "shadow")]
    mode: Mode,
    /// First height.
    #[arg(long, value_name = "H", default_value_t = 0)]
    from: u64,
    /// Last height (inclusive; default: the tip).
    #[arg(long, value_name = "H")]
    to: Option<u64>,
    /// The run directory. Default: reports/<run-id>/.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint (same inputs required).
    #[arg(long, requires = "out")]
    resume: bool,
    /// `block` (each block's own timestamp) or `fixed:UNIX`.
    #[arg(long, default_value = "block")]
    now: NowMode,
    /// Seconds a verifier may take for one block before it counts as a timeout error.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
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
}

/// Shows progress: a bar on a terminal, a log line every 10 s otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    first: u64,
    last: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress for Reporter {
    fn begin(&mut self, first: u64, last: u64, resumed_at: Option<u64>) {
        self.first = first;
        self.last = last;
        if let Some(h) = resumed_at {
            tracing::info!("resuming at height {h} (range {first}..={last})");
            eprintln!("dualrun: resuming at height {h} (range {first}..={last})");
        }
        if std::io::stderr().is_terminal() {
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

fn init_logging(format: LogFormat, log_file: &Path) -> Result<()> {
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

pub(crate) fn run(a: ReplayArgs) -> Result<Outcome> {
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }
    let profile_path = a.chain.profile(a.profile.as_deref())?;
    let profile = Arc::new(Profile::load(&profile_path)?);
    let (db, _) = a.chain.open()?;
    let chain_path = a.chain.path_for_commands(&db);
    let reasons = match &a.reason_map {
        Some(p) => ReasonMap::load(p)?,
        None => ReasonMap::default(),
    };
    let legacy_spec = a.legacy.clone().unwrap_or_else(|| REFERENCE_LEGACY.to_owned());
    let out = match &a.out {
        Some(o) => o.clone(),
        None => {
            let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            PathBuf::from("reports").join(format!("{}-{}", UtcTime::from_unix(secs).stamp(), a.mode))
        }
    };
    if !a.resume {
        RunWriter::check_empty(&out)?;
    } else if !out.join(files::MANIFEST).exists() {
        bail!("{}: nothing to resume (no manifest.json); start a run there without --resume", out.display());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // One spelling of the run directory, so records (their reproduce lines) do not depend on how
    // --out was written when a run is resumed.
    let out = out.canonicalize().with_context(|| format!("resolving {}", out.display()))?;
    init_logging(a.log_format, &out.join(files::LOG))?;

    let ctx = super::adapter_context(profile.clone(), Duration::from_secs_f64(a.timeout), &a.python_path, out.clone())?;
    let legacy = a.mode.runs_legacy().then(|| dualrun_adapters::build(&legacy_spec, "legacy", &ctx)).transpose()?;
    let candidate =
        a.mode.runs_candidate().then(|| dualrun_adapters::build(&a.candidate, "candidate", &ctx)).transpose()?;
    let verifiers = Verifiers::new(a.mode, legacy, candidate).map_err(anyhow::Error::msg)?;

    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: stop now; the last checkpoint still makes the run resumable.
                std::process::exit(2);
            }
            eprintln!("\ndualrun: stopping: finishing the blocks in flight and writing a checkpoint (Ctrl-C again to quit now)");
        });
    }

    let mut reproduce = format!(
        "dualrun replay --chain {} --profile {} --legacy '{}' --candidate '{}' --mode {} --now {}",
        chain_path,
        profile_path.display(),
        legacy_spec,
        a.candidate,
        a.mode,
        a.now.describe()
    );
    for p in &a.python_path {
        reproduce.push_str(&format!(" --python-path {}", p.display()));
    }
    if let Some(m) = &a.reason_map {
        reproduce.push_str(&format!(" --reason-map {}", m.display()));
    }
    let settings = serde_json::json!({
        "timeout_seconds": a.timeout,
        "reason_map": a.reason_map.as_ref().map(|p| {
            let digest = std::fs::read(p).map(|b| dualrun_format::keccak256(&b).to_string()).unwrap_or_default();
            serde_json::json!({ "path": p, "digest": digest })
        }),
    });
    let cfg = ReplayConfig {
        profile,
        from: a.from,
        to: a.to,
        now: a.now,
        reasons,
        settings,
        out: out.clone(),
        resume: a.resume,
        threads: threads(a.threads),
        reproduce_prefix: reproduce,
        interrupt,
    };
    let mut reporter = Reporter { bar: None, first: 0, last: 0, started: Instant::now(), last_line: Instant::now() };
    let result = dualrun_replay::run(&db, cfg, verifiers, &mut reporter)?;
    print_closing(&result)?;
    Ok(match result.end {
        RunEnd::Interrupted { .. } => Outcome::Incomplete,
        RunEnd::Complete => Outcome::clean_if(result.summary.records == 0),
    })
}

fn print_closing(r: &RunResult) -> Result<()> {
    let s = &r.summary;
    let dir = r.dir.display();
    if r.already_complete {
        outln!("{dir}: this run is already complete; nothing to do")?;
    }
    let found: Vec<String> = s.nonzero().map(|(class, n)| format!("{class} {n}")).collect();
    outln!(
        "replayed {} blocks (heights {}..={}) in {} mode: {} records{}",
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
    Ok(())
}
