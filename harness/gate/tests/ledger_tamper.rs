//! The ledger detects any one-byte change, reordered entries, a removed entry, a key that is not
//! trusted, and illegal mode sequences.

use std::path::Path;

use dualrun_core::Mode;
use dualrun_gate::ledger::{verify, Ledger, NewEntry};
use dualrun_gate::Action;
use dualrun_keys::KeyFile;

fn entry(action: Action, from: Mode, to: Mode) -> NewEntry {
    NewEntry::bare(action, Some(from), to, format!("{action} {from} -> {to}"))
}

fn walk(path: &Path, key: &KeyFile) {
    let mut l = Ledger::init(path, key, "alice").unwrap();
    l.append(entry(Action::Promote, Mode::Legacy, Mode::Shadow), key, "alice").unwrap();
    l.append(entry(Action::Promote, Mode::Shadow, Mode::Primary), key, "alice").unwrap();
    l.append(entry(Action::Rollback, Mode::Primary, Mode::Shadow), key, "alice").unwrap();
}

#[test]
fn an_untouched_ledger_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ledger.jsonl");
    let key = KeyFile::generate("alice").unwrap();
    walk(&path, &key);
    let r = verify(&path, &[key.verifying_key()], true).unwrap();
    assert_eq!((r.entries, r.mode), (4, Mode::Shadow));
    assert!(Ledger::init(&path, &key, "alice").is_err(), "a ledger is started once");
}

#[test]
fn every_single_byte_change_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ledger.jsonl");
    let key = KeyFile::generate("alice").unwrap();
    walk(&path, &key);
    let original = std::fs::read(&path).unwrap();
    let edited = tmp.path().join("edited.jsonl");
    for i in 0..original.len() {
        for delta in [1u8, 0x20] {
            let mut bytes = original.clone();
            bytes[i] = bytes[i].wrapping_add(delta);
            std::fs::write(&edited, &bytes).unwrap();
            assert!(verify(&edited, &[], false).is_err(), "a change of byte {i} (+{delta}) went unnoticed");
        }
    }
    // Removing a byte, and removing the last line, are caught too.
    let mut shorter = original.clone();
    shorter.remove(original.len() / 2);
    std::fs::write(&edited, &shorter).unwrap();
    assert!(verify(&edited, &[], false).is_err());
}

#[test]
fn reordering_removing_and_foreign_keys_are_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ledger.jsonl");
    let key = KeyFile::generate("alice").unwrap();
    walk(&path, &key);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let edited = tmp.path().join("edited.jsonl");

    let swapped = [lines[0], lines[2], lines[1], lines[3]].join("\n") + "\n";
    std::fs::write(&edited, swapped).unwrap();
    let e = verify(&edited, &[], false).unwrap_err().to_string();
    assert!(e.contains("entry 1") && e.contains("reordered"), "{e}");

    let removed = [lines[0], lines[1], lines[3]].join("\n") + "\n";
    std::fs::write(&edited, removed).unwrap();
    assert!(verify(&edited, &[], false).unwrap_err().to_string().contains("entry 2"));

    let other = KeyFile::generate("mallory").unwrap();
    let e = verify(&path, &[other.verifying_key()], false).unwrap_err().to_string();
    assert!(e.contains("entry 0") && e.contains("not a trusted key"), "{e}");

    // An entry re-signed by another key after an edit: the chain still breaks at the next entry.
    let mut forged = Ledger::open(&path).unwrap();
    let forged_path = tmp.path().join("forged.jsonl");
    std::fs::copy(&path, &forged_path).unwrap();
    forged.path = forged_path.clone();
    forged.append(entry(Action::Promote, Mode::Shadow, Mode::Primary), &other, "mallory").unwrap();
    assert!(
        verify(&forged_path, &[], false).is_ok(),
        "a well-formed entry by another key verifies without trust anchors"
    );
    assert!(verify(&forged_path, &[key.verifying_key()], false).unwrap_err().to_string().contains("entry 4"));
}

#[test]
fn illegal_sequences_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ledger.jsonl");
    let key = KeyFile::generate("alice").unwrap();
    let mut l = Ledger::init(&path, &key, "alice").unwrap();
    // Two steps at once is not a promotion; the ledger writes what it is told, the audit refuses it.
    l.append(entry(Action::Promote, Mode::Legacy, Mode::Primary), &key, "alice").unwrap();
    let e = verify(&path, &[], false).unwrap_err().to_string();
    assert!(e.contains("entry 1") && e.contains("not a legal transition"), "{e}");
}

#[test]
fn case_and_line_ending_edits_are_detected_and_floats_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ledger.jsonl");
    let key = KeyFile::generate("alice").unwrap();
    let mut l = Ledger::init(&path, &key, "alice").unwrap();
    // Evaluations carry floats (error rates, latency ratios): they must verify exactly as written.
    let mut e = entry(Action::Promote, Mode::Legacy, Mode::Shadow);
    e.evaluation = serde_json::json!({ "ratios": [2.1763668430335097, 0.1 + 0.2, 1e-300, 123456.789012345678] });
    l.append(e, &key, "alice").unwrap();
    verify(&path, &[], false).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let edited = tmp.path().join("edited.jsonl");
    // Uppercasing one hex digit of a signature (the same bytes) is an edit.
    let sig_at = text.find("\"signature\":\"").unwrap() + 13;
    let pos = sig_at + text[sig_at..].find(|c: char| ('a'..='f').contains(&c)).unwrap();
    let mut upper = text.clone();
    upper.replace_range(pos..pos + 1, &text[pos..pos + 1].to_uppercase());
    std::fs::write(&edited, upper).unwrap();
    assert!(verify(&edited, &[], false).unwrap_err().to_string().contains("lowercase"));
    // A carriage return before a newline is an edit.
    std::fs::write(&edited, text.replacen('\n', "\r\n", 1)).unwrap();
    assert!(verify(&edited, &[], false).is_err());
    // An empty file is a failed audit naming entry 0, not a crash.
    std::fs::write(&edited, "").unwrap();
    assert!(verify(&edited, &[], false).unwrap_err().to_string().contains("entry 0"));
}

/// A ledger written by an earlier dualrun (every kind of entry: init, approvals of a promotion and of a
/// rotation, a promotion on a quorum, a rotation, a forced promotion, a rollback) still verifies with
/// its operators' keys and reads back as written: the ledger format is pinned.
#[test]
fn a_ledger_written_by_an_earlier_dualrun_verifies_and_reads_back_byte_for_byte() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let path = dir.join("ledger-v1.jsonl");
    let keys: Vec<ed25519_dalek::VerifyingKey> = std::fs::read_to_string(dir.join("ledger-v1.keys"))
        .unwrap()
        .lines()
        .map(|h| dualrun_gate::quorum::parse_key(h).unwrap())
        .collect();
    let r = verify(&path, &keys, false).unwrap();
    assert_eq!((r.entries, r.mode, r.findings.len()), (11, Mode::Legacy, 0));
    assert_eq!(r.head.to_string(), "85689198c24fe652efeed5ef05fc98d30bbb1126aa0d75df84e0e4379cec8c5e");
    let text = std::fs::read_to_string(&path).unwrap();
    let ledger = Ledger::open(&path).unwrap();
    let actions: Vec<String> = ledger
        .entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap()["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "init", "approve", "approve", "promote", "approve", "approve", "rotate", "approve", "approve", "promote",
            "rollback"
        ]
    );
    for (line, e) in text.lines().zip(&ledger.entries) {
        assert_eq!(serde_json::to_string(e).unwrap(), line, "an entry reads back as written");
    }
}
