//! Building verifiers from adapter specs: `builtin:leader-v1`, `python:MODULE[:FUNCTION]`,
//! `exec:COMMAND`, `monerod:URL`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use dualrun_core::Verifier;
use dualrun_leader::Profile;

/// The default legacy: the reference Python legacy verifier embedded in the binary.
pub const REFERENCE_LEGACY: &str = "python:dualrun_legacy";

/// How many times a crashed `exec:` verifier is started again before it is given up.
const EXEC_RESTARTS: u32 = 3;

pub struct AdapterContext {
    pub profile: Arc<Profile>,
    pub timeout: Duration,
    pub python_path: Vec<PathBuf>,
    /// The run directory (adapters write their own logs there).
    pub log_dir: PathBuf,
}

pub fn build(spec: &str, role: &str, ctx: &AdapterContext) -> Result<Box<dyn Verifier>> {
    let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "builtin" if rest == "leader-v1" => Ok(Box::new(dualrun_replay::builtin::LeaderVerifier::new(ctx.profile.clone()))),
        "builtin" => bail!("--{role} {spec}: the only built-in verifier is builtin:leader-v1"),
        "python" => {
            // The user's directories first, then the embedded reference legacy.
            let mut path = ctx.python_path.clone();
            path.push(crate::embedded::legacy_python_path()?);
            let v = dualrun_adapter_python::PythonVerifier::load(rest, &path, ctx.timeout)
                .map_err(|e| anyhow::anyhow!("--{role} {spec}: {e}"))?;
            Ok(Box::new(v))
        }
        "monerod" => {
            let v = dualrun_monerod::MonerodVerifier::connect(rest, ctx.timeout, Duration::from_secs(30))
                .map_err(|e| anyhow::anyhow!("--{role} {spec}: {e}"))?;
            Ok(Box::new(v))
        }
        "exec" => {
            let v = dualrun_adapter_exec::ExecVerifier::start(rest, ctx.timeout, ctx.log_dir.join("run.log"), EXEC_RESTARTS)
                .map_err(|e| anyhow::anyhow!("--{role}: {e}"))?;
            Ok(Box::new(v))
        }
        _ => bail!(
            "--{role} {spec:?}: unknown adapter; expected python:MODULE[:FUNCTION], exec:COMMAND, monerod:URL or builtin:leader-v1"
        ),
    }
}
