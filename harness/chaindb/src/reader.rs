//! Opening a chain database read-only and iterating its blocks by height.

use std::path::{Path, PathBuf};

use dualrun_format::Hash32;
use heed::byteorder::NativeEndian;
use heed::types::{Bytes, U64};
use heed::{DefaultComparator, Env, EnvFlags, EnvOpenOptions, RoTxn, WithoutTls};
use serde::Serialize;

use crate::comparators::{MoneroHash32, MoneroU64};
use crate::error::ChainDbError;
use crate::schema::{InfoRecord, Schema};
use crate::{lock, mapping};

type Blocks = heed::Database<U64<NativeEndian>, Bytes>;
type DupFixed<C> = heed::Database<U64<NativeEndian>, Bytes, DefaultComparator, C>;

/// A read transaction on a chain database. It is `Send`, so a reader thread may own it.
pub type ReadTxn<'e> = RoTxn<'e, WithoutTls>;

/// An open chain database.
pub struct ChainDb {
    dir: PathBuf,
    data_file: PathBuf,
    env: Env<WithoutTls>,
    schema: Schema,
    blocks: Blocks,
    block_info: DupFixed<MoneroU64>,
    block_heights: DupFixed<MoneroHash32>,
    /// `alt_blocks`, when the database has it (Monero; X-Cash keeps alternative blocks in memory only).
    alt_blocks: Option<heed::Database<Bytes, Bytes>>,
    /// Where data.mdb is mapped, for [`mapping::release`].
    mapped: Vec<(usize, usize)>,
}

/// The size of `alt_block_data_t`, the record before an alternative block's blob: height, cumulative
/// weight, cumulative difficulty (low and high 64 bits) and already generated coins, five u64 LE.
pub const ALT_BLOCK_DATA_SIZE: usize = 40;

/// A block the node keeps off its main chain (`alt_blocks`): a competing block it saw and did not switch to.
#[derive(Debug, Clone)]
pub struct AltBlock<'t> {
    /// The block's id, as the node stored it (the table's key).
    pub stored_id: Hash32,
    /// Its height.
    pub height: u64,
    /// The cumulative weight of its chain up to it.
    pub cumulative_weight: u64,
    /// The cumulative difficulty of its chain up to it.
    pub cumulative_difficulty: u128,
    /// Coins generated up to it.
    pub already_generated_coins: u64,
    /// The block blob.
    pub blob: &'t [u8],
}

/// Blob bytes read between two releases of the mapped pages (see [`mapping`]). Small, because the
/// kernel maps file pages around each fault in large folios; a release costs a few microseconds.
const RELEASE_EVERY_BYTES: usize = 64 << 10;

/// One stored block: its blob as in `blocks` and its `block_info` record.
#[derive(Debug, Clone)]
pub struct RawBlock<'t> {
    /// The block's height.
    pub height: u64,
    /// The block blob as stored in `blocks`.
    pub blob: &'t [u8],
    /// The block's `block_info` record.
    pub info: InfoRecord,
}

/// Counts and stored ids, read without hashing anything.
#[derive(Debug, Clone, Serialize)]
pub struct ChainSummary {
    /// The database's schema version (`properties.version`).
    pub schema_version: u32,
    /// The number of blocks.
    pub blocks: u64,
    /// The height of the last block.
    pub tip_height: u64,
    /// Ids as the node stored them in `block_info`.
    pub stored_genesis_id: Hash32,
    /// The tip's id as stored in `block_info`.
    pub stored_tip_id: Hash32,
}

/// Where a node keeps `data.mdb` below the directory a user names: the directory itself, a data dir's
/// `lmdb/`, or a regtest data dir's `fake/lmdb/`.
fn resolve(path: &Path) -> Result<PathBuf, ChainDbError> {
    if path.is_file() && path.file_name().is_some_and(|n| n == "data.mdb") {
        return Ok(path.parent().unwrap_or(Path::new(".")).to_path_buf());
    }
    match std::fs::metadata(path) {
        Err(_) => return Err(ChainDbError::NotFound { path: path.to_path_buf() }),
        Ok(m) if !m.is_dir() => {
            let kind = dualrun_format::file::describe_kind(m.file_type());
            return Err(ChainDbError::NotADirectory { path: path.to_path_buf(), kind });
        }
        Ok(_) => {}
    }
    [path.to_path_buf(), path.join("lmdb"), path.join("fake").join("lmdb")]
        .into_iter()
        .find(|d| d.join("data.mdb").is_file())
        .ok_or_else(|| ChainDbError::NoDataFile { path: path.to_path_buf() })
}

