//! Adapters by name. An adapter spec (`--legacy`, `--candidate`, `golden check --legacy`) names a
//! verifier, parsed once into an [`AdapterSpec`]; [`build`] makes it:
//!
//! | spec | verifier |
//! |---|---|
//! | `builtin:leader-v1` | [`builtin::LeaderVerifier`]: the leader protocol v1 validator, in process |
//! | `python:MODULE[:FUNCTION]` | the embedded CPython calling a function (`dualrun-adapter-python`) |
//! | `exec:COMMAND` | a child process speaking JSON lines (`dualrun-adapter-exec`) |
//! | `monerod:URL` | a scratch monerod judging by `submit_block` (`dualrun-monerod`) |
//!
//! The leader tools (`leader check`, `leader forks`) are `dualrun-leader-tools`'.

mod spec;

pub use dualrun_adapter_python as python;
pub use dualrun_leader::verifier as builtin;
pub use spec::{AdapterSpec, SpecError};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dualrun_core::Verifier;
use dualrun_leader::Profile;

/// The default legacy: the reference Python legacy verifier embedded in the binary.
pub const REFERENCE_LEGACY: &str = "python:dualrun_legacy";

/// [`REFERENCE_LEGACY`], parsed.
pub fn reference_legacy() -> AdapterSpec {
    AdapterSpec::Python { module: "dualrun_legacy".into(), function: None }
}

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

/// A verifier that could not be started.
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
pub fn build(spec: &AdapterSpec, role: &str, ctx: &AdapterContext) -> Result<Box<dyn Verifier>, AdapterError> {
    let text = spec.to_string();
    let fail =
        |e: &dyn std::fmt::Display| AdapterError { role: role.into(), spec: text.clone(), message: e.to_string() };
    match spec {
        AdapterSpec::Builtin => Ok(Box::new(builtin::LeaderVerifier::new(ctx.profile.clone()))),
        AdapterSpec::Python { module, function } => dualrun_adapter_python::PythonVerifier::load(
            &text,
            module,
            function.as_deref(),
            &ctx.python_path,
            ctx.timeout,
        )
        .map(|v| Box::new(v) as Box<dyn Verifier>)
        .map_err(|e| fail(&e)),
        AdapterSpec::Monerod(url) => {
            dualrun_monerod::MonerodVerifier::connect(url, ctx.timeout, Duration::from_secs(30))
                .map(|v| Box::new(v) as Box<dyn Verifier>)
                .map_err(|e| fail(&e))
        }
        AdapterSpec::Exec(command) => {
            dualrun_adapter_exec::ExecVerifier::start(command, ctx.timeout, ctx.log_dir.join("run.log"), EXEC_RESTARTS)
                .map(|v| Box::new(v) as Box<dyn Verifier>)
                .map_err(|e| fail(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reference_legacy_is_its_spec() {
        assert_eq!(super::reference_legacy().to_string(), super::REFERENCE_LEGACY);
        assert_eq!(super::REFERENCE_LEGACY.parse(), Ok(super::reference_legacy()));
    }
}
