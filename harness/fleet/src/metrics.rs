//! The fleet's metrics as an observer of its events: each node's state, the open split, findings.

use std::sync::Arc;

use dualrun_metrics::FleetMetrics;

use crate::watch::{FleetEvent, FleetObserver, Watch};

/// Updates [`FleetMetrics`] from a watch's events.
pub struct FleetMetricsObserver(pub Arc<FleetMetrics>);

impl FleetObserver for FleetMetricsObserver {
    fn observe(&mut self, event: &FleetEvent<'_>, watch: &Watch) {
        if let FleetEvent::Finding(record) = event {
            if record.finding.opens() {
                let node = match &record.finding {
                    crate::Finding::Reorg { node, .. } => Some(node.as_str()),
                    _ => None,
                };
                self.0.finding(record.finding.kind(), node);
            }
        }
        for (n, lag) in watch.nodes().iter().zip(watch.lags()) {
            self.0.node(&n.node.name, n.up, n.chain.tip, lag);
        }
        self.0.nodes_up(watch.nodes().iter().filter(|n| n.up).count());
        self.0.split(watch.open_split().map(|s| (s.fork_height, s.last_height)));
    }
}
