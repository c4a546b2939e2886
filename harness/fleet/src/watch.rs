//! The fleet's state and its one event stream: [`Watch`] takes each poll's [`Observation`] of a node
//! (and a tick of the clock), keeps the per-height view, opens and closes the episodes its rules find,
//! and tells every step to its [`FleetObserver`]s as a [`FleetEvent`] — the run directory, the metrics
//! and the terminal all read the same stream. Time is given, never read: the same observations at the
//! same times make the same findings.

use dualrun_format::Hash32;

use crate::config::{FleetNode, FleetSettings};
use crate::finding::{rpc_hint, Episode, Finding, FindingRecord, NodeTip, Orphan};
use crate::poll::Observation;
use crate::view::{find_split, lags, Group, NodeChain, Split};

/// One step of a watch.
#[derive(Debug)]
pub enum FleetEvent<'a> {
    /// A node answered after not answering (or for the first time).
    NodeUp {
        /// Its index in the fleet.
        node: usize,
    },
    /// A node did not answer.
    NodeDown {
        /// Its index.
        node: usize,
        /// Why.
        error: &'a str,
    },
    /// A node's chain has new blocks (ids the watch had not seen there).
    Blocks {
        /// Its index.
        node: usize,
        /// The blocks, lowest first.
        blocks: &'a [(u64, Hash32)],
        /// When (milliseconds since the watch started).
        t_ms: u64,
    },
    /// A finding was made.
    Finding(&'a FindingRecord),
}

/// Everything that reads a watch's events.
pub trait FleetObserver {
    /// One event; `watch` is the state after it.
    fn observe(&mut self, event: &FleetEvent<'_>, watch: &Watch);
}

/// Several observers, each told every event in order.
pub struct Fanout<'a>(pub Vec<&'a mut dyn FleetObserver>);

impl FleetObserver for Fanout<'_> {
    fn observe(&mut self, event: &FleetEvent<'_>, watch: &Watch) {
        for o in &mut self.0 {
            o.observe(event, watch);
        }
    }
}

/// What the watch knows of one node.
#[derive(Debug, Clone)]
pub struct NodeState {
    /// The node.
    pub node: FleetNode,
    /// Its chain as far as seen.
    pub chain: NodeChain,
    /// Whether its last poll was answered.
    pub up: bool,
    /// Whether it ever answered.
    pub reached: bool,
    /// Since when (ms) it has not answered.
    down_since: Option<u64>,
    /// Its last error.
    pub last_error: String,
    /// Since when (ms) it has been behind.
    behind_since: Option<u64>,
    /// Open episodes.
    unreachable_open: bool,
    behind_open: bool,
    /// Reorganizations seen.
    pub reorgs: u64,
    /// Milliseconds it was seen up and down (between polls, by its last state).
    pub up_ms: u64,
    /// Milliseconds it was seen down.
    pub down_ms: u64,
    last_ms: Option<u64>,
    /// The most it was behind the highest.
    pub max_lag: u64,
}

impl NodeState {
    /// Whether an unreachable episode of the node is open.
    pub fn unreachable_is_open(&self) -> bool {
        self.unreachable_open
    }

    /// Whether a behind episode of the node is open.
    pub fn behind_is_open(&self) -> bool {
        self.behind_open
    }
}

/// An open split and what it has covered.
#[derive(Debug, Clone)]
struct OpenSplit {
    split: Split,
    since_ms: u64,
}

/// The fleet's state.
pub struct Watch {
    settings: FleetSettings,
    nodes: Vec<NodeState>,
    split: Option<OpenSplit>,
    started_unix: u64,
    seq: u64,
    counts: [u64; 4],
}

impl Watch {
    /// A watch of `nodes` with `settings`, started at `started_unix` (seconds; for the records' `at`).
    pub fn new(nodes: Vec<FleetNode>, settings: FleetSettings, started_unix: u64) -> Watch {
        let nodes = nodes
            .into_iter()
            .map(|node| NodeState {
                node,
                chain: NodeChain::default(),
                up: false,
                reached: false,
                down_since: Some(0),
                last_error: "not polled yet".into(),
                behind_since: None,
                unreachable_open: false,
                behind_open: false,
                reorgs: 0,
                up_ms: 0,
                down_ms: 0,
                last_ms: None,
                max_lag: 0,
            })
            .collect();
        Watch { settings, nodes, split: None, started_unix, seq: 0, counts: [0; 4] }
    }

    /// The nodes, in the fleet's order.
    pub fn nodes(&self) -> &[NodeState] {
        &self.nodes
    }

    /// The settings.
    pub fn settings(&self) -> &FleetSettings {
        &self.settings
    }

    /// The open split, if any.
    pub fn open_split(&self) -> Option<&Split> {
        self.split.as_ref().map(|s| &s.split)
    }

    /// The highest tip among the reachable nodes.
    pub fn highest(&self) -> Option<u64> {
        self.nodes.iter().filter(|n| n.up).filter_map(|n| n.chain.tip).max()
    }

