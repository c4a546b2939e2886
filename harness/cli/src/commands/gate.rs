//! `dualrun gate …`: the mode gate over a signed, hash-chained ledger.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use dualrun_core::Mode;
use dualrun_gate::allowlist::Allowlist;
use dualrun_gate::evaluate::GoldenResult;
use dualrun_gate::evidence::EvidenceRun;
use dualrun_gate::ledger::{self, Ledger, NewEntry};
use dualrun_gate::policy::Policy;
use dualrun_gate::quorum::{self, Quorum};
use dualrun_gate::{evaluate, Evaluation, EvaluationInput, GateOutcome};
use dualrun_leader::keys::KeyFile;
use serde_json::json;

use crate::Outcome;

#[derive(Subcommand)]
pub(crate) enum GateCommand {
    /// Starts a ledger in `legacy` mode.
    Init {
        /// The ledger file to create (it must not exist).
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The operator's key file (from `dualrun keygen`), which signs the first entry.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The operator's name, recorded in the entry.
        #[arg(long)]
        operator: String,
    },
    /// The current mode and the last entry.
    Status {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Evaluates the next forward move on evidence: each criterion with value, threshold and outcome;
    /// exit 0 pass, 1 fail, 3 inconclusive.
    Evaluate(EvalArgs),
    /// Moves one step forward if the evaluation passes (else writes nothing and exits 1 or 3);
    /// `--force` records an override.
    Promote {
        #[command(flatten)]
        eval: EvalArgs,
        /// The operator's key file, which signs the entry.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Why, recorded in the entry.
        #[arg(long)]
        reason: String,
        /// Promote even if the evaluation does not pass; recorded as an override.
        #[arg(long)]
        force: bool,
        /// The operator's name (default: the key's id).
        #[arg(long)]
        operator: Option<String>,
    },
    /// Records an operator's signed approval of a promotion (the evaluation digest `gate evaluate`
    /// prints) or of a key rotation; a policy's `[quorum]` counts them. Moves nothing.
    Approve {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The operator's key file, which signs the approval.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The mode the approved promotion moves to (the next one).
        #[arg(long, requires = "evaluation_digest", conflicts_with = "rotation")]
        to: Option<Mode>,
        /// The `evaluation_digest` of the evaluation approved (`gate evaluate --json`).
        #[arg(long, value_name = "HASH", requires = "to")]
        evaluation_digest: Option<String>,
        /// A key rotation approved instead: the old and the new public key, hex.
        #[arg(long, value_name = "OLD_HEX:NEW_HEX")]
        rotation: Option<String>,
        /// Why, recorded in the entry (default: "approved").
        #[arg(long, default_value = "approved")]
        reason: String,
        /// The operator's name (default: the key's id).
        #[arg(long)]
        operator: Option<String>,
    },
    /// Replaces an operator's key: signed by the old key, proven by the new one, approved by the
    /// quorum (`gate approve --rotation OLD:NEW`). Moves nothing.
    Rotate {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The key being replaced (its key file), which signs the entry.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The new key file (from `dualrun keygen`), which proves it holds the new key.
        #[arg(long, value_name = "FILE")]
        new_key: PathBuf,
        /// The policy whose `[quorum]` applies (default: the ledger's own quorum).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Why, recorded in the entry.
        #[arg(long)]
        reason: String,
        /// The operator's name (default: the new key's id).
        #[arg(long)]
        operator: Option<String>,
    },
    /// Moves back to any earlier mode, at once; always allowed, always recorded.
    Rollback {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// The mode to return to: legacy, shadow or primary (any earlier than the current one).
        #[arg(long)]
        to: Mode,
        /// The operator's key file, which signs the entry.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Why, recorded in the entry.
        #[arg(long)]
        reason: String,
        /// The operator's name (default: the key's id).
        #[arg(long)]
        operator: Option<String>,
    },
    /// Removes an unterminated final line (a write cut short by a crash or power loss) and nothing else;
    /// records nothing. `verify` names the ledger that needs it.
    Repair {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
    },
    /// Audits the ledger: canonical form, hash chain, signatures, legal modes, evidence digests.
    Verify {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
        /// Only these operator keys (hex) may have signed entries.
        #[arg(long = "trusted-key", value_name = "HEX")]
        trusted_keys: Vec<String>,
        /// Do not re-check the evidence runs (for an auditor who has only the ledger).
        #[arg(long)]
        skip_evidence: bool,
        /// The head hash an earlier audit printed: the ledger must still contain that entry (entries
        /// removed from the end are caught).
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
}

#[derive(Args)]
pub(crate) struct EvalArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE")]
    ledger: PathBuf,
    /// The policy (default: the built-in one).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Golden vectors to run as part of the evidence.
    #[arg(long, value_name = "DIR")]
    golden: Option<PathBuf>,
    /// Replay run directories.
    #[arg(long, value_name = "RUN_DIR", num_args = 1..)]
    evidence: Vec<PathBuf>,
    /// The target mode (default: the next one).
    #[arg(long)]
    to: Option<Mode>,
    /// Known divergences excused (TOML).
    #[arg(long, value_name = "FILE")]
    allowlist: Option<PathBuf>,
    /// Expired or never-matched allowlist entries fail the evaluation.
    #[arg(long)]
    strict: bool,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: GateCommand) -> Result<Outcome> {
    match cmd {
        GateCommand::Init { ledger, key, operator } => {
            let key = KeyFile::read(&key)?;
            Ledger::init(&ledger, &key, &operator)?;
            outln!("{}: started in legacy mode by {operator} ({})", ledger.display(), key.public_key_hex())?;
            Ok(Outcome::Clean)
        }
        GateCommand::Status { ledger, json } => status(&ledger, json),
        GateCommand::Evaluate(a) => {
            let (eval, ..) = run_evaluation(&a)?;
            Ok(print_evaluation(&eval, a.json)?)
        }
        GateCommand::Promote { eval, key, reason, force, operator } => promote(&eval, &key, &reason, force, operator),
        GateCommand::Rollback { ledger, to, key, reason, operator } => rollback(&ledger, to, &key, &reason, operator),
        GateCommand::Approve { ledger, key, to, evaluation_digest, rotation, reason, operator } => {
            let subject = match (to.zip(evaluation_digest), rotation) {
                (Some((to, digest)), None) => Approval::Promotion { to, digest },
                (None, Some(r)) => Approval::Rotation(r),
                _ => bail!("give --to MODE --evaluation-digest HASH, or --rotation OLD_HEX:NEW_HEX"),
            };
            approve(&ledger, &key, subject, &reason, operator)
        }
        GateCommand::Rotate { ledger, key, new_key, policy, reason, operator } => {
            rotate(&ledger, &key, &new_key, policy.as_deref(), &reason, operator)
        }
        GateCommand::Repair { ledger } => {
            match ledger::repair(&ledger)? {
                ledger::Repair::NothingToDo => {
                    outln!("{}: ends with a complete entry; nothing to repair", ledger.display())?
                }
                ledger::Repair::RemovedIncompleteEntry(n) => {
                    outln!("{}: removed an incomplete last entry ({n} bytes); nothing else changed", ledger.display())?
                }
            }
            Ok(Outcome::Clean)
        }
        GateCommand::Verify { ledger, trusted_keys, skip_evidence, expect_head } => {
            verify(&ledger, &trusted_keys, skip_evidence, expect_head.as_deref())
        }
    }
}

fn status(path: &Path, as_json: bool) -> Result<Outcome> {
    // Status reports only what verifies (evidence aside): an edited last entry does not decide the mode.
    ledger::verify(path, &[], false)?;
    let l = Ledger::open(path)?;
    let last = l.entries.last().expect("non-empty");
    if as_json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "mode": l.mode(), "entries": l.entries.len(), "last": last }))?
        )?;
    } else {
        outln!("mode     {}", l.mode())?;
        outln!("entries  {}", l.entries.len())?;
        // Ledger fields are anyone's text: escaped, so no control character reaches the terminal.
        let field = |k: &str, default: &str| printable(last.get(k).and_then(|v| v.as_str()).unwrap_or(default));
        outln!(
            "last     #{} {} {} -> {} by {} ({}): {}",
            last.get("seq").unwrap_or(&serde_json::Value::Null),
            field("action", ""),
            field("from", "-"),
            field("to", ""),
            field("operator", ""),
            if last.get("override") == Some(&serde_json::Value::Bool(true)) { "OVERRIDE" } else { "on evidence" },
            field("reason", "")
        )?;
    }
    Ok(Outcome::Clean)
}

