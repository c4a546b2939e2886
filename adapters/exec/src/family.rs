//! The processes an `exec:` child started, wherever they went. A process group is not enough: a
//! descendant that calls `setsid` (or double-forks into a group of its own) leaves it, and would outlive
//! the run. So every child is started with an environment variable naming its family
//! ([`VAR`]`=<dualrun pid>-<n>`), which its descendants inherit through `setsid`, forks and new process
//! groups; and dualrun is the subreaper of its descendants (`PR_SET_CHILD_SUBREAPER`), so an orphaned
//! descendant becomes dualrun's child rather than init's and can be reaped. [`end`] kills every process
//! whose environment names the family and reaps the ones that became dualrun's.
//!
//! The limit, stated: a descendant that clears or rewrites its environment (`env -i`, `execve` with an
//! empty environment) *and* leaves the child's process group is not found; it is reparented to dualrun
//! and ends with it, not with the child.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The environment variable that names a child's family.
pub const VAR: &str = "DUALRUN_EXEC_FAMILY";

static NEXT: AtomicU64 = AtomicU64::new(0);
static SUBREAPER: std::sync::Once = std::sync::Once::new();

/// A fresh family name, unique on this machine while dualrun runs. Makes this process the subreaper of
/// its descendants (once).
pub(crate) fn new_family() -> String {
    SUBREAPER.call_once(|| {
        // SAFETY: prctl with an integer argument; failure only means orphans go to init, as before.
        let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
        if !ok {
            tracing::debug!(error = %std::io::Error::last_os_error(), "PR_SET_CHILD_SUBREAPER failed");
        }
    });
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The processes whose environment names `family` (zombies have no environment and are not listed).
pub(crate) fn members(family: &str) -> Vec<i32> {
    let needle = format!("{VAR}={family}");
    let Ok(proc) = std::fs::read_dir("/proc") else { return Vec::new() };
    proc.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

/// Kills every process of `family` (a few rounds, for a process that forks while it is killed) and
/// reaps those that became dualrun's children, for at most a second.
pub(crate) fn end(family: &str) {
    let mut killed = BTreeSet::new();
    for _ in 0..10 {
        let pids = members(family);
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            // SAFETY: a signal to a process of the family this dualrun started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed.insert(pid);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while !killed.is_empty() && Instant::now() < deadline {
        killed.retain(|&pid| {
            // SAFETY: waitpid on one pid, without blocking.
            let reaped = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
            // Gone: reaped here, or not (any more) this process's child and no longer in /proc.
            !(reaped == pid || (reaped < 0 && !std::path::Path::new(&format!("/proc/{pid}")).exists()))
        });
        if !killed.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
