//! Monero's LMDB comparators (db_lmdb.cpp). LMDB does not persist comparators, so every opener must set
//! the same ones; writing duplicates under the default `memcmp` would order them differently from the
//! daemon. They never panic: short values fall back to byte order.

use std::cmp::Ordering;

use heed::Comparator;

/// `compare_uint64`: the first 8 bytes as a native-endian u64.
pub enum MoneroU64 {}

impl Comparator for MoneroU64 {
    fn compare(a: &[u8], b: &[u8]) -> Ordering {
        match (a.get(..8), b.get(..8)) {
            (Some(x), Some(y)) => {
                u64::from_ne_bytes(x.try_into().unwrap()).cmp(&u64::from_ne_bytes(y.try_into().unwrap()))
            }
            _ => a.cmp(b),
        }
    }
}

/// `compare_hash32`: the first 32 bytes as eight native u32 words, most significant word last; on a
/// little-endian machine that is the 32 bytes compared from byte 31 down to byte 0.
pub enum MoneroHash32 {}

impl Comparator for MoneroHash32 {
    fn compare(a: &[u8], b: &[u8]) -> Ordering {
        match (a.get(..32), b.get(..32)) {
            (Some(x), Some(y)) => {
                let words = |s: &[u8]| -> [u32; 8] {
                    std::array::from_fn(|i| u32::from_ne_bytes(s[4 * i..4 * i + 4].try_into().unwrap()))
                };
                let (wx, wy) = (words(x), words(y));
                wx.iter().rev().cmp(wy.iter().rev())
            }
            _ => a.cmp(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_is_numeric_not_bytewise() {
        let a = 256u64.to_ne_bytes();
        let b = 1u64.to_ne_bytes();
        assert_eq!(MoneroU64::compare(&a, &b), Ordering::Greater);
    }

    #[test]
    fn hash32_compares_from_the_last_word() {
        let mut a = [0u8; 40];
        let mut b = [0u8; 40];
        a[0] = 0xff; // low word of a is large
        b[31] = 0x01; // high word of b is larger
        assert_eq!(MoneroHash32::compare(&a, &b), Ordering::Less);
    }
}
