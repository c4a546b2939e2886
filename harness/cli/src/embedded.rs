//! What the binary carries so that `dualrun replay` runs with no arguments on any machine:
//!
//! - the bundled sample chain, a 200-block migration chain made by a real monerod (60 ordinary blocks,
//!   then leader-signed blocks with injected faults), with its profile;
//! - the reference Python legacy verifier (`adapters/python/dualrun_legacy`).
//!
//! Each is written out once to a content-addressed directory and used from there like any other chain
//! or module (the chain read-only). The directories are private: under the user's cache directory
//! (`$XDG_CACHE_HOME/dualrun`, else `~/.cache/dualrun`, else `<temp dir>/dualrun-<uid>`), created with
//! mode 0700 and checked on every use to be real directories owned by this user that nobody else can
//! write. A directory another user planted (with a `sitecustomize.py`, a fake `Cryptodome`, another
//! `data.mdb`) is refused, never used: what runs is what the binary carries.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha3::{Digest, Keccak256};

const DATA_MDB: &[u8] = include_bytes!("../../sample/data.mdb");
const PROFILE: &[u8] = include_bytes!("../../sample/profile.toml");
const LEGACY: [(&str, &str); 4] = [
    ("__init__.py", include_str!("../../../adapters/python/dualrun_legacy/__init__.py")),
    ("chain.py", include_str!("../../../adapters/python/dualrun_legacy/chain.py")),
    ("hashing.py", include_str!("../../../adapters/python/dualrun_legacy/hashing.py")),
    ("exec.py", include_str!("../../../adapters/python/dualrun_legacy/exec.py")),
];

/// A directory holding only the `dualrun_legacy` package (for `sys.path`); creates it if needed.
pub(crate) fn legacy_python_path() -> Result<PathBuf> {
    let mut k = Keccak256::new();
    for (name, text) in LEGACY {
        k.update(name.as_bytes());
        k.update(text.as_bytes());
    }
    let dir = private_dir(&format!("legacy-{}", hex::encode(&k.finalize()[..8])))?;
    let pkg = dir.join("dualrun_legacy");
    private(&pkg)?;
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
    let dir = private_dir(&format!("sample-{}", hex::encode(&k.finalize()[..8])))?;
    materialize(&dir.join("data.mdb"), DATA_MDB)?;
    materialize(&dir.join("profile.toml"), PROFILE)?;
    Ok(dir)
}

/// The sample's profile file.
pub(crate) fn profile() -> Result<PathBuf> {
    Ok(dir()?.join("profile.toml"))
}

/// `name` under dualrun's private cache root, both checked (see [`private`]).
fn private_dir(name: &str) -> Result<PathBuf> {
    let root = match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(x), _) if Path::new(&x).is_absolute() => PathBuf::from(x).join("dualrun"),
        (_, Some(h)) if Path::new(&h).is_absolute() => PathBuf::from(h).join(".cache").join("dualrun"),
        // SAFETY: geteuid has no preconditions.
        _ => std::env::temp_dir().join(format!("dualrun-{}", unsafe { libc::geteuid() })),
    };
    if let Some(parent) = root.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    private(&root)?;
    let dir = root.join(name);
    private(&dir)?;
    Ok(dir)
}

/// Creates `dir` with mode 0700, or checks the one that is there: a real directory (not a symlink),
/// owned by this user, writable by nobody else. Anything else is refused, naming what is wrong.
fn private(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).with_context(|| format!("checking {}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let refuse = |why: String| -> Result<()> {
        bail!(
            "{}: refusing to use this directory for dualrun's embedded files: {why}; someone else may have \
             planted files there. Remove it (dualrun makes it again, private) or set XDG_CACHE_HOME",
            dir.display()
        )
    };
    if !meta.is_dir() {
        return refuse("it is not a directory (a symlink or a file)".into());
    }
    if meta.uid() != me {
        return refuse(format!("it is owned by uid {}, not by this user (uid {me})", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!("others may write to it (mode {:o})", meta.mode() & 0o7777));
    }
    Ok(())
}

/// Writes `bytes` to `path` unless it already holds them; via a private temp file and a rename, so a
/// concurrent run never sees a half-written file.
fn materialize(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).map(|b| b == bytes).unwrap_or(false) {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
}
