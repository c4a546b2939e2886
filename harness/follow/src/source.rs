//! [`DaemonSource`]: a running daemon's main chain as a block source. It polls `get_info` for new
//! blocks and fetches each with `get_block` (blob and the daemon's header together), in height order,
//! without gaps. A daemon that stops answering is waited for with backoff (said in the log and in
//! `dualrun_daemon_up`) and followed again from the first block not yet handed out, so a restart of the
//! daemon skips nothing. A block whose parent is not the block handed out before it (or a tip at the
//! run's height that is not the block judged there) means the daemon's chain reorganized under the run:
//! the source finds the fork — the first height whose block is not the one judged, looking back over the
//! blocks it remembers — and stops with [`FollowError::Reorg`], so the run can keep the judged blocks'
//! records (as orphaned) and judge the new branch from the fork.
//!
//! A block whose parent is not the block handed out before it while that block is still on the daemon's
//! chain is not a reorganization: the daemon serves an inconsistent chain (or changed between two
//! calls). It is logged once, counted (`dualrun_daemon_inconsistent_total`) and asked again with backoff
//! (0.25 s doubling to 10 s), which a reorganization in progress settles; still inconsistent after
//! [`INCONSISTENT_GIVE_UP`] (`follow --inconsistent-seconds`), following stops with [`FollowError::Inconsistent`] naming the height and
//! both ids (the run stays resumable).

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dualrun_format::Hash32;
use dualrun_metrics::Metrics;
use dualrun_pipeline::{BlockSource, SourceBlock};
use dualrun_rpc::{Daemon, RpcError};

/// The longest wait between two attempts to reach a daemon that does not answer.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long a daemon may keep serving an inconsistent chain before following stops, by default.
pub const INCONSISTENT_GIVE_UP: Duration = Duration::from_secs(60);

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The daemon could not be reached or answered wrongly (at start, or building the chain context).
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The daemon's chain no longer holds blocks the run judged: they are orphaned from `fork` on.
    #[error(
        "the daemon's chain reorganized: the blocks the run judged from height {fork} on are no longer on it \
         ({} orphaned)",
        orphaned.len()
    )]
    Reorg {
        /// The first height whose judged block is not on the daemon's chain.
        fork: u64,
        /// The judged blocks no longer on the chain: (height, id), oldest first.
        orphaned: Vec<(u64, Hash32)>,
        /// The daemon's height when it was seen.
        daemon_height: u64,
    },
    /// The daemon kept serving, at `height`, a block whose parent is not the block it serves (and the run
    /// judged) at `height − 1`.
    #[error(
        "the daemon serves an inconsistent chain: its block at height {height} names parent {parent_named}, but \
         its block at height {} is {parent_served} (still so after {seconds} s of retries); the run is \
         checkpointed: once the daemon serves a consistent chain, continue with --resume",
        height - 1
    )]
    Inconsistent {
        /// The height of the block that does not link.
        height: u64,
        /// The parent it names.
        parent_named: Hash32,
        /// The block the daemon serves (and the run judged) below it.
        parent_served: Hash32,
        /// How long it was retried.
        seconds: u64,
    },
    /// The fork is deeper than the blocks the run remembers.
    #[error(
        "the daemon's chain reorganized deeper than the {remembered} blocks the run remembers (below height \
         {lowest}); start a new run from before the fork"
    )]
    DeepReorg {
        /// Blocks remembered.
        remembered: usize,
        /// The lowest height remembered.
        lowest: u64,
    },
}

/// A daemon's blocks from a height on.
pub struct DaemonSource {
    daemon: Daemon,
    next: u64,
    to: Option<u64>,
    poll: Duration,
    interrupt: Arc<AtomicBool>,
    metrics: Option<Arc<Metrics>>,
    /// The ids of the last blocks handed out (or judged before a resume), oldest first: block `next − 1`
    /// last. A reorganization is traced back through them.
    recent: VecDeque<(u64, Hash32)>,
    /// New-block notices (ZMQ) that end a wait early; one subscription shared by the run's sessions.
    notices: Option<Arc<Mutex<Receiver<()>>>>,
    /// How long an inconsistent chain is asked again before following stops.
    give_up: Duration,
}

/// Blocks remembered for tracing a reorganization back to its fork.
pub const REMEMBERED: usize = 4096;

impl DaemonSource {
    /// Blocks of `daemon` from `next` on (through `to`, if given), looking for new ones every `poll`.
    pub fn new(daemon: Daemon, next: u64, to: Option<u64>, poll: Duration, interrupt: Arc<AtomicBool>) -> Self {
        let (recent, give_up) = (VecDeque::new(), INCONSISTENT_GIVE_UP);
        DaemonSource { daemon, next, to, poll, interrupt, metrics: None, recent, notices: None, give_up }
    }

