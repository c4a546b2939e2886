//! The gate on real replay evidence: init → shadow → refused → primary → rollback, an auditor's
//! verify, evidence edited after the fact; and the golden-vector gate failing the way CI needs.

use std::path::Path;

use crate::common::*;

fn replay(out: &Path, mode: &str) {
    let r = dualrun(&["replay", "--mode", mode, "--out", s(out)]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
}

fn golden_dir() -> std::path::PathBuf {
    repo().join("golden-vectors")
}

/// A key `ops.key` and a ledger started with it in `dir`, and a SHADOW replay of the sample in `dir/run`.
fn ledger_and_run(dir: &Path) -> std::path::PathBuf {
    let ledger = dir.join("ledger.jsonl");
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&dir.join("ops.key"))]).code, 0);
    assert_eq!(
        dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&dir.join("ops.key")), "--operator", "ops"]).code,
        0
    );
    replay(&dir.join("run"), "shadow");
    ledger
}

/// `gate promote` of [`ledger_and_run`]'s ledger in `dir` on its run, signed with its key.
fn promote_on_the_run(dir: &Path) -> Run {
    let (ledger, key, run) = (dir.join("ledger.jsonl"), dir.join("ops.key"), dir.join("run"));
    let golden = golden_dir();
    dualrun(&[
        "gate",
        "promote",
        "--ledger",
        s(&ledger),
        "--golden",
        s(&golden),
        "--key",
        s(&key),
        "--reason",
        "r",
        "--evidence",
        s(&run),
    ])
}

