//! One module per command group.

pub mod adapters;
pub mod block;
pub mod chain;
pub mod gate;
pub mod golden;
pub mod keygen;
pub mod leader;
pub mod replay;
