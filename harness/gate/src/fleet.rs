//! Fleet run directories (`dualrun fleet --out`) as the gate takes them: read and checked (complete, its
//! files' digests), the criterion `fleet.agreed`, what the ledger keeps of each run, and the re-check
//! `gate verify` makes of it later.

use std::path::{Path, PathBuf};

use dualrun_rundir::fleet::FleetRun;
use serde_json::{json, Value};

use crate::criterion::{Criterion, GateOutcome};
use crate::problem::EvidenceProblem;

/// The `kind` of a fleet record in a ledger entry's `evidence`.
pub const KIND: &str = "fleet";

/// One fleet run given to an evaluation.
#[derive(Debug, Clone)]
pub struct FleetEvidence {
    /// The directory as given (canonical when it exists).
    pub dir: PathBuf,
    /// The run, or why it cannot be read.
    pub run: Result<FleetRun, String>,
    /// Why it cannot serve as evidence (empty when it can).
    pub problems: Vec<String>,
}

impl FleetEvidence {
    /// Reads a fleet run; problems are kept, not thrown.
    pub fn load(dir: &Path) -> FleetEvidence {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let run = FleetRun::load(&dir).map_err(|e| e.to_string());
        let problems = match &run {
            Ok(run) => run.problems(),
            Err(e) => vec![e.clone()],
        };
        FleetEvidence { dir, run, problems }
    }

    /// The digest of its `fleet.json`, when readable.
    pub fn digest(&self) -> Option<String> {
        self.run.as_ref().ok().map(|r| r.manifest_digest.to_string())
    }

    /// What the ledger keeps of it.
    pub fn ledger_record(&self) -> Value {
        match &self.run {
            Ok(run) => {
                let summary = run.summary.as_ref();
                json!({
                    "kind": KIND,
                    "run": self.dir,
                    "manifest_digest": run.manifest_digest,
                    "nodes": run.manifest.nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
                    "started_at": run.manifest.started_at,
                    "seconds": summary.map(|s| s.seconds),
                    "agreed": summary.map(|s| s.agreed),
                    "findings": summary.map(|s| &s.findings),
                })
            }
            Err(e) => json!({ "kind": KIND, "run": self.dir, "manifest_digest": "", "problems": [e] }),
        }
    }
}

/// `fleet.agreed`: every fleet run given is complete and intact, and in each every node answered
/// throughout (no unreachable episode) and no two held different blocks (no split). No run is
/// inconclusive.
pub fn criterion(runs: &[FleetEvidence]) -> Criterion {
    let threshold = "every node reachable for the window, no split".to_owned();
    if runs.is_empty() {
        return Criterion {
            name: "fleet.agreed".into(),
            value: Value::Null,
            threshold,
            outcome: GateOutcome::Inconclusive,
            note: "no fleet run: watch the nodes with `dualrun fleet --daemon NAME=URL… --out DIR` and give it with \
                   --fleet DIR"
                .into(),
        };
    }
    let mut problems = Vec::new();
    let (mut nodes, mut seconds) = (0, 0.0);
    for e in runs {
        let name = e.dir.display();
        problems.extend(e.problems.iter().map(|p| format!("{name}: {p}")));
        let Some(summary) = e.run.as_ref().ok().and_then(|r| r.summary.as_ref()) else { continue };
        nodes += summary.nodes.len();
        seconds += summary.seconds;
        if !summary.agreed {
            let mut why: Vec<String> = summary
                .findings
                .iter()
                .filter(|(k, v)| **v > 0 && matches!(k.as_str(), "fleet.split" | "fleet.unreachable"))
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            why.extend(summary.nodes.iter().filter(|n| !n.reached).map(|n| format!("{} never reached", n.name)));
            problems.push(format!("{name}: the fleet did not agree: {}", why.join(", ")));
        }
    }
    let outcome = if problems.is_empty() { GateOutcome::Pass } else { GateOutcome::Fail };
    Criterion {
        name: "fleet.agreed".into(),
        value: json!({ "runs": runs.len(), "nodes": nodes, "seconds": seconds }),
        threshold,
        outcome,
        note: problems.join("; "),
    }
}

/// Re-checks a ledger's fleet record against the run as it is now (where `moved` says it is).
pub fn recheck(record: &Value, moved: &dualrun_rundir::Moved) -> Result<(), EvidenceProblem> {
    let dir = moved.locate(Path::new(record["run"].as_str().ok_or(EvidenceProblem::NoRun)?));
    let run = || dir.display().to_string();
    if !dir.join(dualrun_rundir::fleet::dir::MANIFEST).exists() {
        return Err(EvidenceProblem::Gone { run: run() });
    }
    let now = FleetEvidence::load(&dir);
    let (recorded, found) = (record["manifest_digest"].as_str().unwrap_or(""), now.digest().unwrap_or_default());
    if recorded != found {
        let file = dir.join(dualrun_rundir::fleet::dir::MANIFEST).display().to_string();
        let problem = format!("its digest is {found}, the ledger recorded {recorded}");
        return Err(EvidenceProblem::FileChanged { file, problem });
    }
    if let Some(problem) = now.problems.first() {
        return Err(EvidenceProblem::Problem { run: run(), problem: problem.clone() });
    }
    Ok(())
}
