//! What dualrun does with a monerod-compatible daemon, through its JSON-RPC client (`dualrun-rpc`):
//!
//! - [`producer`]: the leader block producer (`leader produce`), which signs templates and confirms
//!   each block became the tip;
//! - [`verifier`]: the `monerod:URL` verifier adapter, a scratch daemon that follows a replay.

pub mod producer;
pub mod verifier;

pub use producer::{Compete, CompeteParseError, ProduceError, ProduceRequest, Produced, Producer, REGTEST_ADDRESS};
pub use verifier::MonerodVerifier;