impl ChainDb {
    /// The directory holding `data.mdb` that `open(path)` would use.
    pub fn locate(path: &Path) -> Result<PathBuf, ChainDbError> {
        resolve(path)
    }

    /// Opens the chain database at `path` (see [`resolve`]) read-only. Nothing in the directory is
    /// created or modified: LMDB's lock file is neither created nor used, so a directory that a live
    /// process holds is refused instead.
    pub fn open(path: &Path) -> Result<ChainDb, ChainDbError> {
        let dir = resolve(path)?;
        let data_file = dir.join("data.mdb");
        let lock_file = dir.join("lock.mdb");
        match lock::holder(&lock_file) {
            Ok(Some(pid)) => return Err(ChainDbError::LockHeld { lock: lock_file, dir, pid }),
            Ok(None) => {}
            Err(source) => return Err(dualrun_format::FileError::new(lock_file, source).into()),
        }
        // Before mapping: a file cut short would be mapped and fault (SIGBUS) on the first read past its end.
        crate::meta::check_length(&data_file)?;
        let lmdb = |op: &str| {
            let file = data_file.clone();
            let op = op.to_owned();
            move |source| ChainDbError::Lmdb { file, op, source }
        };

        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.max_dbs(32);
        // SAFETY: READ_ONLY maps the file read-only; NO_LOCK skips lock.mdb, which is sound because we
        // checked above that no process holds the environment, and we never write.
        let env = unsafe {
            options.flags(EnvFlags::READ_ONLY | EnvFlags::NO_LOCK);
            options.open(&dir)
        }
        .map_err(|e| match e {
            heed::Error::Mdb(m) => ChainDbError::NotLmdb { file: data_file.clone(), detail: m.to_string() },
            other => ChainDbError::Lmdb { file: data_file.clone(), op: "open".into(), source: other },
        })?;

        let rtxn = env.read_txn().map_err(lmdb("begin read transaction"))?;
        let missing = |table| ChainDbError::MissingTable { file: data_file.clone(), table };
        let properties: heed::Database<Bytes, Bytes> = env
            .open_database(&rtxn, Some("properties"))
            .map_err(lmdb("open table properties"))?
            .ok_or_else(|| missing("properties"))?;
        let blocks: Blocks = env
            .open_database(&rtxn, Some("blocks"))
            .map_err(lmdb("open table blocks"))?
            .ok_or_else(|| missing("blocks"))?;
        let block_info = env
            .database_options()
            .types::<U64<NativeEndian>, Bytes>()
            .dup_sort_comparator::<MoneroU64>()
            .name("block_info")
            .open(&rtxn)
            .map_err(lmdb("open table block_info"))?
            .ok_or_else(|| missing("block_info"))?;
        let block_heights = env
            .database_options()
            .types::<U64<NativeEndian>, Bytes>()
            .dup_sort_comparator::<MoneroHash32>()
            .name("block_heights")
            .open(&rtxn)
            .map_err(lmdb("open table block_heights"))?
            .ok_or_else(|| missing("block_heights"))?;

        let version = match properties.get(&rtxn, b"version\0").map_err(lmdb("read properties"))? {
            Some(v) if v.len() == 4 => u32::from_le_bytes(v.try_into().unwrap()),
            Some(v) => {
                return Err(ChainDbError::Inconsistent {
                    file: data_file,
                    table: "properties",
                    height: 0,
                    detail: format!("`version` value is {} bytes, expected 4", v.len()),
                })
            }
            None => return Err(ChainDbError::MissingSchemaVersion { file: data_file }),
        };
        let schema = Schema::from_version(version)
            .ok_or_else(|| ChainDbError::UnsupportedSchema { file: data_file.clone(), version })?;
        // Dispatch on the record size too: a record of the wrong size means the version lies.
        if let Some(mut dups) = block_info.get_duplicates(&rtxn, &0).map_err(lmdb("read block_info"))? {
            if let Some(first) = dups.next() {
                let (_, record) = first.map_err(lmdb("read block_info"))?;
                if record.len() != schema.info_size() {
                    return Err(ChainDbError::Inconsistent {
                        file: data_file,
                        table: "block_info",
                        height: 0,
                        detail: format!(
                            "record is {} bytes, but schema version {version} has {}-byte records",
                            record.len(),
                            schema.info_size()
                        ),
                    });
                }
            }
        }
        let alt_blocks: Option<heed::Database<Bytes, Bytes>> =
            env.open_database(&rtxn, Some("alt_blocks")).map_err(lmdb("open table alt_blocks"))?;
        // Commit so the table handles stay valid for later transactions (LMDB rule for read-only opens).
        rtxn.commit().map_err(lmdb("commit read transaction"))?;

        let mapped = mapping::ranges_of(&data_file);
        mapping::prefer_small_pages(&mapped);
        Ok(ChainDb { dir, data_file, env, schema, blocks, block_info, block_heights, alt_blocks, mapped })
    }

