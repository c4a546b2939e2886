//! Writing leader records into blocks for test chains: honest ones, and faulty ones on purpose (the
//! `--fault HEIGHT:KIND` of `leader produce` and of synthetic chains), and the verdict each block is
//! expected to get, written as the CSV `chain synth --expected` and `leader produce --expected` write
//! ([`ExpectedVerdictWriter`]: the columns of `leader check`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use dualrun_format::{Hash32, HashError};
use ed25519_dalek::SigningKey;

use crate::record::{self, PayloadError, MAGIC, SIGNATURE_LEN};

/// Faults (`--fault`) that cannot be one per height.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultMapError {
    /// Two faults given for one height.
    #[error("--fault: two faults for height {0}")]
    TwoForHeight(u64),
}

/// Faults by height; two for one height are refused.
pub fn fault_map(
    faults: impl IntoIterator<Item = (u64, FaultKind)>,
) -> Result<std::collections::BTreeMap<u64, FaultKind>, FaultMapError> {
    let mut map = std::collections::BTreeMap::new();
    for (height, kind) in faults {
        if map.insert(height, kind).is_some() {
            return Err(FaultMapError::TwoForHeight(height));
        }
    }
    Ok(map)
}

/// The id a `unknown` fault signs as.
pub const UNKNOWN_ID: &str = "not-a-validator";

/// A fault built on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// No record at all (the reserved bytes stay zero).
    Missing,
    /// A signed record naming an id that is not in the profile.
    Unknown,
    /// A correct signature by a validator that may not sign this height.
    NotScheduled,
    /// The scheduled validator's signature with one bit flipped.
    BadSignature,
    /// A record whose id is one byte over the limit.
    Malformed,
}

impl FaultKind {
    /// Every fault kind.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Missing,
        FaultKind::Unknown,
        FaultKind::NotScheduled,
        FaultKind::BadSignature,
        FaultKind::Malformed,
    ];

    /// The reason code the validator gives such a block.
    pub fn expected_reason(self) -> &'static str {
        match self {
            FaultKind::Missing => "leader.missing",
            FaultKind::Unknown => "leader.unknown",
            FaultKind::NotScheduled => "leader.not_scheduled",
            FaultKind::BadSignature => "leader.bad_signature",
            FaultKind::Malformed => "leader.malformed",
        }
    }

    /// Whether the record is signed by some key (which one is the caller's choice).
    pub fn needs_signer(self) -> bool {
        !matches!(self, FaultKind::Missing | FaultKind::Malformed)
    }
}

/// A `--fault` (`HEIGHT:KIND`) or a fault kind that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    /// No `:` between a height and a kind.
    #[error("expected HEIGHT:KIND, got {0:?}")]
    NotHeightKind(String),
    /// The height is not a whole number.
    #[error("bad height {height:?} in {input:?}")]
    BadHeight {
        /// The height given.
        height: String,
        /// The whole `HEIGHT:KIND` given.
        input: String,
        /// Why the height does not parse.
        #[source]
        source: std::num::ParseIntError,
    },
    /// The kind names no fault.
    #[error("unknown fault kind {0:?} (missing, unknown, not-scheduled, bad-signature, malformed)")]
    UnknownKind(String),
}

impl FromStr for FaultKind {
    type Err = FaultParseError;
    fn from_str(s: &str) -> Result<Self, FaultParseError> {
        match s {
            "missing" => Ok(FaultKind::Missing),
            "unknown" => Ok(FaultKind::Unknown),
            "not-scheduled" => Ok(FaultKind::NotScheduled),
            "bad-signature" => Ok(FaultKind::BadSignature),
            "malformed" => Ok(FaultKind::Malformed),
            _ => Err(FaultParseError::UnknownKind(s.to_owned())),
        }
    }
}

/// `HEIGHT:KIND`.
pub fn parse_fault(s: &str) -> Result<(u64, FaultKind), FaultParseError> {
    let (height, kind) = height_and_kind(s)?;
    Ok((height, kind.parse()?))
}

/// The height of a `HEIGHT:KIND` (of `--fault`, `--compete`), and the kind as text.
pub fn height_and_kind(s: &str) -> Result<(u64, &str), FaultParseError> {
    let (h, k) = s.split_once(':').ok_or_else(|| FaultParseError::NotHeightKind(s.to_owned()))?;
    let height =
        h.parse().map_err(|source| FaultParseError::BadHeight { height: h.to_owned(), input: s.to_owned(), source })?;
    Ok((height, k))
}

