//! The chain commands that read one chain: `info`, `scan`, `show`, `checkpoints`.

use std::io::Write;

use anyhow::{bail, Result};
use dualrun_chaindb::compare::{self, ChainCheckpoint};
use dualrun_chaindb::rows::{RowFormat, RowWriter};
use dualrun_chaindb::scan::{self, ScannedBlock};
use dualrun_chaindb::show::{self, ShowError, Shown};

use super::report_mismatch;
use crate::chain_arg::{ChainArg, RangeArgs};
use crate::Outcome;

pub(super) fn info(chain: &ChainArg, json: bool) -> Result<Outcome> {
    let (db, label) = chain.open()?;
    let report = compare::info(&db, label, |b| report_mismatch(db.data_file(), b))?;
    let mismatches = report.id_mismatches;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        outln!("chain          {}", report.chain)?;
        outln!("schema         {} ({})", report.schema_version, db.schema().node())?;
        outln!("blocks         {}", report.blocks)?;
        outln!("genesis id     {}", report.genesis_id)?;
        outln!("tip            height {}  id {}", report.tip_height, report.tip_id)?;
        outln!("chain digest   {}", report.chain_digest)?;
        outln!("alt blocks     {} (kept off the main chain)", report.alt_blocks)?;
        match mismatches {
            0 => outln!("stored ids     all {} match the computed ids", report.blocks)?,
            n => outln!("stored ids     {n} differ from the computed ids (listed above)")?,
        }
    }
    Ok(Outcome::clean_if(mismatches == 0))
}

pub(super) fn scan(chain: &ChainArg, range: RangeArgs, format: RowFormat) -> Result<Outcome> {
    let range = range.checked()?;
    let (db, _) = chain.open()?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    out.write_all(scan::header(format).as_bytes())?;
    // The rows are made on the hashing threads; this one reads the chain and writes them.
    let render = |b: &ScannedBlock, row: &mut Vec<u8>| scan::render(format, b, row);
    let mismatches = compare::walk_rendered(
        &db,
        range.from,
        range.to.unwrap_or(u64::MAX),
        |b| report_mismatch(db.data_file(), b),
        &render,
        |rows| out.write_all(rows),
    )?;
    out.flush()?;
    Ok(Outcome::clean_if(mismatches == 0))
}

pub(super) fn show(chain: &ChainArg, height: u64) -> Result<Outcome> {
    let (db, _) = chain.open()?;
    let txn = db.read_txn()?;
    let raw = db.blocks(&txn, height, height)?.next().expect("range holds the height")?;
    let where_ = format!("{}, table blocks, height {height}", db.data_file().display());
    match show::show(&raw) {
        Ok(Shown::Unparsed { json, error }) => {
            outln!("{}", serde_json::to_string_pretty(&json)?)?;
            eprintln!("dualrun: {where_}: block does not parse: {error}");
            Ok(Outcome::Finding)
        }
        Ok(Shown::Block { json, block_id, stored_id }) => {
            outln!("{}", serde_json::to_string_pretty(&json)?)?;
            if block_id != stored_id {
                eprintln!("dualrun: {where_}: stored id {stored_id} but the blob hashes to {block_id}");
                return Ok(Outcome::Finding);
            }
            Ok(Outcome::Clean)
        }
        Err(e @ ShowError::Hash(_)) => Err(anyhow::Error::new(e).context(where_)),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn checkpoints(chain: &ChainArg, every: u64, format: RowFormat) -> Result<Outcome> {
    if every == 0 {
        bail!("--every must be at least 1");
    }
    let (db, _) = chain.open()?;
    let mut w = RowWriter::new(format, &ChainCheckpoint::COLUMNS, std::io::stdout().lock())?;
    let mismatches = compare::checkpoints(&db, every, |b| report_mismatch(db.data_file(), b), |c| w.write(&c))?;
    w.flush()?;
    Ok(Outcome::clean_if(mismatches == 0))
}