    /// Stops following once the daemon has served an inconsistent chain this long.
    pub fn with_inconsistent_give_up(mut self, give_up: Duration) -> Self {
        self.give_up = give_up;
        self
    }

    /// Reports the daemon's height and reachability here.
    pub fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The ids of the blocks judged just below `next` (oldest first, ending with `next − 1`).
    pub fn with_judged(mut self, judged: Vec<(u64, Hash32)>) -> Self {
        self.recent = judged.into_iter().collect();
        self
    }

    /// Wakes up at each of these notices instead of waiting out the poll interval.
    pub fn with_notices(mut self, notices: Option<Arc<Mutex<Receiver<()>>>>) -> Self {
        self.notices = notices;
        self
    }

    fn parent(&self) -> Option<Hash32> {
        self.recent.back().filter(|(h, _)| h + 1 == self.next).map(|(_, id)| *id)
    }

    fn remember(&mut self, height: u64, id: Hash32) {
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((height, id));
    }

    /// The fork: walks back over the remembered blocks until the daemon's block at a height is the one
    /// judged there. A daemon that does not answer meanwhile is an `Err`: the walk is tried again once it
    /// does, rather than taking a block it could not see for an orphan. `None` when every judged block is
    /// still the daemon's: no reorganization, an inconsistency.
    fn reorg(&self, daemon_height: u64) -> Result<Option<FollowError>, RpcError> {
        let mut fork = self.next;
        for &(h, id) in self.recent.iter().rev() {
            if h < daemon_height && self.call(move |d| d.block_header_by_height(h))?.hash == id {
                break;
            }
            fork = h;
        }
        if fork == self.recent.front().map_or(self.next, |(h, _)| *h) && self.recent.len() == REMEMBERED {
            return Ok(Some(FollowError::DeepReorg { remembered: REMEMBERED, lowest: fork }));
        }
        let orphaned: Vec<(u64, Hash32)> = self.recent.iter().filter(|(h, _)| *h >= fork).copied().collect();
        if orphaned.is_empty() {
            // Every judged block is still the daemon's: not a reorganization, an inconsistency.
            return Ok(None);
        }
        Ok(Some(FollowError::Reorg { fork, orphaned, daemon_height }))
    }

    fn stopped(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    /// One call to the daemon, made on a thread of its own and waited for only until the run is
    /// interrupted: a daemon that answers slowly (or drips an answer forever) never holds Ctrl-C; the
    /// abandoned call ends by its own timeout. An interrupted call is an error the caller handles as any
    /// other, and then sees the interrupt.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Daemon) -> Result<T, RpcError> + Send + 'static,
    ) -> Result<T, RpcError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let daemon = self.daemon.clone();
        std::thread::Builder::new()
            .name("dualrun-rpc".into())
            .spawn(move || {
                let _ = tx.send(f(&daemon));
            })
            .map_err(|e| RpcError::Unreachable { url: self.daemon.url().into(), detail: e.to_string() })?;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(answer) => return answer,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let detail = "the call's thread ended without an answer".into();
                    return Err(RpcError::Unreachable { url: self.daemon.url().into(), detail });
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if self.stopped() => {
                    let detail = "interrupted while waiting for the daemon's answer".into();
                    return Err(RpcError::Unreachable { url: self.daemon.url().into(), detail });
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Sleeps up to `d`, waking early at an interrupt or a new-block notice.
    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let step = left.min(Duration::from_millis(50));
            match self.notices.as_ref().map(|n| n.lock().unwrap_or_else(|p| p.into_inner())) {
                Some(rx) => {
                    if rx.recv_timeout(step).is_ok() {
                        return;
                    }
                }
                None => std::thread::sleep(step),
            }
        }
    }

    /// The daemon did not answer: said (log, `dualrun_daemon_up`), and waited out with the outage's backoff.
    fn wait_out(&self, outage: &mut Outage, url: &str, e: &RpcError) {
        if self.stopped() {
            // The call was cut by the interrupt: not an outage.
            return;
        }
        self.daemon_state(None);
        let wait = outage.failed(url, e);
        self.pause(wait);
    }

    /// The daemon served, at the next height, a block naming `parent_named` while it serves
    /// `parent_served` below it: logged when first seen, counted, waited out with backoff; an error once it has lasted
    /// the give-up time.
    fn inconsistent(
        &self,
        since: &mut Option<(Instant, Duration)>,
        parent_named: Hash32,
        parent_served: Hash32,
    ) -> Result<(), FollowError> {
        let height = self.next;
        if let Some(m) = &self.metrics {
            m.inconsistent();
        }
        let (first, backoff) = since.get_or_insert_with(|| {
            tracing::warn!(
                height,
                %parent_named,
                %parent_served,
                "the daemon serves a block that does not link to the block it serves below it; asking again with \
                 backoff"
            );
            (Instant::now(), Duration::from_millis(250))
        });
        if first.elapsed() >= self.give_up {
            let seconds = first.elapsed().as_secs();
            return Err(FollowError::Inconsistent { height, parent_named, parent_served, seconds });
        }
        let wait = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        self.pause(wait);
        Ok(())
    }

    fn daemon_state(&self, height: Option<u64>) {
        if let Some(m) = &self.metrics {
            m.daemon(height);
        }
    }
}

