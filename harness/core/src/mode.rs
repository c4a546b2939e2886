//! Modes and what each makes of the two verifiers' answers.
//!
//! | mode | runs | authoritative verdict | candidate error | legacy error |
//! |---|---|---|---|---|
//! | LEGACY | legacy | legacy | — | reject (fail closed), recorded |
//! | SHADOW | both | legacy | recorded, no effect | reject (fail closed), recorded |
//! | PRIMARY | both | candidate | fall back to legacy's verdict, recorded as `fallback` | candidate's verdict, recorded |
//! | ONLY | candidate | candidate | reject (fail closed), recorded | — |
//!
//! When both verifiers give a verdict, a disagreement is one divergence, by severity:
//! `split` (candidate accepts what legacy rejects), `halt` (candidate rejects what legacy accepts),
//! `reason` (both reject, for different reasons after mapping the legacy's reason to a code), `fact`
//! (same verdict and reason, but a fact both report differs). Errors are recorded apart from
//! divergences. When both fail in PRIMARY, both errors are recorded and the block is rejected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::reasons::ReasonMap;
use crate::verifier::{Facts, Verdict, VerifierOutcome};

/// A dual-run mode: which verifiers run and whose verdict stands (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only the legacy verifier runs, and its verdict stands.
    Legacy,
    /// Both run; the legacy's verdict stands and the candidate's is compared with it.
    Shadow,
    /// Both run; the candidate's verdict stands, with the legacy's as fallback on a candidate error.
    Primary,
    /// Only the candidate verifier runs, and its verdict stands.
    Only,
}

impl Mode {
    /// Every mode, in rollout order.
    pub const ALL: [Mode; 4] = [Mode::Legacy, Mode::Shadow, Mode::Primary, Mode::Only];

    /// The mode's lowercase name, as configs and records spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Legacy => "legacy",
            Mode::Shadow => "shadow",
            Mode::Primary => "primary",
            Mode::Only => "only",
        }
    }

    /// The next mode forward (`None` after ONLY).
    pub fn next(self) -> Option<Mode> {
        match self {
            Mode::Legacy => Some(Mode::Shadow),
            Mode::Shadow => Some(Mode::Primary),
            Mode::Primary => Some(Mode::Only),
            Mode::Only => None,
        }
    }

    /// Whether the mode runs the legacy verifier.
    pub fn runs_legacy(self) -> bool {
        self != Mode::Only
    }

    /// Whether the mode runs the candidate verifier.
    pub fn runs_candidate(self) -> bool {
        self != Mode::Legacy
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mode name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeParseError {
    /// The name given, which names no mode.
    #[error("unknown mode {0:?}: expected legacy, shadow, primary or only")]
    Unknown(String),
}

impl FromStr for Mode {
    type Err = ModeParseError;
    fn from_str(s: &str) -> Result<Mode, ModeParseError> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| ModeParseError::Unknown(s.to_owned()))
    }
}

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordClass {
    /// The candidate accepts a block the legacy rejects.
    Split,
    /// The candidate rejects a block the legacy accepts.
    Halt,
    /// Same verdict and reason, but a fact both report differs.
    Fact,
    /// Both reject, for different reasons after mapping the legacy's reason to a code.
    Reason,
    /// The legacy verifier gave no verdict.
    LegacyError,
    /// The candidate verifier gave no verdict.
    CandidateError,
    /// In PRIMARY, the candidate gave no verdict and the legacy's verdict was used.
    Fallback,
    /// The legacy answered a block it was asked for twice (a noise run) differently the second time.
    LegacyNoise,
    /// The candidate answered a block it was asked for twice (a noise run) differently the second time.
    CandidateNoise,
    /// An input finding, not about the verifiers: the id the database stores for the block is not the
    /// id its blob hashes to (a corrupt or edited `block_info`).
    StoredIdMismatch,
}

impl RecordClass {
    /// Every record class, divergences first, then errors, then noise, then input findings.
    pub const ALL: [RecordClass; 10] = [
        RecordClass::Split,
        RecordClass::Halt,
        RecordClass::Fact,
        RecordClass::Reason,
        RecordClass::LegacyError,
        RecordClass::CandidateError,
        RecordClass::Fallback,
        RecordClass::LegacyNoise,
        RecordClass::CandidateNoise,
        RecordClass::StoredIdMismatch,
    ];

    /// The class's snake_case name, as records spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordClass::Split => "split",
            RecordClass::Halt => "halt",
            RecordClass::Fact => "fact",
            RecordClass::Reason => "reason",
            RecordClass::LegacyError => "legacy_error",
            RecordClass::CandidateError => "candidate_error",
            RecordClass::Fallback => "fallback",
            RecordClass::LegacyNoise => "legacy_noise",
            RecordClass::CandidateNoise => "candidate_noise",
            RecordClass::StoredIdMismatch => "stored_id_mismatch",
        }
    }

    /// A divergence (as opposed to an error record or an input finding).
    pub fn is_divergence(self) -> bool {
        matches!(self, RecordClass::Split | RecordClass::Halt | RecordClass::Fact | RecordClass::Reason)
    }

    /// A verifier gave no verdict (the block was not compared).
    pub fn is_error(self) -> bool {
        matches!(self, RecordClass::LegacyError | RecordClass::CandidateError | RecordClass::Fallback)
    }

    /// A verifier answered a block judged twice differently (see [`crate::noise`]).
    pub fn is_noise(self) -> bool {
        matches!(self, RecordClass::LegacyNoise | RecordClass::CandidateNoise)
    }
}

