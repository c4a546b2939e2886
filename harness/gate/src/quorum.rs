//! Operator quorum: a policy's `[quorum]` (`approvals = M`, `operators = [public key hex, …]`) makes every
//! promotion need M signed approvals, by distinct listed operators, of the very evaluation it relies
//! on (its `evaluation_digest`), given since the ledger's last transition. An operator's key is replaced
//! by a `rotate` entry, signed by the old key, proven by the new one, and approved by a quorum.
//!
//! Approvals and rotations are ledger entries like any other (hash-chained, signed); [`check_entry`] is
//! what `gate verify` runs on every `promote` and `rotate` entry, so an audit proves each quorum was met.
//! A ledger never loses its quorum: the first promotion held to one pins it ([`pinned`]: its approvals
//! and operators, rotations applied); every later promotion and rotation is held to it (a policy without
//! `[quorum]` cannot silently lift it, nor one with fewer approvals or other operators).

use std::collections::BTreeSet;

use dualrun_core::Mode;
use dualrun_format::{keccak256, Hash32};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::entry::{Action, Entry, QuorumRecord};
use crate::problem::EntryProblem;

/// A policy's quorum that the ledger's pinned quorum does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumConflict {
    /// The policy names other operators than the ledger's (rotations applied).
    #[error(
        "the policy's quorum.operators are not the ledger's operators (a ledger keeps the operators its first \
         quorum named; keys change only by rotation)"
    )]
    OtherOperators,
    /// The policy asks for fewer approvals than the ledger's quorum.
    #[error("the policy asks for {policy} approvals, but the ledger's quorum is {ledger}: a quorum is never lowered")]
    Lowered {
        /// The policy's approvals.
        policy: usize,
        /// The ledger's.
        ledger: usize,
    },
}

/// A policy's quorum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quorum {
    /// How many distinct operators must approve.
    pub approvals: usize,
    /// The operators' Ed25519 public keys, lowercase hex.
    pub operators: Vec<String>,
}

impl Quorum {
    /// Why this quorum cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.approvals == 0 {
            return Some("quorum.approvals must be at least 1".into());
        }
        if self.approvals > self.operators.len() {
            return Some(format!(
                "quorum.approvals = {} but quorum.operators lists {} keys: it could never be met",
                self.approvals,
                self.operators.len()
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, k) in self.operators.iter().enumerate() {
            if parse_key(k).is_none() {
                return Some(format!("quorum.operators[{i}] = {k:?} is not an Ed25519 public key in lowercase hex"));
            }
            if !seen.insert(k) {
                return Some(format!("quorum.operators[{i}] = {k} is listed twice"));
            }
        }
        None
    }

    /// The quorum a move recorded in `entries` is held to: the ledger's pinned one, which this policy
    /// quorum (if any) may raise but not lower or re-staff. `Ok(None)`: no quorum anywhere.
    pub fn for_ledger(policy: Option<&Quorum>, entries: &[Entry]) -> Result<Option<Quorum>, QuorumConflict> {
        match (policy, pinned(entries)) {
            (None, pinned) => Ok(pinned),
            (Some(q), None) => Ok(Some(q.clone())),
            (Some(q), Some(p)) => {
                // The policy names the operators it was written for; the ledger knows their rotations.
                let mut ops = q.operators.clone();
                for e in entries {
                    apply_rotation(&mut ops, e);
                }
                if !same_set(&ops, &p.operators) {
                    return Err(QuorumConflict::OtherOperators);
                }
                if q.approvals < p.approvals {
                    return Err(QuorumConflict::Lowered { policy: q.approvals, ledger: p.approvals });
                }
                Ok(Some(Quorum { approvals: q.approvals, operators: p.operators }))
            }
        }
    }
}

/// An Ed25519 public key from lowercase hex.
pub fn parse_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_key).ok()?.try_into().ok()?;
    (hex::encode(bytes) == hex_key).then_some(())?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// A digest from 64 lowercase hex digits.
pub fn parse_digest(text: &str) -> Option<Hash32> {
    (text.len() == 64 && text.to_lowercase() == text).then_some(())?;
    text.parse().ok()
}

/// An optional text field, empty when absent.
fn text(field: &Option<String>) -> &str {
    field.as_deref().unwrap_or("")
}

/// Replaces the old key by the new one in `operators` when `e` is a rotation.
fn apply_rotation(operators: &mut [String], e: &Entry) {
    if e.action == Action::Rotate {
        let (old, new) = (text(&e.old_key), text(&e.new_key));
        for op in operators.iter_mut().filter(|op| **op == old) {
            *op = new.to_owned();
        }
    }
}

/// What a rotation of `old` to `new` is approved as, and what the new key signs to prove it holds it.
pub fn rotation_digest(old: &str, new: &str) -> Hash32 {
    keccak256(format!("dualrun/rotate/v1\n{old}\n{new}").as_bytes())
}

/// The message the new key signs in a rotation.
pub fn rotation_message(digest: &Hash32) -> Vec<u8> {
    [b"dualrun/rotate/v1".as_slice(), &digest.0].concat()
}

