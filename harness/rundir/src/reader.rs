//! [`RunDir`]: reading a run directory back, typed and checked. Every reader goes through here, so the
//! rules hold everywhere at once: only the files the format defines are read, each as a regular file
//! (never through a symbolic link) and bounded; a run directory is a closed set (any other entry is a
//! [`Problem`]); and a summary's counts are trusted only when the records say the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dualrun_core::RecordClass;
use dualrun_format::{FileError, Hash32};

use crate::access::{clip, parse_json, read_json};
use crate::error::{Problem, RunDirError};
use crate::files::{self, JSONL, MANIFEST, REORGS, SUMMARY, TIMINGS};
use crate::manifest::Manifest;
use crate::record::Record;
use crate::summary::Summary;

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

/// The records of a run as far as they can be read: every readable record, and each line that is not one.
#[derive(Debug, Clone, Default)]
pub struct RecordsRead {
    /// The readable records, in file order, each with its line number.
    pub records: Vec<(usize, Record)>,
    /// Each line that is not a record: its number and why (a short message; nothing of the line is
    /// echoed beyond a short escaped excerpt).
    pub unreadable: Vec<(usize, String)>,
}

impl RecordsRead {
    /// Each line that is not a record, as a problem naming it.
    pub fn problems(&self) -> Vec<Problem> {
        self.unreadable.iter().map(|(line, why)| Problem::UnreadableRecord { line: *line, why: why.clone() }).collect()
    }

    /// The records, when every line of the run directory `dir`'s record file is one; else an error
    /// naming the first line that is not.
    pub fn into_records(self, dir: &Path) -> Result<Vec<Record>, RunDirError> {
        if let Some((line, why)) = self.unreadable.first() {
            return Err(RunDirError::Corrupt { file: dir.join(JSONL), message: format!("line {line}: {why}") });
        }
        Ok(self.records.into_iter().map(|(_, r)| r).collect())
    }

    /// Records by class, as counted from the readable records.
    pub fn counts(&self) -> BTreeMap<RecordClass, u64> {
        let mut counts = BTreeMap::new();
        for (_, r) in &self.records {
            *counts.entry(r.class).or_default() += 1;
        }
        counts
    }
}

