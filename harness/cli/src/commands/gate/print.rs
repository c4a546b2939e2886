//! What `gate` prints of an evaluation, a status and an audit.

use std::path::Path;

use anyhow::Result;
use dualrun_gate::audit::{Audit, Status};
use dualrun_gate::{Evaluation, GateOutcome};

use crate::Outcome;

/// The status as one JSON object, or as text.
pub(super) fn status(s: &Status, as_json: bool) -> Result<Outcome> {
    if as_json {
        outln!("{}", serde_json::to_string_pretty(s)?)?;
    } else {
        outln!("mode     {}", s.mode)?;
        outln!("entries  {}", s.entries)?;
        outln!("last     {}", s.last.summary())?;
    }
    Ok(Outcome::Clean)
}

/// The evaluation as one JSON object, or each criterion a line; its outcome as the exit code.
pub(super) fn evaluation(e: &Evaluation, as_json: bool) -> Result<Outcome> {
    if as_json {
        outln!("{}", serde_json::to_string_pretty(e).expect("serializes"))?;
    } else {
        outln!("{} -> {}: {}", e.from, e.to, e.outcome.to_string().to_uppercase())?;
        outln!("  evaluation digest {}", e.evaluation_digest)?;
        for c in &e.criteria {
            let note = if c.note.is_empty() { String::new() } else { format!("  ({})", c.note) };
            outln!("  {:<12} {:<27} {}, need {}{note}", c.outcome.to_string(), c.name, c.value_text(), c.threshold)?;
        }
    }
    Ok(match e.outcome {
        GateOutcome::Pass => Outcome::Clean,
        GateOutcome::Fail => Outcome::Finding,
        GateOutcome::Inconclusive => Outcome::Inconclusive,
    })
}

/// An audit of the ledger at `path`: what verified and the findings, or what is wrong.
pub(super) fn audit(path: &Path, audit: &Audit, expect_head: Option<&str>) -> Result<Outcome> {
    match audit {
        Audit::Verified(r) => {
            outln!("{}: {} entries verified; mode {}; head {}", path.display(), r.entries, r.mode, r.head)?;
            for finding in &r.findings {
                outln!("{finding}")?;
            }
            Ok(Outcome::clean_if(r.findings.is_empty()))
        }
        Audit::HeadMissing => {
            let want = expect_head.unwrap_or_default();
            outln!(
                "{}: no entry has the expected head hash {want}: entries were removed from the end",
                path.display()
            )?;
            Ok(Outcome::Finding)
        }
        Audit::Bad(e) => {
            outln!("{e}")?;
            Ok(Outcome::Finding)
        }
    }
}
