//! What an audit finds wrong with one ledger entry: the typed reasons behind [`LedgerError::Bad`]
//! (form, hash chain, signature, mode sequence, quorum, evidence), each worded for the auditor who reads
//! it after the entry's file and line.
//!
//! [`LedgerError::Bad`]: crate::LedgerError::Bad

use dualrun_core::Mode;

use crate::entry::Action;

/// Why an entry fails the audit.
#[derive(Debug, thiserror::Error)]
pub enum EntryProblem {
    /// The ledger file is empty.
    #[error("the ledger is empty (entries were removed)")]
    EmptyFile,
    /// Bytes that are not UTF-8.
    #[error("not UTF-8 text (the entry was edited)")]
    NotUtf8,
    /// The last line has no newline.
    #[error(
        "incomplete last entry: its line is not terminated (a write cut short); `dualrun gate repair --ledger \
         {ledger}` removes it and nothing else"
    )]
    Unterminated {
        /// The ledger as given, for the repair command.
        ledger: String,
    },
    /// The line is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The JSON is not a ledger entry.
    #[error("not a ledger entry: {0}")]
    NotAnEntry(#[source] serde_json::Error),
    /// The line is not the entry's canonical serialization.
    #[error("not in canonical form (the line was edited)")]
    NotCanonical,
    /// The sequence number is not the entry's position.
    #[error("seq is {found}, expected {expected} (entries removed, inserted or reordered)")]
    Seq {
        /// The entry's `seq`.
        found: u64,
        /// Its position.
        expected: usize,
    },
    /// The hash is not the hash of the content.
    #[error("its hash does not match its content (the entry was edited)")]
    Hash,
    /// `prev_hash` is not the previous entry's hash.
    #[error("prev_hash is not the previous entry's hash (the chain is broken)")]
    BrokenChain,
    /// `public_key` is not 32 bytes of hex.
    #[error("public_key is not 32 bytes of hex")]
    PublicKeyNotHex,
    /// `public_key` is not an Ed25519 point.
    #[error("public_key is not a valid Ed25519 key")]
    PublicKeyInvalid,
    /// `signature` is not 64 bytes of hex.
    #[error("signature is not 64 bytes of hex")]
    SignatureNotHex,
    /// Signature or key in another spelling than lowercase hex.
    #[error("signature or public_key is not in lowercase hex (the entry was edited)")]
    NotLowercase,
    /// The signature does not verify.
    #[error("the signature does not verify with the entry's public key")]
    SignatureFails,
    /// Signed by a key the auditor does not trust (and not a mere approval).
    #[error("signed by {key}, which is not a trusted key")]
    Untrusted {
        /// The signer, lowercase hex.
        key: String,
    },
    /// A quorum counts an approval signed by an untrusted key.
    #[error("its quorum counts the approval of entry #{seq}, signed by a key that is not trusted")]
    CountsUntrusted {
        /// The approval's sequence number.
        seq: u64,
    },
    /// The move is not legal from the ledger's mode.
    #[error(
        "{action} from {} to {to} is not a legal transition (the ledger was in {})",
        from.map_or("nothing".into(), |m| m.to_string()),
        mode.map_or("no mode".into(), |m| m.to_string())
    )]
    IllegalTransition {
        /// The entry's action.
        action: Action,
        /// Its `from`.
        from: Option<Mode>,
        /// Its `to`.
        to: Mode,
        /// The ledger's mode before it.
        mode: Option<Mode>,
    },
    /// An approval without the digest it approves.
    #[error("an approval must name the digest it approves (`approves`: 64 lowercase hex)")]
    ApprovalWithoutDigest,
    /// A rotation signed by another key than the one it replaces.
    #[error("a rotation must be signed by the key it replaces")]
    RotationNotByOldKey,
    /// `new_key` is not a key.
    #[error("new_key is not an Ed25519 public key in lowercase hex")]
    NewKeyInvalid,
    /// `new_key_signature` is not 64 bytes of hex.
    #[error("new_key_signature is not 64 bytes of hex")]
    NewKeySignatureNotHex,
    /// The new key's signature does not verify.
    #[error("new_key_signature does not verify: the new key was not proven")]
    NewKeyNotProven,
    /// A rotation without a quorum.
    #[error("a rotation needs a quorum")]
    RotationWithoutQuorum,
    /// A rotation of a key that is no operator.
    #[error("{key} is not an operator of the quorum it rotates")]
    RotatesNonOperator {
        /// The old key.
        key: String,
    },
    /// A promotion or rotation that records no quorum where the ledger has one.
    #[error("this {what} records no quorum, but the ledger's need {needed} approvals")]
    NoQuorum {
        /// "promotion" or "rotation".
        what: &'static str,
        /// The pinned quorum's approvals.
        needed: usize,
    },
    /// `quorum.approvals` does not fit.
    #[error("quorum.approvals is out of range")]
    ApprovalsOutOfRange,
    /// A recorded quorum that is no quorum (none needed, more than the operators, a bad key).
    #[error("this {what} records a quorum that cannot be one: {problem}")]
    NotAQuorum {
        /// "promotion" or "rotation".
        what: &'static str,
        /// Why.
        problem: String,
    },
    /// A quorum lower than the ledger's pinned one.
    #[error("this {what} was held to {held} approvals, but the ledger's need {needed}")]
    QuorumLowered {
        /// "promotion" or "rotation".
        what: &'static str,
        /// The recorded approvals.
        held: usize,
        /// The pinned approvals.
        needed: usize,
    },
    /// Other operators than the pinned quorum's.
    #[error("this {what} names other operators than the ledger's quorum")]
    OtherOperators {
        /// "promotion" or "rotation".
        what: &'static str,
    },
    /// `approved_by` names an entry that is no counting approval.
    #[error("quorum.approved_by names entry #{seq}, which is not a counting approval of {digest}")]
    BogusApproval {
        /// The named entry.
        seq: u64,
        /// The digest approved.
        digest: String,
    },
    /// Fewer approvals than the quorum needs.
    #[error("the {what} needed {needed} approvals of {digest} and had {had}")]
    TooFewApprovals {
        /// "promotion" or "rotation".
        what: &'static str,
        /// The quorum's approvals.
        needed: usize,
        /// The digest approved.
        digest: String,
        /// The approvals counted.
        had: usize,
    },
    /// The evidence an entry relied on changed or is gone.
    #[error(transparent)]
    Evidence(#[from] EvidenceProblem),
}

/// Why an entry's evidence no longer holds.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceProblem {
    /// The evidence record names no run directory (or file).
    #[error("the evidence record names no run or file")]
    NoRun,
    /// The run directory is gone.
    #[error("evidence run {run} is not there any more")]
    Gone {
        /// The run directory.
        run: String,
    },
    /// The manifest's digest changed.
    #[error("evidence run {run}: manifest.json changed since it was recorded")]
    ManifestChanged {
        /// The run directory.
        run: String,
    },
    /// An evidence file (isolation) is gone.
    #[error("evidence file {file} is not there any more")]
    FileGone {
        /// The file.
        file: String,
    },
    /// An evidence file's digest is not the one recorded, or the file no longer holds as evidence.
    #[error("evidence file {file}: {problem}")]
    FileChanged {
        /// The file.
        file: String,
        /// What changed.
        problem: String,
    },
    /// The run has a problem now (an edited file, a stray, a count).
    #[error("evidence run {run}: {problem}")]
    Problem {
        /// The run directory.
        run: String,
        /// The first problem.
        problem: String,
    },
}
