//! Against a real monerod (Debian's 0.18, regtest, offline, loopback): a freshly made chain scans to
//! exactly monerod's own RPC answers, and a database a running monerod holds is refused with an
//! explanation rather than read under its feet.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn monerod() -> &'static str {
    let path = "/usr/bin/monerod";
    assert!(std::path::Path::new(path).exists(), "{path} missing: install Debian's monero (ci/test.sh does)");
    path
}

use dualrun_testkit::monerod::free_port;

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

    let r = dualrun(&["chain", "info", "--chain", s(&out), "--format", "json"]);
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

/// Reads a varint at `pos`; returns it and the position after it.
fn varint(blob: &[u8], mut pos: usize) -> (u64, usize) {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = blob[pos];
        pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (v, pos);
        }
        shift += 7;
    }
}

/// A template block with its miner tx's single `txin_gen` input removed (and, for a v2 tx, the RingCT
/// type byte too, which monerod serializes only when there are inputs); `version` 1 or 2.
fn without_inputs(template: &[u8], version: u8) -> Vec<u8> {
    let mut pos = 0;
    for _ in 0..3 {
        pos = varint(template, pos).1; // major, minor, timestamp
    }
    let version_at = pos + 36; // prev id, nonce
    let vin_at = varint(template, varint(template, version_at).1).1; // after version, unlock time
    assert_eq!(&template[vin_at..vin_at + 2], &[0x01, 0xff], "one txin_gen");
    let after_gen = varint(template, vin_at + 2).1;
    assert_eq!(&template[template.len() - 2..], &[0x00, 0x00], "RCTTypeNull, no transactions");
    let mut b = template[..vin_at].to_vec();
    b[version_at] = version;
    b.push(0x00);
    b.extend_from_slice(&template[after_gen..template.len() - 2]);
    b.push(0x00); // no transactions
    b
}

/// A miner tx without inputs, checked against monerod itself. Version 1: monerod parses the block and
/// rejects it as invalid, so dualrun parses it too and its verifiers reject it. Version 2: monerod cannot
/// hash it (no RingCT part is serialized, so `calculate_transaction_hash` fails) — the block has no id —
/// so dualrun's parser and the reference legacy's refuse it as malformed, naming the byte.
#[test]
fn a_miner_tx_without_inputs_is_judged_as_monerod_judges_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut daemon = Monerod::start(tmp.path());
    daemon.wait_ready();
    let rpc = daemon.rpc();
    let address = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A";
    let legacy = |blob: &[u8], prev: &str| -> String {
        let code = format!(
            "import sys; sys.path.insert(0, {:?}); import dualrun_legacy as l\n\
             print(l.verify_block({{'blob': bytes.fromhex({:?}), 'height': 1}}, \
             {{'prev_id': {prev:?}, 'now': 2**40, 'timestamps': []}}))",
            s(&repo().join("adapters/python")),
            hex::encode(blob)
        );
        let out = std::process::Command::new("/usr/bin/python3.11").args(["-c", &code]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };

    let template = rpc.get_block_template(address, 0).unwrap();
    let genesis = rpc.last_block_header().unwrap();
    let prev = genesis.hash.to_string();

    // Version 1 without inputs: parsed by both, refused by monerod as a block, by the legacy too.
    let v1 = without_inputs(&template.blob, 1);
    assert!(rpc.submit_block(&v1).is_err(), "monerod refuses it");
    assert_eq!(rpc.last_block_header().unwrap().hash, genesis.hash, "and keeps its tip");
    let r = dualrun_stdin(&["block", "id"], hex::encode(&v1).as_bytes());
    assert_eq!(r.code, 0, "it parses, as in monerod: {}", r.stderr);
    assert!(legacy(&v1, &prev).contains("'reason': 'block.height_mismatch'"));

    // The template itself: accepted, and monerod's id of it is dualrun's.
    rpc.submit_block(&template.blob).unwrap();
    let tip = rpc.last_block_header().unwrap();
    assert_eq!(tip.height, 1, "the template became the tip");
    let r = dualrun_stdin(&["block", "id"], hex::encode(&template.blob).as_bytes());
    assert_eq!(r.stdout.split_whitespace().next(), Some(tip.hash.to_string().as_str()));

    // Version 2 without inputs, on the new tip: monerod cannot hash it; dualrun refuses it at the vin count.
    let template = rpc.get_block_template(address, 0).unwrap();
    let v2 = without_inputs(&template.blob, 2);
    let r = dualrun_stdin(&["block", "id"], hex::encode(&v2).as_bytes());
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("version-2 miner tx with no inputs: monerod cannot hash it"), "{}", r.stderr);
    assert!(r.stderr.contains("byte offset"), "{}", r.stderr);
    assert!(legacy(&v2, &tip.hash.to_string()).contains("'reason': 'block.malformed'"));
    // Last: monerod 0.18 may stop answering after this one (observed), so nothing is asked after it.
    assert!(rpc.submit_block(&v2).is_err(), "monerod refuses it");
}
