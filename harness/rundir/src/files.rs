//! The names of the files of a run directory, the closed set of entries it may hold, and the one way
//! every reader gets at them: by a name the format defines, as a regular file (never through a symbolic
//! link, never a FIFO or device), read bounded.

use std::io::BufReader;
use std::path::Path;

use dualrun_format::file::{open_regular, read_capped, BoundedLines, Line, Links};
use dualrun_format::FileError;

/// Inputs, tool, completion and file digests.
pub const MANIFEST: &str = "manifest.json";
/// Every record, one JSON object per line.
pub const JSONL: &str = "divergences.jsonl";
/// Every record, one CSV line each.
pub const CSV: &str = "divergences.csv";
/// Counts, latencies, rate.
pub const SUMMARY: &str = "summary.json";
/// The state a resume continues from.
pub const CHECKPOINT: &str = "checkpoint.json";
/// The computed id of every judged block, 32 bytes each in height order (live runs: the chain digest of
/// a range that grows is made from it when the run stops).
pub const IDS: &str = "ids.bin";
/// Reorganizations a live run saw, one JSON object per line: the fork height and the judged blocks
/// orphaned (their records stay in the record files, marked orphaned by this file).
pub const REORGS: &str = "reorgs.jsonl";
/// The run's log.
pub const LOG: &str = "run.log";
/// One line per judged block: its height, each verifier's time and the authoritative verdict
/// ([`crate::timings`]; format version 2 on).
pub const TIMINGS: &str = "timings.csv";
/// The files whose digests a finished manifest of the current format version lists, in this order.
pub const DIGESTED: [&str; 4] = [JSONL, CSV, SUMMARY, TIMINGS];

/// The files whose digests a finished manifest of format version `version` must list (version 1, from
/// before `timings.csv`, lists the first three).
pub fn digested(version: u32) -> &'static [&'static str] {
    if version < 2 {
        &DIGESTED[..3]
    } else {
        &DIGESTED
    }
}
/// The HTML report `dualrun report` writes beside a single run by default.
pub const REPORT_HTML: &str = "report.html";
/// The Markdown summary written beside it.
pub const REPORT_MD: &str = "report.md";
/// The signed attestation of a finished run (`dualrun report sign`).
pub const ATTESTATION: &str = "attestation.dsse.json";

/// Every file a run writes. Together with [`DERIVED`], the closed set of entries a run directory may hold.
pub const WRITTEN: [&str; 9] = [MANIFEST, JSONL, CSV, SUMMARY, TIMINGS, CHECKPOINT, IDS, REORGS, LOG];
/// Files made from a finished run: its report, its summary for people and its attestation.
pub const DERIVED: [&str; 3] = [REPORT_HTML, REPORT_MD, ATTESTATION];

/// The largest `manifest.json`, `summary.json` or `checkpoint.json` read (each is a few KiB).
pub const MAX_JSON_BYTES: u64 = 16 << 20;
/// The longest line of `divergences.jsonl` or `reorgs.jsonl` read: a record holds a block blob (at most
/// 16 MiB, so 32 MiB as hex) and little else. A longer line is reported by number, never held whole.
pub const MAX_LINE_BYTES: usize = 48 << 20;

/// Whether `name` is one the format defines (written or derived).
pub fn is_defined(name: &str) -> bool {
    WRITTEN.contains(&name) || DERIVED.contains(&name)
}

/// One entry of a run directory that breaks the closed-set rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// Its name (lossy when it is not UTF-8).
    pub name: String,
    /// What it is: `a regular file`, `a symbolic link`, `a directory`, `a FIFO`…
    pub kind: &'static str,
    /// Whether the name is one the format defines (then only its kind is wrong).
    pub defined: bool,
}

/// The entries of `dir` that a run directory may not hold: any name the format does not define, and any
/// defined name that is not a regular file (a symbolic link, a subdirectory, a FIFO, a device).
pub fn strays(dir: &Path) -> Result<Vec<Stray>, FileError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(FileError::at(dir))? {
        let entry = entry.map_err(FileError::at(dir))?;
        let kind = entry.file_type().map_err(FileError::at(&entry.path()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let defined = entry.file_name().to_str().is_some_and(is_defined);
        if !defined || !kind.is_file() {
            out.push(Stray { name, kind: dualrun_format::file::describe_kind(kind), defined });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The file `name` of `dir` as a regular file (a link is refused), or `None` when there is none.
pub fn open(dir: &Path, name: &str) -> Result<Option<(std::fs::File, u64)>, FileError> {
    match open_regular(&dir.join(name), Links::Refuse) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.io.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The whole of the JSON file `name` of `dir` (manifest, summary, checkpoint), at most
/// [`MAX_JSON_BYTES`].
pub fn read_json_bytes(dir: &Path, name: &str) -> Result<Vec<u8>, FileError> {
    read_capped(&dir.join(name), Links::Refuse, MAX_JSON_BYTES, &format!("a run directory's {name}"))
}

/// Keccak-256 of the file `name` of `dir`, read in pieces.
pub fn digest(dir: &Path, name: &str) -> Result<dualrun_format::Hash32, FileError> {
    let path = dir.join(name);
    let (file, _) = open_regular(&path, Links::Refuse)?;
    dualrun_format::keccak256_reader(file).map_err(FileError::at(&path))
}

/// The lines of the first `limit` bytes of the file `name` of `dir`, numbered from 1, each at most
/// [`MAX_LINE_BYTES`] (a longer one is [`Line::TooLong`]); `None` when there is no such file.
pub fn lines(
    dir: &Path,
    name: &str,
    limit: u64,
) -> Result<Option<BoundedLines<BufReader<std::io::Take<std::fs::File>>>>, FileError> {
    use std::io::Read;
    let lines = |f: std::fs::File| BoundedLines::new(BufReader::with_capacity(1 << 16, f.take(limit)), MAX_LINE_BYTES);
    Ok(open(dir, name)?.map(|(f, _)| lines(f)))
}

/// Each line of the first `limit` bytes of the file `name` of `dir` parsed by `parse` (given its line
/// number): the values in file order, and the unreadable lines as `(line number, why)`; `None` when there
/// is no such file.
#[allow(clippy::type_complexity)]
pub(crate) fn parse_lines<T, E: std::fmt::Display>(
    dir: &Path,
    name: &str,
    limit: u64,
    mut parse: impl FnMut(usize, &[u8]) -> Result<T, E>,
) -> Result<Option<(Vec<T>, Vec<(usize, String)>)>, FileError> {
    let path = dir.join(name);
    let (mut values, mut bad) = (Vec::new(), Vec::new());
    let Some(lines) = lines(dir, name, limit)? else { return Ok(None) };
    for line in lines {
        match line.map_err(FileError::at(&path))? {
            (n, Line::Text(text)) => match parse(n, &text) {
                Ok(v) => values.push(v),
                Err(why) => bad.push((n, why.to_string())),
            },
            (n, Line::TooLong { bytes }) => {
                bad.push((n, format!("a line of {bytes} bytes, longer than the {MAX_LINE_BYTES} a line may be")))
            }
        }
    }
    Ok(Some((values, bad)))
}
