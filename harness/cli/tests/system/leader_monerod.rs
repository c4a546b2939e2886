//! `leader produce` against a real monerod, then `leader check` on the daemon's own database: every
//! block, faulty or not, gets exactly the verdict the producer intended; a produced signature verifies
//! under an independent check written here; and the producer's failure modes say what went wrong.

use crate::common::*;
use sha3::{Digest, Keccak256};

fn read_csv(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

/// Produces `blocks` leader blocks with `faults`, stops the daemon, and returns (check output, the
/// producer's expected rows, the LMDB dir, tempdir).
fn produce_and_check(
    blocks: u64,
    faults: &[&str],
    failover: u64,
    keys_used: &[usize],
) -> (Run, Vec<String>, tempfile::TempDir, Network) {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(tmp.path(), "round-robin", 1, failover);
    let mut daemon = Monerod::start(&tmp.path().join("node"));
    daemon.wait_ready();
    let record = tmp.path().join("expected.csv");
    let blocks_arg = blocks.to_string();
    let mut args = vec!["leader", "produce", "--daemon", &daemon.rpc_url, "--profile", s(&net.profile)];
    args.extend(["--blocks", &blocks_arg, "--expected", s(&record)]);
    for &k in keys_used {
        args.extend(["--key", s(&net.keys[k])]);
    }
    for f in faults {
        args.extend(["--fault", f]);
    }
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "leader produce failed: {}", r.stderr);
    daemon.stop();
    let check = dualrun(&["leader", "check", "--chain", s(&daemon.lmdb()), "--profile", s(&net.profile)]);
    (check, read_csv(&record), tmp, net)
}

#[test]
fn every_fault_kind_is_judged_as_the_producer_intended() {
    let faults = ["3:missing", "5:unknown", "6:not-scheduled", "8:bad-signature", "10:malformed"];
    let (check, expected, _tmp, _net) = produce_and_check(12, &faults, 0, &[0, 1, 2]);
    assert_eq!(check.code, 1, "rejections make exit 1: {}", check.stderr);
    let lines: Vec<&str> = check.stdout.lines().collect();
    assert_eq!(lines[0], "height,block_id,verdict,reason,leader_id");
    assert!(lines[1].starts_with("0,418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3,accept,,"));
    // The producer's record has no header row for genesis; everything after it must match exactly.
    assert_eq!(expected[0], lines[0]);
    assert_eq!(&lines[2..], &expected[1..]);
    let reasons: Vec<&str> =
        lines[2..].iter().map(|l| l.split(',').nth(3).unwrap()).filter(|r| !r.is_empty()).collect();
    assert_eq!(
        reasons,
        ["leader.missing", "leader.unknown", "leader.not_scheduled", "leader.bad_signature", "leader.malformed"]
    );
}

