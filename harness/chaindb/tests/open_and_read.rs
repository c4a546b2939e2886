//! The chain reader on the bundled monerod sample chain and on broken inputs: every failure is a typed
//! error naming the file, table and height; opening never changes the source directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dualrun_chaindb::scan::scan_block;
use dualrun_chaindb::writer::{ChainWriter, NewBlock};
use dualrun_chaindb::{ChainDb, ChainDbError, InfoRecord, Schema};
use dualrun_format::{encode, Block, Hash32};
use heed::types::Bytes;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample")
}

/// A private copy of the sample chain.
fn sample_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(sample_dir().join("data.mdb"), tmp.path().join("data.mdb")).unwrap();
    tmp
}

/// Every file in `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            (e.file_name().to_string_lossy().into_owned(), (std::fs::read(e.path()).unwrap(), meta.modified().unwrap()))
        })
        .collect()
}

#[test]
fn sample_chain_ids_all_match_the_stored_ones() {
    let tmp = sample_copy();
    let db = ChainDb::open(tmp.path()).unwrap();
    assert_eq!(db.schema(), Schema::MoneroV5);
    let txn = db.read_txn().unwrap();
    let summary = db.summary(&txn).unwrap();
    assert_eq!(summary.blocks, 201);
    assert_eq!(
        summary.stored_genesis_id.to_string(),
        "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3"
    );
    let mut n = 0;
    for raw in db.blocks(&txn, 0, u64::MAX).unwrap() {
        let b = scan_block(&raw.unwrap()).unwrap();
        assert!(!b.id_mismatch(), "height {}", b.height);
        n += 1;
    }
    assert_eq!(n, 201);
    let heights: Vec<u64> = db.blocks(&txn, 150, 152).unwrap().map(|r| r.unwrap().height).collect();
    assert_eq!(heights, [150, 151, 152]);
}

#[test]
fn opening_and_reading_changes_nothing_in_the_directory() {
    let tmp = sample_copy();
    let before = snapshot(tmp.path());
    {
        let db = ChainDb::open(tmp.path()).unwrap();
        let txn = db.read_txn().unwrap();
        for raw in db.blocks(&txn, 0, u64::MAX).unwrap() {
            scan_block(&raw.unwrap()).unwrap();
        }
    }
    assert_eq!(snapshot(tmp.path()), before, "no file created, modified or touched");
    assert!(!tmp.path().join("lock.mdb").exists());
}

#[test]
fn node_data_dir_layouts_are_found() {
    let tmp = tempfile::tempdir().unwrap();
    let lmdb = tmp.path().join("fake").join("lmdb");
    std::fs::create_dir_all(&lmdb).unwrap();
    std::fs::copy(sample_dir().join("data.mdb"), lmdb.join("data.mdb")).unwrap();
    let db = ChainDb::open(tmp.path()).unwrap();
    assert_eq!(db.dir(), lmdb.as_path());
}

#[test]
fn missing_and_non_lmdb_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let e = ChainDb::open(&missing).err().unwrap();
    assert!(matches!(e, ChainDbError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("nope"));

    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a chain").unwrap();
    let e = ChainDb::open(&file).err().unwrap();
    assert!(matches!(e, ChainDbError::NotADirectory { kind: "a regular file", .. }), "{e}");
    assert!(e.to_string().contains("a regular file, not a chain directory"), "{e}");

    let e = ChainDb::open(tmp.path()).err().unwrap();
    assert!(matches!(e, ChainDbError::NoDataFile { .. }), "{e}");

    std::fs::write(tmp.path().join("data.mdb"), vec![0x42u8; 16384]).unwrap();
    let e = ChainDb::open(tmp.path()).err().unwrap();
    assert!(matches!(e, ChainDbError::NotLmdb { .. }), "{e}");
    assert!(e.to_string().contains("data.mdb: not an LMDB database"), "{e}");
}

