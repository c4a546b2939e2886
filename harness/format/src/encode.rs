//! Serializing blocks: the inverse of [`crate::block`], for synthetic chains, crafted test blocks and
//! the genesis block.

use crate::block::{BlockHeader, TxOut, TxOutTarget};
use crate::hash::Hash32;
use crate::varint;

/// Monero mainnet's genesis miner transaction (`GENESIS_TX`, cryptonote_config.h); regtest uses it too.
pub const MAINNET_GENESIS_TX: &str = "013c01ff0001ffffffffffff03029b2e4c0281c0b02e7c53291a94d1d0cbff8883f8024f5142ee494ffbbd08807121017767aafcde9be00dcfd098715ebcf7f410daebc582fda69d24a28e9d0bc890d1";
/// X-Cash mainnet's genesis miner transaction (xcash-core cryptonote_config.h).
pub const XCASH_GENESIS_TX: &str = "013c01ff0001b197bcc5c605029b2e4c0281c0b02e7c53291a94d1d0cbff8883f8024f5142ee494ffbbd0880712101f1dde8d8d6c53e9d2e920d6e66432eaff6a85b2d25043fc29ef477b075b143df";

/// Appends the serialized `h` to `out`.
pub fn header(out: &mut Vec<u8>, h: &BlockHeader) {
    varint::write(out, u64::from(h.major_version));
    varint::write(out, u64::from(h.minor_version));
    varint::write(out, h.timestamp);
    out.extend_from_slice(&h.prev_id.0);
    out.extend_from_slice(&h.nonce.to_le_bytes());
}

/// A coinbase transaction: one `txin_gen` at `height`, the given outputs and extra, and for version 2 the
/// RCTTypeNull byte.
pub fn miner_tx(version: u64, unlock_time: u64, height: u64, outputs: &[TxOut], extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + outputs.len() * 42 + extra.len());
    varint::write(&mut out, version);
    varint::write(&mut out, unlock_time);
    varint::write(&mut out, 1);
    out.push(0xff);
    varint::write(&mut out, height);
    varint::write(&mut out, outputs.len() as u64);
    for o in outputs {
        varint::write(&mut out, o.amount);
        match &o.target {
            TxOutTarget::ToKey { key } => {
                out.push(0x02);
                out.extend_from_slice(&key.0);
            }
            TxOutTarget::ToTaggedKey { key, view_tag } => {
                out.push(0x03);
                out.extend_from_slice(&key.0);
                out.push(*view_tag);
            }
        }
    }
    varint::write(&mut out, extra.len() as u64);
    out.extend_from_slice(extra);
    if version >= 2 {
        out.push(0x00);
    }
    out
}

/// header ‖ miner tx ‖ tx-hash list.
pub fn block(h: &BlockHeader, miner_tx: &[u8], tx_hashes: &[Hash32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(60 + miner_tx.len() + 5 + 32 * tx_hashes.len());
    header(&mut out, h);
    out.extend_from_slice(miner_tx);
    varint::write(&mut out, tx_hashes.len() as u64);
    for t in tx_hashes {
        out.extend_from_slice(&t.0);
    }
    out
}

/// A genesis block as `generate_genesis_block` builds it: version 1.0, timestamp 0, null prev id, the
/// given genesis transaction (hex) and nonce.
pub fn genesis_with_tx(genesis_tx_hex: &str, nonce: u32) -> Vec<u8> {
    let tx = hex::decode(genesis_tx_hex).expect("genesis tx constant is hex");
    let h = BlockHeader { major_version: 1, minor_version: 0, timestamp: 0, prev_id: Hash32::ZERO, nonce };
    block(&h, &tx, &[])
}

/// Monero's genesis block with `nonce` (10000 mainnet and regtest, 10001 testnet).
pub fn genesis_blob(nonce: u32) -> Vec<u8> {
    genesis_with_tx(MAINNET_GENESIS_TX, nonce)
}
