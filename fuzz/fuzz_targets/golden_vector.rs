//! `golden_vector`: a golden vector file's bytes through the vector format (`serde_json` into
//! `dualrun_golden::Vector`, as `Vector::read` does after its schema check) and, when it parses, through
//! the checker (`dualrun_golden::check`: the leader validator, the mode table, finality, fork choice).
//!
//! Checks: nothing panics (the validator's debug assertions on); `Vector::blob` accepts only lowercase
//! hex; a parsed vector serializes (`to_json`, `file_name`) and reads back equal; `check` is
//! deterministic; a leader vector whose check runs judged a blob that `validator::prepare` sees the same
//! way.

#![no_main]

use dualrun_golden::vector::Case;
use dualrun_golden::{check, Vector};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Vector>(data) else { return };
    let json = v.to_json();
    let back: Vector = serde_json::from_str(&json).expect("a vector's own JSON reads back");
    assert_eq!(back, v, "a vector does not survive its own JSON");
    assert!(v.file_name().ends_with(".json"));
    match (&v.case, v.blob()) {
        (Case::Leader(c), Ok(Some(blob))) => {
            assert!(!c.block.blob.bytes().any(|b| b.is_ascii_uppercase()));
            assert_eq!(hex::encode(&blob), c.block.blob);
        }
        (Case::Leader(c), Err(_)) => {
            assert!(hex::decode(&c.block.blob).is_err() || c.block.blob.bytes().any(|b| b.is_ascii_uppercase()))
        }
        (Case::Leader(_), Ok(None)) => panic!("Vector::blob gave no blob for a leader vector"),
        // Every other kind (mode, finality, fork choice, …) has no single block blob.
        (_, Ok(None)) => {}
        (case, blob) => panic!("Vector::blob gave {blob:?} for {case:?}"),
    }
    let first = check(&v.case).map_err(|e| e.to_string());
    let second = check(&v.case).map_err(|e| e.to_string());
    assert_eq!(first, second, "checking a vector twice gives different results");
    if let (Case::Leader(c), Ok(_)) = (&v.case, &first) {
        let j = dualrun_golden::run::judge(c).expect("a vector that checked judges");
        let blob = hex::decode(&c.block.blob).expect("hex");
        let profile = dualrun_leader::Profile::parse(c.profile.as_bytes(), std::path::Path::new("p")).expect("p");
        let prepared = dualrun_leader::validator::prepare(&profile, c.block.height, &blob);
        assert_eq!(j.facts.block_id, prepared.block_id());
    }
});
