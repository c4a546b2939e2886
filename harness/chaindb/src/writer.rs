//! Writing new chain databases in a node's schema, for synthetic chains and tests.
//!
//! The writer only ever creates a database in a new (or empty) directory; it has no way to open an
//! existing one. Tables, flags and duplicate comparators are Monero's (`db_lmdb.cpp`), so the result
//! reads like a node's database to dualrun and to `mdb_stat`. Only the block tables (`blocks`,
//! `block_info`, `block_heights`, `hf_versions`) and `properties` are filled; the transaction and
//! output tables exist but stay empty.

use std::path::{Path, PathBuf};

use heed::byteorder::NativeEndian;
use heed::types::{Bytes, U64};
use heed::{DatabaseFlags, DefaultComparator, Env, EnvFlags, EnvOpenOptions, PutFlags};

use crate::comparators::{MoneroHash32, MoneroU64};
use crate::error::ChainDbError;
use crate::schema::{InfoRecord, Schema};

type Int = U64<NativeEndian>;

/// One block to append.
pub struct NewBlock<'a> {
    /// The block blob, written to `blocks`.
    pub blob: &'a [u8],
    /// Its `block_info` record; `info.height` must be the next height.
    pub info: InfoRecord,
    /// Written to `hf_versions`.
    pub major_version: u8,
}

/// A new chain database, filled block by block.
pub struct ChainWriter {
    dir: PathBuf,
    env: Env,
    schema: Schema,
    blocks: heed::Database<Int, Bytes>,
    block_info: heed::Database<Int, Bytes, DefaultComparator, MoneroU64>,
    block_heights: heed::Database<Int, Bytes, DefaultComparator, MoneroHash32>,
    hf_versions: heed::Database<Int, Bytes>,
    next_height: u64,
}

// INTEGER_KEY is deprecated in heed in favour of a key comparator, but Monero persists the flag in the
// table, and mdb_stat / monerod expect it there.
#[allow(deprecated)]
const INT: DatabaseFlags = DatabaseFlags::INTEGER_KEY;
const DUP: DatabaseFlags = INT.union(DatabaseFlags::DUP_SORT).union(DatabaseFlags::DUP_FIXED);

impl ChainWriter {
    /// Creates a database in `dir`, which must not exist or be empty.
    pub fn create(dir: &Path, schema: Schema) -> Result<ChainWriter, ChainDbError> {
        let io = |source| ChainDbError::from(dualrun_format::FileError::new(dir, source));
        if dir.exists() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
            return Err(ChainDbError::DestinationExists { path: dir.to_path_buf() });
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = dir.join("data.mdb");
        let lmdb = |op: &'static str| {
            let file = file.clone();
            move |source| ChainDbError::Lmdb { file, op: op.into(), source }
        };

        let mut options = EnvOpenOptions::new();
        options.max_dbs(32).map_size(1 << 38);
        // SAFETY: a fresh environment only this writer uses; NO_SYNC is made good by the sync in finish().
        let env = unsafe {
            options.flags(EnvFlags::NO_SYNC);
            options.open(dir)
        }
        .map_err(lmdb("create environment"))?;