/// The approvals that count for `digest` (an evaluation, or a rotation) into `to`: entries after the
/// last transition, `approve` entries for that digest and mode, by a listed operator, one per key.
/// Returns their sequence numbers.
pub fn approvals(entries: &[Entry], digest: &str, to: Mode, operators: &[String]) -> Vec<u64> {
    let since = entries.iter().rposition(|e| e.action.moves()).map_or(0, |i| i + 1);
    let mut keys = BTreeSet::new();
    entries[since..]
        .iter()
        .filter(|e| e.action == Action::Approve && text(&e.approves) == digest && e.to == to)
        .filter(|e| operators.contains(&e.public_key))
        .filter(|e| keys.insert(e.public_key.clone()))
        .map(|e| e.seq)
        .collect()
}

/// What a `promote` or `rotate` entry records of the quorum it met.
pub fn record(quorum: &Quorum, operators: &[String], approved_by: &[u64]) -> QuorumRecord {
    QuorumRecord {
        approvals: quorum.approvals as u64,
        operators: operators.to_vec(),
        approved_by: approved_by.to_vec(),
    }
}

/// The quorum the ledger holds its promotions to: pinned by the first promotion or rotation that met
/// one (trust on first use: an auditor checks who signed it with `gate verify --trusted-key`), with every
/// later rotation applied. `None` until then.
pub fn pinned(entries: &[Entry]) -> Option<Quorum> {
    let mut pinned: Option<Quorum> = None;
    for e in entries {
        if let Some(q) = &e.quorum {
            let m = (q.approvals as usize).max(pinned.as_ref().map_or(0, |p| p.approvals));
            let operators = pinned.take().map_or_else(|| q.operators.clone(), |p| p.operators);
            pinned = Some(Quorum { approvals: m, operators });
        }
        if let Some(p) = &mut pinned {
            apply_rotation(&mut p.operators, e);
        }
    }
    pinned
}

/// Checks one entry against the entries before it (`gate verify`): an `approve` names a digest; a
/// `promote` or `rotate` that records a quorum met it with approvals that exist and count; none lifts
/// the quorum an earlier promotion had; a `rotate` is signed by the old key and proven by the new one.
pub fn check_entry(before: &[Entry], e: &Entry) -> Result<(), EntryProblem> {
    match e.action {
        Action::Approve => {
            if parse_digest(text(&e.approves)).is_none() {
                return Err(EntryProblem::ApprovalWithoutDigest);
            }
            Ok(())
        }
        Action::Promote => check_quorum(before, e, e.evaluation_digest().unwrap_or(""), "promotion"),
        Action::Rotate => {
            let (old, new) = (text(&e.old_key), text(&e.new_key));
            if e.public_key != old {
                return Err(EntryProblem::RotationNotByOldKey);
            }
            let new_key = parse_key(new).ok_or(EntryProblem::NewKeyInvalid)?;
            let digest = rotation_digest(old, new);
            let sig: [u8; 64] = hex::decode(text(&e.new_key_signature))
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(EntryProblem::NewKeySignatureNotHex)?;
            if new_key.verify_strict(&rotation_message(&digest), &Signature::from_bytes(&sig)).is_err() {
                return Err(EntryProblem::NewKeyNotProven);
            }
            let Some(q) = &e.quorum else { return Err(EntryProblem::RotationWithoutQuorum) };
            if !q.operators.iter().any(|op| op == old) {
                return Err(EntryProblem::RotatesNonOperator { key: old.to_owned() });
            }
            check_quorum(before, e, &digest.to_string(), "rotation")
        }
        Action::Init | Action::Rollback => Ok(()),
    }
}

/// Whether two key lists hold the same keys.
pub fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

fn check_quorum(before: &[Entry], e: &Entry, digest: &str, what: &'static str) -> Result<(), EntryProblem> {
    let pinned = pinned(before);
    let Some(q) = &e.quorum else {
        return match pinned {
            None => Ok(()),
            Some(p) => Err(EntryProblem::NoQuorum { what, needed: p.approvals }),
        };
    };
    let m = usize::try_from(q.approvals).map_err(|_| EntryProblem::ApprovalsOutOfRange)?;
    let operators = q.operators.clone();
    // A recorded quorum is held to what a policy's may be: at least one approval, no more than the
    // operators, each a real key once (a vacuous quorum would otherwise pin a ledger that needs none).
    if let Some(problem) = (Quorum { approvals: m, operators: operators.clone() }).problem() {
        return Err(EntryProblem::NotAQuorum { what, problem });
    }
    if let Some(p) = pinned {
        if m < p.approvals {
            return Err(EntryProblem::QuorumLowered { what, held: m, needed: p.approvals });
        }
        if !same_set(&operators, &p.operators) {
            return Err(EntryProblem::OtherOperators { what });
        }
    }
    let counted = approvals(before, digest, e.to, &operators);
    let claimed: BTreeSet<u64> = q.approved_by.iter().copied().collect();
    let real: BTreeSet<u64> = counted.iter().copied().collect();
    if let Some(bogus) = claimed.difference(&real).next() {
        return Err(EntryProblem::BogusApproval { seq: *bogus, digest: digest.to_owned() });
    }
    if claimed.len() < m {
        return Err(EntryProblem::TooFewApprovals { what, needed: m, digest: digest.to_owned(), had: claimed.len() });
    }
    Ok(())
}
