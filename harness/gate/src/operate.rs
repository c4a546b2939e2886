//! An operator's moves on a ledger — [`promote`], [`rollback`], [`approve`], [`rotate`] — each taken
//! under the ledger's lock, from reading the mode to appending, so no other operator's entry can come in
//! between. A move returns the entry it appended, or a typed [`Refusal`] with nothing written; a request
//! that cannot be made at all is a [`GateError`]. The command line only parses, calls and prints.

use std::path::{Path, PathBuf};

use dualrun_core::Mode;
use dualrun_keys::KeyFile;
use serde_json::{json, Value};

use crate::allowlist::{Allowlist, AllowlistError};
use crate::entry::{Action, Entry};
use crate::evaluate::{evaluate, Evaluation, EvaluationInput, GateOutcome, GoldenResult};
use crate::evidence::EvidenceRun;
use crate::fleet::FleetEvidence;
use crate::isolation::IsolationFile;
use crate::ledger::{Ledger, LedgerError, NewEntry};
use crate::policy::{Policy, PolicyError};
use crate::quorum::{self, Quorum};

/// A move that could not be made: nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The ledger could not be read, locked, verified or appended to.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The policy could not be read.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The allowlist could not be read.
    #[error(transparent)]
    Allowlist(#[from] AllowlistError),
    /// The golden vectors could not be read.
    #[error(transparent)]
    Golden(#[from] dualrun_golden::VectorError),
    /// The policy's quorum conflicts with the ledger's.
    #[error(transparent)]
    Quorum(#[from] crate::quorum::QuorumConflict),
    /// A request that is not a move: its words say what is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// Why a move was refused on its merits (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A promotion on an evaluation that did not pass, not forced.
    #[error("not promoted: the evaluation is {outcome}; nothing was written")]
    NotPassed {
        /// The evaluation's outcome.
        outcome: GateOutcome,
    },
    /// A promotion the quorum has not approved (forced or not).
    #[error(
        "not promoted: the quorum needs {needed} approvals of evaluation {digest} by distinct operators and has \
         {has}; nothing was written. Each operator approves with: dualrun gate approve --ledger {} --key KEY \
         --to {to} --evaluation-digest {digest}",
        ledger.display()
    )]
    PromotionNotApproved {
        /// Approvals needed.
        needed: usize,
        /// Approvals that count.
        has: usize,
        /// The evaluation's digest.
        digest: String,
        /// The mode promoted into.
        to: Mode,
        /// The ledger.
        ledger: PathBuf,
    },
    /// A rotation the quorum has not approved.
    #[error(
        "not rotated: the quorum needs {needed} approvals of this rotation and has {has}; nothing was written. \
         Each operator approves with: dualrun gate approve --ledger {} --key KEY --rotation {old}:{new}",
        ledger.display()
    )]
    RotationNotApproved {
        /// Approvals needed.
        needed: usize,
        /// Approvals that count.
        has: usize,
        /// The key replaced.
        old: String,
        /// The key that replaces it.
        new: String,
        /// The ledger.
        ledger: PathBuf,
    },
    /// An approval by a key outside the ledger's pinned quorum.
    #[error(
        "not approved: {id} ({key}) is not an operator of the ledger's quorum ({}); nothing was written",
        operators.join(", ")
    )]
    NotAnOperator {
        /// The key file's id.
        id: String,
        /// The key (hex).
        key: String,
        /// The quorum's operators.
        operators: Vec<String>,
    },
}

/// What a move did: the entry appended, or why nothing was.
pub type Moved = Result<Entry, Refusal>;

