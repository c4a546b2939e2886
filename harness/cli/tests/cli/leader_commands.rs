//! `keygen` and `leader check` on the bundled migration sample.

use std::os::unix::fs::PermissionsExt;

use crate::common::*;

#[test]
fn leader_check_of_the_sample_equals_the_producers_expected_verdicts() {
    let r = dualrun(&["leader", "check"]);
    assert_eq!(r.code, 1, "the sample has injected faults: {}", r.stderr);
    let expected = std::fs::read_to_string(sample_dir().join("leader-expected.csv")).unwrap();
    assert_eq!(r.stdout, expected);
    let reasons: std::collections::BTreeMap<&str, usize> =
        expected.lines().skip(1).filter_map(|l| l.split(',').nth(3)).filter(|r| !r.is_empty()).fold(
            Default::default(),
            |mut m, r| {
                *m.entry(r).or_default() += 1;
                m
            },
        );
    for code in ["leader.missing", "leader.unknown", "leader.not_scheduled", "leader.bad_signature", "leader.malformed"]
    {
        assert_eq!(reasons.get(code), Some(&2), "two {code} faults in the sample: {reasons:?}");
    }

    // A sub-range gets the same rows (the context before --from is rebuilt from the chain).
    let r = dualrun(&["leader", "check", "--from", "95", "--to", "120"]);
    let expected_rows: Vec<&str> = expected.lines().skip(96).take(26).collect();
    assert_eq!(r.stdout.lines().skip(1).collect::<Vec<_>>(), expected_rows);

    // One worker thread or many: the same output.
    let r1 = dualrun(&["leader", "check", "--threads", "1"]);
    assert_eq!(r1.stdout, expected);
}

#[test]
fn a_fixed_now_far_in_the_past_makes_blocks_from_the_future() {
    let r = dualrun(&["leader", "check", "--now", "fixed:1000", "--to", "3"]);
    assert_eq!(r.code, 1);
    let rows: Vec<&str> = r.stdout.lines().skip(1).collect();
    assert!(rows[0].contains(",accept,"), "genesis has timestamp 0: {}", rows[0]);
    assert!(rows[1..].iter().all(|l| l.contains(",reject,block.timestamp_in_future,")), "{}", r.stdout);
    let r = dualrun(&["leader", "check", "--now", "yesterday"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("expected `block` or `fixed:UNIX_SECONDS`"), "{}", r.stderr);
}

#[test]
fn leader_check_needs_a_profile_for_another_chain() {
    let tmp = sample_copy();
    let r = dualrun(&["leader", "check", "--chain", s(tmp.path())]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--profile is required with --chain"), "{}", r.stderr);
}

#[test]
fn keygen_writes_a_private_key_file_once_and_prints_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("op.key");
    let r = dualrun(&["keygen", "--id", "operator-7", "--out", s(&file)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r.stdout.strip_suffix('\n').unwrap();
    assert!(!line.contains('\n'), "exactly one line");
    let (id, pk) = line.split_once(' ').unwrap();
    assert_eq!(id, "operator-7");
    assert_eq!(pk.len(), 64);
    assert!(pk.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    // The file's secret key signs for the printed public key.
    let text = std::fs::read_to_string(&file).unwrap();
    let secret = text.split("secret_key = \"").nth(1).unwrap()[..64].to_owned();
    let sk = ed25519_dalek::SigningKey::from_bytes(&hex::decode(secret).unwrap().try_into().unwrap());
    assert_eq!(hex::encode(sk.verifying_key().as_bytes()), pk);

    let before = std::fs::read(&file).unwrap();
    let r = dualrun(&["keygen", "--id", "operator-8", "--out", s(&file)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already exists; refusing to overwrite"), "{}", r.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), before, "the existing key is untouched");

    let r = dualrun(&["keygen", "--id", &"x".repeat(33), "--out", s(&tmp.path().join("long.key"))]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("id is 33 bytes"), "{}", r.stderr);
}

#[test]
fn synthetic_signed_chains_with_faults_get_their_expected_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let keys: Vec<String> =
        (1..=3).map(|i| s(&sample_dir().join(format!("keys/throwaway-test-leader-{i}.key"))).to_owned()).collect();
    let profile = sample_dir().join("profile.toml");
    let chain = tmp.path().join("chain");
    let record = tmp.path().join("expected.csv");
    let mut args = vec!["chain", "synth", "--out", s(&chain), "--blocks", "2500", "--profile", s(&profile)];
    for k in &keys {
        args.extend(["--key", k.as_str()]);
    }
    args.extend(["--fault", "70:missing", "--fault", "300:unknown", "--fault", "1024:not-scheduled"]);
    args.extend(["--fault", "2000:bad-signature", "--fault", "2499:malformed", "--expected", s(&record)]);
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = dualrun(&["leader", "check", "--chain", s(&chain), "--profile", s(&profile)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, std::fs::read_to_string(&record).unwrap());
    assert_eq!(r.stdout.lines().filter(|l| l.contains(",reject,")).count(), 5);

    // X-Cash layout (schema 3) signs the same way, on X-Cash's genesis.
    let xcash_profile = tmp.path().join("xcash.toml");
    std::fs::write(
        &xcash_profile,
        std::fs::read_to_string(&profile).unwrap().replace(
            "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3",
            "557393c3e80695e94603e92b4dbf7a2b974c16cf12d1b470d2882916cbfee468",
        ),
    )
    .unwrap();
    let xchain = tmp.path().join("xchain");
    let mut args =
        vec!["chain", "synth", "--out", s(&xchain), "--blocks", "300", "--schema", "3", "--profile", s(&xcash_profile)];
    for k in &keys {
        args.extend(["--key", k.as_str()]);
    }
    assert_eq!(dualrun(&args).code, 0);
    let r = dualrun(&["leader", "check", "--chain", s(&xchain), "--profile", s(&xcash_profile)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // The Monero-genesis profile refuses the X-Cash chain as a whole.
    let r = dualrun(&["leader", "check", "--chain", s(&xchain), "--profile", s(&profile)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("this profile is for another chain"), "{}", r.stderr);
    // A missing key is refused before anything is written.
    let r = dualrun(&[
        "chain",
        "synth",
        "--out",
        s(&tmp.path().join("x")),
        "--blocks",
        "10",
        "--profile",
        s(&profile),
        "--key",
        &keys[0],
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no --key for validator \"leader-2\""), "{}", r.stderr);
}
