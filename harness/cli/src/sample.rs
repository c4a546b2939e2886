//! The bundled sample chain: a small real monerod regtest chain compiled into the binary, so that
//! `dualrun` runs with no arguments on any machine. It is written out once to a content-addressed
//! directory under the system temp dir and opened from there like any other chain (read-only).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use sha3::{Digest, Keccak256};

const DATA_MDB: &[u8] = include_bytes!("../../sample/data.mdb");

/// Where the sample lives on disk; creates it if needed.
pub fn path() -> Result<PathBuf> {
    let digest = hex::encode(&Keccak256::digest(DATA_MDB)[..8]);
    let dir = std::env::temp_dir().join(format!("dualrun-sample-{digest}"));
    let file = dir.join("data.mdb");
    if std::fs::read(&file).map(|b| b == DATA_MDB).unwrap_or(false) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Write to a private temp file then rename, so a concurrent run never sees a half-written file.
    let mut tmp = tempfile_in(&dir)?;
    tmp.1.write_all(DATA_MDB).with_context(|| format!("writing {}", tmp.0.display()))?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, &file).with_context(|| format!("renaming into {}", file.display()))?;
    Ok(dir)
}

fn tempfile_in(dir: &std::path::Path) -> Result<(PathBuf, std::fs::File)> {
    let p = dir.join(format!(".data.mdb.{}", std::process::id()));
    let f = std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?;
    Ok((p, f))
}
