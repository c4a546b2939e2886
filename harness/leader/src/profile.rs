//! Network profiles (TOML): which network, which chain (genesis), who may lead and when. The
//! `[network]` table is a network's identity (`dualrun_network::Network`); the rest is the leader
//! protocol's.
//!
//! ```toml
//! [network]
//! name = "xcash-migration"
//! network_id = "1230f171610441611731008216a1a110"   # 16 bytes hex
//! genesis_id = "418015bb…32e3"                       # refuse other chains
//!
//! [leader]
//! activation_height = 1          # blocks below: structural rules only
//! schedule = "round-robin"       # "fixed" | "round-robin" | "hash"
//! failover_seconds = 0           # 0 = off
//! min_interval_seconds = 0       # 0 = off
//!
//! [[leader.validators]]
//! id = "leader-1"
//! public_key = "<64 hex chars>"
//! ```
//! Every problem is reported with the file and the field (`leader.validators[1].public_key`).

use std::fmt;
use std::path::{Path, PathBuf};

use dualrun_core::ReplayEnv;
use dualrun_format::{keccak256, Hash32};
use dualrun_keys::KeyFile;
use dualrun_network::{hex_array, ChainContext, Network, NetworkError, NetworkTable};
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::finality_rule::{FinalityRule, Fraction};
pub use dualrun_keys::{id_problem, MAX_ID_LEN};

/// How the scheduled validator of a height is chosen (see [`crate::schedule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// Always the first validator.
    Fixed,
    /// The validators in turn, starting at the activation height.
    RoundRobin,
    /// A Keccak-256 hash of the height and the validator ids picks one.
    Hash,
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScheduleKind::Fixed => "fixed",
            ScheduleKind::RoundRobin => "round-robin",
            ScheduleKind::Hash => "hash",
        })
    }
}

/// A validator of the profile: its id and the key it signs with.
#[derive(Debug, Clone)]
pub struct Validator {
    /// The validator's id, as leader records name it.
    pub id: String,
    /// The validator's Ed25519 public key.
    pub public_key: VerifyingKey,
}

/// A checked profile. `name`, `network_id` and `genesis_id` are its network's identity
/// ([`Profile::network`]).
#[derive(Debug, Clone)]
pub struct Profile {
    /// The network's name.
    pub name: String,
    /// The network id, part of every signed message.
    pub network_id: [u8; 16],
    /// The id of the chain's block 0; other chains are refused.
    pub genesis_id: Hash32,
    /// The id the network's nodes use in P2P handshakes (see [`Network`]).
    pub p2p_network_id: [u8; 16],
    /// The first height whose blocks need a leader record.
    pub activation_height: u64,
    /// How heights are assigned to validators.
    pub schedule: ScheduleKind,
    /// Seconds a block may lag its parent before each next validator may also sign it (0: no failover).
    pub failover_seconds: u64,
    /// The least number of seconds between a block and its parent (0: no minimum).
    pub min_interval_seconds: u64,
    /// In profile order: the schedule indexes this list.
    pub validators: Vec<Validator>,
    /// `[leader.finality]`: the votes a block needs to be final, if the network votes.
    pub finality: Option<FinalityRule>,
    /// Keccak-256 of the profile file's bytes: names exactly the profile a run used.
    pub digest: Hash32,
    /// Where it was read from (for messages).
    pub source: PathBuf,
}

