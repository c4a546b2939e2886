//! Running a vector through the protocol v1 validator and comparing with what it expects.

use std::path::Path;

use dualrun_leader::validator::{self, ChainContext, Judgement, Verdict};
use dualrun_leader::Profile;

use crate::vector::{ExpectedFacts, Vector};

/// One way the validator's answer differs from the vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: &'static str,
    pub expected: String,
    pub actual: String,
}

fn show<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("(none)".into(), |v| v.to_string())
}

/// Judges the vector's block with the leader validator.
pub fn judge(v: &Vector) -> Result<Judgement, String> {
    if v.kind != "leader-v1" {
        return Err(format!("unknown vector kind {:?}", v.kind));
    }
    let profile = Profile::parse(v.profile.as_bytes(), Path::new("(vector profile)")).map_err(|e| e.to_string())?;
    let blob = v.blob()?;
    let ctx = match v.context.prev_id {
        Some(prev) => ChainContext::resume(v.block.height, prev, v.context.timestamps.iter().copied()),
        None if v.block.height == 0 => ChainContext::new(),
        None => return Err("context.prev_id is required above height 0".into()),
    };
    let prepared = validator::prepare(&profile, v.block.height, &blob);
    Ok(validator::judge(&profile, &ctx, &prepared, v.env.now))
}

/// Runs a leader vector: `Ok(differences)` (empty when it passes), or `Err` when it cannot run.
pub fn check_leader(v: &Vector) -> Result<Vec<Difference>, String> {
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
    let actual = ExpectedFacts { block_id: j.facts.block_id, signing_hash: j.facts.signing_hash, leader_id: j.facts.leader_id.clone() };
    let e = &v.expected.facts;
    cmp("facts.block_id", show(&e.block_id), show(&actual.block_id));
    cmp("facts.signing_hash", show(&e.signing_hash), show(&actual.signing_hash));
    cmp("facts.leader_id", show(&e.leader_id), show(&actual.leader_id));
    Ok(diffs)
}
