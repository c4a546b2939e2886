//! Robustness against hostile files, daemons and arguments: golden vector directories with devices,
//! FIFOs, huge files and link loops; votes files that never end or hold huge ids; finality quorums whose
//! arithmetic would overflow; a leader producer facing a template that lies; one rule for height ranges;
//! a report given the same run twice or asked to write over a run's files. Hangs and unbounded reads are
//! asserted as bounds: the process ends within a generous deadline and its peak memory stays under a cap.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use dualrun_testkit::fake_daemon::{sample_blocks, FakeDaemon, Script};
use serde_json::json;

/// What a bounded run of `dualrun` gave: exit code, output, peak resident memory and time taken.
struct Bounded {
    code: i32,
    stdout: String,
    stderr: String,
    peak_mb: i64,
    took: Duration,
}

/// Runs `dualrun args`, killed if it is still running after `deadline` (then the test fails).
fn bounded(args: &[&str], deadline: Duration) -> Bounded {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let peak = dualrun_testkit::PeakRss::watch(child.id());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(deadline).is_err() {
            // SAFETY: a signal to our own child, still unreaped (we wait for it below).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return true;
        }
        false
    });
    let mut out = child;
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let (o, e) = (out.stdout.take().unwrap(), out.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::BufReader::new(e), &mut s).unwrap_or_default();
        s
    });
    std::io::Read::read_to_string(&mut std::io::BufReader::new(o), &mut stdout).unwrap_or_default();
    stderr.push_str(&reader.join().unwrap());
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid out-pointer; the child is a zombie until then, so
    // the watcher sees its last `VmHWM` or its end.
    let exited =
        unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, std::ptr::null_mut(), libc::WEXITED | libc::WNOWAIT) };
    assert_eq!(exited, 0);
    let peak_mb = peak.peak_mb();
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let _ = tx.send(());
    assert!(!watchdog.join().unwrap(), "dualrun {args:?} did not end within {deadline:?}\n{stdout}\n{stderr}");
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -libc::WTERMSIG(status) };
    Bounded { code, stdout, stderr, peak_mb, took: started.elapsed() }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A vector directory with a link to /dev/zero, a FIFO, a 2 GiB file, two links to `.` and a link to a
/// vector: the check ends, each hostile file a FAIL naming it, the real vector counted once, the aliases
/// said, memory small.
#[test]
fn golden_check_ends_on_devices_fifos_huge_files_and_link_loops() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vectors");
    std::fs::create_dir(&dir).unwrap();
    let good = std::fs::read_dir(repo().join("golden-vectors/leader-v1")).unwrap().next().unwrap().unwrap().path();
    std::fs::copy(&good, dir.join("v-good.json")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.json")).unwrap();
    mkfifo(&dir.join("fifo.json"));
    let big = std::fs::File::create(dir.join("big.json")).unwrap();
    big.set_len(2 << 30).unwrap(); // sparse: no disk used
    std::os::unix::fs::symlink(".", dir.join("loop1")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("loop2")).unwrap();
    std::os::unix::fs::symlink(dir.join("v-good.json"), dir.join("w-alias.json")).unwrap();
    let junit = tmp.path().join("junit.xml");

    let r = bounded(&["golden", "check", s(&dir), "--junit", s(&junit)], Duration::from_secs(120));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("golden: 1 passed, 3 failed, 0 skipped"), "{}", r.stdout);
    for (file, why) in [
        ("zero.json", "a character device, not a regular file"),
        ("fifo.json", "a FIFO, not a regular file"),
        ("big.json", "2147483648 bytes; a golden vector is at most 16777216 bytes"),
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with("FAIL") && l.contains(file) && l.contains(why)),
            "{file}: {}",
            r.stdout
        );
    }
    for note in ["loop1 is the same directory as", "loop2 is the same directory as", "w-alias.json is the same file as"]
    {
        assert!(r.stdout.contains(note), "{note}: {}", r.stdout);
    }
    assert!(r.peak_mb < 200, "golden check peaked at {} MB", r.peak_mb);
    assert!(std::fs::read_to_string(&junit).unwrap().contains("tests=\"4\""), "the JUnit file is written");
}

/// The sample profile with `[leader.finality]` at `quorum`.
fn finality_profile(dir: &Path, quorum: &str) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(sample_dir().join("profile.toml")).unwrap();
    text.push_str(&format!("\n[leader.finality]\nquorum = \"{quorum}\"\nactivation_height = 61\n"));
    let path = dir.join(format!("profile-{}.toml", quorum.len()));
    std::fs::write(&path, text).unwrap();
    path
}

