//! Database schemas: which `properties.version` means which `block_info` layout.
//!
//! | schema | who | `block_info` record | hash at |
//! |---|---|---|---|
//! | 5 | Monero 0.18 (`mdb_block_info_4`) | 96 bytes: height, timestamp, coins, weight, diff lo, diff hi, hash, cum_rct, long-term weight | 48 |
//! | 3 | X-Cash (`mdb_block_info_2`) | 80 bytes: height, timestamp, coins, weight, diff, hash, cum_rct | 40 |

use dualrun_format::Hash32;
use serde::Serialize;

/// A `block_info` layout, named by the database schema version that uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Schema {
    /// Monero DB version 5.
    MoneroV5,
    /// X-Cash DB version 3.
    XcashV3,
}

impl Schema {
    /// The schema of a `properties.version` value; `None` if it is not supported.
    pub fn from_version(version: u32) -> Option<Schema> {
        match version {
            5 => Some(Schema::MoneroV5),
            3 => Some(Schema::XcashV3),
            _ => None,
        }
    }

    /// The schema's `properties.version` value.
    pub fn version(self) -> u32 {
        match self {
            Schema::MoneroV5 => 5,
            Schema::XcashV3 => 3,
        }
    }

    /// The node whose database it is, for people: `Monero 0.18` or `X-Cash`.
    pub fn node(self) -> &'static str {
        match self {
            Schema::MoneroV5 => "Monero 0.18",
            Schema::XcashV3 => "X-Cash",
        }
    }

    /// Size of one `block_info` record.
    pub fn info_size(self) -> usize {
        match self {
            Schema::MoneroV5 => 96,
            Schema::XcashV3 => 80,
        }
    }

    fn hash_offset(self) -> usize {
        match self {
            Schema::MoneroV5 => 48,
            Schema::XcashV3 => 40,
        }
    }

    /// Decodes one `block_info` record; `None` if its size is not this schema's.
    pub fn decode_info(self, record: &[u8]) -> Option<InfoRecord> {
        if record.len() != self.info_size() {
            return None;
        }
        let u64_at = |o: usize| u64::from_le_bytes(record[o..o + 8].try_into().unwrap());
        let h = self.hash_offset();
        Some(InfoRecord {
            height: u64_at(0),
            timestamp: u64_at(8),
            coins: u64_at(16),
            weight: u64_at(24),
            cumulative_difficulty: u128::from(u64_at(32))
                | match self {
                    Schema::MoneroV5 => u128::from(u64_at(40)) << 64,
                    Schema::XcashV3 => 0,
                },
            hash: Hash32(record[h..h + 32].try_into().unwrap()),
            cumulative_rct_outputs: u64_at(h + 32),
            long_term_weight: match self {
                Schema::MoneroV5 => Some(u64_at(88)),
                Schema::XcashV3 => None,
            },
        })
    }

    /// Encodes a record in this schema's layout (the inverse of [`Schema::decode_info`]).
    pub fn encode_info(self, info: &InfoRecord) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.info_size());
        out.extend_from_slice(&info.height.to_le_bytes());
        out.extend_from_slice(&info.timestamp.to_le_bytes());
        out.extend_from_slice(&info.coins.to_le_bytes());
        out.extend_from_slice(&info.weight.to_le_bytes());
        out.extend_from_slice(&(info.cumulative_difficulty as u64).to_le_bytes());
        if self == Schema::MoneroV5 {
            out.extend_from_slice(&((info.cumulative_difficulty >> 64) as u64).to_le_bytes());
        }
        out.extend_from_slice(&info.hash.0);
        out.extend_from_slice(&info.cumulative_rct_outputs.to_le_bytes());
        if self == Schema::MoneroV5 {
            out.extend_from_slice(&info.long_term_weight.unwrap_or(info.weight).to_le_bytes());
        }
        debug_assert_eq!(out.len(), self.info_size());
        out
    }
}

/// One `block_info` record, schema-independent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InfoRecord {
    /// The block's height.
    pub height: u64,
    /// The block's timestamp.
    pub timestamp: u64,
    /// The coins generated so far, this block's included.
    pub coins: u64,
    /// The block's weight.
    pub weight: u64,
    /// The chain's cumulative difficulty up to this block.
    pub cumulative_difficulty: u128,
    /// The block id the node stored.
    pub hash: Hash32,
    /// The chain's cumulative count of RingCT outputs up to this block.
    pub cumulative_rct_outputs: u64,
    /// Schema 5 only.
    pub long_term_weight: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_name_their_node() {
        assert_eq!((Schema::MoneroV5.node(), Schema::MoneroV5.version()), ("Monero 0.18", 5));
        assert_eq!((Schema::XcashV3.node(), Schema::XcashV3.version()), ("X-Cash", 3));
    }

    #[test]
    fn records_round_trip_in_both_layouts() {
        let info = InfoRecord {
            height: 7,
            timestamp: 1_600_000_000,
            coins: 123,
            weight: 300,
            cumulative_difficulty: (5u128 << 64) | 9,
            hash: Hash32([0xab; 32]),
            cumulative_rct_outputs: 42,
            long_term_weight: Some(301),
        };
        let v5 = Schema::MoneroV5.encode_info(&info);
        assert_eq!(v5.len(), 96);
        assert_eq!(&v5[48..80], &[0xab; 32]);
        assert_eq!(Schema::MoneroV5.decode_info(&v5), Some(info.clone()));
        let v3 = Schema::XcashV3.encode_info(&info);
        assert_eq!(v3.len(), 80);
        assert_eq!(&v3[40..72], &[0xab; 32]);
        let back = Schema::XcashV3.decode_info(&v3).unwrap();
        assert_eq!((back.hash, back.cumulative_difficulty, back.long_term_weight), (info.hash, 9, None));
        assert_eq!(Schema::XcashV3.decode_info(&v5), None);
    }
}
