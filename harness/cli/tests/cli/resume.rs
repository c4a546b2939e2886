//! Exactly-once: a replay killed with SIGKILL at any moment, then resumed (possibly killed again),
//! ends with exactly the records and counts of an uninterrupted run; Ctrl-C stops cleanly; a resume
//! with other inputs is refused; and the source database is byte-identical after all of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

fn chain_with_faults(dir: &Path, blocks: u64) -> PathBuf {
    chain_named_with_faults(dir, "chain", blocks, false)
}

/// A synthetic chain at `dir/name` with twelve faults, and with `early` a thirteenth at height 70.
fn chain_named_with_faults(dir: &Path, name: &str, blocks: u64, early: bool) -> PathBuf {
    let chain = dir.join(name);
    let keys: Vec<String> =
        (1..=3).map(|i| s(&sample_dir().join(format!("keys/throwaway-test-leader-{i}.key"))).to_owned()).collect();
    let mut args = vec![
        "chain".to_owned(),
        "synth".into(),
        "--out".into(),
        s(&chain).into(),
        "--blocks".into(),
        blocks.to_string(),
    ];
    args.extend(["--profile".into(), s(&sample_dir().join("profile.toml")).into()]);
    for k in keys {
        args.extend(["--key".into(), k]);
    }
    let kinds = ["missing", "unknown", "not-scheduled", "bad-signature", "malformed"];
    for i in 1..=12u64 {
        args.extend(["--fault".into(), format!("{}:{}", i * blocks / 13, kinds[(i as usize) % 5])]);
    }
    if early {
        args.extend(["--fault".into(), "70:missing".into()]);
    }
    let r = dualrun(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 0, "{}", r.stderr);
    chain
}

fn replay_cmd(chain: &Path, out: &Path, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dualrun"));
    c.args(["replay", "--chain", s(chain), "--profile", s(&sample_dir().join("profile.toml")), "--out", s(out)]);
    if resume {
        c.arg("--resume");
    }
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Files of a directory with their bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn counts(dir: &Path) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    serde_json::json!({ "blocks": v["blocks"], "divergences": v["divergences"], "errors": v["errors"],
        "records": v["records"], "authoritative": v["authoritative"], "complete": v["complete"] })
}

#[test]
fn kill_9_at_any_moment_then_resume_gives_exactly_the_uninterrupted_records() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain_with_faults(tmp.path(), 25_000);
    let before = snapshot(&chain);

    let reference = tmp.path().join("reference");
    let status = replay_cmd(&chain, &reference, false).status().unwrap();
    assert_eq!(status.code(), Some(1));
    let ref_jsonl = std::fs::read(reference.join("divergences.jsonl")).unwrap();
    let ref_csv = std::fs::read(reference.join("divergences.csv")).unwrap();
    assert_eq!(String::from_utf8_lossy(&ref_csv).lines().count(), 13, "12 records and the header");

    // Kill points from right after start to late in the run, and a run killed twice.
    for (name, kills) in
        [("early", vec![150u64]), ("middle", vec![900]), ("twice", vec![400, 700]), ("late", vec![2600])]
    {
        let out = tmp.path().join(name);
        let mut resume = false;
        for delay in kills {
            let mut child = replay_cmd(&chain, &out, resume).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(delay));
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            resume = out.join("manifest.json").exists();
        }
        let status = replay_cmd(&chain, &out, resume).status().unwrap();
        assert_eq!(status.code(), Some(1), "{name}");
        assert_eq!(std::fs::read(out.join("divergences.csv")).unwrap(), ref_csv, "{name}: csv");
        assert_eq!(
            std::fs::read(out.join("divergences.jsonl")).unwrap().len(),
            ref_jsonl.len(),
            "{name}: jsonl length"
        );
        // Records name the run directory's parent in their reproduce line, which is the same here.
        assert_eq!(std::fs::read(out.join("divergences.jsonl")).unwrap(), ref_jsonl, "{name}: jsonl");
        assert_eq!(counts(&out), counts(&reference), "{name}: counts");
    }
    assert_eq!(snapshot(&chain), before, "the source chain directory is byte-identical, nothing added");
}

#[test]
fn ctrl_c_stops_with_a_checkpoint_and_resume_finishes_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain_with_faults(tmp.path(), 25_000);
    let reference = tmp.path().join("reference");
    assert_eq!(replay_cmd(&chain, &reference, false).status().unwrap().code(), Some(1));

    let out = tmp.path().join("interrupted");
    let child = replay_cmd(&chain, &out, false).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "an interrupted run is incomplete: {stdout}");
    assert!(stdout.contains("--resume"), "{stdout}");
    let cp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint.json")).unwrap()).unwrap();
    assert_eq!(cp["complete"], false);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["complete"], false);

    let r = resume(&chain, &out);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("resuming at height"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(out.join("divergences.csv")).unwrap(),
        std::fs::read(reference.join("divergences.csv")).unwrap()
    );
    assert_eq!(counts(&out), counts(&reference));
    assert_eq!(sessions(&out), 2, "the interrupted session and the resume");
    // The chain digest, computed as blocks are judged, is the whole range's across the two sessions.
    let digest = |dir: &Path| manifest(dir)["inputs"]["chain"]["chain_digest"].clone();
    let info = dualrun(&["chain", "info", "--chain", s(&chain), "--format", "json"]);
    let info: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(digest(&out), info["chain_digest"]);
    assert_eq!(digest(&reference), info["chain_digest"]);

    // Resuming a complete run does nothing and says so.
    let r = resume(&chain, &out);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("already complete"), "{}", r.stdout);
}

