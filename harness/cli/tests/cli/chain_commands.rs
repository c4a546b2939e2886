//! The normative `chain` and `block` commands on the bundled monerod sample chain, real mainnet blobs
//! and synthetic chains: outputs, columns and exit codes (0 clean, 1 finding, 2 could not run).

use crate::common::*;
use sha3::{Digest, Keccak256};

const SCAN_HEADER: &str =
    "height,block_id,prev_id,timestamp,major_version,minor_version,nonce,tx_count,miner_tx_hash,blob_bytes";

fn expected_csv() -> String {
    std::fs::read_to_string(sample_dir().join("expected.csv")).unwrap()
}

#[test]
fn scan_of_the_sample_equals_monerods_recorded_answers() {
    let r = dualrun(&["chain", "scan"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().next(), Some(SCAN_HEADER));
    assert_eq!(r.stdout, expected_csv());

    let tmp = sample_copy();
    let r = dualrun(&["chain", "scan", "--chain", s(tmp.path()), "--from", "100", "--to", "110"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = expected_csv();
    let expected: Vec<&str> = csv.lines().skip(101).take(11).collect();
    assert_eq!(r.stdout.lines().skip(1).collect::<Vec<_>>(), expected);
}

#[test]
fn info_json_fields_and_digest() {
    let r = dualrun(&["chain", "info", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let csv = expected_csv();
    let ids: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(v["schema_version"], 5);
    assert_eq!(v["blocks"], ids.len());
    assert_eq!(v["genesis_id"], "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3");
    assert_eq!(v["tip_height"], ids.len() - 1);
    assert_eq!(v["tip_id"], *ids.last().unwrap());
    // The chain digest: Keccak-256 over the concatenated ids, computed here independently.
    let mut k = Keccak256::new();
    for id in &ids {
        k.update(hex::decode(id).unwrap());
    }
    assert_eq!(v["chain_digest"], hex::encode(k.finalize()));
}

#[test]
fn show_reports_extra_fields_and_where_parsing_stopped() {
    let jsonl = std::fs::read_to_string(sample_dir().join("blocks.jsonl")).unwrap();
    let unknown_tag_height = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|o| o["payload"].as_str().unwrap_or("").starts_with("unknown-tag 0x09"))
        .expect("the sample has a block with an unknown extra tag")["height"]
        .as_u64()
        .unwrap();
    let r = dualrun(&["chain", "show", &unknown_tag_height.to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let csv = expected_csv();
    let row = csv.lines().nth(unknown_tag_height as usize + 1).unwrap();
    assert_eq!(v["block_id"], row.split(',').nth(1).unwrap());
    let extra = &v["miner_tx"]["extra"];
    assert_eq!(extra["fields"][0]["kind"], "pub_key");
    assert_eq!(extra["fields"].as_array().unwrap().len(), 1);
    assert_eq!(extra["unparsed"]["offset"], 33);
    assert_eq!(extra["unparsed"]["reason"], "unknown tag 0x09");
    assert!(extra["unparsed"]["bytes"].as_str().unwrap().starts_with("09"));
    assert_eq!(v["miner_tx"]["inputs"][0]["height"], unknown_tag_height);
    // The hashing blob hashes (with its length prefix) to the id.
    let blob = hex::decode(v["hashing_blob"].as_str().unwrap()).unwrap();
    let mut prefixed = vec![blob.len() as u8];
    prefixed.extend(&blob);
    assert_eq!(hex::encode(Keccak256::digest(&prefixed)), v["block_id"].as_str().unwrap());
}

#[test]
fn block_id_of_real_mainnet_blobs_binary_and_hex() {
    let dir = shared_vectors();
    if !dir.exists() {
        eprintln!("NOTE: {} not present; shared vectors not checked", dir.display());
        return;
    }
    let id = "43bd1f2b6556dcafa413d8372974af59e4e8f37dbf74dc6b2a9b7212d0577428";
    let file = dir.join(format!("{id}.bin"));
    let r = dualrun(&["block", "id", s(&file)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{id} e49b854c5f339d7410a77f2a137281d8042a0ffc7ef9ab24cd670b67139b24cd\n"));
    let hex_text = format!("{}\n", hex::encode(std::fs::read(&file).unwrap()));
    let r = dualrun_stdin(&["block", "id", "-"], hex_text.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with(id));
    let big = "bbd604d2ba11ba27935e006ed39c9bfdd99b76bf4a50654bc1e1e61217962698";
    let r = dualrun(&["block", "id", s(&dir.join(format!("{big}.bin")))]);
    assert!(r.stdout.starts_with(big), "{}", r.stdout);
}

#[test]
fn block_id_of_a_bad_blob_names_the_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bad.bin");
    let mut blob = dualrun_format::encode::genesis_blob(10000);
    blob.push(7);
    std::fs::write(&f, &blob).unwrap();
    let r = dualrun(&["block", "id", s(&f)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.bin: block does not parse"), "{}", r.stderr);
    assert!(r.stderr.contains("1 trailing byte(s) after the block at byte offset 120"), "{}", r.stderr);
}

#[test]
fn checkpoints_verify_and_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let r = dualrun(&["chain", "checkpoints", "--every", "50"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "height,block_id,chain_digest");
    let heights: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(heights, ["0", "50", "100", "150", "200"]);
    let file = tmp.path().join("cp.csv");
    std::fs::write(&file, &r.stdout).unwrap();
    let r = dualrun(&["chain", "verify", "--checkpoints", s(&file)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Change the id at height 100: the first mismatch is named.
    let csv = expected_csv();
    let real_100 = csv.lines().nth(101).unwrap().split(',').nth(1).unwrap().to_owned();
    let tampered = std::fs::read_to_string(&file).unwrap().replace(&real_100, &"ab".repeat(32));
    std::fs::write(&file, tampered).unwrap();
    let r = dualrun(&["chain", "verify", "--checkpoints", s(&file)]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("first mismatch at height 100"), "{}", r.stdout);

    // A checkpoints file that is not CSV of checkpoints: exit 2 naming file and line.
    std::fs::write(&file, "height,block_id,chain_digest\n5,xyz,abc\n").unwrap();
    let r = dualrun(&["chain", "verify", "--checkpoints", s(&file)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cp.csv: line 2"), "{}", r.stderr);
}

#[test]
fn diff_identical_copies_and_a_different_chain() {
    let a = sample_copy();
    let b = sample_copy();
    let r = dualrun(&["chain", "diff", "--chain", s(a.path()), "--against", s(b.path())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("identical over heights 0..=200"), "{}", r.stdout);

    let tmp = tempfile::tempdir().unwrap();
    let synth = tmp.path().join("synth");
    let r = dualrun(&["chain", "synth", "--out", s(&synth), "--blocks", "300"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = dualrun(&["chain", "diff", "--chain", s(a.path()), "--against", s(&synth)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Both start from Monero's genesis; they part at height 1.
    assert!(r.stdout.starts_with("first difference at height 1:"), "{}", r.stdout);

    let r = dualrun(&["chain", "diff", "--chain", s(a.path()), "--against", s(a.path())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn could_not_run_errors_exit_2_and_name_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let r = dualrun(&["chain", "info", "--chain", s(&missing)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing: no such directory"), "{}", r.stderr);

    std::fs::write(tmp.path().join("data.mdb"), b"not lmdb at all").unwrap();
    let r = dualrun(&["chain", "scan", "--chain", s(tmp.path())]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("data.mdb: not an LMDB database"), "{}", r.stderr);

    let r = dualrun(&["chain", "scan", "--from", "999"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("height 999 is beyond the tip"), "{}", r.stderr);

    let r = dualrun(&["chain", "show", "5000"]);
    assert_eq!(r.code, 2);
}

#[test]
fn synthetic_chains_scan_cleanly_in_both_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    for schema in ["5", "3"] {
        let dir = tmp.path().join(format!("v{schema}"));
        let r = dualrun(&["chain", "synth", "--out", s(&dir), "--blocks", "1000", "--schema", schema]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = dualrun(&["chain", "info", "--chain", s(&dir), "--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["schema_version"].to_string(), schema);
        assert_eq!(v["blocks"], 1000);
        assert_eq!(v["id_mismatches"], 0);
        let r = dualrun(&["chain", "scan", "--chain", s(&dir)]);
        assert_eq!(r.stdout.lines().count(), 1001);
        // Every row links to the row before it.
        let rows: Vec<Vec<&str>> = r.stdout.lines().skip(1).map(|l| l.split(',').collect()).collect();
        for w in rows.windows(2) {
            assert_eq!(w[1][2], w[0][1]);
        }
    }
    // Refuses to write over an existing chain.
    let r = dualrun(&["chain", "synth", "--out", s(&tmp.path().join("v5")), "--blocks", "10"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("refusing to write into an existing non-empty directory"), "{}", r.stderr);
}

/// A half-copied `data.mdb` (an interrupted cp, a full disk) is refused before it is mapped: exit 2
/// naming the file, its length and the length its meta page needs — never a SIGBUS.
#[test]
fn a_truncated_database_is_refused_with_its_lengths_not_a_bus_error() {
    let full = std::fs::metadata(sample_dir().join("data.mdb")).unwrap().len();
    // The sample's last used page ends exactly at its end: cutting one byte cuts inside that page.
    for (what, length) in
        [("half", full / 2), ("one page", 4096), ("zero bytes", 0), ("inside the last page", full - 1)]
    {
        let tmp = sample_copy();
        let data = tmp.path().join("data.mdb");
        std::fs::OpenOptions::new().write(true).open(&data).unwrap().set_len(length).unwrap();
        let profile = sample_dir().join("profile.toml");
        let out = tmp.path().join("run");
        for args in [
            vec!["chain", "info", "--chain", s(tmp.path())],
            vec!["chain", "scan", "--chain", s(tmp.path())],
            vec!["replay", "--chain", s(tmp.path()), "--profile", s(&profile), "--out", s(&out)],
        ] {
            let r = dualrun(&args);
            assert_eq!(r.code, 2, "{what}: {args:?}: {}{}", r.stdout, r.stderr);
            assert!(
                r.stderr.contains(s(&data))
                    && r.stderr.contains("truncated")
                    && r.stderr.contains(&format!("is {length} bytes")),
                "{what}: {args:?}: {}",
                r.stderr
            );
        }
        assert_eq!(std::fs::metadata(&data).unwrap().len(), length, "{what}: the source is not written to");
    }
}

/// Output that cannot be written: a closed pipe ends quietly (exit 0), a full device is exit 2 with a
/// message — never a panic.
#[test]
fn closed_and_full_stdout_are_not_panics() {
    let exe = env!("CARGO_BIN_EXE_dualrun");
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k.key");
    let ledger = tmp.path().join("ledger.jsonl");
    let commands: Vec<Vec<String>> = vec![
        vec!["chain".into(), "scan".into()],
        vec!["chain".into(), "show".into(), "70".into()],
        vec!["chain".into(), "info".into()],
        vec!["chain".into(), "checkpoints".into(), "--every".into(), "10".into()],
        vec!["leader".into(), "check".into()],
        vec!["keygen".into(), "--id".into(), "ops".into(), "--out".into(), s(&key).into()],
        vec![
            "gate".into(),
            "init".into(),
            "--ledger".into(),
            s(&ledger).into(),
            "--key".into(),
            s(&key).into(),
            "--operator".into(),
            "ops".into(),
        ],
        vec!["gate".into(), "status".into(), "--ledger".into(), s(&ledger).into()],
    ];
    for args in &commands {
        let full = std::process::Command::new(exe)
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&full.stderr);
        assert_eq!(full.status.code(), Some(2), "{args:?} > /dev/full: {stderr}");
        assert!(stderr.contains("No space left on device") && !stderr.contains("panicked"), "{args:?}: {stderr}");
        if args[0] == "keygen" {
            std::fs::remove_file(&key).unwrap();
            assert_eq!(dualrun(&["keygen", "--id", "ops", "--out", s(&key)]).code, 0);
        }
        if args[1] == "init" {
            std::fs::remove_file(&ledger).unwrap();
            assert_eq!(
                dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&key), "--operator", "ops"]).code,
                0
            );
        }
        // A reader that takes one byte and goes away.
        let mut child = std::process::Command::new(exe)
            .args(args.iter().filter(|a| !["init", "keygen"].contains(&a.as_str())).collect::<Vec<_>>())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut one = [0u8; 1];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut one).ok();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} | head -c1: {stderr}");
    }
}

/// `block id` reads at most what a blob can be, and hex input that is not hex says where.
#[test]
fn block_id_input_is_bounded_and_hex_errors_name_the_byte() {
    let r = dualrun(&["block", "id", "/dev/zero"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/dev/zero: more than") && r.stderr.contains("a block blob is at most"), "{}", r.stderr);
    let r = dualrun_stdin(&["block", "id"], b"  0a0\n");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid hex at byte 5: an odd number of hex digits (3)"), "{}", r.stderr);
    let r = dualrun_stdin(&["block", "id"], b"0a0g");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid hex at byte 3 ('g')"), "{}", r.stderr);
}

/// One bit flipped in the id `block_info` stores for height 100: every command that reads ids says so,
/// naming the height, and exits 1; a replay records it as an input finding (not a verifier divergence).
#[test]
fn a_stored_id_that_is_not_the_computed_one_is_a_finding_everywhere() {
    let tmp = sample_copy();
    let data = tmp.path().join("data.mdb");
    let scan = dualrun(&["chain", "scan", "--chain", s(tmp.path()), "--from", "100", "--to", "100"]);
    let id = hex::decode(scan.stdout.lines().nth(1).unwrap().split(',').nth(1).unwrap()).unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    // block_info (schema 5): height u64 at 0 … hash at 48; the stored id right after its height record.
    let at = (48..bytes.len() - 32)
        .find(|&p| bytes[p..p + 32] == id[..] && bytes[p - 48..p - 40] == 100u64.to_le_bytes())
        .expect("the block_info record of height 100");
    bytes[at] ^= 1;
    std::fs::write(&data, &bytes).unwrap();

    let r = dualrun(&["chain", "info", "--chain", s(tmp.path())]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("table block_info, height 100: stored id"), "{}", r.stderr);

    let checkpoints = tmp.path().join("cp.csv");
    std::fs::write(&checkpoints, dualrun(&["chain", "checkpoints", "--every", "50"]).stdout).unwrap();
    let r = dualrun(&["chain", "verify", "--chain", s(tmp.path()), "--checkpoints", s(&checkpoints)]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("compared: the computed block ids") && r.stdout.contains("1 stored ids differ"),
        "{}",
        r.stdout
    );

    let r = dualrun(&["chain", "diff", "--chain", s(tmp.path()), "--against", s(&sample_dir())]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("identical over heights 0..=200") && r.stdout.contains("1 stored ids differ"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("height 100: stored id"), "{}", r.stderr);

    let out = tmp.path().join("run");
    let profile = sample_dir().join("profile.toml");
    let r = dualrun(&["replay", "--chain", s(tmp.path()), "--profile", s(&profile), "--out", s(&out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("halt 10, stored_id_mismatch 1"), "{}", r.stdout);
    let records = std::fs::read_to_string(out.join("divergences.jsonl")).unwrap();
    let finding: serde_json::Value = records
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["class"] == "stored_id_mismatch")
        .unwrap();
    assert_eq!(finding["height"], 100);
    assert_eq!(finding["block_id"], hex::encode(&id));
    let mut flipped = id.clone();
    flipped[0] ^= 1;
    assert_eq!(finding["stored_id"], hex::encode(&flipped));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["inputs"]["stored_id_mismatch"], 1);
}

/// Progress written to a log or CI output (stderr not a terminal) is whole lines: no carriage returns
/// from `chain synth`, `replay` or `leader check`.
#[test]
fn progress_that_is_not_on_a_terminal_is_whole_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let chain = tmp.path().join("chain");
    let runs = [
        dualrun(&["chain", "synth", "--out", s(&chain), "--blocks", "3000"]),
        dualrun(&["replay", "--out", s(&tmp.path().join("run"))]),
        dualrun(&["leader", "check"]),
    ];
    for (i, r) in runs.iter().enumerate() {
        assert!(r.code == 0 || r.code == 1, "command {i}: {}", r.stderr);
        assert!(
            !r.stderr.contains('\r') && !r.stdout.contains('\r'),
            "command {i} wrote a carriage return: {:?}",
            r.stderr
        );
    }
}
