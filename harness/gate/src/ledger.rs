//! The ledger: an append-only JSON-lines file of mode transitions.
//!
//! Each line is one entry, in canonical form (compact JSON, keys in the order written):
//! `seq`, `prev_hash`, `time_unix`, `action` (`init`, `promote`, `rollback`; `approve` and `rotate`, which
//! leave the mode as it is), `from`, `to`, `operator`, `public_key`, `reason`, `override`, `policy`,
//! `evidence`, `golden`, `evaluation`, the fields of the entry's own kind (see [`crate::quorum`]), then
//! `hash` and `signature`. `hash` is Keccak-256 of `"dualrun/ledger/v1\n"` followed by the entry's canonical JSON
//! without `hash` and `signature`; `signature` is the operator's Ed25519 signature of
//! `"dualrun/ledger/v1" ‖ hash`. Each entry names the previous entry's hash, so an edit, a deletion,
//! a reordering or an insertion anywhere breaks the chain; a line that is not in canonical form is itself
//! an error, so even whitespace changes are caught.

use std::io::Write;
use std::path::{Path, PathBuf};

use dualrun_core::Mode;
use dualrun_format::Hash32;
use dualrun_keys::KeyFile;
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde_json::Value;

use crate::entry::{Action, Entry, QuorumRecord, DOMAIN};
use crate::problem::EntryProblem;
use dualrun_rundir::Moved;

/// A ledger that cannot be read, written or verified.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A file that could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// `init` was given a path that already exists.
    #[error("{file}: already exists; a ledger is started once")]
    Exists {
        /// The ledger file.
        file: PathBuf,
    },
    /// An entry does not parse or fails an audit check (form, hash chain, signature, modes or evidence).
    #[error("{file}: entry {index} (line {line}): {problem}")]
    Bad {
        /// The ledger file.
        file: PathBuf,
        /// The entry's position, from 0.
        index: usize,
        /// The entry's line number, from 1.
        line: usize,
        /// What is wrong with the entry.
        #[source]
        problem: EntryProblem,
    },
    /// The file holds no entries.
    #[error("{file}: the ledger is empty")]
    Empty {
        /// The ledger file.
        file: PathBuf,
    },
    /// An append was refused (the ledger does not verify) or could not be written (the ledger is left as
    /// it was).
    #[error("{0}")]
    Refused(String),
}

/// An opened ledger (entries as parsed, unverified; call [`verify`] for an audit).
pub struct Ledger {
    /// The ledger file.
    pub path: PathBuf,
    /// The entries, oldest first.
    pub entries: Vec<Entry>,
}

fn message(hash: &Hash32) -> Vec<u8> {
    [DOMAIN.as_bytes(), &hash.0].concat()
}

/// What a new entry says (the ledger adds sequence, chain, time, key, hash and signature).
pub struct NewEntry {
    /// What it does.
    pub action: Action,
    /// The mode left (`None` for `init`).
    pub from: Option<Mode>,
    /// The mode entered.
    pub to: Mode,
    /// Why the operator made the transition.
    pub reason: String,
    /// Whether a promotion was forced past an evaluation that did not pass.
    pub override_: bool,
    /// The digest and path of the policy evaluated (null if none).
    pub policy: Value,
    /// The evidence runs relied on, as they were evaluated.
    pub evidence: Vec<Value>,
    /// The golden-vector results (null if none).
    pub golden: Value,
    /// The gate's evaluation (null if none).
    pub evaluation: Value,
    /// An approval's digest.
    pub approves: Option<String>,
    /// A rotation: the old key, the new key and the new key's signature of the rotation.
    pub rotation: Option<(String, String, String)>,
    /// The quorum a promotion or rotation met.
    pub quorum: Option<QuorumRecord>,
}

impl NewEntry {
    /// An entry that relies on no evaluation (init, rollback, approve, rotate): no policy, evidence,
    /// golden results or evaluation, nor fields of its own kind (set them after).
    pub fn bare(action: Action, from: Option<Mode>, to: Mode, reason: impl Into<String>) -> NewEntry {
        NewEntry {
            action,
            from,
            to,
            reason: reason.into(),
            override_: false,
            policy: Value::Null,
            evidence: vec![],
            golden: Value::Null,
            evaluation: Value::Null,
            approves: None,
            rotation: None,
            quorum: None,
        }
    }
}

