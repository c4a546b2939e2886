//! `COMMAND_HANDSHAKE` (1001): the request a node sends first (its `node_data` and the chain it claims,
//! `payload_data`), and [`handshake`], which performs one over TCP and says whether the peer accepted
//! us (and what it reported of itself) or refused. The network ids of Monero's networks.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::levin::{self, Header, LevinError, Packet};
use crate::storage::{self, Limits, Section, StorageError, Value};

/// The handshake command.
pub const COMMAND_HANDSHAKE: u32 = 1001;
/// The support flags we announce (`P2P_SUPPORT_FLAG_FLUFFY_BLOCKS`).
pub const SUPPORT_FLAGS: u32 = 1;
/// Mainnet's network id (`cryptonote_config.h`, `NETWORK_ID`).
pub const MAINNET_NETWORK_ID: [u8; 16] =
    [0x12, 0x30, 0xf1, 0x71, 0x61, 0x04, 0x41, 0x61, 0x17, 0x31, 0x00, 0x82, 0x16, 0xa1, 0xa1, 0x10];
/// Testnet's network id.
pub const TESTNET_NETWORK_ID: [u8; 16] =
    [0x12, 0x30, 0xf1, 0x71, 0x61, 0x04, 0x41, 0x61, 0x17, 0x31, 0x00, 0x82, 0x16, 0xa1, 0xa1, 0x11];
/// Stagenet's network id.
pub const STAGENET_NETWORK_ID: [u8; 16] =
    [0x12, 0x30, 0xf1, 0x71, 0x61, 0x04, 0x41, 0x61, 0x17, 0x31, 0x00, 0x82, 0x16, 0xa1, 0xa1, 0x12];

/// How many packets of other commands (the peer's own requests) may come before the handshake's
/// response.
const MAX_OTHER_PACKETS: usize = 16;

/// The chain a handshake claims (`CORE_SYNC_DATA`). The default claims nothing: height 0, so a peer
/// neither checks our top block's version nor expects blocks from us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncData {
    /// The number of blocks.
    pub current_height: u64,
    /// The cumulative difficulty's low 64 bits.
    pub cumulative_difficulty: u64,
    /// The cumulative difficulty's high 64 bits.
    pub cumulative_difficulty_top64: u64,
    /// The id of the top block.
    pub top_id: [u8; 32],
    /// The top block's major version.
    pub top_version: u8,
    /// The pruning seed (0 = not pruned).
    pub pruning_seed: u32,
}

/// What a peer made of our handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It answered with its own node and chain data. Its `network_id` is what it reported; a caller
    /// checking isolation compares it with the id it sent.
    Accepted {
        /// The network id it reported.
        network_id: [u8; 16],
        /// Its peer id.
        peer_id: u64,
        /// Its support flags (0 when not reported).
        support_flags: u32,
        /// Its chain height (the number of blocks).
        height: u64,
        /// Its cumulative difficulty, both halves.
        cumulative_difficulty: u128,
        /// The id of its top block.
        top_id: [u8; 32],
        /// Its top block's major version.
        top_version: u8,
        /// Its pruning seed.
        pruning_seed: u32,
    },
    /// It closed the connection or answered with an error code.
    Refused {
        /// What happened.
        why: String,
    },
}

/// Why a handshake could not be performed (as opposed to being refused).
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// No connection could be made.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The peer did not answer in time.
    #[error("no handshake response from {addr} within {timeout:?}")]
    Timeout {
        /// The address.
        addr: SocketAddr,
        /// The timeout.
        timeout: Duration,
    },
    /// Reading or writing failed otherwise.
    #[error("talking to {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A packet's header was not acceptable.
    #[error("a packet from the peer: {0}")]
    Levin(LevinError),
    /// A body was not acceptable portable storage (or ours could not be encoded).
    #[error("a handshake body: {0}")]
    Storage(#[from] StorageError),
    /// The response lacked a field or had one of the wrong type or size.
    #[error("handshake response: {0}")]
    Response(String),
    /// No random peer id could be drawn.
    #[error("drawing a random peer id: {0}")]
    Random(String),
    /// The peer sent too many packets of other commands before answering.
    #[error("{0} packets of other commands came before the handshake response")]
    TooManyPackets(usize),
}

