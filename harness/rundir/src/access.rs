//! How the run directory's files are read and written, below every typed file: JSON read bounded and
//! parsed with short error messages, JSON lines, pretty JSON as written, one durable line appended, and
//! the differences between two JSON values named by path. Every other module of the crate builds on this
//! one and `files`; none of them is imported back here.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use dualrun_format::FileError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::RunDirError;
use crate::files;

/// `name` of `dir` as a `T`.
pub(crate) fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<T, RunDirError> {
    parse_json(&dir.join(name), &files::read_json_bytes(dir, name)?)
}

pub(crate) fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, RunDirError> {
    serde_json::from_slice(bytes).map_err(|e| RunDirError::Corrupt { file: path.into(), message: clip(&e.to_string()) })
}

/// A parser's message cut to a few hundred characters and escaped: a message may quote the file (an
/// unknown variant's whole string), and nothing a file holds is echoed beyond a short excerpt.
pub(crate) fn clip(message: &str) -> String {
    dualrun_format::file::clip(message, 300)
}

/// Each line of the file `name` of `dir` as a `T` (none when there is no such file); a line that is not
/// one is an error naming it.
pub(crate) fn json_lines<T: DeserializeOwned>(dir: &Path, name: &str, what: &str) -> Result<Vec<T>, RunDirError> {
    let parsed = files::parse_lines(dir, name, u64::MAX, |_, line| {
        serde_json::from_slice(line).map_err(|e| clip(&e.to_string()))
    })?;
    let (values, bad) = parsed.unwrap_or_default();
    match bad.into_iter().next() {
        Some((line, why)) => {
            Err(RunDirError::Corrupt { file: dir.join(name), message: format!("line {line}: not {what}: {why}") })
        }
        None => Ok(values),
    }
}

/// Pretty JSON with a final newline: how the run directory's JSON files are written.
pub(crate) fn pretty(v: &impl Serialize) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).expect("serializes");
    s.push(b'\n');
    s
}

/// Names the input keys that differ, e.g. `profile.digest: was "…", now "…"`.
pub(crate) fn describe_changes(old: &serde_json::Value, new: &serde_json::Value) -> String {
    let diffs: Vec<String> =
        differences(old, new).into_iter().map(|(path, a, b)| format!("{path}: was {a}, now {b}")).collect();
    if diffs.is_empty() {
        "unknown difference".into()
    } else {
        diffs.join("; ")
    }
}

/// Every leaf where two JSON values differ: its dotted path (`divergences.halt`) and both values as JSON
/// (`absent` where one has none), in key order.
pub fn differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<(String, String, String)> {
    fn walk(
        prefix: &str,
        a: Option<&serde_json::Value>,
        b: Option<&serde_json::Value>,
        out: &mut Vec<(String, String, String)>,
    ) {
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
            (a, b) if a != b => {
                let show = |v: Option<&serde_json::Value>| v.map_or("absent".into(), |v| v.to_string());
                out.push((prefix.to_owned(), show(a), show(b)));
            }
            _ => {}
        }
    }
    let mut diffs = Vec::new();
    walk("", Some(a), Some(b), &mut diffs);
    diffs
}

/// Appends one line to `name` in `dir` and makes it durable.
pub(crate) fn append_line(dir: &Path, name: &str, line: &[u8]) -> Result<(), RunDirError> {
    let p = dir.join(name);
    let mut f = OpenOptions::new().create(true).append(true).open(&p).map_err(FileError::at(&p))?;
    f.write_all(line).map_err(FileError::at(&p))?;
    f.write_all(b"\n").map_err(FileError::at(&p))?;
    Ok(f.sync_all().map_err(FileError::at(&p))?)
}
