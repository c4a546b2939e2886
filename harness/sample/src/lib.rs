//! What the `dualrun` binary carries so that `dualrun replay` runs with no arguments on any machine:
//!
//! - the bundled sample chain (this directory's `data.mdb`), a 200-block migration chain made by a real
//!   monerod (60 ordinary blocks, then leader-signed blocks with injected faults), with its profile
//!   (`profile.toml`);
//! - the reference Python legacy verifier (`adapters/python/dualrun_legacy`).
//!
//! Each is written out once to a content-addressed directory and used from there like any other chain
//! or module (the chain read-only). The directories are private: under the user's cache directory
//! (`$XDG_CACHE_HOME/dualrun`, else `~/.cache/dualrun`, else `<temp dir>/dualrun-<uid>`; see
//! [`Cache::user`]), created with mode 0700 and checked on every use to be real directories owned by this
//! user that nobody else can write. A directory another user planted (with a `sitecustomize.py`, a fake
//! `Cryptodome`, another `data.mdb`) is refused ([`SampleError::Unsafe`]), never used: what runs is what
//! the binary carries.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const DATA_MDB: &[u8] = include_bytes!("../data.mdb");
const PROFILE: &[u8] = include_bytes!("../profile.toml");
const LEGACY: [(&str, &str); 4] = [
    ("__init__.py", include_str!("../../../adapters/python/dualrun_legacy/__init__.py")),
    ("chain.py", include_str!("../../../adapters/python/dualrun_legacy/chain.py")),
    ("hashing.py", include_str!("../../../adapters/python/dualrun_legacy/hashing.py")),
    ("exec.py", include_str!("../../../adapters/python/dualrun_legacy/exec.py")),
];

/// The embedded files could not be written out, or their directory is not safe to use.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// A directory or file could not be made, checked or written (`creating DIR: …`).
    #[error("{step} {}", path.display())]
    Io {
        /// What was being done.
        step: Step,
        /// The directory or file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        io: std::io::Error,
    },
    /// A directory that is not this user's private one: refused, never used.
    #[error(
        "{}: refusing to use this directory for dualrun's embedded files: {why}; someone else may have planted \
         files there. Remove it (dualrun makes it again, private) or set XDG_CACHE_HOME",
        dir.display()
    )]
    Unsafe {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        why: Unsafe,
    },
}

/// What was being done when an I/O error came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Creating a directory or a temporary file.
    Creating,
    /// Reading a directory's metadata.
    Checking,
    /// Writing a temporary file.
    Writing,
    /// Renaming a temporary file into place.
    RenamingInto,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Creating => "creating",
            Step::Checking => "checking",
            Step::Writing => "writing",
            Step::RenamingInto => "renaming into",
        })
    }
}

/// Why a directory is not this user's private one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    /// A symbolic link or a file where the directory should be.
    #[error("it is not a directory (a symlink or a file)")]
    NotADirectory,
    /// Another user's directory.
    #[error("it is owned by uid {owner}, not by this user (uid {me})")]
    NotOwned {
        /// Its owner.
        owner: u32,
        /// This user.
        me: u32,
    },
    /// A directory others may write to.
    #[error("others may write to it (mode {mode:o})")]
    WritableByOthers {
        /// Its permission bits.
        mode: u32,
    },
}

/// The private cache directory the embedded files are written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The user's: `$XDG_CACHE_HOME/dualrun`, else `~/.cache/dualrun` (absolute paths only), else
    /// `<temp dir>/dualrun-<uid>`.
    pub fn user() -> Cache {
        let root = match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
            (Some(x), _) if Path::new(&x).is_absolute() => PathBuf::from(x).join("dualrun"),
            (_, Some(h)) if Path::new(&h).is_absolute() => PathBuf::from(h).join(".cache").join("dualrun"),
            _ => std::env::temp_dir().join(format!("dualrun-{}", euid())),
        };
        Cache { root }
    }

    /// A cache rooted at `root` (made private like the user's).
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The sample's directory (holding `data.mdb` and `profile.toml`); written if needed.
    pub fn sample_dir(&self) -> Result<PathBuf, SampleError> {
        let dir = self.private_dir(&named("sample", [DATA_MDB, PROFILE]))?;
        materialize(&dir.join("data.mdb"), DATA_MDB)?;
        materialize(&dir.join("profile.toml"), PROFILE)?;
        Ok(dir)
    }

    /// The sample's profile file; written if needed.
    pub fn sample_profile(&self) -> Result<PathBuf, SampleError> {
        Ok(self.sample_dir()?.join("profile.toml"))
    }

    /// A directory holding only the `dualrun_legacy` package (for `sys.path`); written if needed.
    pub fn legacy_python_path(&self) -> Result<PathBuf, SampleError> {
        let parts = LEGACY.iter().flat_map(|(name, text)| [name.as_bytes(), text.as_bytes()]);
        let dir = self.private_dir(&named("legacy", parts))?;
        let pkg = dir.join("dualrun_legacy");
        private(&pkg)?;
        for (name, text) in LEGACY {
            materialize(&pkg.join(name), text.as_bytes())?;
        }
        Ok(dir)
    }

    /// `name` under the cache root, both checked (see [`private`]).
    fn private_dir(&self, name: &str) -> Result<PathBuf, SampleError> {
        if let Some(parent) = self.root.parent() {
            std::fs::create_dir_all(parent).map_err(io(Step::Creating, parent))?;
        }
        private(&self.root)?;
        let dir = self.root.join(name);
        private(&dir)?;
        Ok(dir)
    }
}

