//! Mapping legacy reasons to reason codes, so that "both reject for the same reason in other words" is
//! agreement and only a real difference is a `reason` divergence.
//!
//! A map is TOML: `[reasons]` with one `"legacy reason" = "code"` per line. Reasons not in the map are
//! compared as they are (the reference legacy already answers with codes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonMap {
    map: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReasonMapError {
    #[error("{file}: {source}")]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{file}: not a reason map: {message}")]
    Parse { file: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    reasons: BTreeMap<String, String>,
}

impl ReasonMap {
    pub fn load(path: &Path) -> Result<ReasonMap, ReasonMapError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReasonMapError::Read { file: path.into(), source })?;
        let raw: Raw = toml::from_str(&text)
            .map_err(|e| ReasonMapError::Parse { file: path.into(), message: e.to_string().trim_end().to_owned() })?;
        Ok(ReasonMap { map: raw.reasons })
    }

    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        ReasonMap { map: pairs.into_iter().collect() }
    }

    /// The code a legacy reason stands for.
    pub fn code<'a>(&'a self, legacy_reason: &'a str) -> &'a str {
        self.map.get(legacy_reason).map_or(legacy_reason, String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
