//! One vocabulary: every command that prints rows takes `--format csv|json` (CSV with its header even
//! when there is no row; JSON one object a line with the CSV's columns), every command that prints one
//! object `--format text|json`; the spellings this release renamed still work, each with a warning.

use std::path::{Path, PathBuf};

use crate::common::{assert_json_rows_are_the_csv, dualrun, s, sample_dir, Run};

/// The sample profile with `[leader.finality]`, and an empty votes file, in `dir`.
fn finality_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let mut text = std::fs::read_to_string(sample_dir().join("profile.toml")).unwrap();
    text.push_str("\n[leader.finality]\nquorum = \"2/3\"\nactivation_height = 61\n");
    let (profile, votes) = (dir.join("profile.toml"), dir.join("votes.jsonl"));
    std::fs::write(&profile, text).unwrap();
    std::fs::write(&votes, "").unwrap();
    (profile, votes)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn warning(old: &str, new: &str) -> String {
    format!("dualrun: warning: {old} is deprecated; use {new} (it will be removed in the next release)\n")
}

/// `old` (a deprecated spelling) does what `new` does, and says so on stderr; `new` says nothing of it.
fn same_with_warning(old: &[&str], new: &[&str], (old_flag, new_flag): (&str, &str)) -> (Run, Run) {
    let (o, n) = (dualrun(old), dualrun(new));
    assert_eq!(o.code, n.code, "{old:?}: {}\n{new:?}: {}", o.stderr, n.stderr);
    assert!(o.stderr.contains(&warning(old_flag, new_flag)), "{old:?}: {}", o.stderr);
    assert!(!n.stderr.contains("deprecated"), "{new:?}: {}", n.stderr);
    (o, n)
}

