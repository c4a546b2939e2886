//! `leader forks` on a copy of the sample chain with competing blocks put into its `alt_blocks`, as a
//! node keeps them: each alternative judged in its parent's context, fork choice among the siblings of
//! each height (lowest failover rank, then lowest id; invalid never wins), and a `fork.not_canonical`
//! finding exactly where the main chain holds a block fork choice would not have picked.

use std::path::Path;

use crate::common::{assert_json_rows_are_the_csv, dualrun, s, sample_copy, sample_dir};
use dualrun_chaindb::ChainDb;
use dualrun_format::{Block, Hash32};
use dualrun_keys::KeyFile;
use dualrun_leader::record::{self, RecordSearch};
use dualrun_leader::Profile;
use heed::types::Bytes;

fn key(i: usize) -> KeyFile {
    KeyFile::read(&sample_dir().join(format!("keys/throwaway-test-leader-{i}.key"))).unwrap()
}

fn main_blob(dir: &Path, h: u64) -> Vec<u8> {
    let db = ChainDb::open(dir).unwrap();
    let txn = db.read_txn().unwrap();
    let blob = db.blocks(&txn, h, h).unwrap().next().unwrap().unwrap().blob.to_vec();
    blob
}

fn id_of(blob: &[u8]) -> Hash32 {
    Block::parse(blob).unwrap().hashes().unwrap().block_id
}

/// `blob` re-signed by `signer` (its id in the record, its key), with nonce `nonce`.
fn alternative(blob: &[u8], signer: &KeyFile, nonce: u32, network_id: &[u8; 16]) -> Vec<u8> {
    let block = Block::parse(blob).unwrap();
    let prev = block.header.prev_id;
    let RecordSearch::One(r) = record::find(&block) else { panic!("a signed block") };
    let mut alt = blob.to_vec();
    let nonce_at = alt.windows(32).position(|w| w == prev.0).unwrap() + 32;
    alt[nonce_at..nonce_at + 4].copy_from_slice(&nonce.to_le_bytes());
    assert_eq!(signer.id.len(), r.leader_id.len(), "the sample's ids are all 8 bytes");
    let id_at = r.signature_offset - signer.id.len();
    alt[id_at..r.signature_offset].copy_from_slice(signer.id.as_bytes());
    record::sign_in_place(&mut alt, r.signature_offset, network_id, &signer.signing_key).unwrap();
    alt
}

/// The first nonce whose alternative's id is below (`lower`) or above the main block's.
fn alternative_ordered(blob: &[u8], signer: &KeyFile, lower: bool, network_id: &[u8; 16]) -> Vec<u8> {
    let main = id_of(blob).0;
    (1u32..).map(|n| alternative(blob, signer, n, network_id)).find(|a| (id_of(a).0 < main) == lower).unwrap()
}

fn put_alt_blocks(dir: &Path, blocks: &[(u64, Vec<u8>)]) {
    let mut options = heed::EnvOpenOptions::new();
    options.max_dbs(32).map_size(1 << 30);
    let env = unsafe { options.open(dir) }.unwrap();
    let mut wtxn = env.write_txn().unwrap();
    let db: heed::Database<Bytes, Bytes> = env.create_database(&mut wtxn, Some("alt_blocks")).unwrap();
    for (h, blob) in blocks {
        let mut value: Vec<u8> = [*h, 1, 1, 0, 0].iter().flat_map(|f| f.to_le_bytes()).collect();
        value.extend(blob);
        db.put(&mut wtxn, &id_of(blob).0, &value).unwrap();
    }
    wtxn.commit().unwrap();
    env.prepare_for_closing().wait();
    let _ = std::fs::remove_file(dir.join("lock.mdb"));
}

#[test]
fn fork_choice_flags_exactly_the_heights_where_the_main_block_is_not_canonical() {
    let tmp = sample_copy();
    let profile = sample_dir().join("profile.toml");
    let network_id = Profile::load(&profile).unwrap().network_id;
    // Round-robin from 61: leader-1 is scheduled at 100 and 121, leader-2 at 101.
    let (b100, b101, b121) = (main_blob(tmp.path(), 100), main_blob(tmp.path(), 101), main_blob(tmp.path(), 121));
    let at_100 = alternative(&b100, &key(1), 1, &network_id); // valid; the main block is not (leader-2)
    let at_101_low = alternative_ordered(&b101, &key(2), true, &network_id); // valid, lower id than main
    let at_101_rank1 = alternative(&b101, &key(3), 1, &network_id); // leader-3: not scheduled (no failover)
    let at_121_high = alternative_ordered(&b121, &key(1), false, &network_id); // valid, higher id
    put_alt_blocks(
        tmp.path(),
        &[(100, at_100.clone()), (101, at_101_low.clone()), (101, at_101_rank1.clone()), (121, at_121_high.clone())],
    );

    let r = dualrun(&["leader", "forks", "--chain", s(tmp.path()), "--profile", s(&profile)]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("height,block_id,parent_id,main_chain,verdict,reason,rank,canonical,finding"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 9 && ["accept", "reject"].contains(&r[4].as_str())), "{}", r.stdout);
    let row = |id: &[u8]| -> Vec<String> {
        let id = id_of(id).to_string();
        rows.iter().find(|r| r[1] == id && r[8].is_empty()).unwrap_or_else(|| panic!("no row for {id}")).clone()
    };
    let cols = |r: Vec<String>| (r[0].clone(), r[3].clone(), r[4].clone(), r[5].clone(), r[6].clone(), r[7].clone());
    let t = |h: &str, main: &str, v: &str, reason: &str, rank: &str, canon: &str| {
        (h.to_owned(), main.to_owned(), v.to_owned(), reason.to_owned(), rank.to_owned(), canon.to_owned())
    };
    assert_eq!(cols(row(&b100)), t("100", "true", "reject", "leader.not_scheduled", "", "false"));
    assert_eq!(cols(row(&at_100)), t("100", "false", "accept", "", "0", "true"));
    assert_eq!(cols(row(&b101)), t("101", "true", "accept", "", "0", "false"));
    assert_eq!(cols(row(&at_101_low)), t("101", "false", "accept", "", "0", "true"));
    assert_eq!(cols(row(&at_101_rank1)), t("101", "false", "reject", "leader.not_scheduled", "", "false"));
    assert_eq!(cols(row(&b121)), t("121", "true", "accept", "", "0", "true"));
    assert_eq!(cols(row(&at_121_high)), t("121", "false", "accept", "", "0", "false"));
    // A finding is the main block's row again (its verdict and reason unchanged), the finding named in
    // its own column.
    let findings: Vec<String> = rows.iter().filter(|r| !r[8].is_empty()).map(|r| r.join(",")).collect();
    let again = |blob: &[u8]| format!("{},fork.not_canonical", row(blob)[..8].join(","));
    assert_eq!(findings, [again(&b100), again(&b101)]);
    assert_eq!(rows.len(), 7 + 2, "one row per alternative and per main block with alternatives, and the findings");
    let json = dualrun(&["leader", "forks", "--chain", s(tmp.path()), "--profile", s(&profile), "--format", "json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    assert_json_rows_are_the_csv(&r.stdout, &json.stdout);

    let info = dualrun(&["chain", "info", "--chain", s(tmp.path()), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(v["alt_blocks"], 4);
}
