//! Block ids and hashes against known answers: real mainnet/testnet/stagenet blobs from
//! `../shared/vectors/mainnet`, Monero's own hash and tree-hash vectors and fuzz blocks from Debian's
//! `monero-tests`, and the genesis blocks of each network.

use std::path::{Path, PathBuf};

use dualrun_format::hash::{keccak256, tree_hash, Hash32};
use dualrun_format::{encode, varint, Block};

const MONERO_TESTDATA: &str = "/usr/share/monero/testdata";

fn shared_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/mainnet")
}

fn testdata(rel: &str) -> PathBuf {
    let p = Path::new(MONERO_TESTDATA).join(rel);
    assert!(p.exists(), "{} is missing: install Debian's monero-tests (ci/test.sh does)", p.display());
    p
}

fn id_of(blob: &[u8]) -> (Hash32, Hash32) {
    let block = Block::parse(blob).expect("vector parses");
    let h = block.hashes().expect("vector hashes");
    (h.block_id, h.miner_tx_hash)
}

fn h(s: &str) -> Hash32 {
    s.parse().unwrap()
}

#[test]
fn every_shared_mainnet_vector_gives_its_known_id() {
    let dir = shared_vectors();
    if !dir.exists() {
        eprintln!("NOTE: {} not present; shared mainnet vectors not checked", dir.display());
        return;
    }
    let named = [
        ("block_202612_testnet.bin", "248fde4b96b829c4ddbd00e3f76d35b03d01257898bc1b5578bc9e04b379a676"),
        ("block_202612_stagenet.bin", "f3449e658b5f880c4b0e69007ed5d092c9c883ac3a518166fa652d5cc505e7b1"),
    ];
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected = match named.iter().find(|(n, _)| *n == name) {
            Some((_, id)) => h(id),
            None => h(name.strip_suffix(".bin").expect("vector files end in .bin")),
        };
        let blob = std::fs::read(&path).unwrap();
        assert_eq!(id_of(&blob).0, expected, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 7, "expected the 7 vectors of shared/vectors/README.md");
}

#[test]
fn mainnet_202612_is_overridden_and_its_plain_id_is_known() {
    let path = shared_vectors().join("bbd604d2ba11ba27935e006ed39c9bfdd99b76bf4a50654bc1e1e61217962698.bin");
    if !path.exists() {
        eprintln!("NOTE: {} not present", path.display());
        return;
    }
    let blob = std::fs::read(path).unwrap();
    let block = Block::parse(&blob).unwrap();
    assert_eq!(block.tx_count(), 513);
    let hashes = block.hashes().unwrap();
    assert!(hashes.id_overridden);
    let hashing_blob = block.hashing_blob(&hashes.tree_root);
    let mut prefixed = Vec::new();
    varint::write(&mut prefixed, hashing_blob.len() as u64);
    prefixed.extend_from_slice(&hashing_blob);
    assert_eq!(keccak256(&prefixed), h("426d16cff04c71f8b16340b722dc4010a2dd3831c22041431f772547ba6e331a"));

    // The same block with one tx hash changed is no longer the special block: plain id, no override.
    let mut edited = blob.clone();
    let last = edited.len() - 1;
    edited[last] ^= 1;
    let other = Block::parse(&edited).unwrap().hashes().unwrap();
    assert!(!other.id_overridden);
    assert_ne!(other.block_id, hashes.block_id);
}

#[test]
fn v16_tagged_key_block_and_its_miner_tx() {
    let path = shared_vectors().join("43bd1f2b6556dcafa413d8372974af59e4e8f37dbf74dc6b2a9b7212d0577428.bin");
    if !path.exists() {
        eprintln!("NOTE: {} not present", path.display());
        return;
    }
    let blob = std::fs::read(path).unwrap();
    let block = Block::parse(&blob).unwrap();
    assert_eq!(block.header.major_version, 16);
    assert_eq!(block.miner_tx.gen_height(), Some(2751506));
    assert!(block.miner_tx.outputs[0].view_tag().is_some());
    assert_eq!(id_of(&blob).1, h("e49b854c5f339d7410a77f2a137281d8042a0ffc7ef9ab24cd670b67139b24cd"));
}

#[test]
fn monero_fast_hash_vectors() {
    let text = std::fs::read_to_string(testdata("hash/tests-fast.txt")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (digest, input) = line.split_once(' ').unwrap();
        let input = if input == "x" { vec![] } else { hex::decode(input).unwrap() };
        assert_eq!(keccak256(&input), h(digest), "line {line}");
        n += 1;
    }
    assert!(n > 300, "only {n} vectors read");
}

