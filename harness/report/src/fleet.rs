//! The report of a fleet run (`dualrun fleet --out DIR`): whether the fleet agreed, each node, every
//! finding with its reproduce hint, and the nodes × heights timeline — every id each node held at each
//! height, in the order seen, coloured by block, the heights where nodes diverged marked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use dualrun_rundir::fleet::dir::TIMELINE;
use dualrun_rundir::fleet::{Episode, Finding, FleetRun, FleetRunError, TimelineEntry};
use serde::Serialize;

/// The most heights the timeline shows: the highest ones, and every diverged height with a margin.
pub const TIMELINE_HEIGHTS: usize = 80;
/// Heights shown around a diverged range.
const MARGIN: u64 = 3;

/// What a fleet report shows.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// The run directory.
    pub dir: String,
    /// One line: agreed or not, over how long, how many nodes.
    pub headline: String,
    /// `clean`, `findings` or `problems` (the page's banner colours).
    pub level: &'static str,
    /// Why the run cannot serve as evidence (incomplete, edited): never hidden.
    pub problems: Vec<String>,
    /// When it started and ended, its settings.
    pub facts: Vec<(String, String)>,
    /// Per node.
    pub nodes: Vec<NodeRow>,
    /// Every finding, in order.
    pub findings: Vec<FindingRow>,
    /// The nodes × heights view.
    pub timeline: Timeline,
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRow {
    /// Its name.
    pub name: String,
    /// Its RPC URL.
    pub url: String,
    /// Whether it ever answered.
    pub reached: bool,
    /// Its last tip.
    pub tip: String,
    /// Its last top block.
    pub top_id: String,
    /// Seconds up and down.
    pub up_seconds: String,
    /// Seconds down.
    pub down_seconds: String,
    /// Reorganizations.
    pub reorgs: u64,
    /// The most it was behind.
    pub max_lag: u64,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    /// Its sequence number.
    pub seq: u64,
    /// When (UTC).
    pub at: String,
    /// `fleet.split`, …
    pub kind: &'static str,
    /// `open`, `closed` or `` (an event).
    pub state: &'static str,
    /// In words.
    pub text: String,
    /// Its reproduce hint.
    pub reproduce: String,
}

/// The nodes × heights view.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Timeline {
    /// The nodes (columns).
    pub nodes: Vec<String>,
    /// The heights shown (rows), highest first.
    pub rows: Vec<TimelineRow>,
    /// Heights held but not shown.
    pub hidden: usize,
}

/// One height.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    /// The height.
    pub height: u64,
    /// Whether nodes held different blocks here during a split.
    pub diverged: bool,
    /// A gap to the next row shown.
    pub gap_below: bool,
    /// Per node (in the nodes' order).
    pub cells: Vec<Cell>,
}

/// What one node held at one height.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The ids it held, in the order seen (short), each with its colour group and full id.
    pub ids: Vec<CellId>,
}

/// One id in a cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellId {
    /// The first 8 hex digits.
    pub short: String,
    /// The whole id.
    pub id: String,
    /// 0 for the block most nodes hold last at this height, 1, 2… for others.
    pub group: usize,
}

