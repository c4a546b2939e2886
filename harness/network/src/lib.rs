//! The network a chain belongs to, and what every block's env is made of:
//!
//! - [`identity`]: a network's identity ([`Network`]: name, network id, genesis id), checked from a
//!   profile's `[network]` table; the genesis check; and the one place a `ReplayEnv` is made
//!   ([`Network::env`]);
//! - [`context`]: the chain context before a block ([`ChainContext`]: the previous id and the window of
//!   [`TIMESTAMP_WINDOW`] previous timestamps).
//!
//! Nothing here is consensus: the leader protocol (`dualrun-leader`) reads its profile's `[network]`
//! table through [`Network`] and judges blocks against a [`ChainContext`]; the pipeline makes every
//! block's env from both.

pub mod context;
pub mod identity;

pub use context::{ChainContext, TIMESTAMP_WINDOW};
pub use identity::{hex_array, HexFieldError, Network, NetworkError, NetworkTable};
