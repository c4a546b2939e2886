//! `DualRun`: a Python node's own validator (the legacy) and the new one (the candidate) side by side,
//! in process, under a migration mode. Each block goes through the mode table of the harness
//! ([`dualrun_core::decide`]); divergences and errors become the records a replay writes, in a run
//! directory of the same format — so `dualrun gate evaluate` takes a node's shadow period as evidence.
//!
//! The run is over the chain the node builds: the first block may be at any height (its env gives the
//! chain before it), then each block is the next one — height h + 1 after an authoritative accept at h,
//! h again after a rejection (the node did not take that block). `ids.bin` and the chain digest name the
//! blocks the node took; records name every block judged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use dualrun_core::{
    decide, ErrorKind, Mode, ReasonMap, RecordClass, ReplayEnv, Verifier, VerifierError, VerifierIdentity,
    VerifierOutcome,
};
use dualrun_format::{keccak256, Hash32};
use dualrun_leader::validator::{self, ChainContext};
use dualrun_leader::verifier::LeaderVerifier;
use dualrun_leader::Profile as NetworkProfile;
use dualrun_pipeline::NowMode;
use dualrun_python_answer::{format_exception, interpret, EnvDicts};
use dualrun_rundir::files::MANIFEST;
use dualrun_rundir::{
    ChainInputs, Elapsed, EmbeddedSettings, EnvInputs, Inputs, JudgedBlock, Manifest, Observer, ProfileInputs,
    Recorder, RunEvent, RunSettings, RunWriter, Stats, Summary,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::profile::Profile;
use crate::validator::{advance, block_facts, id_of, prepared_facts, EnvArg, LeaderValidator};
use crate::verdict::Verdict;

fn io_error(e: impl std::fmt::Display) -> PyErr {
    PyOSError::new_err(e.to_string())
}

/// One side of a dual run.
enum Side {
    /// The built-in leader protocol v1 validator.
    Builtin(LeaderVerifier),
    /// A Python callable `f(blob, height, env)`, and the envs it was handed.
    Callable { function: Py<PyAny>, identity: VerifierIdentity, envs: Box<EnvDicts> },
}

impl Side {
    fn of(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Side> {
        if let Ok(v) = value.cast::<LeaderValidator>() {
            return Ok(Side::Builtin(LeaderVerifier::new(v.get().profile.clone())));
        }
        if !value.is_callable() {
            return Err(PyTypeError::new_err("a verifier is a LeaderValidator or a callable f(blob, height, env)"));
        }
        let (function, identity) = (value.clone().unbind(), callable_identity(py, value)?);
        Ok(Side::Callable { function, identity, envs: Box::default() })
    }

    fn identity(&self) -> VerifierIdentity {
        match self {
            Side::Builtin(v) => v.identity(),
            Side::Callable { identity, .. } => identity.clone(),
        }
    }

    /// Its outcome for a block, and how long it took.
    fn verify(&mut self, py: Python<'_>, block: &Block<'_>) -> PyResult<(VerifierOutcome, Duration)> {
        let started = Instant::now();
        let outcome = match self {
            Side::Builtin(v) => {
                let input = dualrun_core::BlockInput { height: block.height, blob: block.blob.into(), fields: None };
                let prepared = block.prepared.clone().map(|p| Box::new(p) as Box<dyn std::any::Any + Send>);
                py.detach(|| v.verify(&input, prepared, block.env))
            }
            Side::Callable { function, envs, .. } => {
                let env = envs.dict(py, block.env)?;
                match function.call1(py, (PyBytes::new(py, block.blob), block.height, env)) {
                    Ok(answer) => match answer.bind(py).cast::<Verdict>() {
                        Ok(v) => v.get().outcome(),
                        Err(_) => interpret(answer.bind(py)),
                    },
                    Err(e) if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) => return Err(e),
                    Err(e) => VerifierOutcome::Error(VerifierError::new(ErrorKind::Crash, format_exception(py, &e))),
                }
            }
        };
        Ok((outcome, started.elapsed()))
    }
}

/// Who a Python callable is: `python-callable:MODULE.QUALNAME`, and the Keccak-256 of its source file
/// when it has one (so two callables of the same code are seen to be the same verifier).
fn callable_identity(py: Python<'_>, f: &Bound<'_, PyAny>) -> PyResult<VerifierIdentity> {
    let named = if f.hasattr("__qualname__")? { f.clone() } else { f.get_type().into_any() };
    let text = |attr: &str| -> String {
        named.getattr(attr).and_then(|v| v.extract::<String>()).unwrap_or_else(|_| "?".into())
    };
    let name = format!("{}.{}", text("__module__"), text("__qualname__"));
    let mut files = BTreeMap::new();
    let source = py.import("inspect")?.call_method1("getsourcefile", (&named,));
    if let Ok(Some(path)) = source.and_then(|p| p.extract::<Option<PathBuf>>()) {
        if let Ok(bytes) = std::fs::read(&path) {
            files.insert(path.display().to_string(), keccak256(&bytes).to_string());
        }
    }
    Ok(VerifierIdentity { spec: format!("python-callable:{name}"), description: name, files })
}

/// A block on its way through the mode table.
struct Block<'a> {
    height: u64,
    blob: &'a [u8],
    /// The built-in candidate's stateless part, done once (none when it does not run).
    prepared: Option<validator::Prepared>,
    env: &'a ReplayEnv,
}

