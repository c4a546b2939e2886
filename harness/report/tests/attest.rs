//! A signed run verifies, and verifies again from an independent DSSE implementation in Python; a
//! one-byte change to any file, an extra or a deleted file, a re-encoded payload and a foreign key are
//! findings; an incomplete run is not signed.
#![allow(unused_crate_dependencies)]

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use dualrun_core::mode::Source;
use dualrun_core::{Facts, Mode, RecordClass, ReplayEnv, VerdictKind};
use dualrun_format::Hash32;
use dualrun_keys::KeyFile;
use dualrun_report::attest::{self, AttestError};
use dualrun_rundir::{
    files, Authoritative, ChainInputs, EnvInputs, Inputs, Manifest, ProfileInputs, Record, RunDir, RunWriter, Side,
    Stats, Summary, FORMAT, FORMAT_VERSION,
};
use ed25519_dalek::Signer as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn hash(byte: u8) -> Hash32 {
    Hash32([byte; 32])
}

fn inputs() -> Inputs {
    Inputs {
        chain: ChainInputs {
            path: "/chains/a".into(),
            schema_version: 5,
            genesis_id: hash(1),
            from: 0,
            to: 9,
            blocks: 10,
            chain_digest: hash(2),
            live: false,
        },
        profile: ProfileInputs { path: "/p.toml".into(), digest: hash(3), network: "net".into() },
        mode: Mode::Shadow,
        legacy: None,
        candidate: None,
        env: EnvInputs { now: "block".into() },
        settings: dualrun_rundir::RunSettings::Command(dualrun_rundir::CommandSettings::default()),
        shard: None,
    }
}

fn manifest() -> Manifest {
    Manifest::new(inputs(), "/chains/a/data.mdb".into(), 1)
}

fn halt_record() -> Record {
    let env = ReplayEnv {
        now: 7,
        network_name: "net".into(),
        network_id: "00".repeat(16),
        genesis_id: hash(1),
        activation_height: 1,
        prev_id: Some(hash(4)),
        timestamps: vec![5, 6],
    };
    Record {
        height: 3,
        block_id: hash(5),
        class: RecordClass::Halt,
        mode: Mode::Shadow,
        legacy: Side::Verdict {
            verdict: VerdictKind::Accept,
            reason: String::new(),
            detail: String::new(),
            facts: Facts::new(),
        },
        candidate: Side::Verdict {
            verdict: VerdictKind::Reject,
            reason: "leader.missing".into(),
            detail: "no record".into(),
            facts: Facts::new(),
        },
        authoritative: Authoritative { verdict: VerdictKind::Accept, reason: String::new(), source: Source::Legacy },
        differing_facts: vec![],
        stored_id: None,
        second_answer: None,
        env,
        blob: "0a0b".into(),
        reproduce: "dualrun replay --from 3 --to 3".into(),
    }
}

/// Writes a finished run into `dir` as `dualrun replay` does, with a log, a Markdown report and a
/// subdirectory beside it.
fn finished_run(dir: &Path) {
    let mut w = RunWriter::create(dir, &manifest()).unwrap();
    let mut stats = Stats { blocks: 10, authoritative_accept: 10, sessions: 1, ..Stats::default() };
    let record = halt_record();
    stats.add(record.class);
    w.write(&record).unwrap();
    w.checkpoint(10, &stats, false).unwrap();
    let summary = Summary::from_stats(Mode::Shadow, 0, 9, &stats, true, 10);
    w.finish(&summary, Manifest { complete: true, ..manifest() }).unwrap();
    w.checkpoint(10, &stats, true).unwrap();
    std::fs::write(dir.join(files::LOG), "replay 0..=9: 1 halt\n").unwrap();
    std::fs::write(dir.join("report.md"), "# Run\n\n1 halt.\n").unwrap();
}

/// The files a signed [`finished_run`] attests, sorted.
const SUBJECTS: [&str; 8] = [
    "checkpoint.json",
    "divergences.csv",
    "divergences.jsonl",
    "manifest.json",
    "report.md",
    "run.log",
    "summary.json",
    "timings.csv",
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn flip_a_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn envelope(run: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(run.join(attest::FILE)).unwrap()).unwrap()
}

