//! A block blob as a person hands one over (`dualrun block id`): a file or standard input, binary or
//! hex text, read bounded ([`read`]) and decoded ([`decode`]).

use std::io::Read;
use std::path::Path;

/// The most a block blob may be. A blob holds the header, the miner transaction and 32 bytes per other
/// transaction (not the transactions themselves), so real ones are kilobytes; this bounds what is read
/// (`/dev/zero` must not be read forever) with room to spare.
pub const MAX_BLOB_BYTES: u64 = 16 << 20;
/// The most input read: the largest blob as hex, and some whitespace.
pub const MAX_INPUT_BYTES: u64 = 2 * MAX_BLOB_BYTES + 4096;

/// Input that is not a block blob; each names the input (a file, or `stdin`).
#[derive(Debug, thiserror::Error)]
pub enum BlobInputError {
    /// The input could not be read.
    #[error("reading {name}")]
    Read {
        /// The input.
        name: String,
        /// What the operating system said.
        #[source]
        io: std::io::Error,
    },
    /// More input than the largest blob as hex.
    #[error(
        "{name}: more than {MAX_INPUT_BYTES} bytes; a block blob is at most {MAX_BLOB_BYTES} bytes (twice that as hex)"
    )]
    TooMuchInput {
        /// The input.
        name: String,
    },
    /// A binary blob larger than a blob may be.
    #[error("{name}: {bytes} bytes; a block blob is at most {MAX_BLOB_BYTES} bytes")]
    TooLarge {
        /// The input.
        name: String,
        /// Its length.
        bytes: usize,
    },
    /// Hex text with a character that is not a hex digit.
    #[error("{name}: invalid hex at byte {offset} ({found:?}): hex input must be hex digits only")]
    NotHex {
        /// The input.
        name: String,
        /// The byte offset of the character in the input.
        offset: usize,
        /// The character.
        found: char,
    },
    /// Hex text with an odd number of digits.
    #[error("{name}: invalid hex at byte {offset}: an odd number of hex digits ({digits})")]
    OddHex {
        /// The input.
        name: String,
        /// The byte offset where the last byte is cut short.
        offset: usize,
        /// How many digits there are.
        digits: usize,
    },
}

/// A blob read: what it came from (for messages) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInput {
    /// The file as given, or `stdin`.
    pub name: String,
    /// The blob, decoded.
    pub blob: Vec<u8>,
}

/// The blob in `file`, or on standard input when `file` is `None` or `-`: read bounded and decoded.
pub fn read(file: Option<&Path>) -> Result<BlobInput, BlobInputError> {
    let (name, bytes) = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => {
            let name = path.display().to_string();
            let opened = std::fs::File::open(path).map_err(|io| BlobInputError::Read { name: name.clone(), io });
            let bytes = read_bounded(&name, opened?)?;
            (name, bytes)
        }
        None => ("stdin".to_owned(), read_bounded("stdin", std::io::stdin().lock())?),
    };
    let blob = decode(&name, bytes)?;
    Ok(BlobInput { name, blob })
}

/// At most [`MAX_INPUT_BYTES`] of `r`; more is an error naming the input `name`.
pub fn read_bounded(name: &str, r: impl Read) -> Result<Vec<u8>, BlobInputError> {
    let mut bytes = Vec::new();
    r.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|io| BlobInputError::Read { name: name.to_owned(), io })?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(BlobInputError::TooMuchInput { name: name.to_owned() });
    }
    Ok(bytes)
}

/// The blob `bytes` hold. Input that starts with a hex digit is hex text (whitespace allowed around it),
/// and must be valid hex; anything else is the binary blob (whose first byte, the major version, is never
/// an ASCII hex digit).
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>, BlobInputError> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let text = bytes[start..].trim_ascii_end();
    if !text.first().is_some_and(u8::is_ascii_hexdigit) {
        if bytes.len() as u64 > MAX_BLOB_BYTES {
            return Err(BlobInputError::TooLarge { name: name.to_owned(), bytes: bytes.len() });
        }
        return Ok(bytes);
    }
    if let Some(i) = text.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(BlobInputError::NotHex { name: name.to_owned(), offset: start + i, found: char::from(text[i]) });
    }
    if !text.len().is_multiple_of(2) {
        return Err(BlobInputError::OddHex { name: name.to_owned(), offset: start + text.len(), digits: text.len() });
    }
    Ok(hex::decode(text).expect("checked hex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_text_is_decoded_and_binary_kept() {
        assert_eq!(decode("x", b"  0a0B\n".to_vec()).unwrap(), vec![0x0a, 0x0b]);
        // A binary blob starts with its major version, never an ASCII hex digit.
        let binary = vec![0x10, 0x10, b'a', b' '];
        assert_eq!(decode("x", binary.clone()).unwrap(), binary);
        assert_eq!(decode("x", Vec::new()).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn bad_hex_is_named_by_its_byte_offset() {
        let e = decode("blob.hex", b" 0a0g".to_vec()).unwrap_err();
        assert!(matches!(e, BlobInputError::NotHex { offset: 4, found: 'g', .. }), "{e}");
        assert_eq!(e.to_string(), "blob.hex: invalid hex at byte 4 ('g'): hex input must be hex digits only");
        let e = decode("stdin", b"0a0\n".to_vec()).unwrap_err();
        assert_eq!(e.to_string(), "stdin: invalid hex at byte 3: an odd number of hex digits (3)");
    }

    #[test]
    fn input_is_bounded() {
        let e = read_bounded("/dev/zero", std::io::repeat(0)).unwrap_err();
        assert!(matches!(e, BlobInputError::TooMuchInput { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "/dev/zero: more than {MAX_INPUT_BYTES} bytes; a block blob is at most {MAX_BLOB_BYTES} bytes (twice \
                 that as hex)"
            )
        );
        let just = read_bounded("x", std::io::repeat(0).take(MAX_INPUT_BYTES)).unwrap();
        assert_eq!(just.len() as u64, MAX_INPUT_BYTES);
        let e = decode("x", just).unwrap_err();
        assert!(matches!(e, BlobInputError::TooLarge { bytes, .. } if bytes as u64 == MAX_INPUT_BYTES), "{e}");
    }

    #[test]
    fn a_file_is_read_and_a_missing_one_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("blob.hex");
        std::fs::write(&file, "0a0b\n").unwrap();
        let input = read(Some(&file)).unwrap();
        assert_eq!(input, BlobInput { name: file.display().to_string(), blob: vec![0x0a, 0x0b] });
        let missing = tmp.path().join("missing");
        let e = read(Some(&missing)).unwrap_err();
        assert!(matches!(e, BlobInputError::Read { .. }), "{e}");
        assert_eq!(e.to_string(), format!("reading {}", missing.display()));
    }
}
