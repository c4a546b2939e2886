//! Parse errors: what was wrong and at which byte offset of the blob.

use std::fmt;

/// A block blob that does not parse. `offset` is the byte offset in the blob where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte offset {offset}")]
pub struct ParseError {
    /// Byte offset in the blob where the problem starts.
    pub offset: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// What was wrong. `field` names the field being read (e.g. `"miner tx unlock_time"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The blob ended inside a field.
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A varint with a redundant trailing zero group (Monero's EVARINT_REPRESENT).
    NonCanonicalVarint {
        /// The field being read.
        field: &'static str,
    },
    /// A varint that does not fit the field's integer type (Monero's EVARINT_OVERFLOW).
    VarintOverflow {
        /// The field being read.
        field: &'static str,
        /// The width of the field's integer type, in bits.
        bits: u32,
    },
    /// Bytes left over after the last field of the block.
    TrailingBytes {
        /// How many bytes are left over.
        count: usize,
    },
    /// A transaction version this format does not have (0, or above 2).
    UnsupportedTxVersion {
        /// The version found.
        version: u64,
    },
    /// A version-2 transaction without inputs. monerod parses it but cannot hash it: with no inputs no
    /// RingCT part is serialized, its unprunable size stays unset, and `calculate_transaction_hash`
    /// fails ("Inconsistent transaction prefix, unprunable and blob sizes"), so such a block has no id.
    NoInputsV2,
    /// An input variant tag other than `txin_gen` (0xff) and `txin_to_key` (0x02).
    UnknownInputTag {
        /// The tag found.
        tag: u8,
    },
    /// An output target tag other than `txout_to_key` (0x02) and `txout_to_tagged_key` (0x03).
    UnknownOutputTag {
        /// The tag found.
        tag: u8,
    },
    /// A RingCT type byte other than RCTTypeNull (0) in a miner transaction.
    UnsupportedRctType {
        /// The type byte found.
        rct_type: u8,
    },
    /// A count (vector length) larger than the bytes that remain could hold.
    CountTooLarge {
        /// The field being read.
        field: &'static str,
        /// The count read.
        count: u64,
    },
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { field } => write!(f, "blob truncated inside {field}"),
            Self::NonCanonicalVarint { field } => write!(f, "non-canonical varint in {field}"),
            Self::VarintOverflow { field, bits } => write!(f, "varint in {field} overflows {bits} bits"),
            Self::TrailingBytes { count } => write!(f, "{count} trailing byte(s) after the block"),
            Self::UnsupportedTxVersion { version } => {
                write!(f, "unsupported miner tx version {version} (expected 1 or 2)")
            }
            Self::NoInputsV2 => f.write_str(
                "version-2 miner tx with no inputs: monerod cannot hash it (no RingCT part is serialized, so \
                 calculate_transaction_hash fails), so the block has no id",
            ),
            Self::UnknownInputTag { tag } => write!(f, "unknown vin tag 0x{tag:02x}"),
            Self::UnknownOutputTag { tag } => write!(f, "unknown vout tag 0x{tag:02x}"),
            Self::UnsupportedRctType { rct_type } => {
                write!(f, "unsupported RingCT type {rct_type} in miner tx (expected 0, RCTTypeNull)")
            }
            Self::CountTooLarge { field, count } => {
                write!(f, "{field} count {count} exceeds the remaining bytes")
            }
        }
    }
}
