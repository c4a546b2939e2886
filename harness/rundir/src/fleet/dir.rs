//! The fleet run directory, typed. Its files:
//!
//! | file | type | what |
//! |---|---|---|
//! | `fleet.json` | [`FleetManifest`] | the nodes, the settings, the tool, when, completion, and the digest of every other file |
//! | `findings.jsonl` | [`FindingRecord`] | every finding, in order, each with its reproduce hint |
//! | `timeline.jsonl` | [`TimelineEntry`] | each (node, height, id) the first time it was seen — the nodes × heights view |
//! | `summary.json` | [`FleetSummary`] | per node: reached, up and down time, tip, reorgs, largest lag; counts; whether the fleet agreed |
//!
//! [`FleetRunWriter`] writes it under the directory's lock (findings synced as they are written, so a
//! killed watch loses none; `dualrun-fleet` feeds it the watch's events); [`FleetRun::load`] reads it and
//! lists every problem — not complete, a file whose digest is not the manifest's, a file that should not
//! be there.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dualrun_format::file::{read_capped, write_atomic, Links};
use dualrun_format::{keccak256, FileError, Hash32};
use serde::{Deserialize, Serialize};

use super::finding::FindingRecord;
use super::settings::{FleetNode, FleetSettings};
use crate::manifest::Tool;
use crate::writer::{lock_dir, DirLock};

/// The manifest's format tag.
pub const FORMAT: &str = "dualrun/fleet/v1";
/// `fleet.json`.
pub const MANIFEST: &str = "fleet.json";
/// `findings.jsonl`.
pub const FINDINGS: &str = "findings.jsonl";
/// `timeline.jsonl`.
pub const TIMELINE: &str = "timeline.jsonl";
/// `summary.json`.
pub const SUMMARY: &str = "summary.json";
/// The files whose digests the manifest keeps.
pub const DIGESTED: [&str; 3] = [FINDINGS, TIMELINE, SUMMARY];
/// The largest manifest or summary read.
const MAX_SMALL_FILE: u64 = 16 << 20;
/// The largest findings file read.
const MAX_FINDINGS: u64 = 1 << 30;

/// `fleet.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetManifest {
    /// [`FORMAT`].
    pub format: String,
    /// The dualrun that watched.
    pub tool: Tool,
    /// The nodes.
    pub nodes: Vec<FleetNode>,
    /// The thresholds.
    pub settings: FleetSettings,
    /// When the watch started (UTC, ISO 8601 basic).
    pub started_at: String,
    /// When it ended, once it did.
    pub ended_at: Option<String>,
    /// Whether it ended cleanly (its summary written).
    pub complete: bool,
    /// Keccak-256 of each file in [`DIGESTED`], once complete.
    pub files: BTreeMap<String, Hash32>,
}

/// One line of `timeline.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// Milliseconds since the watch started.
    pub t_ms: u64,
    /// The node.
    pub node: String,
    /// The height.
    pub height: u64,
    /// The block id the node held there.
    pub id: Hash32,
}

/// One node in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSummary {
    /// The node.
    pub name: String,
    /// Its RPC URL.
    pub url: String,
    /// Whether it ever answered.
    pub reached: bool,
    /// Seconds it answered, and seconds it did not (between polls, by the poll's outcome).
    pub up_seconds: f64,
    /// Seconds it did not answer.
    pub down_seconds: f64,
    /// Its last tip.
    pub tip: Option<u64>,
    /// Its last top block.
    pub top_id: Option<Hash32>,
    /// Its reorganizations.
    pub reorgs: u64,
    /// The most it was behind the highest reachable node.
    pub max_lag: u64,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSummary {
    /// How long the watch lasted.
    pub seconds: f64,
    /// Per node.
    pub nodes: Vec<NodeSummary>,
    /// Episodes opened (and reorganizations), by kind.
    pub findings: BTreeMap<String, u64>,
    /// Episodes still open at the end (`fleet.split`, `fleet.unreachable node-3`, …).
    pub open_at_end: Vec<String>,
    /// Every node reached and reachable throughout (no unreachable episode), and no split: the fleet agreed.
    pub agreed: bool,
}

