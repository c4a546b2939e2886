//! `timings.csv`: one line per judged block — its height, the time each verifier took for it in
//! microseconds (empty for a verifier the mode did not run) and the authoritative verdict — the per-block
//! file chain-analysis tools give. Written as blocks are judged (never held), cut back with the record
//! files on a resume, digested by the manifest, joined in height order by a merge, and read back as a
//! stream ([`Timings`]): a report or the Python package walks it in constant memory.
//!
//! A live run that went back to a fork judges the fork's heights again: their lines appear again, later
//! in the file; the later line is the block on the chain the run followed (as with the records,
//! `reorgs.jsonl` says which blocks were orphaned).

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dualrun_core::VerdictKind;
use dualrun_format::file::{BoundedLines, Line};
use dualrun_format::FileError;

use crate::error::RunDirError;
use crate::files::{self, TIMINGS};

/// The header line of `timings.csv`.
pub const TIMINGS_HEADER: &str = "height,legacy_us,candidate_us,authoritative_verdict";

/// The longest line of `timings.csv` read (a line is about 40 bytes).
const MAX_TIMING_LINE: usize = 256;

/// One judged block's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The block's height.
    pub height: u64,
    /// The legacy's time, microseconds (none: not run).
    pub legacy_us: Option<u64>,
    /// The candidate's time, microseconds (none: not run).
    pub candidate_us: Option<u64>,
    /// The verdict that stood.
    pub verdict: VerdictKind,
}

fn micros(d: Option<Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl Timing {
    /// The line of a block judged at `height` whose verifiers took `legacy` and `candidate`.
    pub fn of(height: u64, legacy: Option<Duration>, candidate: Option<Duration>, verdict: VerdictKind) -> Timing {
        Timing { height, legacy_us: micros(legacy), candidate_us: micros(candidate), verdict }
    }

    /// The CSV line, with its newline.
    pub fn csv_line(&self) -> String {
        let us = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
        format!("{},{},{},{}\n", self.height, us(self.legacy_us), us(self.candidate_us), self.verdict.as_str())
    }

    /// Reads one line (without its newline); `Err` says what is wrong with it.
    pub fn parse(line: &[u8]) -> Result<Timing, String> {
        let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
        let fields: Vec<&str> = text.split(',').collect();
        let [height, legacy, candidate, verdict] = fields[..] else {
            return Err(format!("{} fields, not the 4 of {TIMINGS_HEADER:?}", fields.len()));
        };
        let number = |name: &str, v: &str| -> Result<u64, String> {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{name} {:?} is not a whole number", crate::access::clip(v)));
            }
            v.parse().map_err(|_| format!("{name} {v} is too large"))
        };
        let optional = |name: &str, v: &str| if v.is_empty() { Ok(None) } else { number(name, v).map(Some) };
        let verdict = match verdict {
            "accept" => VerdictKind::Accept,
            "reject" => VerdictKind::Reject,
            other => return Err(format!("verdict {:?} is neither accept nor reject", crate::access::clip(other))),
        };
        Ok(Timing {
            height: number("height", height)?,
            legacy_us: optional("legacy_us", legacy)?,
            candidate_us: optional("candidate_us", candidate)?,
            verdict,
        })
    }
}

/// `timings.csv` read line by line: each line as a [`Timing`], or an error naming the file, the line and
/// what is wrong with it (the header too is checked).
pub struct Timings {
    path: PathBuf,
    lines: BoundedLines<BufReader<std::fs::File>>,
    header_seen: bool,
}

impl Timings {
    /// Opens the `timings.csv` of the run directory `dir` (as every reader opens a run's files: no link
    /// followed); `None` when the run has none (runs of format version 1).
    pub fn open(dir: &Path) -> Result<Option<Timings>, FileError> {
        Ok(files::open(dir, TIMINGS)?.map(|(f, _)| Timings {
            path: dir.join(TIMINGS),
            lines: BoundedLines::new(BufReader::with_capacity(1 << 16, f), MAX_TIMING_LINE),
            header_seen: false,
        }))
    }
}

impl Iterator for Timings {
    type Item = Result<Timing, RunDirError>;

    fn next(&mut self) -> Option<Self::Item> {
        let corrupt = |path: &Path, n: usize, why: String| RunDirError::Corrupt {
            file: path.to_path_buf(),
            message: format!("line {n}: {why}"),
        };
        loop {
            let (n, line) = match self.lines.next()? {
                Ok(line) => line,
                Err(e) => return Some(Err(FileError::new(&self.path, e).into())),
            };
            let text = match line {
                Line::Text(text) => text,
                Line::TooLong { bytes } => {
                    return Some(Err(corrupt(&self.path, n, format!("a line of {bytes} bytes is no timing line"))))
                }
            };
            if !self.header_seen {
                self.header_seen = true;
                if text != TIMINGS_HEADER.as_bytes() {
                    return Some(Err(corrupt(&self.path, n, format!("the header is not {TIMINGS_HEADER:?}"))));
                }
                continue;
            }
            return Some(Timing::parse(&text).map_err(|why| corrupt(&self.path, n, why)));
        }
    }
}

