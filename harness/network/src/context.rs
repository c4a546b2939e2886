//! [`ChainContext`]: what a check knows of the chain before a block — the previous id and the window of
//! previous timestamps — advanced block by block as the chain is stored. Every block's env carries it
//! ([`crate::Network::env`]); the leader validator judges against it.

use std::collections::VecDeque;

use dualrun_format::Hash32;

/// How many previous timestamps the median rule uses (`BLOCKCHAIN_TIMESTAMP_CHECK_WINDOW`).
pub const TIMESTAMP_WINDOW: usize = 60;

/// What the validator remembers of the chain so far: the previous id and up to 60 previous timestamps.
/// It follows the chain as stored, whatever the verdicts: each block is judged against its real parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainContext {
    next_height: u64,
    prev_id: Option<Hash32>,
    timestamps: VecDeque<u64>,
}

impl ChainContext {
    /// The context before block 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The height the context expects next.
    pub fn next_height(&self) -> u64 {
        self.next_height
    }

    /// The id of block `next_height − 1`, if known.
    pub fn prev_id(&self) -> Option<Hash32> {
        self.prev_id
    }

    /// The newest timestamp in the window, if any.
    pub fn prev_timestamp(&self) -> Option<u64> {
        self.timestamps.back().copied()
    }

    /// The previous timestamps the median rule sees (oldest first, at most 60).
    pub fn timestamps(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.timestamps.iter().copied()
    }

    /// A context for judging `next_height`, from the id of block `next_height − 1` and the timestamps of
    /// the blocks before it (oldest first; only the last 60 are kept).
    pub fn resume(next_height: u64, prev_id: Hash32, timestamps: impl IntoIterator<Item = u64>) -> Self {
        let mut ctx = ChainContext { next_height, prev_id: Some(prev_id), timestamps: VecDeque::new() };
        for t in timestamps {
            ctx.push_timestamp(t);
        }
        ctx
    }

    fn push_timestamp(&mut self, t: u64) {
        if self.timestamps.len() == TIMESTAMP_WINDOW {
            self.timestamps.pop_front();
        }
        self.timestamps.push_back(t);
    }

    /// Moves past a block with this id and timestamp.
    pub fn advance(&mut self, block_id: Hash32, timestamp: u64) {
        self.prev_id = Some(block_id);
        self.push_timestamp(timestamp);
        self.next_height += 1;
    }

    /// Moves past a block whose blob does not parse: its stored id becomes the previous id, and no
    /// timestamp enters the window (there is none to read).
    pub fn advance_unparsed(&mut self, stored_id: Hash32) {
        self.prev_id = Some(stored_id);
        self.next_height += 1;
    }

    /// Median of the window as Monero computes it (`epee::misc_utils::median`): the middle value, or
    /// for an even count the mean of the two middle values rounded down. `None` below 60 timestamps.
    pub fn median_timestamp(&self) -> Option<u64> {
        if self.timestamps.len() < TIMESTAMP_WINDOW {
            return None;
        }
        let mut v: Vec<u64> = self.timestamps.iter().copied().collect();
        v.sort_unstable();
        let n = v.len() / 2;
        Some(if v.len() % 2 == 1 { v[n] } else { v[n - 1] / 2 + v[n] / 2 + (v[n - 1] % 2 + v[n] % 2) / 2 })
    }
}
