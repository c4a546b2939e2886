//! `manifest.json`: what a run was made from, by which tool, whether it finished, and the digests of
//! its record and summary files.
//!
//! The field order is the on-disk order. [`Inputs`] is what must be equal for a `--resume`; its
//! Keccak-256 (of its compact JSON) is the run's `inputs_digest`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dualrun_core::{Mode, VerifierIdentity};
use dualrun_format::{keccak256, Hash32};
use serde::{Deserialize, Serialize};

/// The format name every manifest carries.
pub const FORMAT: &str = "dualrun-run/v1";
/// The version of the run directory format this dualrun writes. Version 2 added `timings.csv`.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest version this dualrun reads (as it was written: a version 1 run has no `timings.csv`).
/// Readers refuse others.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

fn format_version_of_older_runs() -> u32 {
    // Runs written before the field existed are version 1: the format has not changed since.
    1
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this dualrun.
    #[serde(default = "format_version_of_older_runs")]
    pub format_version: u32,
    /// The tool that made the run.
    pub tool: Tool,
    /// What the run was made from.
    pub inputs: Inputs,
    /// Keccak-256 of `inputs` (compact JSON).
    pub inputs_digest: Hash32,
    /// The chain's `data.mdb` as opened.
    pub data_file: PathBuf,
    /// When the first session started (unix seconds; not an input).
    pub started_unix: u64,
    /// The whole range was replayed and the files below are final.
    pub complete: bool,
    /// Keccak-256 of each finished file, by name (absent until the run has written its summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, Hash32>>,
    /// A merged run: the shard runs it was made from, in height order, each named by its manifest digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<ShardRun>>,
}

/// A shard run a merged run was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRun {
    /// Its run directory.
    pub dir: PathBuf,
    /// Keccak-256 of its `manifest.json`.
    pub manifest_digest: Hash32,
    /// Its first height.
    pub from: u64,
    /// Its last height.
    pub to: u64,
}

impl Manifest {
    /// Reads the `manifest.json` of the run directory `dir` (finished or not), checking its format, as
    /// every reader does (see [`crate::files`]): no link followed, bounded.
    pub fn load(dir: &std::path::Path) -> Result<Manifest, crate::RunDirError> {
        let manifest: Manifest = crate::access::read_json(dir, crate::files::MANIFEST)?;
        manifest.check_format(&dir.join(crate::files::MANIFEST))?;
        Ok(manifest)
    }

    /// Refuses a manifest of a format this dualrun does not read (`file` names it in the error).
    pub fn check_format(&self, file: &std::path::Path) -> Result<(), crate::RunDirError> {
        if self.format != FORMAT || !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&self.format_version) {
            return Err(crate::RunDirError::UnknownFormat {
                file: file.into(),
                found: crate::access::clip(&format!("{} version {}", self.format, self.format_version)),
                known: format!("{FORMAT} version {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}"),
            });
        }
        Ok(())
    }

    /// The manifest a new run starts with: this dualrun, not complete, no file digests yet.
    pub fn new(inputs: Inputs, data_file: PathBuf, started_unix: u64) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            tool: Tool::this(),
            inputs_digest: inputs.digest(),
            inputs,
            data_file,
            started_unix,
            complete: false,
            files: None,
            shards: None,
        }
    }
}