/// `s` with every control character escaped (`\u{1b}`, `\n`), the rest as it is.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

fn run_evaluation(a: &EvalArgs) -> Result<(Evaluation, Policy, Option<GoldenResult>, Vec<EvidenceRun>)> {
    let ledger = Ledger::open(&a.ledger)?;
    let policy = match &a.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::builtin(),
    };
    let from = ledger.mode();
    let to = match a.to.or(from.next()) {
        Some(t) => t,
        None => bail!("{}: the ledger is already in `only`; there is no next mode", a.ledger.display()),
    };
    // The same runner and the same skip rule as `golden check`: the gate passes only what CI passes.
    let golden = match a.golden.as_deref() {
        Some(dir) => Some(GoldenResult::from_report(&dualrun_golden::run_dir(dir, None)?)),
        None => None,
    };
    let allowlist = a.allowlist.as_deref().map(Allowlist::load).transpose()?;
    let evidence: Vec<EvidenceRun> = a.evidence.iter().map(|d| EvidenceRun::load(d)).collect();
    let last_profile = ledger.last_profile_digest();
    let eval = evaluate(&EvaluationInput {
        from,
        to,
        policy: &policy,
        evidence: &evidence,
        golden: golden.as_ref(),
        allowlist: allowlist.as_ref(),
        strict: a.strict,
        expected_profile: last_profile.as_deref(),
    });
    Ok((eval, policy, golden, evidence))
}

