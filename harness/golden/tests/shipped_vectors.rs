//! The shipped vectors (golden-vectors/leader-v1 and mode-v1): all pass, they are exactly what the
//! generators make, they cover every reason code both ways and every mode × outcome pair, and the
//! checker notices a vector that expects something else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dualrun_golden::vector::{BlobError, Case, LeaderCase};
use dualrun_golden::{check, load_dir, Vector, VectorError};
use dualrun_leader::ReasonCode;

fn shipped_dir(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden-vectors").join(set)
}

fn shipped(set: &str) -> Vec<(PathBuf, Vector)> {
    load_dir(&shipped_dir(set))
        .unwrap()
        .into_iter()
        .map(|(p, v)| (p.clone(), v.unwrap_or_else(|e| panic!("{e}"))))
        .collect()
}

fn leader(v: &Vector) -> &LeaderCase {
    match &v.case {
        Case::Leader(c) => c,
        _ => panic!("{} is not a leader vector", v.name),
    }
}

#[test]
fn every_shipped_vector_passes() {
    for (set, at_least) in [("leader-v1", 40), ("mode-v1", 40)] {
        let vectors = shipped(set);
        assert!(vectors.len() >= at_least, "{set}: {} vectors", vectors.len());
        for (path, v) in &vectors {
            assert!(v.skip.is_none(), "{}: no shipped vector is skipped", path.display());
            let diffs = check(&v.case).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(diffs.is_empty(), "{}: {diffs:?}", path.display());
        }
    }
}

#[test]
fn the_shipped_sets_are_exactly_what_the_generators_make() {
    for (set, vectors) in [
        ("leader-v1", dualrun_golden::crafted::leader_v1_vectors()),
        ("mode-v1", dualrun_golden::crafted::mode_v1_vectors()),
        ("finality-v1", dualrun_golden::crafted::finality_v1_vectors()),
        ("fork-choice-v1", dualrun_golden::crafted::fork_choice_v1_vectors()),
    ] {
        let expected: BTreeSet<(String, String)> = vectors.into_iter().map(|v| (v.file_name(), v.to_json())).collect();
        let actual: BTreeSet<(String, String)> = std::fs::read_dir(shipped_dir(set))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        assert_eq!(
            actual, expected,
            "{set}: regenerate with: cargo run -p dualrun-golden --bin make-golden-vectors -- golden-vectors"
        );
    }
}

#[test]
fn the_mode_set_covers_every_mode_and_outcome_pair() {
    let vectors = shipped("mode-v1");
    let mut seen = BTreeSet::new();
    for (_, v) in &vectors {
        let Case::Mode(c) = &v.case else { panic!("{} is not a mode vector", v.name) };
        let kind = |o: &Option<dualrun_golden::vector::OutcomeSpec>| match o {
            None => "not-run".to_owned(),
            Some(o) if o.error.is_some() => "error".to_owned(),
            Some(o) => o.verdict.clone().unwrap(),
        };
        seen.insert((c.mode.clone(), kind(&c.legacy), kind(&c.candidate)));
    }
    for mode in ["shadow", "primary"] {
        for l in ["accept", "reject", "error"] {
            for c in ["accept", "reject", "error"] {
                assert!(seen.contains(&(mode.to_owned(), l.to_owned(), c.to_owned())), "{mode} {l} {c}");
            }
        }
    }
    for o in ["accept", "reject", "error"] {
        assert!(seen.contains(&("legacy".to_owned(), o.to_owned(), "not-run".to_owned())));
        assert!(seen.contains(&("only".to_owned(), "not-run".to_owned(), o.to_owned())));
    }
    // Every record class appears in some vector.
    let records: BTreeSet<String> = vectors
        .iter()
        .flat_map(|(_, v)| match &v.case {
            Case::Mode(c) => c.expected.records.clone(),
            _ => vec![],
        })
        .collect();
    for class in ["split", "halt", "fact", "reason", "legacy_error", "candidate_error", "fallback"] {
        assert!(records.contains(class), "no vector records {class}");
    }
}

#[test]
fn every_reason_code_is_covered_and_accepts_too() {
    let vectors = shipped("leader-v1");
    let reasons: BTreeSet<String> = vectors.iter().filter_map(|(_, v)| leader(v).expected.reason.clone()).collect();
    for code in ReasonCode::ALL {
        assert!(reasons.contains(code.as_str()), "no vector rejects with {code}");
    }
    let accepts = vectors.iter().filter(|(_, v)| leader(v).expected.verdict == "accept").count();
    assert!(accepts >= 10, "{accepts} accepting vectors");
    for schedule in ["fixed", "round-robin", "hash"] {
        for verdict in ["accept", "reject"] {
            assert!(
                vectors.iter().any(|(_, v)| {
                    let c = leader(v);
                    c.profile.contains(&format!("schedule = \"{schedule}\""))
                        && c.expected.verdict == verdict
                        && (verdict == "accept" || c.expected.reason.as_deref() == Some("leader.not_scheduled"))
                }),
                "schedule {schedule}: no {verdict} vector"
            );
        }
    }
}