/// An LMDB environment with only the given tables and `properties.version`.
fn handmade(dir: &Path, tables: &[&str], version: Option<u32>) {
    let mut options = heed::EnvOpenOptions::new();
    options.max_dbs(32).map_size(1 << 24);
    let env = unsafe { options.open(dir) }.unwrap();
    let mut wtxn = env.write_txn().unwrap();
    for t in tables {
        let db: heed::Database<Bytes, Bytes> = env.create_database(&mut wtxn, Some(t)).unwrap();
        if *t == "properties" {
            if let Some(v) = version {
                db.put(&mut wtxn, b"version\0", &v.to_le_bytes()).unwrap();
            }
        }
    }
    wtxn.commit().unwrap();
    env.prepare_for_closing().wait();
    std::fs::remove_file(dir.join("lock.mdb")).unwrap();
}

#[test]
fn missing_blocks_table() {
    let tmp = tempfile::tempdir().unwrap();
    handmade(tmp.path(), &["properties", "block_info", "block_heights"], Some(5));
    let e = ChainDb::open(tmp.path()).err().unwrap();
    assert!(matches!(e, ChainDbError::MissingTable { table: "blocks", .. }), "{e}");
    assert!(e.to_string().contains("table `blocks` is missing"), "{e}");
}

#[test]
fn unsupported_and_missing_schema_version() {
    let tmp = tempfile::tempdir().unwrap();
    handmade(tmp.path(), &["properties", "blocks", "block_info", "block_heights"], Some(4));
    let e = ChainDb::open(tmp.path()).err().unwrap();
    assert!(matches!(e, ChainDbError::UnsupportedSchema { version: 4, .. }), "{e}");
    assert!(e.to_string().contains("unsupported schema version 4"), "{e}");

    let tmp = tempfile::tempdir().unwrap();
    handmade(tmp.path(), &["properties", "blocks", "block_info", "block_heights"], None);
    let e = ChainDb::open(tmp.path()).err().unwrap();
    assert!(matches!(e, ChainDbError::MissingSchemaVersion { .. }), "{e}");
}

/// A three-block chain built with the writer, letting a test corrupt one block or record.
fn tiny_chain(dir: &Path, schema: Schema, corrupt: impl Fn(u64, &mut Vec<u8>, &mut InfoRecord)) {
    let mut w = ChainWriter::create(dir, schema).unwrap();
    let mut blobs = vec![encode::genesis_blob(10000)];
    let mut prev = Block::parse(&blobs[0]).unwrap().hashes().unwrap().block_id;
    for h in 1..3u64 {
        let header = dualrun_format::BlockHeader {
            major_version: 16,
            minor_version: 16,
            timestamp: 1000 + h,
            prev_id: prev,
            nonce: 0,
        };
        let out = dualrun_format::TxOut {
            amount: 1,
            target: dualrun_format::TxOutTarget::ToKey { key: Hash32([h as u8; 32]) },
        };
        let tx = encode::miner_tx(2, h + 60, h, &[out], &[]);
        let blob = encode::block(&header, &tx, &[]);
        prev = Block::parse(&blob).unwrap().hashes().unwrap().block_id;
        blobs.push(blob);
    }
    let mut batch = Vec::new();
    for (h, blob) in blobs.into_iter().enumerate() {
        let id = Block::parse(&blob).unwrap().hashes().unwrap().block_id;
        let mut blob = blob;
        let mut info = InfoRecord {
            height: h as u64,
            timestamp: 0,
            coins: 0,
            weight: 0,
            cumulative_difficulty: 1,
            hash: id,
            cumulative_rct_outputs: 0,
            long_term_weight: None,
        };
        corrupt(h as u64, &mut blob, &mut info);
        batch.push((blob, info));
    }
    w.append(batch.iter().map(|(b, i)| NewBlock { blob: b, info: i.clone(), major_version: 16 })).unwrap();
    w.finish().unwrap();
}

#[test]
fn a_wrong_stored_id_is_reported_with_its_height() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_chain(tmp.path(), Schema::MoneroV5, |h, _, info| {
        if h == 2 {
            info.hash = Hash32([0xee; 32]);
        }
    });
    let db = ChainDb::open(tmp.path()).unwrap();
    let txn = db.read_txn().unwrap();
    let flagged: Vec<u64> = db
        .blocks(&txn, 0, 9)
        .unwrap()
        .map(|r| scan_block(&r.unwrap()).unwrap())
        .filter(|b| b.id_mismatch())
        .map(|b| b.height)
        .collect();
    assert_eq!(flagged, [2]);
}