fn statement(run: &Path) -> Value {
    let payload = STANDARD.decode(envelope(run)["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Replaces the envelope's payload with `statement`, signed by `key` if given, else keeping the old
/// signatures.
fn rewrite_payload(run: &Path, statement: &Value, key: Option<&KeyFile>) {
    let payload = serde_json::to_vec(statement).unwrap();
    let mut env = envelope(run);
    env["payload"] = STANDARD.encode(&payload).into();
    if let Some(key) = key {
        let sig = key.signing_key.sign(&attest::pae(attest::PAYLOAD_TYPE, &payload));
        env["signatures"] =
            serde_json::json!([{ "keyid": key.public_key_hex(), "sig": STANDARD.encode(sig.to_bytes()) }]);
    }
    std::fs::write(run.join(attest::FILE), serde_json::to_vec_pretty(&env).unwrap()).unwrap();
}

/// A signed run in `tmp/signed`, and its key.
fn signed_run(tmp: &Path) -> (std::path::PathBuf, KeyFile) {
    let dir = tmp.join("signed");
    finished_run(&dir);
    let key = KeyFile::generate("auditor").unwrap();
    attest::sign(&dir, &key).unwrap();
    (dir, key)
}

fn finding(dir: &Path) -> String {
    let e = attest::verify(dir, &[]).unwrap_err();
    assert!(e.is_finding(), "not a finding: {e}");
    e.to_string()
}

#[test]
fn a_signed_run_verifies_and_signing_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    finished_run(&dir);
    let key = KeyFile::generate("auditor").unwrap();
    let file = attest::sign(&dir, &key).unwrap();
    assert_eq!(file, dir.canonicalize().unwrap().join("attestation.dsse.json"));
    let first = std::fs::read(&file).unwrap();
    assert!(first.ends_with(b"}\n"));

    let verified = attest::verify(&dir, &[key.verifying_key()]).unwrap();
    assert_eq!((verified.keyid.as_str(), verified.subjects), (key.public_key_hex().as_str(), SUBJECTS.len()));
    assert_eq!(attest::verify(&dir, &[]).unwrap(), verified);

    // Signing again (the attestation now in the directory) gives the same bytes.
    attest::sign(&dir, &key).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), first);

    let env = envelope(&dir);
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    assert_eq!(env["signatures"][0]["keyid"], key.public_key_hex());
    let st = statement(&dir);
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], "https://dualrun.dev/attestation/run/v1");
    let names: Vec<&str> = st["subject"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, SUBJECTS);
    for s in st["subject"].as_array().unwrap() {
        assert_eq!(s["digest"]["sha256"].as_str().unwrap(), sha256_hex(&dir.join(s["name"].as_str().unwrap())));
    }
    let run = RunDir::open(&dir).unwrap();
    let p = &st["predicate"];
    assert_eq!(p["run"]["format"], FORMAT);
    assert_eq!(p["run"]["format_version"], FORMAT_VERSION);
    assert_eq!(p["run"]["inputs_digest"], run.manifest.inputs_digest.to_string());
    assert_eq!(p["run"]["manifest_keccak256"], run.manifest_digest.to_string());
    assert_eq!(p["run"]["mode"], "shadow");
    assert_eq!(p["run"]["range"], serde_json::json!({ "from": 0, "to": 9, "next_height": 10 }));
    assert_eq!(p["run"]["complete"], true);
    assert_eq!((&p["summary"]["records"], &p["summary"]["blocks"]), (&1.into(), &10.into()));
    assert_eq!(p["summary"]["divergences"], serde_json::json!({ "split": 0, "halt": 1, "fact": 0, "reason": 0 }));
    assert_eq!(p["summary"]["errors"]["candidate_error"], 0);
    assert_eq!(p["summary"]["inputs"], serde_json::json!({ "stored_id_mismatch": 0 }));
    assert_eq!(p["tool"]["name"], "dualrun");
    assert_eq!(p["signer"], "auditor");
}

