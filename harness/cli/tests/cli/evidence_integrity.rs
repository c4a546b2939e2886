//! Evidence integrity against a hostile user: counts nobody signed, entries added to a signed run
//! directory, links inside it, unreadable and huge record lines, hostile values in reproduce lines and in
//! Markdown, and a daemon that serves an inconsistent chain or drips its answers. Each case is what an
//! auditor or operator must be able to tell, and what is left on disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use dualrun_testkit::fake_daemon::{sample_blocks, FakeDaemon};

/// A SHADOW replay of the bundled sample into `out` (ten halts).
fn sample_run(out: &Path, extra: &[&str]) {
    let r = dualrun(&[&["replay", "--out", s(out)][..], extra].concat());
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn key(dir: &Path, id: &str) -> (PathBuf, String) {
    let file = dir.join(format!("{id}.key"));
    let r = dualrun(&["keygen", "--id", id, "--out", s(&file)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (file, r.stdout.split_whitespace().nth(1).unwrap().to_owned())
}

fn report(run: &Path, dir: &Path) -> (String, String) {
    let (html, md) = (dir.join("r.html"), dir.join("r.md"));
    let r = dualrun(&["report", s(run), "--out", s(&html), "--markdown", s(&md)]);
    assert!(r.code < 2, "{}{}", r.stdout, r.stderr);
    (read(&html), read(&md))
}

/// `merge` takes no count from a file nobody digested: a shard checkpoint whose counters were zeroed, or
/// a summary edited together with its digest, refuses the merge naming the shard and the field; and the
/// merged directory may not be inside a shard's.
#[test]
fn merge_refuses_counts_the_records_and_digests_do_not_back() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    for (i, spec) in ["0/2", "1/2"].iter().enumerate() {
        let r = dualrun(&["replay", "--shard", spec, "--out", s(&t(&format!("s{i}")))]);
        assert!(r.code < 2, "{}", r.stderr);
    }
    let r = dualrun(&["merge", s(&t("s0")), s(&t("s1")), "--out", s(&t("s1/merged"))]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("is inside this shard's run directory"), "{}", r.stderr);
    assert!(!t("s1/merged").exists());

    // The checkpoint's counters zeroed: the merge would have said 0 records beside 10 halts.
    let cp_file = t("s1/checkpoint.json");
    let original = std::fs::read(&cp_file).unwrap();
    let mut cp = json(&cp_file);
    cp["stats"]["records"] = serde_json::json!({});
    std::fs::write(&cp_file, serde_json::to_vec_pretty(&cp).unwrap()).unwrap();
    let r = dualrun(&["merge", s(&t("s0")), s(&t("s1")), "--out", s(&t("m1"))]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let s1 = std::fs::canonicalize(t("s1")).unwrap();
    assert!(r.stderr.contains(&format!("{}: checkpoint.json disagrees with its digested summary.json", s1.display())));
    assert!(r.stderr.contains("divergences.halt is"), "{}", r.stderr);
    std::fs::write(&cp_file, original).unwrap();

    // The summary and the manifest's digest of it edited together: the records disagree.
    let summary_file = t("s1/summary.json");
    let mut summary = json(&summary_file);
    assert!(summary["divergences"]["halt"].as_u64().unwrap() > 0);
    summary["divergences"]["halt"] = 0.into();
    std::fs::write(&summary_file, serde_json::to_vec_pretty(&summary).unwrap()).unwrap();
    let mut manifest = json(&t("s1/manifest.json"));
    manifest["files"]["summary.json"] =
        dualrun_format::keccak256(&std::fs::read(&summary_file).unwrap()).to_string().into();
    std::fs::write(t("s1/manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let r = dualrun(&["merge", s(&t("s0")), s(&t("s1")), "--out", s(&t("m2"))]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("summary.json says divergences.halt = 0, but divergences.jsonl holds"), "{}", r.stderr);
    // The same rule for the gate and the report.
    let r = dualrun(&["report", s(&t("s1")), "--out", s(&t("s1.html"))]);
    assert!(read(&t("s1.html")).contains("summary.json says divergences.halt = 0"), "{}", r.stderr);
}

/// A signed run directory is a closed set: a `reorgs.jsonl` added (as a link or a file) makes `verify`
/// fail naming it; readers neither follow the link nor apply an undigested file, so no record is marked
/// orphaned; the gate refuses the run as evidence.
#[test]
fn an_entry_added_to_a_signed_run_is_named_and_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    sample_run(&run, &[]);
    let (auditor, public) = key(tmp.path(), "auditor");
    assert_eq!(dualrun(&["report", "sign", s(&run), "--key", s(&auditor)]).code, 0);
    assert_eq!(dualrun(&["report", "verify", s(&run), "--trusted-key", &public]).code, 0);

    // Reorganizations that would orphan every record.
    let orphaned: Vec<serde_json::Value> = read(&run.join("divergences.jsonl"))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| serde_json::json!({ "height": r["height"], "block_id": r["block_id"] }))
        .collect();
    let event =
        serde_json::json!({ "fork_height": 0, "daemon_height": 300, "orphaned": orphaned, "records_before": 1000 });
    let planted = tmp.path().join("planted.jsonl");
    std::fs::write(&planted, format!("{event}\n")).unwrap();

    for how in ["link", "file"] {
        let reorgs = run.join("reorgs.jsonl");
        if how == "link" {
            std::os::unix::fs::symlink(&planted, &reorgs).unwrap();
        } else {
            std::fs::copy(&planted, &reorgs).unwrap();
        }
        let r = dualrun(&["report", "verify", s(&run), "--trusted-key", &public]);
        assert_eq!(r.code, 1, "{how}: {}{}", r.stdout, r.stderr);
        let kind = if how == "link" { "a symbolic link" } else { "a regular file" };
        assert!(r.stdout.contains(&format!("reorgs.jsonl: {kind} not covered by the attestation")), "{}", r.stdout);

        let (html, _) = report(&run, tmp.path());
        assert!(html.contains("reorgs.jsonl"), "the report names the entry");
        assert!(!html.contains("orphaned\\u0022") && !html.contains(",true]"), "{how}: no record is marked orphaned");

        let ledger = tmp.path().join(format!("ledger-{how}.jsonl"));
        let init = ["gate", "init", "--ledger", s(&ledger), "--key", s(&auditor), "--operator", "ops"];
        assert_eq!(dualrun(&init).code, 0);
        let r = dualrun(&["gate", "evaluate", "--ledger", s(&ledger), "--evidence", s(&run)]);
        assert_ne!(r.code, 0, "{how}: the gate refuses the run: {}", r.stdout);
        assert!(r.stdout.contains("reorgs.jsonl"), "{}", r.stdout);
        std::fs::remove_file(&reorgs).unwrap();
    }
    assert_eq!(dualrun(&["report", "verify", s(&run), "--trusted-key", &public]).code, 0, "as signed again");
}

/// A reproduce line is shell-quoted: hostile characters in `--out` and `--python-path` come back as the
/// exact words from `shlex.split`, and running the line in a shell reproduces the block and nothing else.
#[test]
fn a_reproduce_line_is_shell_safe() {
    let tmp = tempfile::tempdir().unwrap();
    let hostile = tmp.path().join("we ird'; touch PWNED; echo '");
    std::fs::create_dir_all(&hostile).unwrap();
    let python_path = tmp.path().join("it's $(touch PWNED2)");
    std::fs::create_dir_all(&python_path).unwrap();
    let run = hostile.join("run");
    sample_run(&run, &["--python-path", s(&python_path)]);
    let first: serde_json::Value =
        serde_json::from_str(read(&run.join("divergences.jsonl")).lines().next().unwrap()).unwrap();
    let line = first["reproduce"].as_str().unwrap();
    let words = shell_words(line);
    let height = first["height"].as_u64().unwrap().to_string();
    let out = hostile.join(format!("reproduce-{height}"));
    let after = |flag: &str| words.iter().position(|w| w == flag).map(|i| words[i + 1].clone());
    assert_eq!(words[..2], ["dualrun", "replay"]);
    assert_eq!(after("--out").as_deref(), Some(s(&out)), "{line}");
    assert_eq!(after("--python-path").as_deref(), Some(s(&python_path)), "{line}");
    assert_eq!((after("--from"), after("--to")), (Some(height.clone()), Some(height)));

    let bin = Path::new(env!("CARGO_BIN_EXE_dualrun")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let status = Command::new("sh").arg("-c").arg(line).current_dir(tmp.path()).env("PATH", path).status().unwrap();
    assert_eq!(status.code(), Some(1), "the block's halt again");
    assert_eq!(read(&out.join("divergences.jsonl")).lines().count(), 1);
    for planted in ["PWNED", "PWNED2"] {
        assert!(!tmp.path().join(planted).exists(), "the line ran an injected command ({planted})");
    }
}

/// One unreadable line hides nothing else: every readable record is rendered, the counts are those of
/// what is shown, and the line is named.
#[test]
fn a_broken_record_line_is_named_and_every_other_record_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    sample_run(&run, &[]);
    let jsonl = run.join("divergences.jsonl");
    let mut lines: Vec<String> = read(&jsonl).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 10);
    lines[4] = "{\"height\": 1, broken".into();
    std::fs::write(&jsonl, lines.join("\n") + "\n").unwrap();
    let (html, md) = report(&run, tmp.path());
    assert!(html.contains("data-class=\"halt\" data-count=\"9\""), "nine halts shown");
    assert!(html.contains("divergences.jsonl line 5: not a record"), "the line is named");
    assert!(md.contains("| halt | 9 |") && md.contains("| **all** | **9** |"), "{md}");
    assert!(md.contains("divergences.jsonl line 5: not a record"), "{md}");
}

/// A record file replaced by a link is never followed: its target's content appears nowhere.
#[test]
fn a_linked_record_file_leaks_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    sample_run(&run, &[]);
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "root:TOP-SECRET-HASH:0:0\n").unwrap();
    std::fs::remove_file(run.join("divergences.jsonl")).unwrap();
    std::os::unix::fs::symlink(&secret, run.join("divergences.jsonl")).unwrap();
    let (html, md) = report(&run, tmp.path());
    for page in [&html, &md] {
        assert!(!page.contains("TOP-SECRET"), "the link's target leaked");
        assert!(page.contains("a symbolic link"), "the link is named");
    }
}

