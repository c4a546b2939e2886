//! A ledger entry, typed: one line of the ledger. Its canonical form is its serialization — compact
//! JSON, the fields in this order, the optional ones only when present — so a line is an entry exactly
//! when it parses into an [`Entry`] and serializes back to the same bytes (an edit that keeps the JSON
//! valid, reorders keys, adds a key or changes a number's spelling is caught).

use dualrun_core::Mode;
use dualrun_format::{keccak256, Hash32};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The domain every entry hash and signature is made in.
pub(crate) const DOMAIN: &str = "dualrun/ledger/v1";

/// What an entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Starts the ledger in `legacy`.
    Init,
    /// One step forward, on an evaluation.
    Promote,
    /// Back to an earlier mode.
    Rollback,
    /// An operator's approval of a promotion's evaluation or of a rotation; moves nothing.
    Approve,
    /// An operator's key replaced; moves nothing.
    Rotate,
}

impl Action {
    /// Whether the entry moves the mode (after it, earlier approvals no longer count).
    pub fn moves(self) -> bool {
        matches!(self, Action::Init | Action::Promote | Action::Rollback)
    }

    /// Its name in the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Init => "init",
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::Approve => "approve",
            Action::Rotate => "rotate",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The quorum a promotion or rotation met, as it records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumRecord {
    /// Approvals needed.
    pub approvals: u64,
    /// The operators' keys (hex).
    pub operators: Vec<String>,
    /// The sequence numbers of the approvals that counted.
    pub approved_by: Vec<u64>,
}

/// One ledger entry. The field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Its position, from 0.
    pub seq: u64,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// When it was written, unix seconds (the one clock reading in the gate: it decides nothing).
    pub time_unix: u64,
    /// What it does.
    pub action: Action,
    /// The mode left (none for `init`).
    pub from: Option<Mode>,
    /// The mode entered (for approvals and rotations: the mode approved into, or the mode as it is).
    pub to: Mode,
    /// The operator's name.
    pub operator: String,
    /// The signing key, lowercase hex.
    pub public_key: String,
    /// Why.
    pub reason: String,
    /// A promotion forced past an evaluation that did not pass.
    #[serde(rename = "override")]
    pub override_: bool,
    /// The policy evaluated (`{digest, path}`), or null.
    pub policy: Value,
    /// The evidence runs relied on, as evaluated.
    pub evidence: Vec<Value>,
    /// The golden results, or null.
    pub golden: Value,
    /// The evaluation, or null.
    pub evaluation: Value,
    /// An approval's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approves: Option<String>,
    /// A rotation's replaced key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key: Option<String>,
    /// A rotation's new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<String>,
    /// The new key's signature of the rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key_signature: Option<String>,
    /// The quorum a promotion or rotation met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumRecord>,
    /// Keccak-256 of the domain and the entry without `hash` and `signature`.
    pub hash: String,
    /// The operator's Ed25519 signature of the domain and the hash, lowercase hex.
    pub signature: String,
}

impl Entry {
    /// The hash the entry must carry: Keccak-256 of `"dualrun/ledger/v1\n"` and its canonical JSON
    /// without `hash` and `signature`.
    pub fn computed_hash(&self) -> Hash32 {
        let Value::Object(mut body) = serde_json::to_value(self).expect("entries serialize") else {
            unreachable!("an entry is an object")
        };
        body.remove("hash");
        body.remove("signature");
        let mut bytes = format!("{DOMAIN}\n").into_bytes();
        bytes.extend(serde_json::to_vec(&Value::Object(body)).expect("serializes"));
        keccak256(&bytes)
    }

    /// The canonical line (without its newline).
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("entries serialize")
    }

    /// The evaluation digest a promotion relied on.
    pub fn evaluation_digest(&self) -> Option<&str> {
        self.evaluation.get("evaluation_digest").and_then(Value::as_str)
    }

    /// One line for people: `#SEQ ACTION FROM -> TO by OPERATOR (on evidence|OVERRIDE): REASON`. The
    /// operator and the reason are anyone's text: every control character in them is escaped, so none
    /// reaches a terminal.
    pub fn summary(&self) -> String {
        format!(
            "#{} {} {} -> {} by {} ({}): {}",
            self.seq,
            self.action,
            self.from.map_or_else(|| "-".to_owned(), |m| m.to_string()),
            self.to,
            printable(&self.operator),
            if self.override_ { "OVERRIDE" } else { "on evidence" },
            printable(&self.reason)
        )
    }
}

/// `s` with every control character escaped (`\u{1b}`, `\n`), the rest as it is.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signed first entry, made a promotion.
    fn entry() -> Entry {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ledger.jsonl");
        let key = dualrun_keys::KeyFile::generate("alice").unwrap();
        let first = crate::Ledger::init(&path, &key, "alice").unwrap().entries.remove(0);
        let reason = "drill".to_owned();
        Entry { seq: 3, action: Action::Promote, from: Some(Mode::Shadow), to: Mode::Primary, reason, ..first }
    }

    #[test]
    fn a_summary_escapes_control_characters() {
        assert_eq!(entry().summary(), "#3 promote shadow -> primary by alice (on evidence): drill");
        let e = Entry {
            action: Action::Init,
            from: None,
            to: Mode::Legacy,
            override_: true,
            operator: "\u{1b}[31mmallory".into(),
            reason: "line\nbreak\tü".into(),
            ..entry()
        };
        assert_eq!(e.summary(), "#3 init - -> legacy by \\u{1b}[31mmallory (OVERRIDE): line\\nbreak\\tü");
    }
}
