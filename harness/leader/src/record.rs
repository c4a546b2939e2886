//! The leader record and what is signed.
//!
//! A leader record is an extra-nonce field (tag 0x02) of the miner transaction whose payload is
//! `0xCA ‖ id_len (1..=32) ‖ leader_id ‖ signature (64) ‖ zero padding`. The signing hash is the block id
//! of the blob with the 64 signature bytes set to zero; the signed message is
//! `b"dualrun/leader/v1" ‖ network_id (16) ‖ signing_hash (32)`.

use dualrun_format::{extra, Block, Hash32, HashError};
use dualrun_keys::id_problem;
use ed25519_dalek::{Signature, Signer, SigningKey};

/// First payload byte of a leader record.
pub const MAGIC: u8 = 0xCA;
/// Domain separator at the start of every signed message.
pub const DOMAIN: &[u8; 17] = b"dualrun/leader/v1";
/// Length of an Ed25519 signature, in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// The bytes a producer reserves in the template's extra nonce for the leader record
/// (`get_block_template`'s `reserve_size`; monerod 0.18 refuses more than 127).
pub const RESERVE: usize = 100;

/// A well-formed record, located in its blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderRecord {
    /// The leader id the record names.
    pub leader_id: String,
    /// The Ed25519 signature.
    pub signature: [u8; SIGNATURE_LEN],
    /// Offset of the signature's first byte in the block blob.
    pub signature_offset: usize,
}

/// What the miner extra holds, as far as leaders go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSearch {
    /// No extra-nonce payload starts with 0xCA (among the fields that parse).
    Missing,
    /// Exactly one well-formed record.
    One(LeaderRecord),
    /// One record that is not well formed: why.
    Malformed(RecordError),
    /// More than one record (the count).
    Several(usize),
}

/// Why a leader record (a payload starting with [`MAGIC`]) is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The payload is the magic byte alone.
    #[error("record ends after its magic byte")]
    EndsAfterMagic,
    /// The payload ends inside the id its length byte announces.
    #[error("record of {len} bytes is shorter than its id")]
    ShorterThanId {
        /// The payload's length.
        len: usize,
    },
    /// The id is not a valid leader id (empty, too long, or not printable ASCII): why.
    #[error("{0}")]
    InvalidId(String),
    /// The payload ends before the end of the signature.
    #[error("record of {len} bytes has no room for the {SIGNATURE_LEN}-byte signature")]
    NoRoomForSignature {
        /// The payload's length.
        len: usize,
    },
    /// A byte after the signature is not zero.
    #[error("non-zero padding byte at record offset {offset}")]
    NonZeroPadding {
        /// The byte's offset in the payload.
        offset: usize,
    },
}

/// Checks one record payload; `payload_offset` is where it starts in the blob.
fn parse_payload(payload: &[u8], payload_offset: usize) -> Result<LeaderRecord, RecordError> {
    let id_len = *payload.get(1).ok_or(RecordError::EndsAfterMagic)? as usize;
    let id = payload.get(2..2 + id_len).ok_or(RecordError::ShorterThanId { len: payload.len() })?;
    if let Some(p) = id_problem(id) {
        return Err(RecordError::InvalidId(p));
    }
    let sig_at = 2 + id_len;
    let signature: [u8; SIGNATURE_LEN] = payload
        .get(sig_at..sig_at + SIGNATURE_LEN)
        .ok_or(RecordError::NoRoomForSignature { len: payload.len() })?
        .try_into()
        .expect("64 bytes");
    if let Some(i) = payload[sig_at + SIGNATURE_LEN..].iter().position(|&b| b != 0) {
        return Err(RecordError::NonZeroPadding { offset: sig_at + SIGNATURE_LEN + i });
    }
    Ok(LeaderRecord {
        leader_id: String::from_utf8(id.to_vec()).expect("checked ASCII"),
        signature,
        signature_offset: payload_offset + sig_at,
    })
}

/// Looks for the leader record in a block's miner extra.
pub fn find(block: &Block) -> RecordSearch {
    let parsed = extra::parse(block.miner_tx.extra);
    let mut found = parsed
        .fields
        .iter()
        .filter(|f| matches!(f.kind, extra::ExtraFieldKind::Nonce | extra::ExtraFieldKind::NonceRawLength))
        .filter(|f| parsed.payload(f).first() == Some(&MAGIC))
        .map(|f| (parsed.payload(f), block.miner_tx.extra_offset + f.payload.start));
    let Some((payload, offset)) = found.next() else { return RecordSearch::Missing };
    let more = found.count();
    if more > 0 {
        return RecordSearch::Several(more + 1);
    }
    match parse_payload(payload, offset) {
        Ok(r) => RecordSearch::One(r),
        Err(why) => RecordSearch::Malformed(why),
    }
}

