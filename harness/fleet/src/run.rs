//! A live watch: one thread per node polls it every `poll_ms` (at once on a ZMQ new-block notice, for a
//! node given one) and sends what it saw; the watch takes
//! each observation in arrival order, with the time since the start, and ticks between them. It ends when
//! `stop` is set (Ctrl-C) or after `duration`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

use dualrun_rpc::Daemon;

use crate::config::{FleetNode, FleetSettings};
use crate::poll::{Observation, Poller};
use crate::watch::{FleetObserver, Watch};

/// Watches `nodes` until `stop` is set or `duration` has passed; every event goes to `out`. Returns the
/// watch (its state at the end) and how long it ran.
pub fn watch(
    nodes: Vec<FleetNode>,
    settings: FleetSettings,
    started_unix: u64,
    stop: Arc<AtomicBool>,
    duration: Option<Duration>,
    out: &mut dyn FleetObserver,
) -> (Watch, Duration) {
    let start = Instant::now();
    let poll = Duration::from_millis(settings.poll_ms);
    let (tx, rx) = mpsc::channel::<(usize, Observation, Instant)>();
    let wake = Arc::new(Wake::default());
    let mut threads = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let (tx, stop, window, wake) = (tx.clone(), Arc::clone(&stop), settings.window, Arc::clone(&wake));
        let daemon = Daemon::new(&node.url, settings.rpc_timeout());
        // New-block notices, when the node publishes them: a notice ends the poller's sleep at once.
        let notices = node.zmq.as_deref().and_then(|endpoint| match dualrun_rpc::zmq::notices(endpoint) {
            Ok(rx) => Some(rx),
            Err(e) => {
                tracing::warn!(node = node.name, endpoint, error = %e, "ZMQ notices unavailable; polling only");
                None
            }
        });
        let spawned = std::thread::Builder::new().name(format!("fleet-{}", node.name)).spawn(move || {
            let mut poller = Poller::new(daemon, window);
            let mut next = Instant::now();
            let mut last_unchanged = false;
            while !stop.load(Ordering::Relaxed) {
                let seen = poller.poll();
                // An unchanged node after an unchanged poll says nothing new: not sent, so an idle fleet
                // costs a poll a node and nothing more (its up time is settled at the end).
                let unchanged = matches!(seen, Observation::Unchanged { .. });
                if !(unchanged && last_unchanged) && tx.send((index, seen, Instant::now())).is_err() {
                    return;
                }
                last_unchanged = unchanged;
                next += poll;
                let now = Instant::now();
                if next < now {
                    next = now; // a slow answer: the next poll at once, not a burst to catch up
                }
                match &notices {
                    Some(rx) => {
                        let left = next.saturating_duration_since(Instant::now());
                        if rx.recv_timeout(left).is_ok() {
                            next = Instant::now(); // a new block: poll now, then every interval from here
                        }
                    }
                    None => wake.sleep_until(next, &stop),
                }
            }
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => tracing::error!(node = node.name, error = %e, "cannot start a poller thread"),
        }
    }
    drop(tx);
    let mut watch = Watch::new(nodes, settings, started_unix);
    let ms = |at: Instant| at.duration_since(start).as_millis() as u64;
    loop {
        if stop.load(Ordering::Relaxed) || duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        match rx.recv_timeout(poll.min(Duration::from_millis(250))) {
            Ok((index, seen, at)) => watch.observe(index, seen, ms(at), out),
            Err(mpsc::RecvTimeoutError::Timeout) => watch.tick(ms(Instant::now()), out),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    wake.all();
    let ran = start.elapsed();
    watch.settle(ms(Instant::now()));
    (watch, ran)
}

/// Where the pollers sleep between polls: each wakes once per poll (an idle fleet costs one wake-up a
/// node a poll), or at once when the watch ends.
#[derive(Default)]
struct Wake {
    lock: Mutex<()>,
    bell: Condvar,
}

impl Wake {
    /// Sleeps until `at`, or until the watch ends.
    fn sleep_until(&self, at: Instant, stop: &AtomicBool) {
        let mut guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while !stop.load(Ordering::Relaxed) {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            guard = match self.bell.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Wakes every sleeper.
    fn all(&self) {
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.bell.notify_all();
    }
}
