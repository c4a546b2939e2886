//! What the command-line tests share: the `dualrun` binary under test, run with arguments (and input),
//! and a validator network made with its `keygen`; the rest comes from `dualrun_testkit`.
#![allow(dead_code, unused_imports, unreachable_pub)] // each test binary uses some of it

use std::path::{Path, PathBuf};

pub use dualrun_testkit::{repo, s, sample_copy, sample_dir, shared_vectors, shell_words, wait_exit, Monerod, Run};

/// The binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_dualrun"))
}

/// Runs `dualrun` with `args`.
pub fn dualrun(args: &[&str]) -> Run {
    dualrun_testkit::run(bin(), args)
}

/// Runs `dualrun` with `args` and `input` on its standard input.
pub fn dualrun_stdin(args: &[&str], input: &[u8]) -> Run {
    dualrun_testkit::run_with_stdin(bin(), args, input)
}

/// Three validators with fresh keys (made by `dualrun keygen`) and a profile for a regtest chain.
pub struct Network {
    pub profile: PathBuf,
    pub keys: Vec<PathBuf>,
}

pub fn network(dir: &Path, schedule: &str, activation: u64, failover: u64) -> Network {
    let mut keys = Vec::new();
    let mut validators = String::new();
    for i in 1..=3 {
        let key = dir.join(format!("leader-{i}.key"));
        let r = dualrun(&["keygen", "--id", &format!("leader-{i}"), "--out", s(&key)]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (id, pk) = r.stdout.trim_end().split_once(' ').unwrap();
        validators.push_str(&format!("\n[[leader.validators]]\nid = \"{id}\"\npublic_key = \"{pk}\"\n"));
        keys.push(key);
    }
    let profile = dir.join("profile.toml");
    std::fs::write(
        &profile,
        format!(
            "[network]\nname = \"test\"\nnetwork_id = \"00112233445566778899aabbccddeeff\"\n\
             genesis_id = \"418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3\"\n\n\
             [leader]\nactivation_height = {activation}\nschedule = \"{schedule}\"\nfailover_seconds = {failover}\n\
             min_interval_seconds = 0\n{validators}"
        ),
    )
    .unwrap();
    Network { profile, keys }
}

/// A round-robin [`network`] from height 1 (failover after 1 s) whose profile also has
/// `[leader.finality]`: 2 of the 3 validators, from height 1.
pub fn finality_network(dir: &Path) -> Network {
    let net = network(dir, "round-robin", 1, 1);
    let mut text = std::fs::read_to_string(&net.profile).unwrap();
    text.push_str("\n[leader.finality]\nquorum = \"2/3\"\nactivation_height = 1\n");
    std::fs::write(&net.profile, text).unwrap();
    net
}

/// Asserts that `json` (a command's `--format json`) holds `csv`'s rows (the same command's CSV), one
/// JSON object a line keyed by the CSV header's columns in order, the same values (an empty field is
/// `null` or `""`).
pub fn assert_json_rows_are_the_csv(csv: &str, json: &str) {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a CSV header").split(',').collect();
    let rows: Vec<&str> = lines.collect();
    let objects: Vec<&str> = json.lines().collect();
    assert_eq!(objects.len(), rows.len(), "a JSON line per CSV row:\n{csv}\n{json}");
    for (row, object) in rows.iter().zip(objects) {
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(object).unwrap_or_else(|e| panic!("not a JSON object ({e}): {object}"));
        assert_eq!(v.keys().map(String::as_str).collect::<Vec<_>>(), header, "{object}");
        let fields: Vec<String> = v
            .values()
            .map(|x| match x {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(&fields.join(","), row);
    }
}

/// `leader produce` of `blocks` blocks signed with `net`'s keys, submitted to the daemon at `daemon` (its
/// RPC URL), with `faults` (`HEIGHT:KIND`).
pub fn produce(daemon: &str, net: &Network, blocks: u64, faults: &[&str]) {
    let n = blocks.to_string();
    let mut args = vec!["leader", "produce", "--daemon", daemon, "--profile", s(&net.profile), "--blocks", &n];
    for k in &net.keys {
        args.extend(["--key", s(k)]);
    }
    for f in faults {
        args.extend(["--fault", f]);
    }
    let r = dualrun(&args);
    assert_eq!(r.code, 0, "leader produce: {}", r.stderr);
}

/// Held by each test whose daemon publishes ZMQ notices: they run one at a time, since notices were seen
/// lost when two such daemons and their subscribers ran side by side.
pub static ZMQ_PUBLISHER: std::sync::Mutex<()> = std::sync::Mutex::new(());