/// The block id of `blob` with the 64 bytes at `signature_offset` zeroed.
pub fn signing_hash(blob: &[u8], signature_offset: usize) -> Result<Hash32, HashError> {
    let mut zeroed = blob.to_vec();
    zeroed[signature_offset..signature_offset + SIGNATURE_LEN].fill(0);
    // Zeroing keeps every length, so the copy parses exactly as the original did.
    let block = Block::parse(&zeroed).expect("a parsed blob still parses with its signature zeroed");
    Ok(block.hashes()?.block_id)
}

/// The 65-byte message a leader signs.
pub fn message(network_id: &[u8; 16], signing_hash: &Hash32) -> [u8; 65] {
    let mut m = [0u8; 65];
    m[..17].copy_from_slice(DOMAIN);
    m[17..33].copy_from_slice(network_id);
    m[33..].copy_from_slice(&signing_hash.0);
    m
}

/// Why a record payload cannot be built for a leader id in the bytes reserved for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The id is not a valid leader id (empty, too long, or not printable ASCII).
    #[error("{id:?}: {problem}")]
    InvalidId {
        /// The id given.
        id: String,
        /// Why it is not valid.
        problem: String,
    },
    /// The record is longer than the bytes reserved for it.
    #[error("a record for {id:?} needs {need} bytes; only {reserve} are reserved")]
    TooLong {
        /// The id given.
        id: String,
        /// The bytes the record needs.
        need: usize,
        /// The bytes reserved.
        reserve: usize,
    },
}

/// A record payload with a zero signature, `reserve` bytes long (zero padded).
pub fn unsigned_payload(leader_id: &str, reserve: usize) -> Result<Vec<u8>, PayloadError> {
    if let Some(problem) = id_problem(leader_id.as_bytes()) {
        return Err(PayloadError::InvalidId { id: leader_id.to_owned(), problem });
    }
    let need = 2 + leader_id.len() + SIGNATURE_LEN;
    if need > reserve {
        return Err(PayloadError::TooLong { id: leader_id.to_owned(), need, reserve });
    }
    let mut p = vec![0u8; reserve];
    p[0] = MAGIC;
    p[1] = leader_id.len() as u8;
    p[2..2 + leader_id.len()].copy_from_slice(leader_id.as_bytes());
    Ok(p)
}

/// Signs a blob whose record (with a zero signature) starts at `signature_offset - 2 - id_len`:
/// computes the signing hash, signs, writes the signature into the blob, returns the signing hash.
pub fn sign_in_place(
    blob: &mut [u8],
    signature_offset: usize,
    network_id: &[u8; 16],
    key: &SigningKey,
) -> Result<Hash32, HashError> {
    let hash = signing_hash(blob, signature_offset)?;
    let sig: Signature = key.sign(&message(network_id, &hash));
    blob[signature_offset..signature_offset + SIGNATURE_LEN].copy_from_slice(&sig.to_bytes());
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_record_messages() {
        let message = |p: &[u8]| parse_payload(p, 0).unwrap_err().to_string();
        assert_eq!(message(&[MAGIC]), "record ends after its magic byte");
        assert_eq!(message(&[MAGIC, 5, b'a']), "record of 3 bytes is shorter than its id");
        assert_eq!(message(&[MAGIC, 1, b'a', 0, 0]), "record of 5 bytes has no room for the 64-byte signature");
        let mut p = vec![MAGIC, 1, b'a'];
        p.extend([0; SIGNATURE_LEN + 2]);
        p[3 + SIGNATURE_LEN + 1] = 1;
        assert_eq!(message(&p), "non-zero padding byte at record offset 68");
        assert_eq!(message(&[MAGIC, 0]), id_problem(b"").expect("an empty id is a problem"));
    }

    #[test]
    fn payload_messages() {
        let message = |id: &str, reserve: usize| unsigned_payload(id, reserve).unwrap_err().to_string();
        assert_eq!(message("", RESERVE), "\"\": id is 0 bytes; it must be 1..=32");
        assert_eq!(message("a b", RESERVE), "\"a b\": id contains byte 0x20; allowed are A-Z a-z 0-9 . _ -");
        assert_eq!(message("leader-1", 70), "a record for \"leader-1\" needs 74 bytes; only 70 are reserved");
        let p = unsigned_payload("leader-1", 74).unwrap();
        assert_eq!(p[..10], [MAGIC, 8, b'l', b'e', b'a', b'd', b'e', b'r', b'-', b'1']);
    }
}
