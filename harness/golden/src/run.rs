//! Running a vector through the protocol v1 validator and comparing with what it expects.

use std::path::Path;

use dualrun_leader::validator::{self, ChainContext, Judgement, LeaderVerdict as Verdict};
use dualrun_leader::{Profile, ProfileError};

use dualrun_core::{
    decide, ErrorKind, Facts, Mode, ModeParseError, ReasonMap, Verdict as CoreVerdict, VerifierError, VerifierOutcome,
};

use crate::vector::{BlobError, Case, ExpectedFacts, LeaderCase, ModeCase, OutcomeSpec};

/// One way the validator's answer differs from the vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The field that differs.
    pub field: &'static str,
    /// The value the vector expects.
    pub expected: String,
    /// The value found.
    pub actual: String,
}

/// Why a vector's case cannot be run: its profile, mode, block, context or an outcome it states is
/// unusable.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The vector's profile is not a usable profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A finality vector's profile has no `[leader.finality]`.
    #[error("the vector's profile has no [leader.finality]")]
    NoFinality,
    /// A leader vector's `block.blob` is not lowercase hex.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A fork-choice vector's sibling blob is not hex.
    #[error("blocks[{index}] is not hex: {source}")]
    SiblingNotHex {
        /// The sibling's index in `blocks`.
        index: usize,
        /// Why it does not decode.
        #[source]
        source: hex::FromHexError,
    },
    /// A leader vector's block above height 0 without `context.prev_id`.
    #[error("context.prev_id is required above height 0")]
    MissingPrevId,
    /// A fork-choice vector without `context.prev_id` (its siblings' parent).
    #[error("context.prev_id is required")]
    NoParent,
    /// A mode vector's `mode` names no mode.
    #[error(transparent)]
    Mode(#[from] ModeParseError),
    /// A mode vector whose outcomes are not the verifiers its mode runs (an outcome for a verifier the
    /// mode does not run, or none for one it does).
    #[error(
        "mode {0} runs legacy: {legacy}, candidate: {candidate}; the vector does not match",
        legacy = .0.runs_legacy(),
        candidate = .0.runs_candidate()
    )]
    ModeMismatch(Mode),
    /// An outcome's `error` names no error kind.
    #[error("unknown error kind {0:?}")]
    UnknownErrorKind(String),
    /// An outcome's `verdict` names no verdict.
    #[error("unknown verdict {0:?}")]
    UnknownVerdict(String),
    /// An outcome with both a `verdict` and an `error`, or neither.
    #[error("an outcome has either a \"verdict\" or an \"error\"")]
    NotVerdictXorError,
}

fn show<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("(none)".into(), |v| v.to_string())
}

/// Judges a leader vector's block with the leader validator.
pub fn judge(v: &LeaderCase) -> Result<Judgement, CaseError> {
    let profile = vector_profile(&v.profile)?;
    let blob = v.blob()?;
    let ctx = match v.context.prev_id {
        Some(prev) => ChainContext::resume(v.block.height, prev, v.context.timestamps.iter().copied()),
        None if v.block.height == 0 => ChainContext::new(),
        None => return Err(CaseError::MissingPrevId),
    };
    let prepared = validator::prepare(&profile, v.block.height, &blob);
    Ok(validator::judge(&profile, &ctx, &prepared, v.env.now))
}

/// Runs a vector: `Ok(differences)` (empty when it passes), or `Err` when it cannot run.
pub fn check(case: &Case) -> Result<Vec<Difference>, CaseError> {
    match case {
        Case::Leader(c) => check_leader(c),
        Case::Mode(c) => check_mode(c),
        Case::Finality(c) => check_finality(c),
        Case::ForkChoice(c) => check_fork_choice(c),
    }
}

fn outcome(spec: &OutcomeSpec) -> Result<VerifierOutcome, CaseError> {
    match (&spec.verdict, &spec.error) {
        (None, Some(kind)) => {
            let kind = match kind.as_str() {
                "timeout" => ErrorKind::Timeout,
                "crash" => ErrorKind::Crash,
                "protocol" => ErrorKind::Protocol,
                "panic" => ErrorKind::Panic,
                other => return Err(CaseError::UnknownErrorKind(other.to_owned())),
            };
            Ok(VerifierOutcome::Error(VerifierError::new(kind, "from the vector")))
        }
        (Some(v), None) => {
            let verdict = match v.as_str() {
                "accept" => CoreVerdict::Accept,
                "reject" => {
                    CoreVerdict::Reject { reason: spec.reason.clone().unwrap_or_default(), detail: String::new() }
                }
                other => return Err(CaseError::UnknownVerdict(other.to_owned())),
            };
            let facts: Facts = spec.facts.clone();
            Ok(VerifierOutcome::Verdict { verdict, facts })
        }
        _ => Err(CaseError::NotVerdictXorError),
    }
}