/// A profile that cannot be used; `field` is its dotted path in the TOML.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A file that could not be read or written.
    #[error(transparent)]
    File(#[from] dualrun_format::FileError),
    /// The file is not UTF-8, or not valid profile TOML.
    #[error("{file}: not valid profile TOML: {message}")]
    Syntax {
        /// The profile file.
        file: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A field of `[leader]` whose value is not acceptable.
    #[error("{file}: {field}: {problem}")]
    Field {
        /// The profile file.
        file: PathBuf,
        /// The field's dotted path in the TOML.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A field of `[network]` whose value is not acceptable, or a chain whose block 0 is not the
    /// profile's genesis block.
    #[error(transparent)]
    Network(#[from] NetworkError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    network: NetworkTable,
    leader: RawLeader,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLeader {
    activation_height: u64,
    schedule: String,
    #[serde(default)]
    failover_seconds: u64,
    #[serde(default)]
    min_interval_seconds: u64,
    #[serde(default)]
    validators: Vec<RawValidator>,
    finality: Option<RawFinality>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFinality {
    quorum: String,
    activation_height: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValidator {
    id: String,
    public_key: String,
}

/// A key file that does not sign for a validator of the profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The key's id is not a validator's id.
    #[error("key id {id:?} is not a validator of profile {profile}")]
    NotAValidator {
        /// The key file's id.
        id: String,
        /// The profile file.
        profile: PathBuf,
    },
    /// The validator with the key's id has another public key.
    #[error("the public key of {id:?} differs from the one in profile {profile}")]
    KeyMismatch {
        /// The key file's id.
        id: String,
        /// The profile file.
        profile: PathBuf,
    },
}

/// A key file given to sign for a profile (`--key`) that cannot be read, or does not sign for it.
#[derive(Debug, thiserror::Error)]
pub enum SignerFileError {
    /// The key file cannot be read.
    #[error(transparent)]
    Key(#[from] dualrun_keys::KeyError),
    /// The key is not a validator's key.
    #[error("{file}: {error}")]
    NotASigner {
        /// The key file.
        file: PathBuf,
        /// Why it does not sign for the profile.
        error: SignerError,
    },
}

impl Profile {
    /// The profile's network: its `[network]` table, checked.
    pub fn network(&self) -> Network {
        Network {
            name: self.name.clone(),
            network_id: self.network_id,
            genesis_id: self.genesis_id,
            p2p_network_id: self.p2p_network_id,
            source: self.source.clone(),
        }
    }

    /// The env of the block `ctx` is positioned at, under this profile (see [`Network::env`]).
    pub fn env(&self, ctx: &ChainContext, now: u64) -> ReplayEnv {
        self.network().env(self.activation_height, ctx, now)
    }

    /// The index of the validator a key file signs for; refuses a key whose id is not a validator or
    /// whose public key is not the profile's.
    pub fn signer_index(&self, key: &KeyFile) -> Result<usize, SignerError> {
        let i = self
            .validator_index(&key.id)
            .ok_or_else(|| SignerError::NotAValidator { id: key.id.clone(), profile: self.source.clone() })?;
        if self.validators[i].public_key != key.verifying_key() {
            return Err(SignerError::KeyMismatch { id: key.id.clone(), profile: self.source.clone() });
        }
        Ok(i)
    }

    /// Reads the key files at `paths`, each with the index of the validator it signs for (see
    /// [`Profile::signer_index`]), in the order given.
    pub fn signers(&self, paths: &[PathBuf]) -> Result<Vec<(usize, KeyFile)>, SignerFileError> {
        paths
            .iter()
            .map(|path| {
                let key = KeyFile::read(path)?;
                let index = self
                    .signer_index(&key)
                    .map_err(|error| SignerFileError::NotASigner { file: path.clone(), error })?;
                Ok((index, key))
            })
            .collect()
    }

    /// Reads and checks the profile file at `path`.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let bytes = std::fs::read(path).map_err(dualrun_format::FileError::at(path))?;
        Profile::parse(&bytes, path)
    }

    /// Parses and checks profile text; `source` names it in errors.
    pub fn parse(bytes: &[u8], source: &Path) -> Result<Profile, ProfileError> {
        let file = source.to_path_buf();
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ProfileError::Syntax { file: file.clone(), message: format!("not UTF-8: {e}") })?;
        let raw: RawProfile = toml::from_str(text)
            .map_err(|e| ProfileError::Syntax { file: file.clone(), message: e.to_string().trim_end().to_owned() })?;
        let field =
            |field: &str, problem: String| ProfileError::Field { file: file.clone(), field: field.into(), problem };

        let Network { name, network_id, genesis_id, p2p_network_id, source: _ } =
            Network::from_table(raw.network, &file)?;
        let schedule = match raw.leader.schedule.as_str() {
            "fixed" => ScheduleKind::Fixed,
            "round-robin" => ScheduleKind::RoundRobin,
            "hash" => ScheduleKind::Hash,
            other => {
                return Err(field(
                    "leader.schedule",
                    format!("unknown schedule {other:?}; expected \"fixed\", \"round-robin\" or \"hash\""),
                ))
            }
        };
        if raw.leader.activation_height == 0 {
            return Err(field(
                "leader.activation_height",
                "must be at least 1: block 0 is the genesis block, which carries no leader record".into(),
            ));
        }
        if raw.leader.validators.is_empty() {
            return Err(field(
                "leader.validators",
                "no validators: at least one [[leader.validators]] is needed".into(),
            ));
        }
        let mut validators: Vec<Validator> = Vec::with_capacity(raw.leader.validators.len());
        for (i, v) in raw.leader.validators.iter().enumerate() {
            if let Some(p) = id_problem(v.id.as_bytes()) {
                return Err(field(&format!("leader.validators[{i}].id"), format!("{:?}: {p}", v.id)));
            }
            if let Some(j) = validators.iter().position(|w| w.id == v.id) {
                return Err(field(
                    &format!("leader.validators[{i}].id"),
                    format!("duplicate id {:?} (also validators[{j}])", v.id),
                ));
            }
            let key_field = format!("leader.validators[{i}].public_key");
            let bytes = hex_array::<32>(&v.public_key).map_err(|p| field(&key_field, p.to_string()))?;
            let public_key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| field(&key_field, "not a valid Ed25519 public key (not a curve point)".into()))?;
            if public_key.is_weak() {
                return Err(field(&key_field, "a small-order (weak) Ed25519 key: no signature could verify".into()));
            }
            if let Some(j) = validators.iter().position(|w| w.public_key == public_key) {
                return Err(field(&key_field, format!("the same key as validators[{j}]: ids would be ambiguous")));
            }
            validators.push(Validator { id: v.id.clone(), public_key });
        }
        let finality = match &raw.leader.finality {
            None => None,
            Some(f) => {
                let quorum = Fraction::parse(&f.quorum).map_err(|p| field("leader.finality.quorum", p.to_string()))?;
                if f.activation_height < raw.leader.activation_height {
                    return Err(field(
                        "leader.finality.activation_height",
                        format!(
                            "{} is below leader.activation_height {}: votes are on leader blocks",
                            f.activation_height, raw.leader.activation_height
                        ),
                    ));
                }
                Some(FinalityRule { quorum, activation_height: f.activation_height })
            }
        };
        Ok(Profile {
            name,
            network_id,
            genesis_id,
            p2p_network_id,
            activation_height: raw.leader.activation_height,
            schedule,
            failover_seconds: raw.leader.failover_seconds,
            min_interval_seconds: raw.leader.min_interval_seconds,
            validators,
            finality,
            digest: keccak256(bytes),
            source: file,
        })
    }

    /// Refuses a chain whose block 0 is not this profile's genesis (see [`Network::check_genesis`]).
    pub fn check_genesis(&self, chain_genesis: &Hash32) -> Result<(), ProfileError> {
        Ok(self.network().check_genesis(chain_genesis)?)
    }

    /// Index of the validator with this id.
    pub fn validator_index(&self, id: &str) -> Option<usize> {
        self.validators.iter().position(|v| v.id == id)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use dualrun_keys::KeyFile;

    use super::Profile;

    fn sample(file: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample").join(file)
    }

    /// Key files come back with their validator's index, in the order given; a key of no validator is
    /// refused naming its file, an unreadable one as the key reader says.
    #[test]
    fn signers_are_indexed_and_refused_with_their_file() {
        let profile = Profile::load(&sample("profile.toml")).unwrap();
        let keys = [sample("keys/throwaway-test-leader-3.key"), sample("keys/throwaway-test-leader-1.key")];
        let signers = profile.signers(&keys).unwrap();
        let got: Vec<(usize, &str)> = signers.iter().map(|(i, k)| (*i, k.id.as_str())).collect();
        assert_eq!(got, [(2, "leader-3"), (0, "leader-1")]);

        let tmp = tempfile::tempdir().unwrap();
        let stranger = tmp.path().join("stranger.key");
        KeyFile::generate("stranger").unwrap().write_new(&stranger).unwrap();
        let e = profile.signers(&[keys[0].clone(), stranger.clone()]).unwrap_err().to_string();
        let profile_file = sample("profile.toml");
        assert_eq!(
            e,
            format!(
                "{}: key id \"stranger\" is not a validator of profile {}",
                stranger.display(),
                profile_file.display()
            )
        );
        let missing = tmp.path().join("missing.key");
        let e = profile.signers(&[missing]).unwrap_err();
        assert!(matches!(e, super::SignerFileError::Key(_)), "{e}");
    }
}
