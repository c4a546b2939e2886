//! dualrun's Prometheus metrics: [`Metrics`] holds every family a run updates (blocks, divergences,
//! errors, verify latency, heights, lag, reorgs, daemon reachability, mode) and the standard process
//! metrics; [`serve`] answers `GET /metrics` in the Prometheus text format on a socket of its own.
//!
//! Names and labels are part of dualrun's interface (alert rules and dashboards in `deploy/` use them):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `dualrun_blocks_total` | counter | `verifier` |
//! | `dualrun_divergences_total` | counter | `class` (split, halt, fact, reason) |
//! | `dualrun_errors_total` | counter | `verifier`, `kind` (timeout, crash, protocol, panic) |
//! | `dualrun_fallbacks_total` | counter | — |
//! | `dualrun_noise_total` | counter | `verifier` (blocks judged twice, `--noise`, answered differently) |
//! | `dualrun_input_findings_total` | counter | `class` (stored_id_mismatch) |
//! | `dualrun_verify_seconds` | histogram | `verifier` |
//! | `dualrun_judged_height`, `dualrun_daemon_height`, `dualrun_lag_blocks` | gauge | — |
//! | `dualrun_reorgs_total` | counter | — |
//! | `dualrun_daemon_inconsistent_total` | counter | — (each time the daemon served a block that does not link to the one below it) |
//! | `dualrun_daemon_up` | gauge | — |
//! | `dualrun_mode_info` | gauge (1) | `mode` |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`, `process_start_time_seconds` | | — |

pub mod fleet;
mod process;
mod server;

use std::sync::atomic::AtomicU64;

use dualrun_core::{ErrorKind, Mode, RecordClass, VerifierOutcome};
use dualrun_rundir::{Elapsed, JudgedBlock, Observer, RunEvent};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use fleet::FleetMetrics;
pub use server::{serve, MetricsServer, ServeError};

/// What `/metrics` serves: a run's metrics or a fleet's.
pub trait Exposition: Send + Sync {
    /// The Prometheus text exposition, read now.
    fn encode(&self) -> String;
}

