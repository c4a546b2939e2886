//! `dualrun fleet`: every node of a fleet followed together; findings as they happen, into a fleet run
//! directory, with metrics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use dualrun_core::UtcTime;
use dualrun_fleet::metrics::FleetMetricsObserver;
use dualrun_fleet::{
    Fanout, FleetEvent, FleetManifest, FleetNode, FleetObserver, FleetRunWriter, FleetSettings, Watch,
};
use dualrun_rundir::fleet::dir::FORMAT;

use crate::Outcome;

#[derive(Args)]
pub(crate) struct FleetArgs {
    /// A node: NAME=URL of its RPC (e.g. node-1=http://127.0.0.1:18081); repeat for each.
    #[arg(long = "daemon", value_name = "NAME=URL", required = true, num_args = 1..)]
    daemons: Vec<FleetNode>,
    /// The fleet run directory (default: reports/fleet-<UTC time>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "HOST:PORT")]
    metrics: Option<String>,
    /// Milliseconds between two polls of a node.
    #[arg(long, value_name = "N", default_value_t = FleetSettings::default().poll_ms)]
    poll_ms: u64,
    /// A split is reported when nodes hold different blocks more than K blocks below both tips.
    #[arg(long, value_name = "K", default_value_t = FleetSettings::default().split_depth)]
    split_depth: u64,
    /// A node more than N blocks below the highest…
    #[arg(long, value_name = "N", default_value_t = FleetSettings::default().behind_blocks)]
    behind_blocks: u64,
    /// …for longer than T seconds is behind.
    #[arg(long, value_name = "T", default_value_t = FleetSettings::default().behind_seconds)]
    behind_seconds: u64,
    /// A node that does not answer for this many seconds is unreachable.
    #[arg(long, value_name = "S", default_value_t = FleetSettings::default().unreachable_seconds)]
    unreachable_seconds: u64,
    /// Heights kept per node below its tip (the deepest fork seen whole).
    #[arg(long, value_name = "N", default_value_t = FleetSettings::default().window)]
    window: u64,
    /// A node's ZMQ publisher (monerod --zmq-pub), NAME=tcp://HOST:PORT: its new blocks are noticed at
    /// once instead of at the next poll. Repeat for each node that publishes.
    #[arg(long, value_name = "NAME=ENDPOINT")]
    zmq: Vec<String>,
    /// Stop after this many seconds (default: at Ctrl-C). Either way the run ends complete.
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
}

/// Prints findings as they happen (stdout) and nodes going down and up (stderr).
struct Printer;

impl FleetObserver for Printer {
    fn observe(&mut self, event: &FleetEvent<'_>, watch: &Watch) {
        let name = |i: usize| watch.nodes()[i].node.name.as_str();
        match event {
            FleetEvent::Finding(r) => println!("[{:>8.1} s] {}", r.t_ms as f64 / 1000.0, r.finding),
            FleetEvent::NodeDown { node, error } => eprintln!("dualrun: {} does not answer: {error}", name(*node)),
            FleetEvent::NodeUp { node } => eprintln!("dualrun: {} answers", name(*node)),
            FleetEvent::Blocks { .. } => {}
        }
    }
}

pub(crate) fn run(a: FleetArgs) -> Result<Outcome> {
    dualrun_terminal::init_stderr_logging();
    let settings = FleetSettings {
        poll_ms: a.poll_ms,
        split_depth: a.split_depth,
        behind_blocks: a.behind_blocks,
        behind_seconds: a.behind_seconds,
        unreachable_seconds: a.unreachable_seconds,
        window: a.window,
    };
    settings.check()?;
    let mut names: Vec<&str> = a.daemons.iter().map(|n| n.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!("--daemon {}: the name is given twice", w[0]);
    }
    let mut daemons = a.daemons.clone();
    for spec in &a.zmq {
        let (name, endpoint) =
            spec.split_once('=').with_context(|| format!("--zmq {spec:?}: expected NAME=tcp://HOST:PORT"))?;
        let node = daemons
            .iter_mut()
            .find(|n| n.name == name)
            .with_context(|| format!("--zmq {spec:?}: no --daemon is named {name:?}"))?;
        node.zmq = Some(endpoint.to_owned());
    }
    let duration = match a.duration {
        Some(s) if !(s > 0.0 && s.is_finite()) => anyhow::bail!("--duration must be a positive number of seconds"),
        s => s.map(Duration::from_secs_f64),
    };
    let started_unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let started_at = UtcTime::from_unix(started_unix).stamp();
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("reports").join(format!("fleet-{started_at}")));
    let manifest = FleetManifest {
        format: FORMAT.into(),
        tool: dualrun_rundir::Tool::this(),
        nodes: daemons.clone(),
        settings: settings.clone(),
        started_at,
        ended_at: None,
        complete: false,
        files: Default::default(),
    };
    let mut writer = FleetRunWriter::create(&out, manifest).with_context(|| format!("{}", out.display()))?;
    let names: Vec<String> = daemons.iter().map(|n| n.name.clone()).collect();
    let mut metrics = match &a.metrics {
        Some(addr) => {
            let m = Arc::new(dualrun_metrics::FleetMetrics::new(&names));
            let server = dualrun_metrics::serve(addr, m.clone())?;
            eprintln!("dualrun: metrics at http://{}/metrics", server.local_addr());
            Some(FleetMetricsObserver(m))
        }
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(2);
        }
        eprintln!("\ndualrun: stopping: writing the fleet run's summary (Ctrl-C again to quit now)");
    });
    eprintln!("dualrun: watching {} nodes into {}", daemons.len(), out.display());
    let mut printer = Printer;
    let mut observers: Vec<&mut dyn FleetObserver> = vec![&mut writer, &mut printer];
    if let Some(m) = metrics.as_mut() {
        observers.push(m);
    }
    let (watch, ran) =
        dualrun_fleet::run::watch(daemons, settings, started_unix, stop, duration, &mut Fanout(observers));
    let summary = dualrun_fleet::summary(&watch, ran.as_secs_f64());
    let ended = UtcTime::from_unix(started_unix + ran.as_secs()).stamp();
    let dir = writer.finish(&summary, ended)?;
    for n in &summary.nodes {
        let tip = n.tip.map_or("-".to_owned(), |t| t.to_string());
        outln!(
            "{}: {} at height {tip}, up {:.0} s, down {:.0} s, {} reorgs, lag at most {}",
            n.name,
            if n.reached { "reached" } else { "NEVER reached" },
            n.up_seconds,
            n.down_seconds,
            n.reorgs,
            n.max_lag
        )?;
    }
    let counts: Vec<String> = summary.findings.iter().map(|(k, v)| format!("{k} {v}")).collect();
    outln!(
        "fleet {} over {:.0} s ({}); {}",
        if summary.agreed { "agreed" } else { "did NOT agree" },
        summary.seconds,
        counts.join(", "),
        dir.display()
    )?;
    Ok(Outcome::clean_if(summary.agreed))
}
