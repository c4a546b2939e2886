//! `Verdict`: accept, or reject with a reason code and detail, and the facts a verifier reported — the
//! harness's verdict as a Python value, and back.

use std::collections::BTreeMap;

use dualrun_core::{Facts, Verdict as CoreVerdict, VerifierOutcome};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A verifier's verdict on a block.
#[pyclass(module = "dualrun._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) verdict: CoreVerdict,
    pub(crate) facts: Facts,
}

impl Verdict {
    /// The verdict of an outcome that is one (`None` for an error).
    pub(crate) fn of_outcome(o: &VerifierOutcome) -> Option<Verdict> {
        match o {
            VerifierOutcome::Verdict { verdict, facts } => {
                Some(Verdict { verdict: verdict.clone(), facts: facts.clone() })
            }
            VerifierOutcome::Error(_) => None,
        }
    }

    pub(crate) fn outcome(&self) -> VerifierOutcome {
        VerifierOutcome::Verdict { verdict: self.verdict.clone(), facts: self.facts.clone() }
    }
}

#[pymethods]
impl Verdict {
    /// `Verdict("accept")`, or `Verdict("reject", reason, detail)`; `facts` maps names to strings.
    #[new]
    #[pyo3(signature = (verdict, reason = String::new(), detail = String::new(), facts = None))]
    fn new(verdict: &str, reason: String, detail: String, facts: Option<BTreeMap<String, String>>) -> PyResult<Self> {
        let verdict = match verdict {
            "accept" if reason.is_empty() => CoreVerdict::Accept,
            "accept" => return Err(PyValueError::new_err("an accept has no reason")),
            "reject" => CoreVerdict::Reject { reason, detail },
            other => {
                return Err(PyValueError::new_err(format!("verdict is {other:?}; expected \"accept\" or \"reject\"")))
            }
        };
        Ok(Verdict { verdict, facts: facts.unwrap_or_default() })
    }

    /// An accept.
    #[staticmethod]
    #[pyo3(signature = (facts = None))]
    fn accept(facts: Option<BTreeMap<String, String>>) -> Self {
        Verdict { verdict: CoreVerdict::Accept, facts: facts.unwrap_or_default() }
    }

    /// A rejection.
    #[staticmethod]
    #[pyo3(signature = (reason, detail = String::new(), facts = None))]
    fn reject(reason: String, detail: String, facts: Option<BTreeMap<String, String>>) -> Self {
        Verdict { verdict: CoreVerdict::Reject { reason, detail }, facts: facts.unwrap_or_default() }
    }

    /// `accept` or `reject`.
    #[getter]
    fn verdict(&self) -> &'static str {
        self.verdict.name()
    }

    /// The reason code of a rejection (`""` for an accept).
    #[getter]
    fn reason(&self) -> &str {
        self.verdict.reason()
    }

    /// What exactly was wrong (`""` for an accept).
    #[getter]
    fn detail(&self) -> &str {
        match &self.verdict {
            CoreVerdict::Accept => "",
            CoreVerdict::Reject { detail, .. } => detail,
        }
    }

    /// The facts reported (`block_id`, `signing_hash`, `leader_id`, …), a new dict each time.
    #[getter]
    fn facts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.facts {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Whether it accepts.
    #[getter]
    fn accepted(&self) -> bool {
        self.verdict.is_accept()
    }

    /// `{"verdict", "reason", "detail", "facts"}`: the answer form a Python verifier may also return.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("verdict", self.verdict())?;
        d.set_item("reason", self.reason())?;
        d.set_item("detail", self.detail())?;
        d.set_item("facts", self.facts(py)?)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        match &self.verdict {
            CoreVerdict::Accept => format!("Verdict('accept', facts={:?})", self.facts),
            CoreVerdict::Reject { reason, detail } => {
                format!("Verdict('reject', reason={reason:?}, detail={detail:?}, facts={:?})", self.facts)
            }
        }
    }
}
