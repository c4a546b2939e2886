//! Replay run directories as evidence. A run counts only if it is complete (not a killed run left
//! unresumed), untampered (its record and summary files still have the digests its manifest lists) and,
//! where a profile is pinned, made with that profile. Problems are collected, not thrown: evaluate says
//! which run and why.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct EvidenceRun {
    pub dir: PathBuf,
    pub manifest: Value,
    pub summary: Value,
    /// Keccak-256 of manifest.json's bytes.
    pub manifest_digest: String,
    /// (block id, class) of every record.
    pub records: Vec<(String, String)>,
    /// Why this run cannot serve as evidence (empty when it can).
    pub problems: Vec<String>,
}

fn digest_file(p: &Path) -> Option<String> {
    std::fs::read(p).ok().map(|b| dualrun_format::keccak256(&b).to_string())
}

impl EvidenceRun {
    pub fn load(dir: &Path) -> EvidenceRun {
        // Recorded canonical, so an audit from another directory finds the same run.
        let dir = &std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut problems = Vec::new();
        let read = |name: &str, problems: &mut Vec<String>| -> Value {
            match std::fs::read(dir.join(name)) {
                Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                    problems.push(format!("{name} is not JSON: {e}"));
                    Value::Null
                }),
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    Value::Null
                }
            }
        };
        let manifest = read("manifest.json", &mut problems);
        let summary = read("summary.json", &mut problems);
        let manifest_digest = digest_file(&dir.join("manifest.json")).unwrap_or_default();
        if !manifest.is_null() && manifest["complete"] != true {
            problems.push("the run is not complete (killed or interrupted and not resumed)".into());
        }
        if !summary.is_null() && summary["complete"] != true {
            problems.push("its summary says the run is not complete".into());
        }
        if !manifest.is_null() && manifest["inputs"]["profile"]["digest"].as_str().is_none() {
            problems.push("the manifest names no profile digest".into());
        }
        if let Some(files) = manifest["files"].as_object() {
            for name in ["divergences.jsonl", "divergences.csv", "summary.json"] {
                if !files.contains_key(name) {
                    problems.push(format!("the manifest lists no digest for {name}"));
                }
            }
            for (name, want) in files {
                match digest_file(&dir.join(name)) {
                    Some(got) if Some(got.as_str()) == want.as_str() => {}
                    Some(_) => problems.push(format!("{name} was changed after the run (its digest differs from the manifest's)")),
                    None => problems.push(format!("{name} is missing")),
                }
            }
        } else if !manifest.is_null() {
            problems.push("the manifest lists no file digests".into());
        }
        let records = std::fs::read_to_string(dir.join("divergences.jsonl"))
            .map(|t| {
                t.lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .map(|r| (r["block_id"].as_str().unwrap_or("").to_owned(), r["class"].as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        EvidenceRun { dir: dir.into(), manifest, summary, manifest_digest, records, problems }
    }

    pub fn profile_digest(&self) -> Option<&str> {
        self.manifest["inputs"]["profile"]["digest"].as_str()
    }

    /// Blocks both verifiers compared (0 for LEGACY and ONLY runs).
    pub fn blocks_compared(&self) -> u64 {
        let s = &self.summary;
        if s["verifiers_run"]["legacy"] == true && s["verifiers_run"]["candidate"] == true {
            s["blocks"].as_u64().unwrap_or(0)
        } else {
            0
        }
    }

    /// Block ids at which a verifier failed (legacy error, candidate error, fallback): not compared.
    pub fn error_blocks(&self) -> std::collections::BTreeSet<&str> {
        self.records
            .iter()
            .filter(|(_, class)| matches!(class.as_str(), "legacy_error" | "candidate_error" | "fallback"))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// The chain this run replayed and its height range.
    pub fn chain_range(&self) -> (String, u64, u64) {
        let c = &self.manifest["inputs"]["chain"];
        let name = format!("{}|{}", c["path"].as_str().unwrap_or(""), c["genesis_id"].as_str().unwrap_or(""));
        (name, c["from"].as_u64().unwrap_or(0), c["to"].as_u64().unwrap_or(0))
    }

    /// The highest height replayed.
    pub fn last_height(&self) -> u64 {
        self.summary["range"]["to"].as_u64().unwrap_or(0)
    }

    /// What the ledger keeps of it.
    pub fn ledger_record(&self) -> Value {
        json!({
            "run": self.dir,
            "manifest_digest": self.manifest_digest,
            "inputs_digest": self.manifest["inputs_digest"],
            "profile_digest": self.profile_digest(),
            "chain_digest": self.manifest["inputs"]["chain"]["chain_digest"],
            "range": self.summary["range"],
            "mode": self.summary["mode"],
            "blocks": self.summary["blocks"],
            "divergences": self.summary["divergences"],
            "errors": self.summary["errors"],
            "files": self.manifest["files"],
        })
    }
}

/// Re-checks a ledger's evidence record against the run directory as it is now.
pub fn recheck(record: &Value) -> Result<(), String> {
    let dir = PathBuf::from(record["run"].as_str().ok_or("the evidence record names no run")?);
    if !dir.join("manifest.json").exists() {
        return Err(format!("evidence run {} is not there any more", dir.display()));
    }
    let now = EvidenceRun::load(&dir);
    if now.manifest_digest != record["manifest_digest"].as_str().unwrap_or("") {
        return Err(format!("evidence run {}: manifest.json changed since it was recorded", dir.display()));
    }
    if let Some(p) = now.problems.first() {
        return Err(format!("evidence run {}: {p}", dir.display()));
    }
    Ok(())
}
