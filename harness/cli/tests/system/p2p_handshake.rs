//! `dualrun_p2p`'s handshake with a real monerod (Debian's, in regtest): it answers to mainnet's network
//! id (a regtest daemon is a "fakechain" on mainnet's id), its answer reports the height and top block
//! its RPC reports, and it refuses testnet's and stagenet's ids.

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
    // Refusals are of the wrong id only: the right one is still accepted afterwards.
    assert!(matches!(handshake_when_listening(addr, MAINNET_NETWORK_ID), Outcome::Accepted { .. }));
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