impl FleetReport {
    /// Reads a fleet run and gathers its report; problems are shown, not thrown.
    pub fn gather(dir: &Path) -> Result<FleetReport, FleetRunError> {
        let run = FleetRun::load(dir)?;
        let mut problems = run.problems();
        let timeline_path = dir.join(TIMELINE);
        let entries: Vec<TimelineEntry> = match std::fs::read_to_string(&timeline_path) {
            Ok(text) => text
                .lines()
                .enumerate()
                .filter_map(|(i, l)| match serde_json::from_str(l) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        problems.push(format!("{TIMELINE} line {}: {e}", i + 1));
                        None
                    }
                })
                .collect(),
            Err(e) => {
                problems.push(format!("{TIMELINE}: {e}"));
                vec![]
            }
        };
        let diverged: Vec<(u64, u64)> = run
            .findings
            .iter()
            .filter_map(|r| match &r.finding {
                Finding::Split { fork_height, last_height, .. } => Some((*fork_height, *last_height)),
                _ => None,
            })
            .collect();
        let names: Vec<String> = run.manifest.nodes.iter().map(|n| n.name.clone()).collect();
        let timeline = timeline(&names, &entries, &diverged);
        let summary = run.summary.as_ref();
        let agreed = summary.is_some_and(|s| s.agreed);
        let seconds = summary.map_or(0.0, |s| s.seconds);
        let headline = match summary {
            Some(_) if agreed => format!("the fleet agreed: {} nodes over {seconds:.0} s", names.len()),
            Some(s) => {
                let counts: Vec<String> =
                    s.findings.iter().filter(|(_, v)| **v > 0).map(|(k, v)| format!("{v} {k}")).collect();
                format!("the fleet did NOT agree: {} ({} nodes over {seconds:.0} s)", counts.join(", "), names.len())
            }
            None => "the watch did not end cleanly: no summary".to_owned(),
        };
        let level = if !problems.is_empty() {
            "problems"
        } else if agreed {
            "clean"
        } else {
            "findings"
        };
        let s = &run.manifest.settings;
        let facts = vec![
            ("started".to_owned(), run.manifest.started_at.clone()),
            ("ended".to_owned(), run.manifest.ended_at.clone().unwrap_or_else(|| "—".into())),
            ("tool".to_owned(), format!("{} {}", run.manifest.tool.name, run.manifest.tool.version)),
            (
                "settings".to_owned(),
                format!(
                    "poll {} ms, split depth {}, behind > {} blocks for {} s, unreachable after {} s, window {}",
                    s.poll_ms, s.split_depth, s.behind_blocks, s.behind_seconds, s.unreachable_seconds, s.window
                ),
            ),
            ("fleet.json digest".to_owned(), run.manifest_digest.to_string()),
        ];
        let nodes = summary
            .map(|s| {
                s.nodes
                    .iter()
                    .map(|n| NodeRow {
                        name: n.name.clone(),
                        url: n.url.clone(),
                        reached: n.reached,
                        tip: n.tip.map_or("—".into(), |t| t.to_string()),
                        top_id: n.top_id.map_or("—".into(), |t| t.to_string()),
                        up_seconds: format!("{:.0}", n.up_seconds),
                        down_seconds: format!("{:.0}", n.down_seconds),
                        reorgs: n.reorgs,
                        max_lag: n.max_lag,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let findings = run
            .findings
            .iter()
            .map(|r| FindingRow {
                seq: r.seq,
                at: r.at.clone(),
                kind: r.finding.kind(),
                state: match &r.finding {
                    Finding::Split { state, .. }
                    | Finding::Behind { state, .. }
                    | Finding::Unreachable { state, .. } => {
                        if *state == Episode::Open {
                            "open"
                        } else {
                            "closed"
                        }
                    }
                    Finding::Reorg { .. } => "",
                },
                text: r.finding.to_string(),
                reproduce: r.reproduce.clone(),
            })
            .collect();
        Ok(FleetReport { dir: dir.display().to_string(), headline, level, problems, facts, nodes, findings, timeline })
    }
}

/// The nodes × heights view of `entries`: the highest heights and every diverged range with a margin.
fn timeline(nodes: &[String], entries: &[TimelineEntry], diverged: &[(u64, u64)]) -> Timeline {
    // (height, node) -> ids in the order seen, each once.
    let mut held: BTreeMap<u64, BTreeMap<&str, Vec<&dualrun_format::Hash32>>> = BTreeMap::new();
    for e in entries {
        let ids = held.entry(e.height).or_default().entry(e.node.as_str()).or_default();
        if ids.last() != Some(&&e.id) {
            ids.push(&e.id);
        }
    }
    let mut shown: BTreeSet<u64> = held.keys().rev().take(TIMELINE_HEIGHTS).copied().collect();
    for (from, to) in diverged {
        shown.extend((from.saturating_sub(MARGIN)..=to + MARGIN).filter(|h| held.contains_key(h)));
    }
    let is_diverged = |h: u64| diverged.iter().any(|(a, b)| (*a..=*b).contains(&h));
    let heights: Vec<u64> = shown.iter().rev().copied().collect();
    let rows = heights
        .iter()
        .enumerate()
        .map(|(i, &height)| {
            let at = &held[&height];
            // Group 0: the id most nodes hold last here; then the others by first appearance.
            let mut last_count: BTreeMap<&dualrun_format::Hash32, usize> = BTreeMap::new();
            for ids in at.values() {
                if let Some(last) = ids.last() {
                    *last_count.entry(*last).or_default() += 1;
                }
            }
            let mut order: Vec<&dualrun_format::Hash32> = Vec::new();
            if let Some((top, _)) = last_count.iter().max_by_key(|(id, n)| (**n, std::cmp::Reverse(**id))) {
                order.push(*top);
            }
            for n in nodes {
                for id in at.get(n.as_str()).into_iter().flatten() {
                    if !order.contains(id) {
                        order.push(id);
                    }
                }
            }
            let cells = nodes
                .iter()
                .map(|n| Cell {
                    ids: at
                        .get(n.as_str())
                        .into_iter()
                        .flatten()
                        .map(|id| {
                            let full = id.to_string();
                            CellId {
                                short: full[..8].to_owned(),
                                group: order.iter().position(|o| o == id).unwrap_or(0),
                                id: full,
                            }
                        })
                        .collect(),
                })
                .collect();
            let gap_below = heights.get(i + 1).is_some_and(|next| *next + 1 != height);
            TimelineRow { height, diverged: is_diverged(height), gap_below, cells }
        })
        .collect();
    Timeline { nodes: nodes.to_vec(), rows, hidden: held.len() - heights.len() }
}
