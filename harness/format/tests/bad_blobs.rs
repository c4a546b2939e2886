//! Malformed blobs give a typed error naming the field and byte offset, never a panic.

use dualrun_format::block::{BlockHeader, TxOut, TxOutTarget};
use dualrun_format::hash::Hash32;
use dualrun_format::{encode, Block, ParseErrorKind};

/// A v16 block at height 5 with one tagged-key output and `extra`; returns blob and the offset of the
/// miner tx.
fn sample(extra: &[u8]) -> (Vec<u8>, usize) {
    let header = BlockHeader {
        major_version: 16,
        minor_version: 16,
        timestamp: 1_700_000_000,
        prev_id: Hash32([3; 32]),
        nonce: 7,
    };
    let out = TxOut { amount: 600_000, target: TxOutTarget::ToTaggedKey { key: Hash32([4; 32]), view_tag: 0xab } };
    let tx = encode::miner_tx(2, 65, 5, &[out], extra);
    let blob = encode::block(&header, &tx, &[Hash32([5; 32])]);
    let mut h = Vec::new();
    encode::header(&mut h, &header);
    (blob, h.len())
}

#[test]
fn the_sample_parses_and_round_trips() {
    let (blob, _) = sample(&[0x02, 0x01, 0x00]);
    let block = Block::parse(&blob).unwrap();
    assert_eq!(block.miner_tx.gen_height(), Some(5));
    assert_eq!(block.tx_count(), 1);
    assert_eq!(block.miner_tx.extra, &[0x02, 0x01, 0x00]);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let (blob, _) = sample(&[0x01; 40]);
    for len in 0..blob.len() {
        let err = Block::parse(&blob[..len]).expect_err("truncated blob must not parse");
        assert!(
            matches!(err.kind, ParseErrorKind::Truncated { .. } | ParseErrorKind::CountTooLarge { .. }),
            "len {len}: {err}"
        );
        assert!(err.offset <= len, "len {len}: offset {} beyond the blob", err.offset);
    }
}

#[test]
fn trailing_byte() {
    let (mut blob, _) = sample(&[]);
    let len = blob.len();
    blob.push(0);
    let err = Block::parse(&blob).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::TrailingBytes { count: 1 });
    assert_eq!(err.offset, len);
    assert_eq!(err.to_string(), format!("1 trailing byte(s) after the block at byte offset {len}"));
}

#[test]
fn non_canonical_varint() {
    let (blob, _) = sample(&[]);
    // major_version 16 written as 0x90 0x00 instead of 0x10.
    let mut bad = vec![0x90, 0x00];
    bad.extend_from_slice(&blob[1..]);
    let err = Block::parse(&bad).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::NonCanonicalVarint { field: "major_version" });
    assert_eq!(err.offset, 0);
}

#[test]
fn major_version_overflowing_a_byte() {
    let (blob, _) = sample(&[]);
    let mut bad = vec![0x80, 0x02]; // 256
    bad.extend_from_slice(&blob[1..]);
    let err = Block::parse(&bad).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::VarintOverflow { field: "major_version", bits: 8 });
}

#[test]
fn unknown_vin_and_vout_tags() {
    let (blob, tx_at) = sample(&[]);
    // miner tx: version(1) unlock(1) n_vin(1) tag(1) ...
    let mut bad = blob.clone();
    assert_eq!(bad[tx_at + 3], 0xff);
    bad[tx_at + 3] = 0x05;
    let err = Block::parse(&bad).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::UnknownInputTag { tag: 0x05 });
    assert_eq!(err.offset, tx_at + 3);

    // ... height(1) n_vout(1) amount(3: 600000) tag
    let vout_tag = tx_at + 4 + 1 + 1 + 3;
    let mut bad = blob.clone();
    assert_eq!(bad[vout_tag], 0x03);
    bad[vout_tag] = 0x07;
    let err = Block::parse(&bad).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::UnknownOutputTag { tag: 0x07 });
    assert_eq!(err.offset, vout_tag);
}

#[test]
fn unsupported_tx_version_and_rct_type() {
    let (blob, tx_at) = sample(&[]);
    let mut bad = blob.clone();
    bad[tx_at] = 3;
    assert_eq!(Block::parse(&bad).unwrap_err().kind, ParseErrorKind::UnsupportedTxVersion { version: 3 });

    let rct_at = blob.len() - 1 - 1 - 32; // before the tx count and the one tx hash
    let mut bad = blob.clone();
    assert_eq!(bad[rct_at], 0);
    bad[rct_at] = 5;
    assert_eq!(Block::parse(&bad).unwrap_err().kind, ParseErrorKind::UnsupportedRctType { rct_type: 5 });
}

#[test]
fn hostile_counts_do_not_allocate() {
    let (blob, _) = sample(&[]);
    // Replace the tx count (second to last 33 bytes) with a huge varint and no hashes.
    let mut bad = blob[..blob.len() - 33].to_vec();
    bad.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = Block::parse(&bad).unwrap_err();
    assert!(matches!(err.kind, ParseErrorKind::CountTooLarge { field: "tx hash list", .. }), "{err}");
}

/// A miner tx without inputs: version 1 parses (monerod parses it too, and rejects the block as
/// invalid); version 2 is refused at its input count, since monerod cannot hash it and the block has no id.
#[test]
fn a_miner_tx_without_inputs() {
    let (blob, tx_at) = sample(&[]);
    let vin_at = tx_at + 2; // version 02, unlock time 65
    assert_eq!(&blob[vin_at..vin_at + 3], &[0x01, 0xff, 0x05], "one txin_gen at height 5");
    let rct_at = blob.len() - 1 - 1 - 32;
    let mut v2 = blob[..vin_at].to_vec();
    v2.push(0x00);
    v2.extend_from_slice(&blob[vin_at + 3..rct_at]);
    v2.extend_from_slice(&blob[rct_at + 1..]);
    let err = Block::parse(&v2).unwrap_err();
    assert_eq!((&err.kind, err.offset), (&ParseErrorKind::NoInputsV2, vin_at));
    assert!(err.to_string().contains("monerod cannot hash it"), "{err}");

    let mut v1 = v2.clone();
    v1[tx_at] = 1;
    let block = Block::parse(&v1).unwrap();
    assert!(block.miner_tx.inputs.is_empty() && block.miner_tx.gen_height().is_none());
    assert_eq!(block.miner_tx.rct_type, None);
}
