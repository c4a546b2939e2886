//! Just enough of Monero's P2P protocol to perform a handshake and learn whether a node accepts us:
//! the Levin header ([`levin`]), epee portable storage ([`storage`]) and `COMMAND_HANDSHAKE`
//! ([`handshake`]); and [`isolation`], which proves with handshakes that a private network's nodes
//! accept its own id and refuse every foreign one, kept as an evidence file the gate takes.
//!
//! Every read is bounded: a Levin body by a caller-given limit ([`levin::INITIAL_MAX_BODY`] before a
//! handshake completes), a portable-storage body in depth, entry count and size ([`storage::Limits`]).
//! Bad input is a typed error naming what was wrong and where, never a panic. The handshake against a
//! real monerod is a system test (`harness/cli/tests/system/p2p_handshake.rs`).

pub mod handshake;
pub mod isolation;
pub mod levin;
pub mod storage;

pub use handshake::{handshake, handshake_with, HandshakeError, Outcome, SyncData};
pub use handshake::{MAINNET_NETWORK_ID, STAGENET_NETWORK_ID, TESTNET_NETWORK_ID};
