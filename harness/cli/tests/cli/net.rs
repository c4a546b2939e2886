//! `dualrun net isolation` and `net handshake --profile` against nodes of a private network on loopback
//! (the test kit's [`PrivateNode`]: monerod's network id is compiled in, so no real daemon can hold a
//! private one; the refusals of real daemons are the system tests'), and the evidence file it writes.

use dualrun_testkit::p2p_node::PrivateNode;

use crate::common::*;

const MAINNET: [u8; 16] =
    [0x12, 0x30, 0xf1, 0x71, 0x61, 0x04, 0x41, 0x61, 0x17, 0x31, 0x00, 0x82, 0x16, 0xa1, 0xa1, 0x10];

fn sample_profile() -> String {
    s(&sample_dir().join("profile.toml")).to_owned()
}

fn sample_id() -> [u8; 16] {
    hex::decode("6475616c72756e2d73616d706c650001").unwrap().try_into().unwrap()
}

#[test]
fn isolation_is_proven_by_every_peer_and_kept_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("isolation.json");
    let (a, b) = (PrivateNode::start(sample_id(), 5), PrivateNode::start(sample_id(), 5));
    let (a, b) = (a.addr.to_string(), b.addr.to_string());
    let foreign = "00112233445566778899aabbccddeeff";
    let r = dualrun(&[
        "net",
        "isolation",
        "--profile",
        &sample_profile(),
        "--peer",
        &a,
        "--peer",
        &b,
        "--foreign",
        foreign,
        "--timeout",
        "5",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("isolation proven for 2 peers"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("{a}  own        6475616c72756e2d73616d706c650001  must accept: accepted")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!("{b}  foreign-1  {foreign}  must refuse: refused")), "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["proven"], true);
    assert_eq!(v["checks"].as_array().unwrap().len(), 10, "two peers × (own + mainnet, testnet, stagenet, foreign)");
    assert_eq!(v["subject"]["p2p_network_id"], "6475616c72756e2d73616d706c650001");
    assert!(r.stdout.contains(v["digest"].as_str().unwrap()), "{}", r.stdout);

    // The profile's id claimed by handshake.
    let r = dualrun(&["net", "handshake", "--peer", &a, "--profile", &sample_profile(), "--timeout", "5"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("it reports network 6475616c72756e2d73616d706c650001, height 5"), "{}", r.stdout);
}

/// A node that takes mainnet's peers (here: a node on mainnet's id, as every regtest monerod is) is
/// named with the id that got through; the evidence says not proven.
#[test]
fn a_peer_that_takes_a_foreign_id_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("isolation.json");
    let good = PrivateNode::start(sample_id(), 5);
    let bridge = PrivateNode::start(MAINNET, 5);
    let (good, bridge) = (good.addr.to_string(), bridge.addr.to_string());
    let r = dualrun(&[
        "net",
        "isolation",
        "--profile",
        &sample_profile(),
        "--peer",
        &good,
        "--peer",
        &bridge,
        "--timeout",
        "5",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "finding: {bridge} accepted a peer of mainnet (network id 1230f171610441611731008216a1a110)"
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!("finding: {bridge} refused the network's own id")), "{}", r.stdout);
    assert!(r.stdout.contains("isolation NOT proven: 2 findings"), "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["proven"], false);
}

/// A profile on a public network's id is caught whatever the peers do.
#[test]
fn a_profile_on_mainnets_id_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.toml");
    let text = std::fs::read_to_string(sample_dir().join("profile.toml"))
        .unwrap()
        .replace("genesis_id = ", "p2p_network_id = \"1230f171610441611731008216a1a110\"\ngenesis_id = ");
    std::fs::write(&profile, text).unwrap();
    let node = PrivateNode::start(MAINNET, 5);
    let r =
        dualrun(&["net", "isolation", "--profile", s(&profile), "--peer", &node.addr.to_string(), "--timeout", "5"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("finding: the profile's P2P network id is mainnet's: the network is not isolated by its id"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(no --out: no evidence file written)"), "{}", r.stdout);
}

/// A peer that cannot be reached proves nothing: exit 2, and the evidence file says so.
#[test]
fn an_unreachable_peer_is_exit_2_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("isolation.json");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let r = dualrun(&[
        "net",
        "isolation",
        "--profile",
        &sample_profile(),
        "--peer",
        &closed,
        "--timeout",
        "2",
        "--format",
        "json",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["proven"], false);
    assert_eq!(v["findings"][0]["finding"], "no_answer");
    assert_eq!(v, serde_json::from_slice::<serde_json::Value>(&std::fs::read(&out).unwrap()).unwrap());
    let bad = dualrun(&["net", "isolation", "--profile", &sample_profile(), "--peer", &closed, "--foreign", "12"]);
    assert!(bad.code == 2 && bad.stderr.contains("--foreign 12: not 16 bytes of hex"), "{}", bad.stderr);
}
