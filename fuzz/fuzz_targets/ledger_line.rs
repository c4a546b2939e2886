//! `ledger_line`: `dualrun_gate::ledger::verify` (the audit, without the evidence re-check) and
//! `Ledger::open` on a fuzzed ledger file, written to a scratch file (both read only from a path).
//!
//! Input: one byte choosing the mode, then the file. Even: the bytes are the file. Odd: each line that
//! is a JSON object is signed here as an operator would (so the fuzzer gets past hashes and signatures
//! to the mode and quorum rules): a missing `seq` or `prev_hash` is filled in, the strings `"@k0"` …
//! `"@k3"` anywhere become four fixed operators' public keys (`public_key` names the signer; default
//! `@k0`) and `"@rAB"` the digest of a rotation of key A to key B, a `rotate` entry's missing
//! `new_key_signature` is made with its `new_key`, then `hash` and `signature` are computed as the
//! ledger format specifies (docs/gate.md).
//!
//! Checks: nothing panics; an error names an entry that exists; a ledger that verifies is one — a
//! non-empty UTF-8 file of `\n`-terminated lines, JSON objects whose `seq` counts from 0, chained by
//! `prev_hash`, starting with an `init` to `legacy`, whose head is the last `hash` and whose mode is the
//! last transition's (`init`, `promote`, `rollback`) `to`; `Ledger::open` reads the same entries; and every
//! quorum it records was met as docs/gate.md says: each `approved_by` is an earlier `approve` of the same
//! digest and mode, since the last transition, by a distinct listed operator, at least `approvals` of
//! them, and no later promotion or rotation records a lower quorum or none.

#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use dualrun_format::{keccak256, Hash32};
use dualrun_gate::ledger::{self, Ledger, LedgerError};
use dualrun_gate::quorum;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fn keys() -> &'static [SigningKey; 4] {
    static KEYS: OnceLock<[SigningKey; 4]> = OnceLock::new();
    KEYS.get_or_init(|| [1u8, 2, 3, 4].map(|b| SigningKey::from_bytes(&[b; 32])))
}

fn key_hex(i: usize) -> String {
    hex::encode(keys()[i].verifying_key().as_bytes())
}

fn alias(s: &str) -> Option<usize> {
    match s {
        "@k0" => Some(0),
        "@k1" => Some(1),
        "@k2" => Some(2),
        "@k3" => Some(3),
        _ => None,
    }
}

/// Replaces every `"@kN"` string in `v` with operator N's public key, and every `"@rAB"` with the
/// digest a rotation of operator A's key to operator B's is approved as.
fn resolve(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(i) = alias(s) {
                *s = key_hex(i);
            } else if let Some((a, b)) = s.strip_prefix("@r").and_then(|ab| {
                let ab = ab.as_bytes();
                (ab.len() == 2 && ab.iter().all(|d| (b'0'..=b'3').contains(d)))
                    .then(|| (usize::from(ab[0] - b'0'), usize::from(ab[1] - b'0')))
            }) {
                *s = quorum::rotation_digest(&key_hex(a), &key_hex(b)).to_string();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(resolve),
        Value::Object(m) => m.values_mut().for_each(resolve),
        _ => {}
    }
}

/// Signs each JSON-object line as an operator would; other lines are kept as they are.
fn sign_lines(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = Hash32::ZERO;
    for (i, line) in input.split(|&b| b == b'\n').enumerate() {
        let Ok(Value::Object(mut e)) = serde_json::from_slice::<Value>(line) else {
            out.extend_from_slice(line);
            out.push(b'\n');
            continue;
        };
        let signer = e.get("public_key").and_then(Value::as_str).and_then(alias).unwrap_or(0);
        e.entry("seq").or_insert(Value::from(i as u64));
        e.entry("prev_hash").or_insert(Value::from(prev.to_string()));
        e.entry("public_key").or_insert(Value::from("@k0"));
        let new_key = e.get("new_key").and_then(Value::as_str).and_then(alias);
        for v in e.values_mut() {
            resolve(v);
        }
        if let (Some("rotate"), Some(n), None) =
            (e.get("action").and_then(Value::as_str), new_key, e.get("new_key_signature"))
        {
            let old = e.get("old_key").and_then(Value::as_str).unwrap_or("").to_owned();
            let digest = quorum::rotation_digest(&old, &key_hex(n));
            let sig = keys()[n].sign(&quorum::rotation_message(&digest));
            e.insert("new_key_signature".into(), Value::from(hex::encode(sig.to_bytes())));
        }
        e.remove("hash");
        e.remove("signature");
        // The entry hash of the ledger format: Keccak-256 of "dualrun/ledger/v1\n" ‖ the entry's compact
        // JSON without hash and signature; the signature is of "dualrun/ledger/v1" ‖ hash.
        let mut body = b"dualrun/ledger/v1\n".to_vec();
        body.extend(serde_json::to_vec(&e).expect("serializes"));
        let hash = keccak256(&body);
        let sig = keys()[signer].sign(&[b"dualrun/ledger/v1".as_slice(), &hash.0].concat());
        e.insert("hash".into(), Value::from(hash.to_string()));
        e.insert("signature".into(), Value::from(hex::encode(sig.to_bytes())));
        out.extend(serde_json::to_vec(&e).expect("serializes"));
        out.push(b'\n');
        prev = hash;
    }
    out
}

