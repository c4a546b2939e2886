//! Counters and latency histograms of a run; kept in the checkpoint so a resumed run ends with the same
//! counts as an uninterrupted one.

use std::collections::BTreeMap;
use std::time::Duration;

use dualrun_core::RecordClass;
use serde::{Deserialize, Serialize};

/// Latencies in logarithmic buckets (8 per power of two, about 9 % wide): fixed memory however long the
/// run, mergeable across resumed sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// bucket index → count
    buckets: BTreeMap<u32, u64>,
    count: u64,
    max_ns: u64,
    /// Time of all calls together (absent in checkpoints written before it was kept: 0).
    #[serde(default)]
    total_ns: u64,
}

fn bucket(ns: u64) -> u32 {
    if ns < 2 {
        return 0;
    }
    let log2 = 63 - ns.leading_zeros();
    // 8 sub-buckets from the 3 bits after the leading one.
    let frac = if log2 >= 3 { (ns >> (log2 - 3)) & 7 } else { (ns << (3 - log2)) & 7 };
    log2 * 8 + frac as u32
}

fn bucket_upper_ns(b: u32) -> u64 {
    let (log2, frac) = (b / 8, u64::from(b % 8));
    if log2 >= 3 {
        ((8 + frac + 1) << (log2 - 3)) - 1
    } else {
        ((8 + frac + 1) >> (3 - log2)).max(1)
    }
}

impl Histogram {
    /// Counts one call that took `d`.
    pub fn record(&mut self, d: Duration) {
        let ns = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        *self.buckets.entry(bucket(ns)).or_default() += 1;
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.total_ns = self.total_ns.saturating_add(ns);
    }

    /// Calls counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The q-quantile (0..=1) in microseconds: the upper edge of its bucket.
    pub fn quantile_us(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (&b, &n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(bucket_upper_ns(b).min(self.max_ns) as f64 / 1000.0);
            }
        }
        Some(self.max_ns as f64 / 1000.0)
    }

    /// The slowest call, microseconds.
    pub fn max_us(&self) -> f64 {
        self.max_ns as f64 / 1000.0
    }

    /// Adds another histogram's calls (shards of one run merge into the run's histogram).
    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.buckets {
            *self.buckets.entry(*b).or_default() += n;
        }
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.total_ns = self.total_ns.saturating_add(other.total_ns);
    }

    /// Time of all calls together, seconds.
    pub fn total_seconds(&self) -> f64 {
        self.total_ns as f64 / 1e9
    }

    /// The non-empty buckets, fastest first: (lower edge, upper edge) in microseconds and the count.
    pub fn buckets_us(&self) -> Vec<(f64, f64, u64)> {
        self.buckets
            .iter()
            .map(|(&b, &n)| {
                let lower = if b == 0 { 0 } else { bucket_upper_ns(b - 1) + 1 };
                (lower as f64 / 1000.0, (bucket_upper_ns(b) + 1) as f64 / 1000.0, n)
            })
            .collect()
    }
}

/// Everything counted so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Blocks judged.
    pub blocks: u64,
    /// Records written, by class.
    pub records: BTreeMap<RecordClass, u64>,
    /// Blocks whose authoritative verdict is accept.
    pub authoritative_accept: u64,
    /// Blocks whose authoritative verdict is reject.
    pub authoritative_reject: u64,
    /// The legacy's time per block.
    pub legacy_latency: Histogram,
    /// The candidate's time per block.
    pub candidate_latency: Histogram,
    /// Wall time spent replaying, summed over sessions (resumes).
    pub elapsed_ms: u64,
    /// Sessions that have ended (the first run and each resume).
    pub sessions: u32,
    /// Blocks judged twice by each verifier the mode runs (a noise run; absent before noise runs: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub noise_checked: u64,
    /// Each verifier's state after the last judged block, by role (`legacy`, `candidate`), when it has
    /// one: a resume hands it back (see [`dualrun_core::VerifierState`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub verifier_state: BTreeMap<String, dualrun_core::VerifierState>,
}

impl Stats {
    /// Records of one class.
    pub fn count(&self, class: RecordClass) -> u64 {
        self.records.get(&class).copied().unwrap_or(0)
    }

    /// Counts one judged block: its verifiers' times and its authoritative verdict (its records are
    /// counted with [`Stats::add`] as they are written).
    pub fn judged(&mut self, legacy: Option<Duration>, candidate: Option<Duration>, accepted: bool) {
        if let Some(d) = legacy {
            self.legacy_latency.record(d);
        }
        if let Some(d) = candidate {
            self.candidate_latency.record(d);
        }
        self.blocks += 1;
        if accepted {
            self.authoritative_accept += 1;
        } else {
            self.authoritative_reject += 1;
        }
    }

    /// Counts one record.
    pub fn add(&mut self, class: RecordClass) {
        *self.records.entry(class).or_default() += 1;
    }

    /// All records.
    pub fn total_records(&self) -> u64 {
        self.records.values().sum()
    }

    /// Adds another run's counters (shards merged into one run).
    pub fn merge(&mut self, other: &Stats) {
        self.blocks += other.blocks;
        for (class, n) in &other.records {
            *self.records.entry(*class).or_default() += n;
        }
        self.authoritative_accept += other.authoritative_accept;
        self.authoritative_reject += other.authoritative_reject;
        self.legacy_latency.merge(&other.legacy_latency);
        self.candidate_latency.merge(&other.candidate_latency);
        self.elapsed_ms += other.elapsed_ms;
        self.sessions += other.sessions;
        self.noise_checked += other.noise_checked;
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile_us(0.5).unwrap();
        let p99 = h.quantile_us(0.99).unwrap();
        assert!((500.0..=550.0).contains(&p50), "{p50}");
        assert!((990.0..=1000.0).contains(&p99), "{p99}");
        assert_eq!(h.max_us(), 1000.0);
        assert_eq!(Histogram::default().quantile_us(0.5), None);
        for ns in [0u64, 1, 2, 3, 7, 8, 9, 1000, 123_456_789] {
            assert!(bucket_upper_ns(bucket(ns)) >= ns, "{ns}");
        }
    }
}