/// Every value in the Markdown summary is escaped: no HTML comment, tag or table break comes from a record.
#[test]
fn markdown_values_are_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    sample_run(&run, &[]);
    let jsonl = run.join("divergences.jsonl");
    let text = read(&jsonl).replacen(
        "\"reason\":\"leader.missing\"",
        "\"reason\":\"x|y <!-- <img src=x onerror=alert(1)> *b* [l](j:x)\"",
        1,
    );
    std::fs::write(&jsonl, text).unwrap();
    let (_, md) = report(&run, tmp.path());
    assert!(md.contains("onerror"), "the edited record is among those shown: {md}");
    for raw in ["<!--", "<img", "x|y", "*b*", "[l](j:x)"] {
        assert!(!md.contains(raw), "{raw} reached the Markdown: {md}");
    }
    assert!(md.contains("x\\|y &lt;!-- &lt;img src=x onerror=alert(1)&gt; \\*b\\* \\[l\\](j:x)"), "{md}");
}

/// A record line of 300 MB is reported by number and never held: the report's peak memory stays far
/// below the line's size.
#[test]
fn a_huge_record_line_is_read_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    sample_run(&run, &[]);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(run.join("divergences.jsonl")).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        f.write_all(b"{\"blob\":\"").unwrap();
        for _ in 0..300 {
            f.write_all(&chunk).unwrap();
        }
    }
    let html = tmp.path().join("r.html");
    let child = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(["report", s(&run), "--out", s(&html)])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let peak = dualrun_testkit::PeakRss::watch(child.id());
    let mut child = child;
    child.wait().unwrap();
    let peak_mb = peak.peak_mb();
    assert!(peak_mb < 150, "the report peaked at {peak_mb} MB for a 300 MB line");
    assert!(read(&html).contains("divergences.jsonl line 11: a line of 314572809 bytes"));
}

