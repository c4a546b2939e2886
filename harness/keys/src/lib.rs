//! Ed25519 key files, for leaders and gate operators alike, and the ids keys sign as ([`id_problem`]:
//! what an id may be, wherever one is read — a key file, a profile, a leader record).
//!
//! A key file is TOML, written with permissions 0600 and never over an existing file:
//!
//! ```toml
//! # dualrun key file: an Ed25519 secret key. Keep it private (0600); never commit it.
//! format = "dualrun-key/v1"
//! id = "leader-1"
//! public_key = "<32 bytes hex>"
//! secret_key = "<32-byte Ed25519 seed, hex>"
//! ```
//! Reading checks that the public key is the secret key's, so a hand-edited file cannot sign under a
//! key it does not hold.

mod id;

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

pub use id::{id_problem, MAX_ID_LEN};

/// The `format` value of every key file.
pub const FORMAT: &str = "dualrun-key/v1";

/// A key file that cannot be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file that could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The file to write already exists.
    #[error("{file}: already exists; refusing to overwrite a key file")]
    Exists {
        /// The key file.
        file: PathBuf,
    },
    /// The file is not a valid dualrun key file.
    #[error("{file}: not a dualrun key file: {problem}")]
    Invalid {
        /// The key file.
        file: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The id is not an acceptable leader id.
    #[error("invalid key id {id:?}: {problem}")]
    BadId {
        /// The id given.
        id: String,
        /// Why it is not acceptable.
        problem: String,
    },
    /// The operating system gave no randomness for a new key.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// A key and the id it signs as.
#[derive(Clone)]
pub struct KeyFile {
    /// The id the key signs as.
    pub id: String,
    /// The Ed25519 secret key.
    pub signing_key: SigningKey,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile").field("id", &self.id).field("public_key", &self.public_key_hex()).finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    format: String,
    id: String,
    public_key: String,
    secret_key: String,
}

impl KeyFile {
    /// A new random key for `id`.
    pub fn generate(id: &str) -> Result<KeyFile, KeyError> {
        if let Some(problem) = id_problem(id.as_bytes()) {
            return Err(KeyError::BadId { id: id.into(), problem });
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(KeyFile { id: id.into(), signing_key: SigningKey::from_bytes(&seed) })
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// The public key, in hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.verifying_key().as_bytes())
    }

    /// Writes the key to a new file with permissions 0600; an existing file is never touched.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::from(dualrun_format::FileError::new(path, source));
        let raw = RawKey {
            format: FORMAT.into(),
            id: self.id.clone(),
            public_key: self.public_key_hex(),
            secret_key: hex::encode(self.signing_key.to_bytes()),
        };
        let text = format!(
            "# dualrun key file: an Ed25519 secret key. Keep it private (0600); never commit it.\n{}",
            toml::to_string(&raw).expect("plain strings serialize")
        );
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
                match e.kind() {
                    std::io::ErrorKind::AlreadyExists => KeyError::Exists { file: path.to_path_buf() },
                    _ => io(e),
                }
            })?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads a key file. Group- or world-readable files are accepted with a warning on stderr (throwaway
    /// test keys checked out by git are 0644).
    pub fn read(path: &Path) -> Result<KeyFile, KeyError> {
        let invalid = |problem: String| KeyError::Invalid { file: path.to_path_buf(), problem };
        let text = std::fs::read_to_string(path).map_err(dualrun_format::FileError::at(path))?;
        let raw: RawKey = toml::from_str(&text).map_err(|e| invalid(e.to_string().trim_end().to_owned()))?;
        if raw.format != FORMAT {
            return Err(invalid(format!("format {:?}, expected {FORMAT:?}", raw.format)));
        }
        if let Some(problem) = id_problem(raw.id.as_bytes()) {
            return Err(invalid(format!("id {:?}: {problem}", raw.id)));
        }
        let seed: [u8; 32] = hex::decode(&raw.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| invalid("secret_key is not 32 bytes of hex".into()))?;
        let key = KeyFile { id: raw.id, signing_key: SigningKey::from_bytes(&seed) };
        if key.public_key_hex() != raw.public_key.to_ascii_lowercase() {
            return Err(invalid("public_key does not belong to secret_key".into()));
        }
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "dualrun: warning: {} is readable by others (mode {:o}); use chmod 600",
                    path.display(),
                    meta.permissions().mode() & 0o777
                );
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A written key reads back as the same key; the file is never overwritten, and one whose public key
    /// is not its secret key's is refused.
    #[test]
    fn a_key_file_round_trips_and_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.key");
        let key = KeyFile::generate("leader-1").unwrap();
        key.write_new(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back = KeyFile::read(&path).unwrap();
        assert_eq!((back.id.as_str(), back.public_key_hex()), ("leader-1", key.public_key_hex()));

        let e = KeyFile::generate("other").unwrap().write_new(&path).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: already exists; refusing to overwrite a key file", path.display()));

        let other = KeyFile::generate("other").unwrap().public_key_hex();
        let text = std::fs::read_to_string(&path).unwrap().replace(&key.public_key_hex(), &other);
        let edited = tmp.path().join("edited.key");
        std::fs::write(&edited, text).unwrap();
        let e = KeyFile::read(&edited).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: not a dualrun key file: public_key does not belong to secret_key", edited.display())
        );
    }

    #[test]
    fn a_bad_id_is_refused() {
        let e = KeyFile::generate("").unwrap_err();
        assert_eq!(e.to_string(), "invalid key id \"\": id is 0 bytes; it must be 1..=32");
        assert_eq!(id_problem(b"a b").unwrap(), "id contains byte 0x20; allowed are A-Z a-z 0-9 . _ -");
    }
}