/// The verdict protocol v1 should give a test-chain block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedVerdict {
    /// The block's height.
    pub height: u64,
    /// The block's id.
    pub block_id: Hash32,
    /// `None` = accept.
    pub reason: Option<&'static str>,
    /// The leader id the block's record carries, if it carries a valid one.
    pub leader_id: Option<String>,
}

impl ExpectedVerdict {
    /// The expected verdict of a block built with `fault` (`None`: an honest block).
    pub fn of(height: u64, block_id: Hash32, fault: Option<FaultKind>, leader_id: Option<String>) -> ExpectedVerdict {
        ExpectedVerdict { height, block_id, reason: fault.map(FaultKind::expected_reason), leader_id }
    }
}

/// A row of the expected-verdict CSV; the field order is the header, `leader check`'s columns.
#[derive(serde::Serialize)]
struct ExpectedRow<'a> {
    height: u64,
    block_id: Hash32,
    verdict: &'static str,
    reason: &'static str,
    leader_id: &'a str,
}

/// A file for a test chain's outputs (expected verdicts, votes) that cannot be created.
#[derive(Debug, thiserror::Error)]
#[error("creating {file}")]
pub struct CreateError {
    /// The file.
    pub file: PathBuf,
    /// Why it cannot be created.
    #[source]
    pub source: std::io::Error,
}

/// Writes expected verdicts as CSV `height,block_id,verdict,reason,leader_id` (`accept` with empty
/// reason, or `reject` with the fault's reason code; an empty leader id when the record carries none),
/// the header before the first row.
pub struct ExpectedVerdictWriter<W: Write> {
    out: csv::Writer<W>,
}

impl ExpectedVerdictWriter<std::fs::File> {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Self, CreateError> {
        let file = std::fs::File::create(path).map_err(|source| CreateError { file: path.to_path_buf(), source })?;
        Ok(ExpectedVerdictWriter::new(file))
    }
}