/// The tool that made a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `dualrun`.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Tool {
    /// This dualrun.
    pub fn this() -> Tool {
        Tool { name: "dualrun".into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

/// Everything a run's records follow from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// The chain and the range of it.
    pub chain: ChainInputs,
    /// The network profile.
    pub profile: ProfileInputs,
    /// The mode the run applied.
    pub mode: Mode,
    /// The legacy verifier (none in ONLY mode).
    pub legacy: Option<VerifierIdentity>,
    /// The candidate (none in LEGACY mode).
    pub candidate: Option<VerifierIdentity>,
    /// The ambient inputs.
    pub env: EnvInputs,
    /// Everything else that changes records (timeouts, reason map).
    pub settings: RunSettings,
    /// The shard of a whole range this run is (`replay --shard I/N`); `chain` names the shard's own range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// What else a run's records depend on, by what made the run. Written untagged: the JSON is the
/// variant's fields alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunSettings {
    /// A run of `dualrun replay` or `dualrun follow`.
    Command(CommandSettings),
    /// A run driven block by block from Python (`dualrun.DualRun`): there is no command to run again.
    Embedded(EmbeddedSettings),
}

impl RunSettings {
    /// The share of blocks each verifier judges twice (`--noise`), if the run is a noise run (a run
    /// driven from Python never is).
    pub fn noise(&self) -> Option<dualrun_core::NoiseRate> {
        match self {
            RunSettings::Command(s) => s.noise,
            RunSettings::Embedded(_) => None,
        }
    }
}

/// The settings of a `replay` or `follow` run (field order: the on-disk order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSettings {
    /// Seconds a verifier may take for one block (`--timeout`).
    pub timeout_seconds: f64,
    /// Directories added to the embedded Python's module path (`--python-path`), as given.
    pub python_path: Vec<PathBuf>,
    /// The reason map (`--reason-map`), if one was given.
    pub reason_map: Option<ReasonMapInput>,
    /// The share of blocks each verifier judges twice (`--noise`), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<dualrun_core::NoiseRate>,
}

impl CommandSettings {
    /// `--timeout`'s default: a command line leaves it out.
    pub const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;
}

/// The settings of a command line that leaves `--timeout`, `--python-path` and `--reason-map` out.
impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings {
            timeout_seconds: Self::DEFAULT_TIMEOUT_SECONDS,
            python_path: vec![],
            reason_map: None,
            noise: None,
        }
    }
}

/// A reason map a run used: where it was read from and the digest of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonMapInput {
    /// The file, as given.
    pub path: PathBuf,
    /// Keccak-256 of the file's bytes (empty when it could not be read).
    pub digest: String,
}

impl ReasonMapInput {
    /// The reason map in `path`, as given, with the digest of its bytes (empty when it cannot be read).
    pub fn of(path: &std::path::Path) -> ReasonMapInput {
        let digest = std::fs::read(path).map(|b| keccak256(&b).to_string()).unwrap_or_default();
        ReasonMapInput { path: path.into(), digest }
    }
}

/// The settings of a run driven from Python.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedSettings {
    /// What drove it (`python DualRun`).
    pub driver: String,
    /// Its reason map: legacy reason → code.
    pub reasons: BTreeMap<String, String>,
}

/// One of `count` contiguous shards of the heights `from..=to` (see [`Shard::range`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: u32,
    /// How many shards.
    pub count: u32,
    /// The whole range's first height.
    pub from: u64,
    /// The whole range's last height.
    pub to: u64,
}

impl Shard {
    /// This shard's heights: `count` contiguous ranges of equal size, the last taking the rest. A pure
    /// function of the whole range and the count.
    pub fn range(&self) -> (u64, u64) {
        let total = self.to - self.from + 1;
        let size = total / u64::from(self.count);
        let first = self.from + u64::from(self.index) * size;
        let last = if self.index + 1 == self.count { self.to } else { first + size - 1 };
        (first, last)
    }
}

impl Inputs {
    /// Keccak-256 of the compact JSON: the run's `inputs_digest`.
    pub fn digest(&self) -> Hash32 {
        keccak256(&serde_json::to_vec(self).expect("inputs serialize"))
    }