/// One validator's vote for each of blocks 61..=70: one vote of three is never a quorum of all, nor of
/// 0.67, however the fraction is written.
#[test]
fn a_quorum_fraction_near_u64_max_is_exact() {
    use dualrun_leader::finality::sign_vote;
    let tmp = tempfile::tempdir().unwrap();
    let key = dualrun_keys::KeyFile::read(&sample_dir().join("keys/throwaway-test-leader-1.key")).unwrap();
    let profile = dualrun_leader::Profile::load(&sample_dir().join("profile.toml")).unwrap();
    let votes = tmp.path().join("votes.jsonl");
    let lines: Vec<String> = sample_blocks(70)[61..=70]
        .iter()
        .map(|b| {
            let (h, id) = (b.header["height"].as_u64().unwrap(), b.header["hash"].as_str().unwrap().parse().unwrap());
            serde_json::to_string(&sign_vote(&key.signing_key, &key.id, &profile.network_id, h, id)).unwrap()
        })
        .collect();
    std::fs::write(&votes, lines.join("\n") + "\n").unwrap();
    let max = u64::MAX;
    for quorum in [format!("{max}/{max}"), "6700000000000000000/10000000000000000000".to_owned()] {
        let p = finality_profile(tmp.path(), &quorum);
        let r = dualrun(&["leader", "finality", "--profile", s(&p), "--votes", s(&votes), "--to", "70"]);
        assert_eq!(r.code, 1, "{quorum}: one vote of three is not final: {}{}", r.stdout, r.stderr);
        let rows: Vec<&str> = r.stdout.lines().skip(1).collect();
        assert_eq!(rows.len(), 10, "{}", r.stdout);
        assert!(rows.iter().all(|row| row.ends_with(",1,3,not_final,finality.missing,")), "{quorum}: {}", r.stdout);
    }
}

/// A votes "file" that never ends, or a line holding a huge validator id: a clear error, fast, bounded.
#[test]
fn votes_from_a_device_or_with_a_huge_line_are_refused_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let p = finality_profile(tmp.path(), "2/3");
    let r = bounded(&["leader", "finality", "--profile", s(&p), "--votes", "/dev/zero"], Duration::from_secs(60));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("/dev/zero: a character device, not a regular file"), "{}", r.stderr);

    // 200 MiB of validator id, written in pieces (the test itself stays small).
    let votes = tmp.path().join("huge.jsonl");
    let length = {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&votes).unwrap());
        let head = format!("{{\"height\":61,\"block_id\":\"{}\",\"validator\":\"", "0".repeat(64));
        let tail = "\",\"signature\":\"\"}";
        f.write_all(head.as_bytes()).unwrap();
        let piece = vec![b'A'; 1 << 20];
        for _ in 0..200 {
            f.write_all(&piece).unwrap();
        }
        f.write_all(tail.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
        head.len() + (200 << 20) + tail.len()
    };
    let r = bounded(&["leader", "finality", "--profile", s(&p), "--votes", s(&votes)], Duration::from_secs(60));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let said = format!("line 1: {length} bytes: a vote is one line of at most 16384 bytes");
    assert!(r.stderr.contains(&said), "{}", r.stderr);
    assert!(r.stderr.len() < 2000, "the id is not echoed: {} bytes of stderr", r.stderr.len());
    assert!(r.peak_mb < 150, "peaked at {} MB", r.peak_mb);
}

/// A fake daemon serving the sample chain up to height 60, whose template is `template`.
fn template_daemon(template: serde_json::Value) -> FakeDaemon {
    let chain = sample_blocks(60);
    FakeDaemon::scripted(Script { chain, template: Some(template), ..Script::default() })
}

fn produce(daemon: &str, wait: &str) -> Bounded {
    let (profile, key) = (sample_dir().join("profile.toml"), sample_dir().join("keys/throwaway-test-leader-1.key"));
    let args = ["leader", "produce", "--daemon", daemon, "--profile", s(&profile), "--key", s(&key)];
    bounded(&[&args[..], &["--blocks", "1", "--wait-seconds", wait]].concat(), Duration::from_secs(60))
}

/// A template that lies is refused before anything is signed: a reserved offset near 2^64 (no panic),
/// a template height that is not the tip's + 1, a parent that never is the tip (no spinning past
/// `--wait-seconds`); and a daemon that never answers costs `--wait-seconds`, not a call timeout more.
#[test]
fn leader_produce_refuses_a_lying_template_within_its_wait() {
    let tip = sample_blocks(60).pop().unwrap();
    let (tip_id, blob) = (tip.header["hash"].as_str().unwrap().to_owned(), hex::encode(&tip.blob));
    let template = |height: u64, prev: &str, offset: serde_json::Value| json!({ "blocktemplate_blob": blob, "reserved_offset": offset, "height": height, "prev_hash": prev, "status": "OK" });

    let d = template_daemon(template(61, &tip_id, json!(u64::MAX - 9)));
    let r = produce(&d.url, "5");
    assert_eq!(r.code, 2, "exit 2, not a panic: {}", r.stderr);
    assert!(r.stderr.contains(&format!("reserved_offset {} does not point at", u64::MAX - 9)), "{}", r.stderr);

    let d = template_daemon(template(1060, &tip_id, json!(100)));
    let r = produce(&d.url, "3");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("block template (height 1060") && r.stderr.contains("tip (height 60"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was signed"), "{}", r.stderr);
    assert_eq!(d.submits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing submitted");

    let other = "11".repeat(32);
    let d = template_daemon(template(61, &other, json!(100)));
    let r = produce(&d.url, "3");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("prev_hash {other}")) && r.stderr.contains(&tip_id), "{}", r.stderr);
    assert!(r.took < Duration::from_secs(20), "gave up after {:?}", r.took);
    let calls = d.calls.load(std::sync::atomic::Ordering::SeqCst);
    assert!(calls < 60, "backed off: {calls} calls in {:?}", r.took);

    let silent = FakeDaemon::scripted(Script { silent: true, ..Script::default() });
    let r = produce(&silent.url, "3");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(15), "a silent daemon held produce for {:?}", r.took);
}