/// An exclusive lock on a ledger, held while an operator reads, decides and appends, so two operators
/// (a promotion racing a rollback) cannot interleave. Released on drop.
pub struct LedgerLock {
    _file: std::fs::File,
}

impl Ledger {
    /// Locks the ledger file (waiting for another holder), and checks its chain before anything is
    /// appended to it: nothing is ever added to a ledger that does not verify.
    pub fn lock(path: &Path) -> Result<LedgerLock, LedgerError> {
        let file = std::fs::File::open(path).map_err(dualrun_format::FileError::at(path))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(dualrun_format::FileError::new(path, std::io::Error::last_os_error()).into());
        }
        verify(path, &[], false)
            .map_err(|e| LedgerError::Refused(format!("not appending to a ledger that does not verify: {e}")))?;
        Ok(LedgerLock { _file: file })
    }

    /// Reads a ledger's entries without verifying them.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let text = std::fs::read_to_string(path).map_err(dualrun_format::FileError::at(path))?;
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let bad = |problem| LedgerError::Bad { file: path.into(), index: i, line: i + 1, problem };
            let v: Value = serde_json::from_str(line).map_err(|e| bad(EntryProblem::NotJson(e)))?;
            entries.push(serde_json::from_value(v).map_err(|e| bad(EntryProblem::NotAnEntry(e)))?);
        }
        if entries.is_empty() {
            return Err(LedgerError::Empty { file: path.into() });
        }
        Ok(Ledger { path: path.into(), entries })
    }

    /// Starts a ledger in `legacy` mode.
    pub fn init(path: &Path, key: &KeyFile, operator: &str) -> Result<Ledger, LedgerError> {
        // Created exclusively: of two `init`s racing for one path, exactly one makes the file.
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(LedgerError::Exists { file: path.into() })
            }
            Err(e) => return Err(dualrun_format::FileError::new(path, e).into()),
        }
        let mut l = Ledger { path: path.into(), entries: Vec::new() };
        let first = l.append(NewEntry::bare(Action::Init, None, Mode::Legacy, "ledger started"), key, operator);
        if let Err(e) = first {
            // Nothing was there before: leave nothing behind.
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        Ok(l)
    }

    /// The current mode: the `to` of the last transition (`legacy` if there is none); approvals and
    /// rotations do not move it.
    pub fn mode(&self) -> Mode {
        self.entries.iter().rev().find(|e| e.action.moves()).map_or(Mode::Legacy, |e| e.to)
    }

    /// The profile digest of the newest evidence the ledger relied on.
    pub fn last_profile_digest(&self) -> Option<String> {
        self.entries
            .iter()
            .rev()
            .flat_map(|e| e.evidence.iter())
            .find_map(|ev| ev["profile_digest"].as_str().map(str::to_owned))
    }

    /// Signs and appends an entry (the file is appended and synced; nothing else is rewritten).
    pub fn append(&mut self, e: NewEntry, key: &KeyFile, operator: &str) -> Result<&Entry, LedgerError> {
        let prev_hash = self.entries.last().map_or_else(|| Hash32::ZERO.to_string(), |p| p.hash.clone());
        let time_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let (old_key, new_key, new_key_signature) = match e.rotation {
            Some((old, new, sig)) => (Some(old), Some(new), Some(sig)),
            None => (None, None, None),
        };
        let mut entry = Entry {
            seq: self.entries.len() as u64,
            prev_hash,
            time_unix,
            action: e.action,
            from: e.from,
            to: e.to,
            operator: operator.into(),
            public_key: key.public_key_hex(),
            reason: e.reason,
            override_: e.override_,
            policy: e.policy,
            evidence: e.evidence,
            golden: e.golden,
            evaluation: e.evaluation,
            approves: e.approves,
            old_key,
            new_key,
            new_key_signature,
            quorum: e.quorum,
            hash: String::new(),
            signature: String::new(),
        };
        let hash = entry.computed_hash();
        entry.hash = hash.to_string();
        entry.signature = hex::encode(key.signing_key.sign(&message(&hash)).to_bytes());
        let mut line = entry.line();
        line.push('\n');
        append_all_or_nothing(&self.path, line.as_bytes())?;
        self.entries.push(entry);
        Ok(self.entries.last().expect("just pushed"))
    }
}