    /// The inputs as a JSON value (for describing differences).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("inputs serialize")
    }

    /// What shards of one whole run share: everything but the chain range they cover and which shard
    /// they are.
    pub fn without_range(&self) -> Inputs {
        let mut rest = self.clone();
        let chain = &mut rest.chain;
        (chain.from, chain.to, chain.blocks, chain.chain_digest) = (0, 0, 0, Hash32::default());
        rest.shard = None;
        rest
    }

    /// What a resume must find unchanged: everything but the chain digest, which is computed as the
    /// blocks are judged (a resume checks the judged ones against the checkpoint instead), and for a
    /// live run the range's end, which grows as it goes.
    pub fn stable(&self) -> Inputs {
        let mut stable = self.clone();
        stable.chain.chain_digest = Hash32::default();
        if stable.chain.live {
            stable.chain.to = stable.chain.from;
            stable.chain.blocks = 0;
        }
        stable
    }

    /// The inputs as they would read had the run been made with its evidence where it is now: the
    /// chain (unless a daemon), the profile, the Python path, the reason map and every verifier file
    /// [`crate::Moved::locate`]d. An `exec:` command is run as recorded.
    pub fn relocated(&self, moved: &crate::Moved) -> Inputs {
        let mut i = self.clone();
        if !i.chain.live {
            i.chain.path = moved.locate_str(&i.chain.path);
        }
        i.profile.path = moved.locate(&i.profile.path);
        if let RunSettings::Command(s) = &mut i.settings {
            s.python_path = s.python_path.iter().map(|p| moved.locate(p)).collect();
            if let Some(map) = &mut s.reason_map {
                map.path = moved.locate(&map.path);
            }
        }
        for v in [&mut i.legacy, &mut i.candidate].into_iter().flatten() {
            v.files = std::mem::take(&mut v.files).into_iter().map(|(f, d)| (moved.locate_str(&f), d)).collect();
        }
        i
    }

    /// What differs from `old`, key by key (`profile.digest: was "…", now "…"`); empty when nothing does.
    pub fn changes_from(&self, old: &Inputs) -> String {
        crate::access::describe_changes(&old.to_value(), &self.to_value())
    }
}

/// The chain a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInputs {
    /// The chain as the user named it.
    pub path: String,
    /// The database schema (5 Monero 0.18, 3 X-Cash).
    pub schema_version: u32,
    /// The id of block 0.
    pub genesis_id: Hash32,
    /// First height.
    pub from: u64,
    /// Last height (inclusive).
    pub to: u64,
    /// `to − from + 1`.
    pub blocks: u64,
    /// Keccak-256 over the computed ids of `from..=to`: computed as the blocks are judged, so all zeros
    /// until the run is complete (a live run: what it had judged when it last stopped).
    pub chain_digest: Hash32,
    /// A live run (`follow`): the range grows with the daemon's chain; `to`, `blocks` and
    /// `chain_digest` say what was judged when the run last stopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
}

/// The profile a run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileInputs {
    /// Where it was read from.
    pub path: PathBuf,
    /// Keccak-256 of the file's bytes.
    pub digest: Hash32,
    /// The profile's network name.
    pub network: String,
}

