//! `python:MODULE[:FUNCTION]`: a verifier written in Python, called in process.
//!
//! CPython is embedded through pyo3 — Debian's python3.11, pinned at build time (see
//! docs/python-embedding.md) and started isolated (no PYTHON* environment variables, no user site), so
//! the same binary sees the same interpreter and module path on every machine. Directories from
//! `--python-path` come first on `sys.path`.
//!
//! The function is called as `verify_block(block, env)` with two dicts (a function that parses the blob
//! itself sets `verify_block.dualrun_wants_fields = False`: the parsed-field keys are then None) and
//! answers `True`/`False` or
//! `{"verdict": "accept"|"reject", "reason": str, "detail": str, "facts": {str: str}}`. An exception is a
//! `crash` error carrying the traceback; any other answer a `protocol` error.
//!
//! **Stuck calls.** Calls run on a dedicated interpreter thread; the replay waits at most `--timeout`
//! for each. On a timeout the block gets a `timeout` error and a `TimeoutError` is raised inside the
//! stuck call (`PyThreadState_SetAsyncExc`, from a helper thread so the replay never waits for the
//! GIL). If the call unwinds within a grace period the adapter carries on with the next block; if it
//! does not (it is blocked in C code), the adapter is declared stuck: every later block gets a
//! `timeout` error at once, naming the height where it stopped answering, and the replay goes on and
//! ends normally. dualrun never waits on a stuck Python call and never finalizes the interpreter.
//!
//! **Hand-offs.** The pipeline says which blocks come next ([`Verifier::upcoming`]); they are queued
//! for the interpreter thread at once, so it calls the function back to back instead of sleeping
//! between blocks (a thread hand-off each way per block cost more than the reference legacy's own
//! work). Each call still starts only when the one before it returned, its answer is still waited
//! for with the timeout, and queued calls are dropped, not run, once the run no longer wants them
//! (an exit attempt, a block asked for out of turn, the adapter dropped).

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dualrun_core::{
    BlockInput, CallWatch, ErrorKind, ReplayEnv, Verifier, VerifierError, VerifierIdentity, VerifierOutcome,
};
use dualrun_python_answer::{format_exception, interpret, EnvDicts};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use pyo3::PyTypeInfo;

/// How long a timed-out call gets to unwind after `TimeoutError` is raised in it.
const GRACE: Duration = Duration::from_secs(2);

/// Why a `python:` verifier could not be loaded.
#[derive(Debug)]
pub struct PythonError(pub String);

impl std::fmt::Display for PythonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PythonError {}

/// Why the embedded interpreter did not start (kept: every later load is refused the same way).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum InitError {
    /// The build-time installation's home could not be set in the interpreter's config.
    #[error("could not set the embedded Python's home")]
    Home,
    /// `Py_InitializeFromConfig` failed.
    #[error("the embedded Python ({python}) did not start: {message}")]
    Start {
        /// The interpreter built against (`PYO3_PYTHON`).
        python: &'static str,
        /// CPython's error message (`unknown error` when it gives none).
        message: String,
    },
}

/// Starts the embedded interpreter once: isolated, with the build-time installation's home.
fn init() -> Result<(), PythonError> {
    static INIT: OnceLock<Result<(), InitError>> = OnceLock::new();
    INIT.get_or_init(|| unsafe {
        use pyo3::ffi;
        if ffi::Py_IsInitialized() != 0 {
            return Ok(());
        }
        let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::uninit();
        ffi::PyConfig_InitIsolatedConfig(config.as_mut_ptr());
        let mut config = config.assume_init();
        let home = CString::new(env!("DUALRUN_PYTHON_HOME")).expect("no NUL");
        let status = ffi::PyConfig_SetBytesString(&mut config, &mut config.home, home.as_ptr());
        if ffi::PyStatus_Exception(status) != 0 {
            ffi::PyConfig_Clear(&mut config);
            return Err(InitError::Home);
        }
        config.install_signal_handlers = 0;
        let status = ffi::Py_InitializeFromConfig(&config);
        ffi::PyConfig_Clear(&mut config);
        if ffi::PyStatus_Exception(status) != 0 {
            let message = if status.err_msg.is_null() {
                "unknown error".to_owned()
            } else {
                std::ffi::CStr::from_ptr(status.err_msg).to_string_lossy().into_owned()
            };
            return Err(InitError::Start { python: env!("DUALRUN_PYTHON"), message });
        }
        // Let other threads take the GIL.
        ffi::PyEval_SaveThread();
        Ok(())
    })
    .clone()
    .map_err(|e| PythonError(e.to_string()))?;
    // The loader must have found the libpython we were built against.
    let running = Python::attach(|_py| Python::version_str().split_whitespace().next().unwrap_or("").to_owned());
    if running != env!("DUALRUN_PYTHON_VERSION") {
        return Err(PythonError(format!(
            "dualrun was built against Python {} ({}) but loaded libpython {running}",
            env!("DUALRUN_PYTHON_VERSION"),
            env!("DUALRUN_PYTHON")
        )));
    }
    Ok(())
}