/// Runs a mode vector through the mode table.
pub fn check_mode(c: &ModeCase) -> Result<Vec<Difference>, CaseError> {
    let mode = c.mode.parse::<Mode>()?;
    let legacy = c.legacy.as_ref().map(outcome).transpose()?;
    let candidate = c.candidate.as_ref().map(outcome).transpose()?;
    if mode.runs_legacy() != legacy.is_some() || mode.runs_candidate() != candidate.is_some() {
        return Err(CaseError::ModeMismatch(mode));
    }
    let reasons = ReasonMap::from_pairs(c.reason_map.clone());
    let d = decide(mode, legacy.as_ref(), candidate.as_ref(), &reasons);
    let mut diffs = Vec::new();
    let mut cmp = |field, expected: String, actual: String| {
        if expected != actual {
            diffs.push(Difference { field, expected, actual });
        }
    };
    cmp("authoritative", c.expected.authoritative.clone(), d.authoritative.name().into());
    let source = serde_json::to_value(d.source).expect("serializes").as_str().unwrap_or("").to_owned();
    cmp("source", c.expected.source.clone(), source);
    let records: Vec<&str> = d.records.iter().map(|r| r.as_str()).collect();
    cmp("records", c.expected.records.join(","), records.join(","));
    Ok(diffs)
}

/// Runs a leader vector.
pub fn check_leader(v: &LeaderCase) -> Result<Vec<Difference>, CaseError> {
    let j = judge(v)?;
    let (verdict, reason) = match &j.verdict {
        Verdict::Accept => ("accept", None),
        Verdict::Reject { reason, .. } => ("reject", Some(reason.as_str().to_owned())),
    };
    let mut diffs = Vec::new();
    let mut cmp = |field, expected: String, actual: String| {
        if expected != actual {
            diffs.push(Difference { field, expected, actual });
        }
    };
    cmp("verdict", v.expected.verdict.clone(), verdict.into());
    cmp("reason", show(&v.expected.reason), show(&reason));
    let actual = ExpectedFacts {
        block_id: j.facts.block_id,
        signing_hash: j.facts.signing_hash,
        leader_id: j.facts.leader_id.clone(),
    };
    let e = &v.expected.facts;
    let listed = v.expected.facts_compare == crate::vector::FactsCompare::Listed;
    if !listed || e.block_id.is_some() {
        cmp("facts.block_id", show(&e.block_id), show(&actual.block_id));
    }
    if !listed || e.signing_hash.is_some() {
        cmp("facts.signing_hash", show(&e.signing_hash), show(&actual.signing_hash));
    }
    if !listed || e.leader_id.is_some() {
        cmp("facts.leader_id", show(&e.leader_id), show(&actual.leader_id));
    }
    Ok(diffs)
}

fn vector_profile(text: &str) -> Result<Profile, ProfileError> {
    Profile::parse(text.as_bytes(), Path::new("(vector profile)"))
}

fn differences<T: PartialEq + std::fmt::Debug>(field: &'static str, expected: &[T], actual: &[T]) -> Vec<Difference> {
    if expected == actual {
        return Vec::new();
    }
    vec![Difference { field, expected: format!("{expected:?}"), actual: format!("{actual:?}") }]
}