/// What an evaluation reads: the ledger, the policy, the evidence, the golden vectors and allowlist.
#[derive(Debug, Clone, Default)]
pub struct EvaluationRequest {
    /// The ledger file.
    pub ledger: PathBuf,
    /// The policy file (the built-in policy when none).
    pub policy: Option<PathBuf>,
    /// Golden vectors to run as part of the evidence.
    pub golden: Option<PathBuf>,
    /// Replay run directories.
    pub evidence: Vec<PathBuf>,
    /// Isolation evidence files (`dualrun net isolation --out`).
    pub isolation: Vec<PathBuf>,
    /// Fleet run directories (`dualrun fleet --out`).
    pub fleet: Vec<PathBuf>,
    /// The target mode (the next one when none).
    pub to: Option<Mode>,
    /// Known divergences excused.
    pub allowlist: Option<PathBuf>,
    /// Expired or never-matched allowlist entries fail the evaluation.
    pub strict: bool,
}

/// An evaluation and what it was made of.
pub struct Evaluated {
    /// The criteria, outcome and digest.
    pub evaluation: Evaluation,
    /// The policy evaluated.
    pub policy: Policy,
    /// The golden results, when vectors were given.
    pub golden: Option<GoldenResult>,
    /// The evidence runs, as read.
    pub evidence: Vec<EvidenceRun>,
    /// The isolation files, as read.
    pub isolation: Vec<IsolationFile>,
    /// The fleet runs, as read.
    pub fleet: Vec<FleetEvidence>,
}

/// Evaluates the next forward move (or the one asked for) on the request's evidence.
pub fn evaluate_request(r: &EvaluationRequest) -> Result<Evaluated, GateError> {
    let ledger = Ledger::open(&r.ledger)?;
    let policy = match &r.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::builtin(),
    };
    let from = ledger.mode();
    let Some(to) = r.to.or(from.next()) else {
        return Err(GateError::Invalid(format!(
            "{}: the ledger is already in `only`; there is no next mode",
            r.ledger.display()
        )));
    };
    // The same runner and the same skip rule as `golden check`: the gate passes only what CI passes.
    let golden = match r.golden.as_deref() {
        Some(dir) => Some(GoldenResult::from_report(&dualrun_golden::run_dir(dir, None)?)),
        None => None,
    };
    let allowlist = r.allowlist.as_deref().map(Allowlist::load).transpose()?;
    let evidence: Vec<EvidenceRun> = r.evidence.iter().map(|d| EvidenceRun::load(d)).collect();
    let isolation: Vec<IsolationFile> = r.isolation.iter().map(|f| IsolationFile::load(f)).collect();
    let fleet: Vec<FleetEvidence> = r.fleet.iter().map(|d| FleetEvidence::load(d)).collect();
    let last_profile = ledger.last_profile_digest();
    let evaluation = evaluate(&EvaluationInput {
        from,
        to,
        policy: &policy,
        evidence: &evidence,
        isolation: &isolation,
        fleet: &fleet,
        golden: golden.as_ref(),
        allowlist: allowlist.as_ref(),
        strict: r.strict,
        expected_profile: last_profile.as_deref(),
    });
    Ok(Evaluated { evaluation, policy, golden, evidence, isolation, fleet })
}

/// Who makes a move: the key that signs it, the operator's name (the key's id when none) and why.
pub struct Operator<'a> {
    /// The signing key.
    pub key: &'a KeyFile,
    /// The name recorded (the key file's id when `None`).
    pub name: Option<&'a str>,
    /// Why: recorded in the entry; must say something.
    pub reason: &'a str,
}

impl Operator<'_> {
    fn name(&self) -> String {
        self.name.map_or_else(|| self.key.id.clone(), str::to_owned)
    }

    fn check_reason(&self) -> Result<(), GateError> {
        if self.reason.trim().is_empty() {
            return Err(GateError::Invalid("--reason must say why".into()));
        }
        Ok(())
    }
}

/// A promotion: the evaluation it was decided on (shown whatever the decision) and what it did.
pub struct Promotion {
    /// The evaluation.
    pub evaluation: Evaluation,
    /// The entry appended, or why not.
    pub moved: Moved,
}