/// The run directory being written.
struct Run {
    /// The record stage `replay` and `follow` use: counts, records, checkpoints.
    recorder: Recorder,
    manifest: Manifest,
    /// The first height of the run.
    from: u64,
    /// The height the next block must have.
    next_height: u64,
    /// The chain the node has taken, as far as known (`None` until an env or block 0 gives it).
    ctx: Option<ChainContext>,
}

impl Run {
    fn stats_now(&self) -> Stats {
        self.recorder.stats_now()
    }

    fn checkpoint(&mut self) -> PyResult<()> {
        self.recorder.checkpoint(self.next_height, &mut ()).map_err(io_error)
    }
}

/// The `on_divergence` hook as an observer of the run: called with each record as it is written. A hook
/// that fails is reported as unraisable: the record is written and counted whatever it does.
struct Hook<'a, 'py> {
    py: Python<'py>,
    hook: Option<&'a Py<PyAny>>,
}

impl Observer for Hook<'_, '_> {
    fn observe(&mut self, event: &RunEvent<'_>) {
        let (RunEvent::Recorded { record }, Some(hook)) = (event, self.hook) else { return };
        let called = crate::to_python(self.py, record).and_then(|value| hook.call1(self.py, (value,)));
        if let Err(e) = called {
            e.write_unraisable(self.py, Some(hook.bind(self.py)));
        }
    }
}

/// A DualRun's state: the mode table in process, writing a run directory.
struct Node {
    mode: Mode,
    profile: Arc<NetworkProfile>,
    legacy: Option<Side>,
    candidate: Option<Side>,
    on_divergence: Option<Py<PyAny>>,
    reasons: ReasonMap,
    out: PathBuf,
    /// Names the node in the manifest (`python:NAME`).
    name: String,
    /// Reopen the run in `out` instead of starting one.
    resume: bool,
    run: Option<Run>,
    closed: bool,
}

impl Node {
    fn inputs(&self, from: u64) -> Inputs {
        let chain = ChainInputs {
            path: format!("python:{}", self.name),
            schema_version: 0,
            genesis_id: self.profile.genesis_id,
            from,
            to: from,
            blocks: 0,
            chain_digest: Hash32::default(),
            live: true,
        };
        let reasons: BTreeMap<String, String> = self.reasons.pairs().map(|(a, b)| (a.into(), b.into())).collect();
        Inputs {
            chain,
            profile: ProfileInputs {
                path: self.profile.source.clone(),
                digest: self.profile.digest,
                network: self.profile.name.clone(),
            },
            mode: self.mode,
            legacy: self.legacy.as_ref().map(Side::identity),
            candidate: self.candidate.as_ref().map(Side::identity),
            env: EnvInputs { now: NowMode::Block.describe() },
            settings: RunSettings::Embedded(EmbeddedSettings { driver: "python DualRun".into(), reasons }),
            shard: None,
        }
    }

    /// Starts the run at `from`, or reopens it.
    fn start(&mut self, from: u64) -> PyResult<Run> {
        let started_unix =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let data_file = PathBuf::from(format!("python:{}", self.name));
        if !self.resume {
            let manifest = Manifest::new(self.inputs(from), data_file, started_unix);
            let writer = RunWriter::create(&self.out, &manifest).map_err(io_error)?;
            let mut run = new_run(writer, manifest, Stats::default(), self.mode, from, from);
            run.checkpoint()?;
            return Ok(run);
        }
        let old = Manifest::load(&self.out).map_err(io_error)?;
        let first = old.inputs.chain.from;
        let mut manifest = Manifest::new(self.inputs(first), data_file, old.started_unix);
        let (writer, _, checkpoint) = RunWriter::resume(&self.out, &manifest.inputs).map_err(io_error)?;
        manifest.complete = false;
        writer.write_manifest(&manifest).map_err(io_error)?;
        let (stats, next) = checkpoint.map_or((Stats::default(), first), |c| (c.stats, c.next_height));
        let mut run = new_run(writer, manifest, stats, self.mode, first, next);
        run.checkpoint()?;
        Ok(run)
    }