impl Exposition for Metrics {
    fn encode(&self) -> String {
        Metrics::encode(self)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerifierLabel {
    verifier: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    verifier: &'static str,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabel {
    mode: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs … about 26 s, doubling.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// Every metric of a run. Cheap to update from the record stage; encoded on each scrape.
pub struct Metrics {
    registry: Registry,
    blocks: Family<VerifierLabel, Counter>,
    divergences: Family<ClassLabel, Counter>,
    errors: Family<ErrorLabels, Counter>,
    fallbacks: Counter,
    noise: Family<VerifierLabel, Counter>,
    input_findings: Family<ClassLabel, Counter>,
    verify_seconds: Family<VerifierLabel, Histogram, fn() -> Histogram>,
    judged_height: Gauge,
    daemon_height: Gauge,
    lag_blocks: Gauge,
    reorgs: Counter,
    inconsistent: Counter,
    daemon_up: Gauge,
    process: process::ProcessMetrics,
}

impl Metrics {
    /// The metrics of a run in `mode` (its `dualrun_mode_info` series is set; every class and kind
    /// starts at 0, so a rule sees a series from the first scrape).
    pub fn new(mode: Mode) -> Metrics {
        let mut registry = Registry::default();
        let blocks = Family::<VerifierLabel, Counter>::default();
        registry.register("dualrun_blocks", "Blocks each verifier judged", blocks.clone());
        let divergences = Family::<ClassLabel, Counter>::default();
        registry.register(
            "dualrun_divergences",
            "Divergences between the legacy and the candidate",
            divergences.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register("dualrun_errors", "Blocks a verifier could not judge", errors.clone());
        let noise = Family::<VerifierLabel, Counter>::default();
        registry.register(
            "dualrun_noise",
            "Blocks judged twice (--noise) that a verifier answered differently the second time",
            noise.clone(),
        );
        let fallbacks = Counter::default();
        registry.register(
            "dualrun_fallbacks",
            "PRIMARY blocks where the legacy's verdict stood for a failed candidate",
            fallbacks.clone(),
        );
        let input_findings = Family::<ClassLabel, Counter>::default();
        registry.register(
            "dualrun_input_findings",
            "Blocks whose stored id is not the computed one",
            input_findings.clone(),
        );
        let verify_seconds =
            Family::<VerifierLabel, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("dualrun_verify_seconds", "Time a verifier took for one block", verify_seconds.clone());
        let judged_height = Gauge::default();
        registry.register("dualrun_judged_height", "The last height judged", judged_height.clone());
        let daemon_height = Gauge::default();
        registry.register("dualrun_daemon_height", "The daemon's chain height (its tip + 1)", daemon_height.clone());
        let lag_blocks = Gauge::default();
        registry.register("dualrun_lag_blocks", "Blocks the daemon has that are not judged yet", lag_blocks.clone());
        let reorgs = Counter::default();
        registry.register("dualrun_reorgs", "Reorganizations of the daemon's chain seen", reorgs.clone());
        let inconsistent = Counter::default();
        registry.register(
            "dualrun_daemon_inconsistent",
            "Times the daemon served a block whose parent is not the block it serves below it",
            inconsistent.clone(),
        );
        let daemon_up = Gauge::default();
        registry.register("dualrun_daemon_up", "1 when the last call to the daemon succeeded", daemon_up.clone());
        let mode_info = Family::<ModeLabel, Gauge>::default();
        registry.register("dualrun_mode_info", "The run's mode (value 1)", mode_info.clone());
        mode_info.get_or_create(&ModeLabel { mode: mode.as_str() }).set(1);
        let process = process::ProcessMetrics::register(&mut registry);

        for verifier in roles(mode) {
            let _ = blocks.get_or_create(&VerifierLabel { verifier });
            let _ = verify_seconds.get_or_create(&VerifierLabel { verifier });
            let _ = noise.get_or_create(&VerifierLabel { verifier });
            for kind in [ErrorKind::Timeout, ErrorKind::Crash, ErrorKind::Protocol, ErrorKind::Panic] {
                let _ = errors.get_or_create(&ErrorLabels { verifier, kind: kind_str(kind) });
            }
        }
        for class in RecordClass::ALL.into_iter().filter(|c| c.is_divergence()) {
            let _ = divergences.get_or_create(&ClassLabel { class: class.as_str() });
        }
        let _ = input_findings.get_or_create(&ClassLabel { class: RecordClass::StoredIdMismatch.as_str() });
        Metrics {
            registry,
            blocks,
            divergences,
            errors,
            fallbacks,
            noise,
            input_findings,
            verify_seconds,
            judged_height,
            daemon_height,
            lag_blocks,
            reorgs,
            inconsistent,
            daemon_up,
            process,
        }
    }

    /// Counts one judged block and the records written for it.
    pub fn judged(&self, block: &JudgedBlock<'_>, elapsed: Elapsed) {
        let answers = [("legacy", block.legacy, elapsed.legacy), ("candidate", block.candidate, elapsed.candidate)];
        for (verifier, outcome, took) in answers {
            let Some(outcome) = outcome else { continue };
            let label = VerifierLabel { verifier };
            self.blocks.get_or_create(&label).inc();
            self.verify_seconds.get_or_create(&label).observe(took.unwrap_or_default().as_secs_f64());
            if let VerifierOutcome::Error(e) = outcome {
                self.errors.get_or_create(&ErrorLabels { verifier, kind: kind_str(e.kind) }).inc();
            }
        }
        for class in block.classes() {
            match class {
                RecordClass::Fallback => {
                    self.fallbacks.inc();
                }
                RecordClass::LegacyNoise => {
                    self.noise.get_or_create(&VerifierLabel { verifier: "legacy" }).inc();
                }
                RecordClass::CandidateNoise => {
                    self.noise.get_or_create(&VerifierLabel { verifier: "candidate" }).inc();
                }
                RecordClass::StoredIdMismatch => {
                    self.input_findings.get_or_create(&ClassLabel { class: class.as_str() }).inc();
                }
                c if c.is_divergence() => {
                    self.divergences.get_or_create(&ClassLabel { class: c.as_str() }).inc();
                }
                // Verifier errors are counted above, by kind.
                _ => {}
            }
        }
        self.set_judged_height(block.height);
    }

    /// The last height judged (also after a resume, before any block).
    pub fn set_judged_height(&self, height: u64) {
        self.judged_height.set(height as i64);
        self.update_lag();
    }

    /// What the daemon reported: its chain height, or that it could not be reached.
    pub fn daemon(&self, height: Option<u64>) {
        match height {
            Some(h) => {
                self.daemon_up.set(1);
                self.daemon_height.set(h as i64);
                self.update_lag();
            }
            None => {
                self.daemon_up.set(0);
            }
        }
    }

    /// A reorganization was seen.
    pub fn reorg(&self) {
        self.reorgs.inc();
    }

    /// The daemon served a block that does not link to the block it serves below it.
    pub fn inconsistent(&self) {
        self.inconsistent.inc();
    }

    fn update_lag(&self) {
        let daemon = self.daemon_height.get();
        if daemon > 0 {
            // Heights below the daemon's height exist; judged_height + 1 of them are judged.
            self.lag_blocks.set((daemon - self.judged_height.get() - 1).max(0));
        }
    }

    /// The Prometheus text exposition (version 0.0.4) of every metric, process metrics read now.
    pub fn encode(&self) -> String {
        self.process.refresh();
        let mut open_metrics = String::new();
        prometheus_client::encoding::text::encode(&mut open_metrics, &self.registry).expect("writing to a String");
        prometheus_text(&open_metrics)
    }
}

/// OpenMetrics text as the Prometheus text format has it: a counter family is named with its `_total`
/// suffix in its `# HELP` and `# TYPE` lines (as its samples are), and there is no `# EOF` line. Scrapers
/// read both; `promtool check metrics` and older tools read only this one.
pub(crate) fn prometheus_text(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = open_metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .filter(|name| !name.ends_with("_total"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len() + 64);
    for line in open_metrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{tag}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

fn roles(mode: Mode) -> impl Iterator<Item = &'static str> {
    [("legacy", mode.runs_legacy()), ("candidate", mode.runs_candidate())].into_iter().filter(|r| r.1).map(|r| r.0)
}

fn kind_str(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout => "timeout",
        ErrorKind::Crash => "crash",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Panic => "panic",
    }
}

/// An `f64` gauge (process metrics).
pub(crate) type FloatGauge = Gauge<f64, AtomicU64>;

/// The metrics as an observer of a run's events (the daemon's health is reported by the source itself:
/// [`Metrics::daemon`], [`Metrics::inconsistent`]).
pub struct MetricsObserver(pub std::sync::Arc<Metrics>);

impl Observer for MetricsObserver {
    fn observe(&mut self, event: &RunEvent<'_>) {
        match event {
            // The blocks below where a run starts (or resumes) count as judged: a live run starting at
            // the daemon's height lags by nothing.
            RunEvent::Started { first, resumed_at, .. } => {
                if let Some(judged) = resumed_at.unwrap_or(*first).checked_sub(1) {
                    self.0.set_judged_height(judged);
                }
            }
            RunEvent::Judged { block, elapsed } => self.0.judged(block, *elapsed),
            RunEvent::Reorganized { .. } => self.0.reorg(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use dualrun_core::{decide, ReasonMap};
    use dualrun_format::Hash32;
    use dualrun_testkit::verifiers::{accept, env, reject};

    use super::*;

    /// The run's events move the metrics a scrape shows: where a run starts, each judged block's
    /// verifier counts and latencies, its divergence, a reorganization.
    #[test]
    fn the_run_events_move_the_metrics() {
        let metrics = Arc::new(Metrics::new(Mode::Shadow));
        let mut observer = MetricsObserver(metrics.clone());
        observer.observe(&RunEvent::Started { first: 100, last: None, resumed_at: None });
        metrics.daemon(Some(105));
        let text = metrics.encode();
        assert!(text.contains("dualrun_judged_height 99\n"), "{text}");
        assert!(text.contains("dualrun_lag_blocks 5\n"), "{text}");

        let (env, accept, reject) = (env(), accept(), reject("leader.missing"));
        let decision = decide(Mode::Shadow, Some(&accept), Some(&reject), &ReasonMap::default());
        let block = JudgedBlock {
            height: 100,
            block_id: Hash32([2; 32]),
            stored_id: Hash32([2; 32]),
            blob: &[],
            env: &env,
            legacy: Some(&accept),
            candidate: Some(&reject),
            decision: &decision,
            legacy_again: None,
            candidate_again: None,
        };
        let elapsed = Elapsed { legacy: Some(Duration::from_millis(3)), candidate: Some(Duration::from_micros(40)) };
        observer.observe(&RunEvent::Judged { block: &block, elapsed });
        let text = metrics.encode();
        assert!(text.contains("dualrun_blocks_total{verifier=\"legacy\"} 1\n"), "{text}");
        assert!(text.contains("dualrun_blocks_total{verifier=\"candidate\"} 1\n"), "{text}");
        assert!(text.contains("dualrun_divergences_total{class=\"halt\"} 1\n"), "{text}");
        assert!(text.contains("dualrun_judged_height 100\n"), "{text}");
        assert!(text.contains("dualrun_lag_blocks 4\n"), "{text}");
        assert!(text.contains("dualrun_verify_seconds_sum{verifier=\"legacy\"} 0.003\n"), "{text}");
    }
}
