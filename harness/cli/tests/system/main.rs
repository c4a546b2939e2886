//! The system tests: dualrun against the real programs it works with — Debian's monerod (regtest,
//! offline, loopback), headless Chromium, a single-node Slurm, Prometheus's promtool — and the cases
//! that need root (a tmpfs, files of another user). Each names the program it is missing and its
//! package (`dualrun_testkit::tool`); `ci/test.sh` installs them all and runs these with the rest.
#![allow(unused_crate_dependencies)]

#[path = "../common/mod.rs"]
mod common;

mod alert_rules;
mod fleet_p2p;
mod follow;
mod forks_monerod;
mod gate_full_disk;
mod leader_monerod;
mod legacy_adapters;
mod monerod;
mod p2p_handshake;
mod planted;
mod report_browser;
mod shard_deploy;
mod slurm;
