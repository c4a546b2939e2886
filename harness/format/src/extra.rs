//! tx_extra fields (`tx_extra.h`), parsed leniently as the daemon's `parse_tx_extra` does: fields are
//! read one after another until the end, and on the first field that does not parse the fields before it
//! are kept and the rest is reported, not thrown away. An unparseable extra is valid consensus-wise
//! (Monero never parses the miner extra when it checks a block), so this is never a block error.
//!
//! Besides Monero's tags, two X-Cash forms are recognised: the DPoPS v1 nonce whose length is one raw
//! byte ≥ 0x80 (which breaks varint parsing), and the Xcash-Labs tags 0x07 (VRF signature) and 0xFA
//! (public tx v1), both `varint length ‖ bytes`.

use std::ops::Range;

use serde::Serialize;

use crate::varint::{self, VarintError};

/// Longest padding field, tag included (`TX_EXTRA_PADDING_MAX_COUNT`).
pub const PADDING_MAX: usize = 255;
/// Longest extra nonce (`TX_EXTRA_NONCE_MAX_COUNT` in Monero).
pub const NONCE_MAX: usize = 255;

/// What a field is, by its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraFieldKind {
    /// 0x00: zero bytes to the end of the extra.
    Padding,
    /// 0x01: the transaction public key.
    PubKey,
    /// 0x02: varint length ‖ bytes (payment ids, pool data, dualrun's leader record).
    Nonce,
    /// 0x02 with a one-byte raw length ≥ 0x80, as X-Cash DPoPS v1 blocks write it.
    NonceRawLength,
    /// 0x03: varint length ‖ { varint depth ‖ merkle root }.
    MergeMining,
    /// 0x04: varint count ‖ count × 32-byte keys.
    AdditionalPubKeys,
    /// 0x07 (Xcash-Labs): varint length ‖ VRF data.
    VrfSignature,
    /// 0xDE: varint length ‖ bytes ("mysterious minergate").
    MysteriousMinergate,
    /// 0xFA (Xcash-Labs): varint length ‖ public transaction data.
    PublicTxV1,
}

/// One parsed field. Offsets are relative to the start of the extra.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraField {
    /// The tag byte.
    pub tag: u8,
    /// What the field is, by its tag.
    pub kind: ExtraFieldKind,
    /// The whole field, tag included.
    pub range: Range<usize>,
    /// The field's content after tag and length (the nonce bytes, the key, …).
    pub payload: Range<usize>,
}

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraError {
    /// Offset in the extra of the field that failed (its tag byte).
    pub offset: usize,
    /// Why the field did not parse.
    pub reason: ExtraFieldError,
}

/// Why one tx_extra field did not parse. Serializes as its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtraFieldError {
    /// A varint (a length, a count, a depth) that cannot be read.
    #[error("{} {what} varint at offset {offset}", varint_problem(.problem))]
    Varint {
        /// What the varint is (`nonce`, `merge-mining depth`, …).
        what: &'static str,
        /// Where the varint starts in the extra.
        offset: usize,
        /// Why it cannot be read.
        problem: VarintError,
    },
    /// A `varint length ‖ bytes` field whose length runs past the end of the extra.
    #[error("{what} length {len} exceeds the {remaining} remaining bytes")]
    LengthExceedsRemaining {
        /// What the field is.
        what: &'static str,
        /// The length the field states.
        len: u64,
        /// The bytes left after the length.
        remaining: usize,
    },
    /// Padding with a byte that is not zero.
    #[error("non-zero byte in padding at offset {offset}")]
    NonZeroPadding {
        /// Where the non-zero byte is in the extra.
        offset: usize,
    },
    /// Padding longer than [`PADDING_MAX`] (tag included).
    #[error("padding of {len} bytes exceeds {PADDING_MAX}")]
    PaddingTooLong {
        /// The padding's length, tag included.
        len: usize,
    },
    /// A tx public key field with fewer than 32 bytes after its tag.
    #[error("truncated tx public key")]
    TruncatedPubKey,
    /// An extra nonce longer than [`NONCE_MAX`].
    #[error("nonce length {len} exceeds {NONCE_MAX}")]
    NonceTooLong {
        /// The nonce's length.
        len: usize,
    },
    /// A merge-mining field that is not `varint depth ‖ 32-byte merkle root`.
    #[error("merge-mining field of {len} bytes is not depth ‖ 32-byte root")]
    MergeMiningShape {
        /// The field's payload length.
        len: usize,
    },
    /// More additional public keys than the bytes left can hold.
    #[error("{count} additional pubkeys exceed the remaining bytes")]
    TooManyAdditionalPubKeys {
        /// The count the field states.
        count: u64,
    },
    /// A tag that is neither Monero's nor a known X-Cash one.
    #[error("unknown tag 0x{tag:02x}")]
    UnknownTag {
        /// The tag byte.
        tag: u8,
    },
}

fn varint_problem(e: &VarintError) -> &'static str {
    match e {
        VarintError::Truncated => "truncated",
        VarintError::Overflow => "overflowing",
        VarintError::NonCanonical => "non-canonical",
    }
}

