//! Adapters by name. An adapter spec (`--legacy`, `--candidate`, `golden check --legacy`) names a
//! verifier; [`build`] makes it:
//!
//! | spec | verifier |
//! |---|---|
//! | `builtin:leader-v1` | [`builtin::LeaderVerifier`]: the leader protocol v1 validator, in process |
//! | `python:MODULE[:FUNCTION]` | the embedded CPython calling a function (`dualrun-adapter-python`) |
//! | `exec:COMMAND` | a child process speaking JSON lines (`dualrun-adapter-exec`) |
//! | `monerod:URL` | a scratch monerod judging by `submit_block` (`dualrun-monerod`) |
//!
//! The leader tools (`leader check`, `leader forks`) are `dualrun-leader-tools`'.

pub use dualrun_adapter_python as python;
pub use dualrun_leader::verifier as builtin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dualrun_core::Verifier;
use dualrun_leader::Profile;

/// The default legacy: the reference Python legacy verifier embedded in the binary.
pub const REFERENCE_LEGACY: &str = "python:dualrun_legacy";

/// How many times a crashed `exec:` verifier is started again before it is given up.
const EXEC_RESTARTS: u32 = 3;

/// What adapters are built with.
pub struct AdapterContext {
    /// The network profile (the built-in verifier judges with it).
    pub profile: Arc<Profile>,
    /// How long one `verify` may take.
    pub timeout: Duration,
    /// The embedded Python's module path, in order.
    pub python_path: Vec<PathBuf>,
    /// The run directory (adapters write their own logs there).
    pub log_dir: PathBuf,
}

/// A spec that names no verifier, or one that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("--{role} {spec}: {message}")]
pub struct AdapterError {
    /// `legacy` or `candidate`.
    pub role: String,
    /// The spec as given.
    pub spec: String,
    /// What went wrong.
    pub message: String,
}

/// Builds the verifier `spec` names, for `role` (`legacy` or `candidate`, for messages).
pub fn build(spec: &str, role: &str, ctx: &AdapterContext) -> Result<Box<dyn Verifier>, AdapterError> {
    let fail = |message: String| AdapterError { role: role.into(), spec: spec.into(), message };
    let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "builtin" if rest == "leader-v1" => Ok(Box::new(builtin::LeaderVerifier::new(ctx.profile.clone()))),
        "builtin" => Err(fail(format!("the only built-in verifier is {}", builtin::SPEC))),
        "python" => dualrun_adapter_python::PythonVerifier::load(rest, &ctx.python_path, ctx.timeout)
            .map(|v| Box::new(v) as Box<dyn Verifier>)
            .map_err(|e| fail(e.to_string())),
        "monerod" => dualrun_monerod::MonerodVerifier::connect(rest, ctx.timeout, Duration::from_secs(30))
            .map(|v| Box::new(v) as Box<dyn Verifier>)
            .map_err(|e| fail(e.to_string())),
        "exec" => {
            dualrun_adapter_exec::ExecVerifier::start(rest, ctx.timeout, ctx.log_dir.join("run.log"), EXEC_RESTARTS)
                .map(|v| Box::new(v) as Box<dyn Verifier>)
                .map_err(|e| fail(e.to_string()))
        }
        _ => Err(fail(
            "unknown adapter; expected python:MODULE[:FUNCTION], exec:COMMAND, monerod:URL or builtin:leader-v1".into(),
        )),
    }
}
