//! `dualrun_p2p`'s handshake with real monerods (Debian's): a regtest daemon answers to mainnet's network
//! id (it is a "fakechain" on mainnet's id), its answer reports the height and top block its RPC reports,
//! and it refuses testnet's and stagenet's ids; testnet and stagenet daemons each accept only their own;
//! `net handshake` and `net isolation` say so on the command line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dualrun_p2p::{handshake, HandshakeError, Outcome, MAINNET_NETWORK_ID, STAGENET_NETWORK_ID, TESTNET_NETWORK_ID};
use dualrun_testkit::Monerod;

const TIMEOUT: Duration = Duration::from_secs(15);

/// A handshake, retried while the daemon's P2P port is not yet open (at most 30 s).
fn handshake_when_listening(addr: SocketAddr, network_id: [u8; 16]) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match handshake(addr, network_id, TIMEOUT) {
            Err(HandshakeError::Connect { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250))
            }
            other => return other.expect("a handshake"),
        }
    }
}

#[test]
fn regtest_accepts_mainnets_id_and_refuses_testnets_and_stagenets() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Monerod::start_accepting_peers(dir.path());
    daemon.wait_ready();
    let addr: SocketAddr = format!("127.0.0.1:{}", daemon.p2p_port).parse().unwrap();
    let info = daemon.rpc().get_info().expect("get_info");

    match handshake_when_listening(addr, MAINNET_NETWORK_ID) {
        Outcome::Accepted { network_id, height, top_id, top_version, .. } => {
            assert_eq!(network_id, MAINNET_NETWORK_ID, "regtest reports mainnet's network id");
            assert_eq!(height, info.height, "the handshake's height is get_info's");
            assert_eq!(&top_id, info.top_block_hash.as_bytes(), "the handshake's top id is get_info's");
            assert!(top_version >= 1);
        }
        Outcome::Refused { why } => panic!("regtest refused mainnet's network id: {why}"),
    }
    for (name, id) in [("testnet", TESTNET_NETWORK_ID), ("stagenet", STAGENET_NETWORK_ID)] {
        match handshake_when_listening(addr, id) {
            Outcome::Refused { .. } => {}
            accepted => panic!("regtest accepted {name}'s network id: {accepted:?}"),
        }
    }
    // Refusals are of the wrong id only: the right one is still accepted afterwards. monerod may still
    // count a refused connection for a moment, so the handshake is tried for a few seconds; a ban
    // would last 24 hours.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match handshake_when_listening(addr, MAINNET_NETWORK_ID) {
            Outcome::Accepted { .. } => break,
            Outcome::Refused { why } if Instant::now() >= deadline => {
                panic!("regtest refused mainnet's id after refusing the others: {why}")
            }
            Outcome::Refused { .. } => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

#[test]
fn an_offline_daemon_takes_no_peers() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Monerod::start(dir.path());
    daemon.wait_ready();
    let addr: SocketAddr = format!("127.0.0.1:{}", daemon.p2p_port).parse().unwrap();
    match handshake(addr, MAINNET_NETWORK_ID, TIMEOUT) {
        Err(HandshakeError::Connect { .. }) | Ok(Outcome::Refused { .. }) => {}
        other => panic!("an --offline daemon answered a handshake: {other:?}"),
    }
}

