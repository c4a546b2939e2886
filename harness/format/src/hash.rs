//! Keccak-256 as Monero uses it (`cn_fast_hash`: original Keccak padding, not SHA-3's), the 32-byte
//! hash type every id in dualrun is, and Monero's transaction tree hash.

use std::fmt;
use std::str::FromStr;

// The one Keccak-256 hasher every hash of the crate is made with (the chain digest's too).
#[cfg(target_arch = "x86_64")]
pub(crate) use keccak_asm::{Digest, Keccak256};
#[cfg(not(target_arch = "x86_64"))]
pub(crate) use sha3::{Digest, Keccak256};

/// The Keccak-256 implementation behind every hash dualrun computes (the benchmarks print it).
#[cfg(target_arch = "x86_64")]
pub const KECCAK_IMPLEMENTATION: &str = "keccak-asm (CRYPTOGAMS x86_64 assembly)";
/// The Keccak-256 implementation behind every hash dualrun computes (the benchmarks print it).
#[cfg(not(target_arch = "x86_64"))]
pub const KECCAK_IMPLEMENTATION: &str = "sha3 (RustCrypto, portable Rust)";

/// A 32-byte hash or key. Displays, parses and serializes as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The all-zero hash (the null id).
    pub const ZERO: Hash32 = Hash32([0; 32]);

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, without allocating: two characters per byte from one table (a scan writes three
    /// ids a block).
    pub fn to_hex_buf(&self) -> [u8; 64] {
        let mut buf = [0u8; 64];
        for (pair, &byte) in buf.chunks_exact_mut(2).zip(&self.0) {
            pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
        }
        buf
    }
}

/// The two lowercase hex characters of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    pairs
};

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buf = self.to_hex_buf();
        f.write_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a 32-byte hex hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hex characters (32 bytes), got {0:?}")]
pub struct ParseHashError(pub String);

impl FromStr for Hash32 {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseHashError(s.to_owned()))?;
        Ok(Hash32(out))
    }
}

impl From<[u8; 32]> for Hash32 {
    fn from(bytes: [u8; 32]) -> Self {
        Hash32(bytes)
    }
}

impl serde::Serialize for Hash32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let buf = self.to_hex_buf();
        s.serialize_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

