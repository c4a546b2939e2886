//! `dualrun gate …`: the mode gate over a signed, hash-chained ledger.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use dualrun_core::Mode;
use dualrun_gate::ledger::{self, Ledger};
use dualrun_gate::operate::{self, Approval, EvaluationRequest, Operator, Refusal};
use dualrun_gate::{Evaluation, GateOutcome};
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

impl EvalArgs {
    fn request(&self) -> EvaluationRequest {
        EvaluationRequest {
            ledger: self.ledger.clone(),
            policy: self.policy.clone(),
            golden: self.golden.clone(),
            evidence: self.evidence.clone(),
            to: self.to,
            allowlist: self.allowlist.clone(),
            strict: self.strict,
        }
    }
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
            let evaluated = operate::evaluate_request(&a.request())?;
            Ok(print_evaluation(&evaluated.evaluation, a.json)?)
        }
        GateCommand::Promote { eval, key, reason, force, operator } => {
            let key = KeyFile::read(&key)?;
            promote(&eval, &Operator { key: &key, name: operator.as_deref(), reason: &reason }, force)
        }
        GateCommand::Rollback { ledger, to, key, reason, operator } => {
            let key = KeyFile::read(&key)?;
            let by = Operator { key: &key, name: operator.as_deref(), reason: &reason };
            let e = operate::rollback(&ledger, to, &by)?;
            let from = e.from.map_or_else(|| "-".to_owned(), |m| m.to_string());
            outln!("{}: rolled back {from} -> {to} (entry #{})", ledger.display(), e.seq)?;
            Ok(Outcome::Clean)
        }
        GateCommand::Approve { ledger, key, to, evaluation_digest, rotation, reason, operator } => {
            let subject = match (to.zip(evaluation_digest), rotation) {
                (Some((to, digest)), None) => Approval::Promotion { to, digest },
                (None, Some(r)) => Approval::Rotation(r),
                _ => bail!("give --to MODE --evaluation-digest HASH, or --rotation OLD_HEX:NEW_HEX"),
            };
            let key = KeyFile::read(&key)?;
            let by = Operator { key: &key, name: operator.as_deref(), reason: &reason };
            match operate::approve(&ledger, subject, &by)? {
                Ok(a) => {
                    let name = operator.unwrap_or_else(|| key.id.clone());
                    let (what, digest, seq) = (&a.what, &a.digest, a.entry.seq);
                    outln!(
                        "{}: {name} ({}) approved {what}, digest {digest} (entry #{seq})",
                        ledger.display(),
                        key.public_key_hex()
                    )?;
                    Ok(Outcome::Clean)
                }
                Err(refusal) => refused(&refusal),
            }
        }
        GateCommand::Rotate { ledger, key, new_key, policy, reason, operator } => {
            let (key, new_key) = (KeyFile::read(&key)?, KeyFile::read(&new_key)?);
            let by = Operator { key: &key, name: operator.as_deref(), reason: &reason };
            match operate::rotate(&ledger, &new_key, policy.as_deref(), &by)? {
                Ok(e) => {
                    let (old, new) = (key.public_key_hex(), new_key.public_key_hex());
                    outln!("{}: rotated {old} -> {new} (entry #{})", ledger.display(), e.seq)?;
                    Ok(Outcome::Clean)
                }
                Err(refusal) => refused(&refusal),
            }
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
        outln!(
            "last     #{} {} {} -> {} by {} ({}): {}",
            last.seq,
            last.action,
            last.from.map_or_else(|| "-".to_owned(), |m| m.to_string()),
            last.to,
            printable(&last.operator),
            if last.override_ { "OVERRIDE" } else { "on evidence" },
            printable(&last.reason)
        )?;
    }
    Ok(Outcome::Clean)
}

/// `s` with every control character escaped (`\u{1b}`, `\n`), the rest as it is.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
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

fn promote(a: &EvalArgs, by: &Operator<'_>, force: bool) -> Result<Outcome> {
    let promotion = operate::promote(&a.request(), by, force)?;
    let verdict = print_evaluation(&promotion.evaluation, a.json)?;
    let eval = &promotion.evaluation;
    match promotion.moved {
        Ok(e) => {
            outln!(
                "{}: promoted {} -> {}{} (entry #{})",
                a.ledger.display(),
                eval.from,
                eval.to,
                if eval.outcome != GateOutcome::Pass { " as a FORCED OVERRIDE" } else { "" },
                e.seq
            )?;
            Ok(Outcome::Clean)
        }
        // Refused on the evaluation itself: the evaluation's exit code.
        Err(refusal @ Refusal::NotPassed { .. }) => {
            eprintln!("dualrun: {refusal}");
            Ok(verdict)
        }
        Err(refusal) => refused(&refusal),
    }
}

/// A move refused on its merits: said on stderr, exit 1.
fn refused(refusal: &Refusal) -> Result<Outcome> {
    eprintln!("dualrun: {refusal}");
    Ok(Outcome::Finding)
}

fn verify(path: &Path, trusted: &[String], skip_evidence: bool, expect_head: Option<&str>) -> Result<Outcome> {
    let keys = super::trusted_keys(trusted)?;
    match ledger::verify(path, &keys, !skip_evidence) {
        Ok(r) => {
            if let Some(want) = expect_head {
                // The expected head must be one of the entries: a later ledger may have grown since.
                let l = Ledger::open(path)?;
                let present = l.entries.iter().any(|e| e.hash == want);
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
