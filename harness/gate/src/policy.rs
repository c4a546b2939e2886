//! Policies (TOML). Every key is optional; the defaults are:
//!
//! | transition | min_blocks | max_divergences | max_error_rate | require_golden | max_latency_ratio_p99 | require_isolation | require_fleet |
//! |---|---|---|---|---|---|---|---|
//! | `[to_shadow]` | 0 | — | — | true | — | false | false |
//! | `[to_primary]` | 1000 | 0 | 0.0 | true | — | true | false |
//! | `[to_only]` | 10000 | 0 | 0.001 | true | 1.0 | false | false |
//!
//! `min_blocks` counts blocks compared by both verifiers in the evidence; `max_divergences` counts split
//! + halt + fact + reason after the allowlist; `max_error_rate` is (candidate errors + fallbacks) /
//!   blocks compared; `max_latency_ratio_p99` is the candidate's p99 over the legacy's (`"none"`: not
//!   checked), over runs with at least [`crate::evaluate::MIN_LATENCY_CALLS`] calls of each verifier;
//!   `require_isolation` asks for isolation evidence (`dualrun net isolation`) that proves the network's
//!   nodes refuse Monero's networks before the new consensus leads (see [`crate::isolation`]);
//!   `require_fleet` asks for a fleet run (`dualrun fleet`) in which every node was reachable and none
//!   split ([`crate::fleet`]). A top-level
//!   `profile_digest` pins the profile the evidence must have been made with. A `split` is never excused,
//!   and PRIMARY → ONLY also requires no active allowlist entry. A `[quorum]` table (`approvals = M`,
//!   `operators = ["<public key hex>", …]`) makes every promotion need M operators' signed approvals
//!   ([`crate::quorum`]).

use std::path::{Path, PathBuf};

use dualrun_core::Mode;
use serde::{Deserialize, Serialize};

use crate::quorum::Quorum;

/// What the evidence must show for one transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The fewest blocks compared by both verifiers.
    pub min_blocks: u64,
    /// The most divergences (split, halt, fact and reason) left after the allowlist, if checked.
    pub max_divergences: Option<u64>,
    /// The highest (candidate errors + fallbacks) / blocks compared, if checked.
    pub max_error_rate: Option<f64>,
    /// Whether every golden vector must pass.
    pub require_golden: bool,
    /// The highest candidate p99 latency over the legacy's, if checked.
    pub max_latency_ratio_p99: Option<f64>,
    /// Whether isolation evidence must prove the network apart from Monero's.
    pub require_isolation: bool,
    /// Whether a fleet run must show every node reachable and no split.
    pub require_fleet: bool,
    /// The highest share of the blocks judged twice (`--noise`) the legacy may answer differently, if
    /// limited (candidate noise always fails).
    pub max_legacy_noise_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirements {
    min_blocks: Option<u64>,
    max_divergences: Option<u64>,
    max_error_rate: Option<f64>,
    require_golden: Option<bool>,
    max_latency_ratio_p99: Option<RawBound>,
    require_isolation: Option<bool>,
    require_fleet: Option<bool>,
    max_legacy_noise_rate: Option<f64>,
}

/// A threshold as written: a number, or `"none"` (not checked, even where the default checks it).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawBound {
    Number(f64),
    Word(String),
}

impl RawBound {
    /// The threshold the policy sets, over `default`: `Some(n)`, `None` for `"none"`.
    fn or(bound: Option<RawBound>, default: Option<f64>) -> Option<f64> {
        match bound {
            None => default,
            Some(RawBound::Number(n)) => Some(n),
            Some(RawBound::Word(_)) => None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    profile_digest: Option<String>,
    #[serde(default)]
    to_shadow: RawRequirements,
    #[serde(default)]
    to_primary: RawRequirements,
    #[serde(default)]
    to_only: RawRequirements,
    quorum: Option<Quorum>,
}

/// A policy: the requirements for each forward transition, with the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The profile digest the evidence must have been made with, if pinned.
    pub profile_digest: Option<String>,
    /// The requirements for LEGACY → SHADOW.
    pub to_shadow: Requirements,
    /// The requirements for SHADOW → PRIMARY.
    pub to_primary: Requirements,
    /// The requirements for PRIMARY → ONLY.
    pub to_only: Requirements,
    /// The operators' approvals every promotion needs, if any (see [`crate::quorum`]).
    pub quorum: Option<Quorum>,
    /// Keccak-256 of the file's bytes (of the empty string for the built-in defaults).
    pub digest: String,
    /// The file the policy was loaded from (`None` for the built-in defaults).
    pub path: Option<PathBuf>,
}

/// A policy file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file that could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The file is not valid TOML or has an unknown or mistyped key.
    #[error("{file}: not a policy: {message}")]
    Parse {
        /// The policy file.
        file: PathBuf,
        /// What the TOML parser said.
        message: String,
    },
}

fn merge(raw: RawRequirements, d: Requirements) -> Requirements {
    Requirements {
        min_blocks: raw.min_blocks.unwrap_or(d.min_blocks),
        max_divergences: raw.max_divergences.or(d.max_divergences),
        max_error_rate: raw.max_error_rate.or(d.max_error_rate),
        require_golden: raw.require_golden.unwrap_or(d.require_golden),
        max_latency_ratio_p99: RawBound::or(raw.max_latency_ratio_p99, d.max_latency_ratio_p99),
        require_isolation: raw.require_isolation.unwrap_or(d.require_isolation),
        require_fleet: raw.require_fleet.unwrap_or(d.require_fleet),
        max_legacy_noise_rate: raw.max_legacy_noise_rate.or(d.max_legacy_noise_rate),
    }
}

