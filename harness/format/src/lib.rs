//! Monero-family block blobs, byte for byte.
//!
//! This crate owns the wire format and the hashing rules: it parses a raw block blob (as a node stores it
//! in its `blocks` table) into header, miner transaction, tx_extra fields and tx-hash list, strictly (no
//! trailing bytes, canonical varints only), and computes the block id and miner-transaction hash exactly as
//! `monerod` does. Its only I/O is reading bounded input: [`file`] (with [`FileError`], the file error every
//! crate shares) and [`blob_input`] (a blob a person hands over, binary or hex); the chain database lives
//! in `dualrun-chaindb`.
//!
//! ```
//! use dualrun_format::{Block, hash::Hash32};
//! # let blob = dualrun_format::encode::genesis_blob(10000);
//! let block = Block::parse(&blob)?;
//! let ids = block.hashes()?;
//! assert_eq!(ids.block_id, "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3".parse::<Hash32>().unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod blob_input;
pub mod block;
pub mod digest;
pub mod encode;
pub mod error;
pub mod extra;
pub mod file;
pub mod hash;
pub mod ids;
mod reader;
pub mod varint;
pub mod view;

pub use block::{Block, BlockHeader, MinerTx, TxIn, TxOut, TxOutTarget};
pub use digest::ChainDigest;
pub use error::{ParseError, ParseErrorKind};
pub use extra::{ExtraField, ExtraFieldKind, ParsedExtra};
pub use file::FileError;
pub use hash::{keccak256, keccak256_reader, Hash32, KECCAK_IMPLEMENTATION};
pub use ids::{BlockHashes, HashError};
pub use view::{BlockView, ViewError};