impl fmt::Display for RecordClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose verdict stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The legacy verifier's verdict.
    Legacy,
    /// The candidate verifier's verdict.
    Candidate,
    /// Neither could answer: rejected, fail closed.
    FailClosed,
}

/// The outcome of one block under a mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The verdict that stands for the block.
    pub authoritative: Verdict,
    /// Whose verdict that is.
    pub source: Source,
    /// Records to write, in this order (at most one divergence, then errors).
    pub records: Vec<RecordClass>,
    /// Facts both reported with different values (for `fact` divergences).
    pub differing_facts: Vec<String>,
}

fn fail_closed(why: &str) -> Verdict {
    Verdict::Reject { reason: "dualrun.fail_closed".into(), detail: why.into() }
}

fn differing(a: &Facts, b: &Facts) -> Vec<String> {
    a.iter().filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v)).map(|(k, _)| k.clone()).collect()
}

/// Classifies two verdicts; `None` when they agree.
fn classify(
    legacy: (&Verdict, &Facts),
    candidate: (&Verdict, &Facts),
    reasons: &ReasonMap,
) -> (Option<RecordClass>, Vec<String>) {
    let facts = differing(legacy.1, candidate.1);
    let class = match (legacy.0, candidate.0) {
        (Verdict::Reject { .. }, Verdict::Accept) => Some(RecordClass::Split),
        (Verdict::Accept, Verdict::Reject { .. }) => Some(RecordClass::Halt),
        (Verdict::Reject { reason: l, .. }, Verdict::Reject { reason: c, .. }) if reasons.code(l) != c => {
            Some(RecordClass::Reason)
        }
        _ if !facts.is_empty() => Some(RecordClass::Fact),
        _ => None,
    };
    (class, facts)
}

/// Applies the mode table. `legacy` / `candidate` are `None` when the mode does not run them.
pub fn decide(
    mode: Mode,
    legacy: Option<&VerifierOutcome>,
    candidate: Option<&VerifierOutcome>,
    reasons: &ReasonMap,
) -> Decision {
    use VerifierOutcome::{Error, Verdict as V};
    let mut records = Vec::new();
    let mut differing_facts = Vec::new();
    let mut compare = |l: (&Verdict, &Facts), c: (&Verdict, &Facts), records: &mut Vec<RecordClass>| {
        let (class, facts) = classify(l, c, reasons);
        if let Some(class) = class {
            records.push(class);
            if class == RecordClass::Fact {
                differing_facts = facts;
            }
        }
    };
    let (authoritative, source) = match (mode, legacy, candidate) {
        (Mode::Legacy, Some(V { verdict, .. }), _) => (verdict.clone(), Source::Legacy),
        (Mode::Legacy, Some(Error(e)), _) => {
            records.push(RecordClass::LegacyError);
            (fail_closed(&format!("legacy error: {e}")), Source::FailClosed)
        }
        (Mode::Only, _, Some(V { verdict, .. })) => (verdict.clone(), Source::Candidate),
        (Mode::Only, _, Some(Error(e))) => {
            records.push(RecordClass::CandidateError);
            (fail_closed(&format!("candidate error: {e}")), Source::FailClosed)
        }
        (Mode::Shadow, Some(l), Some(c)) => match (l, c) {
            (V { verdict: lv, facts: lf }, V { verdict: cv, facts: cf }) => {
                compare((lv, lf), (cv, cf), &mut records);
                (lv.clone(), Source::Legacy)
            }
            (V { verdict, .. }, Error(_)) => {
                records.push(RecordClass::CandidateError);
                (verdict.clone(), Source::Legacy)
            }
            (Error(e), V { .. }) => {
                records.push(RecordClass::LegacyError);
                (fail_closed(&format!("legacy error: {e}")), Source::FailClosed)
            }
            (Error(e), Error(_)) => {
                records.extend([RecordClass::LegacyError, RecordClass::CandidateError]);
                (fail_closed(&format!("legacy error: {e}")), Source::FailClosed)
            }
        },
        (Mode::Primary, Some(l), Some(c)) => match (l, c) {
            (V { verdict: lv, facts: lf }, V { verdict: cv, facts: cf }) => {
                compare((lv, lf), (cv, cf), &mut records);
                (cv.clone(), Source::Candidate)
            }
            (V { verdict, .. }, Error(_)) => {
                records.push(RecordClass::Fallback);
                (verdict.clone(), Source::Legacy)
            }
            (Error(_), V { verdict, .. }) => {
                records.push(RecordClass::LegacyError);
                (verdict.clone(), Source::Candidate)
            }
            (Error(e), Error(_)) => {
                records.extend([RecordClass::LegacyError, RecordClass::CandidateError]);
                (fail_closed(&format!("both failed; legacy: {e}")), Source::FailClosed)
            }
        },
        (mode, l, c) => panic!(
            "mode {mode} needs {} but got legacy {} and candidate {}",
            match mode {
                Mode::Legacy => "the legacy",
                Mode::Only => "the candidate",
                _ => "both",
            },
            if l.is_some() { "an outcome" } else { "none" },
            if c.is_some() { "an outcome" } else { "none" }
        ),
    };
    Decision { authoritative, source, records, differing_facts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_mode_is_named() {
        assert_eq!(
            "sideways".parse::<Mode>().unwrap_err().to_string(),
            "unknown mode \"sideways\": expected legacy, shadow, primary or only"
        );
        assert_eq!("primary".parse::<Mode>(), Ok(Mode::Primary));
    }
}