/// Promotes the ledger one step forward on the request's evaluation: only when it passes (or `force`,
/// recorded as an override) and, where a quorum applies (the policy's, or the one the ledger holds its
/// promotions to), only with enough approvals of this very evaluation — forcing does not skip them.
pub fn promote(r: &EvaluationRequest, by: &Operator<'_>, force: bool) -> Result<Promotion, GateError> {
    by.check_reason()?;
    let _lock = Ledger::lock(&r.ledger)?;
    let Evaluated { evaluation: eval, policy, golden, evidence, isolation, fleet } = evaluate_request(r)?;
    let next = eval.from.next();
    if next != Some(eval.to) {
        return Err(GateError::Invalid(format!(
            "promotion moves exactly one step forward: {} -> {}",
            eval.from,
            next.map_or("-".into(), |m| m.to_string())
        )));
    }
    if eval.outcome != GateOutcome::Pass && !force {
        return Ok(Promotion { moved: Err(Refusal::NotPassed { outcome: eval.outcome }), evaluation: eval });
    }
    let mut ledger = Ledger::open(&r.ledger)?;
    let mut quorum = None;
    if let Some(q) = Quorum::for_ledger(policy.quorum.as_ref(), &ledger.entries)? {
        let approved = quorum::approvals(&ledger.entries, &eval.evaluation_digest, eval.to, &q.operators);
        if approved.len() < q.approvals {
            let refusal = Refusal::PromotionNotApproved {
                needed: q.approvals,
                has: approved.len(),
                digest: eval.evaluation_digest.clone(),
                to: eval.to,
                ledger: r.ledger.clone(),
            };
            return Ok(Promotion { moved: Err(refusal), evaluation: eval });
        }
        quorum = Some(quorum::record(&q, &q.operators, &approved));
    }
    // The evidence exactly as it was evaluated.
    let entry = NewEntry {
        action: Action::Promote,
        from: Some(eval.from),
        to: eval.to,
        reason: by.reason.into(),
        override_: eval.outcome != GateOutcome::Pass,
        policy: json!({ "digest": policy.digest, "path": policy.path }),
        evidence: evidence
            .iter()
            .map(EvidenceRun::ledger_record)
            .chain(isolation.iter().map(IsolationFile::ledger_record))
            .chain(fleet.iter().map(FleetEvidence::ledger_record))
            .collect(),
        golden: serde_json::to_value(&golden).expect("golden results serialize"),
        evaluation: serde_json::to_value(&eval).expect("evaluations serialize"),
        approves: None,
        rotation: None,
        quorum,
    };
    let appended = ledger.append(entry, by.key, &by.name())?.clone();
    Ok(Promotion { evaluation: eval, moved: Ok(appended) })
}

/// Rolls the ledger back to an earlier mode: always allowed, on no evidence, recorded.
pub fn rollback(path: &Path, to: Mode, by: &Operator<'_>) -> Result<Entry, GateError> {
    by.check_reason()?;
    let _lock = Ledger::lock(path)?;
    let mut ledger = Ledger::open(path)?;
    let from = ledger.mode();
    if to >= from {
        return Err(GateError::Invalid(format!(
            "{}: rollback goes to an earlier mode; the ledger is in {from}",
            path.display()
        )));
    }
    let entry = NewEntry::bare(Action::Rollback, Some(from), to, by.reason);
    Ok(ledger.append(entry, by.key, &by.name())?.clone())
}

/// What an operator approves.
pub enum Approval {
    /// A promotion into `to` on the evaluation with this digest.
    Promotion {
        /// The mode promoted into.
        to: Mode,
        /// The evaluation's digest (`gate evaluate --format json`).
        digest: String,
    },
    /// A key rotation, `OLD_HEX:NEW_HEX`.
    Rotation(String),
}

/// What an approval approved, in words (`the promotion shadow -> primary`), and its digest.
pub struct Approved {
    /// The entry appended.
    pub entry: Entry,
    /// What was approved, in words.
    pub what: String,
    /// The digest approved.
    pub digest: String,
}