/// Runs `script` in the embedded interpreter — the one a `python:` verifier runs in — with `sys.argv`
/// set to `argv`, and returns `str()` of the global `result` it leaves. Benchmarks time a bare loop
/// here, so that the adapter's own cost is told apart from the interpreter's build.
pub fn run_embedded(script: &std::ffi::CStr, argv: &[String]) -> Result<String, PythonError> {
    init()?;
    Python::attach(|py| -> PyResult<String> {
        py.import("sys")?.setattr("argv", argv.to_vec())?;
        let globals = PyDict::new(py);
        py.run(script, Some(&globals), None)?;
        let result = globals.get_item("result")?.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err("result"))?;
        Ok(result.str()?.to_string())
    })
    .map_err(|e| Python::attach(|py| PythonError(format_exception(py, &e))))
}

struct Request {
    seq: u64,
    block: BlockInput,
    env: ReplayEnv,
}

struct Response {
    seq: u64,
    outcome: VerifierOutcome,
    /// How long the call took on the interpreter thread.
    took: Duration,
    /// The call raised `SystemExit` (`sys.exit`, or `os._exit` refused): what it tried.
    exit_attempt: Option<String>,
}

/// The loaded function, living on its interpreter thread.
struct Loaded {
    function: Py<PyAny>,
}

fn block_dict<'py>(py: Python<'py>, b: &BlockInput) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "height"), b.height)?;
    d.set_item(intern!(py, "blob"), PyBytes::new(py, &b.blob))?;
    match &b.fields {
        Some(f) => {
            d.set_item(intern!(py, "major_version"), f.major_version)?;
            d.set_item(intern!(py, "minor_version"), f.minor_version)?;
            d.set_item(intern!(py, "timestamp"), f.timestamp)?;
            d.set_item(intern!(py, "prev_id"), f.prev_id.to_string())?;
            d.set_item(intern!(py, "nonce"), f.nonce)?;
            let m = PyDict::new(py);
            m.set_item(intern!(py, "version"), f.miner_tx.version)?;
            m.set_item(intern!(py, "unlock_time"), f.miner_tx.unlock_time)?;
            m.set_item(intern!(py, "gen_height"), f.miner_tx.gen_height)?;
            let outs = PyList::empty(py);
            for o in &f.miner_tx.outputs {
                let od = PyDict::new(py);
                od.set_item(intern!(py, "amount"), o.amount)?;
                od.set_item(intern!(py, "key"), o.key.to_string())?;
                od.set_item(intern!(py, "view_tag"), o.view_tag)?;
                outs.append(od)?;
            }
            m.set_item(intern!(py, "outputs"), outs)?;
            m.set_item(intern!(py, "extra"), PyBytes::new(py, &f.miner_tx.extra))?;
            d.set_item(intern!(py, "miner_tx"), m)?;
            d.set_item(intern!(py, "tx_hashes"), f.tx_hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
        }
        None => {
            for k in [
                intern!(py, "major_version"),
                intern!(py, "minor_version"),
                intern!(py, "timestamp"),
                intern!(py, "prev_id"),
                intern!(py, "nonce"),
                intern!(py, "miner_tx"),
                intern!(py, "tx_hashes"),
            ] {
                d.set_item(k, py.None())?;
            }
        }
    }
    Ok(d)
}

/// The call the interpreter thread is running (0 = none). Written and read only with the GIL held, so
/// a `TimeoutError` is raised only into the call it was meant for.
type RunningCall = Arc<AtomicU64>;

