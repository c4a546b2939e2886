//! `block`: `Block::parse`, `Block::hashes` and `BlockView::of` on arbitrary bytes.
//!
//! Checks: nothing panics; a blob that parses parses again to the same block and the same ids; the
//! parse accounts for every byte (header ‖ miner tx ‖ tx-hash list, nothing after), its ranges lie in
//! the blob and the header re-encodes to the bytes it was read from; `BlockView::of` accepts exactly the
//! blobs that parse and hash, fails with the same error otherwise, and agrees field by field.

#![no_main]

use dualrun_format::{encode, varint, Block, BlockView, ViewError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = BlockView::of(data);
    let block = match Block::parse(data) {
        Err(e) => {
            assert!(e.offset <= data.len(), "error offset {} past the blob's {} bytes", e.offset, data.len());
            match view {
                Err(ViewError::Parse(v)) => assert_eq!(v, e, "BlockView::of and Block::parse fail differently"),
                other => panic!("Block::parse failed ({e}) but BlockView::of gave {other:?}"),
            }
            return;
        }
        Ok(block) => block,
    };
    let hashes = block.hashes();
    let again = Block::parse(data).expect("a blob that parsed parses again");
    assert_eq!(again, block, "two parses of the same bytes differ");
    assert_eq!(again.hashes(), hashes, "two parses of the same bytes hash differently");

    // Structure: header ‖ miner tx ‖ varint(n) ‖ n × 32 bytes, and nothing else.
    let tx = &block.miner_tx;
    assert_eq!(tx.range.start, block.header_len);
    assert!(tx.prefix_range.start == tx.range.start && tx.prefix_range.end <= tx.range.end);
    assert_eq!(tx.extra_offset + tx.extra.len(), tx.prefix_range.end, "tx_extra ends the prefix");
    assert_eq!(&data[tx.extra_offset..tx.prefix_range.end], tx.extra);
    let n = block.tx_count();
    assert_eq!(tx.range.end + varint::encoded_len(n as u64) + 32 * n, data.len(), "bytes left unaccounted for");
    assert_eq!(block.tx_hashes().len(), n);
    let mut header = Vec::new();
    encode::header(&mut header, &block.header);
    assert_eq!(header, block.header_bytes(), "the header does not re-encode to its bytes");
    assert_eq!(tx.version == 2, tx.rct_type == Some(0));

    match (hashes, view) {
        (Ok(h), Ok(v)) => {
            assert_eq!(v.block_id, h.block_id);
            assert_eq!(v.miner_tx.hash, h.miner_tx_hash);
            assert_eq!(v.tree_root, h.tree_root);
            assert_eq!(v.id_overridden, h.id_overridden);
            assert_eq!(v.header, block.header);
            assert_eq!(v.tx_hashes, block.tx_hashes().collect::<Vec<_>>());
            assert_eq!(v.blob_bytes, data.len());
            assert_eq!(v.blob, hex::encode(data));
            assert_eq!(v.hashing_blob, hex::encode(block.hashing_blob(&h.tree_root)));
            assert_eq!(v.miner_tx.extra.bytes, hex::encode(tx.extra));
            if h.id_overridden {
                assert_eq!(tx.gen_height(), Some(202_612), "only mainnet block 202612 has a forced id");
            }
            if n == 0 {
                assert_eq!(h.tree_root, h.miner_tx_hash);
            }
        }
        (Err(e), Err(ViewError::Hash(v))) => assert_eq!(e, v),
        (h, v) => panic!("parse + hashes gave {h:?} but BlockView::of gave {v:?}"),
    }
});
