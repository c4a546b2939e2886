//! Evaluating a forward move: every criterion with its value, its threshold and its outcome, and the
//! overall outcome — `pass`, `fail`, or `inconclusive` when there is too little evidence to say (never
//! a pass). Evidence that cannot be used (incomplete, tampered, another profile) fails the evaluation
//! and says which run and why.

use std::collections::{BTreeMap, BTreeSet};

use dualrun_core::{Mode, RecordClass};
use dualrun_rundir::Latency;
use serde::Serialize;
use serde_json::{json, Value};

pub use crate::criterion::{Criterion, GateOutcome};

use crate::allowlist::Allowlist;
use crate::evidence::EvidenceRun;
use crate::fleet::FleetEvidence;
use crate::isolation::IsolationFile;
use crate::policy::Policy;

/// The golden-vector results an evaluation may rely on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoldenResult {
    /// The vectors' directory.
    pub dir: String,
    /// Keccak-256 over the vectors' file names and contents, in path order.
    pub digest: String,
    /// Vectors that passed.
    pub passed: u64,
    /// Vectors that failed (unreadable, mismatched, skipped without a reason).
    pub failed: u64,
    /// Vectors skipped with a written reason.
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

/// The outcome of an evaluation, with every criterion that decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The ledger's mode.
    pub from: Mode,
    /// The mode asked for.
    pub to: Mode,
    /// The worst criterion's outcome.
    pub outcome: GateOutcome,
    /// Every criterion, in the order evaluated.
    pub criteria: Vec<Criterion>,
    /// Keccak-256 of the policy applied.
    pub policy_digest: String,
    /// Names what was judged: the move, the policy, the evidence runs (their manifest digests), the
    /// golden vectors and the allowlist. Operators approve a promotion by this digest
    /// (`gate approve --evaluation-digest`).
    pub evaluation_digest: String,
}

/// The digest of what an evaluation judges: Keccak-256 of `dualrun/evaluation/v1\n` and the compact JSON
/// of the move, the policy's digest, the evidence runs' manifest digests (sorted; a run that cannot be
/// read by its directory), the golden vectors' digest, the allowlist's digest, `strict` and, when any are
/// given, the isolation files' digests and the fleet runs' `fleet.json` digests (each sorted).
pub fn evaluation_digest(input: &EvaluationInput<'_>) -> String {
    let mut runs: Vec<String> = input
        .evidence
        .iter()
        .map(|e| {
            e.run.as_ref().map_or_else(|| format!("unreadable:{}", e.dir.display()), |r| r.manifest_digest.to_string())
        })
        .collect();
    runs.sort();
    runs.dedup();
    let mut judged = json!({
        "from": input.from,
        "to": input.to,
        "policy": input.policy.digest,
        "evidence": runs,
        "golden": input.golden.map(|g| g.digest.clone()),
        "allowlist": input.allowlist.map(|a| a.digest.clone()),
        "strict": input.strict,
    });
    // Only when given, so evaluations without isolation evidence keep their digests.
    if !input.isolation.is_empty() {
        let mut files: Vec<String> = input
            .isolation
            .iter()
            .map(|f| f.digest().map_or_else(|| format!("unreadable:{}", f.file.display()), str::to_owned))
            .collect();
        files.sort();
        files.dedup();
        judged["isolation"] = json!(files);
    }
    if !input.fleet.is_empty() {
        let mut runs: Vec<String> = input
            .fleet
            .iter()
            .map(|f| f.digest().unwrap_or_else(|| format!("unreadable:{}", f.dir.display())))
            .collect();
        runs.sort();
        runs.dedup();
        judged["fleet"] = json!(runs);
    }
    let mut bytes = b"dualrun/evaluation/v1\n".to_vec();
    bytes.extend(serde_json::to_vec(&judged).expect("serializes"));
    dualrun_format::keccak256(&bytes).to_string()
}

/// What an evaluation looks at.
pub struct EvaluationInput<'a> {
    /// The ledger's mode.
    pub from: Mode,
    /// The mode asked for.
    pub to: Mode,
    /// What the move requires.
    pub policy: &'a Policy,
    /// The replay runs given as evidence.
    pub evidence: &'a [EvidenceRun],
    /// The isolation evidence files given.
    pub isolation: &'a [IsolationFile],
    /// The fleet runs given.
    pub fleet: &'a [FleetEvidence],
    /// The golden vectors' results, if run.
    pub golden: Option<&'a GoldenResult>,
    /// Known divergences excused.
    pub allowlist: Option<&'a Allowlist>,
    /// Expired or never-matched allowlist entries fail.
    pub strict: bool,
    /// The profile the ledger last promoted on, if any.
    pub expected_profile: Option<&'a str>,
}