/// Appends `line` to the ledger all-or-nothing: written and synced, or (a full disk, an I/O error) the
/// file is cut back to its length before and synced again, and the error returned. A partial line would
/// make the ledger fail every audit and refuse every later append, rollback included.
fn append_all_or_nothing(path: &Path, line: &[u8]) -> Result<(), LedgerError> {
    let io = |e| LedgerError::from(dualrun_format::FileError::new(path, e));
    let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(io)?;
    let before = f.metadata().map_err(io)?.len();
    let written = f.write_all(line).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let restored = f.set_len(before).and_then(|()| f.sync_all());
        return Err(match restored {
            Ok(()) => LedgerError::Refused(format!(
                "{}: the entry could not be written ({e}); the ledger is as it was, nothing was recorded",
                path.display()
            )),
            Err(r) => LedgerError::Refused(format!(
                "{}: the entry could not be written ({e}), and cutting the partial line off failed too ({r}): \
                 run `dualrun gate repair --ledger {}` once the disk has room",
                path.display(),
                path.display()
            )),
        });
    }
    Ok(())
}

/// What `repair` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// The ledger ends with a complete line: nothing to do.
    NothingToDo,
    /// An unterminated final line of this many bytes was removed.
    RemovedIncompleteEntry(u64),
}

/// Removes an unterminated final line (a write cut short by power loss) and nothing else; records
/// nothing. Held under the ledger's lock.
pub fn repair(path: &Path) -> Result<Repair, LedgerError> {
    let io = |e| LedgerError::from(dualrun_format::FileError::new(path, e));
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(io)?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut bytes).map_err(io)?;
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if keep == bytes.len() {
        return Ok(Repair::NothingToDo);
    }
    f.set_len(keep as u64).and_then(|()| f.sync_all()).map_err(io)?;
    Ok(Repair::RemovedIncompleteEntry((bytes.len() - keep) as u64))
}

/// What an audit found.
#[derive(Debug)]
pub struct VerifyReport {
    /// The number of entries checked.
    pub entries: usize,
    /// The ledger's current mode (the last entry's `to`).
    pub mode: Mode,
    /// The last entry's hash: an auditor who keeps it can later tell a ledger cut short
    /// (`gate verify --expect-head`).
    pub head: Hash32,
    /// Entries that are sound but were not expected, each naming its entry and line: an approval signed
    /// by a key that is not trusted (it counts toward no quorum; the ledger's hash chain keeps it).
    pub findings: Vec<String>,
}

/// The key that signed entry `e` (whose hash is `hash`): its `public_key`, a valid Ed25519 key whose
/// signature over the hash verifies, both in their one lowercase-hex spelling.
fn signer(e: &Entry, hash: &Hash32) -> Result<VerifyingKey, EntryProblem> {
    let key_bytes: [u8; 32] =
        hex::decode(&e.public_key).ok().and_then(|b| b.try_into().ok()).ok_or(EntryProblem::PublicKeyNotHex)?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| EntryProblem::PublicKeyInvalid)?;
    let sig_hex = e.signature.as_str();
    let sig: [u8; 64] =
        hex::decode(sig_hex).ok().and_then(|b| b.try_into().ok()).ok_or(EntryProblem::SignatureNotHex)?;
    // The signature is outside the hash: only its one (lowercase) spelling is accepted.
    if hex::encode(sig) != sig_hex || hex::encode(key_bytes) != e.public_key {
        return Err(EntryProblem::NotLowercase);
    }
    if key.verify_strict(&message(hash), &Signature::from_bytes(&sig)).is_err() {
        return Err(EntryProblem::SignatureFails);
    }
    Ok(key)
}

/// Audits a ledger: canonical form, the hash chain, every signature (and, if given, that every key is
/// trusted), a legal sequence of modes, and that the evidence each entry relied on is unchanged. Returns
/// the first bad entry as an error. An approval by a key that is not trusted is a finding of the report,
/// not an error: it moves nothing and the hash chain forbids removing it, so the entries after it are
/// still verified — but a promotion or rotation that counted it is an error.
pub fn verify(path: &Path, trusted: &[VerifyingKey], check_evidence: bool) -> Result<VerifyReport, LedgerError> {
    verify_moved(path, trusted, check_evidence, &Moved::default())
}

