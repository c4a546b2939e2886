//! `attestation.dsse.json`: a signed statement of exactly which files a finished run directory holds and
//! what the run found, for auditors who keep runs as evidence.
//!
//! The file is a [DSSE] envelope (`payloadType` `application/vnd.in-toto+json`) whose payload is an
//! in-toto Statement v1 with one subject per regular file of the run directory (sorted by name; the
//! attestation itself and subdirectories excluded; `report.html` and `report.md` included when present),
//! each with its SHA-256, and a predicate of type [`PREDICATE_TYPE`]:
//!
//! ```json
//! {"run": {"format", "format_version", "inputs_digest", "manifest_keccak256", "mode", "range", "complete"},
//!  "summary": {"records", "blocks", "divergences", "errors", "inputs"},
//!  "tool": {"name", "version"},
//!  "signer": "<key id>"}
//! ```
//!
//! A fleet run directory (`fleet.json`) is attested the same way, with a predicate of type
//! [`FLEET_PREDICATE_TYPE`]:
//!
//! ```json
//! {"fleet": {"format", "manifest_keccak256", "nodes", "started_at", "ended_at", "complete"},
//!  "summary": {"seconds", "agreed", "findings", "open_at_end"},
//!  "tool": {"name", "version"},
//!  "signer": "<key id>"}
//! ```
//!
//! The signature is Ed25519 over DSSE's PAE (see [`pae`]); its `keyid` is the public key in hex. Nothing
//! in the file depends on the time of signing, so the same run and key always give the same bytes.
//!
//! [`sign`] refuses a run with any problem (incomplete, files that differ from its manifest, an entry a
//! run directory may not hold); [`verify`] checks the envelope, a signature (by a trusted key when any
//! are given) and the directory as a closed set: every subject as signed, and any other entry — a file,
//! a symbolic link, a subdirectory, a FIFO — a finding naming it. [`AttestError::is_finding`] tells a
//! run that fails verification from a verification that could not be made.
//!
//! [DSSE]: https://github.com/secure-systems-lab/dsse/blob/master/envelope.md

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use dualrun_format::FileError;
use dualrun_keys::KeyFile;
use dualrun_rundir::fleet::{FleetRun, FleetRunError};
use dualrun_rundir::{Problem, RunDir, RunDirError};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The attestation's file name in the run directory.
pub const FILE: &str = dualrun_rundir::files::ATTESTATION;
/// The envelope's `payloadType`.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The statement's `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The statement's `predicateType` for a run directory (`manifest.json`).
pub const PREDICATE_TYPE: &str = "https://dualrun.dev/attestation/run/v1";
/// The statement's `predicateType` for a fleet run directory (`fleet.json`).
pub const FLEET_PREDICATE_TYPE: &str = "https://dualrun.dev/attestation/fleet/v1";

