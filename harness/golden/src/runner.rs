//! The golden runner: every vector of a directory judged, one result each. `golden check` (its lines
//! and JUnit XML) and the gate's golden criterion both read this, so they count passes, failures and
//! skips the same way: a vector may be skipped only with a written reason; a skip without one, an
//! unreadable file or a vector that cannot run is a failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dualrun_core::{BlockFields, BlockInput, Verdict, VerifierOutcome};
use dualrun_format::{keccak256, Block, Hash32};
use dualrun_leader::{ChainContext, Profile, ProfileError};

use crate::run::{check, Difference};
use crate::vector::{load_dir, Case, LeaderCase, LoadedVector, Vector, VectorError};

/// How one vector went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// As expected.
    Pass,
    /// Not as expected, unreadable, not runnable, or skipped without a reason; the message says which.
    Fail(String),
    /// Skipped, with the vector's written reason.
    Skipped(String),
}

/// One vector's result.
#[derive(Debug, Clone)]
pub struct VectorResult {
    /// The file.
    pub path: PathBuf,
    /// The file relative to the directory run.
    pub rel: String,
    /// The vector's name (the relative path for an unreadable file).
    pub name: String,
    /// `leader-v1`, `mode-v1`, `finality-v1`, `fork-choice-v1`, or `unreadable`.
    pub kind: &'static str,
    /// How it went.
    pub status: Status,
}

/// Every vector of a directory, judged.
#[derive(Debug, Clone)]
pub struct GoldenReport {
    /// The directory.
    pub dir: PathBuf,
    /// Keccak-256 over the vectors' paths and contents, in path order: names exactly the set run.
    pub digest: Hash32,
    /// One result per `*.json` file, in path order.
    pub results: Vec<VectorResult>,
}

impl GoldenReport {
    fn count(&self, f: impl Fn(&Status) -> bool) -> u64 {
        self.results.iter().filter(|r| f(&r.status)).count() as u64
    }

    /// Vectors that passed.
    pub fn passed(&self) -> u64 {
        self.count(|s| matches!(s, Status::Pass))
    }

    /// Vectors that failed (including unreadable ones and skips without a reason).
    pub fn failed(&self) -> u64 {
        self.count(|s| matches!(s, Status::Fail(_)))
    }

    /// Vectors skipped with a written reason.
    pub fn skipped(&self) -> u64 {
        self.count(|s| matches!(s, Status::Skipped(_)))
    }
}

/// Why another implementation could not judge a vector: whatever error that implementation (an
/// adapter, the built-in validator) has.
pub type ParityError = Box<dyn std::error::Error + Send + Sync>;

/// Another implementation that judges leader vectors too (`golden check --legacy`): given a vector's
/// case, its block input, env and profile, its outcome, or why it could not run.
pub type Parity<'a> = dyn FnMut(&LeaderCase, &BlockInput, &dualrun_core::ReplayEnv, &Profile) -> Result<VerifierOutcome, ParityError>
    + 'a;

