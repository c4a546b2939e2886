//! Finality votes (protocol v1, `docs/finality-v1.md`): a validator's vote is its Ed25519 signature of
//! `b"dualrun/vote/v1" ‖ network_id ‖ u64le(height) ‖ block_id`; a block is final when the distinct
//! validators with a valid vote for it, `v`, satisfy `v · den ≥ num · n` (`quorum = "num/den"` in the
//! profile's `[leader.finality]`, `n` the profile's validators).
//!
//! [`tally`] judges every main-chain block of a range against a set of votes and reports, besides each
//! block's verdict, every finding in the votes: a bad signature, an unknown validator, an equivocation
//! (one validator, two block ids, one height: both votes are the evidence) and a conflict (a quorum for
//! a block id that is not the main chain's at that height: a safety violation). Signatures are checked
//! on every core.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use dualrun_format::Hash32;
use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};

pub use crate::finality_rule::{FinalityRule, Fraction};
use crate::profile::Profile;

/// The domain every vote message starts with.
pub const VOTE_DOMAIN: &[u8] = b"dualrun/vote/v1";

/// One vote, as a votes file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// The height voted on.
    pub height: u64,
    /// The block id voted for.
    pub block_id: Hash32,
    /// The voting validator's id.
    pub validator: String,
    /// Its signature of [`vote_message`], 128 lowercase hex digits.
    pub signature: String,
}

/// What a validator signs to vote for `block_id` at `height` on network `network_id`.
pub fn vote_message(network_id: &[u8; 16], height: u64, block_id: &Hash32) -> [u8; 71] {
    let mut m = [0u8; 71];
    m[..15].copy_from_slice(VOTE_DOMAIN);
    m[15..31].copy_from_slice(network_id);
    m[31..39].copy_from_slice(&height.to_le_bytes());
    m[39..].copy_from_slice(&block_id.0);
    m
}

/// A vote for `block_id` at `height`, signed with `key` for validator `validator`.
pub fn sign_vote(key: &SigningKey, validator: &str, network_id: &[u8; 16], height: u64, block_id: Hash32) -> Vote {
    let signature = key.sign(&vote_message(network_id, height, &block_id));
    Vote { height, block_id, validator: validator.into(), signature: hex::encode(signature.to_bytes()) }
}

/// A fault in the votes a test committee casts (`leader produce` / `chain synth --fault H:KIND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VoteFault {
    /// No vote at all for the block (`vote-missing`): it is not final.
    Missing,
    /// The first validator's vote with one bit of its signature flipped (`vote-bad-sig`).
    BadSignature,
    /// The first validator also votes for another block at the height (`equivocation`).
    Equivocation,
}

/// A vote fault name that is not one of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteFaultParseError {
    /// The name given, which names no vote fault.
    #[error("unknown vote fault {0:?} (vote-missing, vote-bad-sig, equivocation)")]
    Unknown(String),
}

impl std::str::FromStr for VoteFault {
    type Err = VoteFaultParseError;
    fn from_str(s: &str) -> Result<Self, VoteFaultParseError> {
        match s {
            "vote-missing" => Ok(VoteFault::Missing),
            "vote-bad-sig" => Ok(VoteFault::BadSignature),
            "equivocation" => Ok(VoteFault::Equivocation),
            _ => Err(VoteFaultParseError::Unknown(s.to_owned())),
        }
    }
}

/// The votes a committee holding `keys` (validator id, key) casts for `block_id` at `height`, each key
/// once, with `fault` built in.
pub fn committee_votes(
    keys: &[(&str, &SigningKey)],
    network_id: &[u8; 16],
    height: u64,
    block_id: Hash32,
    fault: Option<VoteFault>,
) -> Vec<Vote> {
    if fault == Some(VoteFault::Missing) {
        return Vec::new();
    }
    let mut votes: Vec<Vote> = keys.iter().map(|(id, k)| sign_vote(k, id, network_id, height, block_id)).collect();
    match (fault, keys.first()) {
        (Some(VoteFault::BadSignature), Some(_)) => {
            let sig = &mut votes[0].signature;
            let flipped = if sig.ends_with('0') { '1' } else { '0' };
            sig.replace_range(127.., &flipped.to_string());
        }
        (Some(VoteFault::Equivocation), Some((id, k))) => {
            let other = dualrun_format::keccak256(&block_id.0);
            votes.push(sign_vote(k, id, network_id, height, other));
        }
        _ => {}
    }
    votes
}

/// A votes file that cannot be used, naming the file and the line.
#[derive(Debug, thiserror::Error)]
pub enum VotesError {
    /// The file could not be read.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// A line that is not a vote.
    #[error("{file}: line {line}: {problem}")]
    Line {
        /// The votes file.
        file: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// A vote and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiledVote {
    /// The vote.
    pub vote: Vote,
    /// Its file and line, for findings.
    pub source: VoteSource,
}

/// Where a vote is: its file (shared by every vote of the file) and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteSource {
    /// The votes file.
    pub file: std::sync::Arc<Path>,
    /// The line, from 1.
    pub line: usize,
}

