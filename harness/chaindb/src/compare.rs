//! Comparing chains: walking a range with every stored id checked ([`walk`]), checkpoints of a chain
//! ([`checkpoints`]) and a chain checked against them ([`verify_checkpoints`]), and the first height
//! where two chains differ ([`diff`]). The ids compared are always the computed ones (the blob hashed as
//! the daemon hashes it); a stored id that differs is reported to the walk's caller.

use std::path::{Path, PathBuf};

use dualrun_format::{FileError, Hash32};
use serde::{Deserialize, Serialize};

use crate::scan::{scan_block, BlockError, ScannedBlock};
use crate::{ChainDb, ChainDbError, ChainDigest, RawBlock};

/// Why chains could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A database could not be read.
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    /// A stored block that cannot be checked.
    #[error("{file}, table blocks, {source}")]
    Block {
        /// The database file.
        file: PathBuf,
        /// The block and what is wrong with it.
        source: BlockError,
    },
    /// A checkpoints file that could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// A checkpoints file that is not one.
    #[error("{file}: {message}")]
    Checkpoints {
        /// The file.
        file: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// The caller's callback failed (an output that could not be written).
    #[error(transparent)]
    Output(Box<dyn std::error::Error + Send + Sync>),
}

/// A chain's id and digest at a height: a row of `chain checkpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheckpoint {
    /// The height.
    pub height: u64,
    /// The computed id of the block at that height.
    pub block_id: Hash32,
    /// The chain digest of heights `0..=height`.
    pub chain_digest: Hash32,
}

impl ChainCheckpoint {
    /// The columns of `chain checkpoints` (and of a checkpoints file): the fields, in order.
    pub const COLUMNS: [&'static str; 3] = ["height", "block_id", "chain_digest"];
}

/// Blocks read per batch: large enough that handing a batch to the hashing threads costs nothing
/// noticeable, small enough to keep memory flat (the blobs are borrowed from the map, not copied).
const BATCH: usize = 4096;

/// Walks `from..=to`, checking each block, and hands each to `f`, in height order; a stored id that
/// differs from the computed one goes to `on_mismatch` too. A block that does not parse stops the walk
/// with an error naming file, table, height and byte offset. Returns the number of mismatches.
///
/// Parsing and hashing run on every core: the calling thread reads a batch of blobs (borrowed from the
/// read transaction) while the hashing threads check the batch before it, then hands the one before that
/// to `f` while they check the one it read.
pub fn walk<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    db: &ChainDb,
    from: u64,
    to: u64,
    on_mismatch: impl FnMut(&ScannedBlock),
    mut f: impl FnMut(&ScannedBlock) -> Result<(), E>,
) -> Result<u64, CompareError> {
    walk_parts(db, from, to, on_mismatch, &|_, _| {}, |part| {
        part.blocks.iter().try_for_each(&mut f).map_err(|e| CompareError::Output(e.into()))
    })
}

/// Like [`walk`], but what the caller makes of each block (a CSV or JSON line) is made on the hashing
/// threads too: `render` appends a block's bytes, and `write` gets them a part of a batch at a time, in
/// height order. The calling thread is left to read and write.
pub fn walk_rendered<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    db: &ChainDb,
    from: u64,
    to: u64,
    on_mismatch: impl FnMut(&ScannedBlock),
    render: &(dyn Fn(&ScannedBlock, &mut Vec<u8>) + Sync),
    mut write: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, CompareError> {
    walk_parts(db, from, to, on_mismatch, render, |part| {
        write(&part.rendered).map_err(|e| CompareError::Output(e.into()))
    })
}

/// What a hashing thread made of its part of a batch: the blocks checked, in height order, up to the
/// first that could not be (then `error`), and what `render` made of them.
struct Part {
    blocks: Vec<ScannedBlock>,
    rendered: Vec<u8>,
    error: Option<BlockError>,
}

