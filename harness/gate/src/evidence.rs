//! Replay run directories as evidence. A run counts only if it is complete (not a killed run left
//! unresumed), untampered (its record and summary files still have the digests its manifest lists) and,
//! where a profile is pinned, made with that profile. The run directory is read with
//! [`dualrun_rundir::RunDir`]; problems are collected, not thrown: evaluate says which run and why.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dualrun_core::RecordClass;
use dualrun_format::Hash32;
use dualrun_rundir::RunDir;

use crate::problem::EvidenceProblem;
use serde_json::{json, Value};

/// One run directory given as evidence.
#[derive(Debug, Clone)]
pub struct EvidenceRun {
    /// The directory as given (canonical when it exists).
    pub dir: PathBuf,
    /// The run, when it could be read.
    pub run: Option<RunDir>,
    /// (block id, class) of every record.
    pub records: Vec<(Hash32, RecordClass)>,
    /// Why this run cannot serve as evidence (empty when it can).
    pub problems: Vec<String>,
}

impl EvidenceRun {
    /// Reads a run directory and notes everything that keeps it from being evidence.
    pub fn load(dir: &Path) -> EvidenceRun {
        // Recorded canonical, so an audit from another directory finds the same run.
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut problems = Vec::new();
        let mut records = Vec::new();
        let run = match RunDir::load(&dir) {
            Ok(run) => {
                // The records are read once, for the run's problems and for the evaluation.
                let read = run.read_records();
                let found = match &read {
                    Ok(read) => run.problems_with(read),
                    Err(_) => run.problems(),
                };
                problems.extend(found.iter().map(ToString::to_string));
                let stored = run.summary.inputs.stored_id_mismatch;
                if stored > 0 {
                    problems.push(format!(
                        "its chain has {stored} blocks whose stored id is not the computed one: the input database is \
                         corrupt or edited, so the run cannot vouch for it"
                    ));
                }
                match read.and_then(|read| read.into_records(&run.path)) {
                    Ok(r) => records = r.into_iter().map(|r| (r.block_id, r.class)).collect(),
                    Err(e) => problems.push(e.to_string()),
                }
                Some(run)
            }
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        EvidenceRun { dir, run, records, problems }
    }

    /// The digest of the profile the run used.
    pub fn profile_digest(&self) -> Option<Hash32> {
        self.run.as_ref().map(|r| r.manifest.inputs.profile.digest)
    }

    /// The digest of the run's inputs (the same run given twice has the same).
    pub fn inputs_digest(&self) -> Option<Hash32> {
        self.run.as_ref().map(|r| r.manifest.inputs_digest)
    }

    /// Blocks both verifiers compared (0 for LEGACY and ONLY runs).
    pub fn blocks_compared(&self) -> u64 {
        self.run.as_ref().filter(|r| r.compared()).map_or(0, |r| r.summary.blocks)
    }

    /// Block ids at which a verifier failed (legacy error, candidate error, fallback): not compared.
    pub fn error_blocks(&self) -> BTreeSet<Hash32> {
        self.records.iter().filter(|(_, class)| class.is_error()).map(|(id, _)| *id).collect()
    }

    /// The chain this run replayed (path and genesis) and its height range.
    pub fn chain_range(&self) -> Option<(String, u64, u64)> {
        let c = &self.run.as_ref()?.manifest.inputs.chain;
        Some((format!("{}|{}", c.path, c.genesis_id), c.from, c.to))
    }

    /// The highest height replayed.
    pub fn last_height(&self) -> u64 {
        self.run.as_ref().map_or(0, |r| r.summary.range.to)
    }

    /// What the ledger keeps of it.
    pub fn ledger_record(&self) -> Value {
        let Some(run) = &self.run else {
            return json!({ "run": self.dir, "manifest_digest": "", "problems": self.problems });
        };
        let (m, s) = (&run.manifest, &run.summary);
        json!({
            "run": self.dir,
            "manifest_digest": run.manifest_digest,
            "inputs_digest": m.inputs_digest,
            "profile_digest": m.inputs.profile.digest,
            "chain_digest": m.inputs.chain.chain_digest,
            "range": s.range,
            "mode": s.mode,
            "blocks": s.blocks,
            "divergences": s.divergences,
            "errors": s.errors,
            "files": m.files,
        })
    }
}

/// Re-checks a ledger's record of a replay run against the run directory as it is now (where `moved`
/// says it is).
pub fn recheck(record: &Value, moved: &dualrun_rundir::Moved) -> Result<(), EvidenceProblem> {
    let dir = moved.locate(Path::new(record["run"].as_str().ok_or(EvidenceProblem::NoRun)?));
    let run = || dir.display().to_string();
    if !dir.join(dualrun_rundir::files::MANIFEST).exists() {
        return Err(EvidenceProblem::Gone { run: run() });
    }
    let now = EvidenceRun::load(&dir);
    let digest = now.run.as_ref().map(|r| r.manifest_digest.to_string()).unwrap_or_default();
    if digest != record["manifest_digest"].as_str().unwrap_or("") {
        return Err(EvidenceProblem::ManifestChanged { run: run() });
    }
    if let Some(p) = now.problems.first() {
        return Err(EvidenceProblem::Problem { run: run(), problem: p.clone() });
    }
    Ok(())
}
