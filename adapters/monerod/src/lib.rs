//! Talking to a monerod-compatible daemon over its JSON-RPC interface: block templates, block
//! submission and headers ([`rpc`]), used by the leader block producer; and the `monerod:URL` verifier
//! adapter ([`verifier`]), a scratch daemon that follows a replay.

pub mod rpc;
pub mod verifier;

pub use rpc::{retry_transient, BlockHeader, Daemon, RpcError, Template};
pub use verifier::MonerodVerifier;
