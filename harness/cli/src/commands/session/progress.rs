//! A run's progress for the person running it, from the run's events: a bar on a terminal, a log line
//! every 10 s otherwise; and the log lines' format (on stderr and in `run.log`).

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use dualrun_rundir::{Observer, RunEvent};
use indicatif::{ProgressBar, ProgressStyle};

use super::LogFormat;

/// Shows progress: a bar on a terminal, a log line every 10 s otherwise.
pub(crate) struct Reporter {
    bar: Option<ProgressBar>,
    first: u64,
    last: Option<u64>,
    blocks: u64,
    records: u64,
    started: Instant,
    last_line: Instant,
}

impl Reporter {
    pub(crate) fn new() -> Reporter {
        let now = Instant::now();
        Reporter { bar: None, first: 0, last: None, blocks: 0, records: 0, started: now, last_line: now }
    }

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

    /// Every block below `next_height` is judged.
    fn advance(&mut self, next_height: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(next_height - self.first);
            bar.set_message(format!("{} records", self.records));
        } else if self.last_line.elapsed() >= Duration::from_secs(10) {
            self.last_line = Instant::now();
            let rate = self.blocks as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                height = next_height.saturating_sub(1),
                last = self.last,
                blocks_per_second = rate as u64,
                records = self.records,
                "progress"
            );
        }
    }
}

impl Observer for Reporter {
    fn observe(&mut self, event: &RunEvent<'_>) {
        match event {
            RunEvent::Started { first, last, resumed_at } => self.begin(*first, *last, *resumed_at),
            RunEvent::Judged { block, .. } => {
                self.blocks += 1;
                self.advance(block.height + 1);
            }
            RunEvent::Recorded { .. } => self.records += 1,
            RunEvent::Stopped { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            RunEvent::Checkpointed { .. } | RunEvent::Reorganized { .. } => {}
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