/// A fleet run directory that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FleetRunError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// The directory is held by another writer, or is not empty.
    #[error(transparent)]
    RunDir(#[from] crate::RunDirError),
    /// A file is not what it should be.
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Writes a fleet run directory; it is the watch's observer for findings and the timeline.
pub struct FleetRunWriter {
    dir: PathBuf,
    manifest: FleetManifest,
    findings: File,
    timeline: BufWriter<File>,
    error: Option<FleetRunError>,
    _lock: DirLock,
}

impl FleetRunWriter {
    /// Creates the run in `dir` (made if missing; it must be empty) and holds its lock.
    pub fn create(dir: &Path, manifest: FleetManifest) -> Result<FleetRunWriter, FleetRunError> {
        std::fs::create_dir_all(dir).map_err(FileError::at(dir))?;
        let lock = lock_dir(dir, std::time::Duration::ZERO)?;
        crate::RunWriter::check_empty(dir)?;
        write_atomic(&dir.join(MANIFEST), &pretty(&manifest))?;
        let open = |name: &str| File::create(dir.join(name)).map_err(FileError::at(&dir.join(name)));
        Ok(FleetRunWriter {
            dir: dir.into(),
            manifest,
            findings: open(FINDINGS)?,
            timeline: BufWriter::new(open(TIMELINE)?),
            error: None,
            _lock: lock,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends a finding, synced (a killed watch loses none).
    pub fn write_finding(&mut self, record: &FindingRecord) -> Result<(), FleetRunError> {
        let path = self.dir.join(FINDINGS);
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        self.findings.write_all(&line).map_err(FileError::at(&path))?;
        self.findings.sync_data().map_err(FileError::at(&path))?;
        Ok(())
    }

    /// Appends entries to the timeline and flushes them (readable as it grows; synced at the end).
    pub fn write_timeline(&mut self, entries: &[TimelineEntry]) -> Result<(), FleetRunError> {
        let path = self.dir.join(TIMELINE);
        for entry in entries {
            let mut line = serde_json::to_vec(entry).expect("entries serialize");
            line.push(b'\n');
            self.timeline.write_all(&line).map_err(FileError::at(&path))?;
        }
        self.timeline.flush().map_err(FileError::at(&path))?;
        Ok(())
    }

    /// Keeps the first error met while recording (the watch goes on; [`FleetRunWriter::finish`] returns
    /// it and leaves the run incomplete).
    pub fn failed(&mut self, e: FleetRunError) {
        self.error.get_or_insert(e);
    }

    /// Ends the run: the summary, the digests, the manifest marked complete. The first write error of the
    /// watch, if any, is returned instead (the run is then left incomplete).
    pub fn finish(mut self, summary: &FleetSummary, ended_at: String) -> Result<PathBuf, FleetRunError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let timeline = self.dir.join(TIMELINE);
        self.timeline.flush().map_err(FileError::at(&timeline))?;
        self.timeline.get_ref().sync_all().map_err(FileError::at(&timeline))?;
        write_atomic(&self.dir.join(SUMMARY), &pretty(summary))?;
        for name in DIGESTED {
            let bytes = std::fs::read(self.dir.join(name)).map_err(FileError::at(&self.dir.join(name)))?;
            self.manifest.files.insert(name.into(), keccak256(&bytes));
        }
        self.manifest.ended_at = Some(ended_at);
        self.manifest.complete = true;
        write_atomic(&self.dir.join(MANIFEST), &pretty(&self.manifest))?;
        Ok(self.dir)
    }
}

fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("serializes");
    bytes.push(b'\n');
    bytes
}

/// A fleet run directory as read.
#[derive(Debug, Clone)]
pub struct FleetRun {
    /// The directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: FleetManifest,
    /// Keccak-256 of `fleet.json`'s bytes (what a ledger keeps).
    pub manifest_digest: Hash32,
    /// Its summary, when written.
    pub summary: Option<FleetSummary>,
    /// Its findings.
    pub findings: Vec<FindingRecord>,
}

impl FleetRun {
    /// Whether `dir` holds a fleet run (its manifest).
    pub fn is_fleet_run(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }

    /// Reads the run, without judging it (see [`FleetRun::problems`]).
    pub fn load(dir: &Path) -> Result<FleetRun, FleetRunError> {
        let invalid = |file: &Path, message: String| FleetRunError::Invalid { file: file.into(), message };
        let path = dir.join(MANIFEST);
        let bytes = read_capped(&path, Links::Refuse, MAX_SMALL_FILE, "a fleet manifest")?;
        let manifest: FleetManifest = serde_json::from_slice(&bytes).map_err(|e| invalid(&path, e.to_string()))?;
        if manifest.format != FORMAT {
            return Err(invalid(&path, format!("format {:?} is not {FORMAT:?}", manifest.format)));
        }
        let summary_path = dir.join(SUMMARY);
        let summary = if summary_path.exists() {
            let b = read_capped(&summary_path, Links::Refuse, MAX_SMALL_FILE, "a fleet summary")?;
            Some(serde_json::from_slice(&b).map_err(|e| invalid(&summary_path, e.to_string()))?)
        } else {
            None
        };
        let findings_path = dir.join(FINDINGS);
        let text = read_capped(&findings_path, Links::Refuse, MAX_FINDINGS, "a findings file")?;
        let findings = text
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .map(|(i, l)| {
                serde_json::from_slice(l).map_err(|e| invalid(&findings_path, format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<Vec<FindingRecord>, _>>()?;
        Ok(FleetRun { dir: dir.into(), manifest, manifest_digest: keccak256(&bytes), summary, findings })
    }

    /// Everything that keeps the run from being evidence: not complete, a digested file changed or
    /// missing, a file that is not the run's.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.manifest.complete || self.summary.is_none() {
            problems.push("the watch did not end cleanly (no summary; fleet.json says complete: false)".to_owned());
        }
        for name in DIGESTED {
            let path = self.dir.join(name);
            match (std::fs::read(&path), self.manifest.files.get(name)) {
                (Ok(bytes), Some(want)) if keccak256(&bytes) != *want => {
                    problems.push(format!("{name} was changed after the watch (its digest is not the manifest's)"))
                }
                (Err(_), Some(_)) => problems.push(format!("{name} is missing")),
                _ => {}
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                // What a report or an attestation adds beside the run.
                let derived = crate::files::DERIVED.contains(&name.as_str());
                if name != MANIFEST && !DIGESTED.contains(&name.as_str()) && !derived {
                    problems.push(format!("{name} is not a file of a fleet run"));
                }
            }
        }
        problems
    }
}
