//! `dualrun golden …`: the golden-vector gate (`check`, with JUnit XML for CI) and turning a replay's
//! divergence into a vector (`record`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use dualrun_core::{BlockFields, BlockInput, ReplayEnv, Verdict, VerifierOutcome};
use dualrun_format::{Block, Hash32};
use dualrun_golden::vector::{
    BlockInput as VBlock, Case, Context as VContext, Env, Expected, ExpectedFacts, FactsCompare, LeaderCase,
    Provenance, Vector, SCHEMA,
};
use dualrun_golden::{check, load_dir, Difference};
use dualrun_leader::Profile;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::commands::adapters::{self, AdapterContext};
use crate::Outcome;

#[derive(Subcommand)]
pub enum GoldenCommand {
    /// Runs every vector under DIR; exit 0 when all pass, 1 on any mismatch, unreadable file, unknown
    /// schema or unexpected skip.
    Check(CheckArgs),
    /// Writes a vector from a replay's record: the block, its env and context, the legacy's verdict as
    /// the expected one, and where it came from.
    Record(RecordArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// A directory of vectors (searched recursively for *.json).
    dir: PathBuf,
    /// Write JUnit XML here: one <testcase> per vector.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also run every leader vector through this adapter and compare (cross-implementation parity).
    #[arg(long, value_name = "ADAPTER")]
    legacy: Option<String>,
    #[arg(long = "python-path", value_name = "DIR")]
    python_path: Vec<PathBuf>,
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

#[derive(Args)]
pub struct RecordArgs {
    /// The replay's run directory.
    #[arg(long, value_name = "RUN_DIR")]
    run: PathBuf,
    /// The height of the record.
    #[arg(long)]
    height: u64,
    /// The directory to write the vector into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(cmd: GoldenCommand) -> Result<Outcome> {
    match cmd {
        GoldenCommand::Check(a) => check_dir(a),
        GoldenCommand::Record(a) => record(a),
    }
}

/// The result of one vector.
enum Result1 {
    Pass,
    Fail(String),
    Skipped(String),
}

fn describe(diffs: &[Difference]) -> String {
    diffs.iter().map(|d| format!("{}: expected {}, got {}", d.field, d.expected, d.actual)).collect::<Vec<_>>().join("; ")
}

/// The env and block input a leader vector describes, for running it through an adapter.
fn adapter_inputs(c: &LeaderCase) -> Result<(BlockInput, ReplayEnv, Profile), String> {
    let profile = Profile::parse(c.profile.as_bytes(), Path::new("(vector profile)")).map_err(|e| e.to_string())?;
    let blob = hex::decode(&c.block.blob).map_err(|e| format!("block.blob: {e}"))?;
    let fields = Block::parse(&blob).ok().map(|b| BlockFields::from_block(&b));
    let env = ReplayEnv {
        now: c.env.now,
        network_name: profile.name.clone(),
        network_id: hex::encode(profile.network_id),
        genesis_id: profile.genesis_id,
        activation_height: profile.activation_height,
        prev_id: c.context.prev_id,
        timestamps: c.context.timestamps.iter().rev().take(60).rev().copied().collect(),
    };
    Ok((BlockInput { height: c.block.height, blob: Arc::from(blob), fields }, env, profile))
}

/// Compares an adapter's outcome with a leader vector's expectation (the facts it reports).
fn parity(c: &LeaderCase, outcome: &VerifierOutcome) -> Option<String> {
    let (verdict, facts) = match outcome {
        VerifierOutcome::Error(e) => return Some(format!("the adapter failed: {e}")),
        VerifierOutcome::Verdict { verdict, facts } => (verdict, facts),
    };
    let mut diffs = Vec::new();
    if verdict.name() != c.expected.verdict {
        diffs.push(format!("verdict: expected {}, got {}", c.expected.verdict, verdict.name()));
    }
    let reason = match verdict {
        Verdict::Accept => None,
        Verdict::Reject { reason, .. } => Some(reason.clone()),
    };
    if reason != c.expected.reason {
        diffs.push(format!("reason: expected {:?}, got {:?}", c.expected.reason, reason));
    }
    let expected = [
        ("block_id", c.expected.facts.block_id.map(|h| h.to_string())),
        ("signing_hash", c.expected.facts.signing_hash.map(|h| h.to_string())),
        ("leader_id", c.expected.facts.leader_id.clone()),
    ];
    for (name, value) in expected {
        if let (Some(actual), Some(want)) = (facts.get(name), value.as_ref()) {
            if actual != want {
                diffs.push(format!("facts.{name}: expected {want}, got {actual}"));
            }
        }
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

fn check_dir(a: CheckArgs) -> Result<Outcome> {
    if !a.dir.is_dir() {
        bail!("{}: not a directory of golden vectors", a.dir.display());
    }
    let loaded = load_dir(&a.dir)?;
    if loaded.is_empty() {
        bail!("{}: no vectors (*.json) found; an empty gate passes nothing", a.dir.display());
    }
    // Adapters are built for a profile: once for external ones, per vector for the built-in validator.
    let context = |profile: Profile| AdapterContext {
        profile: Arc::new(profile),
        timeout: Duration::from_secs_f64(a.timeout),
        python_path: a.python_path.clone(),
        log_dir: std::env::temp_dir(),
    };
    let mut legacy = match &a.legacy {
        Some(spec) if !spec.starts_with("builtin:") => {
            // Any profile will do for building a non-built-in adapter; the env carries the vector's.
            let profile = loaded
                .iter()
                .find_map(|(_, v)| match v {
                    Ok(Vector { case: Case::Leader(c), .. }) => Profile::parse(c.profile.as_bytes(), Path::new("(vector)")).ok(),
                    _ => None,
                })
                .context("no leader vector to take a profile from")?;
            Some(adapters::build(spec, "legacy", &context(profile))?)
        }
        _ => None,
    };
    let mut suite = TestSuite::new(format!("dualrun golden {}", a.dir.display()));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (path, vector) in &loaded {
        let rel = path.strip_prefix(&a.dir).unwrap_or(path).display().to_string();
        let (name, kind, result) = match vector {
            Err(e) => (rel.clone(), "unreadable".to_owned(), Result1::Fail(e.to_string())),
            Ok(v) => {
                let kind = match &v.case {
                    Case::Leader(_) => "leader-v1",
                    Case::Mode(_) => "mode-v1",
                };
                let result = if let Some(why) = &v.skip {
                    if why.trim().is_empty() {
                        Result1::Fail(format!("{rel}: skipped without a written reason (an unexpected skip)"))
                    } else {
                        Result1::Skipped(why.clone())
                    }
                } else {
                    match check(v) {
                        Err(e) => Result1::Fail(format!("{rel}: cannot run: {e}")),
                        Ok(d) if !d.is_empty() => Result1::Fail(format!("{rel}: {}", describe(&d))),
                        Ok(_) => match (&v.case, a.legacy.as_deref()) {
                            (Case::Leader(c), Some(spec)) => {
                                let outcome = adapter_inputs(c).map(|(input, env, profile)| {
                                    if spec.starts_with("builtin:") {
                                        adapters::build(spec, "legacy", &context(profile)).map(|mut l| l.verify(&input, None, &env))
                                    } else {
                                        Ok(legacy.as_mut().expect("built above").verify(&input, None, &env))
                                    }
                                });
                                match outcome {
                                    Err(e) => Result1::Fail(format!("{rel}: cannot run through {spec}: {e}")),
                                    Ok(Err(e)) => Result1::Fail(format!("{rel}: {spec}: {e:#}")),
                                    Ok(Ok(o)) => match parity(c, &o) {
                                        Some(d) => Result1::Fail(format!("{rel}: {spec}: {d}")),
                                        None => Result1::Pass,
                                    },
                                }
                            }
                            _ => Result1::Pass,
                        },
                    }
                };
                (v.name.clone(), kind.to_owned(), result)
            }
        };
        let status = match &result {
            Result1::Pass => {
                passed += 1;
                TestCaseStatus::success()
            }
            Result1::Fail(msg) => {
                failed += 1;
                println!("FAIL {msg}");
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(msg.clone());
                st.set_type("mismatch");
                st
            }
            Result1::Skipped(why) => {
                skipped += 1;
                println!("SKIP {rel}: {why}");
                let mut st = TestCaseStatus::skipped();
                st.set_message(why.clone());
                st
            }
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(kind);
        suite.add_test_case(case);
    }
    if let Some(file) = &a.junit {
        let mut report = Report::new("dualrun golden check");
        report.add_test_suite(suite);
        let xml = report.to_string().context("writing JUnit XML")?;
        std::fs::write(file, xml).with_context(|| format!("writing {}", file.display()))?;
    }
    println!("golden check of {}", a.dir.display());
    println!("golden: {passed} passed, {failed} failed, {skipped} skipped");
    Ok(if failed == 0 { Outcome::Clean } else { Outcome::Finding })
}

fn record(a: RecordArgs) -> Result<Outcome> {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(a.run.join("manifest.json")).with_context(|| format!("{}: not a run directory", a.run.display()))?,
    )
    .with_context(|| format!("{}/manifest.json", a.run.display()))?;
    let jsonl = a.run.join("divergences.jsonl");
    let text = std::fs::read_to_string(&jsonl).with_context(|| format!("reading {}", jsonl.display()))?;
    let rec: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["height"].as_u64() == Some(a.height))
        .with_context(|| format!("{}: no record at height {}", jsonl.display(), a.height))?;
    let legacy = &rec["legacy"];
    let verdict = legacy["verdict"].as_str().with_context(|| {
        format!("height {}: the legacy gave no verdict ({}), so there is nothing to expect", a.height, legacy)
    })?;
    let profile_path = manifest["inputs"]["profile"]["path"].as_str().context("manifest has no profile path")?;
    let profile_text = std::fs::read_to_string(profile_path).with_context(|| format!("reading the run's profile {profile_path}"))?;
    let digest = dualrun_format::keccak256(profile_text.as_bytes()).to_string();
    if Some(digest.as_str()) != manifest["inputs"]["profile"]["digest"].as_str() {
        bail!("{profile_path} has changed since the run (its digest differs from the manifest's)");
    }
    let env: ReplayEnv = serde_json::from_value(rec["env"].clone()).context("the record's env")?;
    let hash = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<Hash32>().ok());
    let facts = &legacy["facts"];
    let vector = Vector {
        schema: SCHEMA.into(),
        name: format!("recorded-{}-height-{}", rec["class"].as_str().unwrap_or("record"), a.height),
        description: format!(
            "{} at height {} in run {}: legacy {} {}, candidate {} {}",
            rec["class"].as_str().unwrap_or(""),
            a.height,
            a.run.display(),
            verdict,
            legacy["reason"].as_str().unwrap_or(""),
            rec["candidate"]["verdict"].as_str().unwrap_or(""),
            rec["candidate"]["reason"].as_str().unwrap_or("")
        ),
        case: Case::Leader(LeaderCase {
            profile: profile_text,
            block: VBlock { height: a.height, blob: rec["blob"].as_str().context("record has no blob")?.to_owned() },
            context: VContext { prev_id: env.prev_id, timestamps: env.timestamps.clone() },
            env: Env { now: env.now },
            expected: Expected {
                verdict: verdict.into(),
                reason: legacy["reason"].as_str().filter(|r| !r.is_empty() && verdict == "reject").map(Into::into),
                facts: ExpectedFacts {
                    block_id: hash(&facts["block_id"]),
                    signing_hash: hash(&facts["signing_hash"]),
                    leader_id: facts["leader_id"].as_str().map(Into::into),
                },
                facts_compare: FactsCompare::Listed,
            },
        }),
        skip: None,
        provenance: Provenance {
            generator: format!("dualrun {} golden record", env!("CARGO_PKG_VERSION")),
            source: format!(
                "replay {} (chain {}, digest {})",
                a.run.display(),
                manifest["inputs"]["chain"]["path"].as_str().unwrap_or(""),
                manifest["inputs"]["chain"]["chain_digest"].as_str().unwrap_or("")
            ),
            height: Some(a.height),
        },
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let path = a.out.join(vector.file_name());
    std::fs::write(&path, vector.to_json()).with_context(|| format!("writing {}", path.display()))?;
    println!("{}", path.display());
    Ok(Outcome::Clean)
}