/// An attestation that cannot be made, or a run that does not verify against its attestation.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// The run directory cannot be read.
    #[error(transparent)]
    Run(#[from] RunDirError),
    /// The fleet run directory cannot be read.
    #[error(transparent)]
    Fleet(#[from] FleetRunError),
    /// [`sign`] was given a run that is not finished and untouched.
    #[error("{dir}: refusing to attest the run: {}", join_problems(.problems))]
    Incomplete {
        /// The run directory.
        dir: PathBuf,
        /// Everything wrong with the run.
        problems: Vec<Problem>,
    },
    /// [`sign`] was given a fleet run that did not end cleanly or was changed since.
    #[error("{dir}: refusing to attest the fleet run: {}", .problems.join("; "))]
    FleetIncomplete {
        /// The fleet run directory.
        dir: PathBuf,
        /// Everything wrong with it.
        problems: Vec<String>,
    },
    /// [`verify`] found no attestation.
    #[error("{file}: no attestation (the run was not signed)")]
    NoAttestation {
        /// Where the attestation should be.
        file: PathBuf,
    },
    /// The attestation is not a DSSE envelope of a dualrun run statement.
    #[error("{file}: not a dualrun run attestation: {problem}")]
    Malformed {
        /// The attestation.
        file: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The statement's subjects are not the files of a run directory, each named once with its SHA-256.
    #[error("{file}: not a dualrun run attestation: {problem}")]
    Subjects {
        /// The attestation.
        file: PathBuf,
        /// What is wrong with the subjects. The message says it whole, so it is not also the source: a
        /// chain of causes printed with `{:#}` (as `report verify` does) says it once.
        problem: SubjectError,
    },
    /// No signature of the envelope verifies.
    #[error("{file}: bad signature: {problem}")]
    BadSignature {
        /// The attestation.
        file: PathBuf,
        /// Why each signature fails.
        problem: String,
    },
    /// The envelope is signed, but by no trusted key.
    #[error("{file}: signed by {}, which is not a trusted key", .keyids.join(", "))]
    Untrusted {
        /// The attestation.
        file: PathBuf,
        /// The keys that signed (public keys, hex).
        keyids: Vec<String>,
    },
    /// The run directory's files are not the files attested.
    #[error("{dir}: the run does not match its attestation: {}", .findings.join("; "))]
    Mismatch {
        /// The run directory.
        dir: PathBuf,
        /// One line per file that differs, is missing or is not covered, naming the file.
        findings: Vec<String>,
    },
}

impl AttestError {
    /// Whether this is a finding (the run or its attestation was changed, or the signer is not trusted)
    /// rather than an attestation that could not be made or read.
    pub fn is_finding(&self) -> bool {
        matches!(self, AttestError::BadSignature { .. } | AttestError::Untrusted { .. } | AttestError::Mismatch { .. })
    }
}

/// Why a statement's `subject` list is not the files of a run directory, each named once with its
/// SHA-256.
#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    /// `subject` is not a list of `{name, digest}` objects.
    #[error("subject: {0}")]
    NotSubjects(#[source] serde_json::Error),
    /// A subject's name is not a plain file name of the run directory (empty, `.`, `..`, a path, or
    /// the attestation itself).
    #[error("subject {0:?} is not a file of the run directory")]
    NotAFile(String),
    /// A name listed more than once.
    #[error("subject {0:?} is listed twice")]
    Twice(String),
    /// A subject without a SHA-256 in lowercase hex.
    #[error("subject {0:?} has no sha256 digest in lowercase hex")]
    NoSha256(String),
}

fn join_problems(problems: &[Problem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// A run that verified against its attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The attestation read.
    pub attestation: PathBuf,
    /// The `keyid` (public key, hex) whose signature verified.
    pub keyid: String,
    /// The number of files checked.
    pub subjects: usize,
}

/// DSSE's pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in
/// ASCII decimal bytes. This is what is signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    m.extend_from_slice(payload);
    m
}

/// Signs the finished run — or the cleanly ended fleet run — in `run_dir` with `key`, writing
/// `RUN_DIR/attestation.dsse.json` (atomically, over any previous one) and returning its path. Refuses a
/// run with any [`Problem`], a fleet run with any problem [`FleetRun::problems`] lists.
pub fn sign(run_dir: &Path, key: &KeyFile) -> Result<PathBuf, AttestError> {
    let (dir, predicate_type, mut predicate) = if FleetRun::is_fleet_run(run_dir) {
        let fleet = FleetRun::load(run_dir)?;
        let problems = fleet.problems();
        if !problems.is_empty() {
            return Err(AttestError::FleetIncomplete { dir: fleet.dir, problems });
        }
        let predicate = fleet_predicate(&fleet);
        (fleet.dir, FLEET_PREDICATE_TYPE, predicate)
    } else {
        let run = RunDir::load(run_dir)?;
        let problems = run.problems();
        if !problems.is_empty() {
            return Err(AttestError::Incomplete { dir: run.path, problems });
        }
        let predicate = run_predicate(&run);
        (run.path, PREDICATE_TYPE, predicate)
    };
    predicate["signer"] = key.id.clone().into();
    let names = covered_files(&dir)?;
    let mut subjects = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&name);
        let digest = sha256_of(&path).map_err(FileError::at(&path))?;
        subjects.push((name, digest));
    }
    let payload =
        serde_json::to_vec(&statement(predicate_type, predicate, &subjects)).expect("the statement serializes");
    let signature = key.signing_key.sign(&pae(PAYLOAD_TYPE, &payload));
    let envelope = json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": STANDARD.encode(&payload),
        "signatures": [{ "keyid": key.public_key_hex(), "sig": STANDARD.encode(signature.to_bytes()) }],
    });
    let mut bytes = serde_json::to_vec_pretty(&envelope).expect("the envelope serializes");
    bytes.push(b'\n');
    let file = dir.join(FILE);
    dualrun_rundir::write_atomic(&file, &bytes)?;
    Ok(file)
}

