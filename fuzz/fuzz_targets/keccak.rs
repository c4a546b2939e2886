//! `keccak`: dualrun's one Keccak-256 (`dualrun_format::keccak256`, assembly-backed on x86_64) against
//! RustCrypto's portable implementation on any bytes: whole, split into two updates where the first byte
//! says, and read through `keccak256_reader`. Any difference is a crash.

#![no_main]

use dualrun_format::hash::keccak256_concat;
use dualrun_format::{keccak256, keccak256_reader};
use libfuzzer_sys::fuzz_target;
use sha3::Digest;

fuzz_target!(|data: &[u8]| {
    let want: [u8; 32] = sha3::Keccak256::digest(data).into();
    assert_eq!(keccak256(data).0, want, "whole");
    let split = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    assert_eq!(keccak256_concat(&[&data[..split], &data[split..]]).0, want, "split at {split}");
    assert_eq!(keccak256_reader(data).expect("a slice reads").0, want, "read");
});
