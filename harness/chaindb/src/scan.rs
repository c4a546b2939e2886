//! Checking a stored block: parse its blob, compute its ids, compare with what the node stored; and the
//! row `chain scan` makes of it ([`ScanRow`], as CSV or a JSON line: [`render`] in a [`RowFormat`]).

use dualrun_format::{Block, Hash32, HashError, ParseError};
use serde::Serialize;

use crate::reader::RawBlock;
use crate::rows::RowFormat;

/// The facts `chain scan` reports for one block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannedBlock {
    /// The block's height.
    pub height: u64,
    /// Computed from the blob, as the daemon computes it.
    pub block_id: Hash32,
    /// As stored in `block_info`.
    pub stored_id: Hash32,
    /// The previous block's id, from the header.
    pub prev_id: Hash32,
    /// The header's timestamp.
    pub timestamp: u64,
    /// The header's major version.
    pub major_version: u8,
    /// The header's minor version.
    pub minor_version: u8,
    /// The header's nonce.
    pub nonce: u32,
    /// The number of non-coinbase transactions.
    pub tx_count: usize,
    /// The miner transaction's hash.
    pub miner_tx_hash: Hash32,
    /// The blob's size in bytes.
    pub blob_bytes: usize,
}

impl ScannedBlock {
    /// The stored id differs from the computed one.
    pub fn id_mismatch(&self) -> bool {
        self.block_id != self.stored_id
    }
}

/// A stored block that cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block blob does not parse.
    #[error("height {height}: block blob does not parse: {error}")]
    Parse {
        /// The block's height.
        height: u64,
        /// Why the blob does not parse.
        error: ParseError,
    },
    /// The block's id cannot be computed.
    #[error("height {height}: {error}")]
    Hash {
        /// The block's height.
        height: u64,
        /// Why the id cannot be computed.
        error: HashError,
    },
}

impl BlockError {
    /// The block's height.
    pub fn height(&self) -> u64 {
        match self {
            BlockError::Parse { height, .. } | BlockError::Hash { height, .. } => *height,
        }
    }
}

/// Parses and hashes one stored block.
pub fn scan_block(raw: &RawBlock) -> Result<ScannedBlock, BlockError> {
    let height = raw.height;
    let block = Block::parse(raw.blob).map_err(|error| BlockError::Parse { height, error })?;
    let hashes = block.hashes().map_err(|error| BlockError::Hash { height, error })?;
    Ok(ScannedBlock {
        height,
        block_id: hashes.block_id,
        stored_id: raw.info.hash,
        prev_id: block.header.prev_id,
        timestamp: block.header.timestamp,
        major_version: block.header.major_version,
        minor_version: block.header.minor_version,
        nonce: block.header.nonce,
        tx_count: block.tx_count(),
        miner_tx_hash: hashes.miner_tx_hash,
        blob_bytes: raw.blob.len(),
    })
}

/// A `chain scan` row: a checked block without its stored id. It serializes (as a JSON line) with the
/// columns of the CSV header ([`ScanRow::CSV_HEADER`]), in that order.
#[derive(Debug, Clone, Copy)]
pub struct ScanRow<'a>(pub &'a ScannedBlock);

impl ScanRow<'_> {
    /// The CSV header of `chain scan`.
    pub const CSV_HEADER: &'static str =
        "height,block_id,prev_id,timestamp,major_version,minor_version,nonce,tx_count,miner_tx_hash,blob_bytes\n";

    /// Appends the row as a CSV line: numbers and hex ids only, so no field is ever quoted. Written
    /// byte by byte rather than through `fmt` (a scan writes a million of them).
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        let b = self.0;
        let number = |out: &mut Vec<u8>, mut n: u64| {
            let mut digits = [0u8; 20];
            let mut i = digits.len();
            loop {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(&digits[i..]);
        };
        let hash = |out: &mut Vec<u8>, h: &Hash32| out.extend_from_slice(&h.to_hex_buf());
        number(out, b.height);
        out.push(b',');
        hash(out, &b.block_id);
        out.push(b',');
        hash(out, &b.prev_id);
        for n in [b.timestamp, b.major_version.into(), b.minor_version.into(), b.nonce.into(), b.tx_count as u64] {
            out.push(b',');
            number(out, n);
        }
        out.push(b',');
        hash(out, &b.miner_tx_hash);
        out.push(b',');
        number(out, b.blob_bytes as u64);
        out.push(b'\n');
    }

    /// Appends the row as a JSON line.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).expect("a row serializes into memory");
        out.push(b'\n');
    }
}

impl Serialize for ScanRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let b = self.0;
        let mut row = s.serialize_struct("ScanRow", 10)?;
        row.serialize_field("height", &b.height)?;
        row.serialize_field("block_id", &b.block_id)?;
        row.serialize_field("prev_id", &b.prev_id)?;
        row.serialize_field("timestamp", &b.timestamp)?;
        row.serialize_field("major_version", &b.major_version)?;
        row.serialize_field("minor_version", &b.minor_version)?;
        row.serialize_field("nonce", &b.nonce)?;
        row.serialize_field("tx_count", &b.tx_count)?;
        row.serialize_field("miner_tx_hash", &b.miner_tx_hash)?;
        row.serialize_field("blob_bytes", &b.blob_bytes)?;
        row.end()
    }
}

/// What comes before the first row of `chain scan` in `format`: the CSV header, or nothing.
pub fn header(format: RowFormat) -> &'static str {
    match format {
        RowFormat::Csv => ScanRow::CSV_HEADER,
        RowFormat::Json => "",
    }
}

/// Appends a block's `chain scan` row in `format`.
pub fn render(format: RowFormat, b: &ScannedBlock, out: &mut Vec<u8>) {
    match format {
        RowFormat::Csv => ScanRow(b).write_csv(out),
        RowFormat::Json => ScanRow(b).write_json(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ScannedBlock {
        ScannedBlock {
            height: 7,
            block_id: Hash32([1; 32]),
            stored_id: Hash32([9; 32]),
            prev_id: Hash32([2; 32]),
            timestamp: 1_700_000_000,
            major_version: 16,
            minor_version: 16,
            nonce: 42,
            tx_count: 3,
            miner_tx_hash: Hash32([3; 32]),
            blob_bytes: 129,
        }
    }

    /// The CSV line has the header's columns, in its order; the stored id is no column.
    #[test]
    fn a_csv_row_matches_the_header() {
        let mut line = Vec::new();
        render(RowFormat::Csv, &block(), &mut line);
        let line = String::from_utf8(line).unwrap();
        let header = header(RowFormat::Csv);
        assert_eq!(line.split(',').count(), header.split(',').count());
        assert!(line.ends_with('\n') && header.ends_with('\n'));
        let (one, two, three) = ("01".repeat(32), "02".repeat(32), "03".repeat(32));
        assert_eq!(line, format!("7,{one},{two},1700000000,16,16,42,3,{three},129\n"));
    }

    /// A JSON line has the header's columns as keys, in its order, and no header before it.
    #[test]
    fn a_json_row_has_the_headers_keys() {
        let mut line = Vec::new();
        render(RowFormat::Json, &block(), &mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        let row: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&line).unwrap();
        let keys: Vec<&str> = row.keys().map(String::as_str).collect();
        assert_eq!(keys.join(",") + "\n", ScanRow::CSV_HEADER);
        assert_eq!(row["block_id"], "01".repeat(32));
        assert_eq!(header(RowFormat::Json), "");
    }
}