/// The in-toto statement of a predicate with these `(name, sha256)` subjects.
fn statement(predicate_type: &str, predicate: Value, subjects: &[(String, String)]) -> Value {
    let subject: Vec<Value> =
        subjects.iter().map(|(name, sha256)| json!({ "name": name, "digest": { "sha256": sha256 } })).collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": predicate,
    })
}

/// What a run found, for its statement (the signer is added by [`sign`]).
fn run_predicate(run: &RunDir) -> Value {
    let (m, s) = (&run.manifest, &run.summary);
    json!({
        "run": {
            "format": m.format,
            "format_version": m.format_version,
            "inputs_digest": m.inputs_digest,
            "manifest_keccak256": run.manifest_digest,
            "mode": s.mode,
            "range": s.range,
            "complete": s.complete,
        },
        "summary": {
            "records": s.records,
            "blocks": s.blocks,
            "divergences": s.divergences,
            "errors": s.errors,
            "inputs": s.inputs,
        },
        "tool": m.tool,
    })
}

/// What a fleet watch saw, for its statement (the signer is added by [`sign`]). [`sign`] calls it on a
/// fleet run without problems, so its summary is there.
fn fleet_predicate(fleet: &FleetRun) -> Value {
    let m = &fleet.manifest;
    let nodes: Vec<&str> = m.nodes.iter().map(|n| n.name.as_str()).collect();
    let summary = fleet.summary.as_ref().map(
        |s| json!({ "seconds": s.seconds, "agreed": s.agreed, "findings": s.findings, "open_at_end": s.open_at_end }),
    );
    json!({
        "fleet": {
            "format": m.format,
            "manifest_keccak256": fleet.manifest_digest,
            "nodes": nodes,
            "started_at": m.started_at,
            "ended_at": m.ended_at,
            "complete": m.complete,
        },
        "summary": summary,
        "tool": m.tool,
    })
}

