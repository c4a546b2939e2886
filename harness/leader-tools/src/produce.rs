//! `leader produce` beside the daemon: what its `--fault` (a faulty block, or a fault in the committee's
//! votes) and `--compete` say, and the files it writes as it produces — the committee's finality votes
//! (JSON lines) and each block's expected verdict (CSV, [`ExpectedVerdictWriter`]), each flushed after
//! every block.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::str::FromStr;

use dualrun_leader::finality::VoteFault;
use dualrun_leader::testchain::{self, CreateError, ExpectedVerdictWriter, FaultKind, FaultMapError, FaultParseError};
use dualrun_monerod::{Compete, CompeteParseError, Produced};

/// What a `--fault` builds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceFaultKind {
    /// A faulty block.
    Block(FaultKind),
    /// A fault in the committee's votes for the block.
    Votes(VoteFault),
}

/// `HEIGHT:KIND` of `--fault`: a faulty block (missing, unknown, not-scheduled, bad-signature, malformed)
/// or a fault in the committee's votes (vote-missing, vote-bad-sig, equivocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceFault {
    /// The height.
    pub height: u64,
    /// What is faulty.
    pub kind: ProduceFaultKind,
}

impl FromStr for ProduceFault {
    type Err = FaultParseError;
    fn from_str(s: &str) -> Result<Self, FaultParseError> {
        let (height, kind) = testchain::height_and_kind(s)?;
        let kind = match kind.parse::<VoteFault>() {
            Ok(v) => ProduceFaultKind::Votes(v),
            Err(_) => ProduceFaultKind::Block(kind.parse()?),
        };
        Ok(ProduceFault { height, kind })
    }
}

/// The faults of a run, by height: the faulty blocks (one per height) and the faults in the votes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Blocks built faulty.
    pub blocks: BTreeMap<u64, FaultKind>,
    /// Faults in the committee's votes (the last given for a height counts).
    pub votes: BTreeMap<u64, VoteFault>,
}

impl Faults {
    /// Sorts `faults` by what they fault; two faulty blocks for one height are refused.
    pub fn of(faults: &[ProduceFault]) -> Result<Faults, FaultMapError> {
        let blocks = testchain::fault_map(faults.iter().filter_map(|f| match f.kind {
            ProduceFaultKind::Block(k) => Some((f.height, k)),
            ProduceFaultKind::Votes(_) => None,
        }))?;
        let votes = faults
            .iter()
            .filter_map(|f| match f.kind {
                ProduceFaultKind::Votes(v) => Some((f.height, v)),
                ProduceFaultKind::Block(_) => None,
            })
            .collect();
        Ok(Faults { blocks, votes })
    }
}

/// `HEIGHT:KIND` of `--compete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompeteAt {
    /// The height.
    pub height: u64,
    /// The competing block.
    pub kind: Compete,
}

