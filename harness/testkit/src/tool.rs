//! The system programs some tests need, each with the Debian package that provides it: a test that
//! needs one calls [`require`], which fails naming what is missing and how to install it (`ci/test.sh`
//! installs them all), never skipping quietly.

use std::path::PathBuf;

/// A program a system test runs, and where it comes from.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// Its path.
    pub path: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
}

/// Debian's monerod 0.18.
pub const MONEROD: Tool = Tool { path: "/usr/bin/monerod", package: "monero" };
/// Debian's Chromium, run headless.
pub const CHROMIUM: Tool = Tool { path: "/usr/bin/chromium", package: "chromium" };
/// Prometheus's rule checker.
pub const PROMTOOL: Tool = Tool { path: "/usr/bin/promtool", package: "prometheus" };
/// Slurm's batch submitter (a local cluster is started by `deploy/slurm/local-cluster.sh`).
pub const SBATCH: Tool = Tool { path: "/usr/bin/sbatch", package: "slurm-wlm munge" };
/// Debian's CPython 3.11 (the one dualrun embeds).
pub const PYTHON311: Tool = Tool { path: "/usr/bin/python3.11", package: "python3.11" };
/// LMDB's copier.
pub const MDB_COPY: Tool = Tool { path: "/usr/bin/mdb_copy", package: "lmdb-utils" };

/// The tool's path; fails the test naming the tool and its package when it is not installed.
pub fn require(tool: Tool) -> PathBuf {
    let path = PathBuf::from(tool.path);
    assert!(
        path.exists(),
        "{} is missing: this test needs it (apt-get install -y {}; ci/test.sh installs every system tool the \
         tests use)",
        tool.path,
        tool.package
    );
    path
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_missing_tool_is_named_with_its_package() {
        let missing = super::Tool { path: "/nonexistent/dualrun-tool", package: "dualrun-pkg" };
        let panic = std::panic::catch_unwind(|| super::require(missing)).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("/nonexistent/dualrun-tool is missing"), "{message}");
        assert!(message.contains("apt-get install -y dualrun-pkg"), "{message}");
    }
}