/// Queued calls up to this sequence number are dropped, not run (`u64::MAX`: none is run any more).
type DropThrough = Arc<AtomicU64>;

/// Answers the interpreter thread has finished, oldest first. It wakes the waiting replay only every
/// [`Answers::WAKE_EVERY`] answers, or when it has nothing more queued: a wake-up is a cross-CPU
/// interrupt, and one per block cost the reference legacy a large part of its time. A waiter never
/// misses an answer (it reads the queue itself at its deadline and at least every [`Answers::POLL`]).
#[derive(Default)]
struct Answers {
    done: Mutex<VecDeque<Response>>,
    ready: Condvar,
}

impl Answers {
    const WAKE_EVERY: usize = 64;
    const POLL: Duration = Duration::from_millis(5);

    /// Adds an answer; wakes the waiter if `wake` or enough answers wait.
    fn push(&self, r: Response, wake: bool) {
        let mut done = self.done.lock().expect("the answers lock");
        done.push_back(r);
        let wake = wake || done.len() >= Self::WAKE_EVERY;
        drop(done);
        if wake {
            self.ready.notify_one();
        }
    }

    fn wake(&self) {
        self.ready.notify_one();
    }

    /// The answer to call `seq` (answers to earlier calls, timed out, are dropped), waiting until
    /// `deadline` at most.
    fn take(&self, seq: u64, deadline: Instant) -> Option<Response> {
        let mut done = self.done.lock().expect("the answers lock");
        loop {
            while done.front().is_some_and(|r| r.seq < seq) {
                done.pop_front();
            }
            if done.front().is_some_and(|r| r.seq == seq) {
                return done.pop_front();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            done = self.ready.wait_timeout(done, left.min(Self::POLL)).expect("the answers lock").0;
        }
    }
}

fn interpreter_thread(
    loaded: Loaded,
    requests: Receiver<Request>,
    answers: Arc<Answers>,
    running: RunningCall,
    drop_through: DropThrough,
    watch: Arc<OnceLock<Arc<dyn CallWatch>>>,
    ident: i64,
) {
    // One attach for the thread's life, the GIL released while it waits for the next block: attaching
    // per call would create and delete the thread's Python state (and its frame stack) every block.
    // (A Receiver is not Sync: the wait, off the GIL, borrows it through a Mutex only this thread locks.)
    let requests = std::sync::Mutex::new(requests);
    Python::attach(|py| {
        let mut envs = EnvDicts::default();
        let next = |py: Python<'_>| {
            let queued = requests.lock().expect("only this thread locks it").try_recv();
            match queued {
                Ok(req) => Some(req),
                Err(TryRecvError::Disconnected) => None,
                Err(TryRecvError::Empty) => {
                    // Nothing more queued: the replay gets every answer before this thread sleeps.
                    answers.wake();
                    py.detach(|| requests.lock().expect("only this thread locks it").recv().ok())
                }
            }
        };
        while let Some(req) = next(py) {
            if req.seq <= drop_through.load(Ordering::SeqCst) {
                continue;
            }
            let height = req.block.height;
            if let Some(w) = watch.get() {
                w.calling(height);
            }
            running.store(req.seq, Ordering::SeqCst);
            let started = Instant::now();
            let mut call = || -> PyResult<Bound<'_, PyAny>> {
                let block = block_dict(py, &req.block)?;
                let env = envs.dict(py, &req.env)?;
                loaded.function.bind(py).call1((block, env))
            };
            let mut exit_attempt = None;
            let outcome = match call() {
                Ok(answer) => interpret(&answer),
                Err(e) => {
                    if e.is_instance_of::<pyo3::exceptions::PySystemExit>(py) {
                        exit_attempt = Some(describe_exit(py, &e));
                    }
                    VerifierOutcome::Error(VerifierError::new(ErrorKind::Crash, format_exception(py, &e)))
                }
            };
            running.store(0, Ordering::SeqCst);
            if let Some(w) = watch.get() {
                w.returned(height);
            }
            // Drop a TimeoutError aimed at this call that did not fire before it returned.
            unsafe {
                pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, std::ptr::null_mut());
            }
            // After an exit attempt the run stops at this block: nothing queued behind it may run.
            let stop = exit_attempt.is_some();
            answers.push(Response { seq: req.seq, outcome, took: started.elapsed(), exit_attempt }, stop);
            if stop {
                drop_through.store(u64::MAX, Ordering::SeqCst);
                return;
            }
        }
    });
}

