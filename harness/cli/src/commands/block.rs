//! `dualrun block …`: one raw block blob, from a file or stdin, binary or hex text.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use dualrun_format::blob_input::{self, BlobInput};
use dualrun_format::Block;

use crate::Outcome;

#[derive(Subcommand)]
pub(crate) enum BlockCommand {
    /// Prints `<block_id> <miner_tx_hash>` of a raw block blob (binary, or hex text).
    Id {
        /// The blob file; `-` or nothing reads stdin.
        #[arg(value_name = "FILE|-")]
        file: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: BlockCommand) -> Result<Outcome> {
    match cmd {
        BlockCommand::Id { file } => id(file),
    }
}

fn id(file: Option<PathBuf>) -> Result<Outcome> {
    let BlobInput { name, blob } = blob_input::read(file.as_deref())?;
    let block = Block::parse(&blob).with_context(|| format!("{name}: block does not parse"))?;
    let hashes = block.hashes().with_context(|| name.to_string())?;
    outln!("{} {}", hashes.block_id, hashes.miner_tx_hash)?;
    Ok(Outcome::Clean)
}
