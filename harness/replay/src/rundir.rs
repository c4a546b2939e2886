//! The run directory: `manifest.json` (inputs, tool, file digests), `divergences.jsonl` and
//! `divergences.csv` (the records), `summary.json` (counts, rates, latencies), `checkpoint.json` (what
//! makes `--resume` exactly-once) and `run.log`.
//!
//! Exactly-once: records are appended to the two record files; at each checkpoint the files are flushed
//! and synced, then `checkpoint.json` is replaced atomically (write, sync, rename) with the next height,
//! the files' lengths and the counters. A resumed run truncates both files to the checkpoint's lengths —
//! dropping whatever was written after it — restores the counters and continues at the next height, so
//! after a kill at any moment the records end exactly as an uninterrupted run's.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dualrun_format::{keccak256, Hash32};
use serde::{Deserialize, Serialize};

use crate::record::{Record, CSV_HEADER};
use crate::stats::Stats;

pub const MANIFEST: &str = "manifest.json";
pub const JSONL: &str = "divergences.jsonl";
pub const CSV: &str = "divergences.csv";
pub const SUMMARY: &str = "summary.json";
pub const CHECKPOINT: &str = "checkpoint.json";
pub const LOG: &str = "run.log";
const CHECKPOINT_FORMAT: &str = "dualrun-checkpoint/v1";

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{dir} already holds a run (it has {found}); resume it with --resume, or choose another --out")]
    Occupied { dir: PathBuf, found: String },
    #[error("{dir}: nothing to resume: {why}")]
    NothingToResume { dir: PathBuf, why: String },
    #[error(
        "{dir}: refusing to resume with different inputs ({differences}); the run was made with other inputs, \
         so its records could not be continued"
    )]
    InputsChanged { dir: PathBuf, differences: String },
    #[error("{file}: unreadable: {message}")]
    Corrupt { file: PathBuf, message: String },
}

fn io(file: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io { file: file.to_path_buf(), source }
}

/// The state a resume continues from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: String,
    /// Keccak-256 of the canonical inputs; a resume with other inputs is refused.
    pub inputs_digest: Hash32,
    pub next_height: u64,
    pub jsonl_bytes: u64,
    pub csv_bytes: u64,
    pub stats: Stats,
    /// The whole range was replayed.
    pub complete: bool,
}

/// An open run directory.
pub struct RunDir {
    pub dir: PathBuf,
    jsonl: BufWriter<File>,
    csv: BufWriter<File>,
    jsonl_bytes: u64,
    csv_bytes: u64,
}

/// Writes `bytes` to `path` atomically: a temp file beside it, synced, renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunDirError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(parent) = path.parent() {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn digest_of(path: &Path) -> Result<Hash32, RunDirError> {
    Ok(keccak256(&std::fs::read(path).map_err(io(path))?))
}

