//! Files planted by another user where dualrun writes its embedded legacy and sample must never run
//! or be read: not in the old shared temp-dir locations, not in the private cache directory it uses
//! now (a planted one is refused, exit 2). Needs root to plant files owned by another user (CI runs as
//! root); set DUALRUN_SKIP_ROOT_TESTS=1 to skip elsewhere.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::*;
use sha3::{Digest, Keccak256};

const NOBODY: u32 = 65534;

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root || std::env::var_os("DUALRUN_SKIP_ROOT_TESTS").is_some(), "needs root (or DUALRUN_SKIP_ROOT_TESTS=1)");
    root
}

/// The content hash dualrun names its legacy directory with.
fn legacy_hash() -> String {
    let mut k = Keccak256::new();
    for name in ["__init__.py", "chain.py", "hashing.py", "exec.py"] {
        k.update(name.as_bytes());
        k.update(std::fs::read(repo().join("adapters/python/dualrun_legacy").join(name)).unwrap());
    }
    hex::encode(&k.finalize()[..8])
}

/// A directory owned by `nobody`, writable by all, holding modules that leave a mark in `marks` when
/// imported.
fn plant(dir: &Path, marks: &Path) {
    let mark = |name: &str| format!("open({:?}, 'w').write('ran')\n", marks.join(name).display().to_string());
    for (file, text) in [
        ("sitecustomize.py", mark("sitecustomize")),
        ("Cryptodome/__init__.py", mark("cryptodome")),
        ("Cryptodome/Hash/__init__.py", String::new()),
        ("Cryptodome/Hash/keccak.py", mark("keccak")),
        ("dualrun_legacy/__init__.py", mark("dualrun_legacy")),
    ] {
        let p = dir.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    for entry in walk(dir) {
        std::os::unix::fs::chown(&entry, Some(NOBODY), Some(NOBODY)).unwrap();
        let mode = if entry.is_dir() { 0o777 } else { 0o666 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn replay(home: &Path, out: &Path) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(["replay", "--out", s(out)])
        .env("TMPDIR", home.join("tmp"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .output()
        .unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

#[test]
fn planted_modules_never_run() {
    if !root() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::set_permissions(h, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marks = h.join("marks");
    std::fs::create_dir(&marks).unwrap();
    std::fs::set_permissions(&marks, std::fs::Permissions::from_mode(0o777)).unwrap();

    // The old shared location, planted in advance: ignored; the run is the real default run.
    std::fs::create_dir(h.join("tmp")).unwrap();
    plant(&h.join("tmp").join(format!("dualrun-legacy-{}", legacy_hash())), &marks);
    let r = replay(h, &h.join("run1"));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("10 records (halt 10)"), "{}", r.stdout);
    assert_eq!(std::fs::read_dir(&marks).unwrap().count(), 0, "a planted module ran");

    // The private location, planted: refused, nothing run.
    let planted = h.join("cache/dualrun").join(format!("legacy-{}", legacy_hash()));
    std::fs::remove_dir_all(&planted).unwrap();
    plant(&planted, &marks);
    let r = replay(h, &h.join("run2"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(s(&planted)) && r.stderr.contains("refusing to use this directory"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&marks).unwrap().count(), 0, "a planted module ran");

    // Its root, planted (another user's, world-writable): refused too.
    std::fs::remove_dir_all(h.join("cache")).unwrap();
    plant(&h.join("cache/dualrun"), &marks);
    let r = replay(h, &h.join("run3"));
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("owned by uid 65534"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&marks).unwrap().count(), 0, "a planted module ran");
}