#[test]
fn a_changed_extra_or_deleted_file_is_a_finding_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (signed, _) = signed_run(tmp.path());
    for (i, name) in SUBJECTS.iter().enumerate() {
        let copy = tmp.path().join(format!("copy{i}"));
        copy_dir(&signed, &copy);
        attest::verify(&copy, &[]).unwrap();
        let was = sha256_hex(&copy.join(name));
        flip_a_byte(&copy.join(name));
        let now = sha256_hex(&copy.join(name));
        let e = finding(&copy);
        assert!(e.contains(&format!("{name}: sha256 was {was}, now {now}")), "{e}");
        for other in SUBJECTS.iter().filter(|o| *o != name) {
            assert!(!e.contains(&format!("{other}:")), "{other} is unchanged: {e}");
        }
    }

    let copy = tmp.path().join("extra");
    copy_dir(&signed, &copy);
    std::fs::write(copy.join("extra.txt"), "added later\n").unwrap();
    let e = finding(&copy);
    assert!(e.contains("extra.txt: a regular file not covered by the attestation"), "{e}");
    // A signed run directory is a closed set: a subdirectory, a symbolic link (even under a name a run
    // directory defines, which readers would otherwise consume) and a FIFO are each named.
    std::fs::remove_file(copy.join("extra.txt")).unwrap();
    std::fs::create_dir(copy.join("plots")).unwrap();
    std::fs::write(copy.join("plots").join("more.svg"), "<svg/>").unwrap();
    std::os::unix::fs::symlink(copy.join("divergences.jsonl"), copy.join(files::REORGS)).unwrap();
    let fifo = std::ffi::CString::new(copy.join("pipe").into_os_string().into_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let e = finding(&copy);
    for entry in ["plots: a directory", "reorgs.jsonl: a symbolic link", "pipe: a FIFO"] {
        assert!(e.contains(&format!("{entry} not covered by the attestation")), "{entry}: {e}");
    }
    // A subject replaced by a link to an identical copy is not the file signed.
    let copy = tmp.path().join("linked");
    copy_dir(&signed, &copy);
    std::fs::rename(copy.join(files::CSV), tmp.path().join("csv-elsewhere")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("csv-elsewhere"), copy.join(files::CSV)).unwrap();
    let e = finding(&copy);
    assert!(e.contains("divergences.csv: a symbolic link, not a regular file"), "{e}");

    let copy = tmp.path().join("deleted");
    copy_dir(&signed, &copy);
    std::fs::remove_file(copy.join(files::SUMMARY)).unwrap();
    let e = finding(&copy);
    assert!(e.contains("summary.json: missing"), "{e}");
}

#[test]
fn a_re_encoded_payload_and_a_foreign_key_are_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let (signed, key) = signed_run(tmp.path());

    // Edit a file and put its new digest in the statement, without re-signing.
    let copy = tmp.path().join("reencoded");
    copy_dir(&signed, &copy);
    flip_a_byte(&copy.join(files::CSV));
    let mut st = statement(&copy);
    let csv = st["subject"].as_array_mut().unwrap().iter_mut().find(|s| s["name"] == files::CSV).unwrap();
    csv["digest"]["sha256"] = sha256_hex(&copy.join(files::CSV)).into();
    rewrite_payload(&copy, &st, None);
    let e = attest::verify(&copy, &[]).unwrap_err();
    assert!(matches!(e, AttestError::BadSignature { .. }) && e.is_finding(), "{e}");
    assert!(e.to_string().contains("bad signature"), "{e}");

    // Re-signed by another key: valid, but that key is not trusted.
    let other = KeyFile::generate("mallory").unwrap();
    rewrite_payload(&copy, &st, Some(&other));
    assert_eq!(attest::verify(&copy, &[]).unwrap().keyid, other.public_key_hex());
    let e = attest::verify(&copy, &[key.verifying_key()]).unwrap_err();
    assert!(matches!(e, AttestError::Untrusted { .. }) && e.is_finding(), "{e}");
    assert!(e.to_string().contains(&format!("signed by {}, which is not a trusted key", other.public_key_hex())));

    // The untouched run, checked against another key.
    let e = attest::verify(&signed, &[other.verifying_key()]).unwrap_err();
    assert!(e.is_finding() && e.to_string().contains(&key.public_key_hex()), "{e}");
    attest::verify(&signed, &[other.verifying_key(), key.verifying_key()]).unwrap();
}