#[test]
fn a_clean_chain_is_all_accepted_and_its_signatures_verify_independently() {
    let (check, expected, _tmp, net) = produce_and_check(6, &[], 0, &[0, 1, 2]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert_eq!(
        &check.stdout.lines().skip(2).collect::<Vec<_>>(),
        &expected[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let leaders: Vec<&str> = check.stdout.lines().skip(2).map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(
        leaders,
        ["leader-1", "leader-2", "leader-3", "leader-1", "leader-2", "leader-3"],
        "round-robin from height 1"
    );

    // Independent check of block 4: parse just enough by hand, zero the signature, hash per the
    // daemon's rules with sha3 directly, and verify with ed25519-dalek.
    let show = dualrun(&["chain", "show", "--chain", s(&_tmp.path().join("node/fake/lmdb")), "4"]);
    let v: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let blob = hex::decode(v["blob"].as_str().unwrap()).unwrap();
    let (id_from_chain, signer) = (v["block_id"].as_str().unwrap().to_owned(), "leader-1");
    let profile_text = std::fs::read_to_string(&net.profile).unwrap();
    let pk_hex = profile_text
        .split("[[leader.validators]]")
        .find(|s| s.contains(&format!("\"{signer}\"")))
        .and_then(|s| s.split("public_key = \"").nth(1))
        .map(|s| &s[..64])
        .unwrap();
    assert!(independent_signature_check(&blob, signer, pk_hex, "00112233445566778899aabbccddeeff"));
    // The same check fails for the wrong network id, and for a blob with one signature bit flipped.
    assert!(!independent_signature_check(&blob, signer, pk_hex, "ffeeddccbbaa99887766554433221100"));
    let mut flipped = blob.clone();
    let at = find_record(&blob).1 + 10;
    flipped[at] ^= 1;
    assert!(!independent_signature_check(&flipped, signer, pk_hex, "00112233445566778899aabbccddeeff"));
    assert_eq!(id_from_chain.len(), 64);
}

fn keccak(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// (header length, offset of the signature, end of the tx prefix) of a template-made coinbase block
/// with no transactions: header ‖ v2 coinbase (one output, extra = 01 pk 02 len record) ‖ 00 ‖ 00.
fn find_record(blob: &[u8]) -> (usize, usize, usize) {
    let mut p = 0;
    varint(blob, &mut p);
    varint(blob, &mut p);
    varint(blob, &mut p);
    p += 36;
    let header_len = p;
    assert_eq!(varint(blob, &mut p), 2, "tx version");
    varint(blob, &mut p); // unlock time
    assert_eq!(varint(blob, &mut p), 1, "one input");
    assert_eq!(blob[p], 0xff);
    p += 1;
    varint(blob, &mut p); // gen height
    let outs = varint(blob, &mut p);
    for _ in 0..outs {
        varint(blob, &mut p);
        let tag = blob[p];
        p += 1 + 32 + usize::from(tag == 3);
    }
    let extra_len = varint(blob, &mut p) as usize;
    let extra = &blob[p..p + extra_len];
    assert_eq!((extra[0], extra[33], extra[35]), (0x01, 0x02, 0xCA), "pubkey, nonce, record magic");
    let id_len = extra[36] as usize;
    (header_len, p + 37 + id_len, p + extra_len)
}

fn independent_signature_check(blob: &[u8], id: &str, pk_hex: &str, network_hex: &str) -> bool {
    let (header_len, sig_at, prefix_end) = find_record(blob);
    assert_eq!(&blob[sig_at - id.len()..sig_at], id.as_bytes());
    let signature: [u8; 64] = blob[sig_at..sig_at + 64].try_into().unwrap();
    let mut zeroed = blob.to_vec();
    zeroed[sig_at..sig_at + 64].fill(0);
    assert_eq!(&zeroed[prefix_end..], &[0x00, 0x00], "RCTTypeNull, then no transactions");
    let prefix_hash = keccak(&zeroed[header_len..prefix_end]);
    let miner_tx_hash = keccak(&[&prefix_hash[..], &keccak(&[0u8]), &[0u8; 32]].concat());
    let hashing_blob = [&zeroed[..header_len], &miner_tx_hash[..], &[1u8]].concat();
    assert!(hashing_blob.len() < 128);
    let signing_hash = keccak(&[&[hashing_blob.len() as u8][..], &hashing_blob].concat());
    let message = [&b"dualrun/leader/v1"[..], &hex::decode(network_hex).unwrap(), &signing_hash].concat();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(pk_hex).unwrap().try_into().unwrap()).unwrap();
    key.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&signature)).is_ok()
}

#[test]
fn failover_lets_a_later_validator_sign_and_the_blocks_are_accepted() {
    // Only leader-1's key with failover 1 s: heights scheduled for leader-2 or leader-3 wait until the
    // window reaches leader-1, as the protocol allows.
    let (check, expected, _tmp, _net) = produce_and_check(3, &[], 1, &[0]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert_eq!(
        &check.stdout.lines().skip(2).collect::<Vec<_>>(),
        &expected[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(check.stdout.lines().skip(2).all(|l| l.ends_with(",accept,,leader-1")), "{}", check.stdout);
}

#[test]
fn producer_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(tmp.path(), "round-robin", 1, 0);
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let r = dualrun(&[
        "leader",
        "produce",
        "--daemon",
        &url,
        "--profile",
        s(&net.profile),
        "--key",
        s(&net.keys[0]),
        "--blocks",
        "1",
        "--wait-seconds",
        "1",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("waiting for the daemon") && r.stderr.contains("cannot reach the daemon"),
        "{}",
        r.stderr
    );

    // A key that is not in the profile.
    let stranger = tmp.path().join("stranger.key");
    assert_eq!(dualrun(&["keygen", "--id", "leader-9", "--out", s(&stranger)]).code, 0);
    let r = dualrun(&[
        "leader",
        "produce",
        "--daemon",
        &url,
        "--profile",
        s(&net.profile),
        "--key",
        s(&stranger),
        "--blocks",
        "1",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("key id \"leader-9\" is not a validator"), "{}", r.stderr);

    // The scheduled validator's key is missing and failover is off.
    let mut daemon = Monerod::start(&tmp.path().join("node"));
    daemon.wait_ready();
    let r = dualrun(&[
        "leader",
        "produce",
        "--daemon",
        &daemon.rpc_url,
        "--profile",
        s(&net.profile),
        "--key",
        s(&net.keys[1]),
        "--blocks",
        "2",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("height 1 is scheduled for \"leader-1\", and no --key for it was given"), "{}", r.stderr);

    // A profile for another chain.
    let other = tmp.path().join("other.toml");
    let text = std::fs::read_to_string(&net.profile).unwrap().replace("418015bb", "518015bb");
    std::fs::write(&other, text).unwrap();
    let r = dualrun(&[
        "leader",
        "produce",
        "--daemon",
        &daemon.rpc_url,
        "--profile",
        s(&other),
        "--key",
        s(&net.keys[0]),
        "--blocks",
        "1",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("this profile is for another chain"), "{}", r.stderr);
    daemon.stop();
    let r = dualrun(&["leader", "check", "--chain", s(&daemon.lmdb()), "--profile", s(&other)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("this profile is for another chain"), "{}", r.stderr);
}

/// `leader produce`'s renamed outputs: `--votes` and `--record` still write what `--votes-out` and
/// `--expected` write, each with a warning on stderr.
#[test]
fn produce_still_takes_its_old_output_spellings() {
    let tmp = tempfile::tempdir().unwrap();
    let net = finality_network(tmp.path());
    let mut daemon = Monerod::start(&tmp.path().join("node"));
    daemon.wait_ready();
    let (votes, record) = (tmp.path().join("votes.jsonl"), tmp.path().join("expected.csv"));
    let mut args = vec!["leader", "produce", "--daemon", &daemon.rpc_url, "--profile", s(&net.profile)];
    args.extend(["--blocks", "3", "--votes", s(&votes), "--record", s(&record)]);
    for k in &net.keys {
        args.extend(["--key", s(k)]);
    }
    let r = dualrun(&args);
    daemon.stop();
    assert_eq!(r.code, 0, "leader produce failed: {}", r.stderr);
    for (old, new) in [("--votes", "--votes-out"), ("--record", "--expected")] {
        let warning =
            format!("dualrun: warning: {old} is deprecated; use {new} (it will be removed in the next release)");
        assert!(r.stderr.contains(&warning), "{}", r.stderr);
    }
    assert_eq!(std::fs::read_to_string(&votes).unwrap().lines().count(), 3 * 3, "three votes for each block");
    let expected = read_csv(&record);
    assert_eq!(expected[0], "height,block_id,verdict,reason,leader_id");
    assert_eq!(expected.len(), 1 + 3);
}