impl Serialize for ExtraFieldError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The fields that parsed, and where and why parsing stopped if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedExtra<'a> {
    /// The whole extra, verbatim.
    pub extra: &'a [u8],
    /// The fields that parsed, in order.
    pub fields: Vec<ExtraField>,
    /// Where and why parsing stopped; `None` when the whole extra parsed.
    pub error: Option<ExtraError>,
}

impl<'a> ParsedExtra<'a> {
    /// The bytes from the failed field to the end (empty when everything parsed).
    pub fn unparsed(&self) -> &'a [u8] {
        match &self.error {
            Some(e) => &self.extra[e.offset..],
            None => &[],
        }
    }

    /// The payload bytes of `field`.
    pub fn payload(&self, field: &ExtraField) -> &'a [u8] {
        &self.extra[field.payload.clone()]
    }

    /// Payloads of the extra-nonce fields (either length form), in order.
    pub fn nonces(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.fields
            .iter()
            .filter(|f| matches!(f.kind, ExtraFieldKind::Nonce | ExtraFieldKind::NonceRawLength))
            .map(|f| &self.extra[f.payload.clone()])
    }
}

/// Parses `extra` leniently; never fails.
pub fn parse(extra: &[u8]) -> ParsedExtra<'_> {
    let mut fields = Vec::new();
    let mut pos = 0;
    let mut error = None;
    while pos < extra.len() {
        match parse_field(extra, pos) {
            Ok(field) => {
                pos = field.range.end;
                fields.push(field);
            }
            Err(reason) => {
                error = Some(ExtraError { offset: pos, reason });
                break;
            }
        }
    }
    ParsedExtra { extra, fields, error }
}

fn read_varint(extra: &[u8], at: usize, what: &'static str) -> Result<(u64, usize), ExtraFieldError> {
    varint::read(&extra[at..], 64).map_err(|problem| ExtraFieldError::Varint { what, offset: at, problem })
}

/// `varint length ‖ bytes`, starting at `at`; returns the payload range.
fn length_prefixed(extra: &[u8], at: usize, what: &'static str) -> Result<Range<usize>, ExtraFieldError> {
    let (len, n) = read_varint(extra, at, what)?;
    let start = at + n;
    if len > (extra.len() - start) as u64 {
        return Err(ExtraFieldError::LengthExceedsRemaining { what, len, remaining: extra.len() - start });
    }
    Ok(start..start + len as usize)
}