/// A `--compete` that is not `HEIGHT:KIND` with a kind of competing block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompeteAtError {
    /// Not `HEIGHT:KIND`.
    #[error(transparent)]
    At(#[from] FaultParseError),
    /// The kind names no competing block.
    #[error(transparent)]
    Kind(#[from] CompeteParseError),
}

impl FromStr for CompeteAt {
    type Err = CompeteAtError;
    fn from_str(s: &str) -> Result<Self, CompeteAtError> {
        let (height, kind) = testchain::height_and_kind(s)?;
        Ok(CompeteAt { height, kind: kind.parse()? })
    }
}

/// What could not be written beside the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ProduceFilesError {
    /// A file could not be created.
    #[error(transparent)]
    Create(#[from] CreateError),
    /// The votes could not be written.
    #[error(transparent)]
    Votes(#[from] std::io::Error),
    /// An expected verdict could not be written.
    #[error(transparent)]
    Record(#[from] csv::Error),
}

/// The files `leader produce` writes as it goes (`--votes-out`, `--expected`), each optional.
pub struct ProduceFiles {
    votes: Option<BufWriter<File>>,
    expected: Option<ExpectedVerdictWriter<File>>,
}

impl ProduceFiles {
    /// Creates (or truncates) the files given.
    pub fn create(votes: Option<&Path>, expected: Option<&Path>) -> Result<ProduceFiles, ProduceFilesError> {
        let votes = match votes {
            Some(p) => {
                Some(BufWriter::new(File::create(p).map_err(|source| CreateError { file: p.to_path_buf(), source })?))
            }
            None => None,
        };
        let expected = expected.map(ExpectedVerdictWriter::create).transpose()?;
        Ok(ProduceFiles { votes, expected })
    }

    /// Writes a produced block's votes and expected verdict, and flushes both files.
    pub fn write(&mut self, p: &Produced) -> Result<(), ProduceFilesError> {
        if let Some(w) = self.votes.as_mut() {
            w.write_all(&crate::json_lines(&p.votes))?;
            w.flush()?;
        }
        if let Some(w) = self.expected.as_mut() {
            w.write(&p.expected())?;
            w.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use dualrun_format::Hash32;
    use dualrun_leader::finality::Vote;

    use super::*;

    fn fault(s: &str) -> Result<ProduceFault, String> {
        s.parse::<ProduceFault>().map_err(|e| e.to_string())
    }

    /// A vote fault's name first, then a block fault's; the messages of `HEIGHT:KIND`.
    #[test]
    fn faults_parse_as_block_or_vote_faults() {
        let at = |height, kind| Ok(ProduceFault { height, kind });
        assert_eq!(fault("70:equivocation"), at(70, ProduceFaultKind::Votes(VoteFault::Equivocation)));
        assert_eq!(fault("71:bad-signature"), at(71, ProduceFaultKind::Block(FaultKind::BadSignature)));
        assert_eq!(fault("70").unwrap_err(), "expected HEIGHT:KIND, got \"70\"");
        assert_eq!(fault("x:missing").unwrap_err(), "bad height \"x\" in \"x:missing\"");
        assert_eq!(
            fault("70:late").unwrap_err(),
            "unknown fault kind \"late\" (missing, unknown, not-scheduled, bad-signature, malformed)"
        );
    }

    /// Faulty blocks one per height; vote faults by height; both may share a height.
    #[test]
    fn faults_are_sorted_by_what_they_fault() {
        let faults: Vec<ProduceFault> =
            ["70:missing", "70:vote-missing", "72:vote-bad-sig"].iter().map(|f| f.parse().unwrap()).collect();
        let sorted = Faults::of(&faults).unwrap();
        assert_eq!(sorted.blocks, BTreeMap::from([(70, FaultKind::Missing)]));
        assert_eq!(sorted.votes, BTreeMap::from([(70, VoteFault::Missing), (72, VoteFault::BadSignature)]));
        let twice = [faults[0], "70:unknown".parse().unwrap()];
        assert_eq!(Faults::of(&twice).unwrap_err().to_string(), "--fault: two faults for height 70");
    }

    #[test]
    fn competes_parse() {
        let parse = |s: &str| s.parse::<CompeteAt>().map_err(|e| e.to_string());
        assert_eq!(parse("80:failover"), Ok(CompeteAt { height: 80, kind: Compete::Failover }));
        assert_eq!(parse("80").unwrap_err(), "expected HEIGHT:KIND, got \"80\"");
        assert_eq!(parse("x:failover").unwrap_err(), "bad height \"x\" in \"x:failover\"");
        assert_eq!(parse("80:sideways").unwrap_err(), "unknown competing block \"sideways\" (same-leader, failover)");
    }

    /// Each block's votes as JSON lines and its expected verdict as a CSV row, on disk after each block.
    #[test]
    fn each_block_is_written_to_both_files() {
        let tmp = tempfile::tempdir().unwrap();
        let (votes, expected) = (tmp.path().join("votes.jsonl"), tmp.path().join("expected.csv"));
        let mut files = ProduceFiles::create(Some(&votes), Some(&expected)).unwrap();
        let vote = |validator: &str| Vote {
            height: 70,
            block_id: Hash32([7; 32]),
            validator: validator.into(),
            signature: "ab".repeat(64),
        };
        let produced = Produced {
            height: 70,
            block_id: Hash32([7; 32]),
            fault: Some(FaultKind::Unknown),
            leader: Some("not-a-validator".into()),
            votes: vec![vote("leader-1"), vote("leader-2")],
            competitor: None,
        };
        files.write(&produced).unwrap();
        let lines = std::fs::read_to_string(&votes).unwrap();
        let read: Vec<Vote> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(read, produced.votes);
        let seven = "07".repeat(32);
        assert_eq!(
            std::fs::read_to_string(&expected).unwrap(),
            format!("height,block_id,verdict,reason,leader_id\n70,{seven},reject,leader.unknown,not-a-validator\n")
        );
        let e = ProduceFiles::create(Some(&tmp.path().join("no/votes.jsonl")), None).err().unwrap().to_string();
        assert!(e.starts_with("creating ") && e.ends_with("no/votes.jsonl"), "{e}");
        let none = ProduceFiles::create(None, None).unwrap();
        assert!(none.votes.is_none() && none.expected.is_none());
    }
}
