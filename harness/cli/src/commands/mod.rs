//! One module per command group. Each parses its arguments, calls the library and prints.

pub(crate) mod block;
pub(crate) mod chain;
pub(crate) mod fleet;
pub(crate) mod follow;
pub(crate) mod gate;
pub(crate) mod golden;
pub(crate) mod keygen;
pub(crate) mod leader;
pub(crate) mod merge;
pub(crate) mod net;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
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
    python_path.push(dualrun_sample::legacy_python_path()?);
    Ok(AdapterContext { profile, timeout, python_path, log_dir })
}

/// `--trusted-key HEX` values as Ed25519 public keys.
pub(crate) fn trusted_keys(hex_keys: &[String]) -> Result<Vec<ed25519_dalek::VerifyingKey>> {
    hex_keys
        .iter()
        .map(|h| {
            let b: [u8; 32] = hex::decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("--trusted-key {h}: not 32 bytes of hex"))?;
            ed25519_dalek::VerifyingKey::from_bytes(&b)
                .with_context(|| format!("--trusted-key {h}: not an Ed25519 key"))
        })
        .collect()
}

/// Starts the `/metrics` endpoint when `--metrics ADDR` was given.
pub(crate) fn serve_metrics(
    addr: Option<&str>,
    mode: dualrun_core::Mode,
) -> Result<Option<Arc<dualrun_metrics::Metrics>>> {
    let Some(addr) = addr else { return Ok(None) };
    let metrics = Arc::new(dualrun_metrics::Metrics::new(mode));
    let server = dualrun_metrics::serve(addr, metrics.clone())?;
    eprintln!("dualrun: metrics at http://{}/metrics", server.local_addr());
    Ok(Some(metrics))
}
