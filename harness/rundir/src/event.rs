//! A run's events, one stream: what happens to a run as it goes — started, a block judged, a record
//! written, a checkpoint made, the daemon's chain reorganized, stopped — told to one [`Observer`]. The
//! terminal progress, the Prometheus metrics, the Python `on_divergence` hook and the closing message
//! are observers of the same events, so none of them can see a run differently from the others.
//!
//! Observers cannot fail a run: a block is judged and recorded whatever an observer does with the news.

use std::time::Duration;

use crate::record::{JudgedBlock, Record};
use crate::reorg::ReorgEvent;
use crate::stats::Stats;

/// What each verifier took for a block (none: it did not run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Elapsed {
    /// The legacy verifier's time.
    pub legacy: Option<Duration>,
    /// The candidate's time.
    pub candidate: Option<Duration>,
}

/// One event of a run.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// The run starts covering `first..=last` (no `last`: live, open-ended); a resume at `resumed_at`.
    Started {
        /// The run's first height.
        first: u64,
        /// Its last height, if it has one.
        last: Option<u64>,
        /// Where a resumed run goes on.
        resumed_at: Option<u64>,
    },
    /// A block was judged (its records follow, one [`RunEvent::Recorded`] each).
    Judged {
        /// The block, both answers and the decision.
        block: &'a JudgedBlock<'a>,
        /// What each verifier took.
        elapsed: Elapsed,
    },
    /// A record was written.
    Recorded {
        /// The record as written.
        record: &'a Record,
    },
    /// Every block below `next_height` is judged and durable: a resume goes on from there.
    Checkpointed {
        /// The first height not judged.
        next_height: u64,
        /// The run's counters at the checkpoint.
        stats: &'a Stats,
    },
    /// The daemon's chain reorganized under a live run; the run goes back to the fork.
    Reorganized {
        /// The reorganization, as `reorgs.jsonl` keeps it.
        event: &'a ReorgEvent,
    },
    /// The session stopped: every block below `next_height` is judged; `complete` when the run is.
    Stopped {
        /// The first height not judged.
        next_height: u64,
        /// The run has judged its whole range.
        complete: bool,
    },
}

/// Told every event of a run, in order.
pub trait Observer {
    /// One event.
    fn observe(&mut self, event: &RunEvent<'_>);
}

/// An observer that ignores everything.
impl Observer for () {
    fn observe(&mut self, _: &RunEvent<'_>) {}
}

/// Several observers, each told every event, in their order.
impl Observer for [&mut dyn Observer] {
    fn observe(&mut self, event: &RunEvent<'_>) {
        for o in self.iter_mut() {
            o.observe(event);
        }
    }
}

impl<const N: usize> Observer for [&mut dyn Observer; N] {
    fn observe(&mut self, event: &RunEvent<'_>) {
        self.as_mut_slice().observe(event);
    }
}

/// An observer that may not be there.
impl<O: Observer> Observer for Option<O> {
    fn observe(&mut self, event: &RunEvent<'_>) {
        if let Some(o) = self {
            o.observe(event);
        }
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn observe(&mut self, event: &RunEvent<'_>) {
        (**self).observe(event);
    }
}