/// The `n` slowest blocks for one verifier, kept while a stream of timings goes by (constant memory).
#[derive(Debug, Clone)]
pub struct Slowest {
    n: usize,
    /// A min-heap on (µs, then the higher height): the fastest kept — of equal ones the latest — goes
    /// first; each with whether its block was accepted.
    kept: std::collections::BinaryHeap<std::cmp::Reverse<(u64, std::cmp::Reverse<u64>, bool)>>,
}

impl Slowest {
    /// Keeps the `n` slowest.
    pub fn new(n: usize) -> Slowest {
        Slowest { n, kept: std::collections::BinaryHeap::with_capacity(n + 1) }
    }

    /// One block's time, and the verdict that stood for it.
    pub fn push(&mut self, height: u64, us: u64, verdict: VerdictKind) {
        let accept = verdict == VerdictKind::Accept;
        self.kept.push(std::cmp::Reverse((us, std::cmp::Reverse(height), accept)));
        if self.kept.len() > self.n {
            self.kept.pop();
        }
    }

    /// `(height, µs, verdict)` of the slowest blocks, slowest first (equal times: lower height first).
    pub fn into_sorted(self) -> Vec<(u64, u64, VerdictKind)> {
        let verdict = |accept| if accept { VerdictKind::Accept } else { VerdictKind::Reject };
        let mut v: Vec<(u64, u64, VerdictKind)> = self
            .kept
            .into_iter()
            .map(|std::cmp::Reverse((us, std::cmp::Reverse(h), accept))| (h, us, verdict(accept)))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back_as_written() {
        let t = Timing::of(7, Some(Duration::from_nanos(1_500_999)), None, VerdictKind::Reject);
        assert_eq!(t.csv_line(), "7,1500,,reject\n");
        assert_eq!(Timing::parse(b"7,1500,,reject").unwrap(), t);
        let both = Timing::of(0, Some(Duration::from_micros(3)), Some(Duration::from_micros(41)), VerdictKind::Accept);
        assert_eq!(Timing::parse(both.csv_line().trim_end().as_bytes()).unwrap(), both);
    }

    #[test]
    fn a_bad_line_is_named_with_what_is_wrong() {
        let why = |l: &str| Timing::parse(l.as_bytes()).unwrap_err();
        assert_eq!(why("7,1,2"), "3 fields, not the 4 of \"height,legacy_us,candidate_us,authoritative_verdict\"");
        assert_eq!(why("7,-1,2,accept"), "legacy_us \"-1\" is not a whole number");
        assert_eq!(why("x,1,2,accept"), "height \"x\" is not a whole number");
        assert_eq!(why("7,1,99999999999999999999,accept"), "candidate_us 99999999999999999999 is too large");
        assert_eq!(why("7,1,2,maybe"), "verdict \"maybe\" is neither accept nor reject");
        assert_eq!(why(",1,2,accept"), "height \"\" is not a whole number");
    }

    #[test]
    fn a_file_is_read_as_a_stream_and_a_bad_line_named_by_number() {
        let tmp = tempfile::tempdir().unwrap();
        let body = format!("{TIMINGS_HEADER}\n0,5,6,accept\n1,,9,reject\n2,x,1,accept\n");
        std::fs::write(tmp.path().join(TIMINGS), body).unwrap();
        let read: Vec<_> = Timings::open(tmp.path()).unwrap().unwrap().collect();
        assert_eq!(read.len(), 3);
        assert_eq!(read[1].as_ref().unwrap(), &Timing::parse(b"1,,9,reject").unwrap());
        let e = read[2].as_ref().unwrap_err().to_string();
        assert!(e.contains("timings.csv") && e.contains("line 4: legacy_us \"x\" is not a whole number"), "{e}");

        std::fs::write(tmp.path().join(TIMINGS), "height,us\n").unwrap();
        let e = Timings::open(tmp.path()).unwrap().unwrap().next().unwrap().unwrap_err().to_string();
        assert!(e.contains("line 1: the header is not"), "{e}");
        assert!(Timings::open(&tmp.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn the_slowest_blocks_are_kept_slowest_first() {
        use VerdictKind::{Accept, Reject};
        let mut s = Slowest::new(3);
        for (h, us) in [(0, 5), (1, 50), (2, 7), (3, 50), (4, 1), (5, 9), (6, 9)] {
            s.push(h, us, if h == 3 { Reject } else { Accept });
        }
        assert_eq!(s.into_sorted(), vec![(1, 50, Accept), (3, 50, Reject), (5, 9, Accept)]);
    }
}