/// `dualrun net handshake`: accepted (exit 0, naming what the node reports), refused (exit 1), not
/// reachable (exit 2), a bad id (exit 2).
#[test]
fn net_handshake_says_what_the_node_did() {
    use crate::common::dualrun;
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Monerod::start_accepting_peers(dir.path());
    daemon.wait_ready();
    let addr: SocketAddr = format!("127.0.0.1:{}", daemon.p2p_port).parse().unwrap();
    handshake_when_listening(addr, MAINNET_NETWORK_ID);
    let peer = addr.to_string();
    let accepted = dualrun(&["net", "handshake", "--peer", &peer, "--network", "mainnet"]);
    assert_eq!(accepted.code, 0, "{}{}", accepted.stdout, accepted.stderr);
    let top = daemon.rpc().get_info().unwrap().top_block_hash;
    assert!(
        accepted.stdout.contains("it reports network 1230f171610441611731008216a1a110, height 1"),
        "{}",
        accepted.stdout
    );
    assert!(accepted.stdout.contains(&top.to_string()), "{}", accepted.stdout);
    let refused = dualrun(&["net", "handshake", "--peer", &peer, "--network-id", "1230f171610441611731008216a1a111"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains("refused a peer of network 1230f171610441611731008216a1a111"),
        "{}",
        refused.stdout
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let unreachable = dualrun(&["net", "handshake", "--peer", &closed, "--network", "mainnet", "--timeout", "3"]);
    assert_eq!(unreachable.code, 2, "{}{}", unreachable.stdout, unreachable.stderr);
    assert!(unreachable.stderr.contains(&format!("handshake with {closed}")), "{}", unreachable.stderr);
    let bad = dualrun(&["net", "handshake", "--peer", &peer, "--network-id", "12zz"]);
    assert!(bad.code == 2 && bad.stderr.contains("--network-id 12zz: not 16 bytes of hex"), "{}", bad.stderr);
}

/// Real daemons of Monero's three networks (regtest is mainnet's id) on loopback: each accepts its own id,
/// reporting it, and refuses the other two; `net isolation` catches a profile whose P2P id is a public
/// network's, and a profile pointed at another network's nodes.
#[test]
fn each_network_accepts_its_own_id_and_refuses_the_others() {
    use dualrun_testkit::{MonerodConfig, Net, Peers};

    use crate::common::dualrun;
    let networks =
        [(Net::Regtest, MAINNET_NETWORK_ID), (Net::Testnet, TESTNET_NETWORK_ID), (Net::Stagenet, STAGENET_NETWORK_ID)];
    let dirs: Vec<_> = networks.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let mut daemons: Vec<_> = networks
        .iter()
        .zip(&dirs)
        .map(|((net, _), dir)| {
            let config = MonerodConfig { net: *net, ..MonerodConfig::regtest().with_peers(Peers::Exclusive(vec![])) };
            Monerod::launch(dir.path(), &config)
        })
        .collect();
    for d in &mut daemons {
        d.wait_ready();
    }
    let addr = |d: &Monerod| -> SocketAddr { format!("127.0.0.1:{}", d.p2p_port).parse().unwrap() };
    for (d, (net, own)) in daemons.iter().zip(&networks) {
        for (_, id) in &networks {
            match handshake_when_listening(addr(d), *id) {
                Outcome::Accepted { network_id, .. } => {
                    assert_eq!(id, own, "a {net:?} daemon accepted {}", hex::encode(id));
                    assert_eq!(network_id, *own, "a {net:?} daemon reports its own id");
                }
                Outcome::Refused { .. } => assert_ne!(id, own, "a {net:?} daemon refused its own id"),
            }
        }
    }

    // A profile whose P2P id is testnet's is not isolated by its id, whatever its nodes do.
    let tmp = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(dualrun_testkit::sample_dir().join("profile.toml")).unwrap();
    let on_testnet = tmp.path().join("on-testnet.toml");
    let text = sample.replace("genesis_id = ", "p2p_network_id = \"1230f171610441611731008216a1a111\"\ngenesis_id = ");
    std::fs::write(&on_testnet, text).unwrap();
    let testnet = addr(&daemons[1]).to_string();
    let r = dualrun(&["net", "isolation", "--profile", on_testnet.to_str().unwrap(), "--peer", &testnet]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("the profile's P2P network id is testnet's"), "{}", r.stdout);

    // The sample network's profile pointed at a stagenet node: its own id refused, stagenet's taken.
    let stagenet = addr(&daemons[2]).to_string();
    let profile = dualrun_testkit::sample_dir().join("profile.toml");
    let out = tmp.path().join("isolation.json");
    let r = dualrun(&[
        "net",
        "isolation",
        "--profile",
        profile.to_str().unwrap(),
        "--peer",
        &stagenet,
        "--foreign",
        "1230f171610441611731008216a1a112",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("finding: {stagenet} refused the network's own id")), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "finding: {stagenet} accepted a peer of stagenet (network id 1230f171610441611731008216a1a112)"
        )),
        "{}",
        r.stdout
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!((v["proven"].as_bool(), v["checks"].as_array().unwrap().len()), (Some(false), 4), "{v}");
}
