//! Leader consensus protocol v1: the temporary consensus a migrating chain switches to, in which a
//! designated leader signs each block and followers check that signature instead of calling the old
//! external consensus module. `docs/leader-protocol-v1.md` is the specification; this crate owns its
//! implementation:
//!
//! - [`profile`]: the per-network profile (its network, validators, schedule) and its checks;
//! - [`finality`]: finality votes: the vote message, votes files, the quorum tally and its findings;
//! - [`fork_choice`]: which of several valid blocks at one height is canonical;
//! - [`record`]: the leader record inside the miner transaction's extra nonce, and the signing hash;
//! - [`schedule`]: who may sign a height (fixed, round-robin, hash; failover);
//! - [`testchain`]: honest and deliberately faulty records for test chains;
//! - [`validator`]: the rules in order, split into a stateless [`validator::prepare`] (parse, hashes,
//!   signature: parallelisable) and a stateful [`validator::judge`] over the chain context;
//! - [`verifier`]: the validator as a dualrun verifier (`builtin:leader-v1`).
//!
//! A network's identity and the chain context a block is judged in are `dualrun-network`'s; the key
//! files validators sign with, and the ids they sign as, are `dualrun-keys`'.

pub mod finality;
pub mod finality_rule;
pub mod fork_choice;
pub mod profile;
pub mod record;
pub mod schedule;
pub mod testchain;
pub mod validator;
pub mod verifier;

pub use profile::{Profile, ProfileError, ScheduleKind};
pub use validator::{ChainContext, Judgement, LeaderFacts, LeaderVerdict, PrepareError, Prepared, ReasonCode};
