//! `replay --shard I/N` and `dualrun merge`: the shards of a range merge into the single run's directory —
//! records byte-identical, the same inputs digest, the same counts — which the gate takes as it takes
//! the single run; shards that are missing, doubled, edited or of another run are refused, named.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn shard(out: &Path, spec: &str) {
    let r = dualrun(&["replay", "--shard", spec, "--out", s(out)]);
    assert!(r.code == 0 || r.code == 1, "shard {spec}: {}", r.stderr);
}

#[test]
fn shards_merge_into_the_single_run() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let r = dualrun(&["replay", "--plan", "4"]);
    assert_eq!(r.stdout, "shard,from,to\n0,0,49\n1,50,99\n2,100,149\n3,150,200\n");
    let r = dualrun(&["replay", "--out", s(&t("single"))]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for i in 0..4 {
        shard(&t(&format!("s{i}")), &format!("{i}/4"));
    }
    // Slurm's environment picks the same shard as I/N.
    let r = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(["replay", "--shard", "env", "--out", s(&t("env1"))])
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .output()
        .unwrap();
    assert!(r.status.code().is_some_and(|c| c < 2), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(json(&t("env1/manifest.json"))["inputs"], json(&t("s1/manifest.json"))["inputs"]);

    // In any order.
    let r = dualrun(&["merge", s(&t("s3")), s(&t("s1")), s(&t("s0")), s(&t("s2")), "--out", s(&t("merged"))]);
    assert_eq!(r.code, 1, "records, as the single run: {}{}", r.stdout, r.stderr);
    for f in ["divergences.jsonl", "divergences.csv"] {
        assert!(std::fs::read(t("single").join(f)).unwrap() == std::fs::read(t("merged").join(f)).unwrap(), "{f}");
    }
    let (single, merged) = (json(&t("single/manifest.json")), json(&t("merged/manifest.json")));
    assert_eq!(single["inputs_digest"], merged["inputs_digest"], "the single run's inputs, chain digest included");
    assert_eq!(merged["shards"].as_array().unwrap().len(), 4);
    let (a, b) = (json(&t("single/summary.json")), json(&t("merged/summary.json")));
    for k in ["blocks", "divergences", "errors", "inputs", "records", "authoritative", "range", "complete"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    assert_eq!(a["latency"]["candidate"]["count"], b["latency"]["candidate"]["count"]);

    // The gate judges the merged run as it judges the single one.
    let ledger = t("ledger.jsonl");
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&t("ops.key"))]).code, 0);
    assert_eq!(
        dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&t("ops.key")), "--operator", "ops"]).code,
        0
    );
    let evaluate = |run: &str| {
        let r = dualrun(&["gate", "evaluate", "--ledger", s(&ledger), "--evidence", s(&t(run)), "--json"]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{}", r.stdout));
        // Each criterion's outcome (the evidence criterion's value names the directory).
        let criteria: Vec<(String, String)> = v["criteria"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].to_string(), c["outcome"].to_string()))
            .collect();
        (r.code, v["outcome"].clone(), criteria)
    };
    let (single_eval, merged_eval) = (evaluate("single"), evaluate("merged"));
    assert_eq!(single_eval, merged_eval);
    assert!(merged_eval.2.iter().any(|(n, o)| n == "\"evidence\"" && o == "\"pass\""), "{merged_eval:?}");
}

#[test]
fn an_incomplete_edited_or_foreign_shard_set_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    for i in 0..3 {
        shard(&t(&format!("s{i}")), &format!("{i}/3"));
    }
    let merge = |dirs: &[&str]| {
        let mut args = vec!["merge".to_owned()];
        args.extend(dirs.iter().map(|d| s(&t(d)).to_owned()));
        args.extend(["--out".into(), s(&t("m")).into()]);
        dualrun(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let r = merge(&["s0", "s2"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("shard 1 (heights 67..=133) is missing"), "{}", r.stderr);
    let r = merge(&["s0", "s1", "s1", "s2"]);
    assert!(r.code == 2 && r.stderr.contains("shard 1 (heights 67..=133) is given 2 times"), "{}", r.stderr);

    // An edited shard.
    let csv = t("s1").join("divergences.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    bytes[30] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    let r = merge(&["s0", "s1", "s2"]);
    assert!(r.code == 2 && r.stderr.contains("s1: ") && r.stderr.contains("divergences.csv"), "{}", r.stderr);

    // A shard of another run (another mode).
    let r = dualrun(&["replay", "--mode", "primary", "--shard", "1/3", "--out", s(&t("x1"))]);
    assert!(r.code < 2, "{}", r.stderr);
    let r = merge(&["s0", "x1", "s2"]);
    assert!(r.code == 2 && r.stderr.contains("not one run") && r.stderr.contains("mode"), "{}", r.stderr);
    assert!(!t("m").join("manifest.json").exists(), "nothing merged");

    // Bad shard specs.
    let r = dualrun(&["replay", "--shard", "4/4", "--out", s(&t("bad"))]);
    assert!(r.code == 2 && r.stderr.contains("shards are numbered 0 to 3"), "{}", r.stderr);
    let r = dualrun(&["replay", "--shard", "1/500", "--out", s(&t("bad"))]);
    assert!(r.code == 2 && r.stderr.contains("give 1 to 201 shards"), "{}", r.stderr);
}
