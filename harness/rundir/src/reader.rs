//! [`RunDir`]: reading a run directory back, typed and checked.

use std::path::{Path, PathBuf};

use dualrun_format::{FileError, Hash32};
use serde::de::DeserializeOwned;

use crate::error::{Problem, RunDirError};
use crate::files::{DIGESTED, JSONL, MANIFEST, SUMMARY};
use crate::manifest::{Manifest, FORMAT, FORMAT_VERSION};
use crate::record::Record;
use crate::summary::Summary;
use crate::writer::digest_of;

/// A run directory as read: its manifest and summary, typed. Records are read on demand.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory, canonical.
    pub path: PathBuf,
    /// `manifest.json`.
    pub manifest: Manifest,
    /// `summary.json`.
    pub summary: Summary,
    /// Keccak-256 of `manifest.json`'s bytes: names this run exactly.
    pub manifest_digest: Hash32,
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, RunDirError> {
    parse_json(path, &dualrun_format::file::read(path)?)
}

fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, RunDirError> {
    serde_json::from_slice(bytes).map_err(|e| RunDirError::Corrupt { file: path.into(), message: e.to_string() })
}

pub(crate) fn check_format(file: &Path, m: &Manifest) -> Result<(), RunDirError> {
    if m.format != FORMAT || m.format_version != FORMAT_VERSION {
        return Err(RunDirError::UnknownFormat {
            file: file.into(),
            found: format!("{} version {}", m.format, m.format_version),
            known: format!("{FORMAT} version {FORMAT_VERSION}"),
        });
    }
    Ok(())
}

impl RunDir {
    /// Reads and validates a finished run: a known format, complete, and every digested file as the
    /// manifest lists it. The first problem is the error.
    pub fn open(path: &Path) -> Result<RunDir, RunDirError> {
        let run = RunDir::load(path)?;
        match run.problems().into_iter().next() {
            Some(problem) => Err(RunDirError::Unusable { dir: run.path, problem }),
            None => Ok(run),
        }
    }

    /// Reads the manifest and summary without judging the run (see [`RunDir::problems`]).
    pub fn load(path: &Path) -> Result<RunDir, RunDirError> {
        let path = std::fs::canonicalize(path).map_err(FileError::at(path))?;
        let manifest_file = path.join(MANIFEST);
        if !manifest_file.exists() {
            return Err(RunDirError::NotARun { dir: path });
        }
        // One read: the digest names exactly the bytes parsed.
        let bytes = dualrun_format::file::read(&manifest_file)?;
        let manifest: Manifest = parse_json(&manifest_file, &bytes)?;
        check_format(&manifest_file, &manifest)?;
        let summary: Summary = read_json(&path.join(SUMMARY))?;
        let manifest_digest = dualrun_format::keccak256(&bytes);
        Ok(RunDir { path, manifest, summary, manifest_digest })
    }

    /// Everything that keeps this run from being a finished, untouched run (empty when it is one).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !self.manifest.complete {
            problems.push(Problem::ManifestIncomplete);
        }
        if !self.summary.complete {
            problems.push(Problem::SummaryIncomplete);
        }
        match &self.manifest.files {
            None => problems.extend(DIGESTED.iter().map(|name| Problem::NoDigest(name))),
            Some(files) => {
                for name in DIGESTED {
                    if !files.contains_key(name) {
                        problems.push(Problem::NoDigest(name));
                    }
                }
                for (name, want) in files {
                    match digest_of(&self.path.join(name)) {
                        Ok(got) if got == *want => {}
                        Ok(_) => problems.push(Problem::Changed(name.clone())),
                        Err(_) => problems.push(Problem::Missing(name.clone())),
                    }
                }
            }
        }
        problems
    }

    /// Every record, in file order. A line that is not a record is an error naming the line.
    pub fn records(&self) -> Result<Vec<Record>, RunDirError> {
        let file = self.path.join(JSONL);
        json_lines(&file, &dualrun_format::file::read_to_string(&file)?, "a record")
    }

    /// Both verifiers ran, so the run compared blocks.
    pub fn compared(&self) -> bool {
        self.summary.verifiers_run.compared()
    }
}

/// Each line of `text` (the contents of `file`) as a `T`; a line that is not one is an error naming it.
pub(crate) fn json_lines<T: DeserializeOwned>(file: &Path, text: &str, what: &str) -> Result<Vec<T>, RunDirError> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| RunDirError::Corrupt {
                file: file.into(),
                message: format!("line {}: not {what}: {e}", i + 1),
            })
        })
        .collect()
}
