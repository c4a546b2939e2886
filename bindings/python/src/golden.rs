//! `dualrun.golden.check`: the golden vectors judged by the same runner as `dualrun golden check` and
//! the gate, so a Python caller counts passes, failures and skips exactly as CI does.

use std::path::PathBuf;

use dualrun_golden::runner::{self, Status};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// One vector's result.
#[pyclass(module = "dualrun._native", frozen, get_all)]
#[derive(Debug, Clone)]
pub(crate) struct GoldenResult {
    /// The file, relative to the directory checked.
    rel: String,
    /// The vector's name.
    name: String,
    /// `leader-v1`, `mode-v1`, or `unreadable`.
    kind: &'static str,
    /// `pass`, `fail` or `skipped`.
    status: &'static str,
    /// Why it failed, or the written reason it was skipped (`""` for a pass).
    message: String,
}

#[pymethods]
impl GoldenResult {
    fn __repr__(&self) -> String {
        format!("GoldenResult({:?}, {})", self.rel, self.status)
    }
}

/// Every vector of a directory, judged.
#[pyclass(module = "dualrun._native", frozen, get_all)]
#[derive(Debug, Clone)]
pub(crate) struct GoldenReport {
    /// Vectors that passed.
    passed: u64,
    /// Vectors that failed (unreadable ones and skips without a reason included).
    failed: u64,
    /// Vectors skipped with a written reason.
    skipped: u64,
    /// No vector failed.
    ok: bool,
    /// Keccak-256 over the vectors' paths and contents: names exactly the set judged.
    digest: String,
    /// One result per vector file, in path order.
    results: Vec<GoldenResult>,
}

#[pymethods]
impl GoldenReport {
    fn __repr__(&self) -> String {
        format!("GoldenReport(passed={}, failed={}, skipped={})", self.passed, self.failed, self.skipped)
    }
}

/// Judges every vector under `dir` (see `dualrun.golden.check`).
#[pyfunction]
#[pyo3(name = "_golden_check")]
pub(crate) fn golden_check(py: Python<'_>, dir: PathBuf) -> PyResult<GoldenReport> {
    let report = py.detach(|| runner::run_dir(&dir, None)).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let results = report
        .results
        .iter()
        .map(|r| {
            let (status, message) = match &r.status {
                Status::Pass => ("pass", String::new()),
                Status::Fail(m) => ("fail", m.clone()),
                Status::Skipped(m) => ("skipped", m.clone()),
            };
            GoldenResult { rel: r.rel.clone(), name: r.name.clone(), kind: r.kind, status, message }
        })
        .collect();
    Ok(GoldenReport {
        passed: report.passed(),
        failed: report.failed(),
        skipped: report.skipped(),
        ok: report.failed() == 0,
        digest: report.digest.to_string(),
        results,
    })
}