fn crit(name: &str, value: Value, threshold: String, outcome: GateOutcome, note: String) -> Criterion {
    Criterion { name: name.into(), value, threshold, outcome, note }
}

fn pass_if(ok: bool) -> GateOutcome {
    if ok {
        GateOutcome::Pass
    } else {
        GateOutcome::Fail
    }
}

/// Evaluates moving from `from` to `to` (one step forward) on the evidence.
pub fn evaluate(input: &EvaluationInput<'_>) -> Evaluation {
    let EvaluationInput { from, to, policy, evidence, isolation, fleet, golden, allowlist, strict, expected_profile } =
        *input;
    let mut criteria = Vec::new();
    let done = |criteria: Vec<Criterion>| {
        let outcome = criteria.iter().map(|c| c.outcome).max().unwrap_or(GateOutcome::Pass);
        Evaluation {
            from,
            to,
            outcome,
            criteria,
            policy_digest: policy.digest.clone(),
            evaluation_digest: evaluation_digest(input),
        }
    };
    let Some(req) = policy.for_target(to).filter(|_| to > from) else {
        let value = json!(format!("{from} -> {to}"));
        criteria.push(crit(
            "transition",
            value,
            "one step forward".into(),
            GateOutcome::Fail,
            "not a forward move".into(),
        ));
        return done(criteria);
    };
    if from.next() != Some(to) {
        let want = format!("{from} -> {}", from.next().map_or("-".into(), |m| m.to_string()));
        let note = "forward moves go one step at a time".into();
        criteria.push(crit("transition", json!(format!("{from} -> {to}")), want, GateOutcome::Fail, note));
    }
    let pinned = policy.profile_digest.as_deref().or(expected_profile);
    criteria.extend(evidence_criteria(evidence, pinned));
    let usable = usable(evidence);
    criteria.push(independence(&usable));
    let blocks = blocks_compared(&usable);
    let enough = blocks.counted >= req.min_blocks && (blocks.counted > 0 || req.min_blocks == 0);
    criteria.push(blocks.criterion(req.min_blocks, enough));
    let allowed = AllowlistUse::new(allowlist, &usable);
    let divergences = count_divergences(&usable, allowlist, &allowed, to);
    if to != Mode::Shadow {
        let splits = divergences.splits;
        criteria.push(crit(
            "no_splits",
            json!(splits),
            "== 0 (a split is never excused)".into(),
            pass_if(splits == 0),
            String::new(),
        ));
    }
    if let Some(max) = req.max_divergences {
        let counted = divergences.counted;
        let outcome = if enough { pass_if(counted <= max) } else { GateOutcome::Inconclusive };
        let excused = divergences.excused;
        let note = if excused > 0 { format!("{excused} excused by the allowlist") } else { String::new() };
        criteria.push(crit("max_divergences", json!(counted), format!("<= {max}"), outcome, note));
    }
    if let Some(max) = req.max_error_rate {
        criteria.push(error_rate(&usable, blocks.counted, max));
    }
    if let Some(max) = req.max_latency_ratio_p99 {
        criteria.push(latency_ratio(&usable, max));
    }
    if let Some(c) = determinism(&usable, req.max_legacy_noise_rate) {
        criteria.push(c);
    }
    if req.require_golden {
        criteria.push(golden_criterion(golden));
    }
    if req.require_isolation || !isolation.is_empty() {
        let first_run = evidence.first().and_then(EvidenceRun::profile_digest).map(|d| d.to_string());
        criteria.push(crate::isolation::criterion(isolation, pinned.or(first_run.as_deref())));
    }
    if req.require_fleet || !fleet.is_empty() {
        criteria.push(crate::fleet::criterion(fleet));
    }
    if to == Mode::Only {
        criteria.push(allowed.none_active());
    }
    criteria.extend(allowed.hygiene(&divergences.matched, strict));
    done(criteria)
}

/// One criterion per run: usable (complete, untampered) and made with the expected profile (the
/// policy's, else the ledger's, else the first run's).
fn evidence_criteria(evidence: &[EvidenceRun], pinned: Option<&str>) -> Vec<Criterion> {
    let first_profile = evidence.first().and_then(|e| e.profile_digest()).map(|d| d.to_string());
    let profile = pinned.or(first_profile.as_deref());
    evidence
        .iter()
        .map(|e| {
            let mut problems = e.problems.clone();
            if let (Some(want), Some(got)) = (profile, e.profile_digest()) {
                if want != got.to_string() {
                    problems.push(format!("made with profile {got}, not {want}"));
                }
            }
            let value = json!(e.dir.display().to_string());
            crit(
                "evidence",
                value,
                "complete, untampered, same profile".into(),
                pass_if(problems.is_empty()),
                problems.join("; "),
            )
        })
        .collect()
}