fn walk_parts(
    db: &ChainDb,
    from: u64,
    to: u64,
    mut on_mismatch: impl FnMut(&ScannedBlock),
    render: &(dyn Fn(&ScannedBlock, &mut Vec<u8>) + Sync),
    mut deliver: impl FnMut(&Part) -> Result<(), CompareError>,
) -> Result<u64, CompareError> {
    let txn = db.read_txn()?;
    // Pages are released once a batch is hashed and handed on (see `mapping`), not while it is read.
    let mut blocks = db.blocks(&txn, from, to)?.without_release();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut mismatches = 0;
    let mut deliver_batch = |batch: Vec<Part>| -> Result<(), CompareError> {
        for part in batch {
            for block in part.blocks.iter().filter(|b| b.id_mismatch()) {
                mismatches += 1;
                on_mismatch(block);
            }
            deliver(&part)?;
            if let Some(source) = part.error {
                return Err(CompareError::Block { file: db.data_file().into(), source });
            }
        }
        Ok(())
    };
    std::thread::scope(|s| -> Result<(), CompareError> {
        let pool: Vec<_> = (0..workers)
            .map(|_| {
                let (jobs, job_rx) = std::sync::mpsc::channel::<Vec<RawBlock<'_>>>();
                let (done_tx, done) = std::sync::mpsc::channel();
                s.spawn(move || {
                    for chunk in job_rx {
                        let mut part =
                            Part { blocks: Vec::with_capacity(chunk.len()), rendered: Vec::new(), error: None };
                        for raw in &chunk {
                            match scan_block(raw) {
                                Ok(b) => {
                                    render(&b, &mut part.rendered);
                                    if part.blocks.is_empty() {
                                        // Room for the whole part at the first row's size: no copying as it grows.
                                        part.rendered.reserve(part.rendered.len() * chunk.len());
                                    }
                                    part.blocks.push(b);
                                }
                                Err(e) => {
                                    part.error = Some(e);
                                    break;
                                }
                            }
                        }
                        if done_tx.send(part).is_err() {
                            break;
                        }
                    }
                });
                (jobs, done)
            })
            .collect();
        // Batch k+1 is read, and batch k-1 handed on, while the hashing threads work on batch k.
        let mut in_flight = 0;
        loop {
            let read = blocks.by_ref().take(BATCH).collect::<Result<Vec<_>, _>>();
            let done: Vec<Part> =
                pool[..in_flight].iter().map(|(_, d)| d.recv().expect("a hashing thread answers")).collect();
            // No blob of the batch just hashed is borrowed any more (the one just read is: its pages fault
            // back in from the page cache, see `mapping`).
            db.release_mapped_pages();
            let batch = match read {
                Ok(batch) => batch,
                Err(e) => {
                    // Everything read before the block that could not be is handed on first.
                    deliver_batch(done)?;
                    return Err(e.into());
                }
            };
            in_flight = if batch.is_empty() { 0 } else { dispatch(batch, &pool) };
            deliver_batch(done)?;
            if in_flight == 0 {
                return Ok(());
            }
        }
    })?;
    Ok(mismatches)
}

/// Splits a batch over the hashing threads, in order; returns how many got a part.
fn dispatch<'t>(
    mut batch: Vec<RawBlock<'t>>,
    pool: &[(std::sync::mpsc::Sender<Vec<RawBlock<'t>>>, impl Sized)],
) -> usize {
    let part = batch.len().div_ceil(pool.len());
    let mut parts = Vec::with_capacity(pool.len());
    while batch.len() > part {
        let rest = batch.split_off(part);
        parts.push(std::mem::replace(&mut batch, rest));
    }
    parts.push(batch);
    let sent = parts.len();
    for (chunk, (jobs, _)) in parts.into_iter().zip(pool) {
        jobs.send(chunk).expect("hashing threads live as long as the walk");
    }
    sent
}

/// A whole chain at a glance: what `chain info` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainInfo {
    /// The chain as the user named it.
    pub chain: String,
    /// Its `data.mdb`.
    pub data_file: PathBuf,
    /// The database schema (5 Monero 0.18, 3 X-Cash).
    pub schema_version: u32,
    /// Blocks stored.
    pub blocks: u64,
    /// The computed id of block 0.
    pub genesis_id: Hash32,
    /// The highest height.
    pub tip_height: u64,
    /// The computed id of the tip.
    pub tip_id: Hash32,
    /// The chain digest of every block.
    pub chain_digest: Hash32,
    /// Stored ids (`block_info`) that differ from the computed ones.
    pub id_mismatches: u64,
    /// Alternative blocks the node keeps off its main chain (`alt_blocks`).
    pub alt_blocks: u64,
}