    /// Findings made so far, by kind: split, behind, unreachable, reorg (episodes counted when opened).
    pub fn counts(&self) -> [u64; 4] {
        self.counts
    }

    /// Takes one poll of node `index` at `now_ms`.
    pub fn observe(&mut self, index: usize, observation: Observation, now_ms: u64, out: &mut dyn FleetObserver) {
        self.account(index, now_ms);
        match observation {
            Observation::Down { error } => {
                let n = &mut self.nodes[index];
                let was_up = n.up;
                n.up = false;
                n.last_error = error;
                n.down_since.get_or_insert(now_ms);
                if was_up {
                    let error = self.nodes[index].last_error.clone();
                    out.observe(&FleetEvent::NodeDown { node: index, error: &error }, self);
                }
            }
            Observation::Unchanged { tip } => {
                self.node_answered(index, now_ms, out);
                self.nodes[index].chain.tip = Some(tip);
            }
            Observation::Chain { tip, blocks, orphaned } => {
                self.node_answered(index, now_ms, out);
                let n = &mut self.nodes[index];
                n.chain.tip = Some(tip);
                for (h, _) in &orphaned {
                    n.chain.ids.remove(h);
                }
                n.chain.ids.extend(blocks.iter().copied());
                let keep_from = tip.saturating_sub(self.settings.window - 1);
                n.chain.ids.retain(|h, _| *h >= keep_from && *h <= tip);
                if !blocks.is_empty() {
                    out.observe(&FleetEvent::Blocks { node: index, blocks: &blocks, t_ms: now_ms }, self);
                }
                if let Some(fork_height) = orphaned.first().map(|(h, _)| *h) {
                    self.nodes[index].reorgs += 1;
                    let node = self.nodes[index].node.clone();
                    let finding = Finding::Reorg {
                        node: node.name,
                        fork_height,
                        tip,
                        orphaned: orphaned.iter().map(|(height, id)| Orphan { height: *height, id: *id }).collect(),
                    };
                    let reproduce = rpc_hint(&node.url, Some(fork_height));
                    self.emit(finding, reproduce, now_ms, out);
                }
                self.check_split(now_ms, out);
            }
        }
        self.tick(now_ms, out);
    }

    fn node_answered(&mut self, index: usize, now_ms: u64, out: &mut dyn FleetObserver) {
        let n = &mut self.nodes[index];
        let was_up = n.up;
        n.up = true;
        n.reached = true;
        let down_for = n.down_since.take().map(|since| now_ms.saturating_sub(since));
        if n.unreachable_open {
            n.unreachable_open = false;
            let node = n.node.clone();
            let finding = Finding::Unreachable {
                state: Episode::Closed,
                node: node.name,
                error: n.last_error.clone(),
                seconds: secs(down_for.unwrap_or(0)),
            };
            self.emit(finding, rpc_hint(&node.url, None), now_ms, out);
        }
        if !was_up {
            out.observe(&FleetEvent::NodeUp { node: index }, self);
        }
    }