/// Backoff and the log lines of a daemon that went away and came back.
struct Outage {
    since: Option<Instant>,
    backoff: Duration,
}

impl Outage {
    fn failed(&mut self, url: &str, e: &RpcError) -> Duration {
        if self.since.is_none() {
            tracing::warn!(daemon = url, error = %e, "the daemon does not answer; waiting for it");
            self.since = Some(Instant::now());
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        wait
    }

    fn answered(&mut self, url: &str, height: u64) {
        if let Some(since) = self.since.take() {
            tracing::warn!(
                daemon = url,
                height,
                down_seconds = since.elapsed().as_secs(),
                "the daemon answers again; following from where the run is"
            );
        }
        self.backoff = Duration::from_millis(250);
    }
}

impl BlockSource for DaemonSource {
    type Error = FollowError;

    fn read(
        &mut self,
        batch: usize,
        deliver: &mut dyn FnMut(Vec<SourceBlock>) -> ControlFlow<()>,
    ) -> Result<(), FollowError> {
        let url = self.daemon.url().to_owned();
        let mut outage = Outage { since: None, backoff: Duration::from_millis(250) };
        let mut inconsistency: Option<(Instant, Duration)> = None;
        loop {
            if self.stopped() || self.to.is_some_and(|t| self.next > t) {
                return Ok(());
            }
            let (available, tip) = match self.call(|d| d.get_info()) {
                Ok(info) => {
                    outage.answered(&url, info.height);
                    self.daemon_state(Some(info.height));
                    (info.height, info.top_block_hash)
                }
                Err(e) => {
                    self.wait_out(&mut outage, &url, &e);
                    continue;
                }
            };
            // The daemon's tip at the run's height is not the block judged there; or its chain is now
            // shorter than what was judged.
            if let Some(parent) = self.parent() {
                if (available == self.next && tip != parent) || available < self.next {
                    match self.reorg(available) {
                        Ok(None) => {
                            // get_info's tip is not the block served at its height: asked again.
                            self.inconsistent(&mut inconsistency, tip, parent)?;
                            continue;
                        }
                        Ok(Some(reorg)) => return Err(reorg),
                        Err(e) => {
                            self.wait_out(&mut outage, &url, &e);
                            continue;
                        }
                    }
                }
            }
            let mut out = Vec::new();
            while self.next < available && out.len() < batch && !self.to.is_some_and(|t| self.next > t) {
                let next = self.next;
                let (blob, header) = match self.call(move |d| d.block(next)) {
                    Ok(b) => b,
                    Err(_) if self.stopped() => break,
                    Err(e) => {
                        self.daemon_state(None);
                        let wait = outage.failed(&url, &e);
                        if out.is_empty() {
                            self.pause(wait);
                        }
                        break;
                    }
                };
                if self.parent().is_some_and(|p| p != header.prev_hash) {
                    if !out.is_empty() {
                        // Judge what came before; the reorganization is seen again at the next read.
                        break;
                    }
                    match self.reorg(available) {
                        Ok(None) => {
                            let parent = self.parent().unwrap_or_default();
                            self.inconsistent(&mut inconsistency, header.prev_hash, parent)?;
                            break;
                        }
                        Ok(Some(reorg)) => return Err(reorg),
                        Err(e) => {
                            self.wait_out(&mut outage, &url, &e);
                            break;
                        }
                    }
                }
                inconsistency = None;
                self.remember(self.next, header.hash);
                out.push(SourceBlock { height: self.next, blob: blob.into(), stored_id: header.hash });
                self.next += 1;
            }
            if out.is_empty() {
                if self.next >= available {
                    self.pause(self.poll);
                }
                continue;
            }
            if deliver(out).is_break() {
                return Ok(());
            }
        }
    }
}
