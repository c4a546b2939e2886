//! `LeaderValidator`: leader protocol v1 on one block (`judge`) or on a run of consecutive blocks
//! (`judge_many`: parsing, hashing and signature checks on every core with the GIL released, then the
//! chain rules in height order, each block's context following from the one before, as a replay does).

use std::sync::Arc;

use dualrun_format::{keccak256, Block, Hash32};
use dualrun_leader::validator::{self, ChainContext, Prepared};
use dualrun_leader::Profile as NetworkProfile;
use dualrun_pipeline::NowMode;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::profile::Profile;
use crate::verdict::Verdict;

/// The chain before a block, as a Python caller gives it: `{"prev_id", "timestamps", "now"}` (other keys,
/// such as the rest of a record's env, are ignored).
#[derive(Debug, Clone)]
pub(crate) struct EnvArg {
    /// The id of block h − 1.
    pub(crate) prev_id: Option<Hash32>,
    /// Timestamps of up to 60 blocks before h, oldest first.
    pub(crate) timestamps: Vec<u64>,
    /// `now`; by default each block's own timestamp.
    pub(crate) now: NowMode,
}

impl EnvArg {
    pub(crate) fn parse(env: Option<&Bound<'_, PyDict>>) -> PyResult<EnvArg> {
        let Some(env) = env else { return Ok(EnvArg { prev_id: None, timestamps: Vec::new(), now: NowMode::Block }) };
        let bad = |key: &str, want: &str| PyTypeError::new_err(format!("env[{key:?}] must be {want}"));
        let prev_id = match env.get_item("prev_id")? {
            Some(v) if !v.is_none() => {
                let text: String = v.extract().map_err(|_| bad("prev_id", "a hex string or None"))?;
                Some(text.parse().map_err(|_| {
                    PyValueError::new_err(format!("env[\"prev_id\"] is not 64 lowercase hex digits: {text:?}"))
                })?)
            }
            _ => None,
        };
        let timestamps = match env.get_item("timestamps")? {
            Some(v) if !v.is_none() => v.extract().map_err(|_| bad("timestamps", "a list of unix times (int)"))?,
            _ => Vec::new(),
        };
        let now = match env.get_item("now")? {
            Some(v) if !v.is_none() => NowMode::Fixed(v.extract().map_err(|_| bad("now", "a unix time (int)"))?),
            _ => NowMode::Block,
        };
        Ok(EnvArg { prev_id, timestamps, now })
    }

    /// The chain context of `height`.
    pub(crate) fn context(&self, height: u64) -> PyResult<ChainContext> {
        match self.prev_id {
            Some(prev) => Ok(ChainContext::resume(height, prev, self.timestamps.iter().copied())),
            None if height == 0 => Ok(ChainContext::new()),
            None => Err(PyValueError::new_err(format!(
                "env[\"prev_id\"] is needed to judge height {height}: the id of block {}",
                height - 1
            ))),
        }
    }
}

/// The computed id and the timestamp of a blob that parses and hashes.
pub(crate) type BlockFacts = Option<(Hash32, u64)>;

/// [`BlockFacts`] by parsing and hashing only (no signature check).
pub(crate) fn block_facts(blob: &[u8]) -> BlockFacts {
    let block = Block::parse(blob).ok()?;
    Some((block.hashes().ok()?.block_id, block.header.timestamp))
}

/// [`BlockFacts`] of a prepared block.
pub(crate) fn prepared_facts(prepared: &Prepared) -> BlockFacts {
    prepared.block_id().zip(prepared.timestamp())
}

/// The id a block goes by: computed, or for a blob that does not parse (which has none) Keccak-256 of
/// the blob, so records and the chain context still name it.
pub(crate) fn id_of(facts: BlockFacts, blob: &[u8]) -> Hash32 {
    facts.map_or_else(|| keccak256(blob), |(id, _)| id)
}