/// `evidence.independent`: in every run that compared blocks, the legacy and the candidate are different
/// verifiers — another spec, and other code where the files are known. A verifier compared with itself
/// agrees by construction and proves nothing.
fn independence(usable: &[&EvidenceRun]) -> Criterion {
    let same: Vec<String> = usable
        .iter()
        .filter_map(|e| {
            let inputs = &e.run.as_ref()?.manifest.inputs;
            let (l, c) = (inputs.legacy.as_ref()?, inputs.candidate.as_ref()?);
            let same_code = !l.files.is_empty() && l.files == c.files;
            (l.spec == c.spec || same_code).then(|| format!("{} (both {})", e.dir.display(), l.spec))
        })
        .collect();
    let note =
        if same.is_empty() { String::new() } else { format!("a verifier compared with itself: {}", same.join(", ")) };
    let threshold = "legacy and candidate are different verifiers".into();
    crit("evidence.independent", json!(same.len()), threshold, pass_if(same.is_empty()), note)
}

/// The runs that count, the same run given twice counted once.
fn usable(evidence: &[EvidenceRun]) -> Vec<&EvidenceRun> {
    let mut seen = BTreeSet::new();
    evidence.iter().filter(|e| e.problems.is_empty()).filter(|e| seen.insert(e.inputs_digest())).collect()
}

/// Blocks both verifiers judged: the union of the heights replayed with both, per chain (overlapping
/// runs count each height once), less the blocks where a verifier failed.
struct BlocksCompared {
    counted: u64,
    failed: usize,
}

fn blocks_compared(usable: &[&EvidenceRun]) -> BlocksCompared {
    let mut ranges: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    let mut failed_blocks = BTreeSet::new();
    for e in usable {
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
    BlocksCompared { counted: heights.saturating_sub(failed_blocks.len() as u64), failed: failed_blocks.len() }
}

impl BlocksCompared {
    fn criterion(&self, min_blocks: u64, enough: bool) -> Criterion {
        let note = if !enough {
            "too little evidence: replay more blocks with both verifiers (SHADOW or PRIMARY)".into()
        } else if self.failed > 0 {
            format!("{} blocks where a verifier failed are not counted", self.failed)
        } else {
            String::new()
        };
        let outcome = if enough { GateOutcome::Pass } else { GateOutcome::Inconclusive };
        crit("min_blocks", json!(self.counted), format!(">= {min_blocks}"), outcome, note)
    }
}

/// The allowlist as of the evidence: which entries are active (by the highest height replayed and
/// today's date).
struct AllowlistUse<'a> {
    allowlist: Option<&'a Allowlist>,
    active: Vec<bool>,
    max_height: u64,
    today: String,
}

impl<'a> AllowlistUse<'a> {
    fn new(allowlist: Option<&'a Allowlist>, usable: &[&EvidenceRun]) -> Self {
        let today = crate::allowlist::today();
        let max_height = usable.iter().map(|e| e.last_height()).max().unwrap_or(0);
        let active = allowlist
            .map(|a| a.entries.iter().map(|e| Allowlist::active(e, max_height, &today)).collect())
            .unwrap_or_default();
        AllowlistUse { allowlist, active, max_height, today }
    }

    /// PRIMARY → ONLY: no entry may be active.
    fn none_active(&self) -> Criterion {
        let ids: Vec<String> = self
            .allowlist
            .map(|a| {
                a.entries.iter().zip(&self.active).filter(|(_, on)| **on).map(|(e, _)| e.block_id.to_string()).collect()
            })
            .unwrap_or_default();
        let note = if ids.is_empty() { String::new() } else { format!("active: {}", ids.join(", ")) };
        crit("no_active_allowlist_entries", json!(ids.len()), "== 0".into(), pass_if(ids.is_empty()), note)
    }

    /// Expired or never-matched entries: reported, a failure under `--strict`.
    fn hygiene(&self, matched: &[bool], strict: bool) -> Option<Criterion> {
        let a = self.allowlist?;
        let stale: Vec<String> = a
            .entries
            .iter()
            .zip(matched)
            .filter_map(|(e, m)| {
                let expired = !Allowlist::active(e, self.max_height, &self.today);
                (expired || !m).then(|| {
                    format!("{} {} ({})", e.block_id, e.class, if expired { "expired" } else { "never matched" })
                })
            })
            .collect();
        if stale.is_empty() {
            return None;
        }
        let note = format!("{}{}", stale.join(", "), if strict { "" } else { " (reported; fails under --strict)" });
        let outcome = if strict { GateOutcome::Fail } else { GateOutcome::Pass };
        Some(crit("allowlist_hygiene", json!(stale.len()), "no expired or unused entries".into(), outcome, note))
    }
}

