//! `dualrun chain …`: read a chain database.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use dualrun_chaindb::scan::{scan_block, ScannedBlock};
use dualrun_chaindb::{ChainDb, ChainDigest, Schema};
use dualrun_format::extra;
use dualrun_format::{Block, Hash32};
use serde::{Deserialize, Serialize};

use crate::{embedded as sample, Outcome};

#[derive(Args, Clone)]
pub struct ChainArg {
    /// Chain database directory (holding data.mdb, or a node data dir with lmdb/ or fake/lmdb/).
    /// Default: the bundled sample chain.
    #[arg(long, value_name = "DIR")]
    chain: Option<PathBuf>,
}

impl ChainArg {
    /// The profile to use with this chain: the one given, or the sample's when the chain is the sample.
    pub fn profile(&self, given: Option<&Path>) -> Result<PathBuf> {
        match (given, &self.chain) {
            (Some(p), _) => Ok(p.to_path_buf()),
            (None, None) => sample::profile(),
            (None, Some(c)) => bail!("--profile is required with --chain {}", c.display()),
        }
    }

    /// The chain as a later command should name it (the materialized sample's directory if none given).
    pub fn path_for_commands(&self, db: &ChainDb) -> String {
        match &self.chain {
            Some(p) => p.display().to_string(),
            None => db.dir().display().to_string(),
        }
    }

