//! What a fleet watch is given, as its manifest keeps it: the nodes (`NAME=URL`) and the thresholds of
//! its findings.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One node of the fleet: a name for the findings and its RPC URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetNode {
    /// Its name (letters, digits, `.`, `_`, `-`; at most 64).
    pub name: String,
    /// Its RPC base URL (`http://HOST:PORT`).
    pub url: String,
    /// Its ZMQ publisher (`monerod --zmq-pub`), whose new-block notices wake its poller early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zmq: Option<String>,
}

/// A `--daemon NAME=URL` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeSpecError {
    /// No `=`.
    #[error("--daemon {0:?}: expected NAME=URL, e.g. node-1=http://127.0.0.1:18081")]
    NoName(String),
    /// A name with other characters, empty, or too long.
    #[error("--daemon {0:?}: a name is 1 to 64 letters, digits, '.', '_' or '-'")]
    BadName(String),
    /// Not an http(s) URL.
    #[error("--daemon {0:?}: the URL must start with http:// or https://")]
    BadUrl(String),
}

impl FromStr for FleetNode {
    type Err = NodeSpecError;

    fn from_str(spec: &str) -> Result<FleetNode, NodeSpecError> {
        let (name, url) = spec.split_once('=').ok_or_else(|| NodeSpecError::NoName(spec.into()))?;
        let name_ok =
            (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !name_ok {
            return Err(NodeSpecError::BadName(spec.into()));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len() {
            return Err(NodeSpecError::BadUrl(spec.into()));
        }
        Ok(FleetNode { name: name.into(), url: url.trim_end_matches('/').into(), zmq: None })
    }
}

/// The thresholds of a watch (all recorded in the run's manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSettings {
    /// Milliseconds between two polls of a node.
    pub poll_ms: u64,
    /// A split is persistent when the differing heights are more than this many blocks below both
    /// nodes' tips (shallower forks are the network's normal races).
    pub split_depth: u64,
    /// A node more than this many blocks below the highest is behind…
    pub behind_blocks: u64,
    /// …once it has been so for this many seconds.
    pub behind_seconds: u64,
    /// A node that has not answered for this many seconds is unreachable.
    pub unreachable_seconds: u64,
    /// Heights kept per node below its tip (the deepest fork or reorganization seen whole).
    pub window: u64,
}

impl Default for FleetSettings {
    fn default() -> FleetSettings {
        FleetSettings {
            poll_ms: 1000,
            split_depth: 3,
            behind_blocks: 5,
            behind_seconds: 60,
            unreachable_seconds: 30,
            window: 200,
        }
    }
}

/// Settings that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl FleetSettings {
    /// Refuses settings that cannot work, naming the flag.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.poll_ms < 10 {
            return Err(SettingsError(format!("--poll-ms {}: at least 10", self.poll_ms)));
        }
        if self.window < 2 || self.window > 100_000 {
            return Err(SettingsError(format!("--window {}: between 2 and 100000 heights", self.window)));
        }
        if self.split_depth >= self.window {
            return Err(SettingsError(format!(
                "--split-depth {} must be below --window {}: a split is seen within the window",
                self.split_depth, self.window
            )));
        }
        Ok(())
    }

    /// The time a single RPC call may take: two poll intervals, at least 2 s.
    pub fn rpc_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis((2 * self.poll_ms).max(2000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_specs() {
        let n: FleetNode = "node-1=http://127.0.0.1:18081/".parse().unwrap();
        assert_eq!((n.name.as_str(), n.url.as_str()), ("node-1", "http://127.0.0.1:18081"));
        assert_eq!("http://x".parse::<FleetNode>(), Err(NodeSpecError::NoName("http://x".into())));
        assert!(matches!("a b=http://x".parse::<FleetNode>(), Err(NodeSpecError::BadName(_))));
        assert!(matches!("=http://x".parse::<FleetNode>(), Err(NodeSpecError::BadName(_))));
        assert!(matches!("a=ftp://x".parse::<FleetNode>(), Err(NodeSpecError::BadUrl(_))));
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        assert!(FleetSettings::default().check().is_ok());
        let bad = FleetSettings { split_depth: 10, window: 10, ..FleetSettings::default() };
        assert!(bad.check().unwrap_err().to_string().contains("--split-depth 10 must be below --window 10"));
        assert!(FleetSettings { poll_ms: 1, ..FleetSettings::default() }.check().is_err());
    }
}