/// Divergences after the allowlist (which excuses only for SHADOW → PRIMARY); splits never excused.
struct Divergences {
    splits: u64,
    counted: u64,
    excused: u64,
    /// Per allowlist entry: it matched a divergence.
    matched: Vec<bool>,
}

fn count_divergences(
    usable: &[&EvidenceRun],
    allowlist: Option<&Allowlist>,
    allowed: &AllowlistUse<'_>,
    to: Mode,
) -> Divergences {
    let mut d = Divergences {
        splits: 0,
        counted: 0,
        excused: 0,
        matched: vec![false; allowlist.map_or(0, |a| a.entries.len())],
    };
    for (block_id, class) in usable.iter().flat_map(|e| &e.records) {
        if !class.is_divergence() {
            continue;
        }
        if *class == RecordClass::Split {
            d.splits += 1;
            d.counted += 1;
            continue;
        }
        match allowlist.and_then(|a| a.entries.iter().position(|x| x.block_id == *block_id && x.class == *class)) {
            Some(i) if to == Mode::Primary && allowed.active[i] => {
                d.matched[i] = true;
                d.excused += 1;
            }
            Some(i) => {
                d.matched[i] = true;
                d.counted += 1;
            }
            None => d.counted += 1,
        }
    }
    d
}

fn error_rate(usable: &[&EvidenceRun], blocks: u64, max: f64) -> Criterion {
    let errors: u64 = usable
        .iter()
        .filter_map(|e| e.run.as_ref())
        .map(|r| r.summary.errors.candidate_error + r.summary.errors.fallback)
        .sum();
    let (value, outcome) = if blocks == 0 {
        (Value::Null, GateOutcome::Inconclusive)
    } else {
        let rate = errors as f64 / blocks as f64;
        (json!(rate), pass_if(rate <= max))
    };
    crit("max_error_rate", value, format!("<= {max}"), outcome, format!("{errors} candidate errors and fallbacks"))
}

/// `evidence.deterministic`, when a run judged blocks twice (`--noise`): no candidate noise at all, and
/// legacy noise — a legacy answering one block two ways makes its divergences doubtful — at most
/// `max_legacy` of the blocks judged twice (counted and shown either way).
fn determinism(usable: &[&EvidenceRun], max_legacy: Option<f64>) -> Option<Criterion> {
    let mut n = dualrun_rundir::NoiseCounts::default();
    for s in usable.iter().filter_map(|e| e.run.as_ref()).map(|r| &r.summary.noise) {
        (n.checked, n.legacy_noise, n.candidate_noise) =
            (n.checked + s.checked, n.legacy_noise + s.legacy_noise, n.candidate_noise + s.candidate_noise);
    }
    if n == dualrun_rundir::NoiseCounts::default() {
        return None;
    }
    let legacy_rate = if n.checked > 0 { n.legacy_noise as f64 / n.checked as f64 } else { 0.0 };
    let legacy_ok = max_legacy.is_none_or(|max| legacy_rate <= max);
    let threshold = match max_legacy {
        Some(max) => format!("candidate_noise == 0, legacy_noise / checked <= {max}"),
        None => "candidate_noise == 0 (legacy noise shown, not limited)".into(),
    };
    let value = json!({ "checked": n.checked, "legacy_noise": n.legacy_noise, "candidate_noise": n.candidate_noise });
    let note = format!(
        "{} block(s) judged twice; the candidate answered {} of them differently, the legacy {}",
        n.checked, n.candidate_noise, n.legacy_noise
    );
    Some(crit("evidence.deterministic", value, threshold, pass_if(n.candidate_noise == 0 && legacy_ok), note))
}

/// The fewest calls of each verifier a run needs for its p99 to be one: with fewer, the 99th percentile
/// of its calls is its slowest call, one scheduler stall away from any ratio.
pub const MIN_LATENCY_CALLS: u64 = 100;

