//! `dualrun chain …`: read a chain database.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use dualrun_chaindb::compare::{self, Diff};
use dualrun_chaindb::scan::ScannedBlock;
use dualrun_chaindb::{ChainDb, Schema};
use dualrun_format::{BlockView, Hash32, ViewError};
use serde::Serialize;

use crate::chain_arg::ChainArg;
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
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One row per block: ids, header fields, tx count, miner tx hash, blob size.
    Scan {
        #[command(flatten)]
        chain: ChainArg,
        /// First height.
        #[arg(long, value_name = "H", default_value_t = 0)]
        from: u64,
        /// Last height (inclusive; default: the tip).
        #[arg(long, value_name = "H")]
        to: Option<u64>,
        /// JSON lines instead of CSV.
        #[arg(long)]
        json: bool,
    },
    /// One block, parsed, as JSON: header, miner tx, tx_extra fields, tx hashes, hashing blob, id.
    Show {
        #[command(flatten)]
        chain: ChainArg,
        /// The height of the block.
        height: u64,
    },
    /// CSV `height,block_id,chain_digest` at heights 0, N, 2N, … and the tip; the digest covers ids 0..=height.
    Checkpoints {
        #[command(flatten)]
        chain: ChainArg,
        /// A checkpoint every N heights (and at the tip).
        #[arg(long, value_name = "N")]
        every: u64,
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
        record: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: ChainCommand) -> Result<Outcome> {
    match cmd {
        ChainCommand::Info { chain, json } => info(&chain, json),
        ChainCommand::Scan { chain, from, to, json } => scan(&chain, from, to, json),
        ChainCommand::Show { chain, height } => show(&chain, height),
        ChainCommand::Checkpoints { chain, every } => checkpoints(&chain, every),
        ChainCommand::Verify { chain, checkpoints } => verify(&chain, &checkpoints),
        ChainCommand::Diff { chain, against } => diff(&chain, &against),
        ChainCommand::Synth { out, blocks, schema, seed, profile, keys, faults, record } => {
            let leader = match profile {
                Some(p) => Some(leader_spec(&p, &keys, &faults)?),
                None => None,
            };
            synth(&out, blocks, schema, seed, leader, record.as_deref())
        }
    }
}

/// Reports a stored id that differs from the computed one.
fn report_mismatch(db: &ChainDb) -> impl FnMut(&ScannedBlock) + '_ {
    move |b| {
        eprintln!(
            "dualrun: {}, table block_info, height {}: stored id {} but the blob hashes to {}",
            db.data_file().display(),
            b.height,
            b.stored_id,
            b.block_id
        );
    }
}

fn info(chain: &ChainArg, json: bool) -> Result<Outcome> {
    let (db, label) = chain.open()?;
    let report = compare::info(&db, label, report_mismatch(&db))?;
    let mismatches = report.id_mismatches;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        let schema = match db.schema() {
            Schema::MoneroV5 => "Monero 0.18",
            Schema::XcashV3 => "X-Cash",
        };
        outln!("chain          {}", report.chain)?;
        outln!("schema         {} ({schema})", report.schema_version)?;
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

/// A `chain scan` row; the field order is the CSV header.
#[derive(Serialize)]
struct ScanRow {
    height: u64,
    block_id: Hash32,
    prev_id: Hash32,
    timestamp: u64,
    major_version: u8,
    minor_version: u8,
    nonce: u32,
    tx_count: usize,
    miner_tx_hash: Hash32,
    blob_bytes: usize,
}

impl ScanRow {
    /// The CSV header of `chain scan`.
    const CSV_HEADER: &'static str =
        "height,block_id,prev_id,timestamp,major_version,minor_version,nonce,tx_count,miner_tx_hash,blob_bytes\n";

    /// The row as a CSV line: numbers and hex ids only, so no field is ever quoted.
    fn write_csv(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let r = self;
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            r.height,
            r.block_id,
            r.prev_id,
            r.timestamp,
            r.major_version,
            r.minor_version,
            r.nonce,
            r.tx_count,
            r.miner_tx_hash,
            r.blob_bytes
        )
        .expect("writing into memory");
    }
}

impl From<&ScannedBlock> for ScanRow {
    fn from(b: &ScannedBlock) -> Self {
        ScanRow {
            height: b.height,
            block_id: b.block_id,
            prev_id: b.prev_id,
            timestamp: b.timestamp,
            major_version: b.major_version,
            minor_version: b.minor_version,
            nonce: b.nonce,
            tx_count: b.tx_count,
            miner_tx_hash: b.miner_tx_hash,
            blob_bytes: b.blob_bytes,
        }
    }
}

