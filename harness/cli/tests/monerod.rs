//! Against a real monerod (Debian's 0.18, regtest, offline, loopback): a freshly made chain scans to
//! exactly monerod's own RPC answers, and a database a running monerod holds is refused with an
//! explanation rather than read under its feet.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn monerod() -> &'static str {
    let path = "/usr/bin/monerod";
    assert!(std::path::Path::new(path).exists(), "{path} missing: install Debian's monero (ci/test.sh does)");
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_fresh_monerod_chain_scans_to_monerods_own_answers() {
    monerod();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fixture");
    let status = Command::new("python3")
        .arg(repo().join("scripts/make_fixture_chain.py"))
        .args(["--out", s(&out), "--blocks", "40", "--seed", "11"])
        .status()
        .expect("python3");
    assert!(status.success(), "make_fixture_chain.py failed");
    let expected = std::fs::read_to_string(out.join("expected.csv")).unwrap();
    assert_eq!(expected.lines().count(), 42, "header + heights 0..=40");

    let r = dualrun(&["chain", "scan", "--chain", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Every block id, miner-tx hash and header field equals what monerod answered over RPC.
    for (ours, theirs) in r.stdout.lines().zip(expected.lines()) {
        assert_eq!(ours, theirs);
    }
    assert_eq!(r.stdout, expected);

    let r = dualrun(&["chain", "info", "--chain", s(&out), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["tip_height"], 40);
    assert_eq!(v["id_mismatches"], 0);
}

#[test]
fn a_database_held_by_a_running_monerod_is_refused_with_an_explanation() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let child = Command::new(monerod())
        .args(["--regtest", "--offline", "--fixed-difficulty", "1", "--non-interactive", "--no-igd"])
        .args(["--disable-dns-checkpoints", "--check-updates", "disabled", "--hide-my-port"])
        .args(["--p2p-bind-ip", "127.0.0.1", "--rpc-bind-ip", "127.0.0.1", "--zmq-rpc-bind-ip", "127.0.0.1"])
        .args(["--p2p-bind-port", &free_port().to_string()])
        .args(["--rpc-bind-port", &free_port().to_string()])
        .args(["--zmq-rpc-bind-port", &free_port().to_string()])
        .arg("--data-dir")
        .arg(&data)
        .arg("--log-file")
        .arg(tmp.path().join("monerod.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start monerod");
    let pid = child.id();
    let _guard = Daemon(child);

    let deadline = Instant::now() + Duration::from_secs(90);
    let refused = loop {
        let r = dualrun(&["chain", "info", "--chain", s(&data)]);
        if r.stderr.contains("in use by a running process") {
            break r;
        }
        assert!(Instant::now() < deadline, "monerod never held its database; last answer: {}", r.stderr);
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains(&format!("(pid {pid})")), "{}", refused.stderr);
    assert!(refused.stderr.contains("lock.mdb"), "{}", refused.stderr);
    assert!(refused.stderr.contains("mdb_copy"), "names the way out: {}", refused.stderr);
}