/// Moves the context past a block.
pub(crate) fn advance(ctx: &mut ChainContext, facts: BlockFacts, blob: &[u8]) {
    match facts {
        Some((id, t)) => ctx.advance(id, t),
        None => ctx.advance_unparsed(keccak256(blob)),
    }
}

/// Judges one prepared block in `ctx`.
pub(crate) fn judge_prepared(
    profile: &NetworkProfile,
    ctx: &ChainContext,
    prepared: &Prepared,
    now: NowMode,
) -> Verdict {
    let outcome = validator::judge(profile, ctx, prepared, now.at(prepared.timestamp())).into_outcome();
    Verdict::of_outcome(&outcome).expect("the validator always gives a verdict")
}

/// `prepare` over `blobs` (heights from `height`) on `threads` threads, in order.
fn prepare_all(profile: &NetworkProfile, blobs: &[Vec<u8>], height: u64, threads: usize) -> Vec<Prepared> {
    let chunk = blobs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = blobs
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let first = height + (i * chunk) as u64;
                s.spawn(move || {
                    part.iter().zip(first..).map(|(b, h)| validator::prepare(profile, h, b)).collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|p| p.join().expect("prepare does not panic")).collect()
    })
}

/// The leader protocol v1 validator for a profile.
#[pyclass(module = "dualrun._native", frozen)]
pub(crate) struct LeaderValidator {
    pub(crate) profile: Arc<NetworkProfile>,
}

#[pymethods]
impl LeaderValidator {
    #[new]
    fn new(profile: &Profile) -> Self {
        LeaderValidator { profile: profile.inner.clone() }
    }

    /// The profile it validates for.
    #[getter]
    fn profile(&self) -> Profile {
        Profile { inner: self.profile.clone() }
    }

    /// Judges the block `blob` at `height`; `env` is the chain before it: `{"prev_id": hex (None at
    /// height 0), "timestamps": [up to 60, oldest first], "now": unix time (default: the block's own)}`.
    #[pyo3(signature = (blob, height, env = None))]
    fn judge(&self, blob: &Bound<'_, PyAny>, height: u64, env: Option<&Bound<'_, PyDict>>) -> PyResult<Verdict> {
        let blob = crate::bytes_like(blob)?;
        let blob = blob.as_ref();
        let env = EnvArg::parse(env)?;
        let ctx = env.context(height)?;
        let prepared = validator::prepare(&self.profile, height, blob);
        Ok(judge_prepared(&self.profile, &ctx, &prepared, env.now))
    }

    /// Judges consecutive blocks from `height`; `env` is the chain before the first. Each next block is
    /// judged in the context the previous one leaves (its computed id and timestamp), whatever its
    /// verdict, as a replay of a stored chain does. Parsing, hashing and signature checks run on
    /// `threads` threads (default: every core) with the GIL released.
    #[pyo3(signature = (blobs, height, env = None, threads = None))]
    fn judge_many(
        &self,
        py: Python<'_>,
        blobs: Vec<Bound<'_, PyAny>>,
        height: u64,
        env: Option<&Bound<'_, PyDict>>,
        threads: Option<usize>,
    ) -> PyResult<Vec<Verdict>> {
        let blobs: Vec<Vec<u8>> =
            blobs.iter().map(|b| crate::bytes_like(b).map(std::borrow::Cow::into_owned)).collect::<PyResult<_>>()?;
        let env = EnvArg::parse(env)?;
        let mut ctx = env.context(height)?;
        let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let profile = &self.profile;
        Ok(py.detach(|| {
            let prepared = prepare_all(profile, &blobs, height, threads);
            prepared
                .iter()
                .zip(&blobs)
                .map(|(p, blob)| {
                    let verdict = judge_prepared(profile, &ctx, p, env.now);
                    advance(&mut ctx, prepared_facts(p), blob);
                    verdict
                })
                .collect()
        }))
    }

    fn __repr__(&self) -> String {
        format!("LeaderValidator(profile={:?})", self.profile.name)
    }
}