impl fmt::Display for VoteSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The longest line of a votes file: a vote is about 300 bytes (a validator id, two hashes in hex). A
/// longer line is an error naming it, never held.
pub const MAX_VOTE_LINE: usize = 16 << 10;
/// The most votes held at once (for the heights judged): about 200 bytes each in memory. Beyond it the
/// command asks for a narrower `--from`/`--to` rather than growing without bound.
pub const MAX_VOTES: usize = 4_000_000;

/// An id or name from a file, for a message: a short escaped excerpt, with its length when cut.
pub fn shown(value: &str) -> String {
    dualrun_format::file::excerpt(value.as_bytes(), 64)
}

/// Reads a votes file (JSON lines; blank lines are allowed) into `votes`, keeping the votes for `heights`
/// (the others are read and checked, not kept). The file must be a regular file (a device such as
/// `/dev/zero`, a FIFO or a directory is refused before reading), each line at most [`MAX_VOTE_LINE`]
/// bytes, and at most [`MAX_VOTES`] kept in all. A line that is not a vote is an error naming the file
/// and the line, never skipped.
pub fn read_votes(
    path: &Path,
    heights: std::ops::RangeInclusive<u64>,
    votes: &mut Vec<FiledVote>,
) -> Result<(), VotesError> {
    use dualrun_format::file::{open_regular, BoundedLines, Line, Links};
    let (f, _) = open_regular(path, Links::Follow)?;
    let file: std::sync::Arc<Path> = std::sync::Arc::from(path);
    for line in BoundedLines::new(std::io::BufReader::new(f), MAX_VOTE_LINE) {
        let (n, line) = line.map_err(dualrun_format::FileError::at(path))?;
        let bad = |problem: String| VotesError::Line { file: path.into(), line: n, problem };
        let text = match line {
            Line::Text(t) => t,
            Line::TooLong { bytes } => {
                return Err(bad(format!("{bytes} bytes: a vote is one line of at most {MAX_VOTE_LINE} bytes")))
            }
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let vote: Vote =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not a vote: {}", shown(&e.to_string()))))?;
        if vote.signature.len() != 128
            || hex::decode(&vote.signature).is_err()
            || vote.signature.to_lowercase() != vote.signature
        {
            return Err(bad("signature must be 128 lowercase hex digits".into()));
        }
        if !heights.contains(&vote.height) {
            continue;
        }
        if votes.len() == MAX_VOTES {
            return Err(bad(format!(
                "more than {MAX_VOTES} votes for heights {}..={}: judge a narrower range with --from and --to",
                heights.start(),
                heights.end()
            )));
        }
        votes.push(FiledVote { vote, source: VoteSource { file: file.clone(), line: n } });
    }
    Ok(())
}

/// A block's verdict, or a finding in the votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowVerdict {
    /// The block has a quorum of valid votes.
    Final,
    /// It has not.
    NotFinal,
    /// A finding in the votes at that height.
    Finding,
}

/// One row of the tally (`leader finality` prints it as `finality` and `finding` columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The height.
    pub height: u64,
    /// The main chain's block id (a finding: the block id the votes name).
    pub block_id: Hash32,
    /// Distinct validators with a valid vote for `block_id`.
    pub votes: u64,
    /// Votes a quorum needs.
    pub required: u64,
    /// final, not_final, or finding.
    pub verdict: RowVerdict,
    /// `finality.missing` for a block that is not final; the finding's code; empty for a final block.
    pub reason: &'static str,
    /// The validator a finding is about, and where its vote is (not a CSV column).
    #[serde(skip)]
    pub detail: String,
}

/// An equivocation: one validator's two valid votes for different blocks at one height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Equivocation {
    /// The height.
    pub height: u64,
    /// The validator.
    pub validator: String,
    /// Its two votes (the first two it signed for different ids, in file order).
    pub votes: [Vote; 2],
}

/// What [`tally`] found.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// One row per block, each followed by the findings at its height.
    pub rows: Vec<Row>,
    /// Every equivocation, with both votes.
    pub equivocations: Vec<Equivocation>,
}

impl Tally {
    /// Every block final and no finding.
    pub fn clean(&self) -> bool {
        self.rows.iter().all(|r| r.verdict == RowVerdict::Final)
    }
}

/// Whether each vote's signature verifies with its validator's key (`None`: an unknown validator), on
/// `threads` threads.
fn check_signatures(profile: &Profile, votes: &[FiledVote], threads: usize) -> Vec<Option<bool>> {
    let check = |v: &FiledVote| -> Option<bool> {
        let index = profile.validator_index(&v.vote.validator)?;
        let bytes: [u8; 64] = hex::decode(&v.vote.signature).ok()?.try_into().ok()?;
        let message = vote_message(&profile.network_id, v.vote.height, &v.vote.block_id);
        Some(profile.validators[index].public_key.verify_strict(&message, &Signature::from_bytes(&bytes)).is_ok())
    };
    let chunk = votes.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> =
            votes.chunks(chunk).map(|part| s.spawn(move || part.iter().map(check).collect::<Vec<_>>())).collect();
        parts.into_iter().flat_map(|p| p.join().expect("signature checks do not panic")).collect()
    })
}

