//! `manifest.json`: what a run was made from, by which tool, whether it finished, and the digests of
//! its record and summary files.
//!
//! The field order is the on-disk order. [`Inputs`] is what must be equal for a `--resume`; its
//! Keccak-256 (of its compact JSON) is the run's `inputs_digest`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dualrun_core::{Mode, VerifierIdentity};
use dualrun_format::{keccak256, Hash32};
use serde::{Deserialize, Serialize};

/// The format name every manifest carries.
pub const FORMAT: &str = "dualrun-run/v1";
/// The version of the run directory format this dualrun writes and reads. Readers refuse others.
pub const FORMAT_VERSION: u32 = 1;

fn format_version_of_older_runs() -> u32 {
    // Runs written before the field existed are version 1: the format has not changed since.
    1
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this dualrun.
    #[serde(default = "format_version_of_older_runs")]
    pub format_version: u32,
    /// The tool that made the run.
    pub tool: Tool,
    /// What the run was made from.
    pub inputs: Inputs,
    /// Keccak-256 of `inputs` (compact JSON).
    pub inputs_digest: Hash32,
    /// The chain's `data.mdb` as opened.
    pub data_file: PathBuf,
    /// When the first session started (unix seconds; not an input).
    pub started_unix: u64,
    /// The whole range was replayed and the files below are final.
    pub complete: bool,
    /// Keccak-256 of each finished file, by name (absent until the run has written its summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, Hash32>>,
}

/// The tool that made a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `dualrun`.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Tool {
    /// This dualrun.
    pub fn this() -> Tool {
        Tool { name: "dualrun".into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

/// Everything a run's records follow from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// The chain and the range of it.
    pub chain: ChainInputs,
    /// The network profile.
    pub profile: ProfileInputs,
    /// The mode the run applied.
    pub mode: Mode,
    /// The legacy verifier (none in ONLY mode).
    pub legacy: Option<VerifierIdentity>,
    /// The candidate (none in LEGACY mode).
    pub candidate: Option<VerifierIdentity>,
    /// The ambient inputs.
    pub env: EnvInputs,
    /// Everything else that changes records (timeouts, reason map).
    pub settings: serde_json::Value,
}

impl Inputs {
    /// Keccak-256 of the compact JSON: the run's `inputs_digest`.
    pub fn digest(&self) -> Hash32 {
        keccak256(&serde_json::to_vec(self).expect("inputs serialize"))
    }

    /// The inputs as a JSON value (for describing differences).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("inputs serialize")
    }
}

/// The chain a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInputs {
    /// The chain as the user named it.
    pub path: String,
    /// The database schema (5 Monero 0.18, 3 X-Cash).
    pub schema_version: u32,
    /// The id of block 0.
    pub genesis_id: Hash32,
    /// First height.
    pub from: u64,
    /// Last height (inclusive).
    pub to: u64,
    /// `to − from + 1`.
    pub blocks: u64,
    /// Keccak-256 over the computed ids of `from..=to`.
    pub chain_digest: Hash32,
}

/// The profile a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileInputs {
    /// Where it was read from.
    pub path: PathBuf,
    /// Keccak-256 of the file's bytes.
    pub digest: Hash32,
    /// The profile's network name.
    pub network: String,
}

/// The ambient inputs of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvInputs {
    /// `block` or `fixed:UNIX`.
    pub now: String,
}