fn scan(chain: &ChainArg, from: u64, to: Option<u64>, json: bool) -> Result<Outcome> {
    crate::chain_arg::check_range(from, to)?;
    let (db, _) = chain.open()?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let to = to.unwrap_or(u64::MAX);
    // The rows are made on the hashing threads; this one reads the chain and writes them.
    let json_row = |b: &ScannedBlock, out: &mut Vec<u8>| {
        serde_json::to_writer(&mut *out, &ScanRow::from(b)).expect("a row serializes into memory");
        out.push(b'\n');
    };
    let csv_row = |b: &ScannedBlock, out: &mut Vec<u8>| ScanRow::from(b).write_csv(out);
    if !json {
        out.write_all(ScanRow::CSV_HEADER.as_bytes())?;
    }
    let render: &(dyn Fn(&ScannedBlock, &mut Vec<u8>) + Sync) = if json { &json_row } else { &csv_row };
    let mismatches = compare::walk_rendered(&db, from, to, report_mismatch(&db), render, |rows| out.write_all(rows))?;
    out.flush()?;
    Ok(Outcome::clean_if(mismatches == 0))
}

fn show(chain: &ChainArg, height: u64) -> Result<Outcome> {
    let (db, _) = chain.open()?;
    let txn = db.read_txn()?;
    let raw = db.blocks(&txn, height, height)?.next().expect("range holds the height")?;
    let where_ = format!("{}, table blocks, height {height}", db.data_file().display());
    let view = match BlockView::of(raw.blob) {
        Ok(v) => v,
        Err(ViewError::Parse(e)) => {
            let view = serde_json::json!({
                "height": height,
                "stored_id": raw.info.hash,
                "blob_bytes": raw.blob.len(),
                "blob": hex::encode(raw.blob),
                "parse_error": { "offset": e.offset, "message": e.to_string() },
            });
            outln!("{}", serde_json::to_string_pretty(&view)?)?;
            eprintln!("dualrun: {where_}: block does not parse: {e}");
            return Ok(Outcome::Finding);
        }
        Err(e @ ViewError::Hash(_)) => return Err(anyhow::Error::new(e).context(where_)),
    };
    let block_id = view.block_id;
    // The height first, the database's own record of the block last.
    let mut shown = serde_json::Map::new();
    shown.insert("height".into(), height.into());
    let serde_json::Value::Object(fields) = serde_json::to_value(&view)? else { unreachable!("a struct") };
    shown.extend(fields);
    shown.insert("stored_id".into(), serde_json::to_value(raw.info.hash)?);
    shown.insert("block_info".into(), serde_json::to_value(&raw.info)?);
    let view = serde_json::Value::Object(shown);
    outln!("{}", serde_json::to_string_pretty(&view)?)?;
    if block_id != raw.info.hash {
        eprintln!("dualrun: {where_}: stored id {} but the blob hashes to {block_id}", raw.info.hash);
        return Ok(Outcome::Finding);
    }
    Ok(Outcome::Clean)
}

fn checkpoints(chain: &ChainArg, every: u64) -> Result<Outcome> {
    if every == 0 {
        bail!("--every must be at least 1");
    }
    let (db, _) = chain.open()?;
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    let mismatches = compare::checkpoints(&db, every, report_mismatch(&db), |c| w.serialize(c))?;
    w.flush()?;
    Ok(Outcome::clean_if(mismatches == 0))
}

fn verify(chain: &ChainArg, file: &Path) -> Result<Outcome> {
    let expected = compare::read_checkpoints(file)?;
    let (db, label) = chain.open()?;
    let last = expected.last().map_or(0, |c| c.height);
    let mut stored_mismatches = 0u64;
    let mut report = report_mismatch(&db);
    let failure = compare::verify_checkpoints(&db, &expected, |b| {
        stored_mismatches += 1;
        report(b);
    })?;
    match &failure {
        None => outln!("{label}: all {} checkpoints match (up to height {last})", expected.len())?,
        Some(f) => outln!("{label}: first mismatch at {f}")?,
    }
    outln!("{label}: (compared: the computed block ids, each blob hashed, with the checkpoints)")?;
    if stored_mismatches > 0 {
        outln!("{label}: {stored_mismatches} stored ids differ from the computed ids (listed on stderr)")?;
    }
    Ok(Outcome::clean_if(failure.is_none() && stored_mismatches == 0))
}

