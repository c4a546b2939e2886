//! Profiles: every problem named with its field; the hash schedule's worked example.

use std::path::Path;

use dualrun_leader::{schedule, Profile, ProfileError};
use dualrun_network::NetworkError;

const KEY1: &str = "2ed5d042105b693755cfdb6b698933e0fd1d58c9b69f005a3da20b7667ce7320";
const KEY2: &str = "b003877ef46be4755f9e35344659e97b674b4427da968ec2c82da83401bd6440";
const KEY3: &str = "4e778dcf5d528b662312c33a0ab729eb016d9c2ba2085ec14be72f32f0de4d57";

fn profile(network_id: &str, schedule: &str, validators: &[(&str, &str)]) -> String {
    let mut s = format!(
        "[network]\nname = \"t\"\nnetwork_id = \"{network_id}\"\n\
         genesis_id = \"418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3\"\n\
         [leader]\nactivation_height = 1\nschedule = \"{schedule}\"\n"
    );
    for (id, key) in validators {
        s.push_str(&format!("[[leader.validators]]\nid = \"{id}\"\npublic_key = \"{key}\"\n"));
    }
    s
}

const NET: &str = "00112233445566778899aabbccddeeff";

fn err(text: &str) -> String {
    Profile::parse(text.as_bytes(), Path::new("p.toml")).unwrap_err().to_string()
}

fn parse(text: &str) -> Profile {
    Profile::parse(text.as_bytes(), Path::new("p.toml")).unwrap()
}

#[test]
fn a_good_profile_parses() {
    let p = parse(&profile(NET, "round-robin", &[("a", KEY1), ("b", KEY2)]));
    assert_eq!(p.validators.len(), 2);
    assert_eq!(p.validator_index("b"), Some(1));
}

#[test]
fn each_problem_names_its_field() {
    assert_eq!(
        err(&profile("0011", "fixed", &[("a", KEY1)])),
        "p.toml: network.network_id: 2 bytes, expected 16 (32 hex characters)"
    );
    assert!(err(&profile("zz112233445566778899aabbccddeeff", "fixed", &[("a", KEY1)]))
        .starts_with("p.toml: network.network_id: not hex"));
    assert!(err(&profile(NET, "lottery", &[("a", KEY1)])).contains("leader.schedule: unknown schedule \"lottery\""));
    assert!(err(&profile(NET, "fixed", &[])).contains("leader.validators: no validators"));
    assert!(err(&profile(NET, "fixed", &[("a", KEY1), ("a", KEY2)]))
        .contains("leader.validators[1].id: duplicate id \"a\" (also validators[0])"));
    let long = "x".repeat(33);
    assert!(err(&profile(NET, "fixed", &[(&long, KEY1)]))
        .contains("leader.validators[0].id: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": id is 33 bytes; it must be 1..=32"));
    assert!(err(&profile(NET, "fixed", &[("l\u{e9}ader", KEY1)])).contains("allowed are A-Z a-z 0-9 . _ -"));
    assert!(err(&profile(NET, "fixed", &[("a", &KEY1[..62])]))
        .contains("leader.validators[0].public_key: 31 bytes, expected 32"));
    assert!(err(&profile(NET, "fixed", &[("a", KEY1), ("b", KEY1)]))
        .contains("leader.validators[1].public_key: the same key as validators[0]"));
    // The identity point is a valid encoding but a small-order key.
    let identity = format!("01{}", "00".repeat(31));
    assert!(err(&profile(NET, "fixed", &[("a", &identity)])).contains("small-order (weak)"));
    assert!(err(&profile(NET, "fixed", &[("a", KEY1)]).replace("activation_height = 1", "activation_height = 0"))
        .contains("leader.activation_height: must be at least 1"));
    assert!(err("[network]\nname=1").contains("p.toml: not valid profile TOML"));
    assert!(err(&profile(NET, "fixed", &[("a", KEY1)]).replace("[leader]", "[leader]\nfailover = 3"))
        .contains("unknown field `failover`"));
}

#[test]
fn genesis_mismatch_names_both_ids() {
    let p = parse(&profile(NET, "fixed", &[("a", KEY1)]));
    let other = "557393c3e80695e94603e92b4dbf7a2b974c16cf12d1b470d2882916cbfee468".parse().unwrap();
    let e = p.check_genesis(&other).unwrap_err();
    assert!(matches!(e, ProfileError::Network(NetworkError::GenesisMismatch { .. })));
    assert!(e.to_string().contains("the chain's block 0 is 557393c3"), "{e}");
}

#[test]
fn schedules_worked_examples() {
    // hash: i(h) = u64le(Keccak-256(u64le(h) ‖ 01 'a' ‖ 01 'b' ‖ 01 'c')[..8]) mod 3, computed here by hand.
    let p = parse(&profile(NET, "hash", &[("a", KEY1), ("b", KEY2), ("c", KEY3)]));
    use sha3::{Digest, Keccak256};
    for h in [1u64, 2, 3, 100, 123_456] {
        let mut input = h.to_le_bytes().to_vec();
        input.extend_from_slice(&[1, b'a', 1, b'b', 1, b'c']);
        let d = Keccak256::digest(&input);
        let expected = (u64::from_le_bytes(d[..8].try_into().unwrap()) % 3) as usize;
        assert_eq!(schedule::scheduled_index(&p, h), expected, "height {h}");
    }
    // Round-robin counts from the activation height; failover widens the window by ⌊Δ/F⌋, capped at n−1.
    let mut rr = parse(&profile(NET, "round-robin", &[("a", KEY1), ("b", KEY2), ("c", KEY3)]));
    assert_eq!((1..=4).map(|h| schedule::scheduled_index(&rr, h)).collect::<Vec<_>>(), [0, 1, 2, 0]);
    rr.failover_seconds = 30;
    let ids = |a: schedule::Allowed| a.indexes().collect::<Vec<_>>();
    assert_eq!(ids(schedule::allowed(&rr, 2, 1029, 1000)), [1]);
    assert_eq!(ids(schedule::allowed(&rr, 2, 1030, 1000)), [1, 2]);
    assert_eq!(ids(schedule::allowed(&rr, 2, 9999, 1000)), [1, 2, 0]);
    assert_eq!(ids(schedule::allowed(&rr, 2, 900, 1000)), [1], "a timestamp before its parent: Δ = 0");
    let fixed = parse(&profile(NET, "fixed", &[("a", KEY1), ("b", KEY2), ("c", KEY3)]));
    assert_eq!((1..=4).map(|h| schedule::scheduled_index(&fixed, h)).collect::<Vec<_>>(), [0, 0, 0, 0]);
}

#[test]
fn the_protocol_documents_hash_example() {
    // docs/leader-protocol-v1.md, section 4: ids leader-1..3, height 10 → index 1.
    let p = parse(&profile(NET, "hash", &[("leader-1", KEY1), ("leader-2", KEY2), ("leader-3", KEY3)]));
    assert_eq!(schedule::scheduled_index(&p, 10), 1);
}
