//! Errors of the chain input, each naming the file or directory, the table and the height involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ChainDbError {
    #[error("{path}: no such directory")]
    NotFound { path: PathBuf },

    #[error("{path}: not a chain database directory (no data.mdb in it, nor in lmdb/ or fake/lmdb/)")]
    NoDataFile { path: PathBuf },

    #[error("{file}: not an LMDB database ({detail})")]
    NotLmdb { file: PathBuf, detail: String },

    #[error(
        "{lock}: the database is in use by a running process (pid {pid}); dualrun reads only databases \
         no process is writing. Stop the node, or make a consistent copy with `mdb_copy {dir} COPY_DIR` \
         and pass --chain COPY_DIR"
    )]
    LockHeld { lock: PathBuf, dir: PathBuf, pid: i32 },

    #[error("{file}: {op}: {source}")]
    Lmdb { file: PathBuf, op: String, source: heed::Error },

    #[error("{file}: I/O error: {source}")]
    Io { file: PathBuf, source: std::io::Error },

    #[error("{file}: table `{table}` is missing (is this a Monero-family node database?)")]
    MissingTable { file: PathBuf, table: &'static str },

    #[error("{file}: table `properties` has no `version` entry, so the schema is unknown")]
    MissingSchemaVersion { file: PathBuf },

    #[error(
        "{file}: unsupported schema version {version} (supported: 5 = Monero 0.18, 3 = X-Cash); \
         a Monero database of an older version is migrated by opening it once with monerod"
    )]
    UnsupportedSchema { file: PathBuf, version: u32 },

    #[error("{file}: table `{table}`, height {height}: {detail}")]
    Inconsistent { file: PathBuf, table: &'static str, height: u64, detail: String },

    #[error("{file}: height {height} is beyond the tip (the chain has heights 0..={tip})")]
    BeyondTip { file: PathBuf, height: u64, tip: u64 },

    #[error("{file}: the chain is empty (table `blocks` has no entry)")]
    Empty { file: PathBuf },

    #[error("{path}: refusing to write into an existing non-empty directory")]
    DestinationExists { path: PathBuf },
}