/// The files of a run directory an attestation covers: every entry but the attestation, sorted by name.
/// [`sign`] calls it on a run without problems, so each is a regular file the format defines.
fn covered_files(dir: &Path) -> Result<Vec<String>, FileError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(FileError::at(dir))? {
        let name = entry.map_err(FileError::at(dir))?.file_name().to_string_lossy().into_owned();
        if name != FILE {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// SHA-256 of a file's bytes, lowercase hex (read in pieces: record files can be large).
fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload_type: String,
    payload: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

#[derive(Deserialize)]
struct Subject {
    name: String,
    digest: std::collections::BTreeMap<String, String>,
}

/// Verifies the run in `run_dir` against its attestation: the envelope, a signature over PAE by the key
/// its `keyid` names (one of `trusted`, unless `trusted` is empty), the statement's types, and the
/// SHA-256 of every subject; a regular file not among the subjects is a finding too.
pub fn verify(run_dir: &Path, trusted: &[VerifyingKey]) -> Result<Verified, AttestError> {
    let file = run_dir.join(FILE);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AttestError::NoAttestation { file }),
        Err(e) => return Err(FileError::new(&file, e).into()),
    };
    let malformed = |problem: String| AttestError::Malformed { file: file.clone(), problem };
    let envelope: Envelope =
        serde_json::from_slice(&bytes).map_err(|e| malformed(format!("not a DSSE envelope: {e}")))?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(malformed(format!("payloadType is {:?}, expected {PAYLOAD_TYPE:?}", envelope.payload_type)));
    }
    let payload = STANDARD.decode(&envelope.payload).map_err(|e| malformed(format!("payload is not base64: {e}")))?;
    let keyid = check_signatures(&file, &envelope.signatures, &pae(PAYLOAD_TYPE, &payload), trusted)?;

    let statement: Value =
        serde_json::from_slice(&payload).map_err(|e| malformed(format!("the statement is not JSON: {e}")))?;
    let field = |name: &str| statement.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    if field("_type") != STATEMENT_TYPE {
        return Err(malformed(format!("_type is {:?}, expected {STATEMENT_TYPE:?}", field("_type"))));
    }
    // A fleet run's statement for a fleet run, a run's for a run: the kind is the directory's.
    let expected = if FleetRun::is_fleet_run(run_dir) { FLEET_PREDICATE_TYPE } else { PREDICATE_TYPE };
    if field("predicateType") != expected {
        return Err(malformed(format!("predicateType is {:?}, expected {expected:?}", field("predicateType"))));
    }
    let subjects = subjects_of(statement.get("subject").cloned().unwrap_or(Value::Null))
        .map_err(|problem| AttestError::Subjects { file: file.clone(), problem })?;

    let findings = compare(run_dir, &subjects)?;
    if !findings.is_empty() {
        return Err(AttestError::Mismatch { dir: run_dir.into(), findings });
    }
    Ok(Verified { attestation: file, keyid, subjects: subjects.len() })
}

/// The keyid of the first signature that verifies over `message` with a trusted key.
fn check_signatures(
    file: &Path,
    signatures: &[EnvelopeSignature],
    message: &[u8],
    trusted: &[VerifyingKey],
) -> Result<String, AttestError> {
    if signatures.is_empty() {
        return Err(AttestError::BadSignature { file: file.into(), problem: "the envelope has no signatures".into() });
    }
    let mut untrusted = Vec::new();
    let mut problems = Vec::new();
    for (i, s) in signatures.iter().enumerate() {
        match check_signature(s, message) {
            Ok(key) if trusted.is_empty() || trusted.contains(&key) => return Ok(s.keyid.clone()),
            Ok(_) => untrusted.push(s.keyid.clone()),
            Err(problem) => problems.push(format!("signature {i} (keyid {:?}): {problem}", s.keyid)),
        }
    }
    if untrusted.is_empty() {
        Err(AttestError::BadSignature { file: file.into(), problem: problems.join("; ") })
    } else {
        Err(AttestError::Untrusted { file: file.into(), keyids: untrusted })
    }
}

/// The key of a signature that verifies over `message`, or why it does not.
fn check_signature(s: &EnvelopeSignature, message: &[u8]) -> Result<VerifyingKey, &'static str> {
    let key = hex::decode(&s.keyid)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or("the keyid is not an Ed25519 public key in hex")?;
    let sig = STANDARD
        .decode(&s.sig)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or("sig is not a base64 Ed25519 signature")?;
    key.verify_strict(message, &Signature::from_bytes(&sig))
        .map_err(|_| "it does not verify (the payload or the signature was changed)")?;
    Ok(key)
}