#[test]
fn monero_tree_hash_vectors() {
    let text = std::fs::read_to_string(testdata("hash/tests-tree.txt")).unwrap();
    let mut sizes = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (root, leaves) = line.split_once(' ').unwrap();
        let leaves: Vec<Hash32> =
            hex::decode(leaves).unwrap().chunks_exact(32).map(|c| Hash32(c.try_into().unwrap())).collect();
        assert_eq!(tree_hash(&leaves), h(root), "{} leaves", leaves.len());
        sizes.push(leaves.len());
    }
    assert_eq!(sizes, (1..=16).collect::<Vec<_>>());
}

#[test]
fn monero_fuzz_blocks() {
    for (file, id) in [
        ("fuzz/block/BLOCK1", "4d6a78e270fdc9d90c5fa3605f4bd573c9b60ff49eab86109e4694b47d7cd000"),
        ("fuzz/block/BLOCK2", "17ad8a8ecf1538e2d4ac0d81a6b4cf475de2d7d586f1dd3fde6028fb911333fc"),
    ] {
        let blob = std::fs::read(testdata(file)).unwrap();
        assert_eq!(id_of(&blob).0, h(id), "{file}");
    }
}

#[test]
fn genesis_blocks_of_every_network() {
    let mainnet = encode::genesis_blob(10000);
    assert_eq!(mainnet.len(), 120);
    let (id, tx) = id_of(&mainnet);
    assert_eq!(id, h("418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3"));
    assert_eq!(tx, h("c88ce9783b4f11190d7b9c17a69c1c52200f9faaee8e98dd07e6811175177139"));
    assert_eq!(
        id_of(&encode::genesis_blob(10001)).0,
        h("48ca7cd3c8de5b6a4d53d2861fbdaedca141553559f9be9520068053cda8430b")
    );
    let stagenet_tx = "013c01ff0001ffffffffffff0302df5d56da0c7d643ddd1ce61901c7bdc5fb1738bfe39fbe69c28a3a7032729c0f2101168d0c4ca86fb55a4cf6a36d31431be1c53a3bd7411bb24e8832410289fa6f3b";
    assert_eq!(
        id_of(&encode::genesis_with_tx(stagenet_tx, 10002)).0,
        h("76ee3cc98646292206cd3e86f74d88b4dcc1d937088645e9b0cbca84b7ce74eb")
    );
    assert_eq!(
        id_of(&encode::genesis_with_tx(encode::XCASH_GENESIS_TX, 10000)).0,
        h("557393c3e80695e94603e92b4dbf7a2b974c16cf12d1b470d2882916cbfee468")
    );
}

/// Hashing a block's id together with the id of its copy with a range zeroed (what a leader signs) gives
/// exactly the ids of the block and of the zeroed copy, for every range inside the miner transaction's
/// first-hashed bytes of every shared mainnet vector (v1 and v2 miner transactions), and refuses a range
/// outside them or block 202612, whose id may be forced.
#[test]
fn an_id_hashed_with_a_zeroed_copy_is_the_copy_id() {
    let dir = shared_vectors();
    assert!(dir.exists(), "{} is needed", dir.display());
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let blob = std::fs::read(entry.unwrap().path()).unwrap();
        let block = Block::parse(&blob).unwrap();
        let tx = &block.miner_tx;
        let hashed = if tx.version == 1 { tx.range.clone() } else { tx.prefix_range.clone() };
        if tx.gen_height() == Some(202612) {
            assert!(block.hashes_and_zeroed_id(hashed.start..hashed.start + 1).is_none());
            continue;
        }
        let outside = [hashed.end..hashed.end + 1, hashed.start - 1..hashed.start + 1, 0..1];
        for range in outside {
            assert!(block.hashes_and_zeroed_id(range.clone()).is_none(), "{range:?} is outside {hashed:?}");
        }
        let len = hashed.len();
        for start in (hashed.start..hashed.end).step_by(3) {
            for width in [0, 1, 64, 200, len] {
                let range = start..(start + width).min(hashed.end);
                let (ids, zeroed_id) = block.hashes_and_zeroed_id(range.clone()).unwrap();
                assert_eq!(ids, block.hashes());
                let mut copy = blob.clone();
                copy[range.clone()].fill(0);
                // A zeroed copy may no longer parse, or parse into other parts (a zeroed varint or tag):
                // bytes hashed in place are the same block's only when the parts are where they were.
                let same_parts = |p: &Block| p.miner_tx.prefix_range == tx.prefix_range && p.miner_tx.range == tx.range;
                if let Some(parsed) = Block::parse(&copy).ok().filter(same_parts) {
                    assert_eq!(zeroed_id, parsed.hashes().map(|h| h.block_id), "{range:?}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 400, "only {compared} zeroed copies compared");
}