/// A daemon serving a block that does not link to the block below it (which it still serves) is neither
/// a reorganization nor a livelock: asked again with backoff, said once, and after the give-up time an
/// exit 1 naming the height, resumable.
#[test]
fn a_daemon_serving_an_unlinked_block_stops_follow_naming_the_height() {
    let tmp = tempfile::tempdir().unwrap();
    let mut chain = sample_blocks(71);
    let unlinked = chain.pop().unwrap(); // block 71: its parent is block 70, not block 69
    chain[70] = unlinked.clone();
    chain[70].header["height"] = 70.into();
    let daemon = FakeDaemon::start(chain, None);
    let out = tmp.path().join("live");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(["follow", "--daemon", &daemon.url, "--from", "62", "--to", "75", "--out", s(&out)])
        .args(["--inconsistent-seconds", "3", "--poll-ms", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = wait_exit(&mut child, Duration::from_secs(60), "follow on an inconsistent chain");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("its block at height 70 names parent"), "{stderr}");
    assert!(stderr.contains(&format!(
        "but its block at height 69 is {}",
        sample_blocks(69)[69].header["hash"].as_str().unwrap()
    )));
    let log = read(&out.join("run.log"));
    assert_eq!(log.matches("does not link to the block it serves below it").count(), 1, "said once: {log}");
    assert!(!log.contains("reorganized"), "not taken for a reorganization: {log}");
    assert_eq!(json(&out.join("checkpoint.json"))["next_height"], 70, "judged up to 69, resumable");
}

/// Ctrl-C while the daemon drips an answer forever ends follow at once, resumable (the call is
/// abandoned, not waited out to its timeout).
#[test]
fn an_interrupt_cuts_a_dripping_daemon_call() {
    let tmp = tempfile::tempdir().unwrap();
    let daemon = FakeDaemon::start(sample_blocks(80), Some(66));
    let out = tmp.path().join("live");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dualrun"))
        .args(["follow", "--daemon", &daemon.url, "--from", "62", "--out", s(&out), "--timeout", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Blocks 62..=65 fetched; the call for 66 drips (they are judged once the read ends).
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.join("manifest.json").exists() {
        assert!(Instant::now() < deadline && child.try_wait().unwrap().is_none(), "follow did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let code = wait_exit(&mut child, Duration::from_secs(10), "follow after Ctrl-C during a dripping call");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut said).unwrap();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("--resume"), "resumable: {said}");
    assert!(!said.contains("does not answer"), "an interrupted call is not an outage: {said}");
    let next = json(&out.join("checkpoint.json"))["next_height"].as_u64().unwrap();
    assert!((62..=66).contains(&next), "checkpointed at {next}");
}