    fn check_height(&mut self, height: u64) -> PyResult<()> {
        if self.closed {
            return Err(PyRuntimeError::new_err(format!(
                "this DualRun is closed; its run is in {}",
                self.out.display()
            )));
        }
        if self.run.is_none() {
            let run = self.start(height)?;
            self.run = Some(run);
        }
        let run = self.run.as_ref().expect("started");
        if height != run.next_height {
            return Err(PyValueError::new_err(format!(
                "validate(height={height}): the next block of this run is at height {} (h + 1 after an accepted \
                 block h, h again after a rejected one)",
                run.next_height
            )));
        }
        Ok(())
    }

    /// Records a judged block through the run's recorder, the hook observing each record.
    fn record(&mut self, py: Python<'_>, block: &JudgedBlock<'_>, elapsed: Elapsed) -> PyResult<()> {
        // No chain database to replay from: the block becomes a golden vector (blob, context, env),
        // which `dualrun golden check` judges again.
        let out = &self.out;
        let reproduce = |height: u64| {
            let vectors = out.with_file_name(format!("vector-{height}"));
            dualrun_rundir::shell_line(&[
                "dualrun".to_owned(),
                "golden".into(),
                "record".into(),
                "--run".into(),
                out.display().to_string(),
                "--height".into(),
                height.to_string(),
                "--out".into(),
                vectors.display().to_string(),
            ])
        };
        let mut hook = Hook { py, hook: self.on_divergence.as_ref() };
        let run = self.run.as_mut().expect("started");
        run.recorder.judged(block, elapsed, reproduce, &mut hook).map_err(io_error)
    }
}

fn new_run(writer: RunWriter, manifest: Manifest, mut stats: Stats, mode: Mode, from: u64, next_height: u64) -> Run {
    stats.sessions += 1;
    Run { recorder: Recorder::new(writer, stats, mode), manifest, from, next_height, ctx: None }
}

fn parse_mode(mode: &str) -> PyResult<Mode> {
    mode.parse().map_err(|_| {
        PyValueError::new_err(format!("mode {mode:?}: expected \"legacy\", \"shadow\", \"primary\" or \"only\""))
    })
}

