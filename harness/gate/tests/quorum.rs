//! M-of-N operator approvals: a policy's `[quorum]` makes every promotion need approvals of its very
//! evaluation (`evaluation_digest`) by distinct listed operators since the last transition; outsiders,
//! other digests, repeats and stale approvals do not count; a ledger never loses its quorum; a key is
//! rotated only by the quorum; and `verify` proves every quorum from the ledger alone.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};

use dualrun_core::Mode;
use dualrun_gate::entry::{Action, Entry, QuorumRecord};
use dualrun_gate::ledger::{verify, Ledger, NewEntry, VerifyReport};
use dualrun_gate::operate::{
    approve, evaluate_request, promote, rollback, rotate, Approval, Approved, EvaluationRequest, GateError, Moved,
    Operator, Refusal,
};
use dualrun_gate::quorum::QuorumConflict;
use dualrun_gate::{EntryProblem, LedgerError};
use dualrun_keys::KeyFile;
use serde_json::{json, Value};

/// A policy that lets legacy -> shadow -> primary through on no evidence (no replay runs, no golden
/// vectors, no isolation), with a quorum of `m` of `ops`.
fn policy(dir: &Path, name: &str, m: usize, ops: &[&KeyFile]) -> PathBuf {
    let listed: Vec<String> = ops.iter().map(|o| format!("\"{}\"", o.public_key_hex())).collect();
    let text = format!(
        "[to_shadow]\nrequire_golden = false\n\n[to_primary]\nmin_blocks = 0\nrequire_golden = false\nrequire_isolation = false\n\n\
         [quorum]\napprovals = {m}\noperators = [{}]\n",
        listed.join(", ")
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn request(ledger: &Path, policy: &Path) -> EvaluationRequest {
    EvaluationRequest { ledger: ledger.into(), policy: Some(policy.into()), ..EvaluationRequest::default() }
}

fn by<'a>(key: &'a KeyFile, reason: &'a str) -> Operator<'a> {
    Operator { key, name: None, reason }
}

/// The digest of the evaluation of the ledger's next move under `policy`, which operators approve.
fn evaluation_digest(ledger: &Path, policy: &Path) -> String {
    let d = evaluate_request(&request(ledger, policy)).unwrap().evaluation.evaluation_digest;
    assert_eq!(d.len(), 64);
    d
}

/// `op`'s approval of the promotion into `to` on the evaluation `digest`.
fn approve_move(ledger: &Path, op: &KeyFile, to: Mode, digest: &str) -> Result<Result<Approved, Refusal>, GateError> {
    approve(ledger, Approval::Promotion { to, digest: digest.into() }, &by(op, "approved"))
}

/// An approval that was written.
fn approved(ledger: &Path, op: &KeyFile, to: Mode, digest: &str) -> Entry {
    let a = approve_move(ledger, op, to, digest).unwrap().unwrap();
    assert_eq!((a.entry.action, a.entry.to, a.entry.approves.as_deref()), (Action::Approve, to, Some(digest)));
    a.entry
}

/// An approval refused on its merits, with nothing written.
fn approval_refused(ledger: &Path, op: &KeyFile, to: Mode, digest: &str) -> Refusal {
    let before = std::fs::read(ledger).unwrap();
    let Ok(Err(refusal)) = approve_move(ledger, op, to, digest) else { panic!("the approval was not refused") };
    assert_eq!(std::fs::read(ledger).unwrap(), before, "{refusal}: nothing written");
    refusal
}

/// A promotion on approvals (`force`: past an evaluation that does not pass — shadow -> primary on no
/// evidence is inconclusive — recorded as an override, and not skipping the quorum).
fn promote_on(ledger: &Path, policy: &Path, op: &KeyFile, force: bool) -> Result<Moved, GateError> {
    let reason = if force { "drill" } else { "on approvals" };
    promote(&request(ledger, policy), &by(op, reason), force).map(|p| p.moved)
}

/// A promotion refused on its merits, with nothing written.
fn promotion_refused(ledger: &Path, policy: &Path, op: &KeyFile, force: bool) -> Refusal {
    let before = std::fs::read(ledger).unwrap();
    let refusal = promote_on(ledger, policy, op, force).unwrap().expect_err("the promotion was refused");
    assert_eq!(std::fs::read(ledger).unwrap(), before, "{refusal}: nothing written");
    refusal
}

/// The refusal of a promotion the quorum has not approved: how many approvals it needs and has.
fn not_approved(refusal: &Refusal) -> (usize, usize, &str) {
    match refusal {
        Refusal::PromotionNotApproved { needed, has, digest, .. } => (*needed, *has, digest.as_str()),
        other => panic!("not a missing quorum: {other}"),
    }
}

/// The ledger verifies, with no finding.
fn verifies(ledger: &Path) -> VerifyReport {
    let report = verify(ledger, &[], false).unwrap();
    assert_eq!(report.findings, Vec::<String>::new());
    report
}

struct Setup {
    _tmp: tempfile::TempDir,
    ledger: PathBuf,
    policy: PathBuf,
    ops: [KeyFile; 3],
    outsider: KeyFile,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let ops = ["alice", "bob", "carol"].map(|id| KeyFile::generate(id).unwrap());
    let outsider = KeyFile::generate("mallory").unwrap();
    let policy = policy(tmp.path(), "policy.toml", 2, &[&ops[0], &ops[1], &ops[2]]);
    let ledger = tmp.path().join("ledger.jsonl");
    Ledger::init(&ledger, &ops[0], "alice").unwrap();
    Setup { _tmp: tmp, ledger, policy, ops, outsider }
}

#[test]
fn a_promotion_needs_m_distinct_listed_approvals_of_its_evaluation() {
    let t = setup();
    let [alice, bob, _] = &t.ops;
    let digest = evaluation_digest(&t.ledger, &t.policy);
    assert_eq!(digest, evaluation_digest(&t.ledger, &t.policy), "the same evaluation, the same digest");

    let refused = |has: usize, why: &str| {
        let refusal = promotion_refused(&t.ledger, &t.policy, alice, false);
        assert_eq!(not_approved(&refusal), (2, has, digest.as_str()), "{why}");
    };
    refused(0, "no approval");
    approved(&t.ledger, alice, Mode::Shadow, &digest);
    refused(1, "one approval");
    approved(&t.ledger, alice, Mode::Shadow, &digest);
    refused(1, "the same key twice counts once");
    approved(&t.ledger, &t.outsider, Mode::Shadow, &digest);
    refused(1, "a key not in the quorum does not count");
    approved(&t.ledger, bob, Mode::Shadow, &"ab".repeat(32));
    refused(1, "an approval of another evaluation does not count");
    let r = approve_move(&t.ledger, bob, Mode::Primary, &digest);
    assert!(matches!(r, Err(GateError::Invalid(_))), "an approval is of the next move only");
    assert!(matches!(approve_move(&t.ledger, bob, Mode::Shadow, "not-a-digest"), Err(GateError::Invalid(_))));
    assert_eq!(Ledger::open(&t.ledger).unwrap().mode(), Mode::Legacy, "approvals move nothing");

    approved(&t.ledger, bob, Mode::Shadow, &digest);
    let last = promote_on(&t.ledger, &t.policy, alice, false).unwrap().unwrap();
    assert_eq!((last.action, last.to), (Action::Promote, Mode::Shadow));
    assert_eq!(last.evaluation_digest(), Some(digest.as_str()));
    let quorum = last.quorum.expect("the quorum it met");
    assert_eq!(quorum.approvals, 2);
    // Alice's first approval (#1) and Bob's (#5): her repeat, the outsider's and the other digest's are not.
    assert_eq!(quorum.approved_by, [1, 5]);
    verifies(&t.ledger);
}

/// Legacy -> shadow on the approvals of `by`; the evaluation's digest.
fn to_shadow_approved_by(t: &Setup, by: [&KeyFile; 2]) -> String {
    let digest = evaluation_digest(&t.ledger, &t.policy);
    for op in by {
        approved(&t.ledger, op, Mode::Shadow, &digest);
    }
    let promoted = promote_on(&t.ledger, &t.policy, by[0], false).unwrap().unwrap();
    assert_eq!(promoted.to, Mode::Shadow);
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
        approved(&t.ledger, op, Mode::Primary, &next);
    }
    let back = rollback(&t.ledger, Mode::Legacy, &by(carol, "drill")).unwrap();
    assert_eq!((back.action, back.to), (Action::Rollback, Mode::Legacy));
    let again = evaluation_digest(&t.ledger, &t.policy);
    assert_eq!(again, digest, "legacy -> shadow on the same inputs is the same evaluation");
    let refusal = promotion_refused(&t.ledger, &t.policy, alice, false);
    assert_eq!(not_approved(&refusal), (2, 0, digest.as_str()), "the approvals of #1 and #2 came before the rollback");

    // A policy without [quorum] does not lift the ledger's.
    let open = t.ledger.with_file_name("open.toml");
    std::fs::write(&open, "[to_shadow]\nrequire_golden = false\n").unwrap();
    let refusal = promotion_refused(&t.ledger, &open, alice, false);
    assert_eq!(not_approved(&refusal).0, 2, "{refusal}");
    // Nor does one that lowers it, or names other operators.
    let lower = policy(t.ledger.parent().unwrap(), "lower.toml", 1, &[alice, bob, carol]);
    let r = promote_on(&t.ledger, &lower, alice, false);
    assert!(matches!(r, Err(GateError::Quorum(QuorumConflict::Lowered { policy: 1, ledger: 2 }))), "never lowered");
    let other = policy(t.ledger.parent().unwrap(), "other.toml", 2, &[alice, bob, &t.outsider]);
    let r = promote_on(&t.ledger, &other, alice, false);
    assert!(matches!(r, Err(GateError::Quorum(QuorumConflict::OtherOperators))), "not the ledger's operators");
    assert_eq!(verifies(&t.ledger).mode, Mode::Legacy);
}

#[test]
fn a_key_is_rotated_only_by_the_quorum() {
    let t = setup();
    let [alice, bob, carol] = &t.ops;
    to_shadow_approved_by(&t, [alice, bob]);

    let carol2 = KeyFile::generate("carol-2").unwrap();
    let rotate_carol = || rotate(&t.ledger, &carol2, Some(&t.policy), &by(carol, "laptop lost")).unwrap();
    let (old, new) = (carol.public_key_hex(), carol2.public_key_hex());
    let before = std::fs::read(&t.ledger).unwrap();
    let refusal = rotate_carol().expect_err("no approvals yet");
    let expected = Refusal::RotationNotApproved {
        needed: 2,
        has: 0,
        old: old.clone(),
        new: new.clone(),
        ledger: t.ledger.clone(),
    };
    assert_eq!(refusal, expected);
    assert_eq!(std::fs::read(&t.ledger).unwrap(), before, "nothing written");
    for op in [alice, bob] {
        let a = approve(&t.ledger, Approval::Rotation(format!("{old}:{new}")), &by(op, "approved")).unwrap().unwrap();
        assert_eq!(a.what, format!("the rotation of {old} to {new}"));
    }
    let last = rotate_carol().unwrap();
    assert_eq!((last.action, last.public_key.as_str()), (Action::Rotate, old.as_str()));
    assert_eq!((last.operator.as_str(), last.new_key.as_deref()), ("carol-2", Some(new.as_str())));
    verifies(&t.ledger);

    // From now on Carol's old key does not count and her new one does; the policy file still names the
    // old key: the ledger knows the rotation.
    let next = evaluation_digest(&t.ledger, &t.policy);
    let refusal = approval_refused(&t.ledger, carol, Mode::Primary, &next);
    assert!(
        matches!(&refusal, Refusal::NotAnOperator { key, operators, .. } if *key == old && operators.contains(&new)),
        "the rotated-out key is no operator now: {refusal}"
    );
    approved(&t.ledger, alice, Mode::Primary, &next);
    let refusal = promotion_refused(&t.ledger, &t.policy, alice, true);
    assert_eq!(not_approved(&refusal), (2, 1, next.as_str()), "the old key's approval does not count, forced or not");
    approved(&t.ledger, &carol2, Mode::Primary, &next);
    let last = promote_on(&t.ledger, &t.policy, alice, true).unwrap().unwrap();
    assert_eq!((last.to, last.override_), (Mode::Primary, true));
    assert_eq!(verifies(&t.ledger).mode, Mode::Primary);
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

/// Entries signed properly but claiming a quorum they did not meet: `verify` finds each from the ledger
/// alone, naming the entry.
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
    // The entry `verify` refuses, and why; `None` when the ledger verifies.
    let problem = |build: &dyn Fn(&mut Ledger)| -> Option<(usize, EntryProblem)> {
        let path = tmp.path().join(format!("l{}.jsonl", std::fs::read_dir(tmp.path()).unwrap().count()));
        let mut l = Ledger::init(&path, &a, "alice").unwrap();
        build(&mut l);
        match verify(&path, &[], false) {
            Ok(_) => None,
            Err(LedgerError::Bad { index, problem, .. }) => Some((index, problem)),
            Err(e) => panic!("not an entry's problem: {e}"),
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
    let met = problem(&|l| {
        approve(l, &a, &digest);
        approve(l, &b, &digest);
        promote(l, quorum(vec![1, 2]));
    });
    assert!(met.is_none(), "{met:?}");
    // One key twice.
    let p = problem(&|l| {
        approve(l, &a, &digest);
        approve(l, &a, &digest);
        promote(l, quorum(vec![1, 2]));
    });
    assert!(matches!(p, Some((3, EntryProblem::BogusApproval { seq: 2, .. }))), "{p:?}");
    // Too few.
    let p = problem(&|l| {
        approve(l, &a, &digest);
        promote(l, quorum(vec![1]));
    });
    assert!(matches!(p, Some((2, EntryProblem::TooFewApprovals { needed: 2, had: 1, .. }))), "{p:?}");
    // Approvals of another digest.
    let p = problem(&|l| {
        approve(l, &a, &digest);
        approve(l, &b, &"ef".repeat(32));
        promote(l, quorum(vec![1, 2]));
    });
    assert!(matches!(p, Some((3, EntryProblem::BogusApproval { seq: 2, .. }))), "{p:?}");
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
    assert!(matches!(p, Some((4, EntryProblem::NoQuorum { what: "promotion", needed: 2 }))), "{p:?}");
    // A vacuous quorum (no approval needed, no operator) cannot be recorded, nor pin the ledger.
    let p = problem(&|l| {
        let empty = QuorumRecord { approvals: 0, operators: vec![], approved_by: vec![] };
        promote(l, Extra { quorum: Some(empty), ..Extra::default() });
    });
    assert!(
        matches!(&p, Some((1, EntryProblem::NotAQuorum { problem, .. })) if problem.contains("at least 1")),
        "{p:?}"
    );
    // An approval that names no digest.
    let p = problem(&|l| approve(l, &a, "nothing"));
    assert!(matches!(p, Some((1, EntryProblem::ApprovalWithoutDigest))), "{p:?}");
    // A rotation whose new key did not sign.
    let p = problem(&|l| {
        let mut extra = quorum(vec![]);
        extra.rotation = Some((ops[0].clone(), c.public_key_hex(), "00".repeat(64)));
        l.append(new_entry(Action::Rotate, Mode::Legacy, Mode::Legacy, Value::Null, extra), &a, "alice").unwrap();
    });
    assert!(matches!(p, Some((1, EntryProblem::NewKeyNotProven))), "{p:?}");
}

/// Where a quorum is pinned, an approval by a key outside it is refused with nothing written; one made
/// before the pin (it counted for nothing, and the hash chain keeps it) is a finding of `verify` with
/// trusted keys naming its line, and every entry after it is still verified.
#[test]
fn an_approval_outside_a_pinned_quorum_is_refused_and_an_earlier_one_is_a_finding() {
    let t = setup();
    let [alice, bob, carol] = &t.ops;
    let digest = evaluation_digest(&t.ledger, &t.policy);
    approved(&t.ledger, &t.outsider, Mode::Shadow, &digest); // no quorum pinned yet
    to_shadow_approved_by(&t, [alice, bob]);

    let next = evaluation_digest(&t.ledger, &t.policy);
    let refusal = approval_refused(&t.ledger, &t.outsider, Mode::Primary, &next);
    let operators = t.ops.iter().map(KeyFile::public_key_hex).collect();
    let expected = Refusal::NotAnOperator { id: "mallory".into(), key: t.outsider.public_key_hex(), operators };
    assert_eq!(refusal, expected);
    approved(&t.ledger, carol, Mode::Primary, &next); // an operator still approves

    let trusted: Vec<_> = t.ops.iter().map(KeyFile::verifying_key).collect();
    let report = verify(&t.ledger, &trusted, false).unwrap();
    assert_eq!((report.entries, report.mode), (6, Mode::Shadow), "every entry after it is verified");
    let finding = format!(
        "{}: entry 1 (line 2): an approval signed by {}, which is not a trusted key; it counts toward no quorum",
        t.ledger.display(),
        t.outsider.public_key_hex()
    );
    assert_eq!(report.findings, [finding]);
    verifies(&t.ledger);
}
