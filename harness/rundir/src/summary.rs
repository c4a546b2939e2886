//! `summary.json`: what a run found and how fast, made from its [`Stats`].

use dualrun_core::{Mode, RecordClass};
use serde::{Deserialize, Serialize};

use crate::stats::{Histogram, Stats};

/// `summary.json`. The field order is the on-disk order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The whole range was replayed.
    pub complete: bool,
    /// The mode applied.
    pub mode: Mode,
    /// The range and how far the run got.
    pub range: Range,
    /// Blocks judged.
    pub blocks: u64,
    /// Which verifiers the mode ran.
    pub verifiers_run: VerifiersRun,
    /// Divergences by class.
    pub divergences: ClassCounts,
    /// Error records by class.
    pub errors: ErrorCounts,
    /// Noise: blocks judged twice, and the records of a verifier that answered one differently
    /// (absent in runs made before noise runs: none).
    #[serde(default)]
    pub noise: NoiseCounts,
    /// Input findings: stored ids that are not the computed ones (absent in runs made before it was
    /// counted: none were recorded then).
    #[serde(default)]
    pub inputs: InputCounts,
    /// All records.
    pub records: u64,
    /// Authoritative verdicts.
    pub authoritative: VerdictCounts,
    /// Blocks per second of replay time (summed over sessions).
    pub blocks_per_second: f64,
    /// Replay time, summed over sessions.
    pub elapsed_seconds: f64,
    /// How many sessions (the first run and each resume) made the run.
    pub sessions: u32,
    /// Per-verifier latency (null for a verifier that was not run).
    pub latency: Latencies,
}

/// The range of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// First height.
    pub from: u64,
    /// Last height (inclusive).
    pub to: u64,
    /// The first height not judged (`to + 1` when complete).
    pub next_height: u64,
}

/// Which verifiers a run ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiersRun {
    /// The legacy verifier ran.
    pub legacy: bool,
    /// The candidate ran.
    pub candidate: bool,
}

impl VerifiersRun {
    /// Both verifiers ran, so blocks were compared.
    pub fn compared(self) -> bool {
        self.legacy && self.candidate
    }
}

/// Divergences by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// Candidate accepts what legacy rejects.
    pub split: u64,
    /// Candidate rejects what legacy accepts.
    pub halt: u64,
    /// Same verdict, different facts.
    pub fact: u64,
    /// Both reject, for different reasons.
    pub reason: u64,
}

/// Error records by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// The legacy failed.
    pub legacy_error: u64,
    /// The candidate failed.
    pub candidate_error: u64,
    /// The candidate failed in PRIMARY and the legacy's verdict stood.
    pub fallback: u64,
}

/// Noise: blocks judged twice (`--noise`) and noise records by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoiseCounts {
    /// Blocks judged twice by each verifier the mode runs.
    pub checked: u64,
    /// Blocks the legacy answered differently the second time.
    pub legacy_noise: u64,
    /// Blocks the candidate answered differently the second time.
    pub candidate_noise: u64,
}

/// Input findings by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputCounts {
    /// Blocks whose stored id is not the id their blob hashes to.
    pub stored_id_mismatch: u64,
}

/// Authoritative verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    /// Accepted blocks.
    pub accept: u64,
    /// Rejected blocks.
    pub reject: u64,
}

/// Both verifiers' latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    /// The legacy's, if it ran.
    pub legacy: Option<Latency>,
    /// The candidate's, if it ran.
    pub candidate: Option<Latency>,
}

/// One verifier's latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Calls measured.
    pub count: u64,
    /// Median, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// Slowest call, microseconds.
    pub max_us: f64,
    /// Time of all calls together, seconds (0 in runs made before it was kept).
    #[serde(default)]
    pub busy_seconds: f64,
    /// The distribution: non-empty logarithmic buckets, fastest first (empty in runs made before it was
    /// kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub histogram: Vec<LatencyBucket>,
}