/// The body of a handshake request: our `node_data` (`network_id`, port 0 so the peer does not connect
/// back, `peer_id`) and `payload_data` (`sync`).
pub fn request(network_id: &[u8; 16], peer_id: u64, sync: &SyncData) -> Section {
    let node_data = Section::new()
        .with("network_id", Value::String(network_id.to_vec()))
        .with("my_port", Value::U32(0))
        .with("rpc_port", Value::U16(0))
        .with("rpc_credits_per_hash", Value::U32(0))
        .with("peer_id", Value::U64(peer_id))
        .with("support_flags", Value::U32(SUPPORT_FLAGS));
    let payload_data = Section::new()
        .with("current_height", Value::U64(sync.current_height))
        .with("cumulative_difficulty", Value::U64(sync.cumulative_difficulty))
        .with("cumulative_difficulty_top64", Value::U64(sync.cumulative_difficulty_top64))
        .with("top_id", Value::String(sync.top_id.to_vec()))
        .with("top_version", Value::U8(sync.top_version))
        .with("pruning_seed", Value::U32(sync.pruning_seed));
    Section::new().with("node_data", Value::Section(node_data)).with("payload_data", Value::Section(payload_data))
}

/// The whole request packet (Levin header and body).
pub fn request_packet(network_id: &[u8; 16], peer_id: u64, sync: &SyncData) -> Result<Vec<u8>, HandshakeError> {
    let body = storage::encode(&request(network_id, peer_id, sync))?;
    Ok(Packet { header: Header::request(COMMAND_HANDSHAKE, body.len() as u64, true), body }.encode())
}

/// Reads what a peer reported of itself from the body of its handshake response.
pub fn parse_response(body: &Section) -> Result<Outcome, HandshakeError> {
    let missing = |what: &str| HandshakeError::Response(format!("no {what} (or not of the expected type)"));
    let node = body.section("node_data").ok_or_else(|| missing("node_data"))?;
    let payload = body.section("payload_data").ok_or_else(|| missing("payload_data"))?;
    let network_id = fixed::<16>(node.bytes("network_id").ok_or_else(|| missing("node_data.network_id"))?)
        .ok_or_else(|| HandshakeError::Response("node_data.network_id is not 16 bytes".into()))?;
    let top_id = fixed::<32>(payload.bytes("top_id").ok_or_else(|| missing("payload_data.top_id"))?)
        .ok_or_else(|| HandshakeError::Response("payload_data.top_id is not 32 bytes".into()))?;
    let narrow = |name: &str, v: u64| HandshakeError::Response(format!("{name} {v} is out of range"));
    let top_version = payload.uint("top_version").ok_or_else(|| missing("payload_data.top_version"))?;
    let support_flags = node.uint("support_flags").unwrap_or(0);
    let pruning_seed = payload.uint("pruning_seed").unwrap_or(0);
    let low = payload.uint("cumulative_difficulty").ok_or_else(|| missing("payload_data.cumulative_difficulty"))?;
    let high = payload.uint("cumulative_difficulty_top64").unwrap_or(0);
    Ok(Outcome::Accepted {
        network_id,
        peer_id: node.uint("peer_id").ok_or_else(|| missing("node_data.peer_id"))?,
        support_flags: u32::try_from(support_flags).map_err(|_| narrow("support_flags", support_flags))?,
        height: payload.uint("current_height").ok_or_else(|| missing("payload_data.current_height"))?,
        cumulative_difficulty: u128::from(high) << 64 | u128::from(low),
        top_id,
        top_version: u8::try_from(top_version).map_err(|_| narrow("top_version", top_version))?,
        pruning_seed: u32::try_from(pruning_seed).map_err(|_| narrow("pruning_seed", pruning_seed))?,
    })
}

fn fixed<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.try_into().ok()
}

/// A handshake with the node at `addr` as a peer of `network_id` claiming no chain ([`SyncData`]'s
/// default); `timeout` bounds the connection and the whole exchange.
pub fn handshake(addr: SocketAddr, network_id: [u8; 16], timeout: Duration) -> Result<Outcome, HandshakeError> {
    handshake_with(addr, network_id, &SyncData::default(), timeout)
}

