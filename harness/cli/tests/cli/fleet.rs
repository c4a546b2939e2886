//! `dualrun fleet` against fake daemons on loopback: a fleet that agrees (exit 0) and one split from
//! the start (exit 1, the split named with its heights and nodes), each into a fleet run directory;
//! arguments that cannot work.

use dualrun_testkit::fake_daemon::{header_chain, FakeDaemon};

use crate::common::*;

#[test]
fn an_agreeing_fleet_and_a_split_one() {
    let base = header_chain(&[], 15, "main");
    let main = header_chain(&base, 10, "main");
    let (a, b) = (FakeDaemon::start(main.clone(), None), FakeDaemon::start(main.clone(), None));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("agreed");
    let (da, db) = (format!("a={}", a.url), format!("b={}", b.url));
    let common = ["--poll-ms", "100", "--duration", "1.5"];
    let mut args = vec!["fleet", "--daemon", &da, "--daemon", &db, "--out", s(&out)];
    args.extend(common);
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("a: reached at height 24"), "{}", r.stdout);
    assert!(r.stdout.contains("fleet agreed over"), "{}", r.stdout);
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["findings.jsonl", "fleet.json", "summary.json", "timeline.jsonl"]);
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("fleet.json")).unwrap()).unwrap();
    assert_eq!((manifest["complete"].as_bool(), manifest["format"].as_str()), (Some(true), Some("dualrun/fleet/v1")));

    // b holds another branch from height 15 on: split at 15..=22 (b's tip), named.
    b.set_chain(header_chain(&base, 8, "other"));
    let split = dir.path().join("split");
    let mut args = vec!["fleet", "--daemon", &da, "--daemon", &db, "--out", s(&split)];
    args.extend(common);
    let r = dualrun(&args);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let other15 = header_chain(&base, 8, "other")[15].header["hash"].as_str().unwrap().to_owned();
    assert!(
        r.stdout.contains("fleet.split: heights 15..=22 differ: ") && r.stdout.contains(&format!("b hold {other15}")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("fleet did NOT agree"), "{}", r.stdout);

    // The report of the split run: the headline, the split's heights shaded in the nodes × heights view.
    let md = dir.path().join("split.md");
    let r = dualrun(&["report", s(&split), "--markdown", s(&md)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("the fleet did NOT agree: 1 fleet.split"), "{}", r.stdout);
    let html = std::fs::read_to_string(split.join("report.html")).unwrap();
    for h in 15..=22 {
        assert!(html.contains(&format!("data-height=\"{h}\" data-diverged=\"1\"")), "height {h} shaded");
    }
    assert!(html.contains("data-height=\"14\" data-diverged=\"0\""));
    assert!(html.contains(&other15[..8]), "b's block at 15 shown");
    assert!(html.contains("data-kind=\"fleet.split\" data-state=\"open\""));
    let summary = std::fs::read_to_string(&md).unwrap();
    assert!(summary.contains("**the fleet did NOT agree: 1 fleet.split"), "{summary}");
    let problems = dualrun_rundir::fleet::FleetRun::load(&split).unwrap().problems();
    assert!(problems.is_empty(), "the report beside the run is not a stray file: {problems:?}");

    // The gate takes both as evidence: the agreed one passes fleet.agreed, the split one fails it; an
    // edited fleet run is named.
    let ledger = dir.path().join("ledger.jsonl");
    let key = dir.path().join("ops.key");
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&key)]).code, 0);
    assert_eq!(dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&key), "--operator", "ops"]).code, 0);
    let fleet_criterion = |run: &std::path::Path| {
        let r = dualrun(&["gate", "evaluate", "--ledger", s(&ledger), "--fleet", s(run), "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v["criteria"].as_array().unwrap().iter().find(|c| c["name"] == "fleet.agreed").unwrap().clone()
    };
    let c = fleet_criterion(&out);
    assert_eq!((c["outcome"].as_str(), c["value"]["nodes"].as_u64()), (Some("pass"), Some(2)), "{c}");
    let c = fleet_criterion(&split);
    assert_eq!(c["outcome"], "fail", "{c}");
    assert!(c["note"].as_str().unwrap().contains("the fleet did not agree: 1 fleet.split"), "{c}");
    let summary = out.join("summary.json");
    let text = std::fs::read_to_string(&summary).unwrap();
    std::fs::write(&summary, text.replace("\"agreed\": true", "\"agreed\": false")).unwrap();
    let c = fleet_criterion(&out);
    assert!(c["note"].as_str().unwrap().contains("summary.json was changed after the watch"), "{c}");
}

#[test]
fn arguments_that_cannot_work() {
    let r = dualrun(&["fleet", "--daemon", "http://127.0.0.1:1"]);
    assert!(r.code == 2 && r.stderr.contains("expected NAME=URL"), "{}", r.stderr);
    let r = dualrun(&["fleet", "--daemon", "a=http://127.0.0.1:1", "--daemon", "a=http://127.0.0.1:2"]);
    assert!(r.code == 2 && r.stderr.contains("--daemon a: the name is given twice"), "{}", r.stderr);
    let r = dualrun(&["fleet", "--daemon", "a=http://127.0.0.1:1", "--split-depth", "300"]);
    assert!(r.code == 2 && r.stderr.contains("--split-depth 300 must be below --window 200"), "{}", r.stderr);
}