impl<W: Write> ExpectedVerdictWriter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        ExpectedVerdictWriter { out: csv::Writer::from_writer(out) }
    }

    /// Writes one block's row (after the header, for the first).
    pub fn write(&mut self, e: &ExpectedVerdict) -> Result<(), csv::Error> {
        self.out.serialize(ExpectedRow {
            height: e.height,
            block_id: e.block_id,
            verdict: if e.reason.is_some() { "reject" } else { "accept" },
            reason: e.reason.unwrap_or(""),
            leader_id: e.leader_id.as_deref().unwrap_or(""),
        })
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the output.
    pub fn into_inner(self) -> Result<W, csv::Error> {
        self.out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// Why [`fill_record`] cannot write the record asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// A `malformed` fault's record (an id one byte over the limit) does not fit in the reserved bytes.
    #[error("a malformed record needs {need} reserved bytes")]
    MalformedTooLong {
        /// The bytes it needs.
        need: usize,
    },
    /// A record with an id (honest, `not-scheduled`, `bad-signature`) was asked for without a signer.
    #[error("this record needs a signer")]
    NoSigner,
    /// A signed record (`unknown`) was asked for without a key to sign it with.
    #[error("this record needs a signing key")]
    NoKey,
    /// The signer's id gives no record payload in the reserved bytes.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The block with the record has no signing hash.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Fills the `reserve` bytes at `at` in `blob` (an extra nonce's payload) with a leader record: signed by
/// `signer` (its id and key) when `fault` is `None`, or the given fault. The signer is the scheduled
/// validator for honest and bad-signature blocks, an unscheduled one for not-scheduled, any key for
/// unknown, and unused otherwise. Returns the leader id the record carries, if it carries a valid one.
pub fn fill_record(
    blob: &mut [u8],
    at: usize,
    reserve: usize,
    network_id: &[u8; 16],
    fault: Option<FaultKind>,
    signer: Option<(&str, &SigningKey)>,
) -> Result<Option<String>, FillError> {
    let area = &mut blob[at..at + reserve];
    area.fill(0);
    let id = match fault {
        Some(FaultKind::Missing) => return Ok(None),
        Some(FaultKind::Malformed) => {
            let long = crate::profile::MAX_ID_LEN + 1;
            if 2 + long + SIGNATURE_LEN > reserve {
                return Err(FillError::MalformedTooLong { need: 2 + long + SIGNATURE_LEN });
            }
            area[0] = MAGIC;
            area[1] = long as u8;
            area[2..2 + long].fill(b'x');
            return Ok(None);
        }
        Some(FaultKind::Unknown) => UNKNOWN_ID,
        _ => signer.ok_or(FillError::NoSigner)?.0,
    };
    let key = signer.ok_or(FillError::NoKey)?.1;
    area.copy_from_slice(&record::unsigned_payload(id, reserve)?);
    let sig_at = at + 2 + id.len();
    record::sign_in_place(blob, sig_at, network_id, key)?;
    if fault == Some(FaultKind::BadSignature) {
        blob[sig_at + SIGNATURE_LEN / 2] ^= 0x01;
    }
    Ok(Some(id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_messages() {
        let message = |s: &str| parse_fault(s).unwrap_err().to_string();
        assert_eq!(message("5"), "expected HEIGHT:KIND, got \"5\"");
        assert_eq!(message("x:missing"), "bad height \"x\" in \"x:missing\"");
        assert_eq!(
            message("5:late"),
            "unknown fault kind \"late\" (missing, unknown, not-scheduled, bad-signature, malformed)"
        );
        assert_eq!(parse_fault("5:not-scheduled"), Ok((5, FaultKind::NotScheduled)));
    }

    #[test]
    fn heights_and_kinds_split() {
        assert_eq!(height_and_kind("7:same-leader"), Ok((7, "same-leader")));
        assert_eq!(height_and_kind("7:"), Ok((7, "")));
        assert_eq!(height_and_kind("7").unwrap_err().to_string(), "expected HEIGHT:KIND, got \"7\"");
        assert_eq!(height_and_kind("-1:x").unwrap_err().to_string(), "bad height \"-1\" in \"-1:x\"");
    }

    /// The header once, before the first row; an accepted block has an empty reason, a block without a
    /// valid record an empty leader id.
    #[test]
    fn expected_verdicts_are_written_with_leader_checks_columns() {
        let id = |b: u8| Hash32([b; 32]);
        let mut w = ExpectedVerdictWriter::new(Vec::new());
        w.write(&ExpectedVerdict::of(0, id(1), None, None)).unwrap();
        w.write(&ExpectedVerdict::of(61, id(2), None, Some("leader-1".into()))).unwrap();
        w.write(&ExpectedVerdict::of(62, id(3), Some(FaultKind::BadSignature), Some("leader-2".into()))).unwrap();
        w.write(&ExpectedVerdict::of(63, id(4), Some(FaultKind::Missing), None)).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let (a, b, c, d) = ("01".repeat(32), "02".repeat(32), "03".repeat(32), "04".repeat(32));
        assert_eq!(
            text,
            format!(
                "height,block_id,verdict,reason,leader_id\n0,{a},accept,,\n61,{b},accept,,leader-1\n\
                 62,{c},reject,leader.bad_signature,leader-2\n63,{d},reject,leader.missing,\n"
            )
        );
        assert_eq!(String::from_utf8(ExpectedVerdictWriter::new(Vec::new()).into_inner().unwrap()).unwrap(), "");
    }

    #[test]
    fn an_expected_verdict_file_that_cannot_be_created_is_named() {
        let e = ExpectedVerdictWriter::create(Path::new("/nonexistent-dir/x.csv")).err().unwrap();
        assert!(e.to_string() == "creating /nonexistent-dir/x.csv", "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn fault_map_messages() {
        let faults = [(5, FaultKind::Missing), (6, FaultKind::Unknown), (5, FaultKind::Malformed)];
        assert_eq!(fault_map(faults).unwrap_err().to_string(), "--fault: two faults for height 5");
        assert_eq!(fault_map(faults[..2].iter().copied()).unwrap().len(), 2);
    }

    #[test]
    fn fill_messages() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let message = |reserve: usize, fault: Option<FaultKind>, signer: Option<(&str, &SigningKey)>| {
            fill_record(&mut [0; 200], 10, reserve, &[0; 16], fault, signer).unwrap_err().to_string()
        };
        assert_eq!(message(record::RESERVE, None, None), "this record needs a signer");
        assert_eq!(message(record::RESERVE, Some(FaultKind::BadSignature), None), "this record needs a signer");
        assert_eq!(message(record::RESERVE, Some(FaultKind::Unknown), None), "this record needs a signing key");
        assert_eq!(message(90, Some(FaultKind::Malformed), None), "a malformed record needs 99 reserved bytes");
        assert_eq!(
            message(record::RESERVE, None, Some(("a b", &key))),
            "\"a b\": id contains byte 0x20; allowed are A-Z a-z 0-9 . _ -"
        );
        assert_eq!(
            message(80, Some(FaultKind::Unknown), Some(("leader-1", &key))),
            "a record for \"not-a-validator\" needs 81 bytes; only 80 are reserved"
        );
        assert_eq!(FillError::from(HashError::ReservedId).to_string(), HashError::ReservedId.to_string());
    }
}