impl<'de> serde::Deserialize<'de> for Hash32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Legacy Keccak-256 of `data` (Monero's `cn_fast_hash`).
pub fn keccak256(data: &[u8]) -> Hash32 {
    Hash32(Keccak256::digest(data).into())
}

/// Keccak-256 of everything `r` yields, read in pieces (a large file is never held whole).
pub fn keccak256_reader(mut r: impl std::io::Read) -> std::io::Result<Hash32> {
    let mut h = Keccak256::new();
    let mut buf = [0u8; 1 << 16];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(Hash32(h.finalize().into())),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Keccak-256 of `data`, and of `data` with the bytes of `zeroed` set to zero: the bytes before
/// `zeroed` are absorbed once for both.
pub fn keccak256_with_zeroed(data: &[u8], zeroed: std::ops::Range<usize>) -> (Hash32, Hash32) {
    const ZEROS: [u8; 64] = [0; 64];
    let mut h = Keccak256::new();
    h.update(&data[..zeroed.start]);
    let mut z = h.clone();
    h.update(&data[zeroed.start..]);
    let mut left = zeroed.len();
    while left > 0 {
        let n = left.min(ZEROS.len());
        z.update(&ZEROS[..n]);
        left -= n;
    }
    z.update(&data[zeroed.end..]);
    (Hash32(h.finalize().into()), Hash32(z.finalize().into()))
}

/// Keccak-256 of the concatenation of `parts`, without copying them together.
pub fn keccak256_concat(parts: &[&[u8]]) -> Hash32 {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    Hash32(h.finalize().into())
}

fn hash_pair(a: &Hash32, b: &Hash32) -> Hash32 {
    keccak256_concat(&[&a.0, &b.0])
}

/// Monero's `tree_hash` (src/crypto/tree-hash.c) over one or more leaves.
///
/// For n ≥ 3 the leaves are first folded to `cnt` = the largest power of two strictly below n: the first
/// `2·cnt − n` leaves are carried over unhashed and the rest are hashed in pairs; then pairs are hashed
/// until two remain.
///
/// # Panics
/// If `leaves` is empty: a block always has at least its miner transaction.
pub fn tree_hash(leaves: &[Hash32]) -> Hash32 {
    tree(leaves, None).0
}

/// The tree hash of `leaves`, and of the same leaves with the first replaced by `first` (a block's
/// signing hash: its miner tx hashed with the signature zeroed). Only the hashes on the first leaf's path
/// to the root are made twice — about log2(n) of them, not n − 1.
///
/// # Panics
/// If `leaves` is empty.
pub fn tree_hash_with_first(leaves: &[Hash32], first: Hash32) -> (Hash32, Hash32) {
    let (root, other) = tree(leaves, Some(first));
    (root, other.expect("asked for"))
}

/// The tree hash, and with `first` the root of the tree whose first leaf is `first` instead.
fn tree(leaves: &[Hash32], first: Option<Hash32>) -> (Hash32, Option<Hash32>) {
    let n = leaves.len();
    match n {
        0 => panic!("tree_hash of zero leaves"),
        1 => (leaves[0], first),
        2 => (hash_pair(&leaves[0], &leaves[1]), first.map(|f| hash_pair(&f, &leaves[1]))),
        _ => {
            let mut cnt = n.next_power_of_two() >> 1;
            if cnt == n {
                cnt >>= 1; // strictly less than n
            }
            let carried = 2 * cnt - n;
            let mut ints: Vec<Hash32> = Vec::with_capacity(cnt);
            ints.extend_from_slice(&leaves[..carried]);
            for pair in leaves[carried..].chunks_exact(2) {
                ints.push(hash_pair(&pair[0], &pair[1]));
            }
            debug_assert_eq!(ints.len(), cnt);
            // The other tree differs only in its first node at each level.
            let mut other = first.map(|f| if carried > 0 { f } else { hash_pair(&f, &leaves[1]) });
            while cnt > 2 {
                cnt >>= 1;
                other = other.map(|o| hash_pair(&o, &ints[1]));
                for j in 0..cnt {
                    ints[j] = hash_pair(&ints[2 * j], &ints[2 * j + 1]);
                }
            }
            (hash_pair(&ints[0], &ints[1]), other.map(|o| hash_pair(&o, &ints[1])))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RustCrypto's portable Keccak-256, the reference the one in use is proven against.
    fn portable(parts: &[&[u8]]) -> Hash32 {
        use sha3::Digest as _;
        let mut h = sha3::Keccak256::new();
        for p in parts {
            h.update(p);
        }
        Hash32(h.finalize().into())
    }

    /// The bytes of `path`, or of every file under it (recursively) when it is a directory.
    fn files_under(dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        if dir.is_file() {
            out.extend(std::fs::read(dir).ok().map(|b| (dir.display().to_string(), b)));
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p.display().to_string(), bytes));
            }
        }
    }

    /// The Keccak-256 in use is the portable one, byte for byte: on every length across several rate
    /// blocks, on every split of an input into two updates (the incremental paths: a reader, a
    /// concatenation, the clone `keccak256_with_zeroed` makes), on the fuzz corpus, the mainnet block
    /// vectors, the sample chain's blobs and the golden vectors (as files and as the blobs they hold), the
    /// fuzz corpus where it was made and Monero's hash test data where installed.
    #[test]
    fn the_keccak_in_use_is_the_portable_one_on_every_input() {
        let data: Vec<u8> = (0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for n in 0..=data.len().min(700) {
            let d = &data[..n];
            assert_eq!(keccak256(d), portable(&[d]), "length {n}");
        }
        for split in 0..=300 {
            let d = &data[..300];
            assert_eq!(keccak256_concat(&[&d[..split], &d[split..]]), portable(&[d]), "split {split}");
            let zeroed = split.min(250)..(split + 40).min(300);
            let mut z = d.to_vec();
            z[zeroed.clone()].fill(0);
            assert_eq!(keccak256_with_zeroed(d, zeroed), (portable(&[d]), portable(&[&z])), "zeroed at {split}");
        }
        let big = data.repeat(40);
        assert_eq!(keccak256_reader(&big[..]).unwrap(), portable(&[&big]));

        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut inputs = Vec::new();
        files_under(&root.join("harness/sample/blocks.jsonl"), &mut inputs);
        files_under(&root.join("golden-vectors"), &mut inputs);
        files_under(&root.join("../shared/vectors"), &mut inputs);
        // Made by scripts/fuzz-corpus.sh (not committed); the `keccak` fuzz target checks the same.
        files_under(&root.join("fuzz/corpus"), &mut inputs);
        files_under(std::path::Path::new("/usr/share/monero/testdata/hash"), &mut inputs);
        assert!(inputs.len() > 50, "the golden vectors and the mainnet vectors: {} inputs", inputs.len());
        let mut blobs = 0;
        for (name, bytes) in &inputs {
            assert_eq!(keccak256(bytes), portable(&[bytes]), "{name}");
            // Hex text (a vector's blob, a test-data line) is hashed as the bytes it spells too.
            for word in String::from_utf8_lossy(bytes).split(|c: char| !c.is_ascii_hexdigit()) {
                if let Some(blob) = hex::decode(word).ok().filter(|_| word.len() >= 64) {
                    assert_eq!(keccak256(&blob), portable(&[&blob]), "{name}: a hex word of {} bytes", blob.len());
                    blobs += 1;
                }
            }
        }
        assert!(blobs > 300, "the sample's 201 blobs and the vectors': {blobs} hex blobs in {} inputs", inputs.len());
    }

    #[test]
    fn legacy_keccak_vectors() {
        assert_eq!(keccak256(b"").to_string(), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
        assert_eq!(keccak256(&[0]).to_string(), "bc36789e7a1e281436464229828f817d6612f7b477d66591ff96a9e064bcc98a");
        assert_eq!(keccak256_concat(&[b"ab", b"c"]), keccak256(b"abc"));
    }

    #[test]
    fn a_tree_with_another_first_leaf_is_that_trees_hash() {
        let leaves: Vec<Hash32> = (0..70u8).map(|i| keccak256(&[i])).collect();
        let first = keccak256(b"another first leaf");
        for n in 1..=leaves.len() {
            let mut replaced = leaves[..n].to_vec();
            replaced[0] = first;
            assert_eq!(
                tree_hash_with_first(&leaves[..n], first),
                (tree_hash(&leaves[..n]), tree_hash(&replaced)),
                "{n}"
            );
        }
    }

    #[test]
    fn hex_is_the_hex_crates() {
        for i in 0..=255u8 {
            let h = Hash32([i.wrapping_mul(37); 32].map(|b| b ^ i));
            assert_eq!(&h.to_hex_buf()[..], hex::encode(h.0).as_bytes());
        }
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h: Hash32 = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3".parse().unwrap();
        assert_eq!(h.to_string(), "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3");
        assert!("418015".parse::<Hash32>().is_err());
        assert!("zz8015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3".parse::<Hash32>().is_err());
    }
}
