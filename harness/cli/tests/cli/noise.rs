//! Noise runs (`--noise RATE`): each verifier judges the picked blocks a second time, and a verifier
//! whose two answers differ is recorded — an `exec:` verifier through a second child, a `python:` one
//! through a second call — while deterministic verifiers leave the records exactly as a run without it.

use std::path::Path;

use serde_json::Value;

use crate::common::*;

fn jsonl(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("divergences.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// `(height, class)` of every record.
fn classes(dir: &Path) -> Vec<(u64, String)> {
    jsonl(dir).iter().map(|r| (r["height"].as_u64().unwrap(), r["class"].as_str().unwrap().to_owned())).collect()
}

/// The sample's halts below height 80 (its leader faults), as a replay with deterministic verifiers records them.
fn halts_to_80(tmp: &Path) -> Vec<(u64, String)> {
    let out = tmp.join("plain");
    let r = dualrun(&["replay", "--to", "80", "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    classes(&out)
}

/// An `exec:` verifier that accepts every block, except that at heights 65 and 72 a judgement after the
/// first (by whichever child: the heights seen are kept in `state`) rejects.
fn second_thoughts_script(dir: &Path) -> String {
    let script = dir.join("second_thoughts.py");
    let state = dir.join("seen.txt");
    std::fs::write(
        &script,
        format!(
            r#"
import json, os, sys
STATE = {state:?}
print(json.dumps({{"protocol": "dualrun-exec/v1", "name": "second-thoughts", "version": "1", "pid": os.getpid()}}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    h = req["block"]["height"]
    seen = open(STATE).read().split() if os.path.exists(STATE) else []
    with open(STATE, "a") as f:
        f.write(f"{{h}}\n")
    if h in (65, 72) and str(h) in seen:
        answer = {{"verdict": "reject", "reason": "second.thoughts", "detail": f"pid {{os.getpid()}}"}}
    else:
        answer = {{"verdict": "accept", "facts": {{}}}}
    print(json.dumps({{"id": req["id"], **answer}}), flush=True)
"#,
            state = state.display().to_string()
        ),
    )
    .unwrap();
    format!("exec:/usr/bin/python3.11 {}", script.display())
}

#[test]
fn an_exec_legacy_that_answers_twice_differently_is_recorded_by_a_second_child() {
    let tmp = tempfile::tempdir().unwrap();
    let halts = halts_to_80(tmp.path());
    let out = tmp.path().join("noisy");
    let legacy = second_thoughts_script(tmp.path());
    let r = dualrun(&["replay", "--to", "80", "--legacy", &legacy, "--noise", "1", "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);

    // The halts as before, and a legacy_noise record at each height whose second answer differed.
    let mut want = halts.clone();
    want.extend([(65, "legacy_noise".to_owned()), (72, "legacy_noise".to_owned())]);
    want.sort();
    assert_eq!(classes(&out), want);
    let noise: Vec<Value> = jsonl(&out).into_iter().filter(|r| r["class"] == "legacy_noise").collect();
    for r in &noise {
        assert_eq!(r["legacy"]["verdict"], "accept", "the first answer is the legacy's side: {r}");
        assert_eq!(r["second_answer"]["verdict"], "reject", "{r}");
        assert_eq!(r["second_answer"]["reason"], "second.thoughts", "{r}");
        assert_eq!(r["authoritative"]["verdict"], "accept", "the first answer stands: {r}");
    }
    // Asked by a second child: not the process whose hello the manifest keeps, one for both blocks.
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let hello: Value = serde_json::from_str(manifest["inputs"]["legacy"]["description"].as_str().unwrap()).unwrap();
    let first_pid = format!("pid {}", hello["pid"]);
    assert_ne!(noise[0]["second_answer"]["detail"], first_pid.as_str(), "{hello}");
    assert_eq!(noise[0]["second_answer"]["detail"], noise[1]["second_answer"]["detail"]);
    // The CSV's note names the second answer.
    let csv = std::fs::read_to_string(out.join("divergences.csv")).unwrap();
    assert!(csv.contains(",legacy_noise,accept,,accept,,accept,shadow,asked again: reject (second.thoughts)"), "{csv}");

    let counts = summary(&out);
    assert_eq!(counts["noise"], serde_json::json!({ "checked": 81, "legacy_noise": 2, "candidate_noise": 0 }));
    assert_eq!(counts["divergences"]["halt"].as_u64().unwrap(), halts.len() as u64, "noise is not a divergence");
    assert_eq!(manifest["inputs"]["settings"]["noise"], 1.0);
    // The same run again picks the same blocks and records the same.
    std::fs::remove_file(tmp.path().join("seen.txt")).unwrap();
    let again = tmp.path().join("again");
    let r = dualrun(&["replay", "--to", "80", "--legacy", &legacy, "--noise", "1", "--out", s(&again)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(classes(&again), classes(&out));
    assert_eq!(summary(&again)["noise"], counts["noise"]);
}

/// A noisy candidate fails `evidence.deterministic`, in every move: a candidate that answers one block two
/// ways is not ready to decide anything.
#[test]
fn candidate_noise_fails_the_gate_and_legacy_noise_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let out = t("noisy-candidate");
    let candidate = second_thoughts_script(tmp.path());
    let r = dualrun(&["replay", "--to", "80", "--candidate", &candidate, "--noise", "1", "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let noise: Vec<(u64, String)> = classes(&out).into_iter().filter(|(_, c)| c.ends_with("_noise")).collect();
    assert_eq!(noise, [(65, "candidate_noise".to_owned()), (72, "candidate_noise".to_owned())]);

    let ledger = t("ledger.jsonl");
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&t("ops.key"))]).code, 0);
    let init = dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&t("ops.key")), "--operator", "ops"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let golden = repo().join("golden-vectors");
    let evaluate = |run: &Path| {
        let r = dualrun(&[
            "gate",
            "evaluate",
            "--ledger",
            s(&ledger),
            "--golden",
            s(&golden),
            "--evidence",
            s(run),
            "--format",
            "json",
        ]);
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
        let c = v["criteria"].as_array().unwrap().iter().find(|c| c["name"] == "evidence.deterministic").cloned();
        (r.code, c)
    };
    let (code, c) = evaluate(&out);
    assert_eq!(code, 1);
    let c = c.expect("shown for a noise run");
    assert_eq!(c["outcome"], "fail", "{c}");
    assert_eq!(c["value"], serde_json::json!({ "checked": 81, "legacy_noise": 0, "candidate_noise": 2 }));

    // Legacy noise is counted and shown; LEGACY -> SHADOW does not limit it.
    let noisy_legacy = t("noisy-legacy");
    std::fs::remove_file(t("seen.txt")).unwrap();
    let r = dualrun(&["replay", "--to", "80", "--legacy", &candidate, "--noise", "1", "--out", s(&noisy_legacy)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (code, c) = evaluate(&noisy_legacy);
    let c = c.expect("shown");
    assert_eq!((code, c["outcome"].as_str()), (0, Some("pass")), "{c}");
    assert_eq!(c["value"]["legacy_noise"], 2);
    // A run without --noise judged nothing twice: the criterion is not shown.
    let plain = t("plain");
    assert!([0, 1].contains(&dualrun(&["replay", "--to", "80", "--out", s(&plain)]).code));
    assert_eq!(evaluate(&plain).1, None);
}

const NOISY_PY: &str = r#"
import dualrun_legacy

seen = set()

def facts_change(block, env):
    """The reference legacy, except that it names another block id the second time it sees height 70."""
    h = block["height"]
    answer = dualrun_legacy.verify_block(block, env)
    if h == 70 and h in seen:
        return {"verdict": "accept", "facts": {"block_id": "00" * 32}}
    seen.add(h)
    return answer
"#;

#[test]
fn a_python_legacy_asked_a_second_time_is_compared_and_deterministic_ones_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let halts = halts_to_80(tmp.path());
    let plain = tmp.path().join("plain");

    // The reference legacy and the built-in candidate are deterministic: no noise record, and records
    // byte for byte those of the run without --noise (less the run directory's name).
    let every = tmp.path().join("every");
    let r = dualrun(&["replay", "--to", "80", "--noise", "1", "--out", s(&every)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for file in ["divergences.jsonl", "divergences.csv"] {
        let read = |dir: &Path| std::fs::read_to_string(dir.join(file)).unwrap().replace(s(dir), "RUN");
        assert_eq!(read(&every), read(&plain), "{file}");
    }
    assert_eq!(summary(&every)["noise"], serde_json::json!({ "checked": 81, "legacy_noise": 0, "candidate_noise": 0 }));
    // A share of the blocks: picked by id, the same ones every time.
    let some = tmp.path().join("some");
    assert_eq!(dualrun(&["replay", "--to", "80", "--noise", "0.3", "--out", s(&some)]).code, 1);
    let checked = summary(&some)["noise"]["checked"].as_u64().unwrap();
    assert!((5..=50).contains(&checked), "{checked} of 81 at 0.3");

    let py = tmp.path().join("py");
    std::fs::create_dir_all(&py).unwrap();
    std::fs::write(py.join("noisy_legacy.py"), NOISY_PY).unwrap();
    let out = tmp.path().join("python");
    let args = ["replay", "--to", "80", "--legacy", "python:noisy_legacy:facts_change", "--python-path", s(&py)];
    let r = dualrun(&[&args[..], &["--noise", "1", "--out", s(&out)]].concat());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut want = halts;
    want.push((70, "legacy_noise".into()));
    want.sort();
    assert_eq!(classes(&out), want);
    let record = jsonl(&out).into_iter().find(|r| r["class"] == "legacy_noise").unwrap();
    assert_eq!(record["second_answer"]["facts"]["block_id"], "00".repeat(32));
    assert_eq!(record["legacy"]["facts"]["block_id"], record["block_id"], "{record}");

    // A bad rate is refused before anything runs.
    let r = dualrun(&["replay", "--noise", "0", "--out", s(&tmp.path().join("bad"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("noise rate \"0\": expected a number above 0 and at most 1"), "{}", r.stderr);
}
