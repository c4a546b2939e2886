//! What a Python verifier's answer means, and the env it is handed: the one reading of the Python
//! verifier protocol, shared by the embedded `python:` adapter and the `dualrun` Python package's
//! `DualRun` (which calls a node's own callables). It uses only the stable ABI, so it builds into both.

use dualrun_core::{ErrorKind, Facts, ReplayEnv, Verdict, VerifierError, VerifierOutcome};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict};

/// An exception as Python prints it: the traceback, then the exception (its `str` if that fails).
pub fn format_exception(py: Python<'_>, e: &PyErr) -> String {
    let formatted = (|| -> PyResult<String> {
        let tb = py.import("traceback")?;
        let lines = tb.call_method1("format_exception", (e.get_type(py), e.value(py), e.traceback(py)))?;
        Ok(lines.extract::<Vec<String>>()?.concat())
    })();
    formatted.unwrap_or_else(|_| e.to_string())
}

/// The env as the dict a Python verifier gets (ids as hex, `prev_id` `None` at height 0).
pub fn env_dict<'py>(py: Python<'py>, e: &ReplayEnv) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("now", e.now)?;
    d.set_item("network_name", &e.network_name)?;
    d.set_item("network_id", &e.network_id)?;
    d.set_item("genesis_id", e.genesis_id.to_string())?;
    d.set_item("activation_height", e.activation_height)?;
    d.set_item("prev_id", e.prev_id.map(|h| h.to_string()))?;
    d.set_item("timestamps", e.timestamps.clone())?;
    Ok(d)
}

fn protocol(msg: String) -> VerifierOutcome {
    VerifierOutcome::Error(VerifierError::new(ErrorKind::Protocol, msg))
}

/// What a Python verifier's answer means: `True`/`False`, or a dict with `verdict` (`accept` or
/// `reject`), `reason`, `detail` and `facts` (strings to strings); anything else is a `protocol` error.
pub fn interpret(answer: &Bound<'_, PyAny>) -> VerifierOutcome {
    if let Ok(b) = answer.cast::<PyBool>() {
        let verdict = if b.is_true() {
            Verdict::Accept
        } else {
            Verdict::Reject { reason: "rejected".into(), detail: String::new() }
        };
        return VerifierOutcome::Verdict { verdict, facts: Facts::new() };
    }
    let Ok(d) = answer.cast::<PyDict>() else {
        let ty = answer.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        return protocol(format!("returned a {ty}; expected True/False or a dict with \"verdict\""));
    };
    let get_str = |key: &str| -> Result<Option<String>, String> {
        match d.get_item(key) {
            Ok(Some(v)) if v.is_none() => Ok(None),
            Ok(Some(v)) => v.extract::<String>().map(Some).map_err(|_| format!("\"{key}\" is not a string")),
            _ => Ok(None),
        }
    };
    let verdict = match get_str("verdict") {
        Ok(Some(v)) => v,
        Ok(None) => return protocol("the answer has no \"verdict\"".into()),
        Err(e) => return protocol(e),
    };
    let (reason, detail) = match (get_str("reason"), get_str("detail")) {
        (Ok(r), Ok(d)) => (r.unwrap_or_default(), d.unwrap_or_default()),
        (Err(e), _) | (_, Err(e)) => return protocol(e),
    };
    let verdict = match verdict.as_str() {
        "accept" => Verdict::Accept,
        "reject" => Verdict::Reject { reason, detail },
        other => return protocol(format!("\"verdict\" is {other:?}; expected \"accept\" or \"reject\"")),
    };
    let mut facts = Facts::new();
    if let Ok(Some(f)) = d.get_item("facts") {
        if !f.is_none() {
            let Ok(fd) = f.cast::<PyDict>() else { return protocol("\"facts\" is not a dict".into()) };
            for (k, v) in fd.iter() {
                match (k.extract::<String>(), v.extract::<String>()) {
                    (Ok(k), Ok(v)) => {
                        facts.insert(k, v);
                    }
                    _ => return protocol("\"facts\" must map strings to strings".into()),
                }
            }
        }
    }
    VerifierOutcome::Verdict { verdict, facts }
}
