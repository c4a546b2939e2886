//! The crafted vector set for the mode table (DESIGN §5): every mode × legacy outcome × candidate
//! outcome, with the authoritative verdict, whose verdict it is and the records written.
//!
//! The expectations are written here as a table, row by row from the specification, not computed by
//! `dualrun_core::decide`:
//!
//! | mode | runs | authoritative | candidate error | legacy error |
//! |---|---|---|---|---|
//! | LEGACY | legacy | legacy | — | reject (fail closed), recorded |
//! | SHADOW | both | legacy | recorded, no effect | reject (fail closed), recorded |
//! | PRIMARY | both | candidate | fall back to legacy's verdict, recorded as `fallback` | candidate's verdict, recorded |
//! | ONLY | candidate | candidate | reject (fail closed), recorded | — |

use std::collections::BTreeMap;

use crate::vector::{Case, ModeCase, ModeExpected, OutcomeSpec, Provenance, Vector, SCHEMA};

const GENERATOR: &str = "dualrun-golden crafted mode-v1 set, v1";

/// The outcomes a verifier can give, by name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum O {
    /// Not run in this mode.
    NotRun,
    Accept,
    /// Accept, reporting another block id than the other side.
    AcceptOtherId,
    /// Reject for block.prev_mismatch.
    RejectA,
    /// Reject for leader.missing.
    RejectB,
    /// Reject with the legacy's own wording of block.prev_mismatch (mapped by the reason map).
    RejectAWorded,
    Error,
}

impl O {
    fn name(self) -> &'static str {
        match self {
            O::NotRun => "not-run",
            O::Accept => "accept",
            O::AcceptOtherId => "accept-other-id",
            O::RejectA => "reject-prev",
            O::RejectB => "reject-missing",
            O::RejectAWorded => "reject-prev-worded",
            O::Error => "error",
        }
    }

    fn spec(self) -> Option<OutcomeSpec> {
        let facts = |id: &str| BTreeMap::from([("block_id".to_owned(), id.to_owned())]);
        let v = |verdict: &str, reason: Option<&str>, f| OutcomeSpec {
            verdict: Some(verdict.into()),
            reason: reason.map(Into::into),
            facts: f,
            error: None,
        };
        match self {
            O::NotRun => None,
            O::Accept => Some(v("accept", None, facts("aa"))),
            O::AcceptOtherId => Some(v("accept", None, facts("bb"))),
            O::RejectA => Some(v("reject", Some("block.prev_mismatch"), facts("aa"))),
            O::RejectB => Some(v("reject", Some("leader.missing"), facts("aa"))),
            O::RejectAWorded => Some(v("reject", Some("previous block id mismatch"), facts("aa"))),
            O::Error => {
                Some(OutcomeSpec { verdict: None, reason: None, facts: BTreeMap::new(), error: Some("timeout".into()) })
            }
        }
    }
}

/// (authoritative, source, records) by the table.
fn expected(mode: &str, l: O, c: O) -> (&'static str, &'static str, Vec<&'static str>) {
    use O::*;
    let accepts = |o: O| matches!(o, Accept | AcceptOtherId);
    // The divergence between two verdicts, if any.
    let divergence = |l: O, c: O| -> Option<&'static str> {
        match (l, c) {
            (RejectA | RejectB | RejectAWorded, Accept | AcceptOtherId) => Some("split"),
            (Accept | AcceptOtherId, RejectA | RejectB | RejectAWorded) => Some("halt"),
            (RejectA | RejectAWorded, RejectB) | (RejectB, RejectA | RejectAWorded) => Some("reason"),
            (Accept, AcceptOtherId) | (AcceptOtherId, Accept) => Some("fact"),
            _ => None,
        }
    };
    let verdict = |o: O| if accepts(o) { "accept" } else { "reject" };
    match (mode, l, c) {
        ("legacy", Error, NotRun) => ("reject", "fail_closed", vec!["legacy_error"]),
        ("legacy", l, NotRun) => (verdict(l), "legacy", vec![]),
        ("only", NotRun, Error) => ("reject", "fail_closed", vec!["candidate_error"]),
        ("only", NotRun, c) => (verdict(c), "candidate", vec![]),
        ("shadow", Error, Error) => ("reject", "fail_closed", vec!["legacy_error", "candidate_error"]),
        ("shadow", Error, _) => ("reject", "fail_closed", vec!["legacy_error"]),
        ("shadow", l, Error) => (verdict(l), "legacy", vec!["candidate_error"]),
        ("shadow", l, c) => (verdict(l), "legacy", divergence(l, c).into_iter().collect()),
        ("primary", Error, Error) => ("reject", "fail_closed", vec!["legacy_error", "candidate_error"]),
        ("primary", Error, c) => (verdict(c), "candidate", vec!["legacy_error"]),
        ("primary", l, Error) => (verdict(l), "legacy", vec!["fallback"]),
        ("primary", l, c) => (verdict(c), "candidate", divergence(l, c).into_iter().collect()),
        _ => unreachable!("only valid combinations are generated"),
    }
}

/// The whole set.
pub fn mode_v1_vectors() -> Vec<Vector> {
    use O::*;
    let legacy_outcomes = [Accept, RejectA, Error];
    let both = [Accept, AcceptOtherId, RejectA, RejectB, Error];
    let mut combos: Vec<(&str, O, O)> = Vec::new();
    for l in legacy_outcomes {
        combos.push(("legacy", l, NotRun));
    }
    for c in legacy_outcomes {
        combos.push(("only", NotRun, c));
    }
    for mode in ["shadow", "primary"] {
        for l in legacy_outcomes {
            for c in both {
                combos.push((mode, l, c));
            }
        }
        // The legacy's own wording of the same reason, mapped to the code: agreement, not `reason`.
        combos.push((mode, RejectAWorded, RejectA));
        combos.push((mode, RejectAWorded, RejectB));
    }
    combos
        .into_iter()
        .map(|(mode, l, c)| {
            let (authoritative, source, records) = expected(mode, l, c);
            let reason_map = if l == RejectAWorded {
                BTreeMap::from([("previous block id mismatch".to_owned(), "block.prev_mismatch".to_owned())])
            } else {
                BTreeMap::new()
            };
            Vector {
                schema: SCHEMA.into(),
                name: format!("{mode}-legacy-{}-candidate-{}", l.name(), c.name()),
                description: format!("{} mode; legacy: {}; candidate: {}", mode.to_uppercase(), l.name(), c.name()),
                case: Case::Mode(ModeCase {
                    mode: mode.into(),
                    legacy: l.spec(),
                    candidate: c.spec(),
                    reason_map,
                    expected: ModeExpected {
                        authoritative: authoritative.into(),
                        source: source.into(),
                        records: records.into_iter().map(Into::into).collect(),
                    },
                }),
                skip: None,
                provenance: Provenance { generator: GENERATOR.into(), source: "crafted".into(), height: None },
            }
        })
        .collect()
}
