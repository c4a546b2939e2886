//! Synthetic chains of both schemas read back through the chain reader, ids and digest intact, and
//! readable by LMDB's own `mdb_stat`.

use dualrun_chaindb::scan::scan_block;
use dualrun_chaindb::{ChainDb, ChainDigest, Schema};
use dualrun_format::{extra, Block, ExtraFieldKind};
use dualrun_synth::{generate, SynthSpec};

fn roundtrip(schema: Schema, blocks: u64) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chain");
    let report = generate(&dir, SynthSpec { blocks, schema, seed: 9, leader: None }, |_| {}).unwrap();
    assert!(!dir.join("lock.mdb").exists(), "the writer leaves no lock file behind");

    let db = ChainDb::open(&dir).unwrap();
    assert_eq!(db.schema(), schema);
    let txn = db.read_txn().unwrap();
    let summary = db.summary(&txn).unwrap();
    assert_eq!(summary.blocks, blocks);
    let mut digest = ChainDigest::new();
    let mut prev = None;
    for raw in db.blocks(&txn, 0, u64::MAX).unwrap() {
        let raw = raw.unwrap();
        let b = scan_block(&raw).unwrap();
        assert!(!b.id_mismatch(), "height {}", b.height);
        if let Some(p) = prev {
            assert_eq!(b.prev_id, p, "height {} links to its parent", b.height);
        }
        prev = Some(b.block_id);
        digest.push(&b.block_id);
    }
    assert_eq!(digest.current(), report.chain_digest);
    assert_eq!(prev, Some(report.tip_id));
    tmp
}

#[test]
fn monero_v5_chain_reads_back() {
    let tmp = roundtrip(Schema::MoneroV5, 3000);
    let dir = tmp.path().join("chain");
    // The same spec gives the same chain, byte for byte.
    let again = tmp.path().join("again");
    let a =
        generate(&again, SynthSpec { blocks: 3000, schema: Schema::MoneroV5, seed: 9, leader: None }, |_| {}).unwrap();
    let db = ChainDb::open(&dir).unwrap();
    let txn = db.read_txn().unwrap();
    let tip = db.blocks(&txn, 2999, 2999).unwrap().next().unwrap().unwrap();
    assert_eq!(tip.info.hash, a.tip_id);
}

#[test]
fn xcash_v3_chain_reads_back_with_raw_length_nonces() {
    let tmp = roundtrip(Schema::XcashV3, 500);
    let db = ChainDb::open(&tmp.path().join("chain")).unwrap();
    let txn = db.read_txn().unwrap();
    let raw = db.blocks(&txn, 0, 0).unwrap().next().unwrap().unwrap();
    assert_eq!(
        scan_block(&raw).unwrap().block_id.to_string(),
        "557393c3e80695e94603e92b4dbf7a2b974c16cf12d1b470d2882916cbfee468",
        "X-Cash genesis"
    );
    let raw = db.blocks(&txn, 250, 250).unwrap().next().unwrap().unwrap();
    assert_eq!(raw.info.height, 250);
    let block = Block::parse(raw.blob).unwrap();
    let fields = extra::parse(block.miner_tx.extra);
    let kinds: Vec<_> = fields.fields.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [ExtraFieldKind::PubKey, ExtraFieldKind::NonceRawLength]);
    assert!(fields.error.is_none());
}

#[test]
fn mdb_stat_reads_a_synthetic_chain() {
    let tmp = roundtrip(Schema::MoneroV5, 200);
    let dir = tmp.path().join("chain");
    let out = std::process::Command::new("mdb_stat")
        .arg("-a")
        .arg(&dir)
        .output()
        .expect("mdb_stat from Debian's lmdb-utils (ci/test.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for table in ["blocks", "block_info", "block_heights", "hf_versions", "properties"] {
        assert!(text.contains(&format!("Status of {table}")), "mdb_stat lists {table}:\n{text}");
    }
    // blocks, block_info, block_heights and hf_versions each hold 200 entries.
    assert!(text.matches("Entries: 200").count() >= 4, "{text}");
}