/// The ambient inputs of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvInputs {
    /// `block` or `fixed:UNIX`.
    pub now: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reason map is named as given, with the digest of its bytes.
    #[test]
    fn a_reason_map_is_named_by_its_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("reasons.toml");
        std::fs::write(&file, "[reasons]\n").unwrap();
        let input = ReasonMapInput::of(&file);
        assert_eq!(input, ReasonMapInput { path: file, digest: keccak256(b"[reasons]\n").to_string() });
        assert_eq!(ReasonMapInput::of(&tmp.path().join("gone")).digest, "");
    }

    /// A moved run's inputs name the copy's chain, profile, Python path, reason map and verifier files;
    /// a daemon's URL, a verifier's spec and what lies outside the move stay as recorded.
    #[test]
    fn relocated_inputs_name_the_copy() {
        let verifier = |file: &str| VerifierIdentity {
            spec: "python:m".into(),
            description: "m".into(),
            files: [(file.to_owned(), "d1".to_owned())].into(),
        };
        let inputs = Inputs {
            chain: ChainInputs {
                path: "/srv/drill/chains/n2".into(),
                schema_version: 5,
                genesis_id: Hash32([1; 32]),
                from: 1,
                to: 9,
                blocks: 9,
                chain_digest: Hash32([2; 32]),
                live: false,
            },
            profile: ProfileInputs {
                path: "/srv/drill/network.toml".into(),
                digest: Hash32([3; 32]),
                network: "n".into(),
            },
            mode: Mode::Shadow,
            legacy: Some(verifier("/srv/drill/legacy/m.py")),
            candidate: Some(verifier("/opt/elsewhere/c.py")),
            env: EnvInputs { now: "block".into() },
            settings: RunSettings::Command(CommandSettings {
                python_path: vec!["/srv/drill/legacy".into(), "relative".into()],
                reason_map: Some(ReasonMapInput { path: "/srv/drill/reasons.toml".into(), digest: "ab".into() }),
                ..CommandSettings::default()
            }),
            shard: None,
        };
        let moved = crate::Moved::parse(&["/srv/drill=/copy"]).unwrap();
        let r = inputs.relocated(&moved);
        assert_eq!(r.chain.path, "/copy/chains/n2");
        assert_eq!(r.profile.path, PathBuf::from("/copy/network.toml"));
        let RunSettings::Command(settings) = &r.settings else { unreachable!() };
        assert_eq!(settings.python_path, vec![PathBuf::from("/copy/legacy"), PathBuf::from("relative")]);
        assert_eq!(settings.reason_map.as_ref().unwrap().path, PathBuf::from("/copy/reasons.toml"));
        assert_eq!(r.legacy.unwrap().files.into_keys().collect::<Vec<_>>(), vec!["/copy/legacy/m.py"]);
        assert_eq!(r.candidate.unwrap().files.into_keys().collect::<Vec<_>>(), vec!["/opt/elsewhere/c.py"]);
        assert_ne!(inputs.relocated(&moved).digest(), inputs.digest());
        assert_eq!(inputs.relocated(&crate::Moved::default()), inputs, "no move, the same inputs");
        let live = Inputs {
            chain: ChainInputs { path: "http://127.0.0.1:1".into(), live: true, ..inputs.chain.clone() },
            ..inputs
        };
        assert_eq!(live.relocated(&moved).chain.path, "http://127.0.0.1:1");
    }

    /// The settings' JSON is what runs made before the settings were typed hold, byte for byte (their
    /// inputs digests depend on it), and reads back as the same variant.
    #[test]
    fn settings_keep_their_spelling() {
        let command = RunSettings::Command(CommandSettings {
            timeout_seconds: 2.5,
            python_path: vec!["/x y".into()],
            reason_map: Some(ReasonMapInput { path: "/r.toml".into(), digest: "ab".into() }),
            noise: None,
        });
        let text = r#"{"timeout_seconds":2.5,"python_path":["/x y"],"reason_map":{"path":"/r.toml","digest":"ab"}}"#;
        assert_eq!(serde_json::to_string(&command).unwrap(), text);
        assert_eq!(serde_json::from_str::<RunSettings>(text).unwrap(), command);
        // A noise run names its rate; a run without one is spelled as before.
        let RunSettings::Command(settings) = &command else { unreachable!() };
        let noisy = RunSettings::Command(CommandSettings { noise: Some("0.25".parse().unwrap()), ..settings.clone() });
        let noisy_text = text.replace("}}", "},\"noise\":0.25}");
        assert_eq!(serde_json::to_string(&noisy).unwrap(), noisy_text);
        assert_eq!(serde_json::from_str::<RunSettings>(&noisy_text).unwrap(), noisy);
        let embedded = RunSettings::Embedded(EmbeddedSettings {
            driver: "python DualRun".into(),
            reasons: [("bad pow".to_owned(), "pow.invalid".to_owned())].into(),
        });
        let text = r#"{"driver":"python DualRun","reasons":{"bad pow":"pow.invalid"}}"#;
        assert_eq!(serde_json::to_string(&embedded).unwrap(), text);
        assert_eq!(serde_json::from_str::<RunSettings>(text).unwrap(), embedded);
        assert!(serde_json::from_str::<RunSettings>(r#"{"timeout_ms":10}"#).is_err(), "unknown settings are refused");
    }
}
