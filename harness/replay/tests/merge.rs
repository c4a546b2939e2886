//! [`dualrun_replay::merge`]: the shards of a range (each a replay of `Shard::range`) merge into the single
//! run's directory — records byte-identical, the same inputs digest, the same counts, the per-block
//! timings joined — which the gate takes as it takes the single run; shards that are missing, doubled,
//! edited, of another run or of the older format (no timings.csv) are refused, named, and nothing is
//! merged.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use dualrun_core::{Mode, ReasonMap, Verifier};
use dualrun_gate::evidence::EvidenceRun;
use dualrun_gate::policy::Policy;
use dualrun_gate::{evaluate, Evaluation, EvaluationInput, GateOutcome};
use dualrun_leader::verifier::LeaderVerifier;
use dualrun_leader::Profile;
use dualrun_pipeline::{NowMode, Verifiers};
use dualrun_replay::merge::{merge, MergeError};
use dualrun_replay::{ReplayConfig, RunEnd, RunResult};
use dualrun_rundir::{CommandSettings, RunDir, RunSettings, Shard};
use dualrun_testkit::verifiers::AcceptAll;

/// The bundled sample's heights: 0 to its tip.
const TIP: u64 = 200;

/// The bundled sample chain, copied, and the runs made of it.
struct Sample {
    chain: tempfile::TempDir,
    runs: tempfile::TempDir,
}

impl Sample {
    fn new() -> Sample {
        Sample { chain: dualrun_testkit::sample_copy(), runs: tempfile::tempdir().unwrap() }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.runs.path().join(name)
    }

    /// A SHADOW (or other `mode`) replay of the whole sample, or of one shard of it, into `name`.
    fn replay(&self, name: &str, mode: Mode, shard: Option<Shard>) -> RunResult {
        let profile = Arc::new(Profile::load(&dualrun_testkit::sample_dir().join("profile.toml")).unwrap());
        let (from, to) = shard.map_or((0, None), |s| {
            let (from, to) = s.range();
            (from, Some(to))
        });
        let cfg = ReplayConfig {
            profile: profile.clone(),
            from,
            to,
            now: NowMode::Block,
            reasons: ReasonMap::default(),
            settings: RunSettings::Command(CommandSettings::default()),
            out: self.dir(name),
            resume: false,
            threads: 2,
            interrupt: Arc::new(AtomicBool::new(false)),
            shard,
        };
        let candidate = Box::new(LeaderVerifier::new(profile)) as Box<dyn Verifier>;
        let verifiers = Verifiers::new(mode, Some(Box::new(AcceptAll)), Some(candidate)).unwrap();
        let db = dualrun_chaindb::ChainDb::open(self.chain.path()).unwrap();
        let result = dualrun_replay::run(&db, cfg, verifiers, &mut ()).unwrap();
        assert_eq!(result.end, RunEnd::Complete, "{name}");
        result
    }

    /// Shard `index` of `count` of the whole sample, in SHADOW mode, into `s<index>`.
    fn shard(&self, index: u32, count: u32) -> RunResult {
        self.replay(&format!("s{index}"), Mode::Shadow, Some(Shard { index, count, from: 0, to: TIP }))
    }

    fn merge(&self, shards: &[&str]) -> Result<dualrun_replay::merge::Merged, MergeError> {
        let dirs: Vec<PathBuf> = shards.iter().map(|s| self.dir(s)).collect();
        merge(&dirs, &self.dir("merged"), 2)
    }
}

/// The gate's evaluation of legacy -> shadow (built-in policy) on one run as evidence.
fn evaluation(run: &Path) -> Evaluation {
    let evidence = [EvidenceRun::load(run)];
    evaluate(&EvaluationInput {
        from: Mode::Legacy,
        to: Mode::Shadow,
        policy: &Policy::builtin(),
        evidence: &evidence,
        isolation: &[],
        fleet: &[],
        golden: None,
        allowlist: None,
        strict: false,
        expected_profile: None,
    })
}