impl Node {
    fn validate(
        &mut self,
        py: Python<'_>,
        blob: &Bound<'_, PyAny>,
        height: u64,
        env: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Verdict> {
        let blob = crate::bytes_like(blob)?;
        let blob = blob.as_ref();
        self.check_height(height)?;
        let given = EnvArg::parse(env)?;
        let ctx = match (&given.prev_id, &self.run.as_ref().expect("started").ctx) {
            (Some(_), _) | (None, None) => given.context(height)?,
            (None, Some(ctx)) => ctx.clone(),
        };
        // Parsed, hashed and signature-checked once when the built-in candidate runs; parsed and hashed
        // only otherwise (the record and the context need the id and timestamp, not the signature).
        let prepared =
            matches!(self.candidate, Some(Side::Builtin(_))).then(|| validator::prepare(&self.profile, height, blob));
        let facts = prepared.as_ref().map_or_else(|| block_facts(blob), prepared_facts);
        let replay_env = self.profile.env(&ctx, given.now.at(facts.map(|(_, t)| t)));
        let block = Block { height, blob, prepared, env: &replay_env };
        let legacy = self.legacy.as_mut().map(|s| s.verify(py, &block)).transpose()?;
        let candidate = self.candidate.as_mut().map(|s| s.verify(py, &block)).transpose()?;
        let decision =
            decide(self.mode, legacy.as_ref().map(|a| &a.0), candidate.as_ref().map(|a| &a.0), &self.reasons);
        let block_id = id_of(facts, blob);
        let accepted = decision.authoritative.is_accept();
        let judged = JudgedBlock {
            height,
            block_id,
            stored_id: block_id,
            blob,
            env: &replay_env,
            legacy: legacy.as_ref().map(|a| &a.0),
            candidate: candidate.as_ref().map(|a| &a.0),
            decision: &decision,
            legacy_again: None,
            candidate_again: None,
        };
        let elapsed = Elapsed { legacy: legacy.as_ref().map(|a| a.1), candidate: candidate.as_ref().map(|a| a.1) };
        self.record(py, &judged, elapsed)?;
        let run = self.run.as_mut().expect("started");
        let mut ctx = ctx;
        if accepted {
            run.recorder.writer.judged_id(&block_id).map_err(io_error)?;
            advance(&mut ctx, facts, blob);
            run.next_height = height + 1;
        }
        run.ctx = Some(ctx);
        run.recorder.batch_done(run.next_height, &mut ()).map_err(io_error)?;
        // The verdict that stands, with the facts of the side it came from.
        let facts = match decision.source {
            dualrun_core::mode::Source::Legacy => legacy.as_ref().and_then(|a| a.0.facts().cloned()),
            dualrun_core::mode::Source::Candidate => candidate.as_ref().and_then(|a| a.0.facts().cloned()),
            dualrun_core::mode::Source::FailClosed => None,
        };
        Ok(Verdict { verdict: decision.authoritative, facts: facts.unwrap_or_default() })
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.run.as_ref().map(Run::stats_now).unwrap_or_default();
        let d = PyDict::new(py);
        d.set_item("mode", self.mode.as_str())?;
        d.set_item("blocks", stats.blocks)?;
        d.set_item("accepted", stats.authoritative_accept)?;
        d.set_item("rejected", stats.authoritative_reject)?;
        d.set_item("records", stats.total_records())?;
        let (divergences, errors) = (PyDict::new(py), PyDict::new(py));
        for class in RecordClass::ALL {
            let n = stats.count(class);
            if class.is_divergence() {
                divergences.set_item(class.as_str(), n)?;
            } else if class.is_error() {
                errors.set_item(class.as_str(), n)?;
            }
        }
        d.set_item("divergences", divergences)?;
        d.set_item("errors", errors)?;
        Ok(d)
    }

    fn close<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.closed {
            return Err(PyRuntimeError::new_err(format!(
                "this DualRun is closed; its run is in {}",
                self.out.display()
            )));
        }
        if self.run.is_none() {
            let run = self.start(0)?;
            self.run = Some(run);
        }
        let mut run = self.run.take().expect("started");
        self.closed = true;
        let summary = finish(&mut run)?;
        crate::to_python(py, &summary)
    }
}

/// The mode table in process, writing a run directory. Safe to share between threads: calls are taken
/// one at a time (a thread waits for another's call with the GIL released); a call from inside one of
/// its own calls on the same thread (its `on_divergence` hook calling it) is refused with a
/// `RuntimeError` saying so.
#[pyclass(module = "dualrun._native", frozen)]
pub(crate) struct DualRun {
    mode: Mode,
    out: PathBuf,
    node: Mutex<Node>,
    /// The thread inside a call, if any.
    holder: Mutex<Option<std::thread::ThreadId>>,
}

/// A DualRun's state, held for one call.
struct Held<'a> {
    node: MutexGuard<'a, Node>,
    holder: &'a Mutex<Option<std::thread::ThreadId>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *self.holder.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl DualRun {
    /// The state, for one call: at once if free; after the other thread's call (waiting with the GIL
    /// released) if another thread is in one; refused if this thread is.
    fn hold(&self, py: Python<'_>) -> PyResult<Held<'_>> {
        let me = std::thread::current().id();
        let node = match self.node.try_lock() {
            Ok(node) => node,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                if *self.holder.lock().unwrap_or_else(PoisonError::into_inner) == Some(me) {
                    return Err(PyRuntimeError::new_err(
                        "this DualRun is already in a call on this thread (its on_divergence hook called it?): a \
                         DualRun cannot be called from inside one of its own calls",
                    ));
                }
                // Wait for the other thread's call with the GIL released (it may need the GIL to finish).
                let holder = &self.holder;
                loop {
                    py.detach(|| {
                        while holder.lock().unwrap_or_else(PoisonError::into_inner).is_some() {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    });
                    match self.node.try_lock() {
                        Ok(node) => break node,
                        Err(TryLockError::Poisoned(p)) => break p.into_inner(),
                        Err(TryLockError::WouldBlock) => std::thread::yield_now(),
                    }
                }
            }
        };
        *self.holder.lock().unwrap_or_else(PoisonError::into_inner) = Some(me);
        Ok(Held { node, holder: &self.holder })
    }
}

