//! Golden vectors: one case per JSON file, a block and everything needed to judge it (profile,
//! previous id and timestamps, `now`), the expected verdict, reason and facts, and where it came from.
//! This crate owns the format ([`vector`]), running a vector through the leader validator and comparing
//! ([`run`]), running a whole directory for CI and the gate ([`runner`]) and its JUnit XML ([`junit`]),
//! turning a replay's record into a vector ([`record`]), and the crafted vector sets for protocol v1 and
//! for the mode table ([`crafted`]). `golden-vectors/README.md` documents the format for people.

pub mod crafted;
pub mod junit;
pub mod record;
pub mod run;
pub mod runner;
pub mod vector;

pub use run::{check, Difference};
pub use runner::{first_leader_profile, run_dir, run_vectors, GoldenReport, Status, VectorResult};
pub use vector::{load_dir, load_dir_noting, SameFile, Vector, VectorError, MAX_VECTOR_BYTES};
