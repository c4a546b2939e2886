//! Competing blocks and finality votes on a real monerod (regtest): `leader produce --compete` submits a
//! second block at chosen heights (the daemon keeps the first on its main chain and the other in its own
//! `alt_blocks`), with the committee's votes faulted at chosen heights; `leader forks` then lists exactly
//! those competitions and flags exactly the heights where the first-seen block is not the canonical one,
//! and `leader finality` gives exactly the planted rows.

use crate::common::*;

#[test]
fn competing_blocks_and_faulty_votes_on_a_real_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let net = finality_network(tmp.path());
    let mut daemon = Monerod::start(&tmp.path().join("node"));
    daemon.wait_ready();
    let votes = tmp.path().join("votes.jsonl");
    let mut args = vec!["leader", "produce", "--daemon", &daemon.rpc_url, "--profile", s(&net.profile)];
    args.extend(["--blocks", "12", "--votes-out", s(&votes)]);
    for k in &net.keys {
        args.extend(["--key", s(k)]);
    }
    args.extend(["--compete", "4:same-leader", "--compete", "7:failover"]);
    args.extend(["--fault", "5:vote-missing", "--fault", "8:vote-bad-sig", "--fault", "9:equivocation"]);
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "leader produce failed: {}", r.stderr);
    assert!(r.stderr.contains("height 4: kept") && r.stderr.contains("height 7: kept"), "{}", r.stderr);
    daemon.stop();
    let chain = daemon.lmdb();

    let info = dualrun(&["chain", "info", "--chain", s(&chain), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(v["alt_blocks"], 2, "the daemon keeps each competing block: {}", info.stdout);

    let forks = dualrun(&["leader", "forks", "--chain", s(&chain), "--profile", s(&net.profile)]);
    let rows: Vec<Vec<String>> =
        forks.stdout.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert_eq!(
        forks.stdout.lines().next(),
        Some("height,block_id,parent_id,main_chain,verdict,reason,rank,canonical,finding")
    );
    let at = |h: &str| rows.iter().filter(|r| r[0] == h && r[8].is_empty()).cloned().collect::<Vec<_>>();
    let heights: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(heights.into_iter().collect::<Vec<_>>(), ["4", "7"], "exactly the competitions: {}", forks.stdout);
    // Height 4: two blocks by the scheduled leader, both valid at rank 0: the lower id is canonical.
    let four = at("4");
    assert_eq!(four.len(), 2);
    assert!(four.iter().all(|r| r[4] == "accept" && r[6] == "0"), "{four:?}");
    let lower = four.iter().min_by_key(|r| r[1].clone()).unwrap();
    assert_eq!(lower[7], "true");
    let main_four = four.iter().find(|r| r[3] == "true").unwrap();
    // Height 7: the rank-1 validator's block came first and is the main chain's; the scheduled leader's
    // (rank 0) is canonical.
    let seven = at("7");
    let main_seven = seven.iter().find(|r| r[3] == "true").unwrap();
    let alt_seven = seven.iter().find(|r| r[3] == "false").unwrap();
    assert_eq!((main_seven[4].as_str(), main_seven[6].as_str(), main_seven[7].as_str()), ("accept", "1", "false"));
    assert_eq!((alt_seven[4].as_str(), alt_seven[6].as_str(), alt_seven[7].as_str()), ("accept", "0", "true"));
    let findings: Vec<&str> = rows.iter().filter(|r| r[8] == "fork.not_canonical").map(|r| r[0].as_str()).collect();
    assert!(rows.iter().all(|r| r[8].is_empty() || r[8] == "fork.not_canonical"), "{}", forks.stdout);
    let mut expected = Vec::new();
    if main_four[7] == "false" {
        expected.push("4");
    }
    expected.push("7");
    assert_eq!(findings, expected, "flagged exactly where the first-seen block is not canonical");
    assert_eq!(forks.code, 1);

    let fin =
        dualrun(&["leader", "finality", "--chain", s(&chain), "--profile", s(&net.profile), "--votes", s(&votes)]);
    assert_eq!(fin.code, 1, "{}", fin.stderr);
    assert_eq!(fin.stdout.lines().next(), Some("height,block_id,votes,required,finality,reason,finding"));
    let odd: Vec<(String, String, String)> = fin
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|r| r[4] != "final" || !r[6].is_empty())
        .map(|r| (r[0].clone(), r[4].clone(), r[6].clone()))
        .collect();
    let t = |h: &str, finality: &str, finding: &str| (h.to_owned(), finality.to_owned(), finding.to_owned());
    assert_eq!(
        odd,
        [
            t("5", "not_final", ""),
            t("8", "final", "finality.bad_signature"),
            t("9", "not_final", "finality.equivocation")
        ]
    );
    assert_eq!(fin.stdout.lines().count(), 1 + 12 + 2, "a row per block 1..=12 and the two findings");
}