/// Walks the whole chain (see [`walk`]) and sums it up; `chain` is how the user named it.
pub fn info(db: &ChainDb, chain: String, on_mismatch: impl FnMut(&ScannedBlock)) -> Result<ChainInfo, CompareError> {
    let summary = db.read_txn().and_then(|t| db.summary(&t))?;
    let mut digest = ChainDigest::new();
    let (mut genesis_id, mut tip_id) = (Hash32::ZERO, Hash32::ZERO);
    let id_mismatches = walk(db, 0, summary.tip_height, on_mismatch, |b| {
        if b.height == 0 {
            genesis_id = b.block_id;
        }
        tip_id = b.block_id;
        digest.push(&b.block_id);
        Ok::<(), std::convert::Infallible>(())
    })?;
    Ok(ChainInfo {
        chain,
        data_file: db.data_file().to_path_buf(),
        schema_version: summary.schema_version,
        blocks: summary.blocks,
        genesis_id,
        tip_height: summary.tip_height,
        tip_id,
        chain_digest: digest.current(),
        id_mismatches,
        alt_blocks: db.read_txn().and_then(|t| Ok(db.alt_blocks(&t)?.len() as u64))?,
    })
}

/// Checkpoints at heights 0, `every`, 2·`every`, … and the tip, each handed to `f`; returns the number
/// of stored ids that differ from the computed ones.
pub fn checkpoints<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    db: &ChainDb,
    every: u64,
    on_mismatch: impl FnMut(&ScannedBlock),
    mut f: impl FnMut(ChainCheckpoint) -> Result<(), E>,
) -> Result<u64, CompareError> {
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    let mut digest = ChainDigest::new();
    walk(db, 0, tip, on_mismatch, |b| {
        digest.push(&b.block_id);
        if b.height % every.max(1) == 0 || b.height == tip {
            f(ChainCheckpoint { height: b.height, block_id: b.block_id, chain_digest: digest.current() })?;
        }
        Ok::<(), E>(())
    })
}

/// Reads a checkpoints file (CSV `height,block_id,chain_digest`, increasing heights).
pub fn read_checkpoints(file: &Path) -> Result<Vec<ChainCheckpoint>, CompareError> {
    let bad = |message: String| CompareError::Checkpoints { file: file.into(), message };
    let mut rdr = csv::Reader::from_reader(std::fs::File::open(file).map_err(FileError::at(file))?);
    let mut expected: Vec<ChainCheckpoint> = Vec::new();
    for (i, row) in rdr.deserialize::<ChainCheckpoint>().enumerate() {
        // Line numbers count the header as line 1.
        expected.push(row.map_err(|e| bad(format!("line {}: {e}", i + 2)))?);
    }
    if expected.is_empty() {
        return Err(bad("no checkpoints in the file".into()));
    }
    if let Some(w) = expected.windows(2).find(|w| w[1].height <= w[0].height) {
        return Err(bad(format!(
            "checkpoints must be in increasing height order ({} after {})",
            w[1].height, w[0].height
        )));
    }
    Ok(expected)
}

