//! `fleet`: what watching a fleet costs and how fast it sees a split. `--nodes` simulated daemons
//! (the test kit's fake daemon, headers only, in this process) on loopback are watched by a real
//! `dualrun fleet` child; its CPU time over an idle stretch (no new blocks) gives its cost per node, read
//! from `/proc/PID/stat`. Then, `--splits` times, one daemon switches to a branch deep enough to be a
//! split, and the time from the switch to the `fleet.split` record in `findings.jsonl` (synced as written)
//! is its detection latency, next to the poll interval (goal: at most 2 intervals).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dualrun_testkit::fake_daemon::{header_chain, FakeDaemon};

/// The child's CPU time (user + system), in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').context("/proc/PID/stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / hz)
}

fn split_records(out: &Path, state: &str) -> usize {
    std::fs::read_to_string(out.join("findings.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"kind\":\"fleet.split\"") && l.contains(&format!("\"state\":\"{state}\"")))
        .count()
}

/// Waits until `count` is reached, checking every 2 ms; the instant it was seen.
fn wait_for(what: &str, limit: Duration, mut reached: impl FnMut() -> bool) -> Result<Instant> {
    let deadline = Instant::now() + limit;
    while !reached() {
        if Instant::now() > deadline {
            bail!("not within {limit:?}: {what}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(Instant::now())
}

pub(crate) fn fleet(nodes: usize, poll_ms: u64, idle_seconds: u64, splits: usize) -> Result<()> {
    let dualrun = crate::workspace_target().join("dualrun");
    let main = header_chain(&[], 100, "main");
    let daemons: Vec<FakeDaemon> = (0..nodes).map(|_| FakeDaemon::start(main.clone(), None)).collect();
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("fleet");
    let mut args = vec!["fleet".to_owned(), "--out".into(), out.display().to_string()];
    for (i, d) in daemons.iter().enumerate() {
        args.extend(["--daemon".into(), format!("n{i}={}", d.url)]);
    }
    args.extend(["--poll-ms", &poll_ms.to_string(), "--split-depth", "2"].map(String::from));
    let mut child = Command::new(&dualrun).args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    let pid = child.id();
    println!("fleet: {nodes} simulated daemons on loopback, poll every {poll_ms} ms, one dualrun fleet child");

    // Idle: every node answered its window; no new blocks.
    std::thread::sleep(Duration::from_secs(5));
    let (cpu0, t0) = (cpu_seconds(pid)?, Instant::now());
    std::thread::sleep(Duration::from_secs(idle_seconds));
    let (cpu1, wall) = (cpu_seconds(pid)?, t0.elapsed().as_secs_f64());
    let share = (cpu1 - cpu0) / wall * 100.0;
    println!(
        "idle cost: {:.3} % of a core for {nodes} nodes over {wall:.1} s ({:.4} % per node; goal for 50 nodes: <= 1 %)",
        share,
        share / nodes as f64
    );

    // Detection: one daemon forks 5 below the tip with a branch of 8 (deeper than --split-depth 2 on both
    // sides), then heals.
    let branch = header_chain(&main[..95], 8, "branch");
    let mut latencies = Vec::new();
    for round in 0..splits {
        let node = &daemons[round % nodes];
        let switched = Instant::now();
        node.set_chain(branch.clone());
        let seen = wait_for("the split record", Duration::from_secs(30), || split_records(&out, "open") > round)?;
        latencies.push(seen.duration_since(switched));
        node.set_chain(main.clone());
        wait_for("the split closed", Duration::from_secs(30), || split_records(&out, "closed") > round)?;
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let _ = child.wait();
    if latencies.is_empty() {
        return Ok(());
    }
    latencies.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let p50 = &latencies[latencies.len() / 2];
    let max = latencies.last().expect("not empty");
    println!(
        "detection latency (branch served -> fleet.split record synced), {} splits: p50 {:.0} ms ({:.2} polls), max {:.0} ms ({:.2} polls); goal <= 2 polls",
        latencies.len(),
        ms(p50),
        ms(p50) / poll_ms as f64,
        ms(max),
        ms(max) / poll_ms as f64
    );
    Ok(())
}
