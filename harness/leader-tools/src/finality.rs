//! `leader finality`: every main-chain block of a range against the validators' finality votes
//! ([`dualrun_leader::finality::tally`]), written as rows `height,block_id,votes,required,finality,reason,finding`
//! ([`write`], [`COLUMNS`]: CSV or JSON lines), and each equivocation, with both votes, as JSON lines
//! ([`write_equivocations`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use dualrun_chaindb::compare::{self, CompareError};
use dualrun_chaindb::rows::{RowFormat, RowWriter};
use dualrun_chaindb::ChainDb;
use dualrun_format::Hash32;
use dualrun_leader::finality::{self, FinalityRule, Row, RowVerdict, Tally, VotesError};
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
    /// The equivocations file could not be written.
    #[error("writing {file}")]
    Equivocations {
        /// The equivocations file.
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
    context_at(db, &profile.network(), 0)?;
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

/// The columns of `leader finality`.
pub const COLUMNS: [&str; 7] = ["height", "block_id", "votes", "required", "finality", "reason", "finding"];

/// A tally's row as `leader finality` prints it: a block's row, or a finding's (`finding` its code, and
/// `block_id` the block its vote names). `finality` and `reason` are those of the row's block: `final`
/// when its `votes` reach `required`, else `not_final` with `finality.missing`.
#[derive(Debug, PartialEq, Eq, serde::Serialize)]
struct Printed {
    height: u64,
    block_id: Hash32,
    votes: u64,
    required: u64,
    finality: &'static str,
    reason: &'static str,
    finding: &'static str,
}

impl Printed {
    fn of(row: &Row) -> Printed {
        let (is_final, finding) = match row.verdict {
            RowVerdict::Final => (true, ""),
            RowVerdict::NotFinal => (false, ""),
            RowVerdict::Finding => (row.votes >= row.required, row.reason),
        };
        let reason = match row.verdict {
            RowVerdict::Finding if is_final => "",
            RowVerdict::Finding => "finality.missing",
            _ => row.reason,
        };
        let finality = if is_final { "final" } else { "not_final" };
        let Row { height, block_id, votes, required, .. } = *row;
        Printed { height, block_id, votes, required, finality, reason, finding }
    }
}

/// Writes the tally's rows to `out` in `format` (in CSV the header first, also when there is no row);
/// `on_finding` gets each row that says more than its columns (a finding's validator and where its vote
/// is), after the row is written.
pub fn write(
    tally: &Tally,
    format: RowFormat,
    out: impl Write,
    mut on_finding: impl FnMut(&Row),
) -> Result<(), csv::Error> {
    let mut w = RowWriter::new(format, &COLUMNS, out)?;
    for row in &tally.rows {
        w.write(&Printed::of(row))?;
        if !row.detail.is_empty() {
            on_finding(row);
        }
    }
    w.flush()
}

/// Writes every equivocation of the tally, with both votes, as JSON lines to `path`.
pub fn write_equivocations(path: &Path, tally: &Tally) -> Result<(), FinalityError> {
    std::fs::write(path, crate::json_lines(&tally.equivocations))
        .map_err(|source| FinalityError::Equivocations { file: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use dualrun_leader::finality::{Equivocation, Vote};

    use super::*;

    fn row(height: u64, votes: u64, verdict: RowVerdict, reason: &'static str, detail: &str) -> Row {
        Row { height, block_id: Hash32([height as u8; 32]), votes, required: 2, verdict, reason, detail: detail.into() }
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

    /// The header, a row per block and finding; the detail is no column but goes to `on_finding`. A
    /// finding's row says the finality of the block its vote names, and the finding in its own column.
    #[test]
    fn rows_are_written_and_findings_told() {
        let tally = Tally {
            rows: vec![
                row(5, 2, RowVerdict::Final, "", ""),
                row(5, 2, RowVerdict::Finding, "finality.conflict", "a quorum of 2 votes"),
                row(5, 1, RowVerdict::Finding, "finality.equivocation", "leader-1 at votes.jsonl:3"),
                row(6, 1, RowVerdict::NotFinal, "finality.missing", ""),
            ],
            equivocations: vec![],
        };
        let (mut out, mut told) = (Vec::new(), Vec::new());
        write(&tally, RowFormat::Csv, &mut out, |r| told.push(r.detail.clone())).unwrap();
        let (five, six) = ("05".repeat(32), "06".repeat(32));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "height,block_id,votes,required,finality,reason,finding\n\
                 5,{five},2,2,final,,\n\
                 5,{five},2,2,final,,finality.conflict\n\
                 5,{five},1,2,not_final,finality.missing,finality.equivocation\n\
                 6,{six},1,2,not_final,finality.missing,\n"
            )
        );
        assert_eq!(told, ["a quorum of 2 votes", "leader-1 at votes.jsonl:3"]);

        let mut empty = Vec::new();
        write(&Tally::default(), RowFormat::Csv, &mut empty, |_| {}).unwrap();
        assert_eq!(String::from_utf8(empty).unwrap(), COLUMNS.join(",") + "\n");
    }

    /// JSON lines: an object per row, keyed by the columns.
    #[test]
    fn json_rows_have_the_columns() {
        let tally =
            Tally { rows: vec![row(5, 1, RowVerdict::NotFinal, "finality.missing", "")], equivocations: vec![] };
        let mut out = Vec::new();
        write(&tally, RowFormat::Json, &mut out, |_| {}).unwrap();
        let row: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(row.keys().map(String::as_str).collect::<Vec<_>>(), COLUMNS);
        assert_eq!((&row["finality"], &row["finding"]), (&"not_final".into(), &"".into()));
    }

    /// One JSON line per equivocation; an unwritable file is named.
    #[test]
    fn equivocations_are_one_line_each() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("equivocations.jsonl");
        let e = Equivocation { height: 5, validator: "leader-1".into(), votes: [vote(1), vote(2)] };
        let tally = Tally { rows: vec![], equivocations: vec![e.clone(), e] };
        write_equivocations(&path, &tally).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["votes"][1]["block_id"], "02".repeat(32));
        let bad = tmp.path().join("no/such/dir.jsonl");
        let err = write_equivocations(&bad, &tally).unwrap_err();
        assert_eq!(err.to_string(), format!("writing {}", bad.display()));
    }
}