/// Records an operator's approval of a promotion's evaluation or of a key rotation. It moves nothing.
/// Where a quorum is pinned, only its operators may approve: an approval by any other key would stay in
/// the ledger for good (its hash chain forbids removing it) and count for nothing.
pub fn approve(path: &Path, subject: Approval, by: &Operator<'_>) -> Result<Result<Approved, Refusal>, GateError> {
    let _lock = Ledger::lock(path)?;
    let mut ledger = Ledger::open(path)?;
    let mode = ledger.mode();
    let (to, digest, what) = match subject {
        Approval::Promotion { to, digest } => {
            if mode.next() != Some(to) {
                let next = mode.next().map_or_else(|| "nowhere (it is the last mode)".into(), |m| m.to_string());
                return Err(GateError::Invalid(format!(
                    "{}: the ledger is in {mode}; a promotion from it goes to {next}",
                    path.display()
                )));
            }
            if quorum::parse_digest(&digest).is_none() {
                return Err(GateError::Invalid(format!(
                    "--evaluation-digest {digest:?}: expected the 64 lowercase hex digits `gate evaluate` prints"
                )));
            }
            (to, digest, format!("the promotion {mode} -> {to}"))
        }
        Approval::Rotation(r) => {
            let Some((old, new)) =
                r.split_once(':').filter(|(o, n)| quorum::parse_key(o).is_some() && quorum::parse_key(n).is_some())
            else {
                return Err(GateError::Invalid(format!(
                    "--rotation {r:?}: expected OLD_HEX:NEW_HEX, two Ed25519 public keys in lowercase hex"
                )));
            };
            (mode, quorum::rotation_digest(old, new).to_string(), format!("the rotation of {old} to {new}"))
        }
    };
    if let Some(q) = quorum::pinned(&ledger.entries) {
        let key = by.key.public_key_hex();
        if !q.operators.contains(&key) {
            return Ok(Err(Refusal::NotAnOperator { id: by.key.id.clone(), key, operators: q.operators }));
        }
    }
    let mut entry = NewEntry::bare(Action::Approve, Some(mode), to, by.reason);
    entry.approves = Some(digest.clone());
    let entry = ledger.append(entry, by.key, &by.name())?.clone();
    Ok(Ok(Approved { entry, what, digest }))
}

