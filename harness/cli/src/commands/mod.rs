//! One module per command group.

pub mod block;
pub mod chain;
