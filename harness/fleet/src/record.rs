//! Recording a watch into its fleet run directory (`dualrun_rundir::fleet`): the writer as an observer
//! of the watch's events, and the summary of a watch.

use std::collections::BTreeMap;

use dualrun_rundir::fleet::{FleetRunWriter, FleetSummary, NodeSummary, TimelineEntry};

use crate::watch::{FleetEvent, FleetObserver, Watch};

/// The summary of `watch` after `seconds`.
pub fn summary(watch: &Watch, seconds: f64) -> FleetSummary {
    let nodes = watch
        .nodes()
        .iter()
        .map(|n| NodeSummary {
            name: n.node.name.clone(),
            url: n.node.url.clone(),
            reached: n.reached,
            up_seconds: n.up_ms as f64 / 1000.0,
            down_seconds: n.down_ms as f64 / 1000.0,
            tip: n.chain.tip,
            top_id: n.chain.tip.and_then(|t| n.chain.ids.get(&t).copied()),
            reorgs: n.reorgs,
            max_lag: n.max_lag,
        })
        .collect::<Vec<_>>();
    let [split, behind, unreachable, reorg] = watch.counts();
    let findings: BTreeMap<String, u64> =
        [("fleet.split", split), ("fleet.behind", behind), ("fleet.unreachable", unreachable), ("fleet.reorg", reorg)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    let mut open_at_end = Vec::new();
    if watch.open_split().is_some() {
        open_at_end.push("fleet.split".to_owned());
    }
    for n in watch.nodes() {
        if n.unreachable_is_open() {
            open_at_end.push(format!("fleet.unreachable {}", n.node.name));
        }
        if n.behind_is_open() {
            open_at_end.push(format!("fleet.behind {}", n.node.name));
        }
    }
    let agreed = split == 0 && unreachable == 0 && nodes.iter().all(|n| n.reached);
    FleetSummary { seconds, nodes, findings, open_at_end, agreed }
}

impl FleetObserver for FleetRunWriter {
    fn observe(&mut self, event: &FleetEvent<'_>, watch: &Watch) {
        let result = match event {
            FleetEvent::Finding(record) => self.write_finding(record),
            FleetEvent::Blocks { node, blocks, t_ms } => {
                let name = &watch.nodes()[*node].node.name;
                let entries: Vec<TimelineEntry> = blocks
                    .iter()
                    .map(|(height, id)| TimelineEntry { t_ms: *t_ms, node: name.clone(), height: *height, id: *id })
                    .collect();
                self.write_timeline(&entries)
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "writing the fleet run");
            self.failed(e);
        }
    }
}
