//! Crafted vector sets, their expectations written by hand from the specifications:
//! [`leader`] for leader protocol v1, [`mode`] for the mode table, [`finality`] for finality votes and
//! fork choice.

pub mod finality;
pub mod leader;
pub mod mode;

pub use finality::{finality_v1_vectors, fork_choice_v1_vectors};
pub use leader::leader_v1_vectors;
pub use mode::mode_v1_vectors;
