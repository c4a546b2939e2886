//! Talking to a monerod-compatible daemon over its JSON-RPC interface:
//!
//! - [`rpc`]: block templates, block submission, headers and blobs;
//! - [`producer`]: the leader block producer (`leader produce`), which signs templates and confirms
//!   each block became the tip;
//! - [`verifier`]: the `monerod:URL` verifier adapter, a scratch daemon that follows a replay.

pub mod producer;
pub mod rpc;
pub mod verifier;

pub use producer::{Compete, CompeteParseError, ProduceError, ProduceRequest, Produced, Producer, REGTEST_ADDRESS};
pub use rpc::{retry_transient, Daemon, DaemonHeader, RpcError, Template};
pub use verifier::MonerodVerifier;