/// Runs a finality vector: the tally's rows against the expected ones, in order.
pub fn check_finality(c: &crate::vector::FinalityCase) -> Result<Vec<Difference>, CaseError> {
    use dualrun_leader::finality::{tally, FiledVote, VoteSource};
    let profile = vector_profile(&c.profile)?;
    let rule = profile.finality.ok_or(CaseError::NoFinality)?;
    let main: Vec<(u64, dualrun_format::Hash32)> = c.main.iter().map(|m| (m.height, m.block_id)).collect();
    let file: std::sync::Arc<std::path::Path> = std::sync::Arc::from(std::path::Path::new("(vector votes)"));
    let votes: Vec<FiledVote> = c
        .votes
        .iter()
        .enumerate()
        .map(|(i, v)| FiledVote { vote: v.clone(), source: VoteSource { file: file.clone(), line: i + 1 } })
        .collect();
    let rows: Vec<crate::vector::FinalityRow> = tally(&profile, rule, &main, &votes, 1)
        .rows
        .into_iter()
        .map(|r| crate::vector::FinalityRow {
            height: r.height,
            block_id: r.block_id,
            votes: r.votes,
            required: r.required,
            verdict: serde_json::to_value(r.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            reason: r.reason.into(),
        })
        .collect();
    Ok(differences("rows", &c.expected, &rows))
}

/// Runs a fork-choice vector: each sibling judged in the context, its rank, and the canonical one.
pub fn check_fork_choice(c: &crate::vector::ForkChoiceCase) -> Result<Vec<Difference>, CaseError> {
    use dualrun_leader::fork_choice;
    let profile = vector_profile(&c.profile)?;
    let prev = c.context.prev_id.ok_or(CaseError::NoParent)?;
    let ctx = ChainContext::resume(c.height, prev, c.context.timestamps.iter().copied());
    let mut proposals = Vec::new();
    for (i, hex_blob) in c.blocks.iter().enumerate() {
        let blob = hex::decode(hex_blob).map_err(|source| CaseError::SiblingNotHex { index: i, source })?;
        let prepared = validator::prepare(&profile, c.height, &blob);
        let judgement = validator::judge(&profile, &ctx, &prepared, prepared.timestamp().unwrap_or(0));
        let proposal = fork_choice::proposal(&profile, &prepared, &judgement)
            .unwrap_or(fork_choice::Proposal { block_id: dualrun_format::Hash32::ZERO, rank: None });
        proposals.push(proposal);
    }
    let ranks: Vec<Option<usize>> = proposals.iter().map(|p| p.rank).collect();
    let mut out = differences("ranks", &c.expected.ranks, &ranks);
    out.extend(differences("canonical", &[c.expected.canonical], &[fork_choice::canonical(&proposals)]));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crafted::{finality_v1_vectors, fork_choice_v1_vectors, leader_v1_vectors, mode_v1_vectors};

    fn spec(verdict: Option<&str>, error: Option<&str>) -> OutcomeSpec {
        OutcomeSpec {
            verdict: verdict.map(Into::into),
            reason: None,
            facts: Default::default(),
            error: error.map(Into::into),
        }
    }

    fn first(vectors: Vec<crate::Vector>) -> Case {
        vectors.into_iter().next().expect("a crafted vector").case
    }

    #[test]
    fn case_messages() {
        let message = |case: &Case| check(case).unwrap_err().to_string();

        let Case::Mode(mode) = first(mode_v1_vectors()) else { panic!("a mode vector") };
        let with = |f: &dyn Fn(&mut ModeCase)| {
            let mut c = mode.clone();
            f(&mut c);
            Case::Mode(c)
        };
        assert_eq!(
            message(&with(&|c| c.mode = "sideways".into())),
            "unknown mode \"sideways\": expected legacy, shadow, primary or only"
        );
        assert_eq!(
            message(&with(&|c| {
                c.mode = "legacy".into();
                c.legacy = Some(spec(Some("accept"), None));
                c.candidate = Some(spec(Some("accept"), None));
            })),
            "mode legacy runs legacy: true, candidate: false; the vector does not match"
        );
        let outcome_of = |o: OutcomeSpec| with(&move |c| c.legacy = Some(o.clone()));
        assert_eq!(message(&outcome_of(spec(None, Some("slow")))), "unknown error kind \"slow\"");
        assert_eq!(message(&outcome_of(spec(Some("maybe"), None))), "unknown verdict \"maybe\"");
        assert_eq!(message(&outcome_of(spec(None, None))), "an outcome has either a \"verdict\" or an \"error\"");

        let Case::Leader(leader) = first(leader_v1_vectors()) else { panic!("a leader vector") };
        let mut c = leader.clone();
        c.block.blob = c.block.blob.to_uppercase();
        assert_eq!(message(&Case::Leader(c)), "block.blob must be lowercase hex");
        let mut c = leader.clone();
        c.block.blob.push('0');
        assert_eq!(message(&Case::Leader(c)), "block.blob is not hex: Odd number of digits");
        let mut c = leader.clone();
        c.context.prev_id = None;
        assert!(c.block.height > 0);
        assert_eq!(message(&Case::Leader(c)), "context.prev_id is required above height 0");
        let mut c = leader.clone();
        c.profile = "not a profile".into();
        assert!(message(&Case::Leader(c)).starts_with("(vector profile): not valid profile TOML: "));

        let Case::Finality(finality) = first(finality_v1_vectors()) else { panic!("a finality vector") };
        let mut c = finality.clone();
        c.profile = leader.profile.clone();
        assert_eq!(message(&Case::Finality(c)), "the vector's profile has no [leader.finality]");

        let Case::ForkChoice(fork) = first(fork_choice_v1_vectors()) else { panic!("a fork-choice vector") };
        let mut c = fork.clone();
        c.context.prev_id = None;
        assert_eq!(message(&Case::ForkChoice(c)), "context.prev_id is required");
        let mut c = fork.clone();
        c.blocks[1] = "zz".into();
        assert_eq!(message(&Case::ForkChoice(c)), "blocks[1] is not hex: Invalid character 'z' at position 0");
    }
}