    /// Drops this process's resident pages of the database map (see [`mapping`]). Readers that go back
    /// to blocks after the iterator moved on (worker threads preparing a batch) call it when done.
    pub fn release_mapped_pages(&self) {
        mapping::release(&self.mapped);
    }

    /// The directory holding `data.mdb`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file, `data.mdb`.
    pub fn data_file(&self) -> &Path {
        &self.data_file
    }

    /// The database's schema.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    fn lmdb_err(&self, op: &str) -> impl FnOnce(heed::Error) -> ChainDbError {
        let file = self.data_file.clone();
        let op = op.to_owned();
        move |source| ChainDbError::Lmdb { file, op, source }
    }

    fn inconsistent(&self, table: &'static str, height: u64, detail: String) -> ChainDbError {
        ChainDbError::Inconsistent { file: self.data_file.clone(), table, height, detail }
    }

    /// Begins a read transaction.
    pub fn read_txn(&self) -> Result<ReadTxn<'_>, ChainDbError> {
        self.env.read_txn().map_err(self.lmdb_err("begin read transaction"))
    }

    /// Height of the last block.
    pub fn tip_height(&self, txn: &ReadTxn) -> Result<u64, ChainDbError> {
        match self.blocks.last(txn).map_err(self.lmdb_err("read blocks"))? {
            Some((h, _)) => Ok(h),
            None => Err(ChainDbError::Empty { file: self.data_file.clone() }),
        }
    }

    /// The alternative blocks the node keeps (`alt_blocks`), in key order; none for a database without the
    /// table. A record shorter than its data part is an error naming the table and the key.
    pub fn alt_blocks<'t>(&'t self, txn: &'t ReadTxn) -> Result<Vec<AltBlock<'t>>, ChainDbError> {
        let Some(table) = self.alt_blocks else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for entry in table.iter(txn).map_err(self.lmdb_err("read alt_blocks"))? {
            let (key, value) = entry.map_err(self.lmdb_err("read alt_blocks"))?;
            let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let bad = |detail: String| ChainDbError::Inconsistent {
                file: self.data_file.clone(),
                table: "alt_blocks",
                height: 0,
                detail: format!("key {key_hex}: {detail}"),
            };
            let stored_id = Hash32(key.try_into().map_err(|_| bad(format!("a {}-byte key, expected 32", key.len())))?);
            if value.len() <= ALT_BLOCK_DATA_SIZE {
                return Err(bad(format!(
                    "a {}-byte record: no block after its {ALT_BLOCK_DATA_SIZE}-byte data",
                    value.len()
                )));
            }
            let u64_at = |i: usize| u64::from_le_bytes(value[8 * i..8 * i + 8].try_into().expect("8 bytes"));
            out.push(AltBlock {
                stored_id,
                height: u64_at(0),
                cumulative_weight: u64_at(1),
                cumulative_difficulty: u128::from(u64_at(3)) << 64 | u128::from(u64_at(2)),
                already_generated_coins: u64_at(4),
                blob: &value[ALT_BLOCK_DATA_SIZE..],
            });
        }
        Ok(out)
    }

    /// Block count, tip and stored ids of genesis and tip; checks that the three block tables agree on
    /// the number of blocks.
    pub fn summary(&self, txn: &ReadTxn) -> Result<ChainSummary, ChainDbError> {
        let tip_height = self.tip_height(txn)?;
        let blocks = self.blocks.len(txn).map_err(self.lmdb_err("stat blocks"))?;
        if blocks != tip_height + 1 {
            return Err(self.inconsistent(
                "blocks",
                tip_height,
                format!("{blocks} entries but the last key is {tip_height}: heights are missing"),
            ));
        }
        for (table, n) in [
            ("block_info", self.block_info.len(txn).map_err(self.lmdb_err("stat block_info"))?),
            ("block_heights", self.block_heights.len(txn).map_err(self.lmdb_err("stat block_heights"))?),
        ] {
            if n != blocks {
                return Err(self.inconsistent(table, tip_height, format!("{n} records for {blocks} blocks")));
            }
        }
        let genesis = self.blocks(txn, 0, 0)?.next().expect("genesis exists")?;
        let tip = self.blocks(txn, tip_height, tip_height)?.next().expect("tip exists")?;
        Ok(ChainSummary {
            schema_version: self.schema.version(),
            blocks,
            tip_height,
            stored_genesis_id: genesis.info.hash,
            stored_tip_id: tip.info.hash,
        })
    }

    /// Blocks `from..=to` in height order, each with its `block_info` record. Errors if `from` is
    /// beyond the tip; `to` is clamped to the tip.
    pub fn blocks<'t>(&'t self, txn: &'t ReadTxn, from: u64, to: u64) -> Result<BlockIter<'t>, ChainDbError> {
        let tip = self.tip_height(txn)?;
        if from > tip {
            return Err(ChainDbError::BeyondTip { file: self.data_file.clone(), height: from, tip });
        }
        let to = to.min(tip);
        // Open-ended on purpose: heed checks an end bound with its own (byte-order) comparator, which
        // is not the numeric order of these native-endian integer keys. The iterator stops at `to`.
        let blocks = self.blocks.range(txn, &(from..)).map_err(self.lmdb_err("read blocks"))?;
        let mut infos = self
            .block_info
            .get_duplicates(txn, &0)
            .map_err(self.lmdb_err("read block_info"))?
            .ok_or_else(|| self.inconsistent("block_info", from, "table has no records".into()))?;
        // Records are sorted by height, one per block: skip to `from` (a cursor walk, no decoding).
        for skipped in 0..from {
            if skipped % 1024 == 1023 {
                mapping::release(&self.mapped);
            }
            match infos.next() {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(self.lmdb_err("read block_info")(e)),
                None => return Err(self.inconsistent("block_info", skipped, "record missing".into())),
            }
        }
        Ok(BlockIter { db: self, blocks, infos, next: from, to, done: false, unreleased: 0, auto_release: true })
    }
}