impl RunDir {
    /// Reads and validates a finished run: a known format, complete, a closed set of regular files, every
    /// digested file as the manifest lists it, and a summary whose counts are the records'. The first
    /// problem is the error.
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
        if std::fs::symlink_metadata(&manifest_file).is_err() {
            return Err(RunDirError::NotARun { dir: path });
        }
        // One read: the digest names exactly the bytes parsed.
        let bytes = files::read_json_bytes(&path, MANIFEST)?;
        let manifest: Manifest = parse_json(&manifest_file, &bytes)?;
        manifest.check_format(&manifest_file)?;
        let summary: Summary = read_json(&path, SUMMARY)?;
        let manifest_digest = dualrun_format::keccak256(&bytes);
        Ok(RunDir { path, manifest, summary, manifest_digest })
    }

    /// Everything that keeps this run from being a finished, untouched run (empty when it is one).
    pub fn problems(&self) -> Vec<Problem> {
        self.problems_given(None)
    }

    /// [`RunDir::problems`], with the records already read by [`RunDir::read_records`]: a reader that
    /// needs them anyway (a report, the gate) reads them once.
    pub fn problems_with(&self, read: &RecordsRead) -> Vec<Problem> {
        self.problems_given(Some(read))
    }

    fn problems_given(&self, read: Option<&RecordsRead>) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !self.manifest.complete {
            problems.push(Problem::ManifestIncomplete);
        }
        if !self.summary.complete {
            problems.push(Problem::SummaryIncomplete);
        }
        match files::strays(&self.path) {
            Ok(strays) => problems.extend(strays.into_iter().map(Problem::Stray)),
            Err(e) => problems.push(Problem::Unreadable(e.to_string())),
        }
        self.digest_problems(&mut problems);
        if problems.is_empty() {
            // Counts are checked against a finished, untouched run's records: before that they may
            // legitimately differ (a killed session's summary is older than its records).
            let mut count = |read: &RecordsRead| {
                problems.extend(read.problems());
                problems.extend(count_problems(&self.summary, read));
            };
            match read {
                Some(read) => count(read),
                None => match self.read_records() {
                    Ok(read) => count(&read),
                    Err(e) => problems.push(Problem::Unreadable(e.to_string())),
                },
            }
        }
        problems
    }

    fn digest_problems(&self, problems: &mut Vec<Problem>) {
        let digested = files::digested(self.manifest.format_version);
        let Some(listed) = &self.manifest.files else {
            problems.extend(digested.iter().map(|name| Problem::NoDigest(name)));
            return;
        };
        for name in digested {
            if !listed.contains_key(*name) {
                problems.push(Problem::NoDigest(name));
            }
        }
        // Reorganizations decide which records are orphaned, and a version 1 run had no timings: either
        // file there without the manifest's digest was added after the run.
        for name in [REORGS, TIMINGS] {
            if !listed.contains_key(name) && std::fs::symlink_metadata(self.path.join(name)).is_ok() {
                problems.push(Problem::Undigested(name));
            }
        }
        for (name, want) in listed {
            if !files::is_defined(name) {
                problems.push(Problem::Changed(clip(name)));
                continue;
            }
            match files::digest(&self.path, name) {
                Ok(got) if got == *want => {}
                Ok(_) => problems.push(Problem::Changed(name.clone())),
                Err(e) if e.io.kind() == std::io::ErrorKind::NotFound => problems.push(Problem::Missing(name.clone())),
                // A link or a special file in place of a digested file: already a stray.
                Err(_) => {}
            }
        }
    }

    /// Every record, in file order. A line that is not a record is an error naming the line.
    pub fn records(&self) -> Result<Vec<Record>, RunDirError> {
        self.read_records()?.into_records(&self.path)
    }

    /// Every readable record and every line that is not one (a report shows what can be read and names
    /// the rest). A missing or unreadable file is an error.
    pub fn read_records(&self) -> Result<RecordsRead, RunDirError> {
        records_in(&self.path, u64::MAX)?.ok_or_else(|| {
            let file = self.path.join(JSONL);
            FileError::new(&file, std::io::Error::from(std::io::ErrorKind::NotFound)).into()
        })
    }

    /// Both verifiers ran, so the run compared blocks.
    pub fn compared(&self) -> bool {
        self.summary.verifiers_run.compared()
    }
}

/// The records in the first `limit` bytes of the run directory `dir`'s `divergences.jsonl` (`None` when
/// it has none): what [`RunDir::read_records`] and a resume's count check read.
pub(crate) fn records_in(dir: &Path, limit: u64) -> Result<Option<RecordsRead>, FileError> {
    let parsed = files::parse_lines(dir, JSONL, limit, |n, line| {
        serde_json::from_slice::<Record>(line)
            .map(|r| (n, r))
            .map_err(|e| format!("not a record: {}", clip(&e.to_string())))
    })?;
    Ok(parsed.map(|(records, unreadable)| RecordsRead { records, unreadable }))
}

/// Each count of `summary` that is not what the readable records say.
pub fn count_problems(summary: &Summary, read: &RecordsRead) -> Vec<Problem> {
    let mut problems = Vec::new();
    let counted = read.counts();
    for class in RecordClass::ALL {
        let records = counted.get(&class).copied().unwrap_or(0);
        if summary.count(class) != records {
            problems.push(Problem::CountDisagrees {
                field: Summary::field_of(class),
                summary: summary.count(class),
                records,
            });
        }
    }
    let total = read.records.len() as u64;
    if summary.records != total {
        problems.push(Problem::CountDisagrees { field: "records".into(), summary: summary.records, records: total });
    }
    problems
}
