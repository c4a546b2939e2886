//! Sharding as deployed: the Kubernetes manifests agree with each other (parsed by Debian's
//! python3-yaml), and a `monerod:` legacy per shard starts on a popped copy of the chain.

use std::process::Command;

use crate::common::*;

/// The Kubernetes manifests parse as YAML (Debian's python3-yaml) and agree with each other: an Indexed
/// Job whose completions, parallelism and `--shards` are one count, and a merge of the same volume.
#[test]
fn the_kubernetes_jobs_parse_and_agree() {
    let script = r#"
import json, sys, yaml
job = list(yaml.safe_load_all(open(sys.argv[1])))
merge = list(yaml.safe_load_all(open(sys.argv[2])))
print(json.dumps({"job": job, "merge": merge}))
"#;
    let dir = repo().join("deploy/k8s");
    let out = Command::new("/usr/bin/python3.11")
        .args(["-c", script, s(&dir.join("replay-indexed-job.yaml")), s(&dir.join("merge-job.yaml"))])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (job, merge) = (&v["job"][0], &v["merge"][0]);
    assert_eq!((v["job"].as_array().unwrap().len(), v["merge"].as_array().unwrap().len()), (1, 1));
    assert_eq!((job["kind"].as_str(), merge["kind"].as_str()), (Some("Job"), Some("Job")));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(n));
    let script = spec["template"]["spec"]["containers"][0]["args"][0].as_str().unwrap();
    assert!(script.contains(&format!("--shard env --shards {n}")), "{script}");
    let volume = |j: &serde_json::Value| {
        j["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"].clone()
    };
    assert_eq!(volume(job), volume(merge));
    let merging = merge["spec"]["template"]["spec"]["containers"][0]["args"][0].as_str().unwrap();
    assert!(merging.contains("dualrun merge /data/runs/shard-* --out /data/runs/merged"), "{merging}");
}

/// A `monerod:` legacy per shard: shard 1's scratch daemon starts on a copy of the chain popped back to
/// the shard's first height (`scripts/scratch_monerod.py --from-chain … --height H`), so it judges the
/// shard without re-submitting the blocks before it. The merged records equal a single `monerod:` run's.
#[test]
fn monerod_legacy_shards_start_on_popped_copies() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    // The scratch daemon copies the chain with mdb_copy and runs monerod.
    dualrun_testkit::tool::require(dualrun_testkit::tool::MDB_COPY);
    dualrun_testkit::tool::require(dualrun_testkit::tool::MONEROD);
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    // One scratch daemon at a time, all on one port, so every run names the same legacy.
    let with_daemon = |extra: &[&str], run: &dyn Fn(&str)| {
        let mut args = vec![s(&repo().join("scripts/scratch_monerod.py")).to_owned(), "--until-stdin-closes".into()];
        args.extend(["--rpc-port".into(), port.clone()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut child = Command::new("python3")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("monerod:"), "the scratch daemon did not start: {line:?}");
        run(line.trim());
        drop(child.stdin.take()); // it stops the daemon cleanly
        assert!(child.wait().unwrap().success());
    };
    let replay = |spec: &str, extra: &[&str], out: &str| {
        let dir = t(out);
        let mut args = vec!["replay", "--legacy", spec, "--out", s(&dir)];
        args.extend_from_slice(extra);
        let r = dualrun(&args);
        assert_eq!(r.code, 1, "{out}: {}", r.stderr);
    };
    with_daemon(&[], &|spec| replay(spec, &[], "single"));
    with_daemon(&[], &|spec| replay(spec, &["--shard", "0/2"], "s0"));
    let chain = sample_copy();
    let popped = ["--from-chain", s(chain.path()), "--height", "100"];
    with_daemon(&popped, &|spec| replay(spec, &["--shard", "1/2"], "s1"));

    let r = dualrun(&["merge", s(&t("s0")), s(&t("s1")), "--out", s(&t("merged"))]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    for f in ["divergences.jsonl", "divergences.csv"] {
        assert!(std::fs::read(t("single").join(f)).unwrap() == std::fs::read(t("merged").join(f)).unwrap(), "{f}");
    }
}
