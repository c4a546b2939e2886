//! The built-in candidate: leader protocol v1 as a [`Verifier`] (`builtin:leader-v1`).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::validator::{self, ChainContext, Prepared};
use crate::Profile;
use dualrun_core::{BlockInput, ReplayEnv, Stateless, Verifier, VerifierIdentity, VerifierOutcome};
use dualrun_format::Hash32;

/// The spec that names it.
pub const SPEC: &str = "builtin:leader-v1";

/// The leader protocol v1 validator as a [`Verifier`]: signature checks in the stateless part (on all
/// cores), the rules that need the chain context in `verify`.
pub struct LeaderVerifier {
    profile: Arc<Profile>,
}

impl LeaderVerifier {
    /// The validator for a profile.
    pub fn new(profile: Arc<Profile>) -> Self {
        LeaderVerifier { profile }
    }
}

struct Prepare(Arc<Profile>);

impl Stateless for Prepare {
    fn prepare(&self, block: &BlockInput) -> Box<dyn Any + Send> {
        Box::new(validator::prepare(&self.0, block.height, &block.blob))
    }

    fn id_and_timestamp(&self, prepared: &(dyn Any + Send)) -> Option<(Hash32, u64)> {
        let p = prepared.downcast_ref::<Prepared>()?;
        Some((p.block_id()?, p.timestamp()?))
    }
}

impl Verifier for LeaderVerifier {
    fn identity(&self) -> VerifierIdentity {
        VerifierIdentity {
            spec: SPEC.into(),
            description: format!("dualrun {} leader protocol v1 validator", env!("CARGO_PKG_VERSION")),
            files: BTreeMap::new(),
        }
    }

    fn stateless(&self) -> Option<Arc<dyn Stateless>> {
        Some(Arc::new(Prepare(self.profile.clone())))
    }

    fn wants_fields(&self) -> bool {
        false
    }

    fn verify(
        &mut self,
        block: &BlockInput,
        prepared: Option<Box<dyn Any + Send>>,
        env: &ReplayEnv,
    ) -> VerifierOutcome {
        let prepared = match prepared.map(|p| p.downcast::<Prepared>()) {
            Some(Ok(p)) => *p,
            _ => validator::prepare(&self.profile, block.height, &block.blob),
        };
        let ctx = match env.prev_id {
            Some(prev) => ChainContext::resume(block.height, prev, env.timestamps.iter().copied()),
            None => ChainContext::new(),
        };
        validator::judge(&self.profile, &ctx, &prepared, env.now).into_outcome()
    }
}