/// Replaces `os._exit` (and `posix._exit`) in the embedded interpreter with a function that raises
/// `LegacyTriedToExit`, a `SystemExit`: both ways out then unwind to the adapter, which stops the run.
const EXIT_GUARD: &std::ffi::CStr = c"
import os as _os, posix as _posix
class LegacyTriedToExit(SystemExit):
    'The legacy called os._exit: refused; dualrun stops the run at this block.'
def _dualrun_refuse_exit(code=0):
    raise LegacyTriedToExit(f'os._exit({code!r})')
_os._exit = _dualrun_refuse_exit
_posix._exit = _dualrun_refuse_exit
";

/// `os._exit(0)` or `sys.exit(3)`: what a `SystemExit` says was tried.
fn describe_exit(py: Python<'_>, e: &PyErr) -> String {
    let value = e.value(py);
    if value.get_type().name().is_ok_and(|n| n == "LegacyTriedToExit") {
        return value.str().map(|s| s.to_string()).unwrap_or_else(|_| "os._exit".into());
    }
    match value.getattr("code") {
        Ok(code) if code.is_none() => "sys.exit()".into(),
        Ok(code) => format!("sys.exit({})", code.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into())),
        Err(_) => "sys.exit".into(),
    }
}

/// The adapter.
pub struct PythonVerifier {
    spec: String,
    identity: VerifierIdentity,
    requests: Sender<Request>,
    answers: Arc<Answers>,
    /// How long the last answered call took on the interpreter thread.
    took: Option<Duration>,
    /// The interpreter thread's `threading.get_ident()`, to raise `TimeoutError` in it.
    thread_ident: i64,
    running: RunningCall,
    drop_through: DropThrough,
    /// Told about each call on the interpreter thread, once set ([`Verifier::watch_calls`]).
    watch: Arc<OnceLock<Arc<dyn CallWatch>>>,
    /// Calls queued ahead ([`Verifier::upcoming`]): each block's height and sequence number, in order.
    queued: VecDeque<(u64, u64)>,
    timeout: Duration,
    seq: u64,
    /// The height at which a call never came back.
    stuck_at: Option<u64>,
    /// The last call tried to end the process.
    exit_attempt: Option<String>,
    /// The function reads the parsed fields (unless it says `dualrun_wants_fields = False`).
    wants_fields: bool,
}

/// Keccak-256 digests of the module's source files (a package: every .py file beside __init__.py).
fn source_digests(file: &Path) -> BTreeMap<String, String> {
    let files: Vec<PathBuf> = if file.file_name().is_some_and(|n| n == "__init__.py") {
        let mut v: Vec<PathBuf> = std::fs::read_dir(file.parent().unwrap_or(Path::new(".")))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "py"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    } else {
        vec![file.to_path_buf()]
    };
    files
        .into_iter()
        .filter_map(|p| {
            std::fs::read(&p).ok().map(|b| (p.display().to_string(), dualrun_format::keccak256(&b).to_string()))
        })
        .collect()
}