impl Policy {
    fn defaults() -> (Requirements, Requirements, Requirements) {
        (
            Requirements {
                min_blocks: 0,
                max_divergences: None,
                max_error_rate: None,
                require_golden: true,
                max_latency_ratio_p99: None,
                require_isolation: false,
                require_fleet: false,
                max_legacy_noise_rate: None,
            },
            Requirements {
                min_blocks: 1000,
                max_divergences: Some(0),
                max_error_rate: Some(0.0),
                require_golden: true,
                max_latency_ratio_p99: None,
                require_isolation: true,
                require_fleet: false,
                max_legacy_noise_rate: Some(0.001),
            },
            Requirements {
                min_blocks: 10_000,
                max_divergences: Some(0),
                max_error_rate: Some(0.001),
                require_golden: true,
                max_latency_ratio_p99: Some(1.0),
                require_isolation: false,
                require_fleet: false,
                max_legacy_noise_rate: Some(0.001),
            },
        )
    }

    fn from_raw(raw: RawPolicy, digest: String, path: Option<PathBuf>) -> Policy {
        let (s, p, o) = Policy::defaults();
        Policy {
            profile_digest: raw.profile_digest,
            to_shadow: merge(raw.to_shadow, s),
            to_primary: merge(raw.to_primary, p),
            to_only: merge(raw.to_only, o),
            quorum: raw.quorum,
            digest,
            path,
        }
    }

    /// The built-in defaults.
    pub fn builtin() -> Policy {
        Policy::from_raw(RawPolicy::default(), dualrun_format::keccak256(b"").to_string(), None)
    }

    /// Reads a policy file, filling in the defaults for every key it leaves out.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let bytes = std::fs::read(path).map_err(dualrun_format::FileError::at(path))?;
        let text = String::from_utf8_lossy(&bytes);
        let raw: RawPolicy = toml::from_str(&text)
            .map_err(|e| PolicyError::Parse { file: path.into(), message: e.to_string().trim_end().into() })?;
        // A NaN threshold makes every comparison false, an infinite one waves everything through: both
        // are refused, naming the key. No bound is said in words (`"none"`), where a policy may say it.
        let parse_error = |message: String| PolicyError::Parse { file: path.into(), message };
        for (table, r) in [("to_shadow", &raw.to_shadow), ("to_primary", &raw.to_primary), ("to_only", &raw.to_only)] {
            let latency = match &r.max_latency_ratio_p99 {
                Some(RawBound::Number(n)) => Some(*n),
                Some(RawBound::Word(w)) if w == "none" => None,
                Some(RawBound::Word(w)) => {
                    return Err(parse_error(format!(
                        "{table}.max_latency_ratio_p99 = {w:?}: a number, or \"none\" for no bound"
                    )))
                }
                None => None,
            };
            for (key, value) in [("max_error_rate", r.max_error_rate), ("max_latency_ratio_p99", latency)] {
                if value.is_some_and(|v| !v.is_finite()) {
                    let value = value.unwrap_or_default();
                    return Err(parse_error(format!("{table}.{key} = {value}: thresholds must be finite numbers")));
                }
            }
        }
        if let Some(problem) = raw.quorum.as_ref().and_then(Quorum::problem) {
            return Err(PolicyError::Parse { file: path.into(), message: problem });
        }
        Ok(Policy::from_raw(raw, dualrun_format::keccak256(&bytes).to_string(), Some(path.into())))
    }

    /// The requirements for moving forward into `to`.
    pub fn for_target(&self, to: Mode) -> Option<&Requirements> {
        match to {
            Mode::Shadow => Some(&self.to_shadow),
            Mode::Primary => Some(&self.to_primary),
            Mode::Only => Some(&self.to_only),
            Mode::Legacy => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Policy, PolicyError> {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("policy.toml");
        std::fs::write(&path, text).unwrap();
        Policy::load(&path)
    }

    /// The latency bound is a number or `"none"`; any other word, and a non-finite number, is refused
    /// naming the key.
    #[test]
    fn a_latency_bound_is_a_finite_number_or_none() {
        assert_eq!(Policy::builtin().to_only.max_latency_ratio_p99, Some(1.0));
        assert_eq!(load("[to_only]\nmax_latency_ratio_p99 = 2\n").unwrap().to_only.max_latency_ratio_p99, Some(2.0));
        assert_eq!(load("[to_only]\nmax_latency_ratio_p99 = 1.5\n").unwrap().to_only.max_latency_ratio_p99, Some(1.5));
        let none = load("[to_only]\nmax_latency_ratio_p99 = \"none\"\n").unwrap();
        assert_eq!(none.to_only.max_latency_ratio_p99, None);
        assert_eq!(none.to_only.min_blocks, 10_000, "the other defaults stay");
        for (text, says) in [
            (
                "[to_only]\nmax_latency_ratio_p99 = \"off\"\n",
                "to_only.max_latency_ratio_p99 = \"off\": a number, or \"none\"",
            ),
            (
                "[to_primary]\nmax_latency_ratio_p99 = inf\n",
                "to_primary.max_latency_ratio_p99 = inf: thresholds must be finite",
            ),
            (
                "[to_only]\nmax_latency_ratio_p99 = nan\n",
                "to_only.max_latency_ratio_p99 = NaN: thresholds must be finite",
            ),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
