//! Following one node's main chain over RPC: each poll asks `/get_height` (height and top id) and, when
//! the tip moved, the
//! headers of the new blocks (`get_block_headers_range`, one call for a run of blocks). A tip whose
//! blocks no longer link to the ones known means the node reorganized: the poller walks back to the
//! highest height it still agrees with and reports the blocks it orphaned.

use std::collections::BTreeMap;

use dualrun_format::Hash32;
use dualrun_rpc::{Daemon, DaemonHeader, RpcError};

/// The most headers asked for in one call (what a restricted RPC serves).
const MAX_RANGE: u64 = 1000;

/// What one poll saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The node answered and its tip has not moved.
    Unchanged {
        /// Its tip's height.
        tip: u64,
    },
    /// The node's chain moved: new blocks and, when it reorganized, the blocks it dropped.
    Chain {
        /// Its tip's height.
        tip: u64,
        /// The blocks now on its chain that were not known, lowest first.
        blocks: Vec<(u64, Hash32)>,
        /// The blocks known before that are no longer on its chain, lowest first.
        orphaned: Vec<(u64, Hash32)>,
    },
    /// The node did not answer, or answered with something that is not a chain.
    Down {
        /// Why.
        error: String,
    },
}

/// One node's poller: its RPC client and the ids it has seen (the window below its tip).
pub struct Poller {
    daemon: Daemon,
    window: u64,
    known: BTreeMap<u64, Hash32>,
}

impl Poller {
    /// A poller of the node at `url`; `window` heights are kept below its tip.
    pub fn new(daemon: Daemon, window: u64) -> Poller {
        Poller { daemon, window, known: BTreeMap::new() }
    }

    /// Polls once.
    pub fn poll(&mut self) -> Observation {
        match self.try_poll() {
            Ok(o) => o,
            Err(e) => Observation::Down { error: e.to_string() },
        }
    }

    fn try_poll(&mut self) -> Result<Observation, RpcError> {
        let (height, top) = self.daemon.tip()?;
        let Some(tip) = height.checked_sub(1) else {
            return Err(self.protocol("get_height", "a height of 0: the daemon has no chain".into()));
        };
        if self.known.last_key_value() == Some((&tip, &top)) {
            return Ok(Observation::Unchanged { tip });
        }
        let start = self.first_changed(tip)?;
        let lowest = tip.saturating_sub(self.window - 1);
        let start = start.max(lowest);
        let mut headers = Vec::new();
        let mut from = start;
        while from <= tip {
            let to = tip.min(from + MAX_RANGE - 1);
            headers.extend(self.daemon.block_headers_range(from, to)?);
            from = to + 1;
        }
        if let Some(height) = self.broken_link(&headers) {
            // The chain moved between two calls (a reorganization in progress): asked again next poll.
            tracing::debug!(url = self.daemon.url(), height, "headers that do not link; polling again");
            return Ok(Observation::Unchanged { tip: self.known.last_key_value().map_or(tip, |(h, _)| *h) });
        }
        let blocks: Vec<(u64, Hash32)> = headers.iter().map(|h| (h.height, h.hash)).collect();
        let now: BTreeMap<u64, Hash32> = blocks.iter().copied().collect();
        let orphaned: Vec<(u64, Hash32)> =
            self.known.range(start..).filter(|(h, id)| now.get(h) != Some(id)).map(|(h, id)| (*h, *id)).collect();
        self.known.retain(|h, _| *h < start && *h >= lowest);
        let new: Vec<(u64, Hash32)> =
            blocks.into_iter().filter(|(h, id)| self.known.insert(*h, *id) != Some(*id)).collect();
        Ok(Observation::Chain { tip, blocks: new, orphaned })
    }

    /// The lowest height whose block may differ from the one known: one above the highest known height
    /// the node still holds (walking back from its tip), or the lowest known height when it holds none.
    fn first_changed(&self, tip: u64) -> Result<u64, RpcError> {
        let (Some((&lowest, _)), Some((&highest, _))) = (self.known.first_key_value(), self.known.last_key_value())
        else {
            return Ok(0);
        };
        let top = tip.min(highest);
        if top < lowest {
            return Ok(lowest);
        }
        let mut span = 1;
        loop {
            let from = top.saturating_sub(span - 1).max(lowest);
            let headers: Vec<DaemonHeader> = self.daemon.block_headers_range(from, top)?;
            if let Some(h) = headers.iter().rev().find(|h| self.known.get(&h.height) == Some(&h.hash)) {
                return Ok(h.height + 1);
            }
            if from == lowest {
                return Ok(lowest);
            }
            span = (span * 8).min(MAX_RANGE);
        }
    }

    /// The height of the first header that does not name the block below it (the previous header, or
    /// the known block below the first), if any.
    fn broken_link(&self, headers: &[DaemonHeader]) -> Option<u64> {
        let mut below = headers.first().and_then(|h| h.height.checked_sub(1)).and_then(|b| self.known.get(&b).copied());
        for h in headers {
            if below.is_some_and(|id| id != h.prev_hash) {
                return Some(h.height);
            }
            below = Some(h.hash);
        }
        None
    }

    fn protocol(&self, method: &str, detail: String) -> RpcError {
        RpcError::Protocol { url: self.daemon.url().into(), method: method.into(), detail }
    }
}