fn diff(a: &Path, b: &Path) -> Result<Outcome> {
    let mut stored_mismatches = 0u64;
    let result = compare::diff(a, b, |path, block| {
        stored_mismatches += 1;
        eprintln!(
            "dualrun: {}, table block_info, height {}: stored id {} but the blob hashes to {}",
            path.display(),
            block.height,
            block.stored_id,
            block.block_id
        );
    })?;
    let outcome = diff_outcome(a, b, result)?;
    outln!("(compared: the computed block ids, each blob hashed; not the ids the databases store)")?;
    if stored_mismatches > 0 {
        outln!("{stored_mismatches} stored ids differ from the computed ids (listed on stderr)")?;
        return Ok(Outcome::Finding);
    }
    Ok(outcome)
}

fn diff_outcome(a: &Path, b: &Path, result: Diff) -> Result<Outcome> {
    match result {
        Diff::SameDatabase { tip } => {
            outln!("{} and {} are the same database: identical over heights 0..={tip}", a.display(), b.display())?;
            Ok(Outcome::Clean)
        }
        Diff::Differ { height, a: id_a, b: id_b } => {
            outln!("first difference at height {height}: {} has {id_a}, {} has {id_b}", a.display(), b.display())?;
            Ok(Outcome::Finding)
        }
        Diff::Identical { common, tip_a, tip_b } => {
            outln!("identical over heights 0..={common}")?;
            outln!("{}: tip {} {}", a.display(), tip_a.0, tip_a.1)?;
            outln!("{}: tip {} {}", b.display(), tip_b.0, tip_b.1)?;
            Ok(Outcome::Clean)
        }
    }
}

/// The signing part of a synthetic chain: the profile, a key for each validator, the faults.
fn leader_spec(profile: &Path, keys: &[PathBuf], faults: &[String]) -> Result<dualrun_synth::LeaderSpec> {
    let profile = dualrun_leader::Profile::load(profile)?;
    let mut by_index = vec![None; profile.validators.len()];
    for path in keys {
        let key = dualrun_leader::keys::KeyFile::read(path)?;
        let i = profile.signer_index(&key).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        by_index[i] = Some(key.signing_key);
    }
    let keys = by_index
        .into_iter()
        .zip(&profile.validators)
        .map(|(k, v)| k.with_context(|| format!("no --key for validator {:?}: synthetic chains need every key", v.id)))
        .collect::<Result<Vec<_>>>()?;
    let parsed = faults
        .iter()
        .map(|f| dualrun_leader::testchain::parse_fault(f).map_err(|e| anyhow::anyhow!("--fault: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let fault_map = dualrun_leader::testchain::fault_map(parsed).map_err(anyhow::Error::msg)?;
    Ok(dualrun_synth::LeaderSpec { profile, keys, faults: fault_map })
}

fn synth(
    out: &Path,
    blocks: u64,
    schema: SchemaArg,
    seed: u64,
    leader: Option<dualrun_synth::LeaderSpec>,
    record: Option<&Path>,
) -> Result<Outcome> {
    if blocks == 0 {
        bail!("--blocks must be at least 1 (the genesis block)");
    }
    let schema = match schema {
        SchemaArg::V5 => Schema::MoneroV5,
        SchemaArg::V3 => Schema::XcashV3,
    };
    let start = std::time::Instant::now();
    // On a terminal one line rewritten in place; in a log or CI output, whole lines, one every 10 s.
    let terminal = std::io::stderr().is_terminal();
    let mut last_line = start;
    let report = dualrun_synth::generate(out, dualrun_synth::SynthSpec { blocks, schema, seed, leader }, |n| {
        if terminal {
            eprint!("\rdualrun: {n}/{blocks} blocks written");
        } else if last_line.elapsed() >= std::time::Duration::from_secs(10) {
            last_line = std::time::Instant::now();
            eprintln!("dualrun: {n}/{blocks} blocks written");
        }
    })?;
    if terminal {
        eprintln!();
    }
    if let Some(path) = record {
        let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
        w.write_record(["height", "block_id", "verdict", "reason", "leader_id"])?;
        for e in &report.expected {
            let verdict = if e.reason.is_some() { "reject" } else { "accept" };
            w.write_record([
                &e.height.to_string(),
                &e.block_id.to_string(),
                verdict,
                e.reason.unwrap_or(""),
                e.leader_id.as_deref().unwrap_or(""),
            ])?;
        }
        w.flush()?;
    }
    outln!(
        "wrote {}: {} blocks (schema {}), tip {}, chain digest {}, {} blob bytes, {:.1} s",
        out.display(),
        report.blocks,
        schema.version(),
        report.tip_id,
        report.chain_digest,
        report.blob_bytes,
        start.elapsed().as_secs_f64()
    )?;
    Ok(Outcome::Clean)
}
