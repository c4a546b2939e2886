//! What can be wrong with a run directory.

use std::path::PathBuf;

use dualrun_format::FileError;

/// A run directory that cannot be written, resumed or read.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A new run was pointed at a directory that holds one.
    #[error("{dir} already holds a run (it has {found}); resume it with --resume, or choose another --out")]
    Occupied {
        /// The directory.
        dir: PathBuf,
        /// The entries found in it.
        found: String,
    },
    /// Another process writes the run directory (a run still going, or one killed a moment ago still
    /// exiting).
    #[error(
        "{dir} is being written by another dualrun (waited {waited_seconds} s for it to end); stop that run \
         first, or choose another --out"
    )]
    Busy {
        /// The directory.
        dir: PathBuf,
        /// How long the writer waited.
        waited_seconds: u64,
    },
    /// A directory without `manifest.json`.
    #[error("{dir}: not a run directory (no manifest.json)")]
    NotARun {
        /// The directory.
        dir: PathBuf,
    },
    /// `--resume` of a directory without a run.
    #[error("{dir}: nothing to resume: {why}")]
    NothingToResume {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        why: String,
    },
    /// `--resume` of a directory without a manifest.
    #[error("{}: nothing to resume (no manifest.json); start a run there without --resume", dir.display())]
    NoRunToResume {
        /// The directory.
        dir: PathBuf,
    },
    /// A run directory could not be created.
    #[error("creating {}", dir.display())]
    Create {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        #[source]
        io: std::io::Error,
    },
    /// A run directory's canonical path could not be found.
    #[error("resolving {}", dir.display())]
    Resolve {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        #[source]
        io: std::io::Error,
    },
    /// `--resume` with other inputs than the run was made with.
    #[error(
        "{dir}: refusing to resume with different inputs ({differences}); the run was made with other inputs, \
         so its records could not be continued"
    )]
    InputsChanged {
        /// The directory.
        dir: PathBuf,
        /// Which inputs differ, and how.
        differences: String,
    },
    /// A file that is not what its name says (not JSON, missing fields, cut records).
    #[error("{file}: unreadable: {message}")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// What is wrong, with the line where there is one.
        message: String,
    },
    /// A run directory of a format this dualrun does not know.
    #[error(
        "{file}: run directory format {found} is not one this dualrun reads ({known}); use the dualrun that wrote it"
    )]
    UnknownFormat {
        /// The manifest.
        file: PathBuf,
        /// The format it names.
        found: String,
        /// The format this dualrun reads.
        known: String,
    },
    /// The run cannot serve as evidence (see [`Problem`]).
    #[error("{dir}: {problem}")]
    Unusable {
        /// The run directory.
        dir: PathBuf,
        /// The first problem found.
        problem: Problem,
    },
}

/// Why a run that was read cannot be trusted as a finished, untouched run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The manifest says the run did not finish.
    #[error("the run is not complete (killed or interrupted and not resumed)")]
    ManifestIncomplete,
    /// The summary says the run did not finish.
    #[error("its summary says the run is not complete")]
    SummaryIncomplete,
    /// The manifest lists no digest for a file it should.
    #[error("the manifest lists no digest for {0}")]
    NoDigest(&'static str),
    /// A file's digest differs from the manifest's.
    #[error("{0} was changed after the run (its digest differs from the manifest's)")]
    Changed(String),
    /// A file the manifest lists is not there.
    #[error("{0} is missing")]
    Missing(String),
    /// An entry a run directory may not hold: a name the format does not define, or a defined name that
    /// is not a regular file.
    #[error("{}", describe_stray(.0))]
    Stray(crate::files::Stray),
    /// A file that decides how the records read, present but not digested by the manifest.
    #[error("{0} is not digested by the manifest: it was added after the run")]
    Undigested(&'static str),
    /// The directory or a file in it could not be read.
    #[error("{0}")]
    Unreadable(String),
    /// A line of `divergences.jsonl` that is not a record.
    #[error("divergences.jsonl line {line}: {why}")]
    UnreadableRecord {
        /// Its line number (from 1).
        line: usize,
        /// Why it is not a record.
        why: String,
    },
    /// A count of `summary.json` that is not what the records say.
    #[error(
        "summary.json says {field} = {summary}, but divergences.jsonl holds {records}: a count is trusted only \
         when the records agree (summary.json or the records were edited)"
    )]
    CountDisagrees {
        /// The summary's field (`records`, `divergences.halt`…).
        field: String,
        /// What the summary says.
        summary: u64,
        /// What the records say.
        records: u64,
    },
}

fn describe_stray(s: &crate::files::Stray) -> String {
    let name = dualrun_format::file::clip(&s.name, 300);
    if s.defined {
        format!(
            "{name} is {}, not a regular file: a run directory's files are never read through links or from \
             special files",
            s.kind
        )
    } else {
        format!(
            "{name} ({}) is not part of a run directory, which holds only {} and {}: move it out",
            s.kind,
            crate::files::WRITTEN.join(", "),
            crate::files::DERIVED.join(", ")
        )
    }
}
