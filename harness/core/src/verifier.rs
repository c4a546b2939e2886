//! The Verifier contract.
//!
//! A verifier gets a block (raw blob, parsed fields when the blob parses, height) and a [`ReplayEnv`], and
//! returns a [`VerifierOutcome`]: a verdict (`accept`, or `reject` with a reason and detail) with
//! optional facts (`block_id`, `signing_hash`, `leader_id`, …), or an error (`timeout`, `crash`,
//! `protocol`, `panic`). Verifiers must not read the wall clock: `env.now` is their time.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use dualrun_format::{Block, Hash32};
use serde::{Deserialize, Serialize};

/// A block as verifiers see it.
#[derive(Debug, Clone)]
pub struct BlockInput {
    /// The block's height.
    pub height: u64,
    /// The raw block blob.
    pub blob: Arc<[u8]>,
    /// Parsed header and miner-tx fields, if the blob parses (`None` for a malformed block, and when no
    /// verifier of the run wants them).
    pub fields: Option<BlockFields>,
}

/// The parsed fields handed to adapters (the legacy computes the block id itself; it is not given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockFields {
    /// The header's major version.
    pub major_version: u8,
    /// The header's minor version.
    pub minor_version: u8,
    /// The header's timestamp, in unix seconds.
    pub timestamp: u64,
    /// The previous block's id, as the header gives it.
    pub prev_id: Hash32,
    /// The header's nonce.
    pub nonce: u32,
    /// The miner transaction's fields.
    pub miner_tx: MinerTxFields,
    /// Hashes of the non-coinbase transactions, in block order.
    pub tx_hashes: Vec<Hash32>,
}

/// The miner-transaction fields handed to adapters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MinerTxFields {
    /// The transaction version (1 or 2).
    pub version: u64,
    /// The transaction's unlock time.
    pub unlock_time: u64,
    /// The single `txin_gen` height, if that is what the inputs are.
    pub gen_height: Option<u64>,
    /// The outputs, in order.
    pub outputs: Vec<OutputFields>,
    /// tx_extra, verbatim.
    #[serde(with = "hex_bytes")]
    pub extra: Vec<u8>,
}

/// One miner-transaction output, as adapters see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputFields {
    /// The amount, in atomic units.
    pub amount: u64,
    /// The output's one-time public key.
    pub key: Hash32,
    /// The view tag, if the output has one.
    pub view_tag: Option<u8>,
}

mod hex_bytes {
    pub(super) fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

impl BlockFields {
    /// Extracts the fields of a parsed block.
    pub fn from_block(b: &Block) -> BlockFields {
        BlockFields {
            major_version: b.header.major_version,
            minor_version: b.header.minor_version,
            timestamp: b.header.timestamp,
            prev_id: b.header.prev_id,
            nonce: b.header.nonce,
            miner_tx: MinerTxFields {
                version: b.miner_tx.version,
                unlock_time: b.miner_tx.unlock_time,
                gen_height: b.miner_tx.gen_height(),
                outputs: b
                    .miner_tx
                    .outputs
                    .iter()
                    .map(|o| OutputFields { amount: o.amount, key: *o.key(), view_tag: o.view_tag() })
                    .collect(),
                extra: b.miner_tx.extra.to_vec(),
            },
            tx_hashes: b.tx_hashes().collect(),
        }
    }
}

/// Every ambient input of a verification. Both verifiers get the same env, and it is recorded with
/// every divergence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayEnv {
    /// The time future-timestamp rules compare against: by default the block's own timestamp.
    pub now: u64,
    /// The profile's network fields.
    pub network_name: String,
    /// The network id, in hex.
    pub network_id: String,
    /// The id of the network's genesis block.
    pub genesis_id: Hash32,
    /// The height from which the leader rules apply.
    pub activation_height: u64,
    /// The id of block h − 1 (none for block 0).
    pub prev_id: Option<Hash32>,
    /// Timestamps of up to 60 blocks before h, oldest first.
    pub timestamps: Vec<u64>,
}

