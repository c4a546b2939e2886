//! `monerod:URL`: a scratch monerod-compatible daemon as a verifier. The daemon follows the replay:
//! each block is submitted with `submit_block`, and the verdict is `accept` only if the block became the
//! daemon's tip (monerod answers OK also for blocks it keeps off its main chain). The fact `block_id` is
//! the daemon's own id of its new tip, so a block-id disagreement with the candidate shows as a `fact`
//! divergence.
//!
//! Before submitting block h the adapter checks that the daemon is at h's parent. If the daemon already
//! has block h (a resumed replay re-sending blocks past its checkpoint), the verdict is `accept` when the
//! daemon's stored blob is the same block, so a resume stays exactly-once; otherwise an error. The
//! daemon must run under the rules the chain was made with (for regtest chains: `--regtest
//! --fixed-difficulty 1`); `scripts/scratch_monerod.py` starts one.

use std::any::Any;
use std::collections::BTreeMap;
use std::time::Duration;

use dualrun_core::{
    BlockInput, ErrorKind, Facts, ReplayEnv, Verdict, Verifier, VerifierError, VerifierIdentity, VerifierOutcome,
};
use dualrun_rpc::{retry_transient, Daemon, RpcError};

/// The `monerod:URL` verifier.
pub struct MonerodVerifier {
    spec: String,
    daemon: Daemon,
    description: String,
    timeout: Duration,
}

impl MonerodVerifier {
    /// Connects (waiting up to `wait` for the daemon to answer).
    pub fn connect(url: &str, timeout: Duration, wait: Duration) -> Result<MonerodVerifier, RpcError> {
        let daemon = Daemon::new(url, timeout);
        let info = retry_transient(wait, Duration::from_millis(250), Duration::from_millis(250), || daemon.get_info())?;
        let description = format!("monerod {} ({}) at {url}", info.version, info.nettype);
        Ok(MonerodVerifier { spec: format!("monerod:{url}"), daemon, description, timeout })
    }

    fn error(&self, kind: ErrorKind, msg: String) -> VerifierOutcome {
        VerifierOutcome::Error(VerifierError::new(kind, format!("{}: {msg}", self.spec)))
    }

    fn rpc_error(&self, e: RpcError) -> VerifierOutcome {
        let kind = if matches!(e, RpcError::Timeout { .. }) { ErrorKind::Timeout } else { ErrorKind::Crash };
        VerifierOutcome::Error(VerifierError::new(kind, e.to_string()))
    }

    /// Calls `op`, retrying transient failures (a busy or briefly unreachable daemon) within the timeout.
    fn retry<T>(&self, mut op: impl FnMut(&Daemon) -> Result<T, RpcError>) -> Result<T, RpcError> {
        retry_transient(self.timeout, Duration::from_millis(100), Duration::from_secs(2), || op(&self.daemon))
    }

    fn accept(id: dualrun_format::Hash32) -> VerifierOutcome {
        let mut facts = Facts::new();
        facts.insert("block_id".into(), id.to_string());
        VerifierOutcome::Verdict { verdict: Verdict::Accept, facts }
    }
}

impl Verifier for MonerodVerifier {
    fn identity(&self) -> VerifierIdentity {
        VerifierIdentity { spec: self.spec.clone(), description: self.description.clone(), files: BTreeMap::new() }
    }

    fn verify(
        &mut self,
        block: &BlockInput,
        _prepared: Option<Box<dyn Any + Send>>,
        _env: &ReplayEnv,
    ) -> VerifierOutcome {
        self.judge(block, false)
    }

    /// A noise run's second judgement: the block is submitted to the daemon a second time, and the
    /// daemon's chain read again. A block the first submission made the tip is refused as known by the
    /// second — the daemon must still hold the same block at its height (`accept`, the daemon's id as the
    /// fact); a block it refused is submitted and judged as the first time.
    fn verify_again(&mut self, block: &BlockInput, _env: &ReplayEnv) -> VerifierOutcome {
        self.judge(block, true)
    }
}

impl MonerodVerifier {
    /// Judges `block`; `resubmit`: a block the daemon already holds is submitted again first.
    fn judge(&mut self, block: &BlockInput, resubmit: bool) -> VerifierOutcome {
        let h = block.height;
        let info = match self.retry(|d| d.get_info()) {
            Ok(i) => i,
            Err(e) => return self.rpc_error(e),
        };
        // Block 0 is the daemon's own genesis; already-known blocks are compared (a second judgement
        // submits them again first: the daemon refuses a block it has, which is not the verdict).
        if h == 0 || info.height > h {
            if resubmit && h > 0 {
                match self.daemon.submit_block(&block.blob) {
                    Ok(()) | Err(RpcError::Daemon { .. }) => {}
                    Err(e) => return self.rpc_error(e),
                }
            }
            let stored = match self.retry(|d| d.block_blob(h)) {
                Ok(b) => b,
                Err(e) => return self.rpc_error(e),
            };
            if stored.as_slice() != &*block.blob {
                return self.error(
                    ErrorKind::Crash,
                    format!("the daemon already has a different block at height {h}; it does not follow this chain"),
                );
            }
            return match self.retry(|d| d.block_header_by_height(h)) {
                Ok(header) => Self::accept(header.hash),
                Err(e) => self.rpc_error(e),
            };
        }
        if info.height < h {
            return self.error(
                ErrorKind::Crash,
                format!(
                    "the daemon is at height {} but block {h} needs its parent {} as the tip",
                    info.height - 1,
                    h - 1
                ),
            );
        }
        match self.daemon.submit_block(&block.blob) {
            Ok(()) => {}
            Err(RpcError::Daemon { message, code, .. }) => {
                return VerifierOutcome::Verdict {
                    verdict: Verdict::Reject {
                        reason: "monerod.rejected".into(),
                        detail: format!("submit_block: error {code}: {message}"),
                    },
                    facts: Facts::new(),
                }
            }
            Err(e) => return self.rpc_error(e),
        }
        match self.retry(|d| d.last_block_header()) {
            Ok(tip) if tip.height == h && tip.prev_hash == info.top_block_hash => Self::accept(tip.hash),
            Ok(tip) => VerifierOutcome::Verdict {
                verdict: Verdict::Reject {
                    reason: "monerod.not_tip".into(),
                    detail: format!(
                        "accepted by submit_block but kept off the main chain (tip height {} {})",
                        tip.height, tip.hash
                    ),
                },
                facts: Facts::new(),
            },
            Err(e) => self.rpc_error(e),
        }
    }
}