#[test]
fn an_attestation_that_cannot_be_read_is_not_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let (signed, key) = signed_run(tmp.path());
    let copy = tmp.path().join("copy");
    copy_dir(&signed, &copy);
    let file = copy.join(attest::FILE);
    let original = std::fs::read_to_string(&file).unwrap();
    let cannot = |why: &str| {
        let e = attest::verify(&copy, &[]).unwrap_err();
        assert!(!e.is_finding(), "{why}: {e}");
        assert!(e.to_string().contains(why), "{e}");
    };

    std::fs::remove_file(&file).unwrap();
    cannot("no attestation");
    std::fs::write(&file, "not json").unwrap();
    cannot("not a DSSE envelope");
    std::fs::write(&file, original.replace("application/vnd.in-toto+json", "text/plain")).unwrap();
    cannot("payloadType is \"text/plain\"");
    // A validly signed statement of another type.
    std::fs::write(&file, &original).unwrap();
    let mut st = statement(&copy);
    st["_type"] = "https://example.com/Statement".into();
    rewrite_payload(&copy, &st, Some(&key));
    cannot("_type is \"https://example.com/Statement\"");
}

#[test]
fn an_incomplete_or_edited_run_is_not_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let key = KeyFile::generate("auditor").unwrap();

    let dir = tmp.path().join("incomplete");
    finished_run(&dir);
    let manifest_file = dir.join(files::MANIFEST);
    let text = std::fs::read_to_string(&manifest_file).unwrap();
    std::fs::write(&manifest_file, text.replace("\"complete\": true", "\"complete\": false")).unwrap();
    let e = attest::sign(&dir, &key).unwrap_err();
    assert!(matches!(e, AttestError::Incomplete { .. }), "{e}");
    assert!(e.to_string().contains("the run is not complete"), "{e}");
    assert!(!dir.join(attest::FILE).exists());

    let dir = tmp.path().join("edited");
    finished_run(&dir);
    flip_a_byte(&dir.join(files::CSV));
    let e = attest::sign(&dir, &key).unwrap_err();
    assert!(e.to_string().contains("divergences.csv was changed after the run"), "{e}");
    assert!(!dir.join(attest::FILE).exists());

    // Killed before its summary.
    let dir = tmp.path().join("killed");
    let mut w = RunWriter::create(&dir, &manifest()).unwrap();
    w.write(&halt_record()).unwrap();
    w.checkpoint(4, &Stats::default(), false).unwrap();
    drop(w);
    let e = attest::sign(&dir, &key).unwrap_err();
    assert!(e.to_string().contains("summary.json"), "{e}");
    assert!(!dir.join(attest::FILE).exists());
}

/// DSSE verification written from the specifications alone: PAE, Ed25519 with the expected public key,
/// the statement's type, every subject's SHA-256. Prints `ok` and exits 0, or exits 1.
const PYTHON_VERIFIER: &str = r#"
import base64, hashlib, json, os, sys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def fail(why):
    print(why, file=sys.stderr)
    sys.exit(1)

run_dir, public_key = sys.argv[1], sys.argv[2]
with open(os.path.join(run_dir, "attestation.dsse.json"), "rb") as f:
    envelope = json.load(f)
payload_type = envelope["payloadType"]
if payload_type != "application/vnd.in-toto+json":
    fail("payloadType " + payload_type)
payload = base64.b64decode(envelope["payload"], validate=True)
t = payload_type.encode()
pae = b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + str(len(payload)).encode() + b" " + payload
key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
verified = False
for s in envelope["signatures"]:
    if s["keyid"] != public_key:
        continue
    try:
        key.verify(base64.b64decode(s["sig"], validate=True), pae)
        verified = True
    except InvalidSignature:
        pass
if not verified:
    fail("no signature by " + public_key + " verifies")
statement = json.loads(payload)
if statement["_type"] != "https://in-toto.io/Statement/v1":
    fail("_type " + statement["_type"])
if not statement["subject"]:
    fail("no subjects")
for subject in statement["subject"]:
    try:
        with open(os.path.join(run_dir, subject["name"]), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        fail(subject["name"] + ": " + str(e))
    if digest != subject["digest"]["sha256"]:
        fail(subject["name"] + ": sha256 differs")
print("ok")
"#;

fn python_verify(dir: &Path, key: &KeyFile) -> std::process::Output {
    let python = "/usr/bin/python3.11";
    let probe = Command::new(python).args(["-c", "import cryptography"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{python} with the cryptography module is needed (Debian: apt-get install python3-cryptography): {probe:?}"
    );
    Command::new(python).args(["-c", PYTHON_VERIFIER]).arg(dir).arg(key.public_key_hex()).output().unwrap()
}

#[test]
fn an_independent_dsse_verifier_accepts_the_attestation_and_refuses_an_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let (signed, key) = signed_run(tmp.path());
    let out = python_verify(&signed, &key);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");

    flip_a_byte(&signed.join(files::JSONL));
    let out = python_verify(&signed, &key);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("divergences.jsonl: sha256 differs"));

    // A tampered payload fails the signature check, independently too.
    let copy = tmp.path().join("reencoded");
    finished_run(&copy);
    attest::sign(&copy, &key).unwrap();
    let mut st = statement(&copy);
    st["predicate"]["summary"]["records"] = 0.into();
    rewrite_payload(&copy, &st, None);
    let out = python_verify(&copy, &key);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no signature by"));
}

