//! What a Python verifier's answer means, and the env it is handed: the one reading of the Python
//! verifier protocol, shared by the embedded `python:` adapter and the `dualrun` Python package's
//! `DualRun` (which calls a node's own callables). It uses only the stable ABI, so it builds into both.

use dualrun_core::{ErrorKind, Facts, ReplayEnv, Verdict, VerifierError, VerifierOutcome};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

/// An exception as Python prints it: the traceback, then the exception (its `str` if that fails).
pub fn format_exception(py: Python<'_>, e: &PyErr) -> String {
    let formatted = (|| -> PyResult<String> {
        let tb = py.import("traceback")?;
        let lines = tb.call_method1("format_exception", (e.get_type(py), e.value(py), e.traceback(py)))?;
        Ok(lines.extract::<Vec<String>>()?.concat())
    })();
    formatted.unwrap_or_else(|_| e.to_string())
}

/// Builds the env dicts of consecutive blocks (each a new dict: a verifier may keep or change it),
/// reusing the Python objects the last one had where the values are the same: the network's strings,
/// and the ints of the timestamp window, which moves on by one block at a time.
#[derive(Default)]
pub struct EnvDicts {
    network: Option<Network>,
    timestamps: Vec<u64>,
    timestamp_objects: Vec<Py<PyAny>>,
}

/// The network fields of the last env, as Python strings.
struct Network {
    name: String,
    id: String,
    genesis_id: [u8; 32],
    objects: [Py<PyString>; 3],
}

impl EnvDicts {
    /// The env as the dict a Python verifier gets (ids as hex, `prev_id` `None` at height 0).
    pub fn dict<'py>(&mut self, py: Python<'py>, e: &ReplayEnv) -> PyResult<Bound<'py, PyDict>> {
        let same_network = self
            .network
            .as_ref()
            .is_some_and(|n| n.name == e.network_name && n.id == e.network_id && n.genesis_id == e.genesis_id.0);
        if !same_network {
            let genesis = e.genesis_id.to_string();
            self.network = Some(Network {
                name: e.network_name.clone(),
                id: e.network_id.clone(),
                genesis_id: e.genesis_id.0,
                objects: [&e.network_name, &e.network_id, &genesis].map(|v| PyString::new(py, v).unbind()),
            });
        }
        let [name, id, genesis] = &self.network.as_ref().expect("set above").objects;
        let d = PyDict::new(py);
        d.set_item(intern!(py, "now"), e.now)?;
        d.set_item(intern!(py, "network_name"), name.bind(py))?;
        d.set_item(intern!(py, "network_id"), id.bind(py))?;
        d.set_item(intern!(py, "genesis_id"), genesis.bind(py))?;
        d.set_item(intern!(py, "activation_height"), e.activation_height)?;
        d.set_item(intern!(py, "prev_id"), e.prev_id.map(|h| h.to_string()))?;
        d.set_item(intern!(py, "timestamps"), self.timestamps(py, &e.timestamps)?)?;
        Ok(d)
    }

    /// A new list of the window's ints; those the last window had are reused (it moved by 0–2 blocks).
    fn timestamps<'py>(&mut self, py: Python<'py>, window: &[u64]) -> PyResult<Bound<'py, PyList>> {
        let kept = (0..=self.timestamps.len().min(2))
            .find(|&k| window.starts_with(&self.timestamps[k..]))
            .unwrap_or(self.timestamps.len());
        let reused = self.timestamps.len() - kept;
        self.timestamp_objects.drain(..kept);
        self.timestamp_objects.truncate(reused);
        for &t in &window[reused..] {
            self.timestamp_objects.push(t.into_pyobject(py)?.into_any().unbind());
        }
        self.timestamps.clear();
        self.timestamps.extend_from_slice(window);
        PyList::new(py, self.timestamp_objects.iter().map(|o| o.bind(py)))
    }
}