/// A verdict. `reason` is a code (`block.prev_mismatch`) or, for adapters, whatever they say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The block is valid.
    Accept,
    /// The block is invalid.
    Reject {
        /// Why: a reason code, or for adapters whatever they say.
        reason: String,
        /// Free-text detail for humans.
        detail: String,
    },
}

/// accept or reject, without the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// The block is valid.
    Accept,
    /// The block is invalid.
    Reject,
}

impl VerdictKind {
    /// `accept` or `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Accept => "accept",
            VerdictKind::Reject => "reject",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Verdict {
    /// Whether it accepts.
    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept)
    }

    /// accept or reject.
    pub fn kind(&self) -> VerdictKind {
        match self {
            Verdict::Accept => VerdictKind::Accept,
            Verdict::Reject { .. } => VerdictKind::Reject,
        }
    }

    /// `accept` or `reject`.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The reject reason (empty for an accept).
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Accept => "",
            Verdict::Reject { reason, .. } => reason,
        }
    }
}

/// Named facts a verifier reports (hex ids, leader id…). Only facts both sides report are compared.
pub type Facts = BTreeMap<String, String>;

/// Why a verifier could not give a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No answer within the time limit.
    Timeout,
    /// The verifier failed: an exception, a child that died, a daemon that is not where it should be.
    Crash,
    /// An answer that does not follow the protocol (wrong type, not JSON, wrong id).
    Protocol,
    /// The verifier's own code panicked.
    Panic,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Crash => "crash",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Panic => "panic",
        })
    }
}

/// A verifier that could not give a verdict. Not a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct VerifierError {
    /// What kind of failure it was.
    pub kind: ErrorKind,
    /// What went wrong, for humans.
    pub message: String,
}

impl VerifierError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        VerifierError { kind, message: message.into() }
    }
}

/// What a verifier answers for one block: a verdict with facts, or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifierOutcome {
    /// A verdict, with the facts reported alongside it.
    Verdict {
        /// Accept or reject.
        verdict: Verdict,
        /// The facts the verifier reports.
        facts: Facts,
    },
    /// No verdict: the verifier failed.
    Error(VerifierError),
}

impl VerifierOutcome {
    /// The verdict, unless it is an error.
    pub fn verdict(&self) -> Option<&Verdict> {
        match self {
            VerifierOutcome::Verdict { verdict, .. } => Some(verdict),
            VerifierOutcome::Error(_) => None,
        }
    }

    /// The facts, unless it is an error.
    pub fn facts(&self) -> Option<&Facts> {
        match self {
            VerifierOutcome::Verdict { facts, .. } => Some(facts),
            VerifierOutcome::Error(_) => None,
        }
    }
}

/// Who a verifier is, for manifests and for refusing a resume with different adapters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierIdentity {
    /// The adapter spec as given (`python:dualrun_legacy`, `exec:…`, `monerod:…`, `builtin:leader-v1`).
    pub spec: String,
    /// Its own description (module version, hello line, daemon version…).
    pub description: String,
    /// Digests of the files that make it up (Keccak-256, hex), by path.
    pub files: BTreeMap<String, String>,
}

/// What a verifier carries from block to block that changes its later answers — an `exec:` adapter's
/// used restart budget — as named counters. Saved with every checkpoint and handed back on `--resume`,
/// so a resumed run answers as an uninterrupted one would.
pub type VerifierState = BTreeMap<String, u64>;

/// Told, on the thread that runs an in-process verifier's foreign code, which block it is calling for
/// and when that call returned. (A `python:` legacy can end the process where no exception reaches;
/// the CLI's watch marks these where its parent process reads them afterwards.)
pub trait CallWatch: Send + Sync {
    /// The call for the block at `height` starts.
    fn calling(&self, height: u64);
    /// The call for the block at `height` returned.
    fn returned(&self, height: u64);
}

