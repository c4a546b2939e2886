//! A replay's record turned into a vector (`golden record`): the block, its env and context, the
//! legacy's verdict as the expected one, the run's profile (checked unchanged since the run) or the
//! corrected profile the caller names, and where it came from. Every bug a replay finds becomes a
//! regression test.

use std::path::Path;

use dualrun_core::VerdictKind;
use dualrun_rundir::{RunDir, RunDirError, Side};

use crate::vector::{
    Case, Expected, ExpectedFacts, FactsCompare, LeaderCase, Provenance, Vector, VectorBlock, VectorContext, VectorEnv,
    SCHEMA,
};

/// Why a record cannot become a vector.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The run directory could not be read.
    #[error(transparent)]
    Run(#[from] RunDirError),
    /// The run's profile file could not be read.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The profile given instead of the run's is not a valid profile.
    #[error(transparent)]
    Profile(#[from] dualrun_leader::ProfileError),
    /// Nothing to make a vector of.
    #[error("{0}")]
    Unusable(String),
}

/// The vector of the record at `height` of `run`, judged under `profile` when given (the network's
/// corrected profile, when the run's own profile was the cause of the divergence), else under the run's.
pub fn from_run(run: &RunDir, height: u64, profile: Option<&Path>) -> Result<Vector, RecordError> {
    let records = run.records()?;
    let jsonl = run.path.join(dualrun_rundir::files::JSONL);
    let rec = records
        .iter()
        .find(|r| r.height == height)
        .ok_or_else(|| RecordError::Unusable(format!("{}: no record at height {height}", jsonl.display())))?;
    let Side::Verdict { verdict, reason, facts, .. } = &rec.legacy else {
        return Err(RecordError::Unusable(format!(
            "height {height}: the legacy gave no verdict ({}), so there is nothing to expect",
            serde_json::to_string(&rec.legacy).unwrap_or_default()
        )));
    };
    let inputs = &run.manifest.inputs;
    let profile_path = &inputs.profile.path;
    let (profile_text, judged_under) = match profile {
        None => {
            let text = dualrun_format::file::read_to_string(profile_path)?;
            if dualrun_format::keccak256(text.as_bytes()) != inputs.profile.digest {
                return Err(RecordError::Unusable(format!(
                    "{} has changed since the run (its digest differs from the manifest's)",
                    profile_path.display()
                )));
            }
            (text, String::new())
        }
        Some(path) => {
            let text = dualrun_format::file::read_to_string(path)?;
            dualrun_leader::Profile::parse(text.as_bytes(), path)?;
            let digest = dualrun_format::keccak256(text.as_bytes());
            (text, format!("; judged under {} (digest {digest}), not the run's profile", path.display()))
        }
    };
    let hash = |name: &str| facts.get(name).and_then(|s| s.parse().ok());
    Ok(Vector {
        schema: SCHEMA.into(),
        name: format!("recorded-{}-height-{height}", rec.class),
        description: format!(
            "{} at height {height} in run {}: legacy {verdict} {reason}, candidate {} {}{judged_under}",
            rec.class,
            run.path.display(),
            rec.candidate.verdict().map_or("", VerdictKind::as_str),
            rec.candidate.reason()
        ),
        case: Case::Leader(LeaderCase {
            profile: profile_text,
            block: VectorBlock { height, blob: rec.blob.clone() },
            context: VectorContext { prev_id: rec.env.prev_id, timestamps: rec.env.timestamps.clone() },
            env: VectorEnv { now: rec.env.now },
            expected: Expected {
                verdict: verdict.as_str().into(),
                reason: Some(reason.clone()).filter(|r| !r.is_empty() && *verdict == VerdictKind::Reject),
                facts: ExpectedFacts {
                    block_id: hash("block_id"),
                    signing_hash: hash("signing_hash"),
                    leader_id: facts.get("leader_id").cloned(),
                },
                facts_compare: FactsCompare::Listed,
            },
        }),
        skip: None,
        provenance: Provenance {
            generator: format!("dualrun {} golden record", env!("CARGO_PKG_VERSION")),
            source: format!(
                "replay {} (chain {}, digest {})",
                run.path.display(),
                inputs.chain.path,
                inputs.chain.chain_digest
            ),
            height: Some(height),
        },
    })
}
