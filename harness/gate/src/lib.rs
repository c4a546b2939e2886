//! The mode gate: LEGACY → SHADOW → PRIMARY → ONLY only on evidence, rollback at once, and an audit
//! trail anyone can verify offline.
//!
//! - [`entry`]: a ledger entry, typed (its action, fields and canonical form);
//! - [`ledger`]: the append-only ledger of mode transitions, each entry hash-chained to the previous
//!   and signed with an operator's Ed25519 key; [`ledger::verify`] checks all of it;
//! - [`policy`]: what a forward move requires, per transition;
//! - [`evidence`]: replay run directories as evidence — complete, untampered, made with the right profile;
//! - [`fleet`]: fleet run directories (`dualrun fleet`) and the `fleet.agreed` criterion;
//! - [`isolation`]: isolation evidence files (`dualrun net isolation`) and the `isolation.proven` criterion;
//! - [`allowlist`]: known divergences excused, with justification, author and expiry;
//! - [`criterion`]: one criterion (value, threshold, outcome) and the gate's answer, what every rule returns;
//! - [`evaluate`]: criteria, each with its value, threshold and outcome; pass / fail / inconclusive;
//!   and the evaluation's digest, which operators approve;
//! - [`quorum`]: M-of-N operator approvals for every promotion, and key rotation;
//! - [`problem`]: why an entry fails the audit, typed;
//! - [`operate`]: an operator's moves — promote, rollback, approve, rotate — under the ledger's lock,
//!   each returning the entry appended or a typed refusal;
//! - [`audit`]: a ledger as `gate status` and `gate verify` report it (the state that verifies; the
//!   audit with the expected head).

pub mod allowlist;
pub mod audit;
pub mod criterion;
pub mod entry;
pub mod evaluate;
pub mod evidence;
pub mod fleet;
pub mod isolation;
pub mod ledger;
pub mod operate;
pub mod policy;
pub mod problem;
pub mod quorum;

pub use entry::{Action, Entry};
pub use evaluate::{evaluate, Criterion, Evaluation, EvaluationInput, GateOutcome};
pub use ledger::{Ledger, LedgerError};
pub use problem::{EntryProblem, EvidenceProblem};
