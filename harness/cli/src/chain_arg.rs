//! `--chain DIR`, shared by every command that reads a chain: the directory given, or the bundled
//! sample chain (with its profile) when none is; and `--from H --to H`, shared by the commands that read
//! a stretch of it (from 0 to the tip by default).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use dualrun_chaindb::ChainDb;

/// The chain to read.
#[derive(Args, Clone)]
pub(crate) struct ChainArg {
    /// Chain database directory (holding data.mdb, or a node data dir with lmdb/ or fake/lmdb/).
    /// Default: the bundled sample chain.
    #[arg(long, value_name = "DIR")]
    chain: Option<PathBuf>,
}

impl ChainArg {
    /// The profile to use with this chain: the one given, or the sample's when the chain is the sample.
    pub(crate) fn profile(&self, given: Option<&Path>) -> Result<PathBuf> {
        match (given, &self.chain) {
            (Some(p), _) => Ok(p.to_path_buf()),
            (None, None) => Ok(dualrun_sample::profile()?),
            (None, Some(c)) => bail!("--profile is required with --chain {}", c.display()),
        }
    }

    /// Opens the chain; returns it with a label for messages.
    pub(crate) fn open(&self) -> Result<(ChainDb, String)> {
        let (path, label) = match &self.chain {
            Some(p) => (p.clone(), p.display().to_string()),
            None => {
                let p = dualrun_sample::dir()?;
                let label = format!("{} (bundled sample chain)", p.display());
                (p, label)
            }
        };
        let db = ChainDb::open(&path)?;
        Ok((db, label))
    }
}

/// The heights to read.
#[derive(Args, Clone, Copy)]
pub(crate) struct RangeArgs {
    /// First height.
    #[arg(long, value_name = "H", default_value_t = 0)]
    pub(crate) from: u64,
    /// Last height (inclusive; default: the tip).
    #[arg(long, value_name = "H")]
    pub(crate) to: Option<u64>,
}

impl RangeArgs {
    /// The range, or why it is none ([`check_range`]).
    pub(crate) fn checked(self) -> Result<RangeArgs> {
        check_range(self.from, self.to)?;
        Ok(self)
    }
}

/// Worker threads: the number given, or all cores.
pub(crate) fn threads(given: Option<usize>) -> usize {
    given.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1)
}

/// The one rule for a height range given as `--from`/`--to`, in every command: `--to` may not be below
/// `--from`.
pub(crate) fn check_range(from: u64, to: Option<u64>) -> Result<()> {
    match to {
        Some(to) if to < from => bail!("--to {to} is below --from {from}"),
        _ => Ok(()),
    }
}
