//! `dualrun fleet` on a real migration network: three regtest monerods as one P2P network on loopback
//! (each listing only the other two with `--add-exclusive-node`), the leader producer submitting to node
//! 1 and all three converging; no daemon holds a socket to a non-loopback address (`/proc/net/tcp`).
//! Then a partition: node 3 restarted `--offline` mines its own branch while node 1 goes on; `fleet`
//! reports the split at exactly the heights where the ids differ, naming the nodes; healed (node 3
//! restarted with its peers) node 3 reorganizes, the reorg is recorded and the split closes. Its
//! `/metrics` say the same and pass `promtool check metrics`.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dualrun_testkit::{Monerod, MonerodConfig, Peers};

use crate::common::*;

/// The remote and local addresses of every TCP socket process `pid` holds (`/proc/PID/fd` matched
/// against `/proc/net/tcp` and `tcp6` by inode).
fn tcp_sockets(pid: u32) -> Vec<(IpAddr, IpAddr, String)> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.iter().any(|i| i == f[9]) {
                found.push((address(f[1]), address(f[2]), line.to_owned()));
            }
        }
    }
    found
}

/// `0100007F:1F90` (IPv4) or 32 hex digits (IPv6), each 32-bit word little-endian, then `:PORT`.
fn address(field: &str) -> IpAddr {
    let hex = field.split(':').next().unwrap();
    let words: Vec<[u8; 4]> =
        (0..hex.len() / 8).map(|i| u32::from_str_radix(&hex[8 * i..8 * i + 8], 16).unwrap().to_le_bytes()).collect();
    match words.len() {
        1 => IpAddr::from(words[0]),
        _ => {
            let bytes: Vec<u8> = words.concat();
            let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap());
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
    }
}

fn assert_loopback_only(daemons: &[Monerod]) {
    for d in daemons {
        let sockets = tcp_sockets(d.child.id());
        assert!(!sockets.is_empty(), "monerod {} holds no TCP socket", d.child.id());
        for (local, remote, line) in &sockets {
            let ok = |a: &IpAddr| a.is_loopback() || a.is_unspecified();
            assert!(ok(remote) && ok(local), "monerod {} has a socket off loopback: {line}", d.child.id());
        }
    }
}

fn tip(d: &Monerod) -> (u64, String) {
    let info = d.rpc().get_info().expect("get_info");
    (info.height - 1, info.top_block_hash.to_string())
}