/// One rule for ranges: `chain scan`, `leader check`, `leader finality` and `follow` refuse `--to` below
/// `--from` as `replay` does, before anything is made (no run directory left behind).
#[test]
fn every_command_refuses_a_range_that_ends_before_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["replay", "--from", "5", "--to", "2"],
        vec!["follow", "--daemon", "http://127.0.0.1:9", "--from", "5", "--to", "2"],
        vec!["chain", "scan", "--from", "5", "--to", "2"],
        vec!["leader", "check", "--from", "5", "--to", "2"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_dualrun")).args(&args).current_dir(tmp.path()).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}");
        assert!(stderr.contains("--to 2 is below --from 5"), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} printed {stdout}");
    }
    assert!(!tmp.path().join("reports").exists(), "a refused range left a run directory");
}

/// A run given twice is one section; a report is never written over a run's own files.
#[test]
fn a_report_counts_a_run_once_and_never_overwrites_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    assert_eq!(dualrun(&["replay", "--out", s(&run)]).code, 1);
    let html = tmp.path().join("r.html");
    let again = tmp.path().join(".").join("run");
    let r = dualrun(&["report", s(&run), s(&again), "--out", s(&html)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("given again: counted once") && r.stdout.contains("10 record(s)"), "{}", r.stdout);

    let manifest = std::fs::read(run.join("manifest.json")).unwrap();
    for (flag, name) in [("--out", "manifest.json"), ("--markdown", "summary.json")] {
        let target = run.join(name);
        let mut args = vec!["report", s(&run)];
        if flag == "--markdown" {
            args.extend(["--out", s(&html)]);
        }
        args.extend([flag, s(&target)]);
        let r = dualrun(&args);
        assert_eq!(r.code, 2, "{flag}: {}", r.stdout);
        assert!(r.stderr.contains("inside a run directory a report is written only as"), "{}", r.stderr);
    }
    assert_eq!(std::fs::read(run.join("manifest.json")).unwrap(), manifest, "untouched");
}

/// Processes whose command line holds `marker` (as `sleep MARKER`), alive now.
fn alive_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if cmdline.contains(marker) && !zombie {
            found.push(format!("{} {cmdline}", e.file_name().to_string_lossy()));
        }
    }
    found
}

/// An `exec:` child whose descendants escape its process group with `setsid` (one of them holding its
/// stdout): when the child exits without answering, the block is a crash (not a timeout), and no
/// descendant outlives dualrun.
#[test]
fn exec_descendants_that_escape_with_setsid_end_with_the_child() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("98{}.6543", std::process::id() % 1000);
    let script = tmp.path().join("escaper.py");
    std::fs::write(
        &script,
        format!(
            r#"import json, os, subprocess, sys
print(json.dumps({{"protocol": "dualrun-exec/v1", "name": "escaper", "version": "1"}}), flush=True)
quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["setsid", "sleep", "{marker}"], **quiet)
subprocess.Popen(["setsid", "sh", "-c", "sleep {marker}; :"], stdin=subprocess.DEVNULL)  # keeps our stdout
for line in sys.stdin:
    req = json.loads(line)
    if req["block"]["height"] == 3:
        os._exit(3)
    print(json.dumps({{"id": req["id"], "verdict": "accept", "facts": {{}}}}), flush=True)
"#
        ),
    )
    .unwrap();
    let spec = format!("exec:/usr/bin/python3.11 {}", s(&script));
    let out = tmp.path().join("run");
    let r = bounded(
        &["replay", "--to", "6", "--legacy", &spec, "--timeout", "60", "--out", s(&out)],
        Duration::from_secs(50),
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let csv = std::fs::read_to_string(out.join("divergences.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(
        rows[0].starts_with("3,") && rows[0].contains(",legacy_error,error,crash,"),
        "a crash, not a timeout: {csv}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(alive_with(&marker), Vec::<String>::new(), "descendants outlived dualrun");
}
