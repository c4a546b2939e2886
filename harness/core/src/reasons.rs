//! Mapping legacy reasons to reason codes, so that "both reject for the same reason in other words" is
//! agreement and only a real difference is a `reason` divergence.
//!
//! A map is TOML: `[reasons]` with one `"legacy reason" = "code"` per line. Reasons not in the map are
//! compared as they are (the reference legacy already answers with codes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A legacy-reason → code map; a reason not in it stands for itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonMap {
    map: BTreeMap<String, String>,
}

/// A reason map that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ReasonMapError {
    /// A file that could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The file is not a valid reason map.
    #[error("{file}: not a reason map: {message}")]
    Parse {
        /// The reason-map file.
        file: PathBuf,
        /// The TOML parser's message.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    reasons: BTreeMap<String, String>,
}

impl ReasonMap {
    /// Loads a map from the TOML file at `path`.
    pub fn load(path: &Path) -> Result<ReasonMap, ReasonMapError> {
        let text = std::fs::read_to_string(path).map_err(dualrun_format::FileError::at(path))?;
        let raw: Raw = toml::from_str(&text)
            .map_err(|e| ReasonMapError::Parse { file: path.into(), message: e.to_string().trim_end().to_owned() })?;
        Ok(ReasonMap { map: raw.reasons })
    }

    /// Builds a map from `(legacy reason, code)` pairs.
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        ReasonMap { map: pairs.into_iter().collect() }
    }

    /// The code a legacy reason stands for.
    pub fn code<'a>(&'a self, legacy_reason: &'a str) -> &'a str {
        self.map.get(legacy_reason).map_or(legacy_reason, String::as_str)
    }

    /// Its `(legacy reason, code)` pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
