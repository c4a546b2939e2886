//! The gate's ledger on a full disk (a tmpfs of its own, so root): no append ever leaves a partial line.

use std::path::Path;

use crate::common::*;

/// A small tmpfs of our own, unmounted when dropped. Mounting needs root (CI runs as root); elsewhere set
/// DUALRUN_SKIP_ROOT_TESTS=1 to skip, rather than have the test pass without running.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", s(dir)])
            .status()
            .is_ok_and(|st| st.success());
        if !ok && std::env::var_os("DUALRUN_SKIP_ROOT_TESTS").is_some() {
            return None;
        }
        assert!(ok, "mounting a tmpfs needs root; set DUALRUN_SKIP_ROOT_TESTS=1 to skip this test");
        Some(Tmpfs(dir.to_path_buf()))
    }

    /// Fills the filesystem: a file grown until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let chunk = vec![0u8; 512];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.flush();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Every append site on a full disk: the command fails (exit 2) and the ledger is byte for byte what it
/// was — it still verifies and still takes a rollback once there is room.
#[test]
fn a_full_disk_never_leaves_a_partial_ledger_line() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("small"), "64k") else { return };
    let key = tmp.path().join("ops.key");
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&key)]).code, 0);
    let ledger = fs.0.join("ledger.jsonl");
    let init = ["gate", "init", "--ledger", s(&ledger), "--key", s(&key), "--operator", "ops"];
    assert_eq!(dualrun(&init).code, 0);
    // A reason longer than a page: the entry cannot fit in the slack of the ledger's last page, so on a
    // full disk the write stops part way (the partial line this test is about).
    let long_reason = "drill ".repeat(1000);
    let promote = ["gate", "promote", "--ledger", s(&ledger), "--key", s(&key), "--reason", &long_reason, "--force"];
    assert_eq!(dualrun(&promote).code, 0, "a forced promotion on no evidence is recorded as an override");
    let rollback =
        ["gate", "rollback", "--ledger", s(&ledger), "--to", "legacy", "--key", s(&key), "--reason", &long_reason];

    fs.fill();
    let before = std::fs::read(&ledger).unwrap();
    for args in [&promote[..], &rollback[..]] {
        let r = dualrun(args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("could not be written") && r.stderr.contains("as it was"), "{}", r.stderr);
        assert_eq!(std::fs::read(&ledger).unwrap(), before, "{args:?}: the ledger is unchanged");
        assert_eq!(dualrun(&["gate", "verify", "--ledger", s(&ledger)]).code, 0);
    }
    // `init` on a full disk leaves no ledger behind.
    let other = fs.0.join("other.jsonl");
    let r = dualrun(&["gate", "init", "--ledger", s(&other), "--key", s(&key), "--operator", "ops"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!other.exists());

    // With room again, the rollback goes through.
    std::fs::remove_file(fs.0.join("filler")).unwrap();
    assert_eq!(dualrun(&rollback).code, 0);
    let status = dualrun(&["gate", "status", "--ledger", s(&ledger)]);
    assert!(status.stdout.contains("mode     legacy"), "{}", status.stdout);
}
