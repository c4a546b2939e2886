//! Isolation evidence files (`dualrun net isolation --out`) as the gate takes them: read and checked
//! (its digest, its findings), the criterion `isolation.proven`, what the ledger keeps of each file, and
//! the re-check `gate verify` makes of it later.

use std::path::{Path, PathBuf};

use dualrun_p2p::isolation::IsolationEvidence;
use serde_json::{json, Value};

use crate::criterion::{Criterion, GateOutcome};
use crate::problem::EvidenceProblem;

/// The `kind` of an isolation record in a ledger entry's `evidence` (replay runs have none).
pub const KIND: &str = "isolation";

/// One isolation evidence file given to an evaluation.
#[derive(Debug, Clone)]
pub struct IsolationFile {
    /// The file as given (canonical when it exists).
    pub file: PathBuf,
    /// The evidence, or why it cannot be used (unreadable, not the format, edited).
    pub evidence: Result<IsolationEvidence, String>,
}

impl IsolationFile {
    /// Reads a file; problems are kept, not thrown.
    pub fn load(path: &Path) -> IsolationFile {
        let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let evidence = IsolationEvidence::load(&file).map_err(|e| e.to_string());
        IsolationFile { file, evidence }
    }

    /// The file's digest, when it is usable.
    pub fn digest(&self) -> Option<&str> {
        self.evidence.as_ref().ok().map(|e| e.digest.as_str())
    }

    /// What the ledger keeps of it.
    pub fn ledger_record(&self) -> Value {
        match &self.evidence {
            Ok(e) => json!({
                "kind": KIND,
                "file": self.file,
                "digest": e.digest,
                "profile_digest": e.subject.profile_digest,
                "p2p_network_id": e.subject.p2p_network_id,
                "checked_at": e.checked_at,
                "peers": e.peers(),
                "proven": e.proven,
            }),
            Err(problem) => json!({ "kind": KIND, "file": self.file, "digest": "", "problems": [problem] }),
        }
    }
}

/// `isolation.proven`: every file given is intact, made for the expected profile, and proves isolation.
/// No file is inconclusive (isolation is not proven by its absence).
pub fn criterion(files: &[IsolationFile], profile: Option<&str>) -> Criterion {
    let threshold = "every peer accepts the network's P2P id and refuses Monero's and every foreign id".to_owned();
    if files.is_empty() {
        return Criterion {
            name: "isolation.proven".into(),
            value: Value::Null,
            threshold,
            outcome: GateOutcome::Inconclusive,
            note: "no isolation evidence: run `dualrun net isolation --profile FILE --peer HOST:PORT… --out FILE` \
                   and give the file with --isolation FILE"
                .into(),
        };
    }
    let mut problems = Vec::new();
    let mut peers = 0;
    for f in files {
        let name = f.file.display();
        match &f.evidence {
            Err(problem) => problems.push(problem.clone()),
            Ok(e) => {
                peers += e.peers().len();
                if let Some(want) = profile.filter(|want| *want != e.subject.profile_digest) {
                    problems.push(format!("{name}: made for profile {}, not {want}", e.subject.profile_digest));
                }
                if !e.proven {
                    let findings: Vec<String> = e.findings.iter().map(ToString::to_string).collect();
                    problems.push(format!("{name}: not proven: {}", findings.join("; ")));
                }
            }
        }
    }
    let outcome = if problems.is_empty() { GateOutcome::Pass } else { GateOutcome::Fail };
    Criterion {
        name: "isolation.proven".into(),
        value: json!({ "files": files.len(), "peers": peers }),
        threshold,
        outcome,
        note: problems.join("; "),
    }
}

/// Re-checks a ledger's isolation record against the file as it is now (where `moved` says it is).
pub fn recheck(record: &Value, moved: &dualrun_rundir::Moved) -> Result<(), EvidenceProblem> {
    let path = moved.locate(Path::new(record["file"].as_str().ok_or(EvidenceProblem::NoRun)?));
    let file = path.display().to_string();
    let file = file.as_str();
    if !path.exists() {
        return Err(EvidenceProblem::FileGone { file: file.into() });
    }
    let now = IsolationFile::load(&path);
    if let Err(problem) = &now.evidence {
        return Err(EvidenceProblem::FileChanged { file: file.into(), problem: problem.clone() });
    }
    let (recorded, found) = (record["digest"].as_str().unwrap_or(""), now.digest().unwrap_or(""));
    if recorded != found {
        let problem = format!("its digest is {found}, the ledger recorded {recorded}");
        return Err(EvidenceProblem::FileChanged { file: file.into(), problem });
    }
    Ok(())
}
