//! `dualrun report`: the HTML report and Markdown summary are deterministic and never hide a problem;
//! `report sign`/`verify` hold on an untouched run and name the file after a one-byte edit; `verify
//! --rerun` proves the records follow from the inputs and names what does not, on a moved copy too.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A SHADOW replay of a private copy of the sample (with its own profile file) into `dir/run`.
fn sample_run(dir: &Path) -> (PathBuf, PathBuf) {
    let chain = dir.join("chain");
    std::fs::create_dir_all(&chain).unwrap();
    std::fs::copy(sample_dir().join("data.mdb"), chain.join("data.mdb")).unwrap();
    let profile = dir.join("profile.toml");
    std::fs::copy(sample_dir().join("profile.toml"), &profile).unwrap();
    let run = dir.join("run");
    let r = dualrun(&["replay", "--chain", s(&chain), "--profile", s(&profile), "--out", s(&run)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    (run, profile)
}

fn key(dir: &Path, id: &str) -> (PathBuf, String) {
    let file = dir.join(format!("{id}.key"));
    let r = dualrun(&["keygen", "--id", id, "--out", s(&file)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (file, r.stdout.split_whitespace().nth(1).unwrap().to_owned())
}

#[test]
fn the_report_is_deterministic_and_replay_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, _) = sample_run(tmp.path());
    let written = std::fs::read(run.join("report.html")).unwrap();
    let (a, b) = (tmp.path().join("a.html"), tmp.path().join("b.html"));
    for out in [&a, &b] {
        let r = dualrun(&["report", s(&run), "--out", s(out), "--markdown", s(&out.with_extension("md"))]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("10 record(s)"), "{}", r.stdout);
    }
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "same run, same bytes");
    assert!(std::fs::read(&a).unwrap() == written, "the report replay wrote is the same file");
    assert!(std::fs::read(a.with_extension("md")).unwrap() == std::fs::read(b.with_extension("md")).unwrap());

    let html = String::from_utf8(written).unwrap();
    for needle in ["data-class=\"halt\" data-count=\"10\"", "data-level=\"findings\"", "<svg", "leader.missing"] {
        assert!(html.contains(needle), "the report has {needle}");
    }
    // Self-contained: nothing is fetched.
    for remote in ["http://", "https://", "src=\"", "<link"] {
        let hits: Vec<&str> = html.match_indices(remote).map(|(i, _)| &html[i..(i + 60).min(html.len())]).collect();
        let external: Vec<&&str> = hits.iter().filter(|h| !h.starts_with("http://www.w3.org")).collect();
        assert!(external.is_empty(), "a reference out of the file: {external:?}");
    }
    let md = std::fs::read_to_string(a.with_extension("md")).unwrap();
    assert!(md.contains("| halt | 10 |") && md.contains("| 70 | halt | accept | reject (leader.missing) |"), "{md}");

    // The sample's default run (the README's main job) ends by naming its report.
    let default_run = tmp.path().join("default");
    let r = dualrun(&["replay", "--out", s(&default_run)]);
    let last = r.stdout.lines().last().unwrap_or_default();
    assert!(last.contains(&format!("report         {}", default_run.join("report.html").display())), "{}", r.stdout);
}

#[test]
fn sign_and_verify_hold_and_name_the_edited_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, _) = sample_run(tmp.path());
    let (auditor, auditor_pub) = key(tmp.path(), "auditor");
    let (_, other_pub) = key(tmp.path(), "other");

    let r = dualrun(&["report", "verify", s(&run)]);
    assert_eq!(r.code, 2, "no attestation yet: {}", r.stdout);
    let r = dualrun(&["report", "sign", s(&run), "--key", s(&auditor)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = dualrun(&["report", "verify", s(&run), "--trusted-key", &auditor_pub]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("attestation holds"), "{}", r.stdout);
    let r = dualrun(&["report", "verify", s(&run), "--trusted-key", &other_pub]);
    assert_eq!(r.code, 1, "signed by a key that is not trusted: {}", r.stdout);

    // One byte of any file: verify fails naming it.
    for name in ["divergences.csv", "summary.json", "report.html"] {
        let file = run.join(name);
        let original = std::fs::read(&file).unwrap();
        let mut edited = original.clone();
        let at = edited.len() / 2;
        edited[at] ^= 0x01;
        std::fs::write(&file, &edited).unwrap();
        let r = dualrun(&["report", "verify", s(&run)]);
        assert_eq!(r.code, 1, "{name}: {}", r.stdout);
        assert!(r.stdout.contains(&format!("{name}: sha256 was")), "{name}: {}", r.stdout);
        std::fs::write(&file, &original).unwrap();
    }
    let r = dualrun(&["report", "verify", s(&run)]);
    assert_eq!(r.code, 0, "restored: {}", r.stdout);
}

#[test]
fn rerun_proves_the_records_follow_from_the_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, profile) = sample_run(tmp.path());
    let r = dualrun(&["report", "verify", s(&run), "--rerun"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("the 10 records follow from the inputs"), "{}", r.stdout);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("rerun"))
        .collect();
    assert!(leftovers.is_empty(), "the re-run's directory is removed");

    // A record forged after the run, digests recomputed so the run still looks untouched: the re-run
    // names it.
    let forged = tmp.path().join("forged");
    copy_dir(&run, &forged);
    let jsonl = forged.join("divergences.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let text = text.replacen("no leader record in the miner extra", "all fine", 1);
    std::fs::write(&jsonl, &text).unwrap();
    let manifest_file = forged.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_file).unwrap()).unwrap();
    manifest["files"]["divergences.jsonl"] = keccak_hex(text.as_bytes()).into();
    std::fs::write(&manifest_file, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let r = dualrun(&["report", "verify", s(&forged), "--rerun"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("at line 1: the record at height 70"), "{}", r.stdout);
    assert!(r.stdout.contains("candidate"), "the differing field is named: {}", r.stdout);

    // An input changed or gone: exit 2 naming it.
    let original = std::fs::read(&profile).unwrap();
    std::fs::write(&profile, [original.as_slice(), b"\n# edited\n"].concat()).unwrap();
    let r = dualrun(&["report", "verify", s(&run), "--rerun"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains(&format!("profile {}: digest was", profile.display())), "{}", r.stderr);
    std::fs::write(&profile, &original).unwrap();
    std::fs::remove_file(tmp.path().join("chain/data.mdb")).unwrap();
    std::fs::remove_dir(tmp.path().join("chain")).unwrap();
    let r = dualrun(&["report", "verify", s(&run), "--rerun"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("is gone"), "{}", r.stderr);
}

/// Evidence copied elsewhere (chain, profile and run together) is re-run from the copy with `--moved`,
/// and only from the copy: with the original gone it still holds, without `--moved` it names the gone
/// chain; a record edited in the copy is found.
#[test]
fn rerun_of_a_moved_copy_reads_the_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().canonicalize().unwrap().join("evidence");
    std::fs::create_dir(&original).unwrap();
    let (run, _) = sample_run(&original);
    let (auditor, auditor_pub) = key(tmp.path(), "auditor");
    let r = dualrun(&["report", "sign", s(&run), "--key", s(&auditor)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let copy = tmp.path().canonicalize().unwrap().join("auditor copy");
    copy_dir(&original, &copy);
    std::fs::remove_dir_all(&original).unwrap();
    let moved = format!("{}={}", original.display(), copy.display());
    let copied_run = copy.join("run");

    let r = dualrun(&["report", "verify", s(&copied_run), "--trusted-key", &auditor_pub, "--rerun", "--moved", &moved]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("attestation holds") && r.stdout.contains("the 10 records follow"), "{}", r.stdout);
    let r = dualrun(&["report", "verify", s(&copied_run), "--rerun"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains(&format!("the chain {} is gone", original.join("chain").display())), "{}", r.stderr);
    let r = dualrun(&["report", "verify", s(&copied_run), "--moved", &moved]);
    assert_eq!(r.code, 2, "--moved without --rerun is refused: {}", r.stdout);
    let r = dualrun(&["report", "verify", s(&copied_run), "--rerun", "--moved", "evidence=/x"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("FROM must be an absolute path"), "{}", r.stderr);

    // A record forged in the copy, digests recomputed: the copy's re-run names it.
    let jsonl = copied_run.join("divergences.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap().replacen("no leader record in the miner extra", "fine", 1);
    std::fs::write(&jsonl, &text).unwrap();
    let manifest_file = copied_run.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_file).unwrap()).unwrap();
    manifest["files"]["divergences.jsonl"] = keccak_hex(text.as_bytes()).into();
    std::fs::write(&manifest_file, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    std::fs::remove_file(copied_run.join("attestation.dsse.json")).unwrap();
    let r = dualrun(&["report", "verify", s(&copied_run), "--rerun", "--moved", &moved]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("at line 1: the record at height 70"), "{}", r.stdout);
}

#[test]
fn a_damaged_run_still_renders_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, _) = sample_run(tmp.path());
    let (auditor, _) = key(tmp.path(), "auditor");

    // An edited record file, a missing summary digest target: the banner says it in plain words.
    let edited = tmp.path().join("edited");
    copy_dir(&run, &edited);
    let csv = edited.join("divergences.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&csv, &bytes).unwrap();
    let r = dualrun(&["report", s(&edited)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("problem: edited: divergences.csv was changed after the run"), "{}", r.stdout);
    let html = std::fs::read_to_string(edited.join("report.html")).unwrap();
    assert!(html.contains("data-level=\"problems\"") && html.contains("divergences.csv was changed after the run"));

    // An incomplete run (killed before its summary): rendered, said, and `sign` refuses it.
    let killed = tmp.path().join("killed");
    copy_dir(&run, &killed);
    std::fs::remove_file(killed.join("summary.json")).unwrap();
    let r = dualrun(&["report", s(&killed)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("summary.json"), "{}", r.stdout);
    let html = std::fs::read_to_string(killed.join("report.html")).unwrap();
    assert!(html.contains("data-level=\"problems\""), "the banner says the run is not usable");
    assert!(html.contains("profile.toml") && html.contains("chain digest"), "the manifest's inputs are still shown");
    let r = dualrun(&["report", "sign", s(&killed), "--key", s(&auditor)]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(!killed.join("attestation.dsse.json").exists());

    // A ledger that does not verify: the banner says so.
    let ledger = tmp.path().join("ledger.jsonl");
    let r = dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&auditor), "--operator", "alice"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&ledger).unwrap().replace("\"alice\"", "\"mallory\"");
    std::fs::write(&ledger, text).unwrap();
    let out = tmp.path().join("both.html");
    let r = dualrun(&["report", s(&run), s(&edited), "--ledger", s(&ledger), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("does not verify"), "{}", r.stdout);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("id=\"overview\"") && html.contains("data-ok=\"0\""), "overview and a failing ledger");

    // Several runs need --out.
    let r = dualrun(&["report", s(&run), s(&edited)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--out"), "{}", r.stderr);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn keccak_hex(bytes: &[u8]) -> String {
    use sha3::Digest;
    hex::encode(sha3::Keccak256::digest(bytes))
}
