//! `leader finality` on the bundled sample chain with votes made for it: every block final with three
//! valid votes, and each kind of fault at its own height giving exactly its rows — a block without a
//! quorum, a bad signature, an unknown validator, an equivocation (with both votes written out) and a
//! conflicting quorum for a block that is not the main chain's.

use std::path::{Path, PathBuf};

use crate::common::{assert_json_rows_are_the_csv, dualrun, s, sample_dir};
use dualrun_format::Hash32;
use dualrun_keys::KeyFile;
use dualrun_leader::finality::{sign_vote, Vote};
use dualrun_leader::Profile;

/// The sample profile with `[leader.finality]`: 2 of 3 validators, from the leader activation height.
fn profile(dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(sample_dir().join("profile.toml")).unwrap();
    text.push_str("\n[leader.finality]\nquorum = \"2/3\"\nactivation_height = 61\n");
    let path = dir.join("profile.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn keys() -> Vec<KeyFile> {
    (1..=3).map(|i| KeyFile::read(&sample_dir().join(format!("keys/throwaway-test-leader-{i}.key"))).unwrap()).collect()
}

fn main_ids() -> Vec<(u64, Hash32)> {
    let db = dualrun_chaindb::ChainDb::open(&sample_dir()).unwrap();
    let mut ids = Vec::new();
    dualrun_chaindb::compare::walk(
        &db,
        61,
        200,
        |_| {},
        |b| {
            ids.push((b.height, b.block_id));
            Ok::<(), std::convert::Infallible>(())
        },
    )
    .unwrap();
    ids
}

fn write_votes(path: &Path, votes: &[Vote]) {
    let lines: Vec<String> = votes.iter().map(|v| serde_json::to_string(v).unwrap()).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn finality(profile: &Path, votes: &Path, extra: &[&str]) -> crate::common::Run {
    let chain = sample_dir();
    let args = ["leader", "finality", "--chain", s(&chain), "--profile", s(profile), "--votes", s(votes)];
    dualrun(&[&args[..], extra, &[]].concat())
}

#[test]
fn every_fault_gives_exactly_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let profile_path = profile(tmp.path());
    let network_id = Profile::load(&profile_path).unwrap().network_id;
    let keys = keys();
    let other = Hash32([7; 32]);
    let mut votes = Vec::new();
    for (h, id) in main_ids() {
        let voters: &[usize] = if h == 70 { &[0] } else { &[0, 1, 2] };
        for &k in voters {
            let target = if h == 110 { other } else { id };
            votes.push(sign_vote(&keys[k].signing_key, &keys[k].id, &network_id, h, target));
        }
        match h {
            80 => {
                let mut bad = sign_vote(&keys[1].signing_key, &keys[1].id, &network_id, h, id);
                bad.signature =
                    format!("{}{}", &bad.signature[..126], if bad.signature.ends_with('0') { "01" } else { "00" });
                votes.push(bad);
            }
            90 => {
                let mallory = KeyFile::generate("mallory").unwrap();
                votes.push(sign_vote(&mallory.signing_key, "mallory", &network_id, h, id));
            }
            100 => votes.push(sign_vote(&keys[2].signing_key, &keys[2].id, &network_id, h, other)),
            _ => {}
        }
    }
    let path = tmp.path().join("votes.jsonl");
    write_votes(&path, &votes);
    let equivocations = tmp.path().join("equivocations.jsonl");
    let r = finality(&profile_path, &path, &["--equivocations", s(&equivocations)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some("height,block_id,votes,required,finality,reason,finding"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert_eq!(rows.iter().filter(|r| r[6].is_empty()).count(), 140, "one row per block 61..=200");
    // A finding's row: the finality of the block its vote names (by the valid votes for it), and the
    // finding in a column of its own.
    let odd: Vec<[&str; 6]> = rows
        .iter()
        .filter(|r| r[4] != "final" || !r[6].is_empty())
        .map(|r| [&r[0], &r[2], &r[3], &r[4], &r[5], &r[6]].map(String::as_str))
        .collect();
    assert_eq!(
        odd,
        [
            ["70", "1", "2", "not_final", "finality.missing", ""],
            ["80", "3", "2", "final", "", "finality.bad_signature"],
            ["90", "3", "2", "final", "", "finality.unknown_validator"],
            ["100", "1", "2", "not_final", "finality.missing", "finality.equivocation"],
            ["110", "0", "2", "not_final", "finality.missing", ""],
            ["110", "3", "2", "final", "", "finality.conflict"],
        ]
    );
    let other_hex = other.to_string();
    assert!(rows.iter().any(|r| r[0] == "110" && r[6] == "finality.conflict" && r[1] == other_hex));
    let json = finality(&profile_path, &path, &["--format", "json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    assert_json_rows_are_the_csv(&r.stdout, &json.stdout);
    assert!(r.stderr.contains("\"mallory\" is not a validator"), "{}", r.stderr);
    let ev = std::fs::read_to_string(&equivocations).unwrap();
    let e: serde_json::Value = serde_json::from_str(ev.lines().next().unwrap()).unwrap();
    assert_eq!((ev.lines().count(), e["height"].as_u64(), e["validator"].as_str()), (1, Some(100), Some("leader-3")));
    assert_eq!(e["votes"].as_array().unwrap().len(), 2);
    assert_eq!(e["votes"][1]["block_id"], other_hex);

    // All final, no finding: exit 0.
    let clean: Vec<Vote> = main_ids()
        .into_iter()
        .flat_map(|(h, id)| keys.iter().map(move |k| (h, id, k)))
        .map(|(h, id, k)| sign_vote(&k.signing_key, &k.id, &network_id, h, id))
        .collect();
    write_votes(&path, &clean);
    let r = finality(&profile_path, &path, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().count(), 141);
}

#[test]
fn a_malformed_votes_line_or_a_profile_without_finality_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    let profile_path = profile(tmp.path());
    let votes = tmp.path().join("votes.jsonl");
    std::fs::write(
        &votes,
        "\n{\"height\": 61, \"block_id\": \"00\", \"validator\": \"leader-1\", \"signature\": \"\"}\n",
    )
    .unwrap();
    let r = finality(&profile_path, &votes, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{}: line 2", votes.display())), "{}", r.stderr);

    std::fs::write(&votes, "").unwrap();
    let r = finality(&sample_dir().join("profile.toml"), &votes, &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no [leader.finality]"), "{}", r.stderr);

    let low = tmp.path().join("low.toml");
    let text =
        std::fs::read_to_string(&profile_path).unwrap().replace("activation_height = 61\n", "activation_height = 5\n");
    std::fs::write(&low, text.replacen("activation_height = 5\n", "activation_height = 61\n", 1)).unwrap();
    let r = finality(&low, &votes, &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("leader.finality.activation_height"), "{}", r.stderr);
}