#[test]
fn the_full_walk_on_real_replays_and_an_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let ledger = t("ledger.jsonl");
    let (golden, alice_key, policy, allow_file) = (
        s(&golden_dir()).to_owned(),
        s(&t("alice.key")).to_owned(),
        s(&t("policy.toml")).to_owned(),
        s(&t("allow.toml")).to_owned(),
    );
    let (shadow_run, primary_run) = (s(&t("shadow-run")).to_owned(), s(&t("primary-run")).to_owned());
    assert_eq!(dualrun(&["keygen", "--id", "alice", "--out", s(&t("alice.key"))]).code, 0);
    let r = dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&t("alice.key")), "--operator", "alice"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let status = dualrun(&["gate", "status", "--ledger", s(&ledger), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!((v["mode"].as_str(), v["entries"].as_u64()), (Some("legacy"), Some(1)));
    assert_eq!(v["last"]["action"], "init");

    replay(&t("shadow-run"), "shadow");
    let evidence = ["--evidence", shadow_run.as_str()];

    // Without golden vectors the move to SHADOW is inconclusive (exit 3), and says why.
    let mut args = vec!["gate", "evaluate", "--ledger", s(&ledger)];
    args.extend(evidence);
    let r = dualrun(&args);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("inconclusive") && r.stdout.contains("no golden vectors given"), "{}", r.stdout);

    // With them it passes; promote.
    let mut args = vec![
        "gate",
        "promote",
        "--ledger",
        s(&ledger),
        "--golden",
        &golden,
        "--key",
        &alice_key,
        "--reason",
        "golden vectors pass",
    ];
    args.extend(evidence);
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("promoted legacy -> shadow"), "{}", r.stdout);

    // SHADOW -> PRIMARY is refused: the ten halts at the injected faults. Nothing is written.
    std::fs::write(t("policy.toml"), "[to_primary]\nmin_blocks = 100\n").unwrap();
    let before = std::fs::read(&ledger).unwrap();
    let mut args = vec!["gate", "promote", "--ledger", s(&ledger), "--policy", &policy, "--golden", &golden];
    args.extend(["--key", alice_key.as_str(), "--reason", "try"]);
    args.extend(evidence);
    let r = dualrun(&args);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("max_divergences") && r.stdout.contains("10, need <= 0"), "{}", r.stdout);
    assert!(r.stdout.contains("inconclusive isolation.proven"), "{}", r.stdout);
    assert!(r.stdout.contains("no isolation evidence"), "{}", r.stdout);
    assert_eq!(std::fs::read(&ledger).unwrap(), before, "a refused promotion writes nothing");

    // The network's nodes refuse Monero's peers: isolation evidence for PRIMARY.
    let node = dualrun_testkit::p2p_node::PrivateNode::start(
        hex::decode("6475616c72756e2d73616d706c650001").unwrap().try_into().unwrap(),
        201,
    );
    let (profile, isolation) = (s(&sample_dir().join("profile.toml")).to_owned(), s(&t("isolation.json")).to_owned());
    let r =
        dualrun(&["net", "isolation", "--profile", &profile, "--peer", &node.addr.to_string(), "--out", &isolation]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // An allowlist that excuses the ten halts, with justification, author and expiry: PRIMARY.
    let csv = std::fs::read_to_string(t("shadow-run").join("divergences.csv")).unwrap();
    let mut allow = String::new();
    for l in csv.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        allow.push_str(&format!(
            "[[entries]]\nblock_id = \"{}\"\nclass = \"{}\"\njustification = \"injected fault\"\nauthor = \"alice\"\nexpires_height = 1000\n\n",
            f[1], f[2]
        ));
    }
    std::fs::write(t("allow.toml"), allow).unwrap();
    let mut args = vec!["gate", "promote", "--ledger", s(&ledger), "--policy", &policy, "--golden", &golden];
    args.extend(["--allowlist", allow_file.as_str(), "--key", alice_key.as_str(), "--reason", "faults are known"]);
    args.extend(["--isolation", isolation.as_str()]);
    args.extend(evidence);
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("10 excused by the allowlist"), "{}", r.stdout);
    assert!(r.stdout.contains("pass         isolation.proven"), "{}", r.stdout);

    // Any active allowlist entry blocks PRIMARY -> ONLY.
    replay(&t("primary-run"), "primary");
    let r = dualrun(&[
        "gate",
        "evaluate",
        "--ledger",
        s(&ledger),
        "--policy",
        &policy,
        "--golden",
        &golden,
        "--allowlist",
        &allow_file,
        "--evidence",
        &primary_run,
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("fail         no_active_allowlist_entries"), "{}", r.stdout);

    // Rollback to any earlier mode: always allowed, recorded.
    let r = dualrun(&[
        "gate",
        "rollback",
        "--ledger",
        s(&ledger),
        "--to",
        "legacy",
        "--key",
        s(&t("alice.key")),
        "--reason",
        "drill",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&dualrun(&["gate", "status", "--ledger", s(&ledger), "--format", "json"]).stdout).unwrap();
    assert_eq!((v["mode"].as_str(), v["entries"].as_u64()), (Some("legacy"), Some(4)));
    assert_eq!(v["last"]["action"], "rollback");

    audit_the_walk(tmp.path(), &ledger, &golden, &shadow_run);
}

/// The audit of the ledger the full walk left in `dir`: trusted keys, a ledger cut short, evidence
/// edited after the fact.
fn audit_the_walk(dir: &Path, ledger: &Path, golden: &str, shadow_run: &str) {
    let t = |n: &str| dir.join(n);
    // An auditor verifies it all, trusting alice's key only.
    let alice =
        std::fs::read_to_string(t("alice.key")).unwrap().split("public_key = \"").nth(1).unwrap()[..64].to_owned();
    let r = dualrun(&["gate", "verify", "--ledger", s(ledger), "--trusted-key", &alice]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("4 entries verified; mode legacy"), "{}", r.stdout);
    // The head an audit prints catches a ledger cut short later.
    let head = r.stdout.trim_end().rsplit(' ').next().unwrap().to_owned();
    let text = std::fs::read_to_string(ledger).unwrap();
    let cut = t("cut.jsonl");
    std::fs::write(&cut, text.lines().take(3).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    assert_eq!(
        dualrun(&["gate", "verify", "--ledger", s(&cut), "--skip-evidence"]).code,
        0,
        "a prefix is a valid ledger by itself"
    );
    let r = dualrun(&["gate", "verify", "--ledger", s(&cut), "--skip-evidence", "--expect-head", &head]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("entries were removed from the end"), "{}", r.stdout);
    assert_eq!(dualrun(&["keygen", "--id", "bob", "--out", s(&t("bob.key"))]).code, 0);
    let bob = std::fs::read_to_string(t("bob.key")).unwrap().split("public_key = \"").nth(1).unwrap()[..64].to_owned();
    let r = dualrun(&["gate", "verify", "--ledger", s(ledger), "--trusted-key", &bob]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("entry 0") && r.stdout.contains("not a trusted key"), "{}", r.stdout);

    // An isolation file edited after the fact: the promotion that relied on it fails the audit.
    let iso = t("isolation.json");
    let original = std::fs::read_to_string(&iso).unwrap();
    std::fs::write(&iso, original.replacen("\"timeout_ms\": ", "\"timeout_ms\": 1", 1)).unwrap();
    let r = dualrun(&["gate", "verify", "--ledger", s(ledger)]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("entry 2")
            && r.stdout.contains("isolation.json")
            && r.stdout.contains("edited after it was written"),
        "{}",
        r.stdout
    );
    std::fs::write(&iso, original).unwrap();

    // Evidence edited after the fact: the entry that relied on it fails the audit.
    let csv_path = t("shadow-run").join("divergences.csv");
    let edited = std::fs::read_to_string(&csv_path).unwrap().replacen("halt", "fact", 1);
    std::fs::write(&csv_path, edited).unwrap();
    let r = dualrun(&["gate", "verify", "--ledger", s(ledger)]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("entry 1") && r.stdout.contains("divergences.csv was changed after the run"),
        "{}",
        r.stdout
    );
    // ... and it no longer counts as evidence.
    let r = dualrun(&["gate", "evaluate", "--ledger", s(ledger), "--golden", golden, "--evidence", shadow_run]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("divergences.csv was changed after the run"), "{}", r.stdout);
}

#[test]
fn forced_promotions_are_recorded_as_overrides_and_incomplete_runs_are_not_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let ledger = t("ledger.jsonl");
    dualrun(&["keygen", "--id", "ops", "--out", s(&t("ops.key"))]);
    dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&t("ops.key")), "--operator", "ops"]);
    // A run killed before the end is not evidence: its manifest still says `"complete": false`, as it
    // does from the start of a run until its end.
    let out = t("partial");
    replay(&out, "shadow");
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"complete\": true"));
    std::fs::write(out.join("manifest.json"), manifest.replace("\"complete\": true", "\"complete\": false")).unwrap();
    let r = dualrun(&["gate", "evaluate", "--ledger", s(&ledger), "--golden", s(&golden_dir()), "--evidence", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("the run is not complete"), "{}", r.stdout);
    // --force promotes without passing, and the ledger says so.
    let r = dualrun(&[
        "gate",
        "promote",
        "--ledger",
        s(&ledger),
        "--key",
        s(&t("ops.key")),
        "--reason",
        "emergency",
        "--force",
        "--evidence",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FORCED OVERRIDE"), "{}", r.stdout);
    let v: serde_json::Value =
        serde_json::from_str(&dualrun(&["gate", "status", "--ledger", s(&ledger), "--format", "json"]).stdout).unwrap();
    assert_eq!(v["last"]["override"], true);
    assert_eq!(v["mode"], "shadow");
}

#[test]
fn golden_check_fails_on_mismatch_unreadable_files_and_unexpected_skips_with_junit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vectors");
    std::fs::create_dir_all(&dir).unwrap();
    let src = golden_dir().join("leader-v1");
    let pick = |prefix: &str| {
        std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap()
    };
    // A passing vector, a vector expecting another reason, an unreadable one, a skip without reason,
    // and a skip with one.
    std::fs::copy(pick("too-soon-"), dir.join("a-pass.json")).unwrap();
    let text = std::fs::read_to_string(pick("round-robin-not-scheduled-")).unwrap();
    std::fs::write(dir.join("b-mismatch.json"), text.replace("\"leader.not_scheduled\"", "\"leader.bad_signature\""))
        .unwrap();
    std::fs::write(dir.join("c-broken.json"), "{ this is not json").unwrap();
    let skip = |reason: &str| text.replacen("\"provenance\"", &format!("\"skip\": \"{reason}\",\n  \"provenance\""), 1);
    std::fs::write(dir.join("d-skip-no-reason.json"), skip("")).unwrap();
    std::fs::write(dir.join("e-skip.json"), skip("waiting for protocol v2")).unwrap();

    let junit = tmp.path().join("junit.xml");
    let r = dualrun(&["golden", "check", s(&dir), "--junit", s(&junit)]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.lines().any(|l| l == "golden: 1 passed, 3 failed, 1 skipped"), "{}", r.stdout);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 5);
    assert_eq!(xml.matches("<failure").count(), 3);
    assert!(xml.contains("reason: expected leader.bad_signature, got leader.not_scheduled"), "{xml}");
    assert!(xml.contains("c-broken.json: not a golden vector"), "{xml}");
    assert!(xml.contains("skipped without a written reason"), "{xml}");
    assert!(xml.contains("<skipped message=\"waiting for protocol v2\""), "{xml}");

    // The shipped set passes, also through the built-in validator as a second implementation.
    let r = dualrun(&["golden", "check", s(&golden_dir()), "--legacy", "builtin:leader-v1"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The reference legacy knows no leaders: parity with it fails exactly on the leader rules.
    let r = dualrun(&["golden", "check", s(&golden_dir().join("leader-v1")), "--legacy", "python:dualrun_legacy"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("python:dualrun_legacy: verdict: expected reject, got accept"), "{}", r.stdout);

    // An unknown schema version fails.
    std::fs::write(
        dir.join("f-future.json"),
        std::fs::read_to_string(pick("too-soon-")).unwrap().replace("dualrun-golden/v1", "dualrun-golden/v2"),
    )
    .unwrap();
    let r = dualrun(&["golden", "check", s(&dir)]);
    assert!(r.stdout.contains("unknown schema \"dualrun-golden/v2\""), "{}", r.stdout);
}

/// An auditor given a copy of the evidence elsewhere: without `--moved` the runs the ledger names are
/// gone; with it the copy is audited — and only the copy: an edit there fails the audit, naming it.
#[test]
fn an_audit_of_a_moved_copy_reads_the_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let recorded = tmp.path().join("evidence");
    std::fs::create_dir(&recorded).unwrap();
    ledger_and_run(&recorded);
    let r = promote_on_the_run(&recorded);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let from = recorded.canonicalize().unwrap();
    let copy = tmp.path().join("copy");
    std::fs::rename(&recorded, &copy).unwrap();
    let ledger = copy.join("ledger.jsonl");
    let verify = |extra: &[&str]| {
        let mut args = vec!["gate", "verify", "--ledger", s(&ledger)];
        args.extend_from_slice(extra);
        dualrun(&args)
    };
    let r = verify(&[]);
    assert_eq!(r.code, 1);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("is not there any more"), "{}{}", r.stdout, r.stderr);
    let moved = format!("{}={}", from.display(), copy.display());
    let r = verify(&["--moved", &moved]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let records = copy.join("run").join("divergences.csv");
    let mut text = std::fs::read_to_string(&records).unwrap();
    text.push_str("edited\n");
    std::fs::write(&records, text).unwrap();
    let r = verify(&["--moved", &moved]);
    assert_eq!(r.code, 1);
    assert!(format!("{}{}", r.stdout, r.stderr).contains(s(&copy.join("run"))), "{}{}", r.stdout, r.stderr);
    let r = verify(&["--moved", "evidence=/elsewhere"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--moved") && r.stderr.contains("absolute"), "{}", r.stderr);
}

#[test]
fn a_divergence_becomes_a_vector() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    replay(&run, "shadow");
    let out = tmp.path().join("recorded");
    let r = dualrun(&["golden", "record", "--run", s(&run), "--height", "70", "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = std::path::PathBuf::from(r.stdout.trim());
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["kind"], "leader-v1");
    assert_eq!(v["block"]["height"], 70);
    assert_eq!(v["expected"]["verdict"], "accept", "the legacy's verdict is the expected one");
    assert_eq!(v["provenance"]["height"], 70);
    assert!(v["provenance"]["source"].as_str().unwrap().contains(s(&run)));
    // The candidate still disagrees: the vector fails, naming what differs.
    let r = dualrun(&["golden", "check", s(&out)]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("verdict: expected accept, got reject"), "{}", r.stdout);
    let r = dualrun(&["golden", "record", "--run", s(&run), "--height", "71", "--out", s(&out)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no record at height 71"), "{}", r.stderr);

    // When the run's profile was the cause, the vector is judged under the corrected one: here a
    // profile whose leader rules start after block 70, under which the candidate agrees with the legacy.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let run_profile = std::fs::read_to_string(manifest["inputs"]["profile"]["path"].as_str().unwrap()).unwrap();
    let corrected = tmp.path().join("corrected.toml");
    std::fs::write(&corrected, run_profile.replace("activation_height = 61", "activation_height = 100")).unwrap();
    let record_under = |out: &Path| {
        dualrun(&["golden", "record", "--run", s(&run), "--height", "70", "--out", s(out), "--profile", s(&corrected)])
    };
    let fixed = tmp.path().join("fixed");
    let r = record_under(&fixed);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(r.stdout.trim()).unwrap()).unwrap();
    assert!(v["profile"].as_str().unwrap().contains("activation_height = 100"));
    assert!(v["description"].as_str().unwrap().contains(&format!("judged under {}", s(&corrected))), "{v}");
    let r = dualrun(&["golden", "check", s(&fixed)]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // A file that is not a profile is refused, naming it; nothing is written.
    std::fs::write(&corrected, "[leader]\nactivation_height = 0\n").unwrap();
    let refused = tmp.path().join("refused");
    let r = record_under(&refused);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--profile") && r.stderr.contains(s(&corrected)), "{}", r.stderr);
    assert!(!refused.exists());
}

#[test]
fn allowlist_hygiene_profile_pinning_and_invalid_allowlists() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let ledger = ledger_and_run(tmp.path());
    promote_on_the_run(tmp.path());
    std::fs::write(
        t("policy.toml"),
        "[to_primary]\nmin_blocks = 100\nmax_divergences = 10\nrequire_isolation = false\n",
    )
    .unwrap();

    // A block id that is not one is refused (a typo must not silently match nothing).
    std::fs::write(
        t("allow.toml"),
        "[[entries]]\nblock_id = \"00\"\nclass = \"halt\"\njustification = \"j\"\nauthor = \"a\"\nexpires_date = \"2999-01-01\"\n",
    )
    .unwrap();
    let r = dualrun(&[
        "gate",
        "evaluate",
        "--ledger",
        s(&ledger),
        "--evidence",
        s(&t("run")),
        "--allowlist",
        s(&t("allow.toml")),
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("allow.toml") && r.stderr.contains("block_id"), "{}", r.stderr);
    // An entry that matches nothing: reported, and a failure under --strict.
    std::fs::write(
        t("allow.toml"),
        "[[entries]]\nblock_id = \"0000000000000000000000000000000000000000000000000000000000000000\"\nclass = \"halt\"\njustification = \"j\"\nauthor = \"a\"\nexpires_date = \"2999-01-01\"\n",
    )
    .unwrap();
    let (policy, golden, run, allow) = (t("policy.toml"), golden_dir(), t("run"), t("allow.toml"));
    let base = [
        "gate",
        "evaluate",
        "--ledger",
        s(&ledger),
        "--policy",
        s(&policy),
        "--golden",
        s(&golden),
        "--evidence",
        s(&run),
        "--allowlist",
        s(&allow),
    ];
    let r = dualrun(&base);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("allowlist_hygiene") && r.stdout.contains("never matched"), "{}", r.stdout);
    let mut strict = base.to_vec();
    strict.push("--strict");
    let r = dualrun(&strict);
    assert_eq!(r.code, 1, "{}", r.stdout);

    // Evidence made with another profile (here: the same one with a comment added) is refused.
    let other = t("other-profile.toml");
    std::fs::write(
        &other,
        format!("# edited\n{}", std::fs::read_to_string(sample_dir().join("profile.toml")).unwrap()),
    )
    .unwrap();
    let r = dualrun(&["replay", "--profile", s(&other), "--out", s(&t("other-run"))]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = dualrun(&[
        "gate",
        "evaluate",
        "--ledger",
        s(&ledger),
        "--policy",
        s(&t("policy.toml")),
        "--golden",
        s(&golden_dir()),
        "--evidence",
        s(&t("other-run")),
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("made with profile"), "{}", r.stdout);

    // A split cannot be allowlisted.
    std::fs::write(t("bad.toml"), "[[entries]]\nblock_id = \"0000000000000000000000000000000000000000000000000000000000000000\"\nclass = \"split\"\njustification = \"j\"\nauthor = \"a\"\nexpires_height = 9\n").unwrap();
    let r = dualrun(&[
        "gate",
        "evaluate",
        "--ledger",
        s(&ledger),
        "--evidence",
        s(&t("run")),
        "--allowlist",
        s(&t("bad.toml")),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("a split is never excused"), "{}", r.stderr);
}

#[test]
fn the_same_evidence_twice_counts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let ledger = ledger_and_run(tmp.path());
    std::fs::write(t("policy.toml"), "[to_shadow]\nmin_blocks = 300\n").unwrap();
    let r = dualrun(&[
        "gate",
        "evaluate",
        "--ledger",
        s(&ledger),
        "--policy",
        s(&t("policy.toml")),
        "--golden",
        s(&golden_dir()),
        "--evidence",
        s(&t("run")),
        s(&t("run")),
    ]);
    assert_eq!(r.code, 3, "201 blocks, not 402: {}", r.stdout);
    assert!(r.stdout.contains("min_blocks                  201"), "{}", r.stdout);
}

/// The gate's golden criterion and `golden check` share one runner: a vector skipped without a written
/// reason fails both, and a vector skipped with one is counted as skipped by both.
#[test]
fn the_gate_refuses_golden_vectors_that_ci_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = ledger_and_run(tmp.path());
    let run = tmp.path().join("run");
    let golden = tmp.path().join("golden");
    std::fs::create_dir(&golden).unwrap();
    let vectors: Vec<_> =
        std::fs::read_dir(golden_dir().join("leader-v1")).unwrap().map(|e| e.unwrap().path()).collect();
    let mut picked = vectors.iter().filter(|p| p.extension().is_some_and(|x| x == "json"));
    for (reason, path) in [("\"   \"", picked.next().unwrap()), ("\"fixed upstream in v2\"", picked.next().unwrap())] {
        let text = std::fs::read_to_string(path).unwrap();
        let skipped = text.replacen("\"schema\":", &format!("\"skip\": {reason},\n  \"schema\":"), 1);
        std::fs::write(golden.join(path.file_name().unwrap()), skipped).unwrap();
    }
    let evaluate = |dir: &Path| {
        dualrun(&[
            "gate",
            "evaluate",
            "--ledger",
            s(&ledger),
            "--golden",
            s(dir),
            "--evidence",
            s(&run),
            "--format",
            "json",
        ])
    };

    let ci = dualrun(&["golden", "check", s(&golden)]);
    assert_eq!(ci.code, 1, "{}", ci.stdout);
    assert!(ci.stdout.contains("golden: 0 passed, 1 failed, 1 skipped"), "{}", ci.stdout);
    let gate = evaluate(&golden);
    assert_eq!(gate.code, 1, "the gate must fail what CI fails: {}", gate.stdout);
    let v: serde_json::Value = serde_json::from_str(&gate.stdout).unwrap();
    let golden_criterion = v["criteria"].as_array().unwrap().iter().find(|c| c["name"] == "require_golden").unwrap();
    assert_eq!(golden_criterion["outcome"], "fail");
    assert_eq!(
        (golden_criterion["value"]["failed"].as_u64(), golden_criterion["value"]["skipped"].as_u64()),
        (Some(1), Some(1))
    );

    // With a written reason only, CI passes nothing (exit 0, one skip) and the gate has no pass to
    // rely on: inconclusive, not pass.
    let unexplained = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains("\"skip\": \"   \""))
        .unwrap();
    std::fs::remove_file(unexplained).unwrap();
    assert_eq!(dualrun(&["golden", "check", s(&golden)]).code, 0);
    let v: serde_json::Value = serde_json::from_str(&evaluate(&golden).stdout).unwrap();
    let golden_criterion = v["criteria"].as_array().unwrap().iter().find(|c| c["name"] == "require_golden").unwrap();
    assert_eq!(golden_criterion["outcome"], "inconclusive");
}

/// A line cut short by a crash is named by `verify` with the command that mends it; `repair` removes
/// that line and nothing else.
#[test]
fn an_incomplete_last_entry_is_named_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = ledger_and_run(tmp.path());
    let complete = std::fs::read(&ledger).unwrap();
    let mut cut = complete.clone();
    cut.extend_from_slice(br#"{"seq":1,"prev_hash":"ab"#);
    std::fs::write(&ledger, &cut).unwrap();
    let r = dualrun(&["gate", "verify", "--ledger", s(&ledger)]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("incomplete last entry") && r.stdout.contains("gate repair --ledger"), "{}", r.stdout);
    let r = dualrun(&["gate", "repair", "--ledger", s(&ledger)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("removed an incomplete last entry (24 bytes)"), "{}", r.stdout);
    assert_eq!(std::fs::read(&ledger).unwrap(), complete);
    let r = dualrun(&["gate", "repair", "--ledger", s(&ledger)]);
    assert!(r.stdout.contains("nothing to repair"), "{}", r.stdout);
    assert_eq!(dualrun(&["gate", "verify", "--ledger", s(&ledger)]).code, 0);
}

/// Two `gate init` racing for one path: never two winners (the loser exits 2, "already exists").
#[test]
fn racing_inits_have_one_winner() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("ops.key");
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&key)]).code, 0);
    let exe = env!("CARGO_BIN_EXE_dualrun");
    for round in 0..100 {
        let ledger = tmp.path().join(format!("ledger-{round}.jsonl"));
        let spawn = || {
            std::process::Command::new(exe)
                .args(["gate", "init", "--ledger", s(&ledger), "--key", s(&key), "--operator", "ops"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let codes = [a.status.code(), b.status.code()];
        assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "round {round}: exit codes {codes:?}");
        let loser = if a.status.code() == Some(2) { &a } else { &b };
        assert!(String::from_utf8_lossy(&loser.stderr).contains("already exists"), "round {round}");
        assert_eq!(std::fs::read_to_string(&ledger).unwrap().lines().count(), 1, "round {round}: one entry");
    }
}

/// A threshold of `nan` (every comparison false) or `inf` (everything passes) is refused, naming the
/// key; `--from` above `--to` is refused too.
#[test]
fn non_finite_thresholds_and_reversed_ranges_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = ledger_and_run(tmp.path());
    for (value, shown) in [("nan", "NaN"), ("inf", "inf"), ("-inf", "-inf")] {
        let policy = tmp.path().join("policy.toml");
        std::fs::write(&policy, format!("[to_primary]\nmax_error_rate = {value}\n")).unwrap();
        let r = dualrun(&[
            "gate",
            "evaluate",
            "--ledger",
            s(&ledger),
            "--policy",
            s(&policy),
            "--evidence",
            s(&tmp.path().join("run")),
        ]);
        assert_eq!(r.code, 2, "{value}: {}", r.stdout);
        assert!(
            r.stderr.contains(&format!("to_primary.max_error_rate = {shown}: thresholds must be finite")),
            "{}",
            r.stderr
        );
    }
    let r = dualrun(&["replay", "--from", "10", "--to", "5", "--out", s(&tmp.path().join("reversed"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--to 5 is below --from 10"), "{}", r.stderr);
}

/// Evidence in which the legacy and the candidate are the same verifier agrees by construction: the
/// gate refuses it (`evidence.independent`) and writes nothing.
#[test]
fn a_verifier_compared_with_itself_is_not_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = ledger_and_run(tmp.path());
    let (key, golden) = (tmp.path().join("ops.key"), golden_dir());
    let forced = ["gate", "promote", "--ledger", s(&ledger), "--key", s(&key), "--reason", "drill", "--force"];
    assert_eq!(dualrun(&forced).code, 0, "to shadow");
    let same = tmp.path().join("same-run");
    let r = dualrun(&["replay", "--legacy", "builtin:leader-v1", "--out", s(&same)]);
    assert_eq!(r.code, 0, "the candidate agrees with itself: {}", r.stdout);
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, "[to_primary]\nmin_blocks = 100\n").unwrap();
    let before = std::fs::read(&ledger).unwrap();
    let r = dualrun(&[
        "gate",
        "promote",
        "--ledger",
        s(&ledger),
        "--policy",
        s(&policy),
        "--golden",
        s(&golden),
        "--evidence",
        s(&same),
        "--key",
        s(&key),
        "--reason",
        "looks clean",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("evidence.independent") && r.stdout.contains("compared with itself"), "{}", r.stdout);
    assert_eq!(std::fs::read(&ledger).unwrap(), before, "nothing written");
    // The same policy on evidence from two implementations passes that criterion.
    let r = dualrun(&[
        "gate",
        "evaluate",
        "--ledger",
        s(&ledger),
        "--policy",
        s(&policy),
        "--golden",
        s(&golden),
        "--evidence",
        s(&tmp.path().join("run")),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let c = v["criteria"].as_array().unwrap().iter().find(|c| c["name"] == "evidence.independent").unwrap().clone();
    assert_eq!(c["outcome"], "pass");
}

/// Ledger fields are anyone's text: `gate status` escapes control characters instead of sending them to
/// the terminal.
#[test]
fn status_escapes_control_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = ledger_and_run(tmp.path());
    let key = tmp.path().join("ops.key");
    let r = dualrun(&["gate", "rollback", "--ledger", s(&ledger), "--to", "legacy", "--key", s(&key), "--reason", "x"]);
    assert_eq!(r.code, 2, "nothing to roll back from legacy");
    let promote =
        ["gate", "promote", "--ledger", s(&ledger), "--key", s(&key), "--force", "--operator", "ev\u{1b}[2Jil"];
    let mut args = promote.to_vec();
    args.extend(["--reason", "clear\u{1b}[31m\rscreen\u{7}"]);
    assert_eq!(dualrun(&args).code, 0);
    let r = dualrun(&["gate", "status", "--ledger", s(&ledger)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.chars().any(|c| c.is_control() && c != '\n'), "{:?}", r.stdout);
    assert!(
        r.stdout.contains("by ev\\u{1b}[2Jil") && r.stdout.contains("clear\\u{1b}[31m\\rscreen\\u{7}"),
        "{}",
        r.stdout
    );
}

/// `gate approve`, `promote` and `rotate` under a policy's `[quorum]`, as an operator types them: exit 0
/// with what was done, 1 refused with what is missing and how to approve it (nothing written), 2 for a
/// request that is no move; an approval by a key an auditor does not trust is a finding of `gate verify`
/// (exit 1). What counts toward a quorum is the gate crate's test (harness/gate/tests/quorum.rs).
#[test]
fn approvals_and_rotations_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let key = |id: &str| s(&t(&format!("{id}.key"))).to_owned();
    let keygen = |id: &str| {
        let r = dualrun(&["keygen", "--id", id, "--out", &key(id)]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.split_whitespace().nth(1).expect("ID <public key>").to_owned()
    };
    let [alice, carol, carol2, mallory] = ["alice", "carol", "carol-2", "mallory"].map(keygen);
    let policy = t("policy.toml");
    let quorum = format!("[quorum]\napprovals = 1\noperators = [\"{alice}\", \"{carol}\"]\n");
    std::fs::write(&policy, format!("[to_shadow]\nrequire_golden = false\n\n{quorum}")).unwrap();
    let ledger = t("ledger.jsonl");
    let l = s(&ledger);
    let (alice_key, carol_key, carol2_key) = (key("alice"), key("carol"), key("carol-2"));
    assert_eq!(dualrun(&["gate", "init", "--ledger", l, "--key", &alice_key, "--operator", "alice"]).code, 0);
    let r = dualrun(&["gate", "evaluate", "--ledger", l, "--policy", s(&policy), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let digest = v["evaluation_digest"].as_str().expect("evaluate --json names the evaluation_digest").to_owned();
    let approve = |id: &str, subject: &[&str]| {
        dualrun(&[&["gate", "approve", "--ledger", l, "--key", &key(id)][..], subject].concat())
    };
    let promote = ["gate", "promote", "--ledger", l, "--policy", s(&policy), "--key", &alice_key];
    let promote = [&promote[..], &["--reason", "on approvals"]].concat();

    let before = std::fs::read(&ledger).unwrap();
    let r = dualrun(&promote);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let how = format!("needs 1 approvals of evaluation {digest} by distinct operators and has 0; nothing was written");
    assert!(r.stderr.contains(&how) && r.stderr.contains("dualrun gate approve --ledger"), "{}", r.stderr);
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
    let r = approve("alice", &["--to", "shadow", "--evaluation-digest", "not-a-digest"]);
    assert!(r.code == 2 && r.stderr.contains("expected the 64 lowercase hex digits"), "{}", r.stderr);
    assert_eq!(approve("mallory", &["--to", "shadow", "--evaluation-digest", &digest]).code, 0, "no quorum pinned yet");
    let r = approve("alice", &["--to", "shadow", "--evaluation-digest", &digest]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&format!("alice ({alice}) approved the promotion legacy -> shadow, digest {digest}")));
    let r = dualrun(&promote);
    assert!(r.code == 0 && r.stdout.contains("promoted legacy -> shadow (entry #3)"), "{}{}", r.stdout, r.stderr);

    let rotate = ["gate", "rotate", "--ledger", l, "--key", &carol_key, "--new-key", &carol2_key];
    let rotate = [&rotate[..], &["--reason", "laptop lost"]].concat();
    let r = dualrun(&rotate);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("needs 1 approvals of this rotation and has 0"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("--rotation {carol}:{carol2}")), "how to approve it: {}", r.stderr);
    let r = approve("mallory", &["--rotation", &format!("{carol}:{carol2}")]);
    assert!(r.code == 1 && r.stderr.contains("is not an operator of the ledger's quorum"), "{}", r.stderr);
    assert_eq!(approve("alice", &["--rotation", &format!("{carol}:{carol2}")]).code, 0);
    let r = dualrun(&rotate);
    assert!(r.code == 0 && r.stdout.contains(&format!("rotated {carol} -> {carol2}")), "{}{}", r.stdout, r.stderr);

    assert_eq!(dualrun(&["gate", "verify", "--ledger", l]).code, 0);
    let r = dualrun(&["gate", "verify", "--ledger", l, "--trusted-key", &alice, "--trusted-key", &carol]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("entry 1 (line 2): an approval signed by {mallory}")), "{}", r.stdout);
}
