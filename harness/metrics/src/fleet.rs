//! A fleet watch's metrics (`dualrun fleet --metrics ADDR`). Names and labels are part of dualrun's
//! interface (`deploy/prometheus` rules and the dashboard use them):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `dualrun_fleet_nodes` | gauge | — (nodes listed) |
//! | `dualrun_fleet_nodes_up` | gauge | — (nodes whose last poll was answered) |
//! | `dualrun_fleet_node_up` | gauge (0/1) | `node` |
//! | `dualrun_fleet_node_height` | gauge | `node` (its tip's height) |
//! | `dualrun_fleet_node_lag_blocks` | gauge | `node` (blocks below the highest reachable node) |
//! | `dualrun_fleet_split_open` | gauge (0/1) | — |
//! | `dualrun_fleet_split_fork_height`, `dualrun_fleet_split_last_height` | gauge | — (the open split's heights; 0 when none) |
//! | `dualrun_fleet_reorgs_total` | counter | `node` |
//! | `dualrun_fleet_findings_total` | counter | `kind` (fleet.split, fleet.behind, fleet.unreachable, fleet.reorg; episodes as they open) |
//! | `process_*` | | the standard process metrics |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::process::ProcessMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// The finding kinds, each with a series from the first scrape.
pub const FINDING_KINDS: [&str; 4] = ["fleet.split", "fleet.behind", "fleet.unreachable", "fleet.reorg"];

/// Every metric of a fleet watch.
pub struct FleetMetrics {
    registry: Registry,
    nodes_up: Gauge,
    node_up: Family<NodeLabel, Gauge>,
    node_height: Family<NodeLabel, Gauge>,
    node_lag: Family<NodeLabel, Gauge>,
    split_open: Gauge,
    split_fork_height: Gauge,
    split_last_height: Gauge,
    reorgs: Family<NodeLabel, Counter>,
    findings: Family<KindLabel, Counter>,
    process: ProcessMetrics,
}

impl FleetMetrics {
    /// The metrics of a watch of `nodes` (every node's series exists from the first scrape, down).
    pub fn new(nodes: &[String]) -> FleetMetrics {
        let mut registry = Registry::default();
        let total: Gauge = Gauge::default();
        registry.register("dualrun_fleet_nodes", "Nodes the fleet watch follows", total.clone());
        total.set(nodes.len() as i64);
        let nodes_up: Gauge = Gauge::default();
        registry.register("dualrun_fleet_nodes_up", "Nodes whose last poll was answered", nodes_up.clone());
        let node_up = Family::<NodeLabel, Gauge>::default();
        registry.register("dualrun_fleet_node_up", "1 when the node's last poll was answered", node_up.clone());
        let node_height = Family::<NodeLabel, Gauge>::default();
        registry.register("dualrun_fleet_node_height", "The height of the node's top block", node_height.clone());
        let node_lag = Family::<NodeLabel, Gauge>::default();
        registry.register(
            "dualrun_fleet_node_lag_blocks",
            "Blocks the node is below the highest reachable node",
            node_lag.clone(),
        );
        let split_open: Gauge = Gauge::default();
        registry.register(
            "dualrun_fleet_split_open",
            "1 while reachable nodes hold different blocks",
            split_open.clone(),
        );
        let split_fork_height: Gauge = Gauge::default();
        registry.register(
            "dualrun_fleet_split_fork_height",
            "The lowest height of the open split (0 when none)",
            split_fork_height.clone(),
        );
        let split_last_height: Gauge = Gauge::default();
        registry.register(
            "dualrun_fleet_split_last_height",
            "The highest height of the open split (0 when none)",
            split_last_height.clone(),
        );
        let reorgs = Family::<NodeLabel, Counter>::default();
        registry.register("dualrun_fleet_reorgs", "Reorganizations of the node's chain", reorgs.clone());
        let findings = Family::<KindLabel, Counter>::default();
        registry.register("dualrun_fleet_findings", "Fleet findings, episodes counted as they open", findings.clone());
        for node in nodes {
            let label = NodeLabel { node: node.clone() };
            node_up.get_or_create(&label).set(0);
            let _ = reorgs.get_or_create(&label);
        }
        for kind in FINDING_KINDS {
            let _ = findings.get_or_create(&KindLabel { kind });
        }
        let process = ProcessMetrics::register(&mut registry);
        FleetMetrics {
            registry,
            nodes_up,
            node_up,
            node_height,
            node_lag,
            split_open,
            split_fork_height,
            split_last_height,
            reorgs,
            findings,
            process,
        }
    }

    /// A node's state after a poll: up or not, its tip and its lag.
    pub fn node(&self, node: &str, up: bool, tip: Option<u64>, lag: Option<u64>) {
        let label = NodeLabel { node: node.into() };
        self.node_up.get_or_create(&label).set(i64::from(up));
        if let Some(tip) = tip {
            self.node_height.get_or_create(&label).set(tip as i64);
        }
        if let Some(lag) = lag {
            self.node_lag.get_or_create(&label).set(lag as i64);
        }
    }

    /// How many nodes are up.
    pub fn nodes_up(&self, n: usize) {
        self.nodes_up.set(n as i64);
    }

    /// The open split's heights, or none.
    pub fn split(&self, open: Option<(u64, u64)>) {
        let (fork, last) = open.unwrap_or((0, 0));
        self.split_open.set(i64::from(open.is_some()));
        self.split_fork_height.set(fork as i64);
        self.split_last_height.set(last as i64);
    }

    /// A finding of `kind` opened (or a reorganization of `node`).
    pub fn finding(&self, kind: &str, node: Option<&str>) {
        if let Some(kind) = FINDING_KINDS.into_iter().find(|k| *k == kind) {
            self.findings.get_or_create(&KindLabel { kind }).inc();
        }
        if let (Some(node), "fleet.reorg") = (node, kind) {
            self.reorgs.get_or_create(&NodeLabel { node: node.into() }).inc();
        }
    }
}

impl crate::Exposition for FleetMetrics {
    fn encode(&self) -> String {
        self.process.refresh();
        let mut open_metrics = String::new();
        prometheus_client::encoding::text::encode(&mut open_metrics, &self.registry).expect("writing to a String");
        crate::prometheus_text(&open_metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exposition;

    #[test]
    fn every_series_exists_from_the_start_and_moves() {
        let m = FleetMetrics::new(&["n1".into(), "n2".into()]);
        let text = m.encode();
        assert!(text.contains("dualrun_fleet_nodes 2"), "{text}");
        assert!(text.contains("dualrun_fleet_node_up{node=\"n1\"} 0"), "{text}");
        assert!(text.contains("dualrun_fleet_findings_total{kind=\"fleet.split\"} 0"), "{text}");
        assert!(text.contains("# TYPE dualrun_fleet_reorgs_total counter"), "{text}");
        m.node("n1", true, Some(40), Some(0));
        m.nodes_up(1);
        m.split(Some((31, 38)));
        m.finding("fleet.reorg", Some("n2"));
        let text = m.encode();
        for line in [
            "dualrun_fleet_node_height{node=\"n1\"} 40",
            "dualrun_fleet_nodes_up 1",
            "dualrun_fleet_split_fork_height 31",
            "dualrun_fleet_split_open 1",
            "dualrun_fleet_reorgs_total{node=\"n2\"} 1",
            "dualrun_fleet_findings_total{kind=\"fleet.reorg\"} 1",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
    }
}
