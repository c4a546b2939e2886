//! Reading a finished run directory from Python: `timings(run)` streams its `timings.csv`, after the run
//! directory is checked as every reader checks one (closed set, digests, counts).

use std::path::PathBuf;

use dualrun_rundir::{files, RunDir, Timings};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

/// One block's line: `(height, legacy_us, candidate_us, verdict)` (`None`: the verifier was not run).
type Row = (u64, Option<u64>, Option<u64>, &'static str);

/// `timings.csv` of a run directory, line by line.
#[pyclass(module = "dualrun._native")]
pub(crate) struct TimingIterator {
    lines: Timings,
}

/// The per-block timings of the finished run in `run`; an unusable run (edited, incomplete, of an
/// unknown format) is an `OSError` naming the problem, a run of format version 1 (no `timings.csv`) a
/// `ValueError`.
#[pyfunction]
pub(crate) fn timings(run: PathBuf) -> PyResult<TimingIterator> {
    let dir = RunDir::open(&run).map_err(|e| PyOSError::new_err(e.to_string()))?;
    match Timings::open(&dir.path).map_err(|e| PyOSError::new_err(e.to_string()))? {
        Some(lines) => Ok(TimingIterator { lines }),
        None => Err(PyValueError::new_err(format!(
            "{}: no {} (run directory format version {})",
            dir.path.display(),
            files::TIMINGS,
            dir.manifest.format_version
        ))),
    }
}

#[pymethods]
impl TimingIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self) -> PyResult<Option<Row>> {
        match self.lines.next() {
            None => Ok(None),
            Some(Err(e)) => Err(PyOSError::new_err(e.to_string())),
            Some(Ok(t)) => Ok(Some((t.height, t.legacy_us, t.candidate_us, t.verdict.as_str()))),
        }
    }
}
