//! What the command-line tests share: the `dualrun` binary under test, run with arguments (and input),
//! and a validator network made with its `keygen`; the rest comes from `dualrun_testkit`.
#![allow(dead_code, unused_imports, unreachable_pub)] // each test binary uses some of it

use std::path::{Path, PathBuf};

pub use dualrun_testkit::{repo, s, sample_copy, sample_dir, shared_vectors, shell_words, wait_exit, Monerod, Run};

/// The binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_dualrun"))
}

/// Runs `dualrun` with `args`.
pub fn dualrun(args: &[&str]) -> Run {
    dualrun_testkit::run(bin(), args)
}

/// Runs `dualrun` with `args` and `input` on its standard input.
pub fn dualrun_stdin(args: &[&str], input: &[u8]) -> Run {
    dualrun_testkit::run_with_stdin(bin(), args, input)
}

/// Three validators with fresh keys (made by `dualrun keygen`) and a profile for a regtest chain.
pub struct Network {
    pub profile: PathBuf,
    pub keys: Vec<PathBuf>,
}

pub fn network(dir: &Path, schedule: &str, activation: u64, failover: u64) -> Network {
    let mut keys = Vec::new();
    let mut validators = String::new();
    for i in 1..=3 {
        let key = dir.join(format!("leader-{i}.key"));
        let r = dualrun(&["keygen", "--id", &format!("leader-{i}"), "--out", s(&key)]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (id, pk) = r.stdout.trim_end().split_once(' ').unwrap();
        validators.push_str(&format!("\n[[leader.validators]]\nid = \"{id}\"\npublic_key = \"{pk}\"\n"));
        keys.push(key);
    }
    let profile = dir.join("profile.toml");
    std::fs::write(
        &profile,
        format!(
            "[network]\nname = \"test\"\nnetwork_id = \"00112233445566778899aabbccddeeff\"\n\
             genesis_id = \"418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3\"\n\n\
             [leader]\nactivation_height = {activation}\nschedule = \"{schedule}\"\nfailover_seconds = {failover}\n\
             min_interval_seconds = 0\n{validators}"
        ),
    )
    .unwrap();
    Network { profile, keys }
}