    pub fn open(&self) -> Result<(ChainDb, String)> {
        let (path, label) = match &self.chain {
            Some(p) => (p.clone(), p.display().to_string()),
            None => {
                let p = sample::dir()?;
                let label = format!("{} (bundled sample chain)", p.display());
                (p, label)
            }
        };
        let db = ChainDb::open(&path)?;
        Ok((db, label))
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScanFormat {
    Csv,
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SchemaArg {
    #[value(name = "5")]
    V5,
    #[value(name = "3")]
    V3,
}

#[derive(Subcommand)]
pub enum ChainCommand {
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
        #[arg(long, value_name = "H", default_value_t = 0)]
        from: u64,
        /// Last height (inclusive; default: the tip).
        #[arg(long, value_name = "H")]
        to: Option<u64>,
        /// CSV output (the default).
        #[arg(long, conflicts_with = "format")]
        csv: bool,
        #[arg(long, value_enum, default_value = "csv")]
        format: ScanFormat,
    },
    /// One block, parsed, as JSON: header, miner tx, tx_extra fields, tx hashes, hashing blob, id.
    Show {
        #[command(flatten)]
        chain: ChainArg,
        height: u64,
    },
    /// CSV `height,block_id,chain_digest` at heights 0, N, 2N, … and the tip; the digest covers ids 0..=height.
    Checkpoints {
        #[command(flatten)]
        chain: ChainArg,
        #[arg(long, value_name = "N")]
        every: u64,
    },
    /// Checks a chain against a checkpoints file; exit 1 naming the first mismatching height.
    Verify {
        #[command(flatten)]
        chain: ChainArg,
        #[arg(long, value_name = "FILE")]
        checkpoints: PathBuf,
    },
    /// Compares two chains' block ids: the first height where they differ, or identical over the common range.
    Diff {
        #[arg(long, value_name = "DIR")]
        chain: PathBuf,
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

pub fn run(cmd: ChainCommand) -> Result<Outcome> {
    match cmd {
        ChainCommand::Info { chain, json } => info(&chain, json),
        ChainCommand::Scan { chain, from, to, csv: _, format } => scan(&chain, from, to, format),
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

/// Walks blocks `from..=to`, checking each, and hands each checked block to `f`. A block that does not
/// parse stops the walk with an error naming file, table, height and byte offset. Returns the number
/// of stored ids that differ from the computed ones (each reported on stderr).
fn walk(db: &ChainDb, from: u64, to: u64, mut f: impl FnMut(&ScannedBlock) -> Result<()>) -> Result<u64> {
    let txn = db.read_txn()?;
    let mut mismatches = 0;
    for raw in db.blocks(&txn, from, to)? {
        let raw = raw?;
        let block = scan_block(&raw)
            .with_context(|| format!("{}, table blocks", db.data_file().display()))?;
        if block.id_mismatch() {
            mismatches += 1;
            eprintln!(
                "dualrun: {}, table block_info, height {}: stored id {} but the blob hashes to {}",
                db.data_file().display(),
                block.height,
                block.stored_id,
                block.block_id
            );
        }
        f(&block)?;
    }
    Ok(mismatches)
}

#[derive(Serialize)]
struct InfoReport {
    chain: String,
    data_file: PathBuf,
    schema_version: u32,
    blocks: u64,
    genesis_id: Hash32,
    tip_height: u64,
    tip_id: Hash32,
    chain_digest: Hash32,
    /// Stored ids (block_info) that differ from the computed ones.
    id_mismatches: u64,
}

fn info(chain: &ChainArg, json: bool) -> Result<Outcome> {
    let (db, label) = chain.open()?;
    let summary = db.read_txn().and_then(|t| db.summary(&t))?;
    let mut digest = ChainDigest::new();
    let mut genesis_id = Hash32::ZERO;
    let mut tip_id = Hash32::ZERO;
    let mismatches = walk(&db, 0, summary.tip_height, |b| {
        if b.height == 0 {
            genesis_id = b.block_id;
        }
        tip_id = b.block_id;
        digest.push(&b.block_id);
        Ok(())
    })?;
    let report = InfoReport {
        chain: label,
        data_file: db.data_file().to_path_buf(),
        schema_version: summary.schema_version,
        blocks: summary.blocks,
        genesis_id,
        tip_height: summary.tip_height,
        tip_id,
        chain_digest: digest.current(),
        id_mismatches: mismatches,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let schema = match db.schema() {
            Schema::MoneroV5 => "Monero 0.18",
            Schema::XcashV3 => "X-Cash",
        };
        println!("chain          {}", report.chain);
        println!("schema         {} ({schema})", report.schema_version);
        println!("blocks         {}", report.blocks);
        println!("genesis id     {}", report.genesis_id);
        println!("tip            height {}  id {}", report.tip_height, report.tip_id);
        println!("chain digest   {}", report.chain_digest);
        match mismatches {
            0 => println!("stored ids     all {} match the computed ids", report.blocks),
            n => println!("stored ids     {n} differ from the computed ids (listed above)"),
        }
    }
    Ok(if mismatches == 0 { Outcome::Clean } else { Outcome::Finding })
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

fn scan(chain: &ChainArg, from: u64, to: Option<u64>, format: ScanFormat) -> Result<Outcome> {
    let (db, _) = chain.open()?;
    let stdout = std::io::stdout().lock();
    let out = std::io::BufWriter::with_capacity(1 << 16, stdout);
    let mismatches = match format {
        ScanFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let n = walk(&db, from, to.unwrap_or(u64::MAX), |b| Ok(w.serialize(ScanRow::from(b))?))?;
            w.flush()?;
            n
        }
        ScanFormat::Jsonl => {
            let mut out = out;
            let n = walk(&db, from, to.unwrap_or(u64::MAX), |b| {
                serde_json::to_writer(&mut out, &ScanRow::from(b))?;
                Ok(out.write_all(b"\n")?)
            })?;
            out.flush()?;
            n
        }
    };
    Ok(if mismatches == 0 { Outcome::Clean } else { Outcome::Finding })
}

#[derive(Serialize)]
struct ExtraFieldView {
    offset: usize,
    tag: u8,
    kind: extra::ExtraFieldKind,
    bytes: String,
    payload: String,
}

#[derive(Serialize)]
struct ExtraUnparsed {
    offset: usize,
    reason: String,
    bytes: String,
}

fn show(chain: &ChainArg, height: u64) -> Result<Outcome> {
    let (db, _) = chain.open()?;
    let txn = db.read_txn()?;
    let raw = db.blocks(&txn, height, height)?.next().expect("range holds the height")?;
    let where_ = format!("{}, table blocks, height {height}", db.data_file().display());
    let block = match Block::parse(raw.blob) {
        Ok(b) => b,
        Err(e) => {
            let view = serde_json::json!({
                "height": height,
                "stored_id": raw.info.hash,
                "blob_bytes": raw.blob.len(),
                "blob": hex::encode(raw.blob),
                "parse_error": { "offset": e.offset, "message": e.to_string() },
            });
            println!("{}", serde_json::to_string_pretty(&view)?);
            eprintln!("dualrun: {where_}: block does not parse: {e}");
            return Ok(Outcome::Finding);
        }
    };
    let hashes = block.hashes().with_context(|| where_.clone())?;
    let parsed = extra::parse(block.miner_tx.extra);
    let fields: Vec<ExtraFieldView> = parsed
        .fields
        .iter()
        .map(|f| ExtraFieldView {
            offset: f.range.start,
            tag: f.tag,
            kind: f.kind,
            bytes: hex::encode(&block.miner_tx.extra[f.range.clone()]),
            payload: hex::encode(parsed.payload(f)),
        })
        .collect();
    let unparsed = parsed.error.as_ref().map(|e| ExtraUnparsed {
        offset: e.offset,
        reason: e.reason.clone(),
        bytes: hex::encode(parsed.unparsed()),
    });
    let tx = &block.miner_tx;
    let view = serde_json::json!({
        "height": height,
        "block_id": hashes.block_id,
        "stored_id": raw.info.hash,
        "id_overridden": hashes.id_overridden,
        "header": block.header,
        "miner_tx": {
            "hash": hashes.miner_tx_hash,
            "version": tx.version,
            "unlock_time": tx.unlock_time,
            "inputs": tx.inputs,
            "outputs": tx.outputs,
            "rct_type": tx.rct_type,
            "extra": {
                "bytes": hex::encode(tx.extra),
                "fields": fields,
                "unparsed": unparsed,
            },
        },
        "tx_hashes": block.tx_hashes().collect::<Vec<_>>(),
        "tree_root": hashes.tree_root,
        "hashing_blob": hex::encode(block.hashing_blob(&hashes.tree_root)),
        "blob_bytes": raw.blob.len(),
        "blob": hex::encode(raw.blob),
        "block_info": raw.info,
    });
    println!("{}", serde_json::to_string_pretty(&view)?);
    if hashes.block_id != raw.info.hash {
        eprintln!("dualrun: {where_}: stored id {} but the blob hashes to {}", raw.info.hash, hashes.block_id);
        return Ok(Outcome::Finding);
    }
    Ok(Outcome::Clean)
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    height: u64,
    block_id: Hash32,
    chain_digest: Hash32,
}

fn checkpoints(chain: &ChainArg, every: u64) -> Result<Outcome> {
    if every == 0 {
        bail!("--every must be at least 1");
    }
    let (db, _) = chain.open()?;
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    let mut digest = ChainDigest::new();
    let mismatches = walk(&db, 0, tip, |b| {
        digest.push(&b.block_id);
        if b.height % every == 0 || b.height == tip {
            w.serialize(Checkpoint { height: b.height, block_id: b.block_id, chain_digest: digest.current() })?;
        }
        Ok(())
    })?;
    w.flush()?;
    Ok(if mismatches == 0 { Outcome::Clean } else { Outcome::Finding })
}

fn verify(chain: &ChainArg, file: &Path) -> Result<Outcome> {
    let mut rdr = csv::Reader::from_path(file).with_context(|| format!("reading {}", file.display()))?;
    let mut expected = Vec::new();
    for (i, row) in rdr.deserialize::<Checkpoint>().enumerate() {
        // Line numbers count the header as line 1.
        expected.push(row.with_context(|| format!("{}: line {}", file.display(), i + 2))?);
    }
    if expected.is_empty() {
        bail!("{}: no checkpoints in the file", file.display());
    }
    if let Some(w) = expected.windows(2).find(|w| w[1].height <= w[0].height) {
        bail!("{}: checkpoints must be in increasing height order ({} after {})", file.display(), w[1].height, w[0].height);
    }
    let (db, label) = chain.open()?;
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    let last = expected.last().expect("non-empty").height;
    let mut digest = ChainDigest::new();
    let mut next = expected.iter().peekable();
    let mut failure: Option<String> = None;
    walk(&db, 0, last.min(tip), |b| {
        digest.push(&b.block_id);
        if failure.is_none() && next.peek().is_some_and(|c| c.height == b.height) {
            let c = next.next().expect("peeked");
            if c.block_id != b.block_id {
                failure = Some(format!("height {}: block id {} but the checkpoint says {}", b.height, b.block_id, c.block_id));
            } else if c.chain_digest != digest.current() {
                failure = Some(format!(
                    "height {}: chain digest {} but the checkpoint says {} (an earlier block differs)",
                    b.height,
                    digest.current(),
                    c.chain_digest
                ));
            }
        }
        Ok(())
    })?;
    if failure.is_none() && last > tip {
        let c = next.next().expect("a checkpoint beyond the tip remains");
        failure = Some(format!("height {}: beyond the chain's tip {tip}", c.height));
    }
    match failure {
        None => {
            println!("{label}: all {} checkpoints match (up to height {last})", expected.len());
            Ok(Outcome::Clean)
        }
        Some(f) => {
            println!("{label}: first mismatch at {f}");
            Ok(Outcome::Finding)
        }
    }
}

fn diff(a: &Path, b: &Path) -> Result<Outcome> {
    let db_a = ChainDb::open(a)?;
    // LMDB allows one environment per file and process: the same database twice is opened once.
    let canonical = |p: &Path| ChainDb::locate(p).and_then(|d| {
        std::fs::canonicalize(&d).map_err(|source| dualrun_chaindb::ChainDbError::Io { file: d, source })
    });
    if canonical(a)? == canonical(b)? {
        let tip = db_a.read_txn().and_then(|t| db_a.tip_height(&t))?;
        println!("{} and {} are the same database: identical over heights 0..={tip}", a.display(), b.display());
        return Ok(Outcome::Clean);
    }
    let db_b = ChainDb::open(b)?;
    let (ta, tb) = (db_a.read_txn()?, db_b.read_txn()?);
    let (tip_a, tip_b) = (db_a.tip_height(&ta)?, db_b.tip_height(&tb)?);
    let common = tip_a.min(tip_b);
    let mut ia = db_a.blocks(&ta, 0, common)?;
    let mut ib = db_b.blocks(&tb, 0, common)?;
    let (mut last_a, mut last_b) = (Hash32::ZERO, Hash32::ZERO);
    for height in 0..=common {
        let ra = ia.next().expect("height in range")?;
        let rb = ib.next().expect("height in range")?;
        let ctx = |p: &Path| format!("{}, table blocks", p.display());
        let sa = scan_block(&ra).with_context(|| ctx(a))?;
        let sb = scan_block(&rb).with_context(|| ctx(b))?;
        if sa.block_id != sb.block_id {
            println!("first difference at height {height}: {} has {}, {} has {}", a.display(), sa.block_id, b.display(), sb.block_id);
            return Ok(Outcome::Finding);
        }
        (last_a, last_b) = (sa.block_id, sb.block_id);
    }
    let tip_id = |db: &ChainDb, t, tip, last| -> Result<Hash32> {
        if tip == common {
            return Ok(last);
        }
        let raw = db.blocks(t, tip, tip)?.next().expect("tip exists")?;
        Ok(scan_block(&raw).with_context(|| format!("{}, table blocks", db.data_file().display()))?.block_id)
    };
    println!("identical over heights 0..={common}");
    println!("{}: tip {tip_a} {}", a.display(), tip_id(&db_a, &ta, tip_a, last_a)?);
    println!("{}: tip {tip_b} {}", b.display(), tip_id(&db_b, &tb, tip_b, last_b)?);
    Ok(Outcome::Clean)
}

/// The signing part of a synthetic chain: the profile, a key for each validator, the faults.
fn leader_spec(profile: &Path, keys: &[PathBuf], faults: &[String]) -> Result<dualrun_synth::LeaderSpec> {
    let profile = dualrun_leader::Profile::load(profile)?;
    let mut by_index = vec![None; profile.validators.len()];
    for path in keys {
        let key = dualrun_leader::keys::KeyFile::read(path)?;
        let i = profile
            .validator_index(&key.id)
            .with_context(|| format!("{}: key id {:?} is not a validator of the profile", path.display(), key.id))?;
        if profile.validators[i].public_key != key.verifying_key() {
            bail!("{}: the public key of {:?} differs from the profile's", path.display(), key.id);
        }
        by_index[i] = Some(key.signing_key);
    }
    let keys = by_index
        .into_iter()
        .zip(&profile.validators)
        .map(|(k, v)| k.with_context(|| format!("no --key for validator {:?}: synthetic chains need every key", v.id)))
        .collect::<Result<Vec<_>>>()?;
    let mut fault_map = std::collections::BTreeMap::new();
    for f in faults {
        let (h, kind) = dualrun_leader::testchain::parse_fault(f).map_err(|e| anyhow::anyhow!("--fault: {e}"))?;
        if fault_map.insert(h, kind).is_some() {
            bail!("--fault: two faults for height {h}");
        }
    }
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
    let report = dualrun_synth::generate(out, dualrun_synth::SynthSpec { blocks, schema, seed, leader }, |n| {
        eprint!("\rdualrun: {n}/{blocks} blocks written");
    })?;
    eprintln!();
    if let Some(path) = record {
        let mut w = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
        w.write_record(["height", "block_id", "verdict", "reason", "leader_id"])?;
        for e in &report.expected {
            let verdict = if e.reason.is_some() { "reject" } else { "accept" };
            w.write_record([&e.height.to_string(), &e.block_id.to_string(), verdict, e.reason.unwrap_or(""), e.leader_id.as_deref().unwrap_or("")])?;
        }
        w.flush()?;
    }
    println!(
        "wrote {}: {} blocks (schema {}), tip {}, chain digest {}, {} blob bytes, {:.1} s",
        out.display(),
        report.blocks,
        schema.version(),
        report.tip_id,
        report.chain_digest,
        report.blob_bytes,
        start.elapsed().as_secs_f64()
    );
    Ok(Outcome::Clean)
}
