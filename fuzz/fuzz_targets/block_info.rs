//! `block_info`: `dualrun_chaindb::Schema::decode_info` for both schemas (Monero v5, X-Cash v3) on
//! arbitrary bytes.
//!
//! Checks: nothing panics; a record decodes exactly when its length is the schema's `info_size`; a
//! decoded record encodes back to the same bytes (`encode_info(decode_info(x)) == x`), has a long-term
//! weight exactly in schema 5 and a 64-bit cumulative difficulty in schema 3, and its hash is the bytes at
//! the schema's hash offset.

#![no_main]

use dualrun_chaindb::Schema;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (schema, hash_at) in [(Schema::MoneroV5, 48), (Schema::XcashV3, 40)] {
        assert_eq!(Schema::from_version(schema.version()), Some(schema));
        let decoded = schema.decode_info(data);
        assert_eq!(decoded.is_some(), data.len() == schema.info_size(), "{schema:?} on {} bytes", data.len());
        let Some(info) = decoded else { continue };
        assert_eq!(schema.encode_info(&info), data, "{schema:?} does not round-trip");
        assert_eq!(info.hash.0, data[hash_at..hash_at + 32]);
        assert_eq!(info.height.to_le_bytes(), data[..8]);
        match schema {
            Schema::MoneroV5 => assert!(info.long_term_weight.is_some()),
            Schema::XcashV3 => {
                assert!(info.long_term_weight.is_none());
                assert!(info.cumulative_difficulty <= u128::from(u64::MAX));
            }
        }
    }
});
