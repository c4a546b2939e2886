//! Evaluating a forward move: every criterion with its value, its threshold and its outcome, and the
//! overall outcome — `pass`, `fail`, or `inconclusive` when there is too little evidence to say (never
//! a pass). Evidence that cannot be used (incomplete, tampered, another profile) fails the evaluation
//! and says which run and why.

use std::fmt;

use dualrun_core::{Mode, RecordClass};
use serde::Serialize;
use serde_json::{json, Value};

use crate::allowlist::Allowlist;
use crate::evidence::EvidenceRun;
use crate::policy::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateOutcome {
    Pass,
    Inconclusive,
    Fail,
}

impl fmt::Display for GateOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GateOutcome::Pass => "pass",
            GateOutcome::Inconclusive => "inconclusive",
            GateOutcome::Fail => "fail",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    pub name: String,
    pub value: Value,
    pub threshold: String,
    pub outcome: GateOutcome,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The golden-vector results an evaluation may rely on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoldenResult {
    pub dir: String,
    /// Keccak-256 over the vectors' file names and contents, in path order.
    pub digest: String,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl GoldenResult {
    /// What an evaluation keeps of a golden run (the same counts `golden check` prints).
    pub fn from_report(r: &dualrun_golden::GoldenReport) -> GoldenResult {
        GoldenResult {
            dir: r.dir.display().to_string(),
            digest: r.digest.to_string(),
            passed: r.passed(),
            failed: r.failed(),
            skipped: r.skipped(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub from: Mode,
    pub to: Mode,
    pub outcome: GateOutcome,
    pub criteria: Vec<Criterion>,
    pub policy_digest: String,
}

fn crit(name: &str, value: Value, threshold: String, outcome: GateOutcome, note: String) -> Criterion {
    Criterion { name: name.into(), value, threshold, outcome, note }
}

/// Evaluates moving from `from` to `to` (one step forward) on `evidence`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    from: Mode,
    to: Mode,
    policy: &Policy,
    evidence: &[EvidenceRun],
    golden: Option<&GoldenResult>,
    allowlist: Option<&Allowlist>,
    strict: bool,
    expected_profile: Option<&str>,
) -> Evaluation {
    let mut criteria = Vec::new();
    let Some(req) = policy.for_target(to).filter(|_| to > from) else {
        criteria.push(crit("transition", json!(format!("{from} -> {to}")), "one step forward".into(), GateOutcome::Fail, "not a forward move".into()));
        return Evaluation { from, to, outcome: GateOutcome::Fail, criteria, policy_digest: policy.digest.clone() };
    };
    let next = from.next();
    if next != Some(to) {
        criteria.push(crit("transition", json!(format!("{from} -> {to}")), format!("{from} -> {}", next.map_or("-".into(), |m| m.to_string())), GateOutcome::Fail, "forward moves go one step at a time".into()));
    }

    // Evidence: each run usable, all with the expected profile.
    let first_profile = evidence.first().and_then(|e| e.profile_digest()).map(|d| d.to_string());
    let profile = policy.profile_digest.as_deref().or(expected_profile).or(first_profile.as_deref());
    for e in evidence {
        let mut problems = e.problems.clone();
        if let (Some(want), Some(got)) = (profile, e.profile_digest()) {
            if want != got.to_string() {
                problems.push(format!("made with profile {got}, not {want}"));
            }
        }
        let outcome = if problems.is_empty() { GateOutcome::Pass } else { GateOutcome::Fail };
        criteria.push(crit(
            "evidence",
            json!(e.dir.display().to_string()),
            "complete, untampered, same profile".into(),
            outcome,
            problems.join("; "),
        ));
    }
    // The same run given twice counts once.
    let mut seen = std::collections::BTreeSet::new();
    let usable: Vec<&EvidenceRun> = evidence
        .iter()
        .filter(|e| e.problems.is_empty())
        .filter(|e| seen.insert(e.inputs_digest()))
        .collect();

    // Blocks compared: the union of the heights replayed with both verifiers, per chain (overlapping
    // runs count each height once), less the blocks where a verifier failed.
    let mut ranges: std::collections::BTreeMap<String, Vec<(u64, u64)>> = Default::default();
    let mut failed_blocks = std::collections::BTreeSet::new();
    for e in &usable {
        if let Some((chain, from, to)) = e.chain_range().filter(|_| e.blocks_compared() > 0) {
            ranges.entry(chain.clone()).or_default().push((from, to));
            failed_blocks.extend(e.error_blocks().into_iter().map(|id| (chain.clone(), id)));
        }
    }
    let mut heights = 0u64;
    for spans in ranges.values_mut() {
        spans.sort_unstable();
        let mut end: Option<u64> = None;
        for &(a, b) in spans.iter() {
            let start = match end {
                Some(e) if a <= e => e + 1,
                _ => a,
            };
            if b >= start {
                heights += b - start + 1;
            }
            end = Some(end.map_or(b, |e| e.max(b)));
        }
    }
    let blocks = heights.saturating_sub(failed_blocks.len() as u64);
    let enough = blocks >= req.min_blocks && (blocks > 0 || req.min_blocks == 0);
    criteria.push(crit(
        "min_blocks",
        json!(blocks),
        format!(">= {}", req.min_blocks),
        if enough { GateOutcome::Pass } else { GateOutcome::Inconclusive },
        if !enough {
            "too little evidence: replay more blocks with both verifiers (SHADOW or PRIMARY)".into()
        } else if !failed_blocks.is_empty() {
            format!("{} blocks where a verifier failed are not counted", failed_blocks.len())
        } else {
            String::new()
        },
    ));

    // Divergences after the allowlist (for SHADOW -> PRIMARY); splits never excused.
    let today = crate::allowlist::today();
    let max_height = usable.iter().map(|e| e.last_height()).max().unwrap_or(0);
    let is_active: Vec<bool> =
        allowlist.map(|a| a.entries.iter().map(|e| Allowlist::active(e, max_height, &today)).collect()).unwrap_or_default();
    let (mut splits, mut counted, mut excused) = (0u64, 0u64, 0u64);
    let mut matched = vec![false; allowlist.map_or(0, |a| a.entries.len())];
    for e in &usable {
        for (block_id, class) in &e.records {
            if !class.is_divergence() {
                continue;
            }
            if *class == RecordClass::Split {
                splits += 1;
                counted += 1;
                continue;
            }
            let hit = allowlist.and_then(|a| a.entries.iter().position(|x| x.block_id == *block_id && x.class == *class));
            match hit {
                Some(i) if to == Mode::Primary && is_active[i] => {
                    matched[i] = true;
                    excused += 1;
                }
                Some(i) => {
                    matched[i] = true;
                    counted += 1;
                }
                None => counted += 1,
            }
        }
    }
    if to != Mode::Shadow {
        criteria.push(crit("no_splits", json!(splits), "== 0 (a split is never excused)".into(), if splits == 0 { GateOutcome::Pass } else { GateOutcome::Fail }, String::new()));
    }
    if let Some(max) = req.max_divergences {
        let outcome = if !enough { GateOutcome::Inconclusive } else if counted <= max { GateOutcome::Pass } else { GateOutcome::Fail };
        let note = if excused > 0 { format!("{excused} excused by the allowlist") } else { String::new() };
        criteria.push(crit("max_divergences", json!(counted), format!("<= {max}"), outcome, note));
    }
    if let Some(max) = req.max_error_rate {
        let errors: u64 = usable
            .iter()
            .filter_map(|e| e.run.as_ref())
            .map(|r| r.summary.errors.candidate_error + r.summary.errors.fallback)
            .sum();
        let (value, outcome) = if blocks == 0 {
            (Value::Null, GateOutcome::Inconclusive)
        } else {
            let rate = errors as f64 / blocks as f64;
            (json!(rate), if rate <= max { GateOutcome::Pass } else { GateOutcome::Fail })
        };
        criteria.push(crit("max_error_rate", value, format!("<= {max}"), outcome, format!("{errors} candidate errors and fallbacks")));
    }
    if let Some(max) = req.max_latency_ratio_p99 {
        let ratios: Vec<f64> = usable
            .iter()
            .filter_map(|e| {
                let latency = &e.run.as_ref()?.summary.latency;
                let l = latency.legacy.as_ref()?.p99_us;
                let c = latency.candidate.as_ref()?.p99_us;
                (l > 0.0).then_some(c / l)
            })
            .collect();
        let worst = ratios.iter().copied().fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))));
        let (value, outcome) = match worst {
            None => (Value::Null, GateOutcome::Inconclusive),
            Some(r) => (json!(r), if r <= max { GateOutcome::Pass } else { GateOutcome::Fail }),
        };
        criteria.push(crit("max_latency_ratio_p99", value, format!("<= {max}"), outcome, "candidate p99 / legacy p99, worst run".into()));
    }
    if req.require_golden {
        let (value, outcome, note) = match golden {
            None => (Value::Null, GateOutcome::Inconclusive, "no golden vectors given (--golden DIR)".to_owned()),
            Some(g) if g.failed > 0 => (json!(g), GateOutcome::Fail, format!("{} vectors failed", g.failed)),
            Some(g) if g.passed == 0 => (json!(g), GateOutcome::Inconclusive, "no vector passed: an empty gate proves nothing".to_owned()),
            Some(g) => (json!(g), GateOutcome::Pass, String::new()),
        };
        criteria.push(crit("require_golden", value, "all vectors pass".into(), outcome, note));
    }
    if to == Mode::Only {
        let ids: Vec<String> = allowlist
            .map(|a| a.entries.iter().zip(&is_active).filter(|(_, on)| **on).map(|(e, _)| e.block_id.to_string()).collect())
            .unwrap_or_default();
        criteria.push(crit(
            "no_active_allowlist_entries",
            json!(ids.len()),
            "== 0".into(),
            if ids.is_empty() { GateOutcome::Pass } else { GateOutcome::Fail },
            if ids.is_empty() { String::new() } else { format!("active: {}", ids.join(", ")) },
        ));
    }
    if let Some(a) = allowlist {
        let stale: Vec<String> = a
            .entries
            .iter()
            .zip(&matched)
            .filter_map(|(e, m)| {
                let expired = !Allowlist::active(e, max_height, &today);
                (expired || !m).then(|| format!("{} {} ({})", e.block_id, e.class, if expired { "expired" } else { "never matched" }))
            })
            .collect();
        if !stale.is_empty() {
            criteria.push(crit(
                "allowlist_hygiene",
                json!(stale.len()),
                "no expired or unused entries".into(),
                if strict { GateOutcome::Fail } else { GateOutcome::Pass },
                format!("{}{}", stale.join(", "), if strict { "" } else { " (reported; fails under --strict)" }),
            ));
        }
    }
    let outcome = criteria.iter().map(|c| c.outcome).max().unwrap_or(GateOutcome::Pass);
    Evaluation { from, to, outcome, criteria, policy_digest: policy.digest.clone() }
}