/// One bucket of a latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    /// Lower edge, microseconds.
    pub from_us: f64,
    /// Upper edge (exclusive), microseconds.
    pub to_us: f64,
    /// Calls in it.
    pub count: u64,
}

impl Latency {
    fn of(h: &Histogram) -> Option<Latency> {
        Some(Latency {
            count: h.count(),
            p50_us: h.quantile_us(0.5)?,
            p99_us: h.quantile_us(0.99)?,
            max_us: h.max_us(),
            busy_seconds: h.total_seconds(),
            histogram: h
                .buckets_us()
                .into_iter()
                .map(|(from_us, to_us, count)| LatencyBucket { from_us, to_us, count })
                .collect(),
        })
    }
}

impl Summary {
    /// The summary of a run of `from..=to` in `mode` that got to `next_height`.
    pub fn from_stats(mode: Mode, from: u64, to: u64, s: &Stats, complete: bool, next_height: u64) -> Summary {
        let secs = s.elapsed_ms as f64 / 1000.0;
        Summary {
            complete,
            mode,
            range: Range { from, to, next_height },
            blocks: s.blocks,
            verifiers_run: VerifiersRun { legacy: mode.runs_legacy(), candidate: mode.runs_candidate() },
            divergences: ClassCounts {
                split: s.count(RecordClass::Split),
                halt: s.count(RecordClass::Halt),
                fact: s.count(RecordClass::Fact),
                reason: s.count(RecordClass::Reason),
            },
            errors: ErrorCounts {
                legacy_error: s.count(RecordClass::LegacyError),
                candidate_error: s.count(RecordClass::CandidateError),
                fallback: s.count(RecordClass::Fallback),
            },
            noise: NoiseCounts {
                checked: s.noise_checked,
                legacy_noise: s.count(RecordClass::LegacyNoise),
                candidate_noise: s.count(RecordClass::CandidateNoise),
            },
            inputs: InputCounts { stored_id_mismatch: s.count(RecordClass::StoredIdMismatch) },
            records: s.total_records(),
            authoritative: VerdictCounts { accept: s.authoritative_accept, reject: s.authoritative_reject },
            blocks_per_second: if secs > 0.0 { s.blocks as f64 / secs } else { 0.0 },
            elapsed_seconds: secs,
            sessions: s.sessions,
            latency: Latencies { legacy: Latency::of(&s.legacy_latency), candidate: Latency::of(&s.candidate_latency) },
        }
    }

    /// The count of one record class.
    pub fn count(&self, class: RecordClass) -> u64 {
        match class {
            RecordClass::Split => self.divergences.split,
            RecordClass::Halt => self.divergences.halt,
            RecordClass::Fact => self.divergences.fact,
            RecordClass::Reason => self.divergences.reason,
            RecordClass::LegacyError => self.errors.legacy_error,
            RecordClass::CandidateError => self.errors.candidate_error,
            RecordClass::Fallback => self.errors.fallback,
            RecordClass::LegacyNoise => self.noise.legacy_noise,
            RecordClass::CandidateNoise => self.noise.candidate_noise,
            RecordClass::StoredIdMismatch => self.inputs.stored_id_mismatch,
        }
    }

    /// The summary's field that counts `class` (`divergences.halt`, `errors.legacy_error`…).
    pub fn field_of(class: RecordClass) -> String {
        let group = if class.is_divergence() {
            "divergences"
        } else if class.is_error() {
            "errors"
        } else if class.is_noise() {
            "noise"
        } else {
            "inputs"
        };
        format!("{group}.{}", class.as_str())
    }

    /// `(class, count)` of every class with records, most severe first.
    pub fn nonzero(&self) -> impl Iterator<Item = (RecordClass, u64)> + '_ {
        RecordClass::ALL.into_iter().map(|c| (c, self.count(c))).filter(|(_, n)| *n > 0)
    }

    /// Pretty JSON with a final newline, as written.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::access::pretty(self)
    }
}