/// A fleet watch that ended cleanly in `dir`, as `dualrun fleet` writes it, with its report beside it.
fn finished_fleet(dir: &Path) {
    use dualrun_rundir::fleet::dir::FORMAT;
    use dualrun_rundir::fleet::{FleetManifest, FleetRunWriter, FleetSettings, FleetSummary, TimelineEntry};
    let manifest = FleetManifest {
        format: FORMAT.into(),
        tool: dualrun_rundir::Tool::this(),
        nodes: vec!["n1=http://127.0.0.1:1".parse().unwrap(), "n2=http://127.0.0.1:2".parse().unwrap()],
        settings: FleetSettings::default(),
        started_at: "20261206T000000Z".into(),
        ended_at: None,
        complete: false,
        files: Default::default(),
    };
    let mut w = FleetRunWriter::create(dir, manifest).unwrap();
    let seen = |node: &str| TimelineEntry { t_ms: 5, node: node.into(), height: 1, id: hash(7) };
    w.write_timeline(&[seen("n1"), seen("n2")]).unwrap();
    let summary =
        FleetSummary { seconds: 2.0, nodes: vec![], findings: Default::default(), open_at_end: vec![], agreed: true };
    w.finish(&summary, "20261206T000002Z".into()).unwrap();
    std::fs::write(dir.join("report.html"), "<html></html>\n").unwrap();
}

#[test]
fn a_fleet_run_is_signed_as_a_fleet_watch_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fleet");
    finished_fleet(&dir);
    let key = KeyFile::generate("auditor").unwrap();
    let file = attest::sign(&dir, &key).unwrap();
    let first = std::fs::read(&file).unwrap();
    let verified = attest::verify(&dir, &[key.verifying_key()]).unwrap();
    assert_eq!(verified.subjects, 5, "fleet.json, findings, timeline, summary, report.html");
    attest::sign(&dir, &key).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), first, "deterministic");
    let out = python_verify(&dir, &key);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let st = statement(&dir);
    assert_eq!(st["predicateType"], attest::FLEET_PREDICATE_TYPE);
    let p = &st["predicate"];
    let fleet = dualrun_rundir::fleet::FleetRun::load(&dir).unwrap();
    assert_eq!(p["fleet"]["manifest_keccak256"], fleet.manifest_digest.to_string());
    assert_eq!(p["fleet"]["nodes"], serde_json::json!(["n1", "n2"]));
    assert_eq!((&p["fleet"]["complete"], &p["summary"]["agreed"]), (&true.into(), &true.into()));
    assert_eq!(p["signer"], "auditor");
    // The fleet run is still evidence with its attestation beside it.
    assert_eq!(fleet.problems(), Vec::<String>::new());

    // An edit is a finding naming the file; a run's statement is not a fleet's.
    flip_a_byte(&dir.join("timeline.jsonl"));
    assert!(finding(&dir).contains("timeline.jsonl"));
    flip_a_byte(&dir.join("timeline.jsonl"));
    let mut st = statement(&dir);
    st["predicateType"] = attest::PREDICATE_TYPE.into();
    rewrite_payload(&dir, &st, Some(&key));
    let e = attest::verify(&dir, &[]).unwrap_err();
    assert!(matches!(e, AttestError::Malformed { .. }) && e.to_string().contains("fleet/v1"), "{e}");

    // A watch that did not end cleanly is not signed.
    let killed = tmp.path().join("killed");
    finished_fleet(&killed);
    std::fs::remove_file(killed.join("summary.json")).unwrap();
    let e = attest::sign(&killed, &key).unwrap_err();
    assert!(matches!(e, AttestError::FleetIncomplete { .. }) && e.to_string().contains("did not end cleanly"), "{e}");
    assert!(!killed.join(attest::FILE).exists());
}