/// Why a Python verifier's answer is not one the protocol allows: a `protocol` error with this message.
#[derive(Debug, thiserror::Error)]
enum AnswerError {
    /// Neither `True`/`False` nor a dict: the answer's type name.
    #[error("returned a {0}; expected True/False or a dict with \"verdict\"")]
    NotBoolOrDict(String),
    /// A dict without `verdict`, or with `verdict` None.
    #[error("the answer has no \"verdict\"")]
    NoVerdict,
    /// `verdict`, `reason` or `detail` is neither a string nor None.
    #[error("\"{key}\" is not a string")]
    NotAString {
        /// The key.
        key: String,
        /// Why its value is not a string.
        #[source]
        source: PyErr,
    },
    /// `verdict` is a string other than `accept` and `reject`.
    #[error("\"verdict\" is {0:?}; expected \"accept\" or \"reject\"")]
    UnknownVerdict(String),
    /// `facts` is neither a dict nor None.
    #[error("\"facts\" is not a dict")]
    FactsNotADict,
    /// `facts` has a key or a value that is not a string.
    #[error("\"facts\" must map strings to strings")]
    FactsNotStrings(#[source] PyErr),
}

/// What a Python verifier's answer means: `True`/`False`, or a dict with `verdict` (`accept` or
/// `reject`), `reason`, `detail` and `facts` (strings to strings); anything else is a `protocol` error.
pub fn interpret(answer: &Bound<'_, PyAny>) -> VerifierOutcome {
    match read_answer(answer) {
        Ok((verdict, facts)) => VerifierOutcome::Verdict { verdict, facts },
        Err(e) => VerifierOutcome::Error(VerifierError::new(ErrorKind::Protocol, e.to_string())),
    }
}

/// The verdict and facts of an answer (see [`interpret`]), or why it has none.
fn read_answer(answer: &Bound<'_, PyAny>) -> Result<(Verdict, Facts), AnswerError> {
    if let Ok(b) = answer.cast::<PyBool>() {
        let verdict = if b.is_true() {
            Verdict::Accept
        } else {
            Verdict::Reject { reason: "rejected".into(), detail: String::new() }
        };
        return Ok((verdict, Facts::new()));
    }
    let Ok(d) = answer.cast::<PyDict>() else {
        let ty = answer.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
        return Err(AnswerError::NotBoolOrDict(ty));
    };
    let py = answer.py();
    let get_str = |key: &Bound<'_, PyString>| -> Result<Option<String>, AnswerError> {
        match d.get_item(key) {
            Ok(Some(v)) if v.is_none() => Ok(None),
            Ok(Some(v)) => v
                .extract::<String>()
                .map(Some)
                .map_err(|source| AnswerError::NotAString { key: key.to_string(), source }),
            _ => Ok(None),
        }
    };
    let verdict = get_str(intern!(py, "verdict"))?.ok_or(AnswerError::NoVerdict)?;
    let (reason, detail) = match (get_str(intern!(py, "reason")), get_str(intern!(py, "detail"))) {
        (Ok(r), Ok(d)) => (r.unwrap_or_default(), d.unwrap_or_default()),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let verdict = match verdict.as_str() {
        "accept" => Verdict::Accept,
        "reject" => Verdict::Reject { reason, detail },
        _ => return Err(AnswerError::UnknownVerdict(verdict)),
    };
    let mut facts = Facts::new();
    if let Ok(Some(f)) = d.get_item(intern!(py, "facts")) {
        if !f.is_none() {
            let Ok(fd) = f.cast::<PyDict>() else { return Err(AnswerError::FactsNotADict) };
            for (k, v) in fd.iter() {
                match (k.extract::<String>(), v.extract::<String>()) {
                    (Ok(k), Ok(v)) => {
                        facts.insert(k, v);
                    }
                    (Err(e), _) | (_, Err(e)) => return Err(AnswerError::FactsNotStrings(e)),
                }
            }
        }
    }
    Ok((verdict, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `protocol` message `interpret` gives `answer` (Python source), or `None` for a verdict.
    fn message(answer: &str) -> Option<String> {
        Python::initialize();
        Python::attach(|py| {
            let code = std::ffi::CString::new(answer).expect("no NUL");
            let answer = py.eval(&code, None, None).expect("the answer evaluates");
            match interpret(&answer) {
                VerifierOutcome::Error(e) => {
                    assert_eq!(e.kind, ErrorKind::Protocol);
                    Some(e.message)
                }
                VerifierOutcome::Verdict { .. } => None,
            }
        })
    }

    #[test]
    fn answer_messages() {
        assert_eq!(message("1").as_deref(), Some("returned a int; expected True/False or a dict with \"verdict\""));
        assert_eq!(message("{}").as_deref(), Some("the answer has no \"verdict\""));
        assert_eq!(message("{'verdict': None}").as_deref(), Some("the answer has no \"verdict\""));
        assert_eq!(message("{'verdict': 1}").as_deref(), Some("\"verdict\" is not a string"));
        assert_eq!(
            message("{'verdict': 'reject', 'reason': 1, 'detail': 2}").as_deref(),
            Some("\"reason\" is not a string")
        );
        assert_eq!(message("{'verdict': 'reject', 'detail': b''}").as_deref(), Some("\"detail\" is not a string"));
        assert_eq!(
            message("{'verdict': 'maybe'}").as_deref(),
            Some("\"verdict\" is \"maybe\"; expected \"accept\" or \"reject\"")
        );
        assert_eq!(message("{'verdict': 'accept', 'facts': []}").as_deref(), Some("\"facts\" is not a dict"));
        assert_eq!(
            message("{'verdict': 'accept', 'facts': {'a': 1}}").as_deref(),
            Some("\"facts\" must map strings to strings")
        );
        assert_eq!(message("{'verdict': 'accept', 'facts': None}"), None);
        assert_eq!(message("False"), None);
    }
}