/// The sample's directory in the user's cache ([`Cache::sample_dir`]).
pub fn dir() -> Result<PathBuf, SampleError> {
    Cache::user().sample_dir()
}

/// The sample's profile in the user's cache ([`Cache::sample_profile`]).
pub fn profile() -> Result<PathBuf, SampleError> {
    Cache::user().sample_profile()
}

/// The reference legacy's directory in the user's cache ([`Cache::legacy_python_path`]).
pub fn legacy_python_path() -> Result<PathBuf, SampleError> {
    Cache::user().legacy_python_path()
}

/// `prefix-<the first 8 bytes of Keccak-256 over parts, hex>`: a directory name that changes with the
/// content.
fn named<'a>(prefix: &str, parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let parts: Vec<&[u8]> = parts.into_iter().collect();
    format!("{prefix}-{}", hex::encode(&dualrun_format::hash::keccak256_concat(&parts).0[..8]))
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn io(step: Step, path: &Path) -> impl FnOnce(std::io::Error) -> SampleError + '_ {
    move |io| SampleError::Io { step, path: path.into(), io }
}

/// Creates `dir` with mode 0700, or checks the one that is there: a real directory (not a symlink),
/// owned by this user, writable by nobody else. Anything else is refused, naming what is wrong.
fn private(dir: &Path) -> Result<(), SampleError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(Step::Creating, dir)(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io(Step::Checking, dir))?;
    let refuse = |why| Err(SampleError::Unsafe { dir: dir.into(), why });
    let me = euid();
    if !meta.is_dir() {
        return refuse(Unsafe::NotADirectory);
    }
    if meta.uid() != me {
        return refuse(Unsafe::NotOwned { owner: meta.uid(), me });
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(Unsafe::WritableByOthers { mode: meta.mode() & 0o7777 });
    }
    Ok(())
}

/// Writes `bytes` to `path` unless it already holds them; via a private temp file and a rename, so a
/// concurrent run never sees a half-written file.
fn materialize(path: &Path, bytes: &[u8]) -> Result<(), SampleError> {
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
        .map_err(io(Step::Creating, &tmp))?;
    f.write_all(bytes).map_err(io(Step::Writing, &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(Step::RenamingInto, path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn the_sample_and_the_legacy_are_written_once_privately_as_carried() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::at(tmp.path().join("cache/dualrun"));
        let dir = cache.sample_dir().unwrap();
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("sample-") && name.len() == "sample-".len() + 16, "{name}");
        assert_eq!(std::fs::read(dir.join("data.mdb")).unwrap(), DATA_MDB);
        assert_eq!(cache.sample_profile().unwrap(), dir.join("profile.toml"));
        assert_eq!(std::fs::read(dir.join("profile.toml")).unwrap(), PROFILE);
        assert_eq!((mode(&dir), mode(tmp.path().join("cache/dualrun").as_path())), (0o700, 0o700));
        assert_eq!(mode(&dir.join("data.mdb")), 0o600);

        // A changed file is written again; the directory is the same (named by what is carried).
        std::fs::write(dir.join("profile.toml"), "edited").unwrap();
        assert_eq!(cache.sample_dir().unwrap(), dir);
        assert_eq!(std::fs::read(dir.join("profile.toml")).unwrap(), PROFILE);

        let legacy = cache.legacy_python_path().unwrap();
        assert!(legacy.file_name().unwrap().to_str().unwrap().starts_with("legacy-"));
        for (name, text) in LEGACY {
            assert_eq!(std::fs::read_to_string(legacy.join("dualrun_legacy").join(name)).unwrap(), text);
        }
        assert_eq!(mode(&legacy.join("dualrun_legacy")), 0o700);
    }

    #[test]
    fn a_directory_others_may_write_or_a_link_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("dualrun");
        let cache = Cache::at(&root);
        let dir = cache.sample_dir().unwrap();

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = cache.sample_dir().unwrap_err();
        assert!(matches!(e, SampleError::Unsafe { why: Unsafe::WritableByOthers { mode: 0o777 }, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: refusing to use this directory for dualrun's embedded files: others may write to it (mode 777); \
                 someone else may have planted files there. Remove it (dualrun makes it again, private) or set \
                 XDG_CACHE_HOME",
                dir.display()
            )
        );

        std::fs::remove_dir_all(&dir).unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        let e = cache.sample_dir().unwrap_err();
        assert!(matches!(e, SampleError::Unsafe { why: Unsafe::NotADirectory, .. }), "{e}");
        assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none(), "nothing was written through the link");
    }

    #[test]
    fn an_uncreatable_directory_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("file"), "").unwrap();
        let e = Cache::at(tmp.path().join("file/sub/dualrun")).sample_dir().unwrap_err();
        assert!(matches!(e, SampleError::Io { step: Step::Creating, .. }), "{e}");
        assert_eq!(e.to_string(), format!("creating {}", tmp.path().join("file/sub").display()));
    }
}