        let mut wtxn = env.write_txn().map_err(lmdb("begin write transaction"))?;
        let plain = |name| (name, INT);
        let mut empty_tables = vec![
            plain("txs"),
            plain("txs_pruned"),
            plain("txs_prunable"),
            plain("tx_outputs"),
            ("tx_indices", DUP),
            ("output_txs", DUP),
            ("output_amounts", DUP),
            ("spent_keys", DUP),
            ("txpool_meta", DatabaseFlags::empty()),
            ("txpool_blob", DatabaseFlags::empty()),
        ];
        match schema {
            Schema::MoneroV5 => empty_tables.extend([
                ("txs_prunable_hash", DUP),
                ("txs_prunable_tip", DUP),
                ("alt_blocks", DatabaseFlags::empty()),
            ]),
            Schema::XcashV3 => empty_tables.push(plain("txs_prunable_hash")),
        }
        for (name, flags) in empty_tables {
            env.database_options()
                .types::<Bytes, Bytes>()
                .name(name)
                .flags(flags)
                .create(&mut wtxn)
                .map_err(lmdb("create table"))?;
        }
        let blocks = env
            .database_options()
            .types::<Int, Bytes>()
            .name("blocks")
            .flags(INT)
            .create(&mut wtxn)
            .map_err(lmdb("create table blocks"))?;
        let block_info = env
            .database_options()
            .types::<Int, Bytes>()
            .dup_sort_comparator::<MoneroU64>()
            .name("block_info")
            .flags(DUP)
            .create(&mut wtxn)
            .map_err(lmdb("create table block_info"))?;
        let block_heights = env
            .database_options()
            .types::<Int, Bytes>()
            .dup_sort_comparator::<MoneroHash32>()
            .name("block_heights")
            .flags(DUP)
            .create(&mut wtxn)
            .map_err(lmdb("create table block_heights"))?;
        let hf_versions = env
            .database_options()
            .types::<Int, Bytes>()
            .name("hf_versions")
            .flags(INT)
            .create(&mut wtxn)
            .map_err(lmdb("create table hf_versions"))?;
        let properties = env
            .database_options()
            .types::<Bytes, Bytes>()
            .name("properties")
            .create(&mut wtxn)
            .map_err(lmdb("create table properties"))?;
        properties.put(&mut wtxn, b"version\0", &schema.version().to_le_bytes()).map_err(lmdb("write properties"))?;
        wtxn.commit().map_err(lmdb("commit"))?;

        Ok(ChainWriter {
            dir: dir.to_path_buf(),
            env,
            schema,
            blocks,
            block_info,
            block_heights,
            hf_versions,
            next_height: 0,
        })
    }

    /// Appends blocks in one transaction. Heights must continue from the last batch.
    pub fn append<'a>(&mut self, batch: impl IntoIterator<Item = NewBlock<'a>>) -> Result<(), ChainDbError> {
        let file = self.dir.join("data.mdb");
        let lmdb = |op: &'static str| {
            let file = file.clone();
            move |source| ChainDbError::Lmdb { file, op: op.into(), source }
        };
        let mut wtxn = self.env.write_txn().map_err(lmdb("begin write transaction"))?;
        for b in batch {
            let h = self.next_height;
            if b.info.height != h {
                return Err(ChainDbError::Inconsistent {
                    file,
                    table: "block_info",
                    height: h,
                    detail: format!("appending a record for height {}", b.info.height),
                });
            }
            self.blocks.put_with_flags(&mut wtxn, PutFlags::APPEND, &h, b.blob).map_err(lmdb("write blocks"))?;
            self.block_info
                .put_with_flags(&mut wtxn, PutFlags::APPEND_DUP, &0, &self.schema.encode_info(&b.info))
                .map_err(lmdb("write block_info"))?;
            let mut bh = [0u8; 40];
            bh[..32].copy_from_slice(&b.info.hash.0);
            bh[32..].copy_from_slice(&h.to_le_bytes());
            self.block_heights.put(&mut wtxn, &0, &bh).map_err(lmdb("write block_heights"))?;
            self.hf_versions
                .put_with_flags(&mut wtxn, PutFlags::APPEND, &h, &[b.major_version])
                .map_err(lmdb("write hf_versions"))?;
            self.next_height += 1;
        }
        wtxn.commit().map_err(lmdb("commit"))
    }

    /// Number of blocks written so far.
    pub fn len(&self) -> u64 {
        self.next_height
    }

    /// Whether no block has been written yet.
    pub fn is_empty(&self) -> bool {
        self.next_height == 0
    }

    /// Syncs, closes the environment and removes its lock file, leaving `data.mdb` alone in the
    /// directory like a stopped node's copy. Returns the directory.
    pub fn finish(self) -> Result<PathBuf, ChainDbError> {
        let file = self.dir.join("data.mdb");
        self.env.force_sync().map_err(|source| ChainDbError::Lmdb { file: file.clone(), op: "sync".into(), source })?;
        self.env.prepare_for_closing().wait();
        let lock = self.dir.join("lock.mdb");
        std::fs::remove_file(&lock).map_err(dualrun_format::FileError::at(&lock))?;
        Ok(self.dir)
    }
}