/// The statement's subjects as `(name, sha256)`, each a plain file name, named once, with a SHA-256.
fn subjects_of(subject: Value) -> Result<Vec<(String, String)>, SubjectError> {
    let subjects: Vec<Subject> = serde_json::from_value(subject).map_err(SubjectError::NotSubjects)?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(subjects.len());
    for s in subjects {
        if s.name.is_empty() || s.name == "." || s.name == ".." || s.name.contains(['/', '\0']) || s.name == FILE {
            return Err(SubjectError::NotAFile(s.name));
        }
        if !seen.insert(s.name.clone()) {
            return Err(SubjectError::Twice(s.name));
        }
        let sha256 = s.digest.get("sha256").cloned().unwrap_or_default();
        if sha256.len() != 64 || !sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(SubjectError::NoSha256(s.name));
        }
        out.push((s.name, sha256));
    }
    Ok(out)
}

/// One finding per subject that differs, is missing or is not a regular file, then one per entry of the
/// directory that is not a subject (a signed run directory is a closed set: any file, link, subdirectory
/// or special file added is named).
fn compare(dir: &Path, subjects: &[(String, String)]) -> Result<Vec<String>, AttestError> {
    let mut findings = Vec::new();
    for (name, want) in subjects {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => findings.push(format!("{name}: missing")),
            Err(e) => return Err(FileError::new(&path, e).into()),
            Ok(meta) if !meta.file_type().is_file() => findings
                .push(format!("{name}: {}, not a regular file", dualrun_format::file::describe_kind(meta.file_type()))),
            Ok(_) => {
                let got = sha256_of(&path).map_err(FileError::at(&path))?;
                if got != *want {
                    findings.push(format!("{name}: sha256 was {want}, now {got}"));
                }
            }
        }
    }
    let listed: BTreeSet<&str> = subjects.iter().map(|(name, _)| name.as_str()).collect();
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(FileError::at(dir))? {
        let entry = entry.map_err(FileError::at(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == FILE || listed.contains(name.as_str()) {
            continue;
        }
        let kind = entry.file_type().map_err(FileError::at(&entry.path()))?;
        others.push(format!(
            "{}: {} not covered by the attestation",
            name.escape_debug(),
            dualrun_format::file::describe_kind(kind)
        ));
    }
    others.sort();
    findings.extend(others);
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dsse_v1() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn every_entry_but_the_attestation_is_covered() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        for name in ["b.json", "a.txt", FILE] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        assert_eq!(covered_files(dir).unwrap(), ["a.txt", "b.json"]);
        assert_eq!(sha256_of(&dir.join("a.txt")).unwrap(), hex::encode(Sha256::digest(b"a.txt")));
    }

    #[test]
    fn subject_messages() {
        let message = |subject: Value| subjects_of(subject).unwrap_err().to_string();
        let sha = "ab".repeat(32);
        let one = |name: &str, sha256: &str| json!({ "name": name, "digest": { "sha256": sha256 } });
        assert_eq!(message(json!("x")), "subject: invalid type: string \"x\", expected a sequence");
        assert_eq!(message(Value::Null), "subject: invalid type: null, expected a sequence");
        for name in ["", ".", "..", "a/b", "a\0b", FILE] {
            assert_eq!(
                message(json!([one(name, &sha)])),
                format!("subject {name:?} is not a file of the run directory")
            );
        }
        assert_eq!(message(json!([one("a", &sha), one("a", &sha)])), "subject \"a\" is listed twice");
        assert_eq!(
            message(json!([one("a", &sha.to_uppercase())])),
            "subject \"a\" has no sha256 digest in lowercase hex"
        );
        assert_eq!(
            message(json!([{ "name": "a", "digest": {} }])),
            "subject \"a\" has no sha256 digest in lowercase hex"
        );
        assert_eq!(subjects_of(json!([one("a", &sha)])).unwrap(), [("a".to_owned(), sha.clone())]);
        let e =
            AttestError::Subjects { file: "attestation.dsse.json".into(), problem: SubjectError::Twice("a".into()) };
        assert_eq!(
            e.to_string(),
            "attestation.dsse.json: not a dualrun run attestation: subject \"a\" is listed twice"
        );
        assert!(std::error::Error::source(&e).is_none(), "a chain printed with {{:#}} says the problem once");
    }
}