/// Waits (at most 90 s) until `check` holds: `Ok`, or `Err` saying what it saw, which a timeout shows.
fn wait_until(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while let Err(saw) = check() {
        assert!(Instant::now() < deadline, "not within 90 s: {what}{saw}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits (at most 90 s) until `check` holds.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    wait_until(what, || if check() { Ok(()) } else { Err(String::new()) });
}

/// Waits (at most 90 s) until the nodes' tips satisfy `check`; a timeout names every node's tip.
fn wait_for_tips(what: &str, nodes: &[Monerod], check: impl Fn(&[(u64, String)]) -> bool) {
    wait_until(what, || {
        let tips: Vec<(u64, String)> = nodes.iter().map(tip).collect();
        if check(&tips) {
            Ok(())
        } else {
            Err(format!("; the tips (height, id) of n1..: {tips:?}"))
        }
    });
}

/// The fleet's `/metrics` text.
fn scrape(addr: &str) -> String {
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return String::new() };
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

fn has_line(body: &str, line: &str) -> bool {
    body.lines().any(|l| l == line)
}

fn findings(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("findings.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn three_nodes_converge_split_and_heal() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let configs: Vec<MonerodConfig> = (0..3).map(|_| MonerodConfig::regtest()).collect();
    let peers_of =
        |i: usize| -> Peers { Peers::Exclusive((0..3).filter(|j| *j != i).map(|j| configs[j].p2p_port).collect()) };
    let mut nodes: Vec<Monerod> =
        (0..3).map(|i| Monerod::launch(dirs[i].path(), &configs[i].with_peers(peers_of(i)))).collect();
    for n in &mut nodes {
        n.wait_ready();
    }
    let net = network(tmp.path(), "round-robin", 1, 0);

    // The fleet watch, in the background for the whole story.
    let out = tmp.path().join("fleet");
    let log = std::fs::File::create(tmp.path().join("fleet.log")).unwrap();
    let mut args = vec!["fleet".to_owned()];
    for (i, n) in nodes.iter().enumerate() {
        args.extend(["--daemon".to_owned(), format!("n{}={}", i + 1, n.rpc_url)]);
    }
    args.extend(
        ["--out", s(&out), "--poll-ms", "250", "--split-depth", "2", "--unreachable-seconds", "120"].map(String::from),
    );
    let metrics = format!("127.0.0.1:{}", dualrun_testkit::monerod::free_port());
    args.extend(["--metrics".to_owned(), metrics.clone()]);
    let mut fleet = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(&args)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();

    // The producer submits to node 1; all three converge.
    produce(&nodes[0].rpc_url, &net, 5, &[]);
    wait_for_tips("the three nodes at node 1's tip, 5", &nodes, |t| t[0].0 == 5 && t.iter().all(|n| *n == t[0]));
    assert_loopback_only(&nodes);
    wait_for("the metrics at the converged tip", || {
        let body = scrape(&metrics);
        has_line(&body, "dualrun_fleet_nodes_up 3") && has_line(&body, "dualrun_fleet_node_height{node=\"n3\"} 5")
    });
    let body = scrape(&metrics);
    let mut promtool = Command::new(dualrun_testkit::tool::require(dualrun_testkit::tool::PROMTOOL))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(checked.status.success(), "promtool check metrics: {}", String::from_utf8_lossy(&checked.stderr));

    // Partition: node 3 alone mines 4 blocks (a block without a leader record first, so its branch is
    // its own) while node 1 produces 7.
    nodes[2].restart(Peers::Offline);
    produce(&nodes[2].rpc_url, &net, 4, &["6:missing"]);
    produce(&nodes[0].rpc_url, &net, 7, &[]);
    wait_for_tips("node 2 at node 1's tip, 12", &nodes, |t| t[0].0 == 12 && t[1] == t[0]);
    let (main_tip, branch_tip) = (tip(&nodes[0]).0, tip(&nodes[2]).0);
    assert_eq!((main_tip, branch_tip), (12, 9));
    let rpc1 = nodes[0].rpc();
    let rpc3 = nodes[2].rpc();
    let differing: Vec<u64> = (1..=9)
        .filter(|h| rpc1.block_header_by_height(*h).unwrap().hash != rpc3.block_header_by_height(*h).unwrap().hash)
        .collect();
    assert_eq!(differing, vec![6, 7, 8, 9], "the branches differ from height 6 on");
    wait_for("fleet's split finding", || findings(&out).iter().any(|f| f["kind"] == "fleet.split"));
    let split = findings(&out).into_iter().find(|f| f["kind"] == "fleet.split").unwrap();
    assert_eq!((split["state"].as_str(), split["fork_height"].as_u64()), (Some("open"), Some(6)), "{split}");
    assert_eq!(split["last_height"], 9, "{split}");
    // Opened when the first node of the main branch was seen beside node 3 (node 2 syncs from node 1,
    // and the nodes are polled in turn): node 3 alone on its side, its own block at the fork.
    let branch6 = rpc3.block_header_by_height(6).unwrap().hash.to_string();
    let groups = split["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{split}");
    let own = groups.iter().find(|g| g["id"] == branch6.as_str()).expect("node 3's side");
    assert_eq!(own["nodes"], serde_json::json!(["n3"]), "{split}");
    let body = scrape(&metrics);
    assert!(
        has_line(&body, "dualrun_fleet_split_open 1") && has_line(&body, "dualrun_fleet_split_fork_height 6"),
        "{body}"
    );

    // Heal: node 3 back with its peers reorganizes onto the longer chain; the split closes.
    nodes[2].restart(peers_of(2));
    wait_for_tips("node 3 at node 1's tip", &nodes, |t| t[2] == t[0]);
    wait_for("the split closed", || {
        findings(&out).iter().any(|f| f["kind"] == "fleet.split" && f["state"] == "closed")
    });
    let all = findings(&out);
    let reorg = all.iter().find(|f| f["kind"] == "fleet.reorg").expect("node 3's reorg recorded");
    assert_eq!((reorg["node"].as_str(), reorg["fork_height"].as_u64()), (Some("n3"), Some(6)), "{reorg}");
    assert_eq!(reorg["orphaned"].as_array().unwrap().len(), 4, "{reorg}");
    let closed = all.iter().find(|f| f["kind"] == "fleet.split" && f["state"] == "closed").unwrap();
    assert_eq!((closed["fork_height"].as_u64(), closed["last_height"].as_u64()), (Some(6), Some(9)), "{closed}");
    // By the time it closed, every node was seen on its side.
    assert_eq!(closed["groups"][0]["nodes"], serde_json::json!(["n1", "n2"]), "{closed}");
    assert_eq!(closed["groups"][1]["nodes"], serde_json::json!(["n3"]), "{closed}");
    assert_eq!(closed["groups"][1]["id"], branch6.as_str(), "{closed}");
    assert_loopback_only(&nodes);
    wait_for("the metrics after the heal", || {
        let body = scrape(&metrics);
        has_line(&body, "dualrun_fleet_split_open 0") && has_line(&body, "dualrun_fleet_reorgs_total{node=\"n3\"} 1")
    });

    // A clean stop: the run is complete, did not agree (a split happened), and the gate says so.
    unsafe { libc::kill(fleet.id() as i32, libc::SIGINT) };
    let status = fleet.wait().unwrap();
    let said = std::fs::read_to_string(tmp.path().join("fleet.log")).unwrap();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("fleet did NOT agree"), "{said}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["findings"]["fleet.split"], 1, "{summary}");
    assert_eq!(summary["nodes"][2]["reorgs"], 1, "{summary}");

    // Its report: node 3's cell at the fork height shows its own block, then the main chain's.
    let r = dualrun(&["report", s(&out)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let row6 = html.split("data-height=\"6\" data-diverged=\"1\"").nth(1).expect("height 6 shaded");
    let row6 = row6.split("</tr>").next().unwrap();
    let (own, main) =
        (&closed["groups"][1]["id"].as_str().unwrap()[..8], &closed["groups"][0]["id"].as_str().unwrap()[..8]);
    let n3_cell = row6.split("<td class=\"cell\">").nth(3).unwrap();
    assert!(n3_cell.find(own) < n3_cell.find(main) && n3_cell.contains(" → "), "{n3_cell}");
}

/// With `--zmq`, a node's new block wakes its poller: polls an hour apart, so after the first one a block
/// reaches the timeline only by a notice, whatever the machine's load. A ZMQ subscriber misses what is
/// published before its subscription reaches the publisher, so two blocks are made: a poll a notice
/// wakes reads every new block.
#[test]
fn a_zmq_notice_wakes_the_nodes_poller() {
    let _one_at_a_time = ZMQ_PUBLISHER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let (mut node, endpoint) = Monerod::start_publishing(&tmp.path().join("node"));
    node.wait_ready();
    let net = network(tmp.path(), "round-robin", 1, 0);
    let out = tmp.path().join("fleet");
    let (daemon, zmq) = (format!("n1={}", node.rpc_url), format!("n1={endpoint}"));
    let args = ["fleet", "--daemon", &daemon, "--zmq", &zmq, "--poll-ms", "3600000", "--out", s(&out)];
    let mut fleet = Command::new(env!("CARGO_BIN_EXE_dualrun")).args(args).spawn().unwrap();
    let seen = |h: u64| {
        let text = std::fs::read_to_string(out.join("timeline.jsonl")).unwrap_or_default();
        text.lines().any(|l| l.contains(&format!("\"height\":{h},")))
    };
    wait_for("the first poll", || seen(0));
    std::thread::sleep(Duration::from_secs(1));
    produce(&node.rpc_url, &net, 2, &[]);
    wait_for("blocks 1 and 2, by a notice (the next poll is an hour away)", || seen(2));
    assert!(seen(1), "the poll a notice woke read block 1 too");
    unsafe { libc::kill(fleet.id() as i32, libc::SIGINT) };
    assert_eq!(fleet.wait().unwrap().code(), Some(0));
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("fleet.json")).unwrap()).unwrap();
    assert_eq!(manifest["nodes"][0]["zmq"], endpoint.as_str());
}
