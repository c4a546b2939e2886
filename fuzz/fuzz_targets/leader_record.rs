//! `leader_record`: the leader record search (`record::find`), the signing hash, and the validator
//! (`validator::prepare` then `validator::judge`) on a real sample block whose miner extra is replaced
//! by fuzzed bytes.
//!
//! Input: one byte choosing the base block (sample heights 60..=79, around the activation height 61),
//! then the new tx_extra. The block is judged with the sample profile in its real chain context
//! (`ChainContext::resume` from the sample chain: previous id, previous timestamps) and `now` = its own
//! timestamp, as `replay --now block` does.
//!
//! Checks: nothing panics (debug assertions on); any extra keeps the block parseable; a record `find`
//! returns is where it says (magic, id length, id, signature bytes in the blob's extra) with an
//! acceptable id; `prepare` agrees with `find` and with the block's own id; with the block's original
//! extra the verdict is the one `harness/sample/leader-expected.csv` records; and a block at or after
//! activation is accepted only if it is byte for byte the block its leader signed (a signature cannot be
//! moved, kept over other bytes, or re-made without the key).

#![no_main]

use dualrun_format::Block;
use dualrun_fuzz::{sample_chain, sample_profile, with_extra};
use dualrun_leader::profile::id_problem;
use dualrun_leader::record::{self, RecordSearch, MAGIC, SIGNATURE_LEN};
use dualrun_leader::validator::{self, ChainContext, LeaderVerdict, RecordCheck};
use libfuzzer_sys::fuzz_target;

const EXPECTED: &str = include_str!("../../harness/sample/leader-expected.csv");

/// `verdict,reason,leader_id` of a sample height, as the expected CSV records it.
fn expected(height: u64) -> (String, String, String) {
    let line = EXPECTED
        .lines()
        .skip(1)
        .find(|l| l.split(',').next() == Some(height.to_string().as_str()))
        .expect("height in leader-expected.csv");
    let f: Vec<&str> = line.split(',').collect();
    (f[2].to_owned(), f[3].to_owned(), f[4].to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, extra)) = data.split_first() else { return };
    let chain = sample_chain();
    let profile = sample_profile();
    let height = 60 + u64::from(pick % 20);
    let base = &chain[height as usize];
    let (blob, extra_at) = with_extra(&base.blob, extra);
    let block = Block::parse(&blob).expect("a block with another extra still parses");
    assert_eq!(block.miner_tx.extra, extra);
    assert_eq!(block.miner_tx.extra_offset, extra_at);

    let found = record::find(&block);
    if let RecordSearch::One(r) = &found {
        let id = r.leader_id.as_bytes();
        assert!(id_problem(id).is_none(), "a record with a bad id {:?} was accepted", r.leader_id);
        let sig = r.signature_offset;
        assert!(sig >= extra_at + 2 + id.len() && sig + SIGNATURE_LEN <= extra_at + extra.len());
        assert_eq!(blob[sig..sig + SIGNATURE_LEN], r.signature);
        assert_eq!(&blob[sig - id.len()..sig], id);
        assert_eq!(blob[sig - id.len() - 1] as usize, id.len());
        assert_eq!(blob[sig - id.len() - 2], MAGIC);
        // The copy with the signature zeroed must parse again (`signing_hash` expects it to), and hashing
        // the id and the signing hash together must give what the copy gives.
        let copied = record::signing_hash(&blob, sig);
        if let Some((ids, together)) = block.hashes_and_zeroed_id(sig..sig + SIGNATURE_LEN) {
            assert_eq!(together, copied, "the signing hash hashed with the id differs from the zeroed copy's");
            assert_eq!(ids, block.hashes(), "the id hashed with the signing hash differs from the id alone");
        }
    }

    let prepared = validator::prepare(profile, height, &blob);
    let facts = prepared.parsed.as_ref().expect("a parsed block prepares (unless it hashes to the reserved id)");
    assert_eq!(Some(facts.block_id), block.hashes().ok().map(|h| h.block_id));
    match (&found, &facts.record) {
        (RecordSearch::Missing, RecordCheck::Missing)
        | (RecordSearch::Malformed(_), RecordCheck::Malformed(_))
        | (RecordSearch::Several(_), RecordCheck::Malformed(_)) => {}
        (RecordSearch::One(r), RecordCheck::Known { leader_id, .. } | RecordCheck::Unknown { leader_id, .. }) => {
            assert_eq!(&r.leader_id, leader_id)
        }
        (f, c) => panic!("record::find gave {f:?} but prepare {c:?}"),
    }

    let prev = &chain[height as usize - 1];
    let ctx = ChainContext::resume(height, prev.id, chain[..height as usize].iter().map(|b| b.timestamp));
    let now = prepared.timestamp().unwrap_or(0);
    let j = validator::judge(profile, &ctx, &prepared, now);

    if blob == base.blob {
        let (verdict, reason, leader) = expected(height);
        let (got_verdict, got_reason) = match &j.verdict {
            LeaderVerdict::Accept => ("accept", String::new()),
            LeaderVerdict::Reject { reason, .. } => ("reject", reason.as_str().to_owned()),
        };
        assert_eq!((got_verdict, got_reason.as_str()), (verdict.as_str(), reason.as_str()), "height {height}");
        assert_eq!(j.facts.leader_id.unwrap_or_default(), leader, "height {height}");
        assert_eq!(j.facts.block_id, Some(base.id));
    } else if height >= profile.activation_height && j.verdict.is_accept() {
        panic!("block {height} with a changed extra was accepted: {}", hex::encode(extra));
    }
});