/// Why a leader vector gives no input for another implementation.
#[derive(Debug, thiserror::Error)]
pub enum AdapterInputError {
    /// The vector's profile is not a usable profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// `block.blob` is not hex.
    #[error("block.blob: {0}")]
    BlobNotHex(#[source] hex::FromHexError),
}

/// Runs every vector under `dir`; with `parity` (a name for messages and the implementation), leader
/// vectors are also judged by that other implementation and must agree.
pub fn run_dir(dir: &Path, parity: Option<(&str, &mut Parity<'_>)>) -> Result<GoldenReport, VectorError> {
    Ok(run_vectors(dir, load_dir(dir)?, parity))
}

/// [`run_dir`] on vectors already loaded from `dir` (by [`load_dir`]).
pub fn run_vectors(dir: &Path, loaded: Vec<LoadedVector>, mut parity: Option<(&str, &mut Parity<'_>)>) -> GoldenReport {
    let mut digested = Vec::new();
    let mut results = Vec::with_capacity(loaded.len());
    for (path, vector) in loaded {
        digested.extend(path.display().to_string().into_bytes());
        digested.extend(crate::vector::read_vector_bytes(&path).unwrap_or_default());
        let rel = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        let (name, kind, status) = match vector {
            Err(e) => (rel.clone(), "unreadable", Status::Fail(e.to_string())),
            Ok(v) => {
                let kind = match &v.case {
                    Case::Leader(_) => "leader-v1",
                    Case::Mode(_) => "mode-v1",
                    Case::Finality(_) => "finality-v1",
                    Case::ForkChoice(_) => "fork-choice-v1",
                };
                let status = match &v.skip {
                    Some(why) if why.trim().is_empty() => {
                        Status::Fail(format!("{rel}: skipped without a written reason (an unexpected skip)"))
                    }
                    Some(why) => Status::Skipped(why.clone()),
                    None => judge(&rel, &v.case, parity.as_mut().map(|(name, p)| (*name, &mut **p))),
                };
                (v.name, kind, status)
            }
        };
        results.push(VectorResult { path, rel, name, kind, status });
    }
    GoldenReport { dir: dir.to_path_buf(), digest: keccak256(&digested), results }
}

fn judge(rel: &str, case: &Case, parity: Option<(&str, &mut Parity<'_>)>) -> Status {
    match check(case) {
        Err(e) => return Status::Fail(format!("{rel}: cannot run: {e}")),
        Ok(d) if !d.is_empty() => return Status::Fail(format!("{rel}: {}", describe(&d))),
        Ok(_) => {}
    }
    let (Case::Leader(c), Some((name, parity))) = (case, parity) else { return Status::Pass };
    let outcome = match adapter_inputs(c) {
        Err(e) => Err(ParityError::from(e)),
        Ok((input, env, profile)) => parity(c, &input, &env, &profile),
    };
    match outcome {
        Err(e) => Status::Fail(format!("{rel}: cannot run through {name}: {e}")),
        Ok(o) => match parity_differences(c, &o) {
            Some(d) => Status::Fail(format!("{rel}: {name}: {d}")),
            None => Status::Pass,
        },
    }
}

fn describe(diffs: &[Difference]) -> String {
    diffs
        .iter()
        .map(|d| format!("{}: expected {}, got {}", d.field, d.expected, d.actual))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The profile of the first leader vector that has a valid one (to build another implementation
/// once for a whole directory).
pub fn first_leader_profile(loaded: &[LoadedVector]) -> Option<Profile> {
    loaded.iter().find_map(|(_, v)| match v {
        Ok(Vector { case: Case::Leader(c), .. }) => Profile::parse(c.profile.as_bytes(), Path::new("(vector)")).ok(),
        _ => None,
    })
}

/// The block input, env and profile a leader vector describes, for running it through an adapter.
pub fn adapter_inputs(c: &LeaderCase) -> Result<(BlockInput, dualrun_core::ReplayEnv, Profile), AdapterInputError> {
    let profile = Profile::parse(c.profile.as_bytes(), Path::new("(vector profile)"))?;
    let blob = hex::decode(&c.block.blob).map_err(AdapterInputError::BlobNotHex)?;
    let fields = Block::parse(&blob).ok().map(|b| BlockFields::from_block(&b));
    let ctx = match c.context.prev_id {
        Some(prev) => ChainContext::resume(c.block.height, prev, c.context.timestamps.iter().copied()),
        None => ChainContext::new(),
    };
    let env = profile.env(&ctx, c.env.now);
    Ok((BlockInput { height: c.block.height, blob: Arc::from(blob), fields }, env, profile))
}

/// Compares another implementation's outcome with a leader vector's expectation (the facts it reports).
fn parity_differences(c: &LeaderCase, outcome: &VerifierOutcome) -> Option<String> {
    let (verdict, facts) = match outcome {
        VerifierOutcome::Error(e) => return Some(format!("it failed: {e}")),
        VerifierOutcome::Verdict { verdict, facts } => (verdict, facts),
    };
    let mut diffs = Vec::new();
    if verdict.name() != c.expected.verdict {
        diffs.push(format!("verdict: expected {}, got {}", c.expected.verdict, verdict.name()));
    }
    let reason = match verdict {
        Verdict::Accept => None,
        Verdict::Reject { reason, .. } => Some(reason.clone()),
    };
    if reason != c.expected.reason {
        diffs.push(format!("reason: expected {:?}, got {:?}", c.expected.reason, reason));
    }
    let expected = [
        ("block_id", c.expected.facts.block_id.map(|h| h.to_string())),
        ("signing_hash", c.expected.facts.signing_hash.map(|h| h.to_string())),
        ("leader_id", c.expected.facts.leader_id.clone()),
    ];
    for (name, value) in expected {
        if let (Some(actual), Some(want)) = (facts.get(name), value.as_ref()) {
            if actual != want {
                diffs.push(format!("facts.{name}: expected {want}, got {actual}"));
            }
        }
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_leader_vector_with_a_valid_profile_gives_it() {
        let unreadable = || ("x.json".into(), Err(VectorError::Parse { file: "x.json".into(), message: "no".into() }));
        let mode = crate::crafted::mode_v1_vectors().remove(0);
        let mut broken = crate::crafted::leader_v1_vectors().remove(0);
        let Case::Leader(c) = &mut broken.case else { panic!("a leader vector") };
        c.profile = "not toml [".into();
        let leader = crate::crafted::leader_v1_vectors().remove(0);
        let Case::Leader(c) = &leader.case else { panic!("a leader vector") };
        let want = Profile::parse(c.profile.as_bytes(), Path::new("(vector)")).unwrap();

        let loaded: Vec<LoadedVector> = vec![
            unreadable(),
            ("m.json".into(), Ok(mode)),
            ("b.json".into(), Ok(broken)),
            ("l.json".into(), Ok(leader)),
        ];
        assert_eq!(first_leader_profile(&loaded).map(|p| p.genesis_id), Some(want.genesis_id));
        assert!(first_leader_profile(&loaded[..3]).is_none());
    }
}