#[test]
fn a_stored_blob_that_does_not_parse_names_height_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    tiny_chain(tmp.path(), Schema::XcashV3, |h, blob, _| {
        if h == 1 {
            blob.push(0x00);
        }
    });
    let db = ChainDb::open(tmp.path()).unwrap();
    assert_eq!(db.schema(), Schema::XcashV3);
    let txn = db.read_txn().unwrap();
    let raw = db.blocks(&txn, 1, 1).unwrap().next().unwrap().unwrap();
    let e = scan_block(&raw).unwrap_err();
    assert_eq!(e.height(), 1);
    let len = raw.blob.len() - 1;
    assert_eq!(
        e.to_string(),
        format!("height 1: block blob does not parse: 1 trailing byte(s) after the block at byte offset {len}")
    );
}

#[test]
fn from_beyond_the_tip() {
    let tmp = sample_copy();
    let db = ChainDb::open(tmp.path()).unwrap();
    let txn = db.read_txn().unwrap();
    let e = db.blocks(&txn, 500, 600).err().unwrap();
    assert!(matches!(e, ChainDbError::BeyondTip { height: 500, tip: 200, .. }), "{e}");
}

/// Puts `value` under `key` in `alt_blocks` of the copy in `dir` (as monerod does when it keeps a
/// competing block off its main chain).
fn put_alt_block(dir: &Path, key: &[u8], value: &[u8]) {
    let mut options = heed::EnvOpenOptions::new();
    options.max_dbs(32).map_size(1 << 30);
    let env = unsafe { options.open(dir) }.unwrap();
    let mut wtxn = env.write_txn().unwrap();
    let db: heed::Database<Bytes, Bytes> = env.create_database(&mut wtxn, Some("alt_blocks")).unwrap();
    db.put(&mut wtxn, key, value).unwrap();
    wtxn.commit().unwrap();
    env.prepare_for_closing().wait();
    let _ = std::fs::remove_file(dir.join("lock.mdb"));
}

#[test]
fn alt_blocks_are_read_with_their_data_and_a_short_record_is_named() {
    let tmp = sample_copy();
    let db = ChainDb::open(tmp.path()).unwrap();
    assert!(db.alt_blocks(&db.read_txn().unwrap()).unwrap().is_empty(), "the sample keeps no alternative block");
    let blob = db.blocks(&db.read_txn().unwrap(), 5, 5).unwrap().next().unwrap().unwrap().blob.to_vec();
    drop(db);
    let mut value = Vec::new();
    for field in [5u64, 1000, 7, 1, 42] {
        value.extend(field.to_le_bytes());
    }
    value.extend(&blob);
    put_alt_block(tmp.path(), &[9; 32], &value);
    let db = ChainDb::open(tmp.path()).unwrap();
    let txn = db.read_txn().unwrap();
    let alt = db.alt_blocks(&txn).unwrap();
    assert_eq!(alt.len(), 1);
    let a = &alt[0];
    assert_eq!((a.stored_id, a.height, a.cumulative_weight), (Hash32([9; 32]), 5, 1000));
    assert_eq!((a.cumulative_difficulty, a.already_generated_coins), ((1u128 << 64) | 7, 42));
    assert_eq!(a.blob, &blob[..]);
    assert_eq!(dualrun_chaindb::compare::info(&db, "x".into(), |_| {}).unwrap().alt_blocks, 1);
    drop(txn);
    drop(db);

    put_alt_block(tmp.path(), &[8; 32], &value[..40]);
    let db = ChainDb::open(tmp.path()).unwrap();
    let e = db.alt_blocks(&db.read_txn().unwrap()).err().unwrap();
    let text = e.to_string();
    assert!(
        text.contains("alt_blocks") && text.contains(&"08".repeat(32)) && text.contains("40-byte record"),
        "{text}"
    );
}
