//! A node of a private network, for the tests of a proven isolation: it answers a P2P handshake of its
//! own network id as monerod does (its `node_data` and `payload_data`, the request's command answered
//! with return code 1) and closes the connection on any other id, as monerod's `handle_handshake` does.
//! It exists because monerod's network id is compiled in: no Debian daemon can be a node of a network
//! whose id is not Monero's, so only this node can show an isolation that holds. Everything a real
//! daemon can show (refusals, its own networks) is tested against real monerods.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dualrun_p2p::handshake::{request, SyncData, COMMAND_HANDSHAKE};
use dualrun_p2p::levin::{self, Header, Packet, FLAG_RESPONSE};
use dualrun_p2p::storage::{self, Limits};

/// A listening node; it stops when dropped.
pub struct PrivateNode {
    /// Its P2P address.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl PrivateNode {
    /// A node of `network_id` claiming a chain of `height` blocks, on a free loopback port.
    pub fn start(network_id: [u8; 16], height: u64) -> PrivateNode {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("its address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        std::thread::spawn(move || answer(stream, network_id, height));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        PrivateNode { addr, stop }
    }
}

impl Drop for PrivateNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(mut stream: TcpStream, network_id: [u8; 16], height: u64) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(packet) = levin::read_packet(&mut stream, levin::INITIAL_MAX_BODY) else { return };
    let Ok(body) = storage::decode(&packet.body, Limits::default()) else { return };
    let claimed = body.section("node_data").and_then(|n| n.bytes("network_id"));
    if packet.header.command != COMMAND_HANDSHAKE || claimed != Some(&network_id[..]) {
        return; // dropped: the connection closes
    }
    let sync = SyncData { current_height: height, top_version: 16, ..SyncData::default() };
    let Ok(reply) = storage::encode(&request(&network_id, 7, &sync)) else { return };
    let header = Header {
        have_to_return_data: false,
        return_code: 1,
        flags: FLAG_RESPONSE,
        ..Header::request(COMMAND_HANDSHAKE, reply.len() as u64, false)
    };
    let _ = stream.write_all(&Packet { header, body: reply }.encode());
    std::thread::sleep(Duration::from_millis(200));
}