/// Work a verifier can do knowing only the block: on any thread, in any order, ahead of `verify`.
pub trait Stateless: Send + Sync {
    /// Precomputes what `verify` needs for `block`; the result is handed to `verify` as `prepared`.
    fn prepare(&self, block: &BlockInput) -> Box<dyn Any + Send>;

    /// The block's id (computed as the daemon computes it) and timestamp, if `prepare` found them: the
    /// pipeline then does not parse and hash the block a second time.
    fn id_and_timestamp(&self, prepared: &(dyn Any + Send)) -> Option<(Hash32, u64)> {
        let _ = prepared;
        None
    }
}

/// A block verifier. Calls to `verify` come in height order from one thread.
pub trait Verifier: Send {
    /// Who this verifier is.
    fn identity(&self) -> VerifierIdentity;

    /// Optional stateless precomputation whose result is passed to `verify` as `prepared`.
    fn stateless(&self) -> Option<Arc<dyn Stateless>> {
        None
    }

    /// Whether `verify` reads `block.fields`. A verifier that parses the blob itself says no, and
    /// the pipeline does not build them (for adapters they are part of the protocol: yes).
    fn wants_fields(&self) -> bool {
        true
    }

    /// Asks the verifier to tell `watch` about each of its calls itself, where they run. `false`: it
    /// cannot (it runs no foreign code in this process); a watcher then marks each `verify` instead,
    /// and must not pass on [`Verifier::upcoming`], which would let calls run ahead of the marks.
    fn watch_calls(&mut self, watch: Arc<dyn CallWatch>) -> bool {
        let _ = watch;
        false
    }

    /// The blocks `verify` will be asked for next, in this order, with their envs (the pipeline says so
    /// once a batch). A verifier that runs elsewhere (its own thread or process) may queue them all at
    /// once, so the hand-off is paid per batch instead of per block; `verify` is still called for each,
    /// and the run may stop before asking for all of them.
    fn upcoming(&mut self, blocks: &[(&BlockInput, &ReplayEnv)]) {
        let _ = blocks;
    }

    /// Verifies one block under `env`; `prepared` is its stateless precomputation, if it has one.
    fn verify(&mut self, block: &BlockInput, prepared: Option<Box<dyn Any + Send>>, env: &ReplayEnv)
        -> VerifierOutcome;

    /// Judges `block` a second time, in a call of its own (a noise run: is this verifier deterministic?).
    /// Asked right after `verify` answered for the same block, on the same thread, for the blocks the
    /// run's noise rate picks; [`Verifier::upcoming`] lists such a block twice. The default asks
    /// `verify` again (a second call); a verifier whose second call would not be a second judgement —
    /// a scratch daemon that already holds the block, a child process that might remember it — says how
    /// it judges again instead.
    fn verify_again(&mut self, block: &BlockInput, env: &ReplayEnv) -> VerifierOutcome {
        self.verify(block, None, env)
    }

    /// Asked after every `verify`: how long its own work on the block took, if the verifier measured it
    /// itself. One whose work runs ahead on another thread ([`Verifier::upcoming`]) may have had the
    /// answer ready before `verify` asked; `None` means the time `verify` took.
    fn took(&self) -> Option<std::time::Duration> {
        None
    }

    /// Asked after every `verify`: why the run must stop at this block, if it must. An in-process
    /// verifier that tried to end the process (`os._exit`, `sys.exit`) says so here; the pipeline then
    /// discards this block's answers and ends the run resumable before it, instead of recording a
    /// verdict from a verifier in an unknown state.
    fn stop_reason(&mut self) -> Option<String> {
        None
    }

    /// Its state after the last `verify` (empty for a verifier whose answers depend on nothing but the
    /// block and env).
    fn state(&self) -> VerifierState {
        VerifierState::new()
    }

    /// Takes back the state a checkpoint saved, before the first block of a resumed session.
    fn restore(&mut self, state: &VerifierState) {
        let _ = state;
    }
}