/// [`verify`], the evidence read where `moved` says it is now (an audit of a copy).
pub fn verify_moved(
    path: &Path,
    trusted: &[VerifyingKey],
    check_evidence: bool,
    moved: &Moved,
) -> Result<VerifyReport, LedgerError> {
    let bytes = std::fs::read(path).map_err(dualrun_format::FileError::at(path))?;
    let bad_at = |index: usize, problem| LedgerError::Bad { file: path.into(), index, line: index + 1, problem };
    if bytes.is_empty() {
        return Err(bad_at(0, EntryProblem::EmptyFile));
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let index = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count();
            return Err(bad_at(index, EntryProblem::NotUtf8));
        }
    };
    if !text.ends_with('\n') {
        let n = text.split('\n').count() - 1;
        return Err(bad_at(n, EntryProblem::Unterminated { ledger: path.display().to_string() }));
    }
    let mut prev_hash = Hash32::ZERO;
    let mut mode: Option<Mode> = None;
    let mut count = 0;
    let mut seen: Vec<Entry> = Vec::new();
    let mut findings = Vec::new();
    // Sequence numbers of approvals signed by an untrusted key: no quorum may count them.
    let mut untrusted_approvals = std::collections::BTreeSet::new();
    // Lines end in exactly one '\n': a '\r' anywhere is an edit.
    for (i, line) in text.strip_suffix('\n').unwrap_or(text).split('\n').enumerate() {
        let bad = |problem| LedgerError::Bad { file: path.into(), index: i, line: i + 1, problem };
        let v: Value = serde_json::from_str(line).map_err(|e| bad(EntryProblem::NotJson(e)))?;
        let e: Entry = serde_json::from_value(v).map_err(|e| bad(EntryProblem::NotAnEntry(e)))?;
        // Canonical: the entry serializes back to the very line (no reordered key, no other spelling).
        if e.line() != line {
            return Err(bad(EntryProblem::NotCanonical));
        }
        if e.seq != i as u64 {
            return Err(bad(EntryProblem::Seq { found: e.seq, expected: i }));
        }
        let hash = e.computed_hash();
        if e.hash != hash.to_string() {
            return Err(bad(EntryProblem::Hash));
        }
        if e.prev_hash != prev_hash.to_string() {
            return Err(bad(EntryProblem::BrokenChain));
        }
        let key = signer(&e, &hash).map_err(bad)?;
        let key_bytes = key.to_bytes();
        let (to, from, action) = (e.to, e.from, e.action);
        if !trusted.is_empty() && !trusted.contains(&key) {
            if action != Action::Approve {
                return Err(bad(EntryProblem::Untrusted { key: hex::encode(key_bytes) }));
            }
            untrusted_approvals.insert(i as u64);
            findings.push(format!(
                "{}: entry {i} (line {}): an approval signed by {}, which is not a trusted key; it counts toward no \
                 quorum",
                path.display(),
                i + 1,
                hex::encode(key_bytes)
            ));
        }
        let counted = e.quorum.iter().flat_map(|q| q.approved_by.iter());
        if let Some(n) = counted.copied().find(|n| untrusted_approvals.contains(n)) {
            return Err(bad(EntryProblem::CountsUntrusted { seq: n }));
        }
        let legal = match (action, mode, from) {
            (Action::Init, None, None) => to == Mode::Legacy,
            (Action::Promote, Some(m), Some(f)) => f == m && f.next() == Some(to),
            (Action::Rollback, Some(m), Some(f)) => f == m && to < f,
            // An approval is of the next move (or, for a rotation, of the mode as it is); neither moves.
            (Action::Approve, Some(m), Some(f)) => f == m && (f.next() == Some(to) || to == m),
            (Action::Rotate, Some(m), Some(f)) => f == m && to == m,
            _ => false,
        };
        if !legal {
            return Err(bad(EntryProblem::IllegalTransition { action, from, to, mode }));
        }
        if check_evidence {
            for ev in &e.evidence {
                recheck(ev, moved).map_err(|p| bad(p.into()))?;
            }
        }
        crate::quorum::check_entry(&seen, &e).map_err(&bad)?;
        if action.moves() {
            mode = Some(to);
        }
        prev_hash = hash;
        count += 1;
        seen.push(e);
    }
    Ok(VerifyReport { entries: count, mode: mode.expect("at least one entry"), head: prev_hash, findings })
}

/// Re-checks one evidence record of an entry against what it names as it is now: a replay run (no
/// `kind`), an isolation file or a fleet run.
fn recheck(record: &Value, moved: &Moved) -> Result<(), crate::problem::EvidenceProblem> {
    match record["kind"].as_str() {
        Some(crate::isolation::KIND) => crate::isolation::recheck(record, moved),
        Some(crate::fleet::KIND) => crate::fleet::recheck(record, moved),
        _ => crate::evidence::recheck(record, moved),
    }
}
