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
    let py = answer.py();
    let get_str = |key: &Bound<'_, PyString>| -> Result<Option<String>, String> {
        match d.get_item(key) {
            Ok(Some(v)) if v.is_none() => Ok(None),
            Ok(Some(v)) => v.extract::<String>().map(Some).map_err(|_| format!("\"{key}\" is not a string")),
            _ => Ok(None),
        }
    };
    let verdict = match get_str(intern!(py, "verdict")) {
        Ok(Some(v)) => v,
        Ok(None) => return protocol("the answer has no \"verdict\"".into()),
        Err(e) => return protocol(e),
    };
    let (reason, detail) = match (get_str(intern!(py, "reason")), get_str(intern!(py, "detail"))) {
        (Ok(r), Ok(d)) => (r.unwrap_or_default(), d.unwrap_or_default()),
        (Err(e), _) | (_, Err(e)) => return protocol(e),
    };
    let verdict = match verdict.as_str() {
        "accept" => Verdict::Accept,
        "reject" => Verdict::Reject { reason, detail },
        other => return protocol(format!("\"verdict\" is {other:?}; expected \"accept\" or \"reject\"")),
    };
    let mut facts = Facts::new();
    if let Ok(Some(f)) = d.get_item(intern!(py, "facts")) {
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
