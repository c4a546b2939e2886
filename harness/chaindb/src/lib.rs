//! Monero-family chain databases, read-only.
//!
//! This crate owns the chain input: it finds and opens a node's LMDB directory without creating or
//! modifying anything in it (read-only, no lock file; a directory whose lock a live process holds is
//! refused with an explanation), dispatches on the schema (Monero v5, X-Cash v3), iterates blocks by
//! height with their stored `block_info` records, and checks every stored id against the id computed
//! from the blob ([`scan`], with the rows `chain scan` makes); it compares chains with each other and with checkpoints ([`compare`]), and shows a
//! stored block as JSON ([`show`]). Rows, of `chain scan` and of every command that prints rows, are CSV
//! or JSON lines ([`rows`]). It also writes new databases in the same schema, for synthetic chains and
//! tests ([`writer`]); it never writes to a database it did not create.

pub mod comparators;
pub mod compare;
mod error;
mod lock;
mod mapping;
mod meta;
mod reader;
pub mod rows;
pub mod scan;
pub mod schema;
pub mod show;
pub mod writer;

pub use dualrun_format::ChainDigest;
pub use error::ChainDbError;
pub use reader::{AltBlock, ChainDb, ChainSummary, RawBlock, ReadTxn, ALT_BLOCK_DATA_SIZE};
pub use schema::{InfoRecord, Schema};
