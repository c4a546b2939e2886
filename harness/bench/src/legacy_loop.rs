//! The ceiling of a legacy-only replay with the reference Python legacy: `dualrun_legacy.verify_block`
//! called in a bare loop on the same blocks, with every argument built before the clock starts — by
//! Debian's `/usr/bin/python3.11`, and by the same CPython embedded as a `python:` verifier gets it (its
//! shared `libpython3.11.so`, which runs this loop about a tenth slower than the statically linked
//! executable). What a replay adds on top of the embedded loop — reading the chain, building the dicts,
//! handing them to the interpreter thread, recording — is the adapter's own cost.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Reads the blobs, builds each block's `block` (what the function reads of it: height and blob) and
/// `env` as a replay does (the previous id and the 60 timestamps before it, `now` the block's own
/// timestamp), then times the calls only.
const LOOP: &str = r#"
import sys, time
sys.path.insert(0, sys.argv[2])
import dualrun_legacy
from dualrun_legacy.chain import parse_block, block_id
blobs = [bytes.fromhex(line) for line in open(sys.argv[1])]
calls, prev, window = [], None, []
for height, blob in enumerate(blobs):
    p = parse_block(blob)
    block = {"height": height, "blob": blob}
    env = {"now": p.timestamp, "network_name": "bench", "network_id": "00" * 16, "genesis_id": "00" * 32,
           "activation_height": 1, "prev_id": prev, "timestamps": list(window)}
    calls.append((block, env))
    prev = block_id(blob, p).hex()
    window = (window + [p.timestamp])[-60:]
verify = dualrun_legacy.verify_block
best = None
for _ in range(3):
    t = time.perf_counter()
    for block, env in calls:
        verify(block, env)
    took = time.perf_counter() - t
    best = took if best is None else min(best, took)
result = len(calls) / best
print(result)
"#;

/// The bare loop over the blobs of heights `0..n` of a chain, ready to be timed.
pub(crate) struct BareLoop {
    blobs: PathBuf,
    legacy_dir: PathBuf,
}

impl BareLoop {
    /// Writes the blobs of heights `0..n` of `chain` for the loop (into `work`).
    pub(crate) fn prepare(chain: &Path, n: u64, work: &Path) -> Result<BareLoop> {
        let db = dualrun_chaindb::ChainDb::open(chain)?;
        let txn = db.read_txn()?;
        let mut hex_lines = String::new();
        for raw in db.blocks(&txn, 0, n - 1)? {
            hex_lines.push_str(&hex::encode(raw?.blob));
            hex_lines.push('\n');
        }
        let blobs = work.join("legacy-loop-blobs.hex");
        std::fs::write(&blobs, hex_lines)?;
        Ok(BareLoop { blobs, legacy_dir: crate::workspace_target().join("../../adapters/python") })
    }

    /// Blocks per second of the loop run by `/usr/bin/python3.11`, best of three.
    pub(crate) fn executable_rate(&self) -> Result<f64> {
        let out = Command::new("/usr/bin/python3.11")
            .args(["-I", "-c", LOOP])
            .arg(&self.blobs)
            .arg(&self.legacy_dir)
            .output()
            .context("running /usr/bin/python3.11")?;
        if !out.status.success() {
            bail!("the bare Python loop failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse().with_context(|| format!("the bare Python loop printed {text:?}"))
    }

    /// Blocks per second of the loop in the embedded interpreter, best of three.
    pub(crate) fn embedded_rate(&self) -> Result<f64> {
        let script = std::ffi::CString::new(LOOP).expect("no NUL in the loop");
        let argv = ["-c".into(), self.blobs.display().to_string(), self.legacy_dir.display().to_string()];
        let rate = dualrun_adapters::python::run_embedded(&script, &argv).map_err(|e| anyhow::anyhow!("{e}"))?;
        rate.parse().with_context(|| format!("the embedded loop gave {rate:?}"))
    }
}
