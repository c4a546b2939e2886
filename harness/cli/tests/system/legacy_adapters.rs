//! The three kinds of legacy adapter on the bundled sample: the in-process Python reference, the same
//! code behind `exec:`, and a real monerod (`monerod:`, a scratch regtest daemon fed the sample's
//! blocks, each twice) record the same divergences.

use crate::common::*;
use dualrun_testkit::run_files::{json, jsonl_without_reproduce, read};

#[test]
fn the_three_legacy_adapters_agree_on_the_forged_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let python = tmp.path().join("python");
    assert_eq!(dualrun(&["replay", "--out", s(&python)]).code, 1);

    let exec = tmp.path().join("exec");
    let legacy_dir = repo().join("adapters/python");
    let spec = format!("exec:PYTHONPATH={} /usr/bin/python3.11 -m dualrun_legacy.exec", legacy_dir.display());
    let r = dualrun(&["replay", "--legacy", &spec, "--out", s(&exec)]);
    assert_eq!(r.code, 1, "{}", r.stderr);

    let mut daemon = Monerod::start(&tmp.path().join("node"));
    daemon.wait_ready();
    let monerod = tmp.path().join("monerod");
    // Each block submitted twice (a noise run): the daemon's second answer is its first.
    let legacy = format!("monerod:{}", daemon.rpc_url);
    let r = dualrun(&["replay", "--legacy", &legacy, "--noise", "1", "--out", s(&monerod)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let noise = &json(&monerod.join("summary.json"))["noise"];
    assert_eq!((noise["checked"].as_u64(), noise["legacy_noise"].as_u64()), (Some(201), Some(0)), "{noise}");
    // The scratch daemon now holds the whole sample chain, block for block.
    let info = daemon.rpc().get_info().unwrap();
    assert_eq!(info.height, 201);

    let reference = read(&python.join("divergences.csv"));
    assert_eq!(reference.lines().count(), 11, "the header and the ten halts");
    assert_eq!(read(&exec.join("divergences.csv")), reference);
    assert_eq!(read(&monerod.join("divergences.csv")), reference);
    assert_eq!(jsonl_without_reproduce(&exec), jsonl_without_reproduce(&python));
    // monerod reports its own block ids as facts; they equal the candidate's (no fact divergence).
    assert_eq!(json(&monerod.join("summary.json"))["divergences"]["fact"], 0);
    daemon.stop();
}