impl PythonVerifier {
    /// Loads `function` (default: `verify_block`) of `module`, with `python_path` first on `sys.path`;
    /// `spec` (the adapter spec `python:MODULE[:FUNCTION]` as given) names it in messages and the manifest.
    pub fn load(
        spec: &str,
        module: &str,
        function: Option<&str>,
        python_path: &[PathBuf],
        timeout: Duration,
    ) -> Result<PythonVerifier, PythonError> {
        let (module, function) = (module.to_owned(), function.unwrap_or("verify_block").to_owned());
        init()?;
        let spec = spec.to_owned();
        let (loaded, identity, wants_fields) = Python::attach(|py| -> Result<_, PythonError> {
            let sys = py.import("sys").map_err(|e| PythonError(format_exception(py, &e)))?;
            let path = sys.getattr("path").and_then(|p| p.cast_into::<PyList>().map_err(Into::into));
            let path = path.map_err(|e| PythonError(format_exception(py, &e)))?;
            for (i, dir) in python_path.iter().enumerate() {
                path.insert(i, dir.display().to_string()).map_err(|e| PythonError(format_exception(py, &e)))?;
            }
            // A legacy must not end the process (a verifier that vanishes would look like a clean run):
            // os._exit raises instead, like sys.exit, and the adapter stops the run at that block.
            py.run(EXIT_GUARD, None, None).map_err(|e| PythonError(format_exception(py, &e)))?;
            let m = py.import(module.as_str()).map_err(|e| {
                let searched: Vec<String> = path.extract().unwrap_or_default();
                PythonError(format!(
                    "{spec}: cannot import module {module:?}: {}\n  searched: {}",
                    format_exception(py, &e).trim_end(),
                    searched.join(", ")
                ))
            })?;
            let f = m
                .getattr(function.as_str())
                .map_err(|_| PythonError(format!("{spec}: module {module:?} has no {function:?}")))?;
            if !f.is_callable() {
                return Err(PythonError(format!("{spec}: {module}.{function} is not callable")));
            }
            let file: Option<String> = m.getattr("__file__").ok().and_then(|f| f.extract().ok());
            // A module may describe itself (`DESCRIPTION`, or at least `VERSION`) for the manifest.
            let said = |attr: &str| -> Option<String> { m.getattr(attr).ok().and_then(|v| v.extract().ok()) };
            let about = said("DESCRIPTION").or_else(|| said("VERSION").map(|v| format!("version {v}")));
            let identity = VerifierIdentity {
                spec: spec.clone(),
                description: format!(
                    "{module}.{function}{} on embedded Python {}",
                    about.map(|a| format!(": {a},")).unwrap_or_default(),
                    env!("DUALRUN_PYTHON_VERSION")
                ),
                files: file.as_deref().map(|f| source_digests(Path::new(f))).unwrap_or_default(),
            };
            // A function that parses the blob itself may say it reads no parsed fields; the block dict then
            // has them as None and the pipeline does not build them.
            let wants_fields =
                f.getattr("dualrun_wants_fields").ok().and_then(|v| v.extract::<bool>().ok()).unwrap_or(true);
            Ok((Loaded { function: f.unbind() }, identity, wants_fields))
        })?;
        let (req_tx, req_rx) = channel::<Request>();
        let answers = Arc::new(Answers::default());
        let answers_there = answers.clone();
        let (ident_tx, ident_rx) = channel::<i64>();
        let running: RunningCall = Arc::new(AtomicU64::new(0));
        let drop_through: DropThrough = Arc::new(AtomicU64::new(0));
        let watch = Arc::new(OnceLock::new());
        let (running_there, drop_through_there, watch_there) = (running.clone(), drop_through.clone(), watch.clone());
        std::thread::Builder::new()
            .name("dualrun-python".into())
            .spawn(move || {
                let ident = Python::attach(|py| {
                    py.import("threading")
                        .and_then(|t| t.call_method0("get_ident"))
                        .and_then(|i| i.extract::<i64>())
                        .unwrap_or(0)
                });
                let _ = ident_tx.send(ident);
                interpreter_thread(
                    loaded,
                    req_rx,
                    answers_there,
                    running_there,
                    drop_through_there,
                    watch_there,
                    ident,
                );
            })
            .map_err(|e| PythonError(format!("cannot start the Python thread: {e}")))?;
        let thread_ident = ident_rx.recv().map_err(|_| PythonError("the Python thread died at start".into()))?;
        Ok(PythonVerifier {
            spec,
            identity,
            requests: req_tx,
            answers,
            took: None,
            thread_ident,
            running,
            drop_through,
            watch,
            queued: VecDeque::new(),
            timeout,
            seq: 0,
            stuck_at: None,
            exit_attempt: None,
            wants_fields,
        })
    }

    /// Raises `TimeoutError` in call `seq` if it is still running, from a helper thread (getting the
    /// GIL may wait).
    fn interrupt_call(&self, seq: u64) {
        let (ident, running) = (self.thread_ident, self.running.clone());
        let _ = std::thread::Builder::new().name("dualrun-python-interrupt".into()).spawn(move || {
            Python::attach(|py| unsafe {
                if running.load(Ordering::SeqCst) == seq {
                    let exc = pyo3::exceptions::PyTimeoutError::type_object_raw(py) as *mut pyo3::ffi::PyObject;
                    pyo3::ffi::PyThreadState_SetAsyncExc(ident as _, exc);
                }
            });
        });
    }

