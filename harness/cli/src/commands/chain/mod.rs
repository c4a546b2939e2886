//! `dualrun chain …`: read a chain database (`read`), compare it (`compare`), write a synthetic one
//! (`synth`).

mod compare;
mod read;
mod synth;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use dualrun_chaindb::scan::ScannedBlock;
use dualrun_synth::LeaderSpec;

use crate::chain_arg::{ChainArg, RangeArgs};
use crate::format_arg::{renamed, Object, Rows, RowsWasJson};
use crate::Outcome;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SchemaArg {
    /// Monero 0.18 (96-byte block_info records).
    #[value(name = "5")]
    V5,
    /// X-Cash (80-byte block_info records).
    #[value(name = "3")]
    V3,
}

#[derive(Subcommand)]
pub(crate) enum ChainCommand {
    /// Schema, block count, genesis and tip, and the chain digest; checks every stored id.
    Info {
        #[command(flatten)]
        chain: ChainArg,
        #[command(flatten)]
        format: Object,
    },
    /// One row per block: ids, header fields, tx count, miner tx hash, blob size.
    Scan {
        #[command(flatten)]
        chain: ChainArg,
        #[command(flatten)]
        range: RangeArgs,
        #[command(flatten)]
        format: RowsWasJson,
    },
    /// One block, parsed, as JSON: header, miner tx, tx_extra fields, tx hashes, hashing blob, id.
    Show {
        #[command(flatten)]
        chain: ChainArg,
        /// The height of the block.
        height: u64,
    },
    /// Rows `height,block_id,chain_digest` at heights 0, N, 2N, … and the tip; the digest covers ids 0..=height.
    Checkpoints {
        #[command(flatten)]
        chain: ChainArg,
        /// A checkpoint every N heights (and at the tip).
        #[arg(long, value_name = "N")]
        every: u64,
        #[command(flatten)]
        format: Rows,
    },
    /// Checks a chain against a checkpoints file; exit 1 naming the first mismatching height.
    Verify {
        #[command(flatten)]
        chain: ChainArg,
        /// A checkpoints file, as `chain checkpoints` writes it.
        #[arg(long, value_name = "FILE")]
        checkpoints: PathBuf,
    },
    /// Compares two chains' block ids: the first height where they differ, or identical over the common range.
    Diff {
        /// The first chain's database directory.
        #[arg(long, value_name = "DIR")]
        chain: PathBuf,
        /// The second chain's database directory.
        #[arg(long, value_name = "DIR")]
        against: PathBuf,
    },
    /// Writes a synthetic chain of valid, linked blocks in a node's schema (for benchmarks and tests).
    Synth {
        /// New directory to create (must not exist or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Number of blocks, genesis included.
        #[arg(long)]
        blocks: u64,
        /// 5 = Monero 0.18, 3 = X-Cash.
        #[arg(long, value_enum, default_value = "5")]
        schema: SchemaArg,
        /// Seed of the deterministic block contents (another seed, another chain).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Sign blocks from the profile's activation height under leader protocol v1.
        #[arg(long, value_name = "FILE", requires = "keys")]
        profile: Option<PathBuf>,
        /// A validator's key file; with --profile, one for every validator.
        #[arg(long = "key", value_name = "FILE")]
        keys: Vec<PathBuf>,
        /// A block built faulty on purpose: HEIGHT:KIND (missing, unknown, not-scheduled, bad-signature, malformed).
        #[arg(long = "fault", value_name = "HEIGHT:KIND", requires = "profile")]
        faults: Vec<String>,
        /// With --profile: write every block's expected verdict as CSV (the `leader check` columns).
        #[arg(long, value_name = "FILE", requires = "profile")]
        expected: Option<PathBuf>,
        /// Deprecated: use --expected.
        #[arg(long, value_name = "FILE", requires = "profile", hide = true, conflicts_with = "expected")]
        record: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: ChainCommand) -> Result<Outcome> {
    match cmd {
        ChainCommand::Info { chain, format } => read::info(&chain, format.json()),
        ChainCommand::Scan { chain, range, format } => read::scan(&chain, range, format.get()),
        ChainCommand::Show { chain, height } => read::show(&chain, height),
        ChainCommand::Checkpoints { chain, every, format } => read::checkpoints(&chain, every, format.get()),
        ChainCommand::Verify { chain, checkpoints } => compare::verify(&chain, &checkpoints),
        ChainCommand::Diff { chain, against } => compare::diff(&chain, &against),
        ChainCommand::Synth { out, blocks, schema, seed, profile, keys, faults, expected, record } => {
            let expected = renamed(expected, record, "--record", "--expected");
            let leader = profile.map(|p| LeaderSpec::from_files(&p, &keys, &faults)).transpose()?;
            synth::synth(&out, blocks, schema, seed, leader, expected.as_deref())
        }
    }
}

/// Reports a stored id that differs from the computed one, in the database file `file`.
fn report_mismatch(file: &Path, b: &ScannedBlock) {
    eprintln!(
        "dualrun: {}, table block_info, height {}: stored id {} but the blob hashes to {}",
        file.display(),
        b.height,
        b.stored_id,
        b.block_id
    );
}
