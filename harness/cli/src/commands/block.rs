//! `dualrun block …`: one raw block blob, from a file or stdin, binary or hex text.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
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

/// Hex text (whitespace allowed around it) is decoded; anything else is taken as the binary blob.
fn decode_input(bytes: Vec<u8>) -> Vec<u8> {
    let trimmed = bytes.trim_ascii();
    if !trimmed.is_empty() && trimmed.len().is_multiple_of(2) && trimmed.iter().all(u8::is_ascii_hexdigit) {
        hex::decode(trimmed).expect("checked hex")
    } else {
        bytes
    }
}

fn id(file: Option<PathBuf>) -> Result<Outcome> {
    let (name, bytes) = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => {
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            (path.display().to_string(), bytes)
        }
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).context("reading stdin")?;
            ("stdin".to_owned(), bytes)
        }
    };
    let blob = decode_input(bytes);
    let block = Block::parse(&blob).with_context(|| format!("{name}: block does not parse"))?;
    let hashes = block.hashes().with_context(|| name.to_string())?;
    println!("{} {}", hashes.block_id, hashes.miner_tx_hash);
    Ok(Outcome::Clean)
}