    /// Queues a call; its sequence number, or `None` if the interpreter thread is gone.
    fn send(&mut self, block: &BlockInput, env: &ReplayEnv) -> Option<u64> {
        self.seq += 1;
        let seq = self.seq;
        self.requests.send(Request { seq, block: block.clone(), env: env.clone() }).ok().map(|()| seq)
    }

    /// The call for `block`: the one queued for it if it is next in the queue; otherwise the queue is
    /// dropped (the pipeline asked out of turn) and a call is queued now.
    fn call_for(&mut self, block: &BlockInput, env: &ReplayEnv) -> Option<u64> {
        match self.queued.pop_front() {
            Some((height, seq)) if height == block.height => Some(seq),
            Some(_) => {
                self.queued.clear();
                self.drop_through.fetch_max(self.seq, Ordering::SeqCst);
                self.send(block, env)
            }
            None => self.send(block, env),
        }
    }

    /// Waits at most `limit` for the answer to call `seq`, dropping late answers to earlier (timed-out)
    /// calls.
    fn wait_for(&mut self, seq: u64, limit: Duration) -> Option<VerifierOutcome> {
        let r = self.answers.take(seq, Instant::now() + limit)?;
        self.exit_attempt = r.exit_attempt;
        self.took = Some(r.took);
        Some(r.outcome)
    }
}

impl Verifier for PythonVerifier {
    fn identity(&self) -> VerifierIdentity {
        self.identity.clone()
    }

    fn stop_reason(&mut self) -> Option<String> {
        self.exit_attempt.take().map(|tried| format!("{} called {tried}", self.spec))
    }

    fn wants_fields(&self) -> bool {
        self.wants_fields
    }

    fn took(&self) -> Option<Duration> {
        self.took
    }

    fn watch_calls(&mut self, watch: Arc<dyn CallWatch>) -> bool {
        // Set once, before the first call; a second watcher is refused (the first keeps marking).
        self.watch.set(watch).is_ok()
    }

    fn upcoming(&mut self, blocks: &[(&BlockInput, &ReplayEnv)]) {
        if self.stuck_at.is_some() {
            return;
        }
        for (block, env) in blocks {
            match self.send(block, env) {
                Some(seq) => self.queued.push_back((block.height, seq)),
                None => return,
            }
        }
    }

    fn verify(
        &mut self,
        block: &BlockInput,
        _prepared: Option<Box<dyn Any + Send>>,
        env: &ReplayEnv,
    ) -> VerifierOutcome {
        self.took = None;
        if let Some(h) = self.stuck_at {
            return VerifierOutcome::Error(VerifierError::new(
                ErrorKind::Timeout,
                format!("{}: not called: its call for height {h} never returned", self.spec),
            ));
        }
        let Some(seq) = self.call_for(block, env) else {
            return VerifierOutcome::Error(VerifierError::new(
                ErrorKind::Crash,
                format!("{}: the Python thread is gone", self.spec),
            ));
        };
        match self.wait_for(seq, self.timeout) {
            Some(outcome) => outcome,
            None => {
                self.interrupt_call(seq);
                let recovered = self.wait_for(seq, GRACE).is_some();
                if !recovered {
                    self.stuck_at = Some(block.height);
                    tracing::error!(height = block.height, spec = %self.spec, "Python call stuck; the adapter is not called again");
                }
                VerifierOutcome::Error(VerifierError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{}: no answer within {:.1} s{}",
                        self.spec,
                        self.timeout.as_secs_f64(),
                        if recovered {
                            " (interrupted with TimeoutError)"
                        } else {
                            "; the call is stuck, the adapter is disabled"
                        }
                    ),
                ))
            }
        }
    }
}

impl Drop for PythonVerifier {
    /// Calls still queued are not run: nobody waits for their answers.
    fn drop(&mut self) {
        self.drop_through.store(u64::MAX, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_messages() {
        assert_eq!(InitError::Home.to_string(), "could not set the embedded Python's home");
        let start = InitError::Start { python: "/usr/bin/python3.11", message: "unknown error".into() };
        assert_eq!(start.to_string(), "the embedded Python (/usr/bin/python3.11) did not start: unknown error");
    }
}
