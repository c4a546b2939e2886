//! M-of-N operator approvals: a policy's `[quorum]` makes every promotion need approvals of its very
//! evaluation (`evaluation_digest`) by distinct listed operators since the last transition; outsiders,
//! other digests, repeats and stale approvals do not count; a ledger never loses its quorum; a key is
//! rotated only by the quorum; and `gate verify` proves every quorum from the ledger alone.

use std::path::{Path, PathBuf};

use crate::common::{dualrun, s, Run};
use dualrun_core::Mode;
use dualrun_gate::entry::{Action, Entry, QuorumRecord};
use dualrun_gate::ledger::{verify, Ledger, NewEntry};
use dualrun_leader::keys::KeyFile;
use serde_json::{json, Value};

struct Operator {
    key: PathBuf,
    public: String,
}

fn keygen(dir: &Path, id: &str) -> Operator {
    let key = dir.join(format!("{id}.key"));
    let r = dualrun(&["keygen", "--id", id, "--out", s(&key)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let public = r.stdout.split_whitespace().nth(1).expect("ID <public key>").to_owned();
    Operator { key, public }
}

/// A policy that lets legacy -> shadow -> primary through on no evidence, with a quorum of `m` of `ops`.
fn policy(dir: &Path, name: &str, m: usize, ops: &[&Operator]) -> PathBuf {
    let listed: Vec<String> = ops.iter().map(|o| format!("\"{}\"", o.public)).collect();
    let text = format!(
        "[to_shadow]\nrequire_golden = false\n\n[to_primary]\nmin_blocks = 0\nrequire_golden = false\n\n\
         [quorum]\napprovals = {m}\noperators = [{}]\n",
        listed.join(", ")
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn evaluation_digest(ledger: &Path, policy: &Path) -> String {
    let r = dualrun(&["gate", "evaluate", "--ledger", s(ledger), "--policy", s(policy), "--json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", r.stdout, r.stderr));
    assert!(v["outcome"].is_string(), "{}", r.stdout);
    let d = v["evaluation_digest"].as_str().expect("evaluate --json names the evaluation_digest").to_owned();
    assert_eq!(d.len(), 64);
    d
}

fn approve(ledger: &Path, op: &Operator, to: &str, digest: &str) -> Run {
    let args =
        ["gate", "approve", "--ledger", s(ledger), "--key", s(&op.key), "--to", to, "--evaluation-digest", digest];
    dualrun(&args)
}

fn promote(ledger: &Path, policy: &Path, op: &Operator) -> Run {
    let args = ["--ledger", s(ledger), "--policy", s(policy), "--key", s(&op.key), "--reason", "on approvals"];
    dualrun(&[&["gate", "promote"][..], &args].concat())
}

/// A promotion past an evaluation that does not pass (shadow -> primary on no evidence is inconclusive):
/// forcing it is recorded as an override, and does not skip the quorum.
fn force(ledger: &Path, policy: &Path, op: &Operator) -> Run {
    let args = ["--ledger", s(ledger), "--policy", s(policy), "--key", s(&op.key), "--reason", "drill", "--force"];
    dualrun(&[&["gate", "promote"][..], &args].concat())
}

fn entries(ledger: &Path) -> Vec<Entry> {
    Ledger::open(ledger).unwrap().entries
}

fn verifies(ledger: &Path) {
    let r = dualrun(&["gate", "verify", "--ledger", s(ledger)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

struct Setup {
    _tmp: tempfile::TempDir,
    ledger: PathBuf,
    policy: PathBuf,
    ops: [Operator; 3],
    outsider: Operator,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let ops = [keygen(tmp.path(), "alice"), keygen(tmp.path(), "bob"), keygen(tmp.path(), "carol")];
    let outsider = keygen(tmp.path(), "mallory");
    let policy = policy(tmp.path(), "policy.toml", 2, &[&ops[0], &ops[1], &ops[2]]);
    let ledger = tmp.path().join("ledger.jsonl");
    let r = dualrun(&["gate", "init", "--ledger", s(&ledger), "--key", s(&ops[0].key), "--operator", "alice"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    Setup { _tmp: tmp, ledger, policy, ops, outsider }
}

#[test]
fn a_promotion_needs_m_distinct_listed_approvals_of_its_evaluation() {
    let t = setup();
    let [alice, bob, _] = &t.ops;
    let digest = evaluation_digest(&t.ledger, &t.policy);
    assert_eq!(digest, evaluation_digest(&t.ledger, &t.policy), "the same evaluation, the same digest");

    let refused = |why: &str| {
        let before = std::fs::read(&t.ledger).unwrap();
        let r = promote(&t.ledger, &t.policy, alice);
        assert_eq!(r.code, 1, "{why}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("needs 2 approvals") && r.stderr.contains(&digest), "{}", r.stderr);
        assert_eq!(std::fs::read(&t.ledger).unwrap(), before, "{why}: nothing written");
    };
    refused("no approval");
    assert_eq!(approve(&t.ledger, alice, "shadow", &digest).code, 0);
    refused("one approval");
    assert_eq!(approve(&t.ledger, alice, "shadow", &digest).code, 0);
    refused("the same key twice counts once");
    assert_eq!(approve(&t.ledger, &t.outsider, "shadow", &digest).code, 0);
    refused("a key not in the quorum does not count");
    assert_eq!(approve(&t.ledger, bob, "shadow", &"ab".repeat(32)).code, 0);
    refused("an approval of another evaluation does not count");
    let r = approve(&t.ledger, bob, "primary", &digest);
    assert_eq!(r.code, 2, "an approval is of the next move only: {}", r.stderr);
    assert_eq!(approve(&t.ledger, bob, "shadow", "not-a-digest").code, 2);
    // Approvals move nothing.
    let status = dualrun(&["gate", "status", "--ledger", s(&t.ledger), "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&status.stdout).unwrap()["mode"], "legacy");

    assert_eq!(approve(&t.ledger, bob, "shadow", &digest).code, 0);
    let r = promote(&t.ledger, &t.policy, alice);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let last = entries(&t.ledger).pop().unwrap();
    assert_eq!((last.action, last.to), (Action::Promote, Mode::Shadow));
    assert_eq!(last.evaluation_digest(), Some(digest.as_str()));
    let quorum = last.quorum.expect("the quorum it met");
    assert_eq!(quorum.approvals, 2);
    // Alice's first approval (#1) and Bob's (#5): her repeat, the outsider's and the other digest's are not.
    assert_eq!(quorum.approved_by, [1, 5]);
    verifies(&t.ledger);
}

/// Legacy -> shadow on the approvals of `by`; the evaluation's digest.
fn to_shadow_approved_by(t: &Setup, by: [&Operator; 2]) -> String {
    let digest = evaluation_digest(&t.ledger, &t.policy);
    for op in by {
        assert_eq!(approve(&t.ledger, op, "shadow", &digest).code, 0);
    }
    assert_eq!(promote(&t.ledger, &t.policy, by[0]).code, 0);
    digest
}

#[test]
fn stale_approvals_do_not_count_and_a_ledger_never_loses_its_quorum() {
    let t = setup();
    let [alice, bob, carol] = &t.ops;
    let digest = to_shadow_approved_by(&t, [alice, bob]);
    // Approvals for the next move, then a rollback: they were given before the last transition.
    let next = evaluation_digest(&t.ledger, &t.policy);
    for op in [alice, bob] {
        assert_eq!(approve(&t.ledger, op, "primary", &next).code, 0);
    }
    let r = dualrun(&[
        "gate",
        "rollback",
        "--ledger",
        s(&t.ledger),
        "--to",
        "legacy",
        "--key",
        s(&carol.key),
        "--reason",
        "drill",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let again = evaluation_digest(&t.ledger, &t.policy);
    assert_eq!(again, digest, "legacy -> shadow on the same inputs is the same evaluation");
    let r = promote(&t.ledger, &t.policy, alice);
    assert_eq!(r.code, 1, "the approvals of #1 and #2 came before the rollback: {}", r.stderr);
    assert!(r.stderr.contains("has 0"), "{}", r.stderr);

    // A policy without [quorum] does not lift the ledger's.
    let open = t.ledger.with_file_name("open.toml");
    std::fs::write(&open, "[to_shadow]\nrequire_golden = false\n").unwrap();
    let r = promote(&t.ledger, &open, alice);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("needs 2 approvals"), "{}", r.stderr);
    // Nor does one that lowers it, or names other operators.
    let lower = policy(t.ledger.parent().unwrap(), "lower.toml", 1, &[alice, bob, carol]);
    let r = promote(&t.ledger, &lower, alice);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("never lowered"), "{}", r.stderr);
    let other = policy(t.ledger.parent().unwrap(), "other.toml", 2, &[alice, bob, &t.outsider]);
    let r = promote(&t.ledger, &other, alice);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not the ledger's operators"), "{}", r.stderr);
    verifies(&t.ledger);
}

#[test]
fn a_key_is_rotated_only_by_the_quorum() {
    let t = setup();
    let [alice, bob, carol] = &t.ops;
    to_shadow_approved_by(&t, [alice, bob]);

    let carol2 = keygen(t.ledger.parent().unwrap(), "carol-2");
    let rotate = || {
        let args = ["--ledger", s(&t.ledger), "--key", s(&carol.key), "--new-key", s(&carol2.key)];
        dualrun(&[&["gate", "rotate"][..], &args, &["--policy", s(&t.policy), "--reason", "laptop lost"]].concat())
    };
    let r = rotate();
    assert_eq!(r.code, 1, "no approvals yet: {}", r.stderr);
    assert!(r.stderr.contains("needs 2 approvals of this rotation"), "{}", r.stderr);
    let rotation = format!("{}:{}", carol.public, carol2.public);
    for op in [alice, bob] {
        let r = dualrun(&["gate", "approve", "--ledger", s(&t.ledger), "--key", s(&op.key), "--rotation", &rotation]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = rotate();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let last = entries(&t.ledger).pop().unwrap();
    assert_eq!((last.action, last.public_key.as_str()), (Action::Rotate, carol.public.as_str()));
    verifies(&t.ledger);

    // From now on Carol's old key does not count and her new one does; the policy file still names the
    // old key: the ledger knows the rotation.
    let next = evaluation_digest(&t.ledger, &t.policy);
    let r = approve(&t.ledger, carol, "primary", &next);
    assert_eq!(r.code, 1, "the rotated-out key is no operator now: refused, nothing written: {}", r.stderr);
    assert_eq!(approve(&t.ledger, alice, "primary", &next).code, 0);
    let r = force(&t.ledger, &t.policy, alice);
    assert_eq!(r.code, 1, "the old key's approval does not count, forced or not: {}", r.stderr);
    assert!(r.stderr.contains("has 1"), "{}", r.stderr);
    assert_eq!(approve(&t.ledger, &carol2, "primary", &next).code, 0);
    let r = force(&t.ledger, &t.policy, alice);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let last = entries(&t.ledger).pop().unwrap();
    assert_eq!((last.to, last.override_), (Mode::Primary, true));
    verifies(&t.ledger);
}

/// What a forged entry carries besides its move.
#[derive(Default)]
struct Extra {
    approves: Option<String>,
    quorum: Option<QuorumRecord>,
    rotation: Option<(String, String, String)>,
}

fn new_entry(action: Action, from: Mode, to: Mode, evaluation: Value, extra: Extra) -> NewEntry {
    let mut e = NewEntry::bare(action, Some(from), to, "test");
    (e.evaluation, e.approves, e.quorum, e.rotation) = (evaluation, extra.approves, extra.quorum, extra.rotation);
    e
}

fn approval(digest: &str) -> Extra {
    Extra { approves: Some(digest.into()), ..Extra::default() }
}

/// Entries signed properly but claiming a quorum they did not meet: `gate verify` finds each from the
/// ledger alone.
#[test]
fn verify_proves_every_quorum() {
    let tmp = tempfile::tempdir().unwrap();
    let [a, b, c] = ["alice", "bob", "carol"].map(|id| KeyFile::generate(id).unwrap());
    let ops: Vec<String> = [&a, &b, &c].iter().map(|k| k.public_key_hex()).collect();
    let digest = "cd".repeat(32);
    let evaluation = json!({ "evaluation_digest": digest });
    let quorum = |approved_by: Vec<u64>| Extra {
        quorum: Some(QuorumRecord { approvals: 2, operators: ops.clone(), approved_by }),
        ..Extra::default()
    };
    let problem = |build: &dyn Fn(&mut Ledger)| -> String {
        let path = tmp.path().join(format!("l{}.jsonl", std::fs::read_dir(tmp.path()).unwrap().count()));
        let mut l = Ledger::init(&path, &a, "alice").unwrap();
        build(&mut l);
        match verify(&path, &[], false) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    };
    let approve = |l: &mut Ledger, k: &KeyFile, d: &str| {
        l.append(new_entry(Action::Approve, Mode::Legacy, Mode::Shadow, Value::Null, approval(d)), k, "op").unwrap();
    };
    let promote = |l: &mut Ledger, extra: Extra| {
        l.append(new_entry(Action::Promote, Mode::Legacy, Mode::Shadow, evaluation.clone(), extra), &a, "alice")
            .unwrap();
    };

    // Met: two distinct listed operators approved the promotion's digest.
    assert_eq!(
        problem(&|l| {
            approve(l, &a, &digest);
            approve(l, &b, &digest);
            promote(l, quorum(vec![1, 2]));
        }),
        ""
    );
    // One key twice.
    let p = problem(&|l| {
        approve(l, &a, &digest);
        approve(l, &a, &digest);
        promote(l, quorum(vec![1, 2]));
    });
    assert!(p.contains("entry 3") && p.contains("approved_by names entry #2"), "{p}");
    // Too few.
    let p = problem(&|l| {
        approve(l, &a, &digest);
        promote(l, quorum(vec![1]));
    });
    assert!(p.contains("needed 2 approvals") && p.contains("had 1"), "{p}");
    // Approvals of another digest.
    let p = problem(&|l| {
        approve(l, &a, &digest);
        approve(l, &b, &"ef".repeat(32));
        promote(l, quorum(vec![1, 2]));
    });
    assert!(p.contains("approved_by names entry #2"), "{p}");
    // A later promotion without the quorum the ledger holds its promotions to.
    let p = problem(&|l| {
        approve(l, &a, &digest);
        approve(l, &b, &digest);
        promote(l, quorum(vec![1, 2]));
        l.append(
            new_entry(Action::Promote, Mode::Shadow, Mode::Primary, evaluation.clone(), Extra::default()),
            &a,
            "alice",
        )
        .unwrap();
    });
    assert!(p.contains("entry 4") && p.contains("records no quorum"), "{p}");
    // A vacuous quorum (no approval needed, no operator) cannot be recorded, nor pin the ledger.
    let p = problem(&|l| {
        let empty = QuorumRecord { approvals: 0, operators: vec![], approved_by: vec![] };
        promote(l, Extra { quorum: Some(empty), ..Extra::default() });
    });
    assert!(p.contains("a quorum that cannot be one") && p.contains("at least 1"), "{p}");
    // An approval that names no digest.
    let p = problem(&|l| approve(l, &a, "nothing"));
    assert!(p.contains("must name the digest"), "{p}");
    // A rotation whose new key did not sign.
    let p = problem(&|l| {
        let mut extra = quorum(vec![]);
        extra.rotation = Some((ops[0].clone(), c.public_key_hex(), "00".repeat(64)));
        l.append(new_entry(Action::Rotate, Mode::Legacy, Mode::Legacy, Value::Null, extra), &a, "alice").unwrap();
    });
    assert!(p.contains("new_key_signature does not verify"), "{p}");
}

/// Where a quorum is pinned, an approval by a key outside it is refused with nothing written; one made
/// before the pin (it counted for nothing, and the hash chain keeps it) is a finding of `verify
/// --trusted-key` naming its line, and every entry after it is still verified.
#[test]
fn an_approval_outside_a_pinned_quorum_is_refused_and_an_earlier_one_is_a_finding() {
    let t = setup();
    let [alice, bob, carol] = &t.ops;
    let digest = evaluation_digest(&t.ledger, &t.policy);
    assert_eq!(approve(&t.ledger, &t.outsider, "shadow", &digest).code, 0, "no quorum pinned yet");
    to_shadow_approved_by(&t, [alice, bob]);

    let next = evaluation_digest(&t.ledger, &t.policy);
    let before = std::fs::read(&t.ledger).unwrap();
    let r = approve(&t.ledger, &t.outsider, "primary", &next);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("is not an operator of the ledger's quorum") && r.stderr.contains("nothing was written"));
    assert_eq!(std::fs::read(&t.ledger).unwrap(), before, "nothing written");
    assert_eq!(approve(&t.ledger, carol, "primary", &next).code, 0, "an operator still approves");

    let trusted = ["--trusted-key", &alice.public, "--trusted-key", &bob.public, "--trusted-key", &carol.public];
    let r = dualrun(&[&["gate", "verify", "--ledger", s(&t.ledger)][..], &trusted].concat());
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("6 entries verified; mode shadow"), "every entry after it is verified: {}", r.stdout);
    let finding = format!("entry 1 (line 2): an approval signed by {}, which is not a trusted key", t.outsider.public);
    assert!(r.stdout.contains(&finding), "{}", r.stdout);
    verifies(&t.ledger);
}