/// `replay --resume` of `chain` into `out`, waited for.
fn resume(chain: &Path, out: &Path) -> Run {
    dualrun(&[
        "replay",
        "--chain",
        s(chain),
        "--profile",
        s(&sample_dir().join("profile.toml")),
        "--out",
        s(out),
        "--resume",
    ])
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The chain digest is computed as blocks are judged, so a resume checks the blocks judged before it
/// against the chain as it is now: a chain that changed under them is refused, naming the digests;
/// an interrupted run's manifest names no digest yet.
#[test]
fn a_resume_over_a_chain_changed_under_the_judged_blocks_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain_named_with_faults(tmp.path(), "chain", 25_000, false);
    let other = chain_named_with_faults(tmp.path(), "other", 25_000, true);
    let out = tmp.path().join("run");
    let child = replay_cmd(&chain, &out, false).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2), "interrupted");
    let cp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint.json")).unwrap()).unwrap();
    let judged = cp["next_height"].as_u64().unwrap();
    assert!(judged > 70, "the block that differs was judged: {judged}");
    let checkpoint = std::fs::read(out.join("checkpoint.json")).unwrap();
    assert_eq!(manifest(&out)["inputs"]["chain"]["chain_digest"], "0".repeat(64));

    // The same path now holds the other chain (another block at height 70).
    std::fs::rename(&chain, tmp.path().join("first")).unwrap();
    std::fs::rename(&other, &chain).unwrap();
    let r = resume(&chain, &out);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let said = format!("the chain changed under the run: the {judged} blocks it judged have chain digest");
    assert!(r.stderr.contains(&said), "{}", r.stderr);
    assert_eq!(std::fs::read(out.join("checkpoint.json")).unwrap(), checkpoint, "the refused resume changed nothing");
}

