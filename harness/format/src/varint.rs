//! Monero varints (`src/common/varint.h`): little-endian base-128, low group first, bit 7 = continuation.
//!
//! Reading is as strict as the daemon: a value that overflows the target width and a non-canonical
//! encoding (a zero group after the first byte, e.g. `80 00`) are both errors.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended before the last group.
    Truncated,
    /// The value does not fit in the requested number of bits.
    Overflow,
    /// A redundant trailing zero group.
    NonCanonical,
}

/// Reads a varint of at most `bits` bits (8, 32 or 64) from the start of `input`.
/// Returns the value and the number of bytes it took.
pub fn read(input: &[u8], bits: u32) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    let mut shift: u32 = 0;
    for (i, &byte) in input.iter().enumerate() {
        // Monero's exact test, on the whole byte (continuation bit included): the last group that can
        // still fit must be small enough and must not continue. It fires before `shift` passes `bits`.
        if shift + 7 >= bits && u32::from(byte) >= 1u32 << (bits - shift) {
            return Err(VarintError::Overflow);
        }
        if byte == 0 && shift != 0 {
            return Err(VarintError::NonCanonical);
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
        shift += 7;
    }
    Err(VarintError::Truncated)
}

/// The canonical encoding of `value` in a stack buffer: `(bytes, len)`.
pub fn encode(mut value: u64) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    while value >= 0x80 {
        buf[n] = (value as u8 & 0x7f) | 0x80;
        value >>= 7;
        n += 1;
    }
    buf[n] = value as u8;
    (buf, n + 1)
}

/// Appends the canonical encoding of `value` to `out`.
pub fn write(out: &mut Vec<u8>, value: u64) {
    let (buf, n) = encode(value);
    out.extend_from_slice(&buf[..n]);
}

/// The number of bytes `write` uses for `value`.
pub fn encoded_len(mut value: u64) -> usize {
    let mut n = 1;
    while value >= 0x80 {
        value >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_boundaries() {
        for v in [0u64, 1, 127, 128, 255, 300, 16383, 16384, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            write(&mut buf, v);
            assert_eq!(buf.len(), encoded_len(v));
            assert_eq!(read(&buf, 64), Ok((v, buf.len())), "value {v}");
        }
    }

    #[test]
    fn rejects_non_canonical_and_overflow() {
        assert_eq!(read(&[0x80, 0x00], 64), Err(VarintError::NonCanonical));
        assert_eq!(read(&[0xff, 0x80, 0x00], 64), Err(VarintError::NonCanonical));
        assert_eq!(read(&[0x80, 0x02], 8), Err(VarintError::Overflow)); // 256 in a u8
        assert_eq!(read(&[0xff, 0x01], 8), Ok((255, 2)));
        // 2^64 does not fit a u64.
        let mut too_big = vec![0x80u8; 9];
        too_big.push(0x02);
        assert_eq!(read(&too_big, 64), Err(VarintError::Overflow));
        assert_eq!(read(&[0x80], 64), Err(VarintError::Truncated));
        assert_eq!(read(&[], 64), Err(VarintError::Truncated));
    }
}