fn text<'a>(e: &'a Map<String, Value>, key: &str) -> &'a str {
    e.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Every quorum a verified ledger records was met, and none was lowered or dropped (docs/gate.md).
fn check_quorums(entries: &[Map<String, Value>]) {
    let mut pinned: Option<usize> = None;
    for (i, e) in entries.iter().enumerate() {
        let action = text(e, "action");
        if !matches!(action, "promote" | "rotate") {
            continue;
        }
        let Some(q) = e.get("quorum") else {
            assert!(pinned.is_none(), "entry {i} ({action}) records no quorum after one was pinned");
            continue;
        };
        let m = q.get("approvals").and_then(Value::as_u64).expect("a recorded quorum has approvals") as usize;
        assert!(pinned.is_none_or(|p| m >= p), "entry {i} lowered the quorum to {m} from {pinned:?}");
        pinned = Some(pinned.map_or(m, |p| p.max(m)));
        let operators: Vec<&str> =
            q.get("operators").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let digest = if action == "promote" {
            let d = e.get("evaluation").and_then(|v| v.get("evaluation_digest")).and_then(Value::as_str);
            d.unwrap_or("").to_owned()
        } else {
            quorum::rotation_digest(text(e, "old_key"), text(e, "new_key")).to_string()
        };
        let since = entries[..i]
            .iter()
            .rposition(|x| matches!(text(x, "action"), "init" | "promote" | "rollback"))
            .map_or(0, |t| t + 1);
        let claimed: BTreeSet<u64> =
            q.get("approved_by").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_u64).collect();
        assert!(claimed.len() >= m, "entry {i} met a quorum of {m} with {} approvals", claimed.len());
        let mut signers = BTreeSet::new();
        for &s in &claimed {
            let a = usize::try_from(s).ok().and_then(|s| entries[..i].get(s)).expect("approved_by is an earlier entry");
            assert!(s as usize >= since, "entry {i} counts approval #{s} given before the last transition");
            assert_eq!(text(a, "action"), "approve", "entry {i}: #{s} is not an approval");
            assert_eq!(text(a, "approves"), digest, "entry {i}: #{s} approves another digest");
            assert_eq!(text(a, "to"), text(e, "to"), "entry {i}: #{s} approves another move");
            assert!(operators.contains(&text(a, "public_key")), "entry {i}: #{s} is not by a listed operator");
            assert!(signers.insert(text(a, "public_key")), "entry {i}: one key counted twice");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, rest)) = data.split_first() else { return };
    let file = if how & 1 == 1 { sign_lines(rest) } else { rest.to_vec() };
    let data = file.as_slice();
    let path = dualrun_fuzz::scratch_file("ledger.jsonl");
    std::fs::write(&path, data).expect("write the scratch file");
    let report = match ledger::verify(&path, &[], false) {
        Ok(r) => r,
        Err(LedgerError::Bad { index, line, .. }) => {
            assert_eq!(line, index + 1);
            let lines = data.split(|&b| b == b'\n').count();
            assert!(index < lines.max(1), "entry {index} named, but the file has {lines} line(s)");
            let _ = Ledger::open(&path);
            return;
        }
        Err(e) => panic!("verify gave an error other than a bad entry: {e}"),
    };
    let text_ = std::str::from_utf8(data).expect("a verified ledger is UTF-8");
    assert!(text_.ends_with('\n') && !text_.contains('\r'));
    let opened = Ledger::open(&path).expect("a verified ledger opens");
    // Read back as the JSON objects the format specifies: the checks below are an independent reading.
    let entries: Vec<Map<String, Value>> = opened
        .entries
        .iter()
        .map(|e| match serde_json::to_value(e).expect("entries serialize") {
            Value::Object(m) => m,
            _ => unreachable!("an entry is an object"),
        })
        .collect();
    for (line, e) in text_.lines().zip(&entries) {
        assert_eq!(serde_json::to_string(e).expect("serializes"), line, "an entry reads back as written");
    }
    assert_eq!(entries.len(), report.entries);
    assert_eq!(text_.lines().count(), report.entries);
    let mut prev = Hash32::ZERO.to_string();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.get("seq").and_then(Value::as_u64), Some(i as u64));
        assert_eq!(text(e, "prev_hash"), prev);
        prev = text(e, "hash").to_owned();
    }
    let first = &entries[0];
    assert_eq!((text(first, "action"), text(first, "to")), ("init", "legacy"));
    assert_eq!(report.head.to_string(), prev);
    let last_move = entries.iter().rev().find(|e| matches!(text(e, "action"), "init" | "promote" | "rollback"));
    assert_eq!(last_move.map(|e| text(e, "to")), Some(report.mode.as_str()));
    check_quorums(&entries);
});