    /// Time passes: unreachable and behind episodes open (or close) as their thresholds say.
    pub fn tick(&mut self, now_ms: u64, out: &mut dyn FleetObserver) {
        let unreachable_ms = self.settings.unreachable_seconds * 1000;
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            if let Some(since) = n.down_since {
                if !n.unreachable_open && now_ms.saturating_sub(since) >= unreachable_ms {
                    n.unreachable_open = true;
                    let node = n.node.clone();
                    let finding = Finding::Unreachable {
                        state: Episode::Open,
                        node: node.name,
                        error: n.last_error.clone(),
                        seconds: secs(now_ms.saturating_sub(since)),
                    };
                    self.emit(finding, rpc_hint(&node.url, None), now_ms, out);
                }
            }
        }
        self.check_behind(now_ms, out);
    }

    fn check_behind(&mut self, now_ms: u64, out: &mut dyn FleetObserver) {
        let Some(highest) = self.highest() else { return };
        let behind_ms = self.settings.behind_seconds * 1000;
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            let Some(tip) = n.chain.tip.filter(|_| n.up) else { continue };
            let lag = highest - tip;
            n.max_lag = n.max_lag.max(lag);
            let finding = if lag > self.settings.behind_blocks {
                let since = *n.behind_since.get_or_insert(now_ms);
                (!n.behind_open && now_ms - since >= behind_ms).then(|| {
                    n.behind_open = true;
                    (Episode::Open, since)
                })
            } else {
                n.behind_since
                    .take()
                    .filter(|_| std::mem::take(&mut n.behind_open))
                    .map(|since| (Episode::Closed, since))
            };
            if let Some((state, since)) = finding {
                let node = n.node.clone();
                let seconds = secs(now_ms - since);
                let finding = Finding::Behind { state, node: node.name, tip, highest, seconds };
                self.emit(finding, rpc_hint(&node.url, None), now_ms, out);
            }
        }
    }

    fn check_split(&mut self, now_ms: u64, out: &mut dyn FleetObserver) {
        let live: Vec<(&str, &NodeChain)> =
            self.nodes.iter().filter(|n| n.up).map(|n| (n.node.name.as_str(), &n.chain)).collect();
        let found = find_split(&live, self.settings.split_depth);
        let tips: Vec<NodeTip> = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .filter_map(|n| Some(NodeTip { node: n.node.name.clone(), tip: n.chain.tip? }))
            .collect();
        let open_fork = self.split.as_ref().map(|o| o.split.fork_height);
        match (open_fork, found) {
            (None, None) => {}
            (Some(fork), Some(now)) if now.fork_height == fork => {
                if let Some(open) = &mut self.split {
                    open.split.last_height = open.split.last_height.max(now.last_height);
                    merge_groups(&mut open.split.groups, now.groups, &self.nodes);
                }
            }
            (None, Some(split)) => {
                let reproduce = self.split_hint(&split);
                let finding = Finding::Split {
                    state: Episode::Open,
                    fork_height: split.fork_height,
                    last_height: split.last_height,
                    groups: split.groups.clone(),
                    tips,
                    seconds: None,
                };
                self.split = Some(OpenSplit { split, since_ms: now_ms });
                self.emit(finding, reproduce, now_ms, out);
            }
            (Some(_), found) => {
                // Healed (no split), or another split in its place: this one closes.
                let Some(open) = self.split.take() else { return };
                let reproduce = self.split_hint(&open.split);
                let finding = Finding::Split {
                    state: Episode::Closed,
                    fork_height: open.split.fork_height,
                    last_height: open.split.last_height,
                    groups: open.split.groups,
                    tips,
                    seconds: Some(secs(now_ms.saturating_sub(open.since_ms))),
                };
                self.emit(finding, reproduce, now_ms, out);
                if found.is_some() {
                    self.check_split(now_ms, out);
                }
            }
        }
    }

    fn split_hint(&self, split: &Split) -> String {
        let named: Vec<&str> = split.groups.iter().flat_map(|g| g.nodes.iter().map(String::as_str)).collect();
        self.nodes
            .iter()
            .filter(|n| named.contains(&n.node.name.as_str()))
            .map(|n| format!("{}  # {}", rpc_hint(&n.node.url, Some(split.fork_height)), n.node.name))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn emit(&mut self, finding: Finding, reproduce: String, now_ms: u64, out: &mut dyn FleetObserver) {
        if finding.opens() {
            let slot = match finding {
                Finding::Split { .. } => 0,
                Finding::Behind { .. } => 1,
                Finding::Unreachable { .. } => 2,
                Finding::Reorg { .. } => 3,
            };
            self.counts[slot] += 1;
        }
        self.seq += 1;
        let at = dualrun_core::UtcTime::from_unix(self.started_unix + now_ms / 1000).stamp();
        let record = FindingRecord { seq: self.seq, t_ms: now_ms, at, finding, reproduce };
        out.observe(&FleetEvent::Finding(&record), self);
    }

    /// Adds every node's time since its last observation to its up or down time (at the end of a watch:
    /// a node whose polls were answered unchanged is not observed again until it changes).
    pub fn settle(&mut self, now_ms: u64) {
        for i in 0..self.nodes.len() {
            self.account(i, now_ms);
        }
    }

    /// Adds the time since a node's last poll to its up or down time.
    fn account(&mut self, index: usize, now_ms: u64) {
        let n = &mut self.nodes[index];
        if let Some(last) = n.last_ms {
            let spent = now_ms.saturating_sub(last);
            if n.up {
                n.up_ms += spent;
            } else {
                n.down_ms += spent;
            }
        }
        n.last_ms = Some(now_ms);
    }

    /// Each node's lag behind the highest reachable tip.
    pub fn lags(&self) -> Vec<Option<u64>> {
        let live: Vec<(&str, &NodeChain)> =
            self.nodes.iter().map(|n| (n.node.name.as_str(), if n.up { &n.chain } else { &EMPTY })).collect();
        lags(&live)
    }
}

/// Adds to `groups` the nodes `now` sees holding each block (a node that caught up joins its side), in
/// the fleet's order; a block not seen before is a group of its own.
fn merge_groups(groups: &mut Vec<Group>, now: Vec<Group>, nodes: &[NodeState]) {
    for g in now {
        match groups.iter_mut().find(|o| o.id == g.id) {
            Some(o) => {
                for n in g.nodes {
                    if !o.nodes.contains(&n) {
                        o.nodes.push(n);
                    }
                }
                o.nodes.sort_by_key(|n| nodes.iter().position(|s| s.node.name == *n));
            }
            None => groups.push(g),
        }
    }
}

static EMPTY: NodeChain = NodeChain { tip: None, ids: std::collections::BTreeMap::new() };

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
