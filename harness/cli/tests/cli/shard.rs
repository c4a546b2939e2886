//! `replay --shard I/N|env`, `replay --plan N` and `dualrun merge` as commands: the plan printed, the shard
//! taken from Slurm's array variables, the merge's exit code and message, bad shard specs refused. What a
//! merge makes and refuses is the replay crate's test (harness/replay/tests/merge.rs).

use std::process::Command;

use crate::common::*;

#[test]
fn the_plan_names_each_shards_heights() {
    let r = dualrun(&["replay", "--plan", "4"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "shard,from,to\n0,0,49\n1,50,99\n2,100,149\n3,150,200\n");
}

/// `--shard env` under a Slurm array (task ids counted from `SLURM_ARRAY_TASK_MIN`) is the shard `--shard
/// I/N` names: with shard 0 of 2 it merges into the whole range, and `merge` exits 1 on its records as the
/// single run would.
#[test]
fn a_slurm_array_task_is_its_shard_and_the_shards_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let r = dualrun(&["replay", "--shard", "0/2", "--out", s(&t("s0"))]);
    assert!(r.code < 2, "{}", r.stderr);
    let r = Command::new(bin())
        .args(["replay", "--shard", "env", "--out", s(&t("s1"))])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .output()
        .unwrap();
    assert!(r.status.code().is_some_and(|c| c < 2), "{}", String::from_utf8_lossy(&r.stderr));

    let r = dualrun(&["merge", s(&t("s1")), s(&t("s0")), "--out", s(&t("merged"))]);
    assert_eq!(r.code, 1, "records, as the single run: {}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("merged 2 shards: 201 blocks (heights 0..=200) in shadow mode"), "{}", r.stdout);
    let r = dualrun(&["merge", s(&t("s0")), "--out", s(&t("half"))]);
    assert!(r.code == 2 && r.stderr.contains("shard 1 (heights 100..=200) is missing"), "{}", r.stderr);
}

#[test]
fn bad_shard_specs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bad");
    let r = dualrun(&["replay", "--shard", "4/4", "--out", s(&out)]);
    assert!(r.code == 2 && r.stderr.contains("shards are numbered 0 to 3"), "{}", r.stderr);
    let r = dualrun(&["replay", "--shard", "1/500", "--out", s(&out)]);
    assert!(r.code == 2 && r.stderr.contains("give 1 to 201 shards"), "{}", r.stderr);
    let r = Command::new(bin())
        .args(["replay", "--shard", "env", "--out", s(&out)])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set"), "{stderr}");
    assert!(!out.exists(), "a refused shard leaves no run directory");
}
