//! `dualrun follow` against a real monerod (regtest, loopback) while `leader produce` makes blocks with
//! faults: the live run records exactly what a cold replay of the daemon's database records, through a
//! `kill -9` of follow and a restart of the daemon; `/metrics` passes `promtool check metrics`; SIGTERM
//! stops it resumable.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `dualrun follow` in the background (its output in `log`).
fn follow(daemon: &str, net: &Network, out: &Path, extra: &[&str], log: &Path) -> Child {
    let mut args = vec!["follow", "--daemon", daemon, "--profile", s(&net.profile), "--out", s(out)];
    if !extra.contains(&"--poll-ms") {
        args.extend(["--poll-ms", "50"]);
    }
    args.extend_from_slice(extra);
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(&args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start follow")
}

/// Waits until the run's checkpoint has judged every block below `height` (`log`: follow's output).
fn wait_judged(out: &Path, height: u64, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let next = std::fs::read(out.join("checkpoint.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["next_height"].as_u64())
            .unwrap_or(0);
        if next >= height {
            return;
        }
        let said = || std::fs::read_to_string(log).unwrap_or_default();
        assert!(Instant::now() < deadline, "follow did not judge up to {height} within 60 s (at {next}):\n{}", said());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A cold replay of the daemon's stopped database over `from..=to` into `out` (exit 1: the faults).
fn cold_replay(daemon: &Monerod, net: &Network, to: u64, out: &Path) {
    let to = to.to_string();
    let r = dualrun(&[
        "replay",
        "--chain",
        s(&daemon.lmdb()),
        "--profile",
        s(&net.profile),
        "--from",
        "1",
        "--to",
        &to,
        "--out",
        s(out),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// The chain inputs a run's manifest names.
fn chain_of(dir: &Path) -> serde_json::Value {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["inputs"]["chain"].clone()
}

#[test]
fn live_records_equal_a_cold_replay_through_a_kill_and_a_daemon_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(tmp.path(), "round-robin", 1, 0);
    let node = tmp.path().join("node");
    let rpc_port = free_port();
    let mut daemon = Monerod::start_at(&node, rpc_port, false);
    daemon.wait_ready();
    let url = daemon.rpc_url.clone();
    let live = tmp.path().join("live");

    // Session 1: follows blocks 1..=8 as they are made, then is killed with SIGKILL.
    let log1 = tmp.path().join("follow1.log");
    let mut first = follow(&url, &net, &live, &["--from", "1"], &log1);
    produce(&url, &net, 8, &["3:missing", "6:bad-signature"]);
    wait_judged(&live, 9, &log1);
    first.kill().unwrap();
    first.wait().unwrap();
    // Blocks made while nothing follows.
    produce(&url, &net, 3, &["10:unknown"]);

    // Session 2: resumes to height 20; the daemon is restarted in the middle.
    let log2 = tmp.path().join("follow2.log");
    let mut second = follow(&url, &net, &live, &["--resume", "--to", "20"], &log2);
    produce(&url, &net, 3, &[]);
    wait_judged(&live, 15, &log2);
    daemon.stop();
    std::thread::sleep(Duration::from_millis(1500));
    let mut daemon = Monerod::start_at(&node, rpc_port, true);
    daemon.wait_ready();
    produce(&url, &net, 6, &["17:not-scheduled"]);
    let code = wait_exit(&mut second, Duration::from_secs(90), "the resumed follow");
    let said = std::fs::read_to_string(&log2).unwrap();
    assert_eq!(code, 1, "complete with records:\n{said}");
    let run_log = std::fs::read_to_string(live.join("run.log")).unwrap();
    assert!(run_log.contains("the daemon does not answer"), "the outage is logged:\n{run_log}");
    assert!(run_log.contains("the daemon answers again"), "and the return:\n{run_log}");

    // Re-run from the daemon: the records follow from the inputs.
    let r = dualrun(&["report", "verify", s(&live), "--rerun"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The cold replay of the daemon's own database over the same heights.
    daemon.stop();
    let cold = tmp.path().join("cold");
    cold_replay(&daemon, &net, 20, &cold);
    let (live_csv, cold_csv) =
        (std::fs::read(live.join("divergences.csv")).unwrap(), std::fs::read(cold.join("divergences.csv")).unwrap());
    assert!(
        live_csv == cold_csv,
        "live:\n{}\ncold:\n{}",
        String::from_utf8_lossy(&live_csv),
        String::from_utf8_lossy(&cold_csv)
    );
    assert_eq!(String::from_utf8_lossy(&live_csv).lines().count(), 1 + 4, "a record per fault");
    let (l, c) = (chain_of(&live), chain_of(&cold));
    assert_eq!((&l["from"], &l["to"], &l["blocks"]), (&c["from"], &c["to"], &c["blocks"]));
    assert_eq!(l["chain_digest"], c["chain_digest"], "the live run names the same blocks");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(live.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["complete"].as_bool(), summary["sessions"].as_u64()), (Some(true), Some(2)), "{summary}");
}

#[test]
fn metrics_pass_promtool_and_sigterm_stops_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(tmp.path(), "round-robin", 1, 0);
    let mut daemon = Monerod::start(&tmp.path().join("node"));
    daemon.wait_ready();
    let url = daemon.rpc_url.clone();
    let out = tmp.path().join("live");
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let log = tmp.path().join("follow.log");
    let mut child =
        follow(&url, &net, &out, &["--from", "1", "--metrics", &addr, "--legacy", "builtin:leader-v1"], &log);
    produce(&url, &net, 4, &["2:missing"]);
    wait_judged(&out, 5, &log);

    let mut stream = std::net::TcpStream::connect(&addr).expect("metrics endpoint");
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("text/plain; version=0.0.4"), "{head}");
    for line in [
        "dualrun_blocks_total{verifier=\"candidate\"} 4",
        "dualrun_divergences_total{class=\"split\"} 0",
        "dualrun_judged_height 4",
        "dualrun_daemon_height 5",
        "dualrun_lag_blocks 0",
        "dualrun_daemon_up 1",
        "dualrun_mode_info{mode=\"shadow\"} 1",
        "dualrun_verify_seconds_count{verifier=\"legacy\"} 4",
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line:?} in:\n{body}");
    }
    assert!(body.contains("process_resident_memory_bytes") && body.contains("process_cpu_seconds_total"));
    // Both verifiers are the built-in one here: no divergence; the faulty block is rejected by both.
    let mut promtool = Command::new(dualrun_testkit::tool::require(dualrun_testkit::tool::PROMTOOL))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package: apt-get install -y prometheus)");
    promtool.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // SIGTERM: the block in flight is finished, a checkpoint written, exit 2 with how to resume.
    // SAFETY: kill on a child we started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let code = wait_exit(&mut child, Duration::from_secs(90), "follow after SIGTERM");
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("--resume"), "{said}");
    // A resume cannot end the run below what it has judged.
    let base = ["follow", "--daemon", &url, "--profile", s(&net.profile), "--out", s(&out), "--resume"];
    let r = dualrun(&[&base[..], &["--to", "2", "--legacy", "builtin:leader-v1"]].concat());
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("has already judged up to height 4"), "{}", r.stderr);
    let r = dualrun(&[
        "follow",
        "--daemon",
        &url,
        "--profile",
        s(&net.profile),
        "--out",
        s(&out),
        "--resume",
        "--to",
        "4",
        "--legacy",
        "builtin:leader-v1",
    ]);
    assert_eq!(r.code, 0, "resumed to 4, complete, no divergence: {}{}", r.stdout, r.stderr);
}

/// The daemon drops three judged blocks (`/pop_blocks`) and grows a longer, different branch: follow
/// records the reorganization (fork, orphaned blocks) in `reorgs.jsonl`, keeps the orphaned blocks'
/// records, judges the new branch, and — the orphaned records aside — ends with exactly the records and
/// chain digest of a cold replay of the daemon's final chain.
#[test]
fn a_reorganization_keeps_the_orphaned_records_and_judges_the_new_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(tmp.path(), "round-robin", 1, 0);
    let mut daemon = Monerod::start(&tmp.path().join("node"));
    daemon.wait_ready();
    let url = daemon.rpc_url.clone();
    let live = tmp.path().join("live");
    let log = tmp.path().join("follow.log");
    let mut child = follow(&url, &net, &live, &["--from", "1", "--to", "10"], &log);
    produce(&url, &net, 6, &["5:missing"]);
    wait_judged(&live, 7, &log);
    assert_eq!(daemon.rpc().pop_blocks(3).unwrap(), 4, "the daemon's tip is back at 3");
    // A different block at 4 (a leader fault), so the new branch differs from the judged one.
    produce(&url, &net, 7, &["4:unknown"]);
    let code = wait_exit(&mut child, Duration::from_secs(90), "follow");
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, 1, "{said}");

    let events: Vec<serde_json::Value> = std::fs::read_to_string(live.join("reorgs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["fork_height"], 4);
    let orphaned: Vec<(u64, String)> = events[0]["orphaned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["height"].as_u64().unwrap(), o["block_id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(orphaned.iter().map(|o| o.0).collect::<Vec<_>>(), [4, 5, 6]);
    // Re-run from the daemon: the orphaned records aside, the records follow from the inputs.
    let r = dualrun(&["report", "verify", s(&live), "--rerun"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    daemon.stop();
    let cold = tmp.path().join("cold");
    cold_replay(&daemon, &net, 10, &cold);
    let live_csv = std::fs::read_to_string(live.join("divergences.csv")).unwrap();
    let is_orphaned = |line: &str| {
        let mut cols = line.split(',');
        let (h, id) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
        orphaned.iter().any(|(oh, oid)| h == oh.to_string() && id == oid)
    };
    let kept: Vec<&str> = live_csv.lines().filter(|l| !is_orphaned(l)).collect();
    let orphaned_records: Vec<&str> = live_csv.lines().filter(|l| is_orphaned(l)).collect();
    assert_eq!(orphaned_records.len(), 1, "the old block 5 (no leader record) keeps its record:\n{live_csv}");
    assert!(orphaned_records[0].starts_with("5,"), "{live_csv}");
    let cold_csv = std::fs::read_to_string(cold.join("divergences.csv")).unwrap();
    assert_eq!(kept, cold_csv.lines().collect::<Vec<_>>(), "the new branch's records are the cold replay's");
    assert_eq!(
        chain_of(&live)["chain_digest"],
        chain_of(&cold)["chain_digest"],
        "the live run names the daemon's final chain"
    );
    let run_log = std::fs::read_to_string(live.join("run.log")).unwrap();
    assert!(run_log.contains("the daemon's chain reorganized"), "{run_log}");
}

/// With the daemon's ZMQ publisher, new blocks wake follow: polls an hour apart, so once follow has
/// judged the chain it started on, a new block is judged only by a notice, whatever the machine's load.
/// A ZMQ subscriber misses what is published before its subscription reaches the publisher, so blocks
/// are made after it says it subscribed, in two rounds: each notice wakes it and it reads up to the tip.
#[test]
fn zmq_notices_wake_follow_at_once() {
    let _one_at_a_time = ZMQ_PUBLISHER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let net = network(tmp.path(), "round-robin", 1, 0);
    let (mut daemon, endpoint) = Monerod::start_publishing(&tmp.path().join("node"));
    daemon.wait_ready();
    let url = daemon.rpc_url.clone();
    let out = tmp.path().join("live");
    let log = tmp.path().join("follow.log");
    let args =
        ["--from", "1", "--to", "5", "--poll-ms", "3600000", "--zmq", &endpoint, "--legacy", "builtin:leader-v1"];
    let mut child = follow(&url, &net, &out, &args, &log);
    let subscribed =
        || std::fs::read_to_string(&log).unwrap_or_default().contains("subscribed to the daemon's new-block notices");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !subscribed() {
        assert!(Instant::now() < deadline, "follow did not subscribe within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    produce(&url, &net, 1, &[]);
    produce(&url, &net, 4, &[]);
    let code = wait_exit(&mut child, Duration::from_secs(90), "follow with ZMQ (the next poll an hour away)");
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("subscribed to the daemon's new-block notices"), "{said}");
}
