//! A fleet run's findings, typed (`findings.jsonl`): `fleet.split`, `fleet.behind` and `fleet.unreachable` are episodes
//! (a record when one opens and one when it closes), `fleet.reorg` an event. Each record has a sequence
//! number, when it was seen and a reproduce hint: the RPC calls that show the same on the nodes.

use dualrun_format::Hash32;
use serde::{Deserialize, Serialize};

/// Nodes holding the same block at a height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The block id they hold.
    pub id: Hash32,
    /// The nodes, by name, in the fleet's order.
    pub nodes: Vec<String>,
}

/// Whether an episode began or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Episode {
    /// It began (or was first seen).
    Open,
    /// It ended.
    Closed,
}

/// A node's tip when a finding was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTip {
    /// The node.
    pub node: String,
    /// Its tip's height.
    pub tip: u64,
}

/// A block a node dropped in a reorganization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Orphan {
    /// Its height.
    pub height: u64,
    /// Its id.
    pub id: Hash32,
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Finding {
    /// Reachable nodes hold different blocks at the same heights, deeper than the split depth.
    #[serde(rename = "fleet.split")]
    Split {
        /// Opened or closed.
        state: Episode,
        /// The lowest height at which the ids differ.
        fork_height: u64,
        /// The highest height at which they differed (while open: so far; closed: over the episode).
        last_height: u64,
        /// The nodes by the block they hold at `fork_height`: when it opened, those seen then; when it
        /// closed, every node seen holding each block while it was open.
        groups: Vec<Group>,
        /// The reachable nodes' tips.
        tips: Vec<NodeTip>,
        /// How long it lasted (closed only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<f64>,
    },
    /// A node more than the allowed number of blocks behind the highest for longer than allowed.
    #[serde(rename = "fleet.behind")]
    Behind {
        /// Opened or closed.
        state: Episode,
        /// The node.
        node: String,
        /// Its tip.
        tip: u64,
        /// The highest tip among the reachable nodes.
        highest: u64,
        /// How long it had been (open) or was (closed) behind.
        seconds: f64,
    },
    /// A node that did not answer for longer than allowed.
    #[serde(rename = "fleet.unreachable")]
    Unreachable {
        /// Opened or closed.
        state: Episode,
        /// The node.
        node: String,
        /// Why it did not answer (the last error).
        error: String,
        /// How long it had been (open) or was (closed) unreachable.
        seconds: f64,
    },
    /// A node's chain reorganized: blocks it held are no longer on it.
    #[serde(rename = "fleet.reorg")]
    Reorg {
        /// The node.
        node: String,
        /// The lowest height whose block changed.
        fork_height: u64,
        /// Its tip after.
        tip: u64,
        /// The blocks it dropped, lowest first.
        orphaned: Vec<Orphan>,
    },
}

impl Finding {
    /// The finding's kind (`fleet.split`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::Split { .. } => "fleet.split",
            Finding::Behind { .. } => "fleet.behind",
            Finding::Unreachable { .. } => "fleet.unreachable",
            Finding::Reorg { .. } => "fleet.reorg",
        }
    }

    /// Whether it opens an episode (an event counts as one that opens).
    pub fn opens(&self) -> bool {
        match self {
            Finding::Split { state, .. } | Finding::Behind { state, .. } | Finding::Unreachable { state, .. } => {
                *state == Episode::Open
            }
            Finding::Reorg { .. } => true,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = |s: &Episode| if *s == Episode::Open { "" } else { " (closed)" };
        match self {
            Finding::Split { state: s, fork_height, last_height, groups, seconds, .. } => {
                let sides: Vec<String> =
                    groups.iter().map(|g| format!("{} hold {}", g.nodes.join(", "), g.id)).collect();
                write!(
                    f,
                    "fleet.split{}: heights {fork_height}..={last_height} differ: {}",
                    state(s),
                    sides.join("; ")
                )?;
                if let Some(secs) = seconds {
                    write!(f, "; healed after {secs:.1} s")?;
                }
                Ok(())
            }
            Finding::Behind { state: s, node, tip, highest, seconds } => write!(
                f,
                "fleet.behind{}: {node} at height {tip}, {} below the highest ({highest}), for {seconds:.1} s",
                state(s),
                highest.saturating_sub(*tip)
            ),
            Finding::Unreachable { state: s, node, error, seconds } => {
                write!(f, "fleet.unreachable{}: {node} did not answer for {seconds:.1} s: {error}", state(s))
            }
            Finding::Reorg { node, fork_height, tip, orphaned } => write!(
                f,
                "fleet.reorg: {node} reorganized from height {fork_height} ({} blocks dropped), tip now {tip}",
                orphaned.len()
            ),
        }
    }
}

/// One line of `findings.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// 1, 2, … in the order written.
    pub seq: u64,
    /// Milliseconds since the watch started.
    pub t_ms: u64,
    /// When (UTC, ISO 8601 basic).
    pub at: String,
    /// What was found.
    #[serde(flatten)]
    pub finding: Finding,
    /// Shell commands that show the same on the nodes.
    pub reproduce: String,
}
