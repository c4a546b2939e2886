//! Errors of the chain input, each naming the file or directory, the table and the height involved.

use std::path::PathBuf;

/// A chain database that cannot be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum ChainDbError {
    /// The given directory does not exist.
    #[error("{path}: no such directory")]
    NotFound {
        /// The directory.
        path: PathBuf,
    },

    /// A path that exists but is not a directory (nor a `data.mdb` file).
    #[error("{path}: {kind}, not a chain directory (give the directory holding data.mdb, or a node's data directory)")]
    NotADirectory {
        /// The path.
        path: PathBuf,
        /// What it is (`a regular file`, `a FIFO`…).
        kind: &'static str,
    },

    /// The directory holds no `data.mdb`, nor does its `lmdb/` or `fake/lmdb/`.
    #[error("{path}: not a chain database directory (no data.mdb in it, nor in lmdb/ or fake/lmdb/)")]
    NoDataFile {
        /// The directory.
        path: PathBuf,
    },

    /// LMDB refused to open the data file as a database.
    #[error("{file}: not an LMDB database ({detail})")]
    NotLmdb {
        /// The database file.
        file: PathBuf,
        /// LMDB's explanation.
        detail: String,
    },

    /// A running process holds the database's lock, so it may be writing.
    #[error(
        "{lock}: the database is in use by a running process (pid {pid}); dualrun reads only databases \
         no process is writing. Stop the node, or make a consistent copy with `mdb_copy {dir} COPY_DIR` \
         and pass --chain COPY_DIR"
    )]
    LockHeld {
        /// The lock file.
        lock: PathBuf,
        /// The database directory.
        dir: PathBuf,
        /// The id of the process holding the lock.
        pid: i32,
    },

    /// An LMDB operation failed.
    #[error("{file}: {op}: {source}")]
    Lmdb {
        /// The database file.
        file: PathBuf,
        /// The operation that failed.
        op: String,
        /// LMDB's error.
        source: heed::Error,
    },

    /// A file or directory could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),

    /// `data.mdb` is shorter than the last page its LMDB meta page says is in use (an interrupted copy).
    #[error(
        "{file}: truncated: the file is {length} bytes, but its LMDB meta page needs {needed} bytes (its last used \
         page ends there); the copy was cut short (an interrupted cp or rsync, a full disk): copy the database \
         again, e.g. with mdb_copy from a stopped node"
    )]
    Truncated {
        /// The database file.
        file: PathBuf,
        /// Its length.
        length: u64,
        /// The length its meta page needs.
        needed: u64,
    },

    /// A table the schema needs is not in the database.
    #[error("{file}: table `{table}` is missing (is this a Monero-family node database?)")]
    MissingTable {
        /// The database file.
        file: PathBuf,
        /// The missing table.
        table: &'static str,
    },

    /// The `properties` table has no `version` entry.
    #[error("{file}: table `properties` has no `version` entry, so the schema is unknown")]
    MissingSchemaVersion {
        /// The database file.
        file: PathBuf,
    },

    /// The database's schema version is neither Monero 0.18's nor X-Cash's.
    #[error(
        "{file}: unsupported schema version {version} (supported: 5 = Monero 0.18, 3 = X-Cash); \
         a Monero database of an older version is migrated by opening it once with monerod"
    )]
    UnsupportedSchema {
        /// The database file.
        file: PathBuf,
        /// The schema version found.
        version: u32,
    },

    /// A table entry is missing, malformed or disagrees with the others.
    #[error("{file}: table `{table}`, height {height}: {detail}")]
    Inconsistent {
        /// The database file.
        file: PathBuf,
        /// The table.
        table: &'static str,
        /// The height involved.
        height: u64,
        /// What is wrong.
        detail: String,
    },

    /// A height above the chain's tip was asked for.
    #[error("{file}: height {height} is beyond the tip (the chain has heights 0..={tip})")]
    BeyondTip {
        /// The database file.
        file: PathBuf,
        /// The height asked for.
        height: u64,
        /// The chain's tip height.
        tip: u64,
    },

    /// The `blocks` table has no entry.
    #[error("{file}: the chain is empty (table `blocks` has no entry)")]
    Empty {
        /// The database file.
        file: PathBuf,
    },

    /// A database was to be written into a directory that is not empty.
    #[error("{path}: refusing to write into an existing non-empty directory")]
    DestinationExists {
        /// The directory.
        path: PathBuf,
    },
}
