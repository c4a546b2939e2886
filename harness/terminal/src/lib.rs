//! What the person running dualrun sees while a run goes: the progress of a run from its events (a bar
//! on a terminal, a log line every 10 s otherwise; [`Reporter`]) and the log lines, on standard error
//! and in the run's `run.log` ([`init_logging`]).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dualrun_rundir::{Observer, RunEvent};
use indicatif::{ProgressBar, ProgressStyle};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The log file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening {}: {source}", file.display())]
pub struct LogFileError {
    /// The log file.
    pub file: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Shows progress: a bar on a terminal, a log line every 10 s otherwise.
pub struct Reporter {
    bar: Option<ProgressBar>,
    first: u64,
    last: Option<u64>,
    blocks: u64,
    records: u64,
    started: Instant,
    last_line: Instant,
}

impl Reporter {
    /// A reporter for a run about to start.
    pub fn new() -> Reporter {
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
            bar.set_message(format!("{} records", self.records));
            self.bar = Some(bar);
        }
    }

    /// Every block below `next_height` is judged.
    fn advance(&mut self, next_height: u64) {
        if let Some(bar) = &self.bar {
            // Per block only the position; the message changes with a record (see `observe`).
            bar.set_position(next_height - self.first);
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
            RunEvent::Recorded { .. } => {
                self.records += 1;
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{} records", self.records));
                }
            }
            RunEvent::Stopped { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            RunEvent::Checkpointed { .. } | RunEvent::Reorganized { .. } => {}
        }
    }
}

/// Logs to standard error (warnings only on a terminal, where the bar and the closing message say the
/// rest) and to `log_file` (everything), in `format`.
pub fn init_logging(format: LogFormat, log_file: &Path) -> Result<(), LogFileError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Layer};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .map_err(|source| LogFileError { file: log_file.to_path_buf(), source })?;
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

/// Logs to standard error only (commands that keep no log file, such as `fleet`): warnings and errors
/// unless `RUST_LOG` says otherwise.
pub fn init_stderr_logging() {
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_env_filter(filter)
        .finish()
        .try_init()
        .ok();
}

impl Default for Reporter {
    fn default() -> Self {
        Reporter::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Off a terminal, a reporter counts what the events say (no bar); a log file that cannot be opened
    /// is named.
    #[test]
    fn the_reporter_counts_the_events_and_a_bad_log_file_is_named() {
        let mut r = Reporter::new();
        r.observe(&RunEvent::Started { first: 5, last: Some(9), resumed_at: None });
        assert_eq!((r.first, r.last, r.blocks, r.records), (5, Some(9), 0, 0));
        r.observe(&RunEvent::Stopped { next_height: 5, complete: false });
        let e = init_logging(LogFormat::Text, Path::new("/nonexistent-dir/run.log")).unwrap_err();
        assert!(e.to_string().starts_with("opening /nonexistent-dir/run.log: "), "{e}");
    }
}