/// Replaces an operator's key: signed by the old key, proven by the new one (its signature of the
/// rotation), approved by the quorum it belongs to (the policy's, or the ledger's).
pub fn rotate(path: &Path, new_key: &KeyFile, policy: Option<&Path>, by: &Operator<'_>) -> Result<Moved, GateError> {
    by.check_reason()?;
    let policy = policy.map(Policy::load).transpose()?;
    let _lock = Ledger::lock(path)?;
    let mut ledger = Ledger::open(path)?;
    let Some(q) = Quorum::for_ledger(policy.as_ref().and_then(|p| p.quorum.as_ref()), &ledger.entries)? else {
        return Err(GateError::Invalid(format!(
            "{}: no quorum: give a policy with [quorum] (a key is rotated by the quorum it belongs to)",
            path.display()
        )));
    };
    let (old, new) = (by.key.public_key_hex(), new_key.public_key_hex());
    if !q.operators.contains(&old) {
        return Err(GateError::Invalid(format!("{old} is not one of the quorum's operators")));
    }
    if q.operators.contains(&new) {
        return Err(GateError::Invalid(format!("{new} is already one of the quorum's operators")));
    }
    let digest = quorum::rotation_digest(&old, &new);
    let mode = ledger.mode();
    let approved = quorum::approvals(&ledger.entries, &digest.to_string(), mode, &q.operators);
    if approved.len() < q.approvals {
        let (needed, has, ledger) = (q.approvals, approved.len(), path.to_path_buf());
        return Ok(Err(Refusal::RotationNotApproved { needed, has, old, new, ledger }));
    }
    let proof = ed25519_dalek::Signer::sign(&new_key.signing_key, &quorum::rotation_message(&digest));
    let mut entry = NewEntry::bare(Action::Rotate, Some(mode), mode, by.reason);
    entry.rotation = Some((old, new, hex::encode(proof.to_bytes())));
    entry.quorum = Some(quorum::record(&q, &q.operators, &approved));
    entry.policy = policy.as_ref().map_or(Value::Null, |p| json!({ "digest": p.digest, "path": p.path }));
    // The new key's holder is the operator now: named by it unless a name is given.
    let operator = by.name.map_or_else(|| new_key.id.clone(), str::to_owned);
    Ok(Ok(ledger.append(entry, by.key, &operator)?.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(dir: &Path, key: &KeyFile) -> PathBuf {
        let path = dir.join("ledger.jsonl");
        Ledger::init(&path, key, "alice").unwrap();
        path
    }

    /// A promotion needs a passing evaluation or `force` (then it is an override), writes nothing when
    /// refused; a rollback goes only backwards; every move needs a reason; the ledger verifies after.
    #[test]
    fn promotions_and_rollbacks_append_or_refuse_without_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let alice = KeyFile::generate("alice").unwrap();
        let path = ledger(tmp.path(), &alice);
        let by = Operator { key: &alice, name: None, reason: "drill" };
        let request = EvaluationRequest { ledger: path.clone(), ..EvaluationRequest::default() };

        let e = rollback(&path, Mode::Legacy, &by).unwrap_err().to_string();
        assert!(e.contains("rollback goes to an earlier mode; the ledger is in legacy"), "{e}");
        let silent = Operator { reason: "  ", ..by };
        assert!(matches!(promote(&request, &silent, true), Err(GateError::Invalid(m)) if m.contains("must say why")));

        // The built-in policy needs golden vectors to leave legacy: no evidence, no promotion.
        let before = std::fs::read(&path).unwrap();
        let p = promote(&request, &by, false).unwrap();
        assert!(matches!(p.moved, Err(Refusal::NotPassed { .. })), "{:?}", p.moved);
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");

        let forced = promote(&request, &by, true).unwrap().moved.unwrap();
        assert_eq!((forced.action, forced.to, forced.override_), (Action::Promote, Mode::Shadow, true));
        assert_eq!(forced.operator, "alice");
        let back = rollback(&path, Mode::Legacy, &Operator { name: Some("ops"), ..by }).unwrap();
        assert_eq!((back.from, back.to, back.operator.as_str()), (Some(Mode::Shadow), Mode::Legacy, "ops"));
        let report = crate::ledger::verify(&path, &[], false).unwrap();
        assert_eq!((report.entries, report.mode), (3, Mode::Legacy));
    }

    /// Approvals: a malformed subject is no request; before a quorum is pinned any key's approval is
    /// written (it counts for nothing); the approval names what it approves.
    #[test]
    fn approvals_check_their_subject() {
        let tmp = tempfile::tempdir().unwrap();
        let alice = KeyFile::generate("alice").unwrap();
        let path = ledger(tmp.path(), &alice);
        let by = Operator { key: &alice, name: None, reason: "ok" };
        let digest = "ab".repeat(32);
        let wrong_move = Approval::Promotion { to: Mode::Primary, digest: digest.clone() };
        assert!(matches!(approve(&path, wrong_move, &by), Err(GateError::Invalid(m)) if m.contains("goes to shadow")));
        let bad_digest = Approval::Promotion { to: Mode::Shadow, digest: "xyz".into() };
        assert!(matches!(approve(&path, bad_digest, &by), Err(GateError::Invalid(_))));
        assert!(matches!(approve(&path, Approval::Rotation("a:b".into()), &by), Err(GateError::Invalid(_))));
        let approved =
            approve(&path, Approval::Promotion { to: Mode::Shadow, digest: digest.clone() }, &by).unwrap().unwrap();
        assert_eq!(
            (approved.what.as_str(), approved.digest.as_str()),
            ("the promotion legacy -> shadow", digest.as_str())
        );
        assert_eq!(approved.entry.approves.as_deref(), Some(digest.as_str()));
        assert_eq!(crate::ledger::verify(&path, &[], false).unwrap().entries, 2);
    }
}
