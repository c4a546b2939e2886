//! The vectors in golden-vectors/leader-v1: all pass, they are exactly what the generator makes, they
//! cover every reason code both ways, and the checker notices a vector that expects something else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dualrun_golden::{check_leader, load_dir, Vector, VectorError};
use dualrun_leader::ReasonCode;

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden-vectors/leader-v1")
}

fn shipped() -> Vec<(PathBuf, Vector)> {
    load_dir(&shipped_dir()).unwrap().into_iter().map(|(p, v)| (p.clone(), v.unwrap_or_else(|e| panic!("{e}")))).collect()
}

#[test]
fn every_shipped_vector_passes() {
    let vectors = shipped();
    assert!(vectors.len() >= 40, "{} vectors", vectors.len());
    for (path, v) in &vectors {
        assert!(v.skip.is_none(), "{}: no shipped vector is skipped", path.display());
        let diffs = check_leader(v).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(diffs.is_empty(), "{}: {diffs:?}", path.display());
    }
}

#[test]
fn the_shipped_set_is_exactly_what_the_generator_makes() {
    let expected: BTreeSet<(String, String)> =
        dualrun_golden::crafted::leader_v1_vectors().into_iter().map(|v| (v.file_name(), v.to_json())).collect();
    let actual: BTreeSet<(String, String)> = std::fs::read_dir(shipped_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    assert_eq!(actual, expected, "regenerate with: cargo run -p dualrun-golden --bin make-leader-vectors -- golden-vectors/leader-v1");
}

#[test]
fn every_reason_code_is_covered_and_accepts_too() {
    let vectors = shipped();
    let reasons: BTreeSet<String> = vectors.iter().filter_map(|(_, v)| v.expected.reason.clone()).collect();
    for code in ReasonCode::ALL {
        assert!(reasons.contains(code.as_str()), "no vector rejects with {code}");
    }
    let accepts = vectors.iter().filter(|(_, v)| v.expected.verdict == "accept").count();
    assert!(accepts >= 10, "{accepts} accepting vectors");
    for schedule in ["fixed", "round-robin", "hash"] {
        for verdict in ["accept", "reject"] {
            assert!(
                vectors.iter().any(|(_, v)| v.profile.contains(&format!("schedule = \"{schedule}\"")) && v.expected.verdict == verdict
                    && (verdict == "accept" || v.expected.reason.as_deref() == Some("leader.not_scheduled"))),
                "schedule {schedule}: no {verdict} vector"
            );
        }
    }
}

#[test]
fn a_vector_expecting_something_else_is_reported_field_by_field() {
    let (_, mut v) = shipped().into_iter().find(|(_, v)| v.name == "round-robin-not-scheduled").unwrap();
    v.expected.reason = Some("leader.bad_signature".into());
    v.expected.facts.leader_id = Some("leader-3".into());
    let diffs = check_leader(&v).unwrap();
    let fields: Vec<&str> = diffs.iter().map(|d| d.field).collect();
    assert_eq!(fields, ["reason", "facts.leader_id"]);
    assert_eq!(diffs[0].expected, "leader.bad_signature");
    assert_eq!(diffs[0].actual, "leader.not_scheduled");
}

#[test]
fn unreadable_and_foreign_files_are_errors_each_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let good = shipped().remove(0).1;
    std::fs::write(tmp.path().join("a-good.json"), good.to_json()).unwrap();
    std::fs::write(tmp.path().join("b-broken.json"), "{ not json").unwrap();
    std::fs::write(tmp.path().join("c-future.json"), good.to_json().replace("dualrun-golden/v1", "dualrun-golden/v9")).unwrap();
    std::fs::write(tmp.path().join("d-upper.json"), good.to_json().replace(&good.block.blob, &good.block.blob.to_uppercase())).unwrap();
    let loaded = load_dir(tmp.path()).unwrap();
    assert_eq!(loaded.len(), 4);
    assert!(loaded[0].1.is_ok());
    assert!(matches!(loaded[1].1, Err(VectorError::Parse { .. })));
    assert!(matches!(&loaded[2].1, Err(VectorError::Schema { schema, .. }) if schema == "dualrun-golden/v9"));
    assert!(matches!(&loaded[3].1, Err(VectorError::Invalid { message, .. }) if message.contains("lowercase")));
}
