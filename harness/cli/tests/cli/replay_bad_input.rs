//! Bad input to `dualrun replay`, each with its clear error or its recorded verdict, never a hang.

use std::path::Path;

use crate::common::*;

fn csv_rows(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("divergences.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.splitn(10, ',').map(str::to_owned).collect())
        .collect()
}

fn jsonl(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("divergences.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A Python module of misbehaving verifiers, each correct except at some heights.
const BAD_PY: &str = r#"
import time
import dualrun_legacy

def raises(block, env):
    if block["height"] == 5:
        raise ValueError("legacy blew up at five")
    return dualrun_legacy.verify_block(block, env)

def garbage(block, env):
    if block["height"] == 6:
        return 42
    if block["height"] == 7:
        return {"verdict": "maybe"}
    return dualrun_legacy.verify_block(block, env)

def spins(block, env):
    if block["height"] == 8:
        while True:
            pass
    return dualrun_legacy.verify_block(block, env)

def sleeps(block, env):
    if block["height"] == 9:
        time.sleep(100000)
    return dualrun_legacy.verify_block(block, env)

def accepts_all(block, env):
    return True
"#;

fn py_dir(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("py");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad_verifiers.py"), BAD_PY).unwrap();
    dir
}

fn replay(args: &[&str]) -> Run {
    let mut all = vec!["replay", "--to", "20"];
    all.extend_from_slice(args);
    dualrun(&all)
}

#[test]
fn a_python_exception_is_a_legacy_error_with_its_traceback() {
    let tmp = tempfile::tempdir().unwrap();
    let (py, out) = (py_dir(tmp.path()), tmp.path().join("run"));
    let r = replay(&["--legacy", "python:bad_verifiers:raises", "--python-path", s(&py), "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        &rows[0][..9],
        &["5", &rows[0][1], "legacy_error", "error", "crash", "accept", "", "reject", "shadow"].map(String::from)[..]
    );
    let rec = &jsonl(&out)[0];
    let msg = rec["legacy"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Traceback") && msg.contains("in raises") && msg.contains("ValueError: legacy blew up at five"),
        "{msg}"
    );
    assert_eq!(rows[0][9], "ValueError: legacy blew up at five", "one line in the CSV");
    assert_eq!(rec["authoritative"]["source"], "fail_closed");
}

#[test]
fn a_wrong_return_type_is_a_protocol_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (py, out) = (py_dir(tmp.path()), tmp.path().join("run"));
    let r = replay(&["--legacy", "python:bad_verifiers:garbage", "--python-path", s(&py), "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let recs = jsonl(&out);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["legacy"]["error"]["kind"], "protocol");
    assert!(recs[0]["legacy"]["error"]["message"].as_str().unwrap().contains("returned a int"));
    assert!(recs[1]["legacy"]["error"]["message"].as_str().unwrap().contains("\"verdict\" is \"maybe\""));
}

#[test]
fn a_hanging_call_times_out_and_the_replay_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let py = py_dir(tmp.path());
    // A pure-Python loop is interrupted and the adapter answers again from the next block.
    let out = tmp.path().join("spins");
    let r = replay(&[
        "--legacy",
        "python:bad_verifiers:spins",
        "--python-path",
        s(&py),
        "--timeout",
        "1",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rows = csv_rows(&out);
    assert_eq!(
        rows.iter().map(|r| (r[0].as_str(), r[2].as_str(), r[4].as_str())).collect::<Vec<_>>(),
        [("8", "legacy_error", "timeout")]
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["blocks"], 21);

    // A call stuck in C (sleep) cannot be interrupted: the adapter is disabled, every later block is a
    // timeout error, and the replay still ends.
    let out = tmp.path().join("sleeps");
    let started = std::time::Instant::now();
    let r = replay(&[
        "--legacy",
        "python:bad_verifiers:sleeps",
        "--python-path",
        s(&py),
        "--timeout",
        "1",
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), 12, "heights 9..=20");
    assert!(rows.iter().all(|r| r[2] == "legacy_error" && r[4] == "timeout"));
    assert!(rows[1][9].contains("never returned"), "{:?}", rows[1]);
}

#[test]
fn a_malformed_block_is_recorded_with_the_candidates_block_malformed() {
    // A chain whose block 3 has a trailing byte, written with the chain writer.
    let tmp = tempfile::tempdir().unwrap();
    let chain = tmp.path().join("chain");
    {
        use dualrun_chaindb::writer::{ChainWriter, NewBlock};
        use dualrun_chaindb::{InfoRecord, Schema};
        use dualrun_format::{encode, Block, BlockHeader, Hash32, TxOut, TxOutTarget};
        let mut w = ChainWriter::create(&chain, Schema::MoneroV5).unwrap();
        let mut blobs = vec![encode::genesis_blob(10000)];
        let mut prev = Block::parse(&blobs[0]).unwrap().hashes().unwrap().block_id;
        for h in 1..6u64 {
            let header =
                BlockHeader { major_version: 16, minor_version: 16, timestamp: 1000 + h, prev_id: prev, nonce: 0 };
            let out = TxOut { amount: 1, target: TxOutTarget::ToKey { key: Hash32([h as u8; 32]) } };
            let mut blob = encode::block(&header, &encode::miner_tx(2, h + 60, h, &[out], &[]), &[]);
            prev = Block::parse(&blob).unwrap().hashes().unwrap().block_id;
            if h == 3 {
                blob.push(0);
            }
            blobs.push(blob);
        }
        let news: Vec<(Vec<u8>, InfoRecord)> = blobs
            .into_iter()
            .enumerate()
            .map(|(h, b)| {
                let hash =
                    Block::parse(&b).ok().and_then(|x| x.hashes().ok()).map(|x| x.block_id).unwrap_or(Hash32([3; 32]));
                (
                    b,
                    InfoRecord {
                        height: h as u64,
                        timestamp: 0,
                        coins: 0,
                        weight: 0,
                        cumulative_difficulty: 1,
                        hash,
                        cumulative_rct_outputs: 0,
                        long_term_weight: None,
                    },
                )
            })
            .collect();
        w.append(news.iter().map(|(b, i)| NewBlock { blob: b, info: i.clone(), major_version: 16 })).unwrap();
        w.finish().unwrap();
    }
    // Activation far away: only the structural rules apply.
    let profile = tmp.path().join("profile.toml");
    std::fs::write(
        &profile,
        std::fs::read_to_string(sample_dir().join("profile.toml"))
            .unwrap()
            .replace("activation_height = 61", "activation_height = 1000"),
    )
    .unwrap();
    let py = py_dir(tmp.path());

    // The reference legacy agrees that block 3 is malformed: no divergence, rejected authoritatively.
    let out = tmp.path().join("reference");
    let r = dualrun(&["replay", "--chain", s(&chain), "--profile", s(&profile), "--out", s(&out)]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    // Block 3 (malformed) and block 4, whose parent's id is unknown (the stored id stands in for it).
    assert_eq!(summary["authoritative"]["reject"], 2, "{}", r.stdout);
    assert_eq!(summary["records"], 0);

    // A legacy that accepts anything: a split? No: the candidate rejects what legacy accepts, a halt.
    let out = tmp.path().join("accepting");
    let r = dualrun(&[
        "replay",
        "--chain",
        s(&chain),
        "--profile",
        s(&profile),
        "--legacy",
        "python:bad_verifiers:accepts_all",
        "--python-path",
        s(&py),
        "--out",
        s(&out),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rows = csv_rows(&out);
    assert_eq!(rows[0][0], "3");
    assert_eq!(rows[0][6], "block.malformed");
    let rec = &jsonl(&out)[0];
    assert!(rec["candidate"]["detail"].as_str().unwrap().contains("trailing byte"), "{rec}");
    assert!(rec["blob"].as_str().unwrap().ends_with("00"));
}

#[test]
fn exec_children_that_crash_hang_or_babble_are_errors_and_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("child.py");
    std::fs::write(
        &script,
        r#"
import json, sys, time
print(json.dumps({"protocol": "dualrun-exec/v1", "name": "flaky", "version": "1"}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    h = req["block"]["height"]
    if h == 4:
        print("oops", file=sys.stderr, flush=True)
        sys.exit(3)
    if h == 6:
        print("this is not json", flush=True)
        continue
    if h == 8:
        time.sleep(60)
    print(json.dumps({"id": req["id"], "verdict": "accept", "facts": {}}), flush=True)
"#,
    )
    .unwrap();
    let out = tmp.path().join("run");
    let spec = format!("exec:/usr/bin/python3.11 {}", script.display());
    let r = dualrun(&["replay", "--to", "12", "--legacy", &spec, "--timeout", "2", "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let rows = csv_rows(&out);
    let got: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0].as_str(), r[2].as_str(), r[4].as_str())).collect();
    assert_eq!(
        got,
        [("4", "legacy_error", "crash"), ("6", "legacy_error", "protocol"), ("8", "legacy_error", "timeout")]
    );
    let log = std::fs::read_to_string(out.join("run.log")).unwrap();
    assert!(log.contains("stderr] oops"), "the child's stderr is kept in run.log:\n{log}");
    assert!(log.contains("restarted the verifier process"), "{log}");

    // A command that never says hello is refused at start.
    let r = dualrun(&[
        "replay",
        "--to",
        "3",
        "--legacy",
        "exec:cat",
        "--timeout",
        "1",
        "--out",
        s(&tmp.path().join("cat")),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no hello line"), "{}", r.stderr);
}

#[test]
fn inputs_that_cannot_run_exit_2_with_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let out = |n: &str| tmp.path().join(n);
    let r = dualrun(&["replay", "--legacy", "python:no_such_module_here", "--out", s(&out("a"))]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot import module \"no_such_module_here\"") && r.stderr.contains("searched:"),
        "{}",
        r.stderr
    );

    let other = tmp.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(sample_dir().join("profile.toml")).unwrap().replace("418015bb", "518015bb"),
    )
    .unwrap();
    let r = dualrun(&["replay", "--profile", s(&other), "--out", s(&out("b"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("this profile is for another chain"), "{}", r.stderr);

    let r = dualrun(&["replay", "--from", "500", "--out", s(&out("c"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("height 500 is beyond the tip"), "{}", r.stderr);

    let r = dualrun(&["replay", "--legacy", "carrier-pigeon:x", "--out", s(&out("d"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown adapter"), "{}", r.stderr);

    let r = dualrun(&["replay", "--mode", "sideways", "--out", s(&out("e"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown mode \"sideways\""), "{}", r.stderr);
}

/// A legacy that ends the process — `os._exit(0)` or `sys.exit(0)` from Python, `_exit(0)` from C, a
/// segfault — never makes a run look finished: each stops the replay with exit 2 naming the height,
/// leaves no summary, and `--resume` continues to the same records as a run that was never stopped.
#[test]
fn a_legacy_that_ends_the_process_stops_the_run_resumable() {
    let tmp = tempfile::tempdir().unwrap();
    let py = tmp.path().join("py");
    std::fs::create_dir_all(&py).unwrap();
    // Correct, except that it ends the process once at each height with a flag file.
    std::fs::write(
        py.join("exiting.py"),
        r#"
import ctypes, os, sys
import dualrun_legacy

def verify_block(block, env):
    with open(os.path.join(os.path.dirname(__file__), "called"), "a") as log:
        log.write("%d\n" % block["height"])
    flag = os.path.join(os.path.dirname(__file__), "exit_at_%d" % block["height"])
    if os.path.exists(flag):
        how = open(flag).read()
        os.remove(flag)
        if how == "os._exit":
            os._exit(0)
        if how == "sys.exit":
            sys.exit(0)
        if how == "libc._exit":
            ctypes.CDLL(None)._exit(0)
        if how == "segfault":
            ctypes.string_at(0)
    return dualrun_legacy.verify_block(block, env)
"#,
    )
    .unwrap();
    let run = |out: &Path, resume: bool| {
        let mut args = vec!["replay", "--legacy", "python:exiting", "--python-path", s(&py), "--out", s(out)];
        if resume {
            args.push("--resume");
        }
        dualrun(&args)
    };
    let never_stopped = tmp.path().join("clean");
    let clean = run(&never_stopped, false);
    assert_eq!(clean.code, 1, "the sample has halts: {}", clean.stderr);

    let out = tmp.path().join("run");
    let ways = [
        (75, "os._exit", "called os._exit(0)"),
        (120, "sys.exit", "called sys.exit(0)"),
        (150, "libc._exit", "(exit status 0)"),
        (180, "segfault", "(signal 11 (Segmentation fault))"),
    ];
    for (i, (height, how, said)) in ways.into_iter().enumerate() {
        std::fs::write(py.join(format!("exit_at_{height}")), how).unwrap();
        let r = run(&out, i > 0);
        assert_eq!(r.code, 2, "{how}: {}{}", r.stdout, r.stderr);
        let expected = format!("the legacy terminated the process at height {height} ");
        assert!(r.stderr.contains(&expected) && r.stderr.contains(said), "{how}: {}", r.stderr);
        assert!(r.stderr.contains("--resume"), "{}", r.stderr);
        assert!(!out.join("summary.json").exists(), "{how}: an unfinished run has no summary");
        assert!(!py.join(format!("exit_at_{height}")).exists(), "{how}: the legacy was called at {height}");
        // Calls queued ahead of the stop are dropped: the last call is the one that tried to exit.
        let called = std::fs::read_to_string(py.join("called")).unwrap();
        assert_eq!(called.lines().last(), Some(height.to_string().as_str()), "{how}: called after the stop");
    }
    let r = run(&out, true);
    assert_eq!(r.code, clean.code, "{}{}", r.stdout, r.stderr);
    for f in ["divergences.csv", "divergences.jsonl"] {
        let (a, b) = (std::fs::read(out.join(f)).unwrap(), std::fs::read(never_stopped.join(f)).unwrap());
        assert!(a == b, "{f} after four stops and resumes differs from the run never stopped");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["complete"].as_bool(), summary["sessions"].as_u64()), (Some(true), Some(5)), "{summary}");

    // `golden check` with the legacy as the second implementation is watched the same way: a legacy
    // that exits from C cannot make the CI gate pass.
    std::fs::write(
        py.join("always.py"),
        "import ctypes\ndef verify_block(block, env):\n    ctypes.CDLL(None)._exit(0)\n",
    )
    .unwrap();
    let vectors = repo().join("golden-vectors/leader-v1");
    let r = dualrun(&["golden", "check", s(&vectors), "--legacy", "python:always", "--python-path", s(&py)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("the legacy terminated the process at height") && r.stderr.contains("(exit status 0)"));
}

/// An `exec:` child answering in JSON lines; at height 5 it floods stdout (no newline) or stderr.
fn flooding_child(dir: &Path, flood: &str) -> String {
    let script = dir.join(format!("flood_{flood}.py"));
    std::fs::write(
        &script,
        format!(
            r#"import json, sys
print(json.dumps({{"protocol": "dualrun-exec/v1", "name": "flood", "version": "1"}}), flush=True)
chunk = "x" * (1 << 20)
for line in sys.stdin:
    req = json.loads(line)
    if req["block"]["height"] == 5:
        out = sys.stdout if "{flood}" == "stdout" else sys.stderr
        for _ in range({mib}):
            out.write(chunk)
        out.flush()
    print(json.dumps({{"id": req["id"], "verdict": "accept", "reason": "", "detail": "", "facts": {{}}}}), flush=True)
"#,
            mib = if flood == "stdout" { 2048 } else { 1024 }
        ),
    )
    .unwrap();
    format!("exec:/usr/bin/python3.11 {}", s(&script))
}

/// The largest resident set of any child process waited for so far (the dualrun runs), in bytes.
fn children_max_rss() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct we pass.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    // SAFETY: initialised by getrusage (zeroed before).
    (unsafe { usage.assume_init() }.ru_maxrss as u64) * 1024
}

/// 2 GB on stdout without a newline: the line is cut at its limit, that block gets a protocol error,
/// the child is restarted, and dualrun's memory stays small.
#[test]
fn an_endless_response_line_is_an_error_not_an_oom() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let r = replay(&["--legacy", &flooding_child(tmp.path(), "stdout"), "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let records = jsonl(&out);
    let at5 = records.iter().find(|r| r["height"] == 5 && r["class"] == "legacy_error").expect("an error at 5");
    assert_eq!(at5["legacy"]["error"]["kind"], "protocol");
    assert!(at5["legacy"]["error"]["message"].as_str().unwrap().contains("longer than 16777216 bytes"), "{at5}");
    assert!(records.iter().all(|r| r["height"] == 5 || r["class"] != "legacy_error"), "restarted for the rest");
    let rss = children_max_rss();
    assert!(rss < 600 << 20, "peak RSS {} MB", rss >> 20);
}

/// 1 GB on stderr: `run.log` keeps at most the per-block cap of it and says how much was dropped.
#[test]
fn a_stderr_flood_is_capped_in_the_run_log() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let r = replay(&["--legacy", &flooding_child(tmp.path(), "stderr"), "--out", s(&out)]);
    assert_eq!(r.code, 0, "the flood is no finding; heights 0..=20 agree: {}{}", r.stdout, r.stderr);
    let log = std::fs::metadata(out.join("run.log")).unwrap().len();
    assert!(log < 4 << 20, "run.log is {log} bytes");
    let text = std::fs::read_to_string(out.join("run.log")).unwrap();
    assert!(
        text.contains("stderr over its cap") && text.contains("bytes of stderr dropped over the caps"),
        "{}",
        &text[text.len().saturating_sub(2000)..]
    );
}
