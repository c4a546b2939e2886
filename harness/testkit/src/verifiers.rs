//! Verifiers and their answers for the logic tests of the crates that run or record them (pipeline,
//! replay, follow, rundir, metrics): outcomes and an env ready-made, and a legacy that accepts every block, standing for a legacy that agrees with a valid chain, so what a test sees
//! is the candidate's verdicts through the mode table. The real legacies (Python, `exec:`, monerod) are
//! exercised end to end by the command-line and system tests.

use std::any::Any;

use dualrun_core::{BlockInput, ReplayEnv, Verdict, Verifier, VerifierIdentity, VerifierOutcome};

/// Accepts every block and reports no facts.
pub struct AcceptAll;

impl AcceptAll {
    /// Its spec in a run's inputs.
    pub const SPEC: &'static str = "test:accept-all";
}

impl Verifier for AcceptAll {
    fn identity(&self) -> VerifierIdentity {
        VerifierIdentity {
            spec: Self::SPEC.into(),
            description: "accepts every block".into(),
            files: Default::default(),
        }
    }

    fn verify(&mut self, _: &BlockInput, _: Option<Box<dyn Any + Send>>, _: &ReplayEnv) -> VerifierOutcome {
        accept()
    }
}

/// An accept with no facts.
pub fn accept() -> VerifierOutcome {
    VerifierOutcome::Verdict { verdict: Verdict::Accept, facts: Default::default() }
}

/// A rejection for `reason`, with no detail and no facts.
pub fn reject(reason: &str) -> VerifierOutcome {
    VerifierOutcome::Verdict {
        verdict: Verdict::Reject { reason: reason.into(), detail: String::new() },
        facts: Default::default(),
    }
}

/// The env of a block at height 3 of a small test network ("net", genesis `01…`, previous id `04…`).
pub fn env() -> ReplayEnv {
    ReplayEnv {
        now: 7,
        network_name: "net".into(),
        network_id: "00".repeat(16),
        genesis_id: dualrun_format::Hash32([1; 32]),
        activation_height: 1,
        prev_id: Some(dualrun_format::Hash32([4; 32])),
        timestamps: vec![5, 6],
    }
}
