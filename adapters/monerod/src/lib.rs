//! Talking to a monerod-compatible daemon over its JSON-RPC interface: block templates, block
//! submission and headers. Used by the leader block producer and by the `monerod:` legacy adapter.

pub mod rpc;

pub use rpc::{BlockHeader, Daemon, RpcError, Template};
