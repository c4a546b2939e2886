//! One module per command group. Each parses its arguments, calls the library and prints.

pub(crate) mod block;
pub(crate) mod chain;
pub(crate) mod gate;
pub(crate) mod golden;
pub(crate) mod keygen;
pub(crate) mod leader;
pub(crate) mod replay;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use dualrun_adapters::AdapterContext;
use dualrun_leader::Profile;

/// The context adapters are built in: the user's Python directories first, then the embedded
/// reference legacy's.
pub(crate) fn adapter_context(
    profile: Arc<Profile>,
    timeout: Duration,
    python_path: &[PathBuf],
    log_dir: PathBuf,
) -> Result<AdapterContext> {
    let mut python_path = python_path.to_vec();
    python_path.push(crate::embedded::legacy_python_path()?);
    Ok(AdapterContext { profile, timeout, python_path, log_dir })
}