fn parse_field(extra: &[u8], at: usize) -> Result<ExtraField, ExtraFieldError> {
    let tag = extra[at];
    let body = at + 1;
    let field = |kind, payload: Range<usize>, end: usize| ExtraField { tag, kind, range: at..end, payload };
    match tag {
        0x00 => {
            let zeros = &extra[body..];
            if let Some(i) = zeros.iter().position(|&b| b != 0) {
                return Err(ExtraFieldError::NonZeroPadding { offset: body + i });
            }
            if zeros.len() + 1 > PADDING_MAX {
                return Err(ExtraFieldError::PaddingTooLong { len: zeros.len() + 1 });
            }
            Ok(field(ExtraFieldKind::Padding, body..extra.len(), extra.len()))
        }
        0x01 => {
            if extra.len() - body < 32 {
                return Err(ExtraFieldError::TruncatedPubKey);
            }
            Ok(field(ExtraFieldKind::PubKey, body..body + 32, body + 32))
        }
        0x02 => match length_prefixed(extra, body, "nonce") {
            Ok(p) if p.len() <= NONCE_MAX => Ok(field(ExtraFieldKind::Nonce, p.clone(), p.end)),
            result => {
                // X-Cash DPoPS v1 writes the length as one raw byte; 0x80.. then reads as a bad varint.
                let raw = extra.get(body).copied().unwrap_or(0) as usize;
                if raw >= 0x80 && raw < extra.len() - body {
                    let p = body + 1..body + 1 + raw;
                    return Ok(field(ExtraFieldKind::NonceRawLength, p.clone(), p.end));
                }
                match result {
                    Ok(p) => Err(ExtraFieldError::NonceTooLong { len: p.len() }),
                    Err(e) => Err(e),
                }
            }
        },
        0x03 => {
            let p = length_prefixed(extra, body, "merge-mining")?;
            let (_depth, n) = read_varint(&extra[..p.end], p.start, "merge-mining depth")?;
            if p.len() != n + 32 {
                return Err(ExtraFieldError::MergeMiningShape { len: p.len() });
            }
            Ok(field(ExtraFieldKind::MergeMining, p.clone(), p.end))
        }
        0x04 => {
            let (count, n) = read_varint(extra, body, "additional pubkeys count")?;
            let start = body + n;
            if count.saturating_mul(32) > (extra.len() - start) as u64 {
                return Err(ExtraFieldError::TooManyAdditionalPubKeys { count });
            }
            let end = start + count as usize * 32;
            Ok(field(ExtraFieldKind::AdditionalPubKeys, start..end, end))
        }
        0x07 | 0xde | 0xfa => {
            let kind = match tag {
                0x07 => ExtraFieldKind::VrfSignature,
                0xde => ExtraFieldKind::MysteriousMinergate,
                _ => ExtraFieldKind::PublicTxV1,
            };
            let p = length_prefixed(extra, body, "field")?;
            Ok(field(kind, p.clone(), p.end))
        }
        _ => Err(ExtraFieldError::UnknownTag { tag }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(p: &ParsedExtra) -> Vec<ExtraFieldKind> {
        p.fields.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn template_extra_pubkey_then_nonce() {
        let mut e = vec![0x01];
        e.extend([7u8; 32]);
        e.extend([0x02, 0x03, 0xaa, 0xbb, 0xcc]);
        let p = parse(&e);
        assert_eq!(kinds(&p), [ExtraFieldKind::PubKey, ExtraFieldKind::Nonce]);
        assert!(p.error.is_none());
        assert_eq!(p.nonces().collect::<Vec<_>>(), vec![&[0xaa, 0xbb, 0xcc][..]]);
    }

    #[test]
    fn keeps_fields_before_an_unknown_tag() {
        let mut e = vec![0x01];
        e.extend([7u8; 32]);
        e.extend([0x09, 0x01, 0x00]);
        let p = parse(&e);
        assert_eq!(kinds(&p), [ExtraFieldKind::PubKey]);
        let err = p.error.as_ref().unwrap();
        assert_eq!(err.offset, 33);
        assert_eq!(err.reason, ExtraFieldError::UnknownTag { tag: 0x09 });
        assert_eq!(err.reason.to_string(), "unknown tag 0x09");
        assert_eq!(p.unparsed(), &[0x09, 0x01, 0x00]);
    }

    #[test]
    fn xcash_dpops_raw_length_nonce() {
        // DPoPS v1: 01 <pk> 02 80 <128 bytes>; 0x80 0x7c.. is not a usable varint length.
        let mut e = vec![0x01];
        e.extend([1u8; 32]);
        e.extend([0x02, 0x80]);
        e.extend(b"|BLOCKCHAIN_RESERVED_BYTES_START|");
        e.extend([0x55; 64]);
        e.extend(b"|BLOCKCHAIN_RESERVED_BYTES_END|");
        assert_eq!(e.len(), 163);
        let p = parse(&e);
        assert_eq!(kinds(&p), [ExtraFieldKind::PubKey, ExtraFieldKind::NonceRawLength]);
        assert_eq!(p.nonces().next().unwrap().len(), 128);
        assert!(p.error.is_none());
    }

    #[test]
    fn padding_rules() {
        assert!(parse(&[0x00, 0x00, 0x00]).error.is_none());
        assert_eq!(
            parse(&[0x00, 0x00, 0x01]).error.unwrap().reason.to_string(),
            "non-zero byte in padding at offset 2"
        );
        let mut long = vec![0u8; 255];
        assert!(parse(&long).error.is_none());
        long.push(0);
        assert!(parse(&long).error.is_some());
    }

    #[test]
    fn merge_mining_and_additional_keys() {
        let mut e = vec![0x03, 33, 0x00];
        e.extend([9u8; 32]);
        e.extend([0x04, 0x01]);
        e.extend([8u8; 32]);
        e.extend([0xde, 0x02, 0xab, 0xcd]);
        let p = parse(&e);
        assert!(p.error.is_none(), "{:?}", p.error);
        assert_eq!(
            kinds(&p),
            [ExtraFieldKind::MergeMining, ExtraFieldKind::AdditionalPubKeys, ExtraFieldKind::MysteriousMinergate]
        );
        assert!(parse(&[0x03, 34, 0x00]).error.is_some());
    }

    /// The messages are part of the output (`block show`, records): they read as they always have.
    #[test]
    fn field_error_messages() {
        let reason = |e: &[u8]| parse(e).error.expect("an error").reason.to_string();
        assert_eq!(reason(&[0x02, 0x05, 0x01]), "nonce length 5 exceeds the 1 remaining bytes");
        assert_eq!(reason(&[0x02, 0x80]), "truncated nonce varint at offset 1");
        assert_eq!(reason(&[0x01, 0x00]), "truncated tx public key");
        assert_eq!(reason(&[0x04, 0x02, 0x00]), "2 additional pubkeys exceed the remaining bytes");
        assert_eq!(reason(&[0x03, 0x01, 0x00]), "merge-mining field of 1 bytes is not depth ‖ 32-byte root");
        assert_eq!(reason(&[0x03, 0x02, 0x80, 0x00]), "non-canonical merge-mining depth varint at offset 2");
        assert_eq!(reason(&[0x00; 256]), "padding of 256 bytes exceeds 255");
    }

    #[test]
    fn over_long_and_truncated_nonces_fail() {
        assert!(parse(&[0x02, 0x05, 0x01]).error.is_some());
        assert!(parse(&[0x01, 0x00]).error.is_some());
    }
}
