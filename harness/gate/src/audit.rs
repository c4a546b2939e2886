//! A ledger as `gate status` and `gate verify` report it: the state of a ledger that verifies
//! ([`status`]), and the audit with the check of a head hash an earlier audit printed ([`audit`]).

use std::path::Path;

use dualrun_core::Mode;
use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use crate::entry::Entry;
use crate::ledger::{self, Ledger, LedgerError, VerifyReport};
use dualrun_rundir::Moved;

/// What `gate status` reports; the field order is its JSON's.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The current mode.
    pub mode: Mode,
    /// The number of entries.
    pub entries: usize,
    /// The last entry.
    pub last: Entry,
}

/// The ledger's state, only when it verifies (evidence aside): an edited last entry does not decide the
/// mode.
pub fn status(path: &Path) -> Result<Status, LedgerError> {
    ledger::verify(path, &[], false)?;
    let l = Ledger::open(path)?;
    let last = l.entries.last().expect("an opened ledger has entries").clone();
    Ok(Status { mode: l.mode(), entries: l.entries.len(), last })
}

/// What an audit found.
#[derive(Debug)]
pub enum Audit {
    /// Every entry verifies (the report's findings aside) and the expected head, if any, is one of them.
    Verified(VerifyReport),
    /// Every entry verifies, but none has the expected head hash: entries were removed from the end.
    HeadMissing,
    /// An entry fails the audit (a [`LedgerError::Bad`]).
    Bad(LedgerError),
}

/// Audits the ledger ([`ledger::verify`]), the evidence read where `moved` says it is; with
/// `expect_head`, the head hash an earlier audit printed must be one of the entries (a later ledger may
/// have grown since). A ledger that cannot be read at all is an error.
pub fn audit(
    path: &Path,
    trusted: &[VerifyingKey],
    check_evidence: bool,
    moved: &Moved,
    expect_head: Option<&str>,
) -> Result<Audit, LedgerError> {
    let report = match ledger::verify_moved(path, trusted, check_evidence, moved) {
        Ok(r) => r,
        Err(e @ LedgerError::Bad { .. }) => return Ok(Audit::Bad(e)),
        Err(e) => return Err(e),
    };
    if let Some(want) = expect_head {
        if !Ledger::open(path)?.entries.iter().any(|e| e.hash == want) {
            return Ok(Audit::HeadMissing);
        }
    }
    Ok(Audit::Verified(report))
}

#[cfg(test)]
mod tests {
    use dualrun_keys::KeyFile;

    use super::*;
    use crate::operate::{self, Approval, Operator};

    fn ledger(dir: &Path) -> (std::path::PathBuf, KeyFile) {
        let path = dir.join("ledger.jsonl");
        let key = KeyFile::generate("alice").unwrap();
        Ledger::init(&path, &key, "alice").unwrap();
        (path, key)
    }

    /// The mode, the count and the last entry, in that order in JSON.
    #[test]
    fn status_of_a_new_ledger() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, _) = ledger(tmp.path());
        let s = status(&path).unwrap();
        assert_eq!((s.mode, s.entries, s.last.seq), (Mode::Legacy, 1, 0));
        let json = serde_json::to_value(&s).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["mode", "entries", "last"]);
        assert_eq!(json["last"]["action"], "init");
        std::fs::write(&path, b"{}\n").unwrap();
        assert!(matches!(status(&path), Err(LedgerError::Bad { .. })));
    }

    /// An earlier head is still found in a grown ledger; a head no entry has is a removal; a bad entry is
    /// a finding, a missing file an error.
    #[test]
    fn audits_check_the_expected_head() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, key) = ledger(tmp.path());
        let first = Ledger::open(&path).unwrap().entries[0].hash.clone();
        let by = Operator { key: &key, name: None, reason: "ok" };
        let digest = "ab".repeat(32);
        operate::approve(&path, Approval::Promotion { to: Mode::Shadow, digest }, &by).unwrap().unwrap();

        let Audit::Verified(r) = audit(&path, &[], false, &Moved::default(), Some(&first)).unwrap() else {
            panic!("verifies")
        };
        assert_eq!(r.entries, 2);
        assert!(matches!(audit(&path, &[], false, &Moved::default(), None).unwrap(), Audit::Verified(_)));
        assert!(matches!(
            audit(&path, &[], false, &Moved::default(), Some(&"00".repeat(32))).unwrap(),
            Audit::HeadMissing
        ));

        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{}\n");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            audit(&path, &[], false, &Moved::default(), Some(&first)).unwrap(),
            Audit::Bad(LedgerError::Bad { .. })
        ));
        assert!(audit(&tmp.path().join("missing"), &[], false, &Moved::default(), None).is_err());
    }
}
