//! The command line, hermetic: every `dualrun` command run as a user runs it, on the bundled sample,
//! synthetic chains and a fake daemon — no system tool beyond the Python dualrun embeds. The tests that
//! need monerod, Chromium, Slurm, promtool or root are the `system` test binary.
#![allow(unused_crate_dependencies)]

#[path = "../common/mod.rs"]
mod common;

mod chain_commands;
mod evidence_integrity;
mod finality;
mod fleet;
mod forks;
mod formats;
mod gate;
mod house;
mod leader_commands;
mod net;
mod noise;
mod replay;
mod replay_bad_input;
mod report;
mod resume;
mod robustness;
mod shard;