impl RunDir {
    /// Refuses a directory that already holds a run (anything but `run.log`, which the caller may have
    /// opened first to log the run's start).
    pub fn check_empty(dir: &Path) -> Result<(), RunDirError> {
        if dir.exists() {
            let entries: Vec<String> = std::fs::read_dir(dir)
                .map_err(io(dir))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name() != LOG)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if !entries.is_empty() {
                let mut found = entries;
                found.sort();
                return Err(RunDirError::Occupied { dir: dir.into(), found: found.join(", ") });
            }
        }
        Ok(())
    }

    /// Starts a new run in `dir`, which must not exist or hold nothing but `run.log`.
    pub fn create(dir: &Path, manifest: &serde_json::Value) -> Result<RunDir, RunDirError> {
        RunDir::check_empty(dir)?;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_atomic(&dir.join(MANIFEST), &pretty(manifest))?;
        let open = |name: &str, header: &[u8]| -> Result<(BufWriter<File>, u64), RunDirError> {
            let p = dir.join(name);
            let mut f = File::create(&p).map_err(io(&p))?;
            f.write_all(header).map_err(io(&p))?;
            Ok((BufWriter::with_capacity(1 << 16, f), header.len() as u64))
        };
        let (jsonl, jsonl_bytes) = open(JSONL, b"")?;
        let (csv, csv_bytes) = open(CSV, format!("{CSV_HEADER}\n").as_bytes())?;
        Ok(RunDir { dir: dir.into(), jsonl, csv, jsonl_bytes, csv_bytes })
    }

    /// Reopens a run for `--resume`: checks the inputs are the same, truncates the record files to the
    /// last checkpoint (to nothing if it was killed before its first) and returns the checkpoint.
    pub fn resume(dir: &Path, inputs_digest: &Hash32, inputs: &serde_json::Value) -> Result<(RunDir, Option<Checkpoint>), RunDirError> {
        let cp_path = dir.join(CHECKPOINT);
        if !dir.join(MANIFEST).exists() {
            return Err(RunDirError::NothingToResume { dir: dir.into(), why: "no manifest.json in it".into() });
        }
        let manifest = read_json(&dir.join(MANIFEST))?;
        if manifest.get("inputs") != Some(inputs) {
            return Err(RunDirError::InputsChanged { dir: dir.into(), differences: describe_changes(manifest.get("inputs"), inputs) });
        }
        let cp: Option<Checkpoint> = if cp_path.exists() {
            let cp: Checkpoint = serde_json::from_value(read_json(&cp_path)?)
                .map_err(|e| RunDirError::Corrupt { file: cp_path.clone(), message: e.to_string() })?;
            if cp.format != CHECKPOINT_FORMAT {
                return Err(RunDirError::Corrupt { file: cp_path, message: format!("unknown format {:?}", cp.format) });
            }
            if cp.inputs_digest != *inputs_digest {
                return Err(RunDirError::InputsChanged { dir: dir.into(), differences: "the checkpoint was made with other inputs".into() });
            }
            Some(cp)
        } else {
            None
        };
        let header = format!("{CSV_HEADER}\n");
        let (jsonl_len, csv_len) = cp.as_ref().map_or((0, header.len() as u64), |c| (c.jsonl_bytes, c.csv_bytes));
        let reopen = |name: &str, len: u64, header: &[u8]| -> Result<BufWriter<File>, RunDirError> {
            use std::io::Seek;
            let p = dir.join(name);
            let mut f = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&p).map_err(io(&p))?;
            let actual = f.metadata().map_err(io(&p))?.len();
            if actual < len {
                return Err(RunDirError::Corrupt {
                    file: p,
                    message: format!("{actual} bytes, but the checkpoint recorded {len}: records were lost"),
                });
            }
            if len <= header.len() as u64 {
                f.set_len(0).map_err(io(&p))?;
                f.write_all(header).map_err(io(&p))?;
            } else {
                f.set_len(len).map_err(io(&p))?;
            }
            f.seek(std::io::SeekFrom::End(0)).map_err(io(&p))?;
            f.sync_all().map_err(io(&p))?;
            Ok(BufWriter::with_capacity(1 << 16, f))
        };
        let jsonl = reopen(JSONL, jsonl_len, b"")?;
        let csv = reopen(CSV, csv_len, header.as_bytes())?;
        Ok((RunDir { dir: dir.into(), jsonl, csv, jsonl_bytes: jsonl_len, csv_bytes: csv_len }, cp))
    }

    pub fn write(&mut self, r: &Record) -> Result<(), RunDirError> {
        let mut line = serde_json::to_vec(r).expect("records serialize");
        line.push(b'\n');
        self.jsonl.write_all(&line).map_err(io(&self.dir.join(JSONL)))?;
        self.jsonl_bytes += line.len() as u64;
        let csv_line = format!("{}\n", r.csv_line());
        self.csv.write_all(csv_line.as_bytes()).map_err(io(&self.dir.join(CSV)))?;
        self.csv_bytes += csv_line.len() as u64;
        Ok(())
    }

    /// Makes everything written so far durable and records the checkpoint.
    pub fn checkpoint(&mut self, inputs_digest: &Hash32, next_height: u64, stats: &Stats, complete: bool) -> Result<(), RunDirError> {
        for (w, name) in [(&mut self.jsonl, JSONL), (&mut self.csv, CSV)] {
            let p = self.dir.join(name);
            w.flush().map_err(io(&p))?;
            w.get_ref().sync_data().map_err(io(&p))?;
        }
        let cp = Checkpoint {
            format: CHECKPOINT_FORMAT.into(),
            inputs_digest: *inputs_digest,
            next_height,
            jsonl_bytes: self.jsonl_bytes,
            csv_bytes: self.csv_bytes,
            stats: stats.clone(),
            complete,
        };
        write_atomic(&self.dir.join(CHECKPOINT), &pretty(&serde_json::to_value(cp).expect("serializes")))
    }

    /// Writes `summary.json` and adds the record and summary files' digests to the manifest.
    pub fn finish(&mut self, summary: &serde_json::Value, mut manifest: serde_json::Value) -> Result<(), RunDirError> {
        write_atomic(&self.dir.join(SUMMARY), &pretty(summary))?;
        let mut files = serde_json::Map::new();
        for name in [JSONL, CSV, SUMMARY] {
            files.insert(name.into(), serde_json::Value::String(digest_of(&self.dir.join(name))?.to_string()));
        }
        manifest["files"] = serde_json::Value::Object(files);
        write_atomic(&self.dir.join(MANIFEST), &pretty(&manifest))
    }
}

pub fn pretty(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("serializes");
    s.push(b'\n');
    s
}

pub fn read_json(path: &Path) -> Result<serde_json::Value, RunDirError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| RunDirError::Corrupt { file: path.into(), message: e.to_string() })
}

/// Names the top-level input keys that differ, e.g. `profile.digest, mode`.
fn describe_changes(old: Option<&serde_json::Value>, new: &serde_json::Value) -> String {
    let mut diffs = Vec::new();
    fn walk(prefix: &str, a: Option<&serde_json::Value>, b: Option<&serde_json::Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(serde_json::Value::Object(x)), Some(serde_json::Value::Object(y))) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&p, x.get(k), y.get(k), out);
                }
            }
            (a, b) if a != b => out.push(format!(
                "{prefix}: was {}, now {}",
                a.map_or("absent".into(), |v| v.to_string()),
                b.map_or("absent".into(), |v| v.to_string())
            )),
            _ => {}
        }
    }
    walk("", old, Some(new), &mut diffs);
    if diffs.is_empty() {
        "unknown difference".into()
    } else {
        diffs.join("; ")
    }
}
