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
}