#[test]
fn a_resume_with_other_inputs_or_a_fresh_run_over_a_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    assert_eq!(dualrun(&["replay", "--out", s(&out)]).code, 1);

    let r = dualrun(&["replay", "--out", s(&out)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already holds a run") && r.stderr.contains("--resume"), "{}", r.stderr);

    let r = dualrun(&["replay", "--out", s(&out), "--resume", "--mode", "primary"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("refusing to resume with different inputs"), "{}", r.stderr);
    assert!(r.stderr.contains("mode: was \"shadow\", now \"primary\""), "{}", r.stderr);

    let r = dualrun(&["replay", "--out", s(&out), "--resume", "--to", "100"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("chain.to: was 200, now 100"), "{}", r.stderr);

    let empty = tmp.path().join("empty");
    let r = dualrun(&["replay", "--out", s(&empty), "--resume"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nothing to resume"), "{}", r.stderr);
}

fn sessions(dir: &Path) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    v["sessions"].as_u64().unwrap()
}

/// A session killed after its first checkpoint is counted (it replayed blocks), and a resume may name
/// the chain another way (`./x`, a symlink): the inputs are the canonical directory and its digest.
#[test]
fn sessions_are_counted_and_the_chain_may_be_named_another_way_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain_with_faults(tmp.path(), 25_000);
    let out = tmp.path().join("run");
    let mut child = replay_cmd(&chain, &out, false).spawn().unwrap();
    let checkpoint = out.join("checkpoint.json");
    let started = std::time::Instant::now();
    while !checkpoint.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint within a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill(); // SIGKILL after the first checkpoint
    let _ = child.wait();

    let link = tmp.path().join("chain-link");
    std::os::unix::fs::symlink(&chain, &link).unwrap();
    let mut resume = replay_cmd(&link, &out, true);
    resume.current_dir(tmp.path());
    assert_eq!(resume.status().unwrap().code(), Some(1), "a resume through a symlink is the same input");
    assert_eq!(sessions(&out), 2, "the killed session and the resume");
}

/// Ctrl-C is seen between blocks: with a legacy taking 5 ms a block, the run stops within a block or
/// two of the interrupt (before, it finished every block in flight: thousands), and a resume still ends
/// with exactly the records of an uninterrupted run.
#[test]
fn ctrl_c_stops_between_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = chain_with_faults(tmp.path(), 1000);
    let (marker, log) = (tmp.path().join("interrupted"), tmp.path().join("judged"));
    let script = tmp.path().join("slow_legacy.py");
    std::fs::write(
        &script,
        format!(
            r#"import json, os, sys, time
print(json.dumps({{"protocol": "dualrun-exec/v1", "name": "slow", "version": "1"}}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    with open({log:?}, "a") as f:
        f.write("%s %d\n" % ("after" if os.path.exists({marker:?}) else "before", req["block"]["height"]))
    time.sleep(0.005)
    print(json.dumps({{"id": req["id"], "verdict": "accept", "reason": "", "detail": "", "facts": {{}}}}), flush=True)
"#,
            marker = s(&marker),
            log = s(&log)
        ),
    )
    .unwrap();
    let legacy = format!("exec:/usr/bin/python3.11 {}", s(&script));
    let out = tmp.path().join("run");
    let profile = sample_dir().join("profile.toml");
    let args = ["replay", "--chain", s(&chain), "--profile", s(&profile), "--legacy", &legacy, "--out", s(&out)];
    let child = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt in the middle of the second batch of blocks.
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&log).unwrap_or_default().lines().count() < 300 {
        assert!(started.elapsed() < Duration::from_secs(60), "the legacy judged too little within a minute");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(&marker, b"").unwrap();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2), "interrupted");
    let judged = std::fs::read_to_string(&log).unwrap();
    let judged_after = judged.lines().filter(|l| l.starts_with("after")).count();
    assert!(judged_after <= 2, "the legacy judged {judged_after} blocks after the interrupt");

    let mut resume = args.to_vec();
    resume.push("--resume");
    let r = dualrun(&resume);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let reference = tmp.path().join("reference");
    let mut whole = args.to_vec();
    *whole.last_mut().unwrap() = s(&reference);
    assert_eq!(dualrun(&whole).code, 1);
    let csv = |d: &Path| std::fs::read(d.join("divergences.csv")).unwrap();
    assert_eq!(csv(&out), csv(&reference));
}

/// An `exec:` legacy's restart budget is part of the checkpoint: a run interrupted after some restarts
/// and resumed gives up at the same block as an uninterrupted run, with the same records. (Crashes at
/// 100, 400, 700, 1000 and 1300 with a budget of 3: an uninterrupted run gives up at 1001; the
/// interrupt at 600 leaves a checkpoint at a batch boundary after two restarts.)
#[test]
fn a_resume_keeps_the_exec_restart_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = tmp.path().join("chain");
    assert_eq!(dualrun(&["chain", "synth", "--out", s(&chain), "--blocks", "2000"]).code, 0);
    let script = tmp.path().join("child.py");
    // The child marks in this directory that it sent its signal (a directory: a file argument would be
    // digested as part of the verifier, and the resume refused as another verifier).
    let marker = tmp.path().join("marks");
    std::fs::create_dir(&marker).unwrap();
    std::fs::write(
        &script,
        r#"
import json, os, signal, sys

def dualrun_pid():
    # The child runs under `sh -c`: the replay is the nearest ancestor named dualrun.
    pid = os.getppid()
    while pid > 1:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() == "dualrun":
                return pid
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    raise SystemExit("no dualrun ancestor")

print(json.dumps({"protocol": "dualrun-exec/v1", "name": "crashy", "version": "1"}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    h = req["block"]["height"]
    if h in (100, 400, 700, 1000, 1300):
        sys.exit(3)
    sent = os.path.join(sys.argv[1], "sent") if len(sys.argv) > 1 else None
    if h == 600 and sent and not os.path.exists(sent):
        open(sent, "w").close()
        os.kill(dualrun_pid(), signal.SIGINT)
    print(json.dumps({"id": req["id"], "verdict": "accept", "facts": {}}), flush=True)
"#,
    )
    .unwrap();
    let profile = sample_dir().join("profile.toml");
    // One spec for every run (error records quote it); whether the child signals depends on the mark.
    let spec = format!("exec:/usr/bin/python3.11 {} {}", script.display(), marker.display());
    let replay = |out: &Path, resume: bool| {
        let mut args = vec!["replay", "--chain", s(&chain), "--profile", s(&profile), "--mode", "legacy"];
        args.extend(["--legacy", spec.as_str(), "--out", s(out)]);
        if resume {
            args.push("--resume");
        }
        dualrun(&args)
    };
    let reference = tmp.path().join("reference");
    std::fs::write(marker.join("sent"), "").unwrap();
    assert_eq!(replay(&reference, false).code, 1);
    std::fs::remove_file(marker.join("sent")).unwrap();
    let rows = std::fs::read_to_string(reference.join("divergences.csv")).unwrap();
    assert!(rows.contains("\n1001,") && rows.contains("gave up after 3 restarts"), "gives up at 1001:\n{rows}");

    let out = tmp.path().join("interrupted");
    let r = replay(&out, false);
    assert_eq!(r.code, 2, "interrupted at block 600: {}", r.stderr);
    let cp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint.json")).unwrap()).unwrap();
    let next = cp["next_height"].as_u64().unwrap();
    assert!((401..=700).contains(&next), "stopped after two restarts, before the third: {cp}");
    assert_eq!(cp["stats"]["verifier_state"]["legacy"]["restarts"], 2, "{cp}");
    let r = replay(&out, true);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let csv = |dir: &Path| std::fs::read_to_string(dir.join("divergences.csv")).unwrap();
    assert!(csv(&out) == csv(&reference), "a resumed run gives up where an uninterrupted one does");
}
