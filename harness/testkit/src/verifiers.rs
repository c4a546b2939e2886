//! Verifiers for the logic tests of the crates that run verifiers (pipeline, replay, follow): a legacy
//! that accepts every block, standing for a legacy that agrees with a valid chain, so what a test sees
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
        VerifierOutcome::Verdict { verdict: Verdict::Accept, facts: Default::default() }
    }
}
