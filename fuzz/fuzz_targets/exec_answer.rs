//! `exec_answer`: how the `exec:` adapter reads a child's answers — `bounded::read_line` (the line
//! limit) then `parse_answer` (JSON, the request id, the verdict) — on arbitrary stdout bytes.
//!
//! Input: one byte choosing the line limit (1..=4081 bytes, so over-long lines are reachable), one the
//! reader's buffer size (chunking must not matter), then the child's output.
//!
//! Checks: nothing panics; each line read is exactly the bytes up to the next newline; a line over the
//! limit or not UTF-8 is an `InvalidData` read error, which is a protocol error that kills the child; a
//! line that reads is a protocol error unless it is JSON answering this request's id, and an answer
//! accepted for id 1 is refused for id 2; an accepted answer is a verdict of `accept`/`reject` or an
//! `error` (a crash), with string facts.

#![no_main]

use std::io::BufReader;

use dualrun_adapter_exec::bounded::read_line;
use dualrun_adapter_exec::{parse_answer, BadAnswer};
use dualrun_core::{ErrorKind, Verdict, VerifierOutcome};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let [cap_pick, buf_pick, out @ ..] = data else { return };
    let cap = 1 + usize::from(*cap_pick) * 16;
    let mut reader = BufReader::with_capacity(1 + usize::from(*buf_pick), out);
    let mut rest = out;
    for seq in 1..=8u64 {
        let read = read_line(&mut reader, cap);
        if rest.is_empty() {
            assert!(matches!(read, Ok(None)), "a line read past the end: {read:?}");
            return;
        }
        let (expected, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let bad_line = expected.len() > cap || std::str::from_utf8(expected).is_err();
        match &read {
            Ok(Some(line)) => assert!(!bad_line && line.as_bytes() == expected, "read {line:?}, expected {expected:?}"),
            Ok(None) => panic!("end of input reported with {} bytes left", rest.len()),
            Err(e) => assert!(bad_line && e.kind() == std::io::ErrorKind::InvalidData, "read error {e}"),
        }
        let line = read.map(|l| l.expect("a line"));
        let text = line.as_ref().ok().cloned();
        let answer = parse_answer(line, seq);
        match (&text, &answer) {
            (None, Err(BadAnswer { kind: ErrorKind::Protocol, kill: true, .. })) => return,
            (None, other) => panic!("an unreadable line gave {other:?}"),
            (Some(_), Err(BadAnswer { kind, .. })) => assert_eq!(*kind, ErrorKind::Protocol),
            (Some(text), Ok(outcome)) => {
                let v: Value = serde_json::from_str(text).expect("an accepted answer is JSON");
                assert_eq!(v.get("id").and_then(Value::as_u64), Some(seq));
                match outcome {
                    VerifierOutcome::Error(e) => {
                        assert!(v.get("error").is_some() && e.kind == ErrorKind::Crash)
                    }
                    VerifierOutcome::Verdict { verdict, facts } => {
                        let word = if matches!(verdict, Verdict::Accept) { "accept" } else { "reject" };
                        assert_eq!(v.get("verdict").and_then(Value::as_str), Some(word));
                        for (k, val) in facts {
                            assert_eq!(v["facts"][k].as_str(), Some(val.as_str()));
                        }
                    }
                }
                let other = parse_answer(Ok(text.clone()), seq + 1);
                assert!(
                    matches!(other, Err(BadAnswer { kind: ErrorKind::Protocol, kill: true, .. })),
                    "an answer for id {seq} was taken for id {}: {other:?}",
                    seq + 1
                );
            }
        }
        if answer.as_ref().is_err_and(|b| b.kill) {
            return;
        }
        rest = after;
    }
});
