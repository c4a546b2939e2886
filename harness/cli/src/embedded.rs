//! What the binary carries so that `dualrun replay` runs with no arguments on any machine:
//!
//! - the bundled sample chain, a 200-block migration chain made by a real monerod (60 ordinary blocks,
//!   then leader-signed blocks with injected faults), with its profile;
//! - the reference Python legacy verifier (`adapters/python/dualrun_legacy`).
//!
//! Each is written out once to a content-addressed directory under the system temp dir and used from
//! there like any other chain or module (the chain read-only).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha3::{Digest, Keccak256};

const DATA_MDB: &[u8] = include_bytes!("../../sample/data.mdb");
const PROFILE: &[u8] = include_bytes!("../../sample/profile.toml");
const LEGACY: [(&str, &str); 4] = [
    ("__init__.py", include_str!("../../../adapters/python/dualrun_legacy/__init__.py")),
    ("chain.py", include_str!("../../../adapters/python/dualrun_legacy/chain.py")),
    ("hashing.py", include_str!("../../../adapters/python/dualrun_legacy/hashing.py")),
    ("exec.py", include_str!("../../../adapters/python/dualrun_legacy/exec.py")),
];

/// A directory holding the `dualrun_legacy` package (for `sys.path`); creates it if needed.
pub(crate) fn legacy_python_path() -> Result<PathBuf> {
    let mut k = Keccak256::new();
    for (name, text) in LEGACY {
        k.update(name.as_bytes());
        k.update(text.as_bytes());
    }
    let dir = std::env::temp_dir().join(format!("dualrun-legacy-{}", hex::encode(&k.finalize()[..8])));
    let pkg = dir.join("dualrun_legacy");
    std::fs::create_dir_all(&pkg).with_context(|| format!("creating {}", pkg.display()))?;
    for (name, text) in LEGACY {
        materialize(&pkg.join(name), text.as_bytes())?;
    }
    Ok(dir)
}

/// The sample's directory on disk (holding data.mdb and profile.toml); creates it if needed.
pub(crate) fn dir() -> Result<PathBuf> {
    let mut k = Keccak256::new();
    k.update(DATA_MDB);
    k.update(PROFILE);
    let dir = std::env::temp_dir().join(format!("dualrun-sample-{}", hex::encode(&k.finalize()[..8])));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    materialize(&dir.join("data.mdb"), DATA_MDB)?;
    materialize(&dir.join("profile.toml"), PROFILE)?;
    Ok(dir)
}

/// The sample's profile file.
pub(crate) fn profile() -> Result<PathBuf> {
    Ok(dir()?.join("profile.toml"))
}

/// Writes `bytes` to `path` unless it already holds them; via a private temp file and a rename, so a
/// concurrent run never sees a half-written file.
fn materialize(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).map(|b| b == bytes).unwrap_or(false) {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
}
