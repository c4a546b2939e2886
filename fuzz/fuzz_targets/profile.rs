//! `profile`: the TOML configuration parsers on arbitrary text — `dualrun_leader::Profile::parse` (from
//! bytes), and through a scratch file (they read only from a path) `dualrun_gate::policy::Policy::load`
//! and `dualrun_core::ReasonMap::load`.
//!
//! Checks: nothing panics; a profile that parses is one the validator can use (at least one validator,
//! ids acceptable and unique, keys unique and not weak, activation height ≥ 1, digest = Keccak of the
//! bytes, parsing again gives the same), and its schedule answers for any height and timestamps (the
//! scheduled index in range, the failover set within the validators, starting with it); a policy that
//! loads has only finite thresholds, the defaults for what it leaves out, and its file's digest; a reason
//! map that loads maps each of its reasons to its code and every other reason to itself.

#![no_main]

use std::path::Path;

use dualrun_core::{Mode, ReasonMap};
use dualrun_format::keccak256;
use dualrun_gate::policy::Policy;
use dualrun_leader::{schedule, Profile};
use libfuzzer_sys::fuzz_target;

fn check_profile(data: &[u8]) {
    let Ok(p) = Profile::parse(data, Path::new("fuzz.toml")) else { return };
    let n = p.validators.len();
    assert!(n >= 1 && p.activation_height >= 1);
    assert_eq!(p.digest, keccak256(data));
    for (i, v) in p.validators.iter().enumerate() {
        assert!(dualrun_leader::profile::id_problem(v.id.as_bytes()).is_none(), "bad id {:?} accepted", v.id);
        assert_eq!(p.validator_index(&v.id), Some(i), "duplicate id {:?}", v.id);
        assert!(!v.public_key.is_weak());
        assert!(p.validators[..i].iter().all(|w| w.public_key != v.public_key), "duplicate key");
    }
    let again = Profile::parse(data, Path::new("fuzz.toml")).expect("parses twice");
    assert_eq!((again.name, again.network_id, again.genesis_id), (p.name.clone(), p.network_id, p.genesis_id));
    let a = p.activation_height;
    for height in [a, a.saturating_add(1), a.saturating_add(u64::from(data.len() as u32)), u64::MAX] {
        assert!(schedule::scheduled_index(&p, height) < n);
        for (t, prev) in [(0, 0), (u64::MAX, 0), (0, u64::MAX), (a, 1), (u64::MAX, u64::MAX - 1)] {
            let allowed = schedule::allowed(&p, height, t, prev);
            let list: Vec<usize> = allowed.indexes().collect();
            assert!(list.len() <= n && list[0] == schedule::scheduled_index(&p, height));
            assert!(list.iter().all(|&i| i < n && allowed.contains(i)));
            assert_eq!((0..n).filter(|&i| allowed.contains(i)).count(), list.len());
        }
    }
}

fn check_policy(path: &Path, data: &[u8]) {
    let Ok(policy) = Policy::load(path) else { return };
    assert_eq!(policy.digest, keccak256(data).to_string());
    assert!(policy.for_target(Mode::Legacy).is_none());
    let builtin = Policy::builtin();
    for to in [Mode::Shadow, Mode::Primary, Mode::Only] {
        let r = policy.for_target(to).expect("a forward mode has requirements");
        for v in [r.max_error_rate, r.max_latency_ratio_p99].into_iter().flatten() {
            assert!(v.is_finite(), "a non-finite threshold {v} was accepted");
        }
        if data.is_empty() {
            assert_eq!(Some(r), builtin.for_target(to));
        }
    }
}

fn check_reasons(path: &Path) {
    let Ok(map) = ReasonMap::load(path) else { return };
    for (reason, code) in map.pairs() {
        assert_eq!(map.code(reason), code);
    }
    let unknown = "\u{1}not a reason in any map";
    if map.pairs().all(|(reason, _)| reason != unknown) {
        assert_eq!(map.code(unknown), unknown);
    }
}

fuzz_target!(|data: &[u8]| {
    check_profile(data);
    let path = dualrun_fuzz::scratch_file("config.toml");
    std::fs::write(&path, data).expect("write the scratch file");
    check_policy(&path, data);
    check_reasons(&path);
});