/// A handshake with the node at `addr` as a peer of `network_id` claiming the chain `sync`.
pub fn handshake_with(
    addr: SocketAddr,
    network_id: [u8; 16],
    sync: &SyncData,
    timeout: Duration,
) -> Result<Outcome, HandshakeError> {
    let mut peer_id = [0u8; 8];
    getrandom::fill(&mut peer_id).map_err(|e| HandshakeError::Random(e.to_string()))?;
    let packet = request_packet(&network_id, u64::from_le_bytes(peer_id), sync)?;

    let deadline = Instant::now() + timeout;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|source| HandshakeError::Connect { addr, source })?;
    let io = |source: std::io::Error| HandshakeError::Io { addr, source };
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    if let Err(e) = stream.write_all(&packet) {
        return classify(e, addr, timeout);
    }
    let mut reader = Deadline { stream: &stream, deadline };
    for _ in 0..=MAX_OTHER_PACKETS {
        let reply = match levin::read_packet(&mut reader, levin::INITIAL_MAX_BODY) {
            Ok(p) => p,
            Err(LevinError::Truncated { got }) => {
                return Ok(Outcome::Refused {
                    why: format!("the peer closed the connection ({got} bytes of a header)"),
                })
            }
            Err(LevinError::Io(e)) => return classify(e, addr, timeout),
            Err(e) => return Err(HandshakeError::Levin(e)),
        };
        if reply.header.command != COMMAND_HANDSHAKE || !reply.header.is_response() {
            continue; // the peer's own request (support flags, timed sync); not an answer
        }
        if reply.header.return_code < 0 {
            return Ok(Outcome::Refused {
                why: format!("the peer answered with error code {}", reply.header.return_code),
            });
        }
        let body = storage::decode(&reply.body, Limits::default())?;
        return parse_response(&body);
    }
    Err(HandshakeError::TooManyPackets(MAX_OTHER_PACKETS + 1))
}

/// A stream read against one deadline for the whole exchange: each read may wait only for what is left,
/// so a peer that sends a byte now and then cannot stretch the exchange past the timeout.
struct Deadline<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(ErrorKind::TimedOut, "the exchange's deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        (&mut &*self.stream).read(buf)
    }
}

/// An I/O error while talking: a closed connection is a refusal, a timeout a timeout.
fn classify(e: std::io::Error, addr: SocketAddr, timeout: Duration) -> Result<Outcome, HandshakeError> {
    match e.kind() {
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => Ok(Outcome::Refused { why: format!("the peer closed the connection: {e}") }),
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Err(HandshakeError::Timeout { addr, timeout }),
        _ => Err(HandshakeError::Io { addr, source: e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_through_storage() {
        let sync = SyncData { current_height: 5, top_id: [7; 32], top_version: 16, ..SyncData::default() };
        let packet = request_packet(&MAINNET_NETWORK_ID, 42, &sync).unwrap();
        let p = levin::read_packet(&mut packet.as_slice(), levin::INITIAL_MAX_BODY).unwrap();
        assert_eq!(p.header.command, COMMAND_HANDSHAKE);
        assert!(p.header.have_to_return_data);
        let body = storage::decode(&p.body, Limits::default()).unwrap();
        let node = body.section("node_data").unwrap();
        assert_eq!(node.bytes("network_id").unwrap(), MAINNET_NETWORK_ID);
        assert_eq!(node.get("my_port"), Some(&Value::U32(0)));
        assert_eq!(node.get("peer_id"), Some(&Value::U64(42)));
        let payload = body.section("payload_data").unwrap();
        assert_eq!(payload.get("top_version"), Some(&Value::U8(16)));
        assert_eq!(payload.bytes("top_id").unwrap(), [7; 32]);
    }

    #[test]
    fn a_request_parses_as_a_response() {
        // A response carries the same two sections (and a peer list).
        let sync = SyncData {
            current_height: 9,
            cumulative_difficulty: 3,
            cumulative_difficulty_top64: 1,
            ..SyncData::default()
        };
        let body = request(&TESTNET_NETWORK_ID, 1, &sync);
        match parse_response(&body).unwrap() {
            Outcome::Accepted { network_id, height, cumulative_difficulty, .. } => {
                assert_eq!(network_id, TESTNET_NETWORK_ID);
                assert_eq!(height, 9);
                assert_eq!(cumulative_difficulty, (1u128 << 64) | 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_ids_are_errors() {
        let mut body = request(&MAINNET_NETWORK_ID, 1, &SyncData::default());
        let Value::Section(node) = &mut body.entries[0].1 else { unreachable!() };
        node.entries[0].1 = Value::String(vec![1, 2, 3]);
        assert!(matches!(parse_response(&body), Err(HandshakeError::Response(_))));
        assert!(matches!(parse_response(&Section::new()), Err(HandshakeError::Response(_))));
    }
}