/// Checks a chain's computed ids against checkpoints: `None` when all match, else the first mismatch,
/// described. A stored id that differs from the computed one goes to `on_mismatch`.
pub fn verify_checkpoints(
    db: &ChainDb,
    expected: &[ChainCheckpoint],
    on_mismatch: impl FnMut(&ScannedBlock),
) -> Result<Option<String>, CompareError> {
    let Some(last) = expected.last().map(|c| c.height) else { return Ok(None) };
    let tip = db.read_txn().and_then(|t| db.tip_height(&t))?;
    let mut digest = ChainDigest::new();
    let mut next = expected.iter().peekable();
    let mut failure: Option<String> = None;
    walk(db, 0, last.min(tip), on_mismatch, |b| {
        digest.push(&b.block_id);
        if failure.is_none() && next.peek().is_some_and(|c| c.height == b.height) {
            let c = next.next().expect("peeked");
            if c.block_id != b.block_id {
                failure = Some(format!(
                    "height {}: block id {} but the checkpoint says {}",
                    b.height, b.block_id, c.block_id
                ));
            } else if c.chain_digest != digest.current() {
                failure = Some(format!(
                    "height {}: chain digest {} but the checkpoint says {} (an earlier block differs)",
                    b.height,
                    digest.current(),
                    c.chain_digest
                ));
            }
        }
        Ok::<(), std::convert::Infallible>(())
    })?;
    if failure.is_none() && last > tip {
        let c = next.next().expect("a checkpoint beyond the tip remains");
        failure = Some(format!("height {}: beyond the chain's tip {tip}", c.height));
    }
    Ok(failure)
}

/// How two chains compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diff {
    /// Both paths name the same database.
    SameDatabase {
        /// Its tip.
        tip: u64,
    },
    /// The first height where the computed ids differ, and each chain's id there.
    Differ {
        /// The height.
        height: u64,
        /// The first chain's id.
        a: Hash32,
        /// The second chain's id.
        b: Hash32,
    },
    /// Identical over the common range; each chain's tip (height, id).
    Identical {
        /// The last common height.
        common: u64,
        /// The first chain's tip.
        tip_a: (u64, Hash32),
        /// The second chain's tip.
        tip_b: (u64, Hash32),
    },
}

fn scan(db: &ChainDb, raw: crate::RawBlock<'_>) -> Result<ScannedBlock, CompareError> {
    scan_block(&raw).map_err(|source| CompareError::Block { file: db.data_file().into(), source })
}

/// Compares two chains' computed block ids from height 0. A block whose stored id differs from its
/// computed one goes to `on_mismatch` with its database's path.
pub fn diff(a: &Path, b: &Path, mut on_mismatch: impl FnMut(&Path, &ScannedBlock)) -> Result<Diff, CompareError> {
    let db_a = ChainDb::open(a)?;
    // LMDB allows one environment per file and process: the same database twice is opened once.
    let canonical = |p: &Path| -> Result<PathBuf, CompareError> {
        let d = ChainDb::locate(p)?;
        Ok(std::fs::canonicalize(&d).map_err(FileError::at(&d))?)
    };
    if canonical(a)? == canonical(b)? {
        return Ok(Diff::SameDatabase { tip: db_a.read_txn().and_then(|t| db_a.tip_height(&t))? });
    }
    let db_b = ChainDb::open(b)?;
    let (ta, tb) = (db_a.read_txn()?, db_b.read_txn()?);
    let (tip_a, tip_b) = (db_a.tip_height(&ta)?, db_b.tip_height(&tb)?);
    let common = tip_a.min(tip_b);
    let mut ia = db_a.blocks(&ta, 0, common)?;
    let mut ib = db_b.blocks(&tb, 0, common)?;
    let (mut last_a, mut last_b) = (Hash32::ZERO, Hash32::ZERO);
    for height in 0..=common {
        let sa = scan(&db_a, ia.next().expect("height in range")?)?;
        let sb = scan(&db_b, ib.next().expect("height in range")?)?;
        for (path, block) in [(a, &sa), (b, &sb)] {
            if block.id_mismatch() {
                on_mismatch(path, block);
            }
        }
        if sa.block_id != sb.block_id {
            return Ok(Diff::Differ { height, a: sa.block_id, b: sb.block_id });
        }
        (last_a, last_b) = (sa.block_id, sb.block_id);
    }
    let tip_id = |db: &ChainDb, t, tip, last| -> Result<Hash32, CompareError> {
        if tip == common {
            return Ok(last);
        }
        Ok(scan(db, db.blocks(t, tip, tip)?.next().expect("tip exists")?)?.block_id)
    };
    Ok(Diff::Identical {
        common,
        tip_a: (tip_a, tip_id(&db_a, &ta, tip_a, last_a)?),
        tip_b: (tip_b, tip_id(&db_b, &tb, tip_b, last_b)?),
    })
}
