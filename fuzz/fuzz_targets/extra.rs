//! `extra`: `dualrun_format::extra::parse` on arbitrary tx_extra bytes.
//!
//! Checks what `ParsedExtra` promises: nothing panics; the fields are in order, each starting where the
//! one before ended (the first at 0), so fields then `unparsed()` cover the input exactly once; each
//! field starts with its tag byte, its kind is its tag's, its payload lies inside it and has the shape
//! its kind requires; `nonces()` are the nonce payloads. Parsing is prefix-stable (the bytes up to the
//! last field parse to the same fields, completely) and the failing field fails again on its own.

#![no_main]

use dualrun_format::extra::{self, ExtraFieldKind, NONCE_MAX, PADDING_MAX};
use dualrun_format::varint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = extra::parse(data);
    assert_eq!(p.extra, data);
    let mut pos = 0;
    for f in &p.fields {
        assert_eq!(f.range.start, pos, "fields are contiguous and in order");
        assert!(f.range.start < f.range.end && f.range.end <= data.len(), "field {f:?} out of bounds");
        assert!(f.range.start < f.payload.start, "a payload starts after its tag");
        assert!(f.payload.start <= f.payload.end && f.payload.end <= f.range.end, "payload outside {f:?}");
        assert_eq!(f.payload.end, f.range.end, "a field ends with its payload");
        assert_eq!(data[f.range.start], f.tag);
        let payload = p.payload(f);
        let kind = match f.tag {
            0x00 => ExtraFieldKind::Padding,
            0x01 => ExtraFieldKind::PubKey,
            0x02 => {
                if f.kind == ExtraFieldKind::NonceRawLength {
                    let raw = data[f.range.start + 1] as usize;
                    assert!(raw >= 0x80 && payload.len() == raw && f.payload.start == f.range.start + 2);
                } else {
                    assert!(payload.len() <= NONCE_MAX);
                }
                f.kind
            }
            0x03 => ExtraFieldKind::MergeMining,
            0x04 => ExtraFieldKind::AdditionalPubKeys,
            0x07 => ExtraFieldKind::VrfSignature,
            0xde => ExtraFieldKind::MysteriousMinergate,
            0xfa => ExtraFieldKind::PublicTxV1,
            t => panic!("a field with unknown tag 0x{t:02x} parsed"),
        };
        assert_eq!(f.kind, kind);
        match f.kind {
            ExtraFieldKind::Padding => {
                assert!(payload.iter().all(|&b| b == 0) && f.range.len() <= PADDING_MAX);
                assert_eq!(f.range.end, data.len(), "padding runs to the end");
            }
            ExtraFieldKind::PubKey => assert_eq!(payload.len(), 32),
            ExtraFieldKind::AdditionalPubKeys => assert_eq!(payload.len() % 32, 0),
            ExtraFieldKind::MergeMining => {
                let (_, n) = varint::read(payload, 64).expect("merge-mining depth varint");
                assert_eq!(payload.len(), n + 32);
            }
            _ => {}
        }
        pos = f.range.end;
    }
    match &p.error {
        None => assert_eq!(pos, data.len(), "no error, yet bytes are left"),
        Some(e) => {
            assert_eq!(e.offset, pos, "the error is where the fields stopped");
            assert!(e.offset < data.len());
            assert!(!e.reason.to_string().is_empty());
            // The field that failed fails on its own too: a field is read from its own bytes only.
            let alone = extra::parse(p.unparsed());
            assert!(alone.fields.is_empty() && alone.error.as_ref().map(|e| e.offset) == Some(0));
        }
    }
    assert_eq!(pos + p.unparsed().len(), data.len(), "fields and unparsed cover the input");
    assert_eq!(&data[pos..], p.unparsed());
    let nonces: Vec<&[u8]> = p.nonces().collect();
    let expect: Vec<&[u8]> = p
        .fields
        .iter()
        .filter(|f| matches!(f.kind, ExtraFieldKind::Nonce | ExtraFieldKind::NonceRawLength))
        .map(|f| p.payload(f))
        .collect();
    assert_eq!(nonces, expect);
    // Prefix stability: the bytes the fields took parse to the same fields, with nothing left over.
    let prefix = extra::parse(&data[..pos]);
    assert_eq!(prefix.fields, p.fields, "the parsed prefix parses differently on its own");
    assert!(prefix.error.is_none());
    assert_eq!(extra::parse(data), p, "parsing is deterministic");
});