/// Iterator over [`RawBlock`]s; see [`ChainDb::blocks`].
pub struct BlockIter<'t> {
    db: &'t ChainDb,
    blocks: heed::RoRange<'t, U64<NativeEndian>, Bytes>,
    infos: heed::RoIter<'t, U64<NativeEndian>, Bytes, heed::iteration_method::MoveOnCurrentKeyDuplicates>,
    next: u64,
    to: u64,
    done: bool,
    /// Bytes read since the mapped pages were last released.
    unreleased: usize,
    /// Release the mapped pages every [`RELEASE_EVERY_BYTES`] (off: the caller releases them, with
    /// [`ChainDb::release_mapped_pages`], when no blob it borrowed is still being read).
    auto_release: bool,
}

impl<'t> BlockIter<'t> {
    /// Leaves releasing the mapped pages to the caller: for blobs handed to other threads, which a
    /// release would make fault back in while they read them.
    pub fn without_release(mut self) -> Self {
        self.auto_release = false;
        self
    }

    fn step(&mut self) -> Result<RawBlock<'t>, ChainDbError> {
        let height = self.next;
        let db = self.db;
        let (key, blob) = match self.blocks.next() {
            Some(r) => r.map_err(db.lmdb_err("read blocks"))?,
            None => return Err(db.inconsistent("blocks", height, "entry missing".into())),
        };
        if key != height {
            return Err(db.inconsistent("blocks", height, format!("entry missing (next key is {key})")));
        }
        let record = match self.infos.next() {
            Some(r) => r.map_err(db.lmdb_err("read block_info"))?.1,
            None => return Err(db.inconsistent("block_info", height, "record missing".into())),
        };
        let info = db.schema.decode_info(record).ok_or_else(|| {
            db.inconsistent(
                "block_info",
                height,
                format!("record is {} bytes, expected {}", record.len(), db.schema.info_size()),
            )
        })?;
        if info.height != height {
            return Err(db.inconsistent("block_info", height, format!("record says height {}", info.height)));
        }
        Ok(RawBlock { height, blob, info })
    }
}

impl<'t> Iterator for BlockIter<'t> {
    type Item = Result<RawBlock<'t>, ChainDbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next > self.to {
            return None;
        }
        let item = self.step();
        self.next += 1;
        if let Ok(raw) = &item {
            self.unreleased += raw.blob.len() + self.db.schema.info_size();
            if self.auto_release && self.unreleased >= RELEASE_EVERY_BYTES {
                mapping::release(&self.db.mapped);
                self.unreleased = 0;
            }
        }
        // After an error the cursors are out of step; stop rather than report noise.
        self.done = item.is_err();
        Some(item)
    }
}
