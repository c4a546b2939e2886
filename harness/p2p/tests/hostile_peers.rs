//! Peers that do not speak the protocol, or speak it to hurt: each gives a clear error (or a refusal)
//! within the timeout — never a hang, a panic or an allocation of what the peer announces.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use dualrun_p2p::levin::{Header, Packet, FLAG_RESPONSE, HEADER_LEN};
use dualrun_p2p::{handshake, HandshakeError, Outcome, MAINNET_NETWORK_ID};

const TIMEOUT: Duration = Duration::from_secs(2);

/// A peer on loopback that accepts one connection, reads our request (so closing does not reset the
/// connection under unread bytes), then does `act`.
fn peer(act: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0u8; HEADER_LEN];
        if stream.read_exact(&mut head).is_ok() {
            let size = Header::decode(&head, 1 << 20).map_or(0, |h| h.body_size);
            let _ = std::io::copy(&mut (&mut stream).take(size), &mut std::io::sink());
        }
        act(stream);
    });
    addr
}

/// A handshake with the peer, and how long it took (always within the timeout and a margin).
fn against(addr: SocketAddr) -> Result<Outcome, HandshakeError> {
    let started = Instant::now();
    let result = handshake(addr, MAINNET_NETWORK_ID, TIMEOUT);
    let took = started.elapsed();
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}: {result:?}");
    result
}

fn response_header(body_size: u64) -> Header {
    Header { flags: FLAG_RESPONSE, have_to_return_data: false, ..Header::request(1001, body_size, false) }
}

#[test]
fn garbage_is_a_bad_signature() {
    let addr = peer(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        std::thread::sleep(Duration::from_secs(3));
    });
    let e = against(addr).unwrap_err();
    assert!(e.to_string().contains("Levin signature at byte offset 0"), "{e}");
}

#[test]
fn silence_is_a_timeout() {
    let addr = peer(|_s| std::thread::sleep(Duration::from_secs(4)));
    let e = against(addr).unwrap_err();
    assert!(matches!(e, HandshakeError::Timeout { .. }), "{e}");
}

/// A byte now and then must not stretch the exchange: the deadline is for the whole of it.
#[test]
fn a_trickle_is_a_timeout() {
    let addr = peer(|mut s| {
        for b in response_header(10).encode() {
            if s.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let e = against(addr).unwrap_err();
    assert!(matches!(e, HandshakeError::Timeout { .. }), "{e}");
}

/// A header announcing a 100 MB body is refused from the header alone: nothing of the body is read or
/// allocated.
#[test]
fn a_100_mb_body_is_refused_before_reading_it() {
    let addr = peer(|mut s| {
        let _ = s.write_all(&response_header(100_000_000).encode());
        std::thread::sleep(Duration::from_secs(3));
    });
    let e = against(addr).unwrap_err();
    assert!(e.to_string().contains("body size at byte offset 8 is 100000000 bytes, over the limit of 262144"), "{e}");
}

#[test]
fn a_truncated_header_is_a_refusal() {
    let addr = peer(|mut s| {
        let _ = s.write_all(&response_header(10).encode()[..20]);
    });
    match against(addr).unwrap() {
        Outcome::Refused { why } => assert!(why.contains("20 bytes of a header"), "{why}"),
        accepted => panic!("{accepted:?}"),
    }
}

#[test]
fn a_truncated_body_is_a_refusal() {
    let addr = peer(|mut s| {
        let _ = s.write_all(&response_header(100).encode());
        let _ = s.write_all(&[0u8; 40]);
    });
    match against(addr).unwrap() {
        Outcome::Refused { why } => assert!(why.contains("body truncated: 40 of 100 bytes"), "{why}"),
        accepted => panic!("{accepted:?}"),
    }
}

#[test]
fn a_body_that_is_not_portable_storage_is_an_error() {
    let addr = peer(|mut s| {
        let body = vec![0xAB; 64];
        let _ = s.write_all(&Packet { header: response_header(body.len() as u64), body }.encode());
        std::thread::sleep(Duration::from_secs(3));
    });
    let e = against(addr).unwrap_err();
    assert!(matches!(e, HandshakeError::Storage(_)), "{e}");
    assert!(e.to_string().contains("offset"), "{e}");
}

/// A peer that answers with endless requests of its own never gets us to wait for ever.
#[test]
fn endless_other_packets_are_bounded() {
    let addr = peer(|mut s| {
        let p = Packet { header: Header::request(1007, 0, false), body: vec![] }.encode();
        for _ in 0..1000 {
            if s.write_all(&p).is_err() {
                return;
            }
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    let e = against(addr).unwrap_err();
    assert!(matches!(e, HandshakeError::TooManyPackets(17)), "{e}");
}

#[test]
fn an_error_code_is_a_refusal_naming_it() {
    let addr = peer(|mut s| {
        let h = Header { return_code: -3, ..response_header(0) };
        let _ = s.write_all(&h.encode());
        std::thread::sleep(Duration::from_secs(1));
    });
    match against(addr).unwrap() {
        Outcome::Refused { why } => assert!(why.contains("error code -3"), "{why}"),
        accepted => panic!("{accepted:?}"),
    }
}
