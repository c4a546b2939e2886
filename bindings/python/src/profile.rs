//! `Profile`: a network profile (network id, genesis, validators, schedule), checked as the harness
//! checks it; its digest is what run manifests record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dualrun_leader::Profile as NetworkProfile;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::create_exception!(
    _native,
    ProfileError,
    PyValueError,
    "A profile that cannot be used: the message names the file (or source) and the key."
);

/// A checked network profile.
#[pyclass(module = "dualrun._native", frozen)]
pub(crate) struct Profile {
    pub(crate) inner: Arc<NetworkProfile>,
}

#[pymethods]
impl Profile {
    /// Reads and checks the profile TOML at `path`.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Profile> {
        let inner = NetworkProfile::load(&path).map_err(|e| ProfileError::new_err(e.to_string()))?;
        Ok(Profile { inner: Arc::new(inner) })
    }

    /// Checks profile TOML text; `source` names it in messages and in run manifests.
    #[staticmethod]
    #[pyo3(signature = (text, source = "<string>"))]
    fn from_toml(text: &str, source: &str) -> PyResult<Profile> {
        let inner = NetworkProfile::parse(text.as_bytes(), Path::new(source))
            .map_err(|e| ProfileError::new_err(e.to_string()))?;
        Ok(Profile { inner: Arc::new(inner) })
    }

    /// The network's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// The network id, hex.
    #[getter]
    fn network_id(&self) -> String {
        hex::encode(self.inner.network_id)
    }

    /// The id of block 0.
    #[getter]
    fn genesis_id(&self) -> String {
        self.inner.genesis_id.to_string()
    }

    /// The first height whose blocks need a leader record.
    #[getter]
    fn activation_height(&self) -> u64 {
        self.inner.activation_height
    }

    /// `[(id, public key hex)]`, in profile order.
    #[getter]
    fn validators(&self) -> Vec<(String, String)> {
        self.inner.validators.iter().map(|v| (v.id.clone(), hex::encode(v.public_key.as_bytes()))).collect()
    }

    /// Keccak-256 of the profile's bytes, hex.
    #[getter]
    fn digest(&self) -> String {
        self.inner.digest.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Profile(name={:?}, digest={:?})", self.inner.name, self.inner.digest.to_string())
    }
}
