//! `dualrun keygen`: a new Ed25519 key file.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dualrun_keys::KeyFile;

use crate::Outcome;

#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// The id the key signs as (1–32 characters of A-Z a-z 0-9 . _ -).
    #[arg(long)]
    id: String,
    /// The key file to create (mode 0600; an existing file is never overwritten).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub(crate) fn run(args: KeygenArgs) -> Result<Outcome> {
    let key = KeyFile::generate(&args.id)?;
    key.write_new(&args.out)?;
    outln!("{} {}", key.id, key.public_key_hex())?;
    Ok(Outcome::Clean)
}
