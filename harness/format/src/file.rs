//! [`FileError`]: the one error type for a file that could not be read or written, shared by every
//! dualrun crate so that each message names the file the same way. This crate itself reads no files.

use std::io;
use std::path::{Path, PathBuf};

/// An I/O error on a named file. Its message is whole (`FILE: what the system said`), so the I/O error is
/// not also reported as its source: a chain of causes printed with `{:#}` says it once.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {io}")]
pub struct FileError {
    /// The file (or directory) the operation was on.
    pub file: PathBuf,
    /// What the operating system said.
    pub io: io::Error,
}

impl FileError {
    /// An error on `file`.
    pub fn new(file: impl Into<PathBuf>, io: io::Error) -> FileError {
        FileError { file: file.into(), io }
    }

    /// A `map_err` adapter: `std::fs::read(p).map_err(FileError::at(p))`.
    pub fn at(file: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
        move |source| FileError::new(file, source)
    }
}

/// `std::fs::read`, naming the file on error.
pub fn read(path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(FileError::at(path))
}

/// `std::fs::read_to_string`, naming the file on error.
pub fn read_to_string(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(FileError::at(path))
}
