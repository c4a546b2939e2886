//! The dual-run core, independent of how blocks arrive and of any adapter.
//!
//! - [`verifier`]: the [`Verifier`] contract every implementation (built-in, Python, external process,
//!   daemon) fulfils, the block and [`ReplayEnv`] it is given, and what it answers: a verdict with
//!   facts, or an error (an error is not a rejection).
//! - [`mode`]: the modes LEGACY → SHADOW → PRIMARY → ONLY and, for each, which verdict is
//!   authoritative and what is recorded ([`mode::decide`]).
//! - [`noise`]: which blocks a noise run judges twice, and when a verifier's two answers differ;
//! - [`reasons`]: the legacy-reason → code mapping used to tell a `reason` divergence from agreement;
//! - [`time`]: UTC calendar dates from unix seconds (run ids, expiry dates).

pub mod mode;
pub mod noise;
pub mod reasons;
pub mod time;
pub mod verifier;

pub use mode::{decide, Decision, Mode, ModeParseError, RecordClass};
pub use noise::{NoiseRate, NoiseRateError};
pub use reasons::ReasonMap;
pub use time::UtcTime;
pub use verifier::{
    BlockFields, BlockInput, CallWatch, ErrorKind, Facts, MinerTxFields, OutputFields, ReplayEnv, Stateless, Verdict,
    VerdictKind, Verifier, VerifierError, VerifierIdentity, VerifierOutcome, VerifierState,
};