#[test]
fn a_vector_expecting_something_else_is_reported_field_by_field() {
    let (_, mut v) = shipped("leader-v1").into_iter().find(|(_, v)| v.name == "round-robin-not-scheduled").unwrap();
    let Case::Leader(c) = &mut v.case else { unreachable!() };
    c.expected.reason = Some("leader.bad_signature".into());
    c.expected.facts.leader_id = Some("leader-3".into());
    let diffs = check(&v.case).unwrap();
    let fields: Vec<&str> = diffs.iter().map(|d| d.field).collect();
    assert_eq!(fields, ["reason", "facts.leader_id"]);
    assert_eq!(diffs[0].expected, "leader.bad_signature");
    assert_eq!(diffs[0].actual, "leader.not_scheduled");

    let (_, mut v) =
        shipped("mode-v1").into_iter().find(|(_, v)| v.name == "primary-legacy-accept-candidate-error").unwrap();
    let Case::Mode(c) = &mut v.case else { unreachable!() };
    c.expected.records = vec!["candidate_error".into()];
    let diffs = check(&v.case).unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(
        (diffs[0].field, diffs[0].expected.as_str(), diffs[0].actual.as_str()),
        ("records", "candidate_error", "fallback")
    );
}

#[test]
fn unreadable_and_foreign_files_are_errors_each_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let good = shipped("leader-v1").remove(0).1;
    std::fs::write(tmp.path().join("a-good.json"), good.to_json()).unwrap();
    std::fs::write(tmp.path().join("b-broken.json"), "{ not json").unwrap();
    std::fs::write(tmp.path().join("c-future.json"), good.to_json().replace("dualrun-golden/v1", "dualrun-golden/v9"))
        .unwrap();
    let blob = leader(&good).block.blob.clone();
    std::fs::write(tmp.path().join("d-upper.json"), good.to_json().replace(&blob, &blob.to_uppercase())).unwrap();
    let loaded = load_dir(tmp.path()).unwrap();
    assert_eq!(loaded.len(), 4);
    assert!(loaded[0].1.is_ok());
    assert!(matches!(loaded[1].1, Err(VectorError::Parse { .. })));
    assert!(matches!(&loaded[2].1, Err(VectorError::Schema { schema, .. }) if schema == "dualrun-golden/v9"));
    assert!(matches!(&loaded[3].1, Err(VectorError::Invalid { source: BlobError::Uppercase, .. })));
}

#[test]
fn the_finality_and_fork_choice_sets_cover_every_code_and_outcome() {
    let mut codes = BTreeSet::new();
    for (_, v) in shipped("finality-v1") {
        let Case::Finality(c) = &v.case else { panic!("{} is not a finality vector", v.name) };
        codes.extend(c.expected.iter().map(|r| format!("{}:{}", r.verdict, r.reason)));
    }
    for code in [
        "final:",
        "not_final:finality.missing",
        "finding:finality.bad_signature",
        "finding:finality.unknown_validator",
        "finding:finality.equivocation",
        "finding:finality.conflict",
    ] {
        assert!(codes.contains(code), "no finality vector gives {code}");
    }
    let mut seen = BTreeSet::new();
    for (_, v) in shipped("fork-choice-v1") {
        let Case::ForkChoice(c) = &v.case else { panic!("{} is not a fork-choice vector", v.name) };
        let e = &c.expected;
        seen.insert(match e.canonical {
            None => "none valid",
            Some(i) if e.ranks.iter().flatten().filter(|&&r| Some(r) == e.ranks[i]).count() > 1 => "by id",
            Some(_) if e.ranks.contains(&None) => "past an invalid block",
            Some(_) => "by rank",
        });
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
}

/// Every shipped vector file, byte for byte: Keccak-256 over each file's path (from golden-vectors/) and
/// bytes, in path order. A change to any vector shows here and is made on purpose: regenerate, review
/// the difference, then update the pin.
#[test]
fn the_shipped_vectors_are_pinned() {
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = shipped_dir("");
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    let mut bytes = Vec::new();
    for path in &all {
        bytes.extend_from_slice(path.strip_prefix(&root).unwrap().to_str().unwrap().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(&std::fs::read(path).unwrap());
        bytes.push(0);
    }
    assert_eq!(
        (all.len(), dualrun_format::keccak256(&bytes).to_string()),
        (PINNED_FILES, PINNED_DIGEST.to_owned()),
        "the shipped golden vectors changed"
    );
}

const PINNED_FILES: usize = 99;
const PINNED_DIGEST: &str = "d79b715b1c95845ae9faecb3a324c4099d63f15f5b24ab5ff32915fcf6df37aa";