#[pymethods]
impl DualRun {
    #[new]
    #[pyo3(signature = (legacy, candidate = None, mode = "shadow", records = None, profile = None, on_divergence = None, reasons = None, name = "python-node", resume = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        legacy: Option<&Bound<'_, PyAny>>,
        candidate: Option<&Bound<'_, PyAny>>,
        mode: &str,
        records: Option<PathBuf>,
        profile: Option<&Profile>,
        on_divergence: Option<Py<PyAny>>,
        reasons: Option<BTreeMap<String, String>>,
        name: &str,
        resume: bool,
    ) -> PyResult<Self> {
        let mode = parse_mode(mode)?;
        let out =
            records.ok_or_else(|| PyValueError::new_err("records=PATH (the run directory to write) is required"))?;
        let profile = match (profile, candidate.and_then(|c| c.cast::<LeaderValidator>().ok())) {
            (Some(p), _) => p.inner.clone(),
            (None, Some(v)) => v.get().profile.clone(),
            (None, None) => {
                return Err(PyValueError::new_err("profile= is required unless the candidate is a LeaderValidator"))
            }
        };
        let legacy = match legacy.filter(|l| !l.is_none()) {
            Some(l) if mode.runs_legacy() => Some(Side::of(py, l)?),
            Some(_) => None,
            None if mode.runs_legacy() => {
                return Err(PyValueError::new_err(format!("mode {mode} runs the legacy: give legacy=")))
            }
            None => None,
        };
        let candidate = match candidate.filter(|c| !c.is_none()) {
            _ if !mode.runs_candidate() => None,
            Some(c) => Some(Side::of(py, c)?),
            None => Some(Side::Builtin(LeaderVerifier::new(profile.clone()))),
        };
        if resume {
            if !out.join(MANIFEST).exists() {
                return Err(PyValueError::new_err(format!("resume=True: {} holds no run", out.display())));
            }
            // Read as every reader reads a run directory: a format this dualrun does not know is refused
            // here, before anything of the run is used.
            Manifest::load(&out).map_err(io_error)?;
        } else {
            RunWriter::check_empty(&out).map_err(io_error)?;
        }
        let reasons = ReasonMap::from_pairs(reasons.unwrap_or_default());
        let name = name.to_owned();
        let node = Node {
            mode,
            profile,
            legacy,
            candidate,
            on_divergence,
            reasons,
            out,
            name,
            resume,
            run: None,
            closed: false,
        };
        Ok(DualRun { mode, out: node.out.clone(), node: Mutex::new(node), holder: Mutex::new(None) })
    }

    /// The mode: `legacy`, `shadow`, `primary` or `only`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.mode.as_str()
    }

    /// The run directory.
    #[getter]
    fn records(&self) -> String {
        self.out.display().to_string()
    }

    /// Judges the block `blob` (any bytes-like object) at `height` with both sides under the mode and
    /// returns the verdict that stands. `env` (`{"prev_id", "timestamps", "now"}`) gives the chain before
    /// the block; needed for the first block above height 0, optional after (the run follows the blocks
    /// it accepts).
    #[pyo3(signature = (blob, height, env = None))]
    fn validate(
        &self,
        py: Python<'_>,
        blob: &Bound<'_, PyAny>,
        height: u64,
        env: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Verdict> {
        self.hold(py)?.node.validate(py, blob, height, env)
    }

    /// Counters so far: blocks judged, authoritative accepts and rejects, records by class.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.hold(py)?.node.stats(py)
    }

    /// Finishes the run directory (records durable, summary, file digests, complete) and returns the
    /// summary. A run closed before any block covers no heights.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.hold(py)?.node.close(py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        let mut held = self.hold(py)?;
        if !held.node.closed {
            held.node.close(py)?;
        }
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("DualRun(mode={:?}, records={:?})", self.mode.as_str(), self.out.display().to_string())
    }
}

/// Ends the run: records durable first, then the summary and the manifest's digests, then the
/// checkpoint marked complete (a kill in between leaves a run `resume=True` reopens).
fn finish(run: &mut Run) -> PyResult<Summary> {
    let stats = run.stats_now();
    run.recorder.writer.checkpoint(run.next_height, &stats, false).map_err(io_error)?;
    let mut manifest = run.manifest.clone();
    let (digest, blocks) = run.recorder.writer.judged_digest().map_err(io_error)?;
    let last = if blocks == 0 { run.from } else { run.next_height - 1 };
    let chain = &mut manifest.inputs.chain;
    (chain.to, chain.blocks, chain.chain_digest) = (last, blocks, digest);
    manifest.inputs_digest = manifest.inputs.digest();
    manifest.complete = true;
    let summary = Summary::from_stats(manifest.inputs.mode, run.from, last, &stats, true, run.next_height);
    run.recorder.writer.finish(&summary, manifest).map_err(io_error)?;
    run.recorder.writer.checkpoint(run.next_height, &stats, true).map_err(io_error)?;
    Ok(summary)
}
