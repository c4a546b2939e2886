//! The per-height view across nodes and the rules on it, as pure functions: where two nodes' chains
//! differ ([`find_split`]) and how far each node is behind the highest ([`lags`]).

use std::collections::BTreeMap;

use dualrun_format::Hash32;
pub use dualrun_rundir::fleet::Group;

/// What is known of one node's main chain: its tip and the ids of its recent blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeChain {
    /// The height of its top block, once it answered.
    pub tip: Option<u64>,
    /// Block ids by height, for the heights kept (the window below the tip).
    pub ids: BTreeMap<u64, Hash32>,
}

/// Two or more nodes holding different blocks at the same heights, deep enough below their tips to be
/// a fork or partition rather than a race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The lowest height at which the ids differ (the first block of the diverging branches).
    pub fork_height: u64,
    /// The highest height at which the ids differ.
    pub last_height: u64,
    /// The nodes grouped by the block they hold at `fork_height` (largest group first).
    pub groups: Vec<Group>,
}

/// The groups of nodes by the id they hold at `height` (nodes without one are left out).
fn groups_at(chains: &[(&str, &NodeChain)], height: u64) -> BTreeMap<Hash32, Vec<String>> {
    let mut groups: BTreeMap<Hash32, Vec<String>> = BTreeMap::new();
    for (name, chain) in chains {
        if let Some(id) = chain.ids.get(&height) {
            groups.entry(*id).or_default().push((*name).to_owned());
        }
    }
    groups
}

/// The persistent split among `chains` (the reachable nodes), if any: the lowest height at which two
/// nodes hold different ids while that height is more than `depth` blocks below both nodes' tips; and
/// the highest height at which any two of them differ.
pub fn find_split(chains: &[(&str, &NodeChain)], depth: u64) -> Option<Split> {
    let low = chains.iter().filter_map(|(_, c)| c.ids.keys().next().copied()).min()?;
    let high = chains.iter().filter_map(|(_, c)| c.tip).max()?;
    let tip_of = |name: &str| chains.iter().find(|(n, _)| *n == name).and_then(|(_, c)| c.tip).unwrap_or(0);
    let deep = |height: u64, nodes: &[String]| nodes.iter().any(|n| tip_of(n) > height + depth);
    let mut split: Option<Split> = None;
    for height in low..=high {
        let groups = groups_at(chains, height);
        if groups.len() < 2 {
            continue;
        }
        match &mut split {
            Some(s) => s.last_height = height,
            None => {
                // Persistent: at least two groups each with a node whose tip is more than `depth` above.
                if groups.values().filter(|nodes| deep(height, nodes)).count() >= 2 {
                    let mut groups: Vec<Group> = groups.into_iter().map(|(id, nodes)| Group { id, nodes }).collect();
                    groups.sort_by(|a, b| b.nodes.len().cmp(&a.nodes.len()).then(a.nodes.cmp(&b.nodes)));
                    split = Some(Split { fork_height: height, last_height: height, groups });
                }
            }
        }
    }
    split
}

/// Each node's lag behind the highest tip among `chains` (`None` for a node that has not answered).
pub fn lags(chains: &[(&str, &NodeChain)]) -> Vec<Option<u64>> {
    let highest = chains.iter().filter_map(|(_, c)| c.tip).max();
    chains.iter().map(|(_, c)| Some(highest? - c.tip?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(tag: u8, height: u64) -> Hash32 {
        let mut b = [0u8; 32];
        b[0] = tag;
        b[1..9].copy_from_slice(&height.to_le_bytes());
        Hash32(b)
    }

    /// A chain of blocks `0..=tip`: tag 0 up to `fork`, then `tag`.
    fn chain(tip: u64, fork: u64, tag: u8) -> NodeChain {
        let ids = (0..=tip).map(|h| (h, if h < fork { id(0, h) } else { id(tag, h) })).collect();
        NodeChain { tip: Some(tip), ids }
    }

    #[test]
    fn agreeing_chains_have_no_split() {
        let (a, b) = (chain(20, 99, 1), chain(18, 99, 1));
        assert_eq!(find_split(&[("a", &a), ("b", &b)], 3), None);
        assert_eq!(lags(&[("a", &a), ("b", &b), ("c", &NodeChain::default())]), vec![Some(0), Some(2), None]);
    }

    /// A fork at 10 with both tips far above: the split names the exact heights and the nodes.
    #[test]
    fn a_deep_fork_is_a_split_at_exactly_its_heights() {
        let (a, b, c) = (chain(20, 10, 1), chain(20, 10, 1), chain(14, 10, 2));
        let s = find_split(&[("a", &a), ("b", &b), ("c", &c)], 3).unwrap();
        assert_eq!((s.fork_height, s.last_height), (10, 14), "c holds blocks up to 14 only");
        assert_eq!(s.groups.len(), 2);
        assert_eq!(s.groups[0], Group { id: id(1, 10), nodes: vec!["a".into(), "b".into()] });
        assert_eq!(s.groups[1], Group { id: id(2, 10), nodes: vec!["c".into()] });
    }

    /// A fork within `depth` of one side's tip is a race, not yet a split.
    #[test]
    fn a_shallow_fork_is_not_a_split() {
        let (a, c) = (chain(20, 18, 1), chain(19, 18, 2));
        assert_eq!(find_split(&[("a", &a), ("c", &c)], 3), None, "18 is 1 below c's tip");
        let (a, c) = (chain(30, 18, 1), chain(21, 18, 2));
        assert_eq!(find_split(&[("a", &a), ("c", &c)], 3), None, "21 - 18 = 3 is not more than 3");
        let c = chain(22, 18, 2);
        assert_eq!(find_split(&[("a", &a), ("c", &c)], 3).map(|s| s.fork_height), Some(18));
    }
}