#[test]
fn deprecated_spellings_still_work_and_warn() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let (profile, votes) = finality_inputs(tmp.path());
    let fin = ["leader", "finality", "--profile", s(&profile), "--votes", s(&votes), "--to", "70"];

    let json = ("--json", "--format json");
    let csv = ("--csv", "--format csv");
    let same_output: [(Vec<&str>, Vec<&str>, (&str, &str)); 5] = [
        (vec!["chain", "scan", "--to", "3", "--json"], vec!["chain", "scan", "--to", "3", "--format", "json"], json),
        (vec!["chain", "info", "--json"], vec!["chain", "info", "--format", "json"], json),
        (vec!["leader", "check", "--to", "3", "--csv"], vec!["leader", "check", "--to", "3"], csv),
        (vec!["leader", "forks", "--csv"], vec!["leader", "forks"], csv),
        ([&fin[..], &["--csv"]].concat(), fin.to_vec(), csv),
    ];
    for (old, new, flags) in same_output {
        let (o, n) = same_with_warning(&old, &new, flags);
        assert_eq!(o.stdout, n.stdout, "{old:?}");
        assert!(!o.stdout.is_empty());
    }
    // The old and the new spelling together are refused.
    let r = dualrun(&[&fin[..], &["--csv", "--format", "csv"]].concat());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("'--csv' cannot be used with '--format <FORMAT>'"), "{}", r.stderr);

    // An old spelling with its new one is refused, before anything runs.
    let produce = ["leader", "produce", "--daemon", "http://127.0.0.1:9", "--blocks", "1", "--key", "k"];
    for (old, new) in [("--votes", "--votes-out"), ("--record", "--expected")] {
        let r = dualrun(&[&produce[..], &["--profile", "p", old, "a", new, "b"]].concat());
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("'{old} <FILE>' cannot be used with '{new} <FILE>'")), "{}", r.stderr);
    }

    // Renamed output files: written under either name.
    let (old_file, new_file) = (t("old.jsonl"), t("new.jsonl"));
    same_with_warning(
        &[&fin[..], &["--evidence", s(&old_file)]].concat(),
        &[&fin[..], &["--equivocations", s(&new_file)]].concat(),
        ("--evidence", "--equivocations"),
    );
    assert!(old_file.exists() && new_file.exists());

    let sample_profile = sample_dir().join("profile.toml");
    let synth = |out: &Path, file_flag: &str, file: &Path| -> Vec<String> {
        let mut args: Vec<String> =
            ["chain", "synth", "--blocks", "80", "--fault", "70:missing"].map(String::from).into();
        for (flag, path) in [("--out", out), ("--profile", sample_profile.as_path()), (file_flag, file)] {
            args.extend([flag.to_owned(), s(path).to_owned()]);
        }
        for i in 1..=3 {
            let key = sample_dir().join(format!("keys/throwaway-test-leader-{i}.key"));
            args.extend(["--key".to_owned(), s(&key).to_owned()]);
        }
        args
    };
    let (old_csv, new_csv) = (t("old.csv"), t("new.csv"));
    let old_args = synth(&t("old-chain"), "--record", &old_csv);
    let new_args = synth(&t("new-chain"), "--expected", &new_csv);
    let (o, _) = same_with_warning(&strs(&old_args), &strs(&new_args), ("--record", "--expected"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let expected = std::fs::read_to_string(&new_csv).unwrap();
    assert_eq!(std::fs::read_to_string(&old_csv).unwrap(), expected);
    assert!(expected.contains(",reject,leader.missing,"), "{expected}");
}

#[test]
fn every_row_command_prints_json_lines_with_the_csvs_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let (profile, votes) = finality_inputs(tmp.path());
    let fin = ["leader", "finality", "--profile", s(&profile), "--votes", s(&votes), "--from", "60", "--to", "70"];
    let commands: [&[&str]; 5] = [
        &["chain", "scan", "--from", "5", "--to", "9"],
        &["chain", "checkpoints", "--every", "50"],
        &["leader", "check", "--from", "60", "--to", "80"],
        &["replay", "--from", "10", "--to", "100", "--plan", "4"],
        &fin,
    ];
    for args in commands {
        let csv = dualrun(args);
        let json = dualrun(&[args, &["--format", "json"]].concat());
        assert!(csv.code == 0 || csv.code == 1, "{args:?}: {}", csv.stderr);
        assert_eq!(json.code, csv.code, "{args:?}: {}", json.stderr);
        assert!(csv.stdout.lines().count() > 2, "{args:?}: {}", csv.stdout);
        assert_json_rows_are_the_csv(&csv.stdout, &json.stdout);
    }
    // `replay --format` is the plan's: without --plan it is refused.
    let r = dualrun(&["replay", "--format", "json", "--out", s(&tmp.path().join("run"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--plan <N>") && !tmp.path().join("run").exists(), "{}", r.stderr);
}

#[test]
fn an_empty_table_still_has_its_header() {
    let tmp = tempfile::tempdir().unwrap();
    let (profile, votes) = finality_inputs(tmp.path());
    // No competing blocks in the sample; no main-chain block below the finality activation height.
    let empty: [(Vec<&str>, &str); 2] = [
        (vec!["leader", "forks"], "height,block_id,parent_id,main_chain,verdict,reason,rank,canonical,finding\n"),
        (
            vec!["leader", "finality", "--profile", s(&profile), "--votes", s(&votes), "--to", "50"],
            "height,block_id,votes,required,finality,reason,finding\n",
        ),
    ];
    for (args, header) in empty {
        let r = dualrun(&args);
        assert_eq!((r.code, r.stdout.as_str()), (0, header), "{args:?}: {}", r.stderr);
        let r = dualrun(&[&args[..], &["--format", "json"]].concat());
        assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{args:?}: {}", r.stderr);
    }
}

/// `gate status`, `evaluate` and `promote` print one JSON object with `--format json` (and with the old
/// `--json`, warned); `promote`'s closing line then goes to stderr, so stdout is the JSON alone.
#[test]
fn gate_json_is_one_object_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let (ledger, key) = (tmp.path().join("ledger.jsonl"), tmp.path().join("ops.key"));
    assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&key)]).code, 0);
    assert_eq!(dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&key), "--operator", "ops"]).code, 0);
    let l = s(&ledger);

    let (o, n) = same_with_warning(
        &["gate", "status", "--ledger", l, "--json"],
        &["gate", "status", "--ledger", l, "--format", "json"],
        ("--json", "--format json"),
    );
    assert_eq!(o.stdout, n.stdout);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&n.stdout).unwrap()["mode"], "legacy");
    let text = dualrun(&["gate", "status", "--ledger", l, "--format", "text"]);
    assert!(text.stdout.starts_with("mode     legacy\n"), "{}", text.stdout);

    let (o, n) = same_with_warning(
        &["gate", "evaluate", "--ledger", l, "--json"],
        &["gate", "evaluate", "--ledger", l, "--format", "json"],
        ("--json", "--format json"),
    );
    assert_eq!(n.code, 3, "no evidence: inconclusive");
    for r in [&o, &n] {
        assert_eq!(serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["outcome"], "inconclusive");
    }

    let promote = ["gate", "promote", "--ledger", l, "--key", s(&key), "--reason", "drill", "--force"];
    let r = dualrun(&[&promote[..], &["--format", "json"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is the evaluation's JSON alone");
    assert_eq!((v["from"].as_str(), v["to"].as_str()), (Some("legacy"), Some("shadow")));
    assert!(r.stderr.contains("promoted legacy -> shadow as a FORCED OVERRIDE (entry #1)"), "{}", r.stderr);
    let r = dualrun(&[&promote[..], &["--json"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str::<serde_json::Value>(&r.stdout).expect("stdout is the evaluation's JSON alone");
    assert!(r.stderr.contains(&warning("--json", "--format json")), "{}", r.stderr);
    assert!(r.stderr.contains("promoted shadow -> primary as a FORCED OVERRIDE"), "{}", r.stderr);
    let r = dualrun(&promote);
    assert!(r.stdout.contains("promoted primary -> only as a FORCED OVERRIDE"), "{}", r.stdout);
}