/// Judges each `(height, block id)` of the main chain (in height order) against `votes`: a row per
/// block, then that height's findings. Votes for heights outside the blocks given are not judged.
pub fn tally(
    profile: &Profile,
    rule: FinalityRule,
    main: &[(u64, Hash32)],
    votes: &[FiledVote],
    threads: usize,
) -> Tally {
    let valid = check_signatures(profile, votes, threads);
    let mut by_height: BTreeMap<u64, Vec<(&FiledVote, Option<bool>)>> = BTreeMap::new();
    for (v, ok) in votes.iter().zip(valid) {
        by_height.entry(v.vote.height).or_default().push((v, ok));
    }
    let required = rule.quorum.required(profile.validators.len() as u64);
    let mut out = Tally::default();
    for &(height, main_id) in main {
        let at = by_height.get(&height).map(Vec::as_slice).unwrap_or(&[]);
        // Distinct validators with a valid vote, per block id.
        let mut voters: BTreeMap<Hash32, BTreeSet<&str>> = BTreeMap::new();
        for (v, ok) in at {
            if *ok == Some(true) {
                voters.entry(v.vote.block_id).or_default().insert(&v.vote.validator);
            }
        }
        let votes_for = |id: &Hash32| voters.get(id).map_or(0, |s| s.len() as u64);
        let main_votes = votes_for(&main_id);
        let (verdict, reason) =
            if main_votes >= required { (RowVerdict::Final, "") } else { (RowVerdict::NotFinal, "finality.missing") };
        out.rows.push(Row {
            height,
            block_id: main_id,
            votes: main_votes,
            required,
            verdict,
            reason,
            detail: String::new(),
        });
        let finding = |block_id: Hash32, reason: &'static str, detail: String| Row {
            height,
            block_id,
            votes: votes_for(&block_id),
            required,
            verdict: RowVerdict::Finding,
            reason,
            detail,
        };
        for (v, ok) in at {
            match ok {
                None => out.rows.push(finding(
                    v.vote.block_id,
                    "finality.unknown_validator",
                    format!("{} is not a validator of the profile ({})", shown(&v.vote.validator), v.source),
                )),
                Some(false) => out.rows.push(finding(
                    v.vote.block_id,
                    "finality.bad_signature",
                    format!("{}'s signature does not verify ({})", shown(&v.vote.validator), v.source),
                )),
                Some(true) => {}
            }
        }
        // One validator, two different block ids: the first two such valid votes are the evidence.
        let mut first: BTreeMap<&str, &FiledVote> = BTreeMap::new();
        let mut equivocated = BTreeSet::new();
        for (v, _) in at.iter().filter(|(_, ok)| *ok == Some(true)) {
            let seen = *first.entry(&v.vote.validator).or_insert(v);
            if seen.vote.block_id != v.vote.block_id && equivocated.insert(v.vote.validator.as_str()) {
                out.rows.push(finding(
                    v.vote.block_id,
                    "finality.equivocation",
                    format!(
                        "{} voted for {} ({}) and {} ({})",
                        shown(&v.vote.validator),
                        seen.vote.block_id,
                        seen.source,
                        v.vote.block_id,
                        v.source
                    ),
                ));
                out.equivocations.push(Equivocation {
                    height,
                    validator: v.vote.validator.clone(),
                    votes: [seen.vote.clone(), v.vote.clone()],
                });
            }
        }
        for (id, who) in &voters {
            if *id != main_id && who.len() as u64 >= required {
                out.rows.push(finding(
                    *id,
                    "finality.conflict",
                    format!(
                        "a quorum of {} votes for a block that is not the main chain's at height {height}",
                        who.len()
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vote_message_layout() {
        let network_id = *b"dualrun-sample-1";
        let id = Hash32([0xab; 32]);
        let m = vote_message(&network_id, 0x0102, &id);
        assert_eq!(&m[..15], b"dualrun/vote/v1");
        assert_eq!(&m[15..31], b"dualrun-sample-1");
        assert_eq!(&m[31..39], &[0x02, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&m[39..], &[0xab; 32]);
        assert_eq!(
            hex::encode(m),
            "6475616c72756e2f766f74652f7631\
             6475616c72756e2d73616d706c652d31\
             0201000000000000\
             abababababababababababababababababababababababababababababababab"
        );
    }

    #[test]
    fn an_unknown_vote_fault_is_named() {
        let e = "vote-late".parse::<VoteFault>().unwrap_err();
        assert_eq!(e.to_string(), "unknown vote fault \"vote-late\" (vote-missing, vote-bad-sig, equivocation)");
    }
}