fn print_evaluation(e: &Evaluation, as_json: bool) -> Result<Outcome> {
    if as_json {
        outln!("{}", serde_json::to_string_pretty(e).expect("serializes"))?;
    } else {
        outln!("{} -> {}: {}", e.from, e.to, e.outcome.to_string().to_uppercase())?;
        outln!("  evaluation digest {}", e.evaluation_digest)?;
        for c in &e.criteria {
            let value = match &c.value {
                serde_json::Value::Object(o) if o.contains_key("passed") => {
                    format!("{} passed, {} failed, {} skipped", o["passed"], o["failed"], o["skipped"])
                }
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let note = if c.note.is_empty() { String::new() } else { format!("  ({})", c.note) };
            outln!("  {:<12} {:<27} {value}, need {}{note}", c.outcome.to_string(), c.name, c.threshold)?;
        }
    }
    Ok(match e.outcome {
        GateOutcome::Pass => Outcome::Clean,
        GateOutcome::Fail => Outcome::Finding,
        GateOutcome::Inconclusive => Outcome::Inconclusive,
    })
}

fn promote(a: &EvalArgs, key: &Path, reason: &str, force: bool, operator: Option<String>) -> Result<Outcome> {
    if reason.trim().is_empty() {
        bail!("--reason must say why");
    }
    let key = KeyFile::read(key)?;
    // Held from reading the mode to appending: no other operator's entry can come in between.
    let _lock = Ledger::lock(&a.ledger)?;
    let (eval, policy, golden, evidence) = run_evaluation(a)?;
    let verdict = print_evaluation(&eval, a.json)?;
    let next = eval.from.next();
    if next != Some(eval.to) {
        bail!(
            "promotion moves exactly one step forward: {} -> {}",
            eval.from,
            next.map_or("-".into(), |m| m.to_string())
        );
    }
    if eval.outcome != GateOutcome::Pass && !force {
        eprintln!("dualrun: not promoted: the evaluation is {}; nothing was written", eval.outcome);
        return Ok(verdict);
    }
    let mut ledger = Ledger::open(&a.ledger)?;
    // A quorum (the policy's, or the one the ledger already holds its promotions to) must have approved
    // this very evaluation: forcing past a failing evaluation does not skip it.
    let mut extra = serde_json::Map::new();
    if let Some(q) = Quorum::for_ledger(policy.quorum.as_ref(), &ledger.entries).map_err(anyhow::Error::msg)? {
        let approved = quorum::approvals(&ledger.entries, &eval.evaluation_digest, eval.to, &q.operators);
        if approved.len() < q.approvals {
            eprintln!(
                "dualrun: not promoted: the quorum needs {} approvals of evaluation {} by distinct operators and has \
                 {}; nothing was written. Each operator approves with: dualrun gate approve --ledger {} --key KEY \
                 --to {} --evaluation-digest {}",
                q.approvals,
                eval.evaluation_digest,
                approved.len(),
                a.ledger.display(),
                eval.to,
                eval.evaluation_digest
            );
            return Ok(Outcome::Finding);
        }
        extra.insert("quorum".into(), quorum::record(&q, &q.operators, &approved));
    }
    // The evidence exactly as it was evaluated.
    let evidence = evidence.iter().map(EvidenceRun::ledger_record).collect();
    let entry = NewEntry {
        action: "promote",
        from: Some(eval.from),
        to: eval.to,
        reason: reason.into(),
        override_: eval.outcome != GateOutcome::Pass,
        policy: json!({ "digest": policy.digest, "path": policy.path }),
        evidence,
        golden: serde_json::to_value(&golden)?,
        evaluation: serde_json::to_value(&eval)?,
        extra,
    };
    let operator = operator.unwrap_or_else(|| key.id.clone());
    let e = ledger.append(entry, &key, &operator)?;
    outln!(
        "{}: promoted {} -> {}{} (entry #{})",
        a.ledger.display(),
        eval.from,
        eval.to,
        if eval.outcome != GateOutcome::Pass { " as a FORCED OVERRIDE" } else { "" },
        e.get("seq").unwrap_or(&serde_json::Value::Null)
    )?;
    Ok(Outcome::Clean)
}

fn rollback(path: &Path, to: Mode, key: &Path, reason: &str, operator: Option<String>) -> Result<Outcome> {
    if reason.trim().is_empty() {
        bail!("--reason must say why");
    }
    let key = KeyFile::read(key)?;
    let _lock = Ledger::lock(path)?;
    let mut ledger = Ledger::open(path)?;
    let from = ledger.mode();
    if to >= from {
        bail!("{}: rollback goes to an earlier mode; the ledger is in {from}", path.display());
    }
    let operator = operator.unwrap_or_else(|| key.id.clone());
    let entry = NewEntry::bare("rollback", Some(from), to, reason, serde_json::Map::new());
    let e = ledger.append(entry, &key, &operator)?;
    outln!(
        "{}: rolled back {from} -> {to} (entry #{})",
        path.display(),
        e.get("seq").unwrap_or(&serde_json::Value::Null)
    )?;
    Ok(Outcome::Clean)
}

/// What an operator approves.
enum Approval {
    /// A promotion into `to` on the evaluation with this digest.
    Promotion { to: Mode, digest: String },
    /// A key rotation, `OLD_HEX:NEW_HEX`.
    Rotation(String),
}

fn approve(path: &Path, key: &Path, subject: Approval, reason: &str, operator: Option<String>) -> Result<Outcome> {
    let key = KeyFile::read(key)?;
    let _lock = Ledger::lock(path)?;
    let mut ledger = Ledger::open(path)?;
    let mode = ledger.mode();
    let (to, digest, what) = match subject {
        Approval::Promotion { to, digest } => {
            if mode.next() != Some(to) {
                bail!("{}: the ledger is in {mode}; a promotion from it goes to {}", path.display(), next_name(mode));
            }
            if quorum::parse_digest(&digest).is_none() {
                bail!("--evaluation-digest {digest:?}: expected the 64 lowercase hex digits `gate evaluate` prints");
            }
            (to, digest, format!("the promotion {mode} -> {to}"))
        }
        Approval::Rotation(r) => {
            let Some((old, new)) =
                r.split_once(':').filter(|(o, n)| quorum::parse_key(o).is_some() && quorum::parse_key(n).is_some())
            else {
                bail!("--rotation {r:?}: expected OLD_HEX:NEW_HEX, two Ed25519 public keys in lowercase hex")
            };
            (mode, quorum::rotation_digest(old, new).to_string(), format!("the rotation of {old} to {new}"))
        }
    };
    // Where a quorum is pinned, only its operators' approvals count: one by any other key would stay in
    // the ledger forever (its hash chain forbids removing it) and count for nothing.
    if let Some(q) = quorum::pinned(&ledger.entries) {
        if !q.operators.contains(&key.public_key_hex()) {
            eprintln!(
                "dualrun: not approved: {} ({}) is not an operator of the ledger's quorum ({}); nothing was written",
                key.id,
                key.public_key_hex(),
                q.operators.join(", ")
            );
            return Ok(Outcome::Finding);
        }
    }
    let mut extra = serde_json::Map::new();
    extra.insert("approves".into(), json!(digest));
    let entry = NewEntry::bare("approve", Some(mode), to, reason, extra);
    let operator = operator.unwrap_or_else(|| key.id.clone());
    let e = ledger.append(entry, &key, &operator)?;
    outln!(
        "{}: {operator} ({}) approved {what}, digest {digest} (entry #{})",
        path.display(),
        key.public_key_hex(),
        e.get("seq").unwrap_or(&serde_json::Value::Null)
    )?;
    Ok(Outcome::Clean)
}

fn next_name(mode: Mode) -> String {
    mode.next().map_or_else(|| "nowhere (it is the last mode)".into(), |m| m.to_string())
}

fn rotate(
    path: &Path,
    key: &Path,
    new_key: &Path,
    policy: Option<&Path>,
    reason: &str,
    operator: Option<String>,
) -> Result<Outcome> {
    if reason.trim().is_empty() {
        bail!("--reason must say why");
    }
    let (old_key, new_key) = (KeyFile::read(key)?, KeyFile::read(new_key)?);
    let policy = policy.map(Policy::load).transpose()?;
    let _lock = Ledger::lock(path)?;
    let mut ledger = Ledger::open(path)?;
    let Some(q) = Quorum::for_ledger(policy.as_ref().and_then(|p| p.quorum.as_ref()), &ledger.entries)
        .map_err(anyhow::Error::msg)?
    else {
        bail!(
            "{}: no quorum: give a policy with [quorum] (a key is rotated by the quorum it belongs to)",
            path.display()
        )
    };
    let (old, new) = (old_key.public_key_hex(), new_key.public_key_hex());
    if !q.operators.contains(&old) {
        bail!("{old} is not one of the quorum's operators");
    }
    if q.operators.contains(&new) {
        bail!("{new} is already one of the quorum's operators");
    }
    let digest = quorum::rotation_digest(&old, &new);
    let mode = ledger.mode();
    let approved = quorum::approvals(&ledger.entries, &digest.to_string(), mode, &q.operators);
    if approved.len() < q.approvals {
        eprintln!(
            "dualrun: not rotated: the quorum needs {} approvals of this rotation and has {}; nothing was written. \
             Each operator approves with: dualrun gate approve --ledger {} --key KEY --rotation {old}:{new}",
            q.approvals,
            approved.len(),
            path.display()
        );
        return Ok(Outcome::Finding);
    }
    let proof = ed25519_dalek::Signer::sign(&new_key.signing_key, &quorum::rotation_message(&digest));
    let mut extra = serde_json::Map::new();
    extra.insert("old_key".into(), json!(old));
    extra.insert("new_key".into(), json!(new));
    extra.insert("new_key_signature".into(), json!(hex::encode(proof.to_bytes())));
    extra.insert("quorum".into(), quorum::record(&q, &q.operators, &approved));
    let mut entry = NewEntry::bare("rotate", Some(mode), mode, reason, extra);
    entry.policy = policy.as_ref().map_or(serde_json::Value::Null, |p| json!({ "digest": p.digest, "path": p.path }));
    let operator = operator.unwrap_or_else(|| new_key.id.clone());
    let e = ledger.append(entry, &old_key, &operator)?;
    outln!("{}: rotated {old} -> {new} (entry #{})", path.display(), e.get("seq").unwrap_or(&serde_json::Value::Null))?;
    Ok(Outcome::Clean)
}

fn verify(path: &Path, trusted: &[String], skip_evidence: bool, expect_head: Option<&str>) -> Result<Outcome> {
    let keys = super::trusted_keys(trusted)?;
    match ledger::verify(path, &keys, !skip_evidence) {
        Ok(r) => {
            if let Some(want) = expect_head {
                // The expected head must be one of the entries: a later ledger may have grown since.
                let l = Ledger::open(path)?;
                let present = l.entries.iter().any(|e| e.get("hash").and_then(|h| h.as_str()) == Some(want));
                if !present {
                    outln!(
                        "{}: no entry has the expected head hash {want}: entries were removed from the end",
                        path.display()
                    )?;
                    return Ok(Outcome::Finding);
                }
            }
            outln!("{}: {} entries verified; mode {}; head {}", path.display(), r.entries, r.mode, r.head)?;
            for finding in &r.findings {
                outln!("{finding}")?;
            }
            Ok(Outcome::clean_if(r.findings.is_empty()))
        }
        Err(e @ dualrun_gate::LedgerError::Bad { .. }) => {
            outln!("{e}")?;
            Ok(Outcome::Finding)
        }
        Err(e) => Err(e.into()),
    }
}
