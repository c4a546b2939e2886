//! `dualrun replay` end to end on the bundled migration sample: the default run, the three legacy
//! adapters agreeing, the mode table, determinism, and the run directory's contents.

use crate::common::*;
use dualrun_testkit::run_files::{json, jsonl_without_reproduce, read};

/// (height, candidate reason) of every rejection the producer intended.
fn injected_faults() -> Vec<(u64, String)> {
    read(&sample_dir().join("leader-expected.csv"))
        .lines()
        .skip(1)
        .filter(|l| l.contains(",reject,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[3].to_owned())
        })
        .collect()
}

/// (height, class, candidate reason, authoritative) of every record of a run.
fn records(dir: &std::path::Path) -> Vec<(u64, String, String, String)> {
    read(&dir.join("divergences.csv"))
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[2].to_owned(), f[6].to_owned(), f[7].to_owned())
        })
        .collect()
}

#[test]
fn the_default_replay_finds_a_halt_exactly_at_each_injected_fault() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let r = dualrun(&["replay", "--out", s(&out)]);
    assert_eq!(r.code, 1, "records make exit 1: {}", r.stderr);
    let expected: Vec<(u64, String, String, String)> =
        injected_faults().into_iter().map(|(h, reason)| (h, "halt".into(), reason, "accept".into())).collect();
    assert_eq!(expected.len(), 10);
    assert_eq!(records(&out), expected);
    // Byte for byte the pinned run's records (directories aside): a change to a record is seen here.
    dualrun_testkit::sample_run::assert_same_records(&out);
    assert_eq!(read(&out.join("divergences.csv")).lines().next().unwrap(),
        "height,block_id,class,legacy_verdict,legacy_reason,candidate_verdict,candidate_reason,authoritative_verdict,mode,note");

    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["blocks"], 201);
    assert_eq!(summary["divergences"], serde_json::json!({"split": 0, "halt": 10, "fact": 0, "reason": 0}));
    assert_eq!(summary["errors"], serde_json::json!({"legacy_error": 0, "candidate_error": 0, "fallback": 0}));
    assert!(summary["blocks_per_second"].as_f64().unwrap() > 0.0);
    for side in ["legacy", "candidate"] {
        assert_eq!(summary["latency"][side]["count"], 201);
        assert!(
            summary["latency"][side]["p99_us"].as_f64().unwrap()
                >= summary["latency"][side]["p50_us"].as_f64().unwrap()
        );
    }

    let manifest = json(&out.join("manifest.json"));
    let inputs = &manifest["inputs"];
    assert_eq!(inputs["chain"]["schema_version"], 5);
    assert_eq!(inputs["chain"]["genesis_id"], "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3");
    assert_eq!((inputs["chain"]["from"].as_u64(), inputs["chain"]["to"].as_u64()), (Some(0), Some(200)));
    assert_eq!(
        inputs["chain"]["chain_digest"],
        dualrun(&["chain", "info", "--format", "json"]).stdout.parse::<serde_json::Value>().unwrap()["chain_digest"]
    );
    assert_eq!(inputs["legacy"]["spec"], "python:dualrun_legacy");
    assert!(!inputs["legacy"]["files"].as_object().unwrap().is_empty(), "the legacy's source files are digested");
    assert_eq!(inputs["candidate"]["spec"], "builtin:leader-v1");
    assert_eq!(inputs["mode"], "shadow");
    assert_eq!(manifest["complete"], true);
    for f in ["divergences.jsonl", "divergences.csv", "summary.json"] {
        let digest = dualrun_format::keccak256(&std::fs::read(out.join(f)).unwrap()).to_string();
        assert_eq!(manifest["files"][f], digest, "{f}");
    }

    // Each jsonl record carries the blob, the env and a command that reproduces it.
    let first: serde_json::Value =
        serde_json::from_str(read(&out.join("divergences.jsonl")).lines().next().unwrap()).unwrap();
    let blob = hex::decode(first["blob"].as_str().unwrap()).unwrap();
    let id = dualrun_stdin(&["block", "id", "-"], &blob).stdout;
    assert!(id.starts_with(first["block_id"].as_str().unwrap()));
    assert_eq!(first["env"]["activation_height"], 61);
    assert_eq!(first["env"]["timestamps"].as_array().unwrap().len(), 60);
    let reproduce = first["reproduce"].as_str().unwrap().to_owned();
    assert!(reproduce.starts_with("dualrun replay --chain "), "{reproduce}");
    let args: Vec<String> = shell_words(&reproduce).into_iter().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = dualrun(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let reproduced_dir =
        args.iter().position(|a| *a == "--out").map(|i| std::path::PathBuf::from(args[i + 1])).unwrap();
    assert_eq!(records(&reproduced_dir), expected[..1].to_vec());
    let _ = std::fs::remove_dir_all(reproduced_dir);

    // The closing summary says where things are and how to reproduce one.
    assert!(r.stdout.contains("divergences.csv"), "{}", r.stdout);
}

#[test]
fn the_same_inputs_give_byte_identical_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    assert_eq!(dualrun(&["replay", "--out", s(&a), "--threads", "1"]).code, 1);
    assert_eq!(dualrun(&["replay", "--out", s(&b), "--threads", "2"]).code, 1);
    assert_eq!(jsonl_without_reproduce(&a), jsonl_without_reproduce(&b));
    assert_eq!(read(&a.join("divergences.csv")), read(&b.join("divergences.csv")));
    assert_eq!(json(&a.join("manifest.json"))["inputs_digest"], json(&b.join("manifest.json"))["inputs_digest"]);
}

#[test]
fn modes_follow_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = injected_faults();
    // PRIMARY: the candidate is authoritative; the divergences are the same, the verdicts are its.
    let out = tmp.path().join("primary");
    assert_eq!(dualrun(&["replay", "--mode", "primary", "--out", s(&out)]).code, 1);
    let expected: Vec<_> =
        faults.iter().map(|(h, r)| (*h, "halt".to_owned(), r.clone(), "reject".to_owned())).collect();
    assert_eq!(records(&out), expected);
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["authoritative"], serde_json::json!({"accept": 191, "reject": 10}));

    // SHADOW: the legacy is authoritative and accepts everything.
    let out = tmp.path().join("shadow");
    dualrun(&["replay", "--mode", "shadow", "--out", s(&out)]);
    assert_eq!(json(&out.join("summary.json"))["authoritative"], serde_json::json!({"accept": 201, "reject": 0}));

    // LEGACY and ONLY run one verifier: nothing to compare, no records, and the summary says so.
    for (mode, accept, reject, said) in
        [("legacy", 201, 0, "the candidate was not run"), ("only", 191, 10, "the legacy verifier was not run")]
    {
        let out = tmp.path().join(mode);
        let r = dualrun(&["replay", "--mode", mode, "--out", s(&out)]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains(said), "{}", r.stdout);
        let summary = json(&out.join("summary.json"));
        assert_eq!(summary["records"], 0);
        assert_eq!(summary["authoritative"], serde_json::json!({"accept": accept, "reject": reject}));
        assert_eq!(summary["verifiers_run"]["legacy"], mode == "legacy");
    }
}