#[test]
fn shards_merge_into_the_single_run() {
    let t = Sample::new();
    let single = t.replay("single", Mode::Shadow, None);
    assert!(single.summary.records > 0, "the sample's faults are recorded");
    let shards: Vec<RunResult> = (0..4).map(|i| t.shard(i, 4)).collect();
    let ranges: Vec<(u64, u64)> = shards.iter().map(|s| (s.summary.range.from, s.summary.range.to)).collect();
    assert_eq!(ranges, [(0, 49), (50, 99), (100, 149), (150, 200)]);

    // In any order.
    let merged = t.merge(&["s3", "s1", "s0", "s2"]).unwrap();
    let from: Vec<u64> = merged.shards.iter().map(|s| s.from).collect();
    assert_eq!(from, [0, 50, 100, 150], "the shards in height order");
    for f in ["divergences.jsonl", "divergences.csv"] {
        let (a, b) = (std::fs::read(t.dir("single").join(f)).unwrap(), std::fs::read(t.dir("merged").join(f)).unwrap());
        assert!(a == b, "{f}: the single run's records, byte for byte");
    }
    let (a, b) = (RunDir::open(&t.dir("single")).unwrap(), RunDir::open(&t.dir("merged")).unwrap());
    let (single_m, merged_m) = (&a.manifest, &b.manifest);
    assert_eq!(single_m.inputs_digest, merged_m.inputs_digest, "the single run's inputs, chain digest included");
    assert_eq!(merged_m.shards.as_ref().map(Vec::len), Some(4));
    assert_eq!(b.summary, merged.summary, "the summary written is the summary returned");
    let (s, m) = (&a.summary, &b.summary);
    assert_eq!((s.blocks, s.records, s.complete, s.range), (m.blocks, m.records, m.complete, m.range));
    assert_eq!(
        (s.divergences, s.errors, s.inputs, s.authoritative),
        (m.divergences, m.errors, m.inputs, m.authoritative)
    );
    let count = |s: &dualrun_rundir::Summary| s.latency.candidate.as_ref().map(|l| l.count);
    assert_eq!(count(s), count(m));
    assert_eq!(count(m), Some(TIP + 1));
    // timings.csv: the shards' lines joined in height order — the single run's blocks and verdicts (the
    // times are measurements), digested by the merged manifest.
    let lines = |dir: &Path| -> Vec<(u64, dualrun_core::VerdictKind, bool, bool)> {
        dualrun_rundir::Timings::open(dir)
            .unwrap()
            .expect("a timings.csv")
            .map(|t| t.unwrap())
            .map(|t| (t.height, t.verdict, t.legacy_us.is_some(), t.candidate_us.is_some()))
            .collect()
    };
    let merged_lines = lines(&t.dir("merged"));
    assert_eq!(merged_lines, lines(&t.dir("single")));
    assert_eq!(merged_lines.len() as u64, TIP + 1);
    assert!(merged_m.files.as_ref().unwrap().contains_key(dualrun_rundir::files::TIMINGS));

    // The gate judges the merged run as it judges the single one (the evidence criterion's value names
    // the directory).
    let outcomes =
        |e: &Evaluation| (e.outcome, e.criteria.iter().map(|c| (c.name.clone(), c.outcome)).collect::<Vec<_>>());
    let (single_eval, merged_eval) = (outcomes(&evaluation(&t.dir("single"))), outcomes(&evaluation(&t.dir("merged"))));
    assert_eq!(single_eval, merged_eval);
    assert!(merged_eval.1.contains(&("evidence".into(), GateOutcome::Pass)), "{merged_eval:?}");
}

#[test]
fn an_incomplete_edited_or_foreign_shard_set_is_refused() {
    let t = Sample::new();
    for i in 0..3 {
        t.shard(i, 3);
    }
    let coverage = |shards: &[&str]| match t.merge(shards) {
        Err(MergeError::Coverage { from: 0, to: TIP, problems }) => problems,
        other => panic!("not a coverage problem: {other:?}"),
    };
    let p = coverage(&["s0", "s2"]);
    assert!(p.contains("shard 1 (heights 67..=133) is missing"), "{p}");
    let p = coverage(&["s0", "s1", "s1", "s2"]);
    assert!(p.contains("shard 1 (heights 67..=133) is given 2 times"), "{p}");

    // An edited shard.
    let csv = t.dir("s1").join("divergences.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    bytes[30] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    match t.merge(&["s0", "s1", "s2"]) {
        Err(MergeError::Shard { dir, problem }) => {
            assert_eq!(dir, t.dir("s1"));
            assert!(problem.contains("divergences.csv"), "{problem}");
        }
        other => panic!("not the edited shard: {other:?}"),
    }

    // A shard of another run (another mode).
    t.replay("x1", Mode::Primary, Some(Shard { index: 1, count: 3, from: 0, to: TIP }));
    match t.merge(&["s0", "x1", "s2"]) {
        Err(MergeError::Different(why)) => assert!(why.contains("mode"), "{why}"),
        other => panic!("not another run: {other:?}"),
    }
    assert!(!t.dir("merged").join("manifest.json").exists(), "nothing merged");

    // A shard of format version 1 (before timings.csv; the edited shard restored first): read as
    // written, but not merged by this dualrun.
    bytes[30] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    let manifest_path = t.dir("s1").join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["format_version"] = 1.into();
    manifest["files"].as_object_mut().unwrap().remove("timings.csv");
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    std::fs::remove_file(t.dir("s1").join("timings.csv")).unwrap();
    assert!(RunDir::open(&t.dir("s1")).is_ok(), "a finished version 1 run");
    match t.merge(&["s0", "s1", "s2"]) {
        Err(MergeError::Shard { dir, problem }) => {
            assert_eq!(dir, t.dir("s1"));
            assert!(problem.contains("no timings.csv (run directory format version 1)"), "{problem}");
        }
        other => panic!("not the version 1 shard: {other:?}"),
    }
}
