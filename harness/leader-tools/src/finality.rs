//! `leader finality`: every main-chain block of a range against the validators' finality votes
//! ([`dualrun_leader::finality::tally`]), written as CSV `height,block_id,votes,required,verdict,reason`
//! ([`write_csv`]), and each equivocation, with both votes, as JSON lines ([`write_evidence`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use dualrun_chaindb::compare::{self, CompareError};
use dualrun_chaindb::ChainDb;
use dualrun_leader::finality::{self, FinalityRule, Row, Tally, VotesError};
use dualrun_leader::Profile;
use dualrun_pipeline::{context_at, ContextError};

/// Why a chain's finality could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum FinalityError {
    /// The profile has no `[leader.finality]`.
    #[error("{profile}: no [leader.finality] table: the profile does not say what makes a block final")]
    NoRule {
        /// The profile file.
        profile: PathBuf,
    },
    /// A votes file that cannot be used.
    #[error(transparent)]
    Votes(#[from] VotesError),
    /// Another chain than the profile's.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] CompareError),
    /// The evidence file could not be written.
    #[error("writing {file}")]
    Evidence {
        /// The evidence file.
        file: PathBuf,
        /// Why it could not be written.
        #[source]
        source: std::io::Error,
    },
}

/// The profile's finality rule, or why it has none.
pub fn rule(profile: &Profile) -> Result<FinalityRule, FinalityError> {
    profile.finality.ok_or_else(|| FinalityError::NoRule { profile: profile.source.clone() })
}

/// What to judge.
pub struct FinalityRequest<'a> {
    /// First height (default, and at the least: the rule's activation height).
    pub from: Option<u64>,
    /// Last height (inclusive; default: the tip).
    pub to: Option<u64>,
    /// The votes files.
    pub votes: &'a [PathBuf],
    /// Threads for the signature checks.
    pub threads: usize,
}

/// Reads the votes for the range, checks the chain is the profile's, and tallies every main-chain block
/// of the range under `rule`.
pub fn tally_chain(
    db: &ChainDb,
    profile: &Profile,
    rule: FinalityRule,
    req: &FinalityRequest<'_>,
) -> Result<Tally, FinalityError> {
    let from = req.from.unwrap_or(rule.activation_height).max(rule.activation_height);
    let to = req.to.unwrap_or(u64::MAX);
    let mut votes = Vec::new();
    for path in req.votes {
        finality::read_votes(path, from..=to, &mut votes)?;
    }
    // The genesis check every chain command makes (a profile for another chain is refused).
    context_at(db, profile, 0)?;
    let mut main = Vec::new();
    compare::walk(
        db,
        from,
        to,
        |_| {},
        |b| {
            main.push((b.height, b.block_id));
            Ok::<(), std::convert::Infallible>(())
        },
    )?;
    Ok(finality::tally(profile, rule, &main, &votes, req.threads))
}

/// Writes the tally's rows as CSV to `out`; `on_finding` gets each row that says more than its columns
/// (a finding's validator and where its vote is), after the row is written.
pub fn write_csv(tally: &Tally, out: impl Write, mut on_finding: impl FnMut(&Row)) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    for row in &tally.rows {
        w.serialize(row)?;
        if !row.detail.is_empty() {
            on_finding(row);
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes every equivocation of the tally, with both votes, as JSON lines to `path`.
pub fn write_evidence(path: &Path, tally: &Tally) -> Result<(), FinalityError> {
    std::fs::write(path, crate::json_lines(&tally.equivocations))
        .map_err(|source| FinalityError::Evidence { file: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use dualrun_format::Hash32;
    use dualrun_leader::finality::{Equivocation, RowVerdict, Vote};

    use super::*;

    fn row(height: u64, verdict: RowVerdict, reason: &'static str, detail: &str) -> Row {
        Row {
            height,
            block_id: Hash32([height as u8; 32]),
            votes: 2,
            required: 2,
            verdict,
            reason,
            detail: detail.into(),
        }
    }

    fn vote(block: u8) -> Vote {
        Vote { height: 5, block_id: Hash32([block; 32]), validator: "leader-1".into(), signature: "00".repeat(64) }
    }

    /// A profile without `[leader.finality]` is named.
    #[test]
    fn a_profile_without_a_rule_is_refused() {
        let (_, profile) = crate::sample();
        let path = dualrun_testkit::sample_dir().join("profile.toml");
        assert_eq!(
            rule(&profile).unwrap_err().to_string(),
            format!(
                "{}: no [leader.finality] table: the profile does not say what makes a block final",
                path.display()
            )
        );
    }

    /// The header, a row per block and finding; the detail is no column but goes to `on_finding`.
    #[test]
    fn rows_are_written_and_findings_told() {
        let tally = Tally {
            rows: vec![
                row(5, RowVerdict::Final, "", ""),
                row(5, RowVerdict::Finding, "finality.equivocation", "leader-1 at votes.jsonl:3"),
            ],
            equivocations: vec![],
        };
        let (mut out, mut told) = (Vec::new(), Vec::new());
        write_csv(&tally, &mut out, |r| told.push(r.detail.clone())).unwrap();
        let five = "05".repeat(32);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "height,block_id,votes,required,verdict,reason\n5,{five},2,2,final,\n\
                 5,{five},2,2,finding,finality.equivocation\n"
            )
        );
        assert_eq!(told, ["leader-1 at votes.jsonl:3"]);
    }

    /// One JSON line per equivocation; an unwritable file is named.
    #[test]
    fn evidence_is_one_line_per_equivocation() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("evidence.jsonl");
        let e = Equivocation { height: 5, validator: "leader-1".into(), votes: [vote(1), vote(2)] };
        let tally = Tally { rows: vec![], equivocations: vec![e.clone(), e] };
        write_evidence(&path, &tally).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["votes"][1]["block_id"], "02".repeat(32));
        let bad = tmp.path().join("no/such/dir.jsonl");
        let err = write_evidence(&bad, &tally).unwrap_err();
        assert_eq!(err.to_string(), format!("writing {}", bad.display()));
    }
}
