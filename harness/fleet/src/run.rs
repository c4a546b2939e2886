//! A live watch: one thread per node polls it every `poll_ms` and sends what it saw; the watch takes
//! each observation in arrival order, with the time since the start, and ticks between them. It ends when
//! `stop` is set (Ctrl-C) or after `duration`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
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
    let mut threads = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let (tx, stop, window) = (tx.clone(), Arc::clone(&stop), settings.window);
        let daemon = Daemon::new(&node.url, settings.rpc_timeout());
        let spawned = std::thread::Builder::new().name(format!("fleet-{}", node.name)).spawn(move || {
            let mut poller = Poller::new(daemon, window);
            let mut next = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let seen = poller.poll();
                if tx.send((index, seen, Instant::now())).is_err() {
                    return;
                }
                next += poll;
                let now = Instant::now();
                if next < now {
                    next = now; // a slow answer: the next poll at once, not a burst to catch up
                }
                sleep_until(next, &stop);
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
    let ran = start.elapsed();
    (watch, ran)
}

/// Sleeps until `at`, waking early when `stop` is set.
fn sleep_until(at: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}
