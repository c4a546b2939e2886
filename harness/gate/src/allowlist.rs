//! Known divergences, excused with a justification, an author and an expiry (a height or a date).
//!
//! ```toml
//! [[entries]]
//! block_id = "b612…"
//! class = "halt"                  # never "split": a split is never excused
//! justification = "leader record absent by design on the migration testnet"
//! author = "alice"
//! expires_height = 5000           # or expires_date = "2027-01-31"
//! ```
//! An entry is active until the evidence reaches its expiry height, or until the day after its expiry
//! date. Active entries excuse matching divergences for SHADOW → PRIMARY; any active entry blocks
//! PRIMARY → ONLY.

use std::path::{Path, PathBuf};

use dualrun_core::RecordClass;
use dualrun_format::Hash32;
use serde::Deserialize;

/// One excused divergence.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The block whose divergence is excused.
    pub block_id: Hash32,
    /// The divergence class excused (halt, fact or reason).
    pub class: RecordClass,
    /// Why it is acceptable.
    pub justification: String,
    /// Who says so.
    pub author: String,
    /// The entry expires when the evidence reaches this height.
    #[serde(default)]
    pub expires_height: Option<u64>,
    /// `YYYY-MM-DD` (UTC).
    #[serde(default)]
    pub expires_date: Option<String>,
}

/// An allowlist: the excused divergences, as loaded from a file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// The entries, in file order.
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// Keccak-256 of the file's bytes.
    #[serde(skip)]
    pub digest: String,
    /// The file the allowlist was loaded from.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// An allowlist file that cannot be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    /// A file that could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The file does not parse, or an entry breaks a rule.
    #[error("{file}: {message}")]
    Invalid {
        /// The allowlist file.
        file: PathBuf,
        /// What is wrong, naming the entry if one is.
        message: String,
    },
}

/// Today's date, `YYYY-MM-DD` UTC (the gate's time; never used inside a verdict).
pub fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    dualrun_core::UtcTime::from_unix(secs).date()
}

impl Allowlist {
    /// Reads and checks an allowlist file: every entry needs a divergence class other than split, a valid
    /// expiry, a justification and an author.
    pub fn load(path: &Path) -> Result<Allowlist, AllowlistError> {
        let bytes = std::fs::read(path).map_err(dualrun_format::FileError::at(path))?;
        let mut a: Allowlist = toml::from_str(&String::from_utf8_lossy(&bytes))
            .map_err(|e| AllowlistError::Invalid { file: path.into(), message: e.to_string().trim_end().into() })?;
        for (i, e) in a.entries.iter().enumerate() {
            let bad = |m: String| AllowlistError::Invalid { file: path.into(), message: format!("entries[{i}]: {m}") };
            if e.class == RecordClass::Split {
                return Err(bad("a split is never excused".into()));
            }
            if !e.class.is_divergence() {
                return Err(bad(format!("class {:?}: expected halt, fact or reason", e.class.as_str())));
            }
            if e.expires_height.is_none() && e.expires_date.is_none() {
                return Err(bad("needs an expiry: expires_height or expires_date".into()));
            }
            if let Some(d) = &e.expires_date {
                let b = d.as_bytes();
                let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
                let num = |r: std::ops::Range<usize>| d.get(r).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
                let ok = b.len() == 10
                    && b[4] == b'-'
                    && b[7] == b'-'
                    && digits(0..4)
                    && digits(5..7)
                    && digits(8..10)
                    && (1..=12).contains(&num(5..7))
                    && (1..=31).contains(&num(8..10));
                if !ok {
                    return Err(bad(format!("expires_date {d:?}: expected YYYY-MM-DD")));
                }
            }
            if e.justification.trim().is_empty() || e.author.trim().is_empty() {
                return Err(bad("justification and author are required".into()));
            }
        }
        a.digest = dualrun_format::keccak256(&bytes).to_string();
        a.path = Some(path.into());
        Ok(a)
    }

    /// Whether `e` is still active for evidence reaching `height`, on `today`.
    pub fn active(e: &Entry, height: u64, today: &str) -> bool {
        e.expires_height.is_none_or(|h| height < h) && e.expires_date.as_deref().is_none_or(|d| today <= d)
    }
}