fn latency_ratio(usable: &[&EvidenceRun], max: f64) -> Criterion {
    let runs: Vec<(String, Option<(&Latency, &Latency)>)> = usable
        .iter()
        .filter_map(|e| {
            let latency = &e.run.as_ref()?.summary.latency;
            Some((e.dir.display().to_string(), latency.legacy.as_ref().zip(latency.candidate.as_ref())))
        })
        .collect();
    let (value, outcome, note) = latency_rule(&runs, max);
    crit("max_latency_ratio_p99", value, format!("<= {max}"), outcome, note)
}

/// The latency rule, pure: the worst candidate p99 / legacy p99 over the runs (each named, with both
/// verifiers' latencies when it timed both) that called each verifier at least [`MIN_LATENCY_CALLS`]
/// times; inconclusive when none did, the runs left out named.
pub fn latency_rule(runs: &[(String, Option<(&Latency, &Latency)>)], max: f64) -> (Value, GateOutcome, String) {
    let mut short = Vec::new();
    let mut worst: Option<f64> = None;
    for (name, latency) in runs {
        let Some((legacy, candidate)) = latency else { continue };
        let calls = legacy.count.min(candidate.count);
        if calls < MIN_LATENCY_CALLS {
            short.push(format!("{name} ({calls} calls)"));
        } else if legacy.p99_us > 0.0 {
            let ratio = candidate.p99_us / legacy.p99_us;
            worst = Some(worst.map_or(ratio, |w| w.max(ratio)));
        }
    }
    let left_out = if short.is_empty() {
        String::new()
    } else {
        format!(
            "; not counted, fewer than {MIN_LATENCY_CALLS} calls of a verifier (a p99 of fewer is the slowest call): {}",
            short.join(", ")
        )
    };
    match worst {
        Some(r) => (json!(r), pass_if(r <= max), format!("candidate p99 / legacy p99, worst run{left_out}")),
        None => (
            Value::Null,
            GateOutcome::Inconclusive,
            format!("no run timed both verifiers {MIN_LATENCY_CALLS} times or more{left_out}"),
        ),
    }
}

fn golden_criterion(golden: Option<&GoldenResult>) -> Criterion {
    let (value, outcome, note) = match golden {
        None => (Value::Null, GateOutcome::Inconclusive, "no golden vectors given (--golden DIR)".to_owned()),
        Some(g) if g.failed > 0 => (json!(g), GateOutcome::Fail, format!("{} vectors failed", g.failed)),
        Some(g) if g.passed == 0 => {
            (json!(g), GateOutcome::Inconclusive, "no vector passed: an empty gate proves nothing".to_owned())
        }
        Some(g) => (json!(g), GateOutcome::Pass, String::new()),
    };
    crit("require_golden", value, "all vectors pass".into(), outcome, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(count: u64, p99_us: f64) -> Latency {
        Latency { count, p50_us: p99_us / 2.0, p99_us, max_us: p99_us, busy_seconds: 0.0, histogram: vec![] }
    }

    #[test]
    fn the_latency_rule_counts_only_runs_with_a_p99_of_their_own() {
        let (fast, slow, few, few_slow) = (calls(500, 100.0), calls(500, 150.0), calls(10, 100.0), calls(10, 900.0));
        fn run<'a>(name: &str, l: &'a Latency, c: &'a Latency) -> (String, Option<(&'a Latency, &'a Latency)>) {
            (name.into(), Some((l, c)))
        }
        // A short run's slowest call is not its p99: left out, named.
        let (value, outcome, note) = latency_rule(&[run("a", &fast, &slow), run("b", &few, &few_slow)], 2.0);
        assert_eq!((value, outcome), (json!(1.5), GateOutcome::Pass));
        assert!(note.contains("worst run") && note.contains("b (10 calls)"), "{note}");
        let (value, outcome, _) = latency_rule(&[run("a", &fast, &slow)], 1.2);
        assert_eq!((value, outcome), (json!(1.5), GateOutcome::Fail));
        // The worst counted run decides.
        let (value, _, _) = latency_rule(&[run("a", &fast, &slow), run("c", &slow, &fast)], 2.0);
        assert_eq!(value, json!(1.5));
        // No run long enough: not enough evidence, not a pass.
        let (value, outcome, note) = latency_rule(&[run("b", &few, &few_slow), ("d".into(), None)], 2.0);
        assert_eq!((value, outcome), (Value::Null, GateOutcome::Inconclusive));
        assert!(note.starts_with("no run timed both verifiers 100 times") && note.contains("b (10 calls)"), "{note}");
        // A run of 100 calls of each verifier counts.
        let (hundred, hundred_slow) = (calls(100, 100.0), calls(100, 300.0));
        assert_eq!(latency_rule(&[run("e", &hundred, &hundred_slow)], 2.0).1, GateOutcome::Fail);
    }
}
