//! The `dualrun` Python package's native part (`dualrun._native`): thin pyo3 bindings over the dualrun
//! crates, so a Python node gets exactly the ids, verdicts, records and golden results the harness
//! gives. It owns only the translation between Python values and theirs:
//!
//! - [`block`] — `block_id`, `parse_block`, `BlockError`;
//! - [`profile`] — `Profile`, `ProfileError`;
//! - [`verdict`] — `Verdict`;
//! - [`validator`] — `LeaderValidator` (`judge`, and `judge_many` off the GIL on every core);
//! - [`chain`] — `ChainReader`, `ChainError`;
//! - [`dualrun`] — `DualRun`, the mode table in process, writing a run directory;
//! - [`golden`] — the golden-vector check;
//! - [`rundir`] — `timings`, a finished run's per-block timings.

use pyo3::prelude::*;

mod block;
mod chain;
mod dualrun;
mod golden;
mod profile;
mod rundir;
mod validator;
mod verdict;

/// Turns a serializable value into the Python object `json.loads` makes of it: one mapping from the
/// harness's JSON to Python, so a dict here is the JSON the CLI prints.
pub(crate) fn to_python<'py, T: serde::Serialize + ?Sized>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// The bytes of any bytes-like object: `bytes` as they are, anything else with the buffer protocol
/// (`bytearray`, `memoryview`, `array.array`…) copied through `memoryview`. Anything else — an `int`,
/// which `bytes()` would take for a length, or a `str` — is a `TypeError` naming its type.
pub(crate) fn bytes_like<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<std::borrow::Cow<'a, [u8]>> {
    use pyo3::types::PyBytes;
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(std::borrow::Cow::Borrowed(b.as_bytes()));
    }
    let builtins = obj.py().import("builtins")?;
    let view = builtins.getattr("memoryview")?.call1((obj,)).map_err(|_| {
        let name = obj.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string());
        pyo3::exceptions::PyTypeError::new_err(format!(
            "a bytes-like object (bytes, bytearray, memoryview) is required, not {name}"
        ))
    })?;
    let bytes = builtins.getattr("bytes")?.call1((view,))?;
    Ok(std::borrow::Cow::Owned(bytes.cast::<PyBytes>()?.as_bytes().to_vec()))
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BlockError", py.get_type::<block::BlockError>())?;
    m.add("ProfileError", py.get_type::<profile::ProfileError>())?;
    m.add("ChainError", py.get_type::<chain::ChainError>())?;
    m.add_function(wrap_pyfunction!(block::block_id, m)?)?;
    m.add_function(wrap_pyfunction!(block::parse_block, m)?)?;
    m.add_class::<profile::Profile>()?;
    m.add_class::<verdict::Verdict>()?;
    m.add_class::<validator::LeaderValidator>()?;
    m.add_class::<chain::ChainReader>()?;
    m.add_class::<chain::BlockIterator>()?;
    m.add_class::<dualrun::DualRun>()?;
    m.add_class::<golden::GoldenReport>()?;
    m.add_class::<golden::GoldenResult>()?;
    m.add_function(wrap_pyfunction!(golden::golden_check, m)?)?;
    m.add_class::<rundir::TimingIterator>()?;
    m.add_function(wrap_pyfunction!(rundir::timings, m)?)?;
    Ok(())
}
