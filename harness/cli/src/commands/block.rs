//! `dualrun block …`: one raw block blob, from a file or stdin, binary or hex text.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
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

/// The most a block blob may be. A blob holds the header, the miner transaction and 32 bytes per other
/// transaction (not the transactions themselves), so real ones are kilobytes; this bounds what `block id`
/// reads (`/dev/zero` must not be read forever) with room to spare.
const MAX_BLOB_BYTES: u64 = 16 << 20;
/// The most input read: the largest blob as hex, and some whitespace.
const MAX_INPUT_BYTES: u64 = 2 * MAX_BLOB_BYTES + 4096;

/// Reads at most [`MAX_INPUT_BYTES`] from `r`; more is an error naming the input.
fn read_bounded(name: &str, r: impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    r.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("reading {name}"))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        bail!("{name}: more than {MAX_INPUT_BYTES} bytes; a block blob is at most {MAX_BLOB_BYTES} bytes (twice that as hex)");
    }
    Ok(bytes)
}

/// Input that starts with a hex digit is hex text (whitespace allowed around it), and must be valid hex;
/// anything else is the binary blob (whose first byte, the major version, is never an ASCII hex digit).
fn decode_input(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let text = bytes[start..].trim_ascii_end();
    if !text.first().is_some_and(u8::is_ascii_hexdigit) {
        if bytes.len() as u64 > MAX_BLOB_BYTES {
            bail!("{name}: {} bytes; a block blob is at most {MAX_BLOB_BYTES} bytes", bytes.len());
        }
        return Ok(bytes);
    }
    if let Some(i) = text.iter().position(|b| !b.is_ascii_hexdigit()) {
        bail!(
            "{name}: invalid hex at byte {} ({:?}): hex input must be hex digits only",
            start + i,
            char::from(text[i])
        );
    }
    if !text.len().is_multiple_of(2) {
        bail!("{name}: invalid hex at byte {}: an odd number of hex digits ({})", start + text.len(), text.len());
    }
    Ok(hex::decode(text).expect("checked hex"))
}

fn id(file: Option<PathBuf>) -> Result<Outcome> {
    let (name, bytes) = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => {
            let name = path.display().to_string();
            let file = std::fs::File::open(&path).with_context(|| format!("reading {name}"))?;
            let bytes = read_bounded(&name, file)?;
            (name, bytes)
        }
        None => ("stdin".to_owned(), read_bounded("stdin", std::io::stdin().lock())?),
    };
    let blob = decode_input(&name, bytes)?;
    let block = Block::parse(&blob).with_context(|| format!("{name}: block does not parse"))?;
    let hashes = block.hashes().with_context(|| name.to_string())?;
    outln!("{} {}", hashes.block_id, hashes.miner_tx_hash)?;
    Ok(Outcome::Clean)
}
